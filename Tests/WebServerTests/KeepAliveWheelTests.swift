import AuctionTesting
import Foundation
import Testing

@testable import WebServer

/// The wheel and the policy alone, without lws.
@Suite struct KeepAliveWheelTests {
    let epoch = ContinuousClock.now

    @Test func aConnectionComesDueInTheSweepOfItsSlotNotBefore() {
        var wheel = KeepAliveWheel(epoch: epoch)
        wheel.schedule(1, at: epoch + .milliseconds(250))
        wheel.schedule(2, at: epoch + .milliseconds(1250))
        wheel.schedule(3, at: epoch + .milliseconds(210))
        #expect(wheel.takeDue(at: epoch + .milliseconds(199)) == [])
        #expect(wheel.takeDue(at: epoch + .milliseconds(200)) == [1, 3], "the slot of 200…299 ms")
        #expect(wheel.takeDue(at: epoch + .milliseconds(1100)) == [])
        #expect(wheel.takeDue(at: epoch + .seconds(5)) == [2], "a late sweep takes every slot it missed")
        #expect(wheel.scheduledCount == 0)
    }

    @Test func aCheckFiledInAPastSlotComesInTheNextSweep() {
        var wheel = KeepAliveWheel(epoch: epoch)
        _ = wheel.takeDue(at: epoch + .seconds(1))
        wheel.schedule(7, at: epoch + .milliseconds(100))
        #expect(wheel.takeDue(at: epoch + .seconds(1)) == [], "slot 10 was taken; 7 waits in slot 11")
        #expect(wheel.takeDue(at: epoch + .milliseconds(1100)) == [7])
    }

    @Test func quietConnectionsArePingedOncePerIntervalAndHungUpAfterTheLimit() {
        let policy = KeepAlivePolicy(pingAfter: .seconds(10), hangUpAfter: .seconds(30))
        let heard = epoch
        #expect(policy.action(lastHeard: heard, lastPinged: heard, now: heard + .seconds(9)) == .wait)
        #expect(policy.action(lastHeard: heard, lastPinged: heard, now: heard + .seconds(10)) == .ping)
        let pinged = heard + .seconds(10)
        #expect(policy.action(lastHeard: heard, lastPinged: pinged, now: heard + .seconds(15)) == .wait, "pinged 5 s ago")
        #expect(policy.action(lastHeard: heard, lastPinged: pinged, now: heard + .seconds(20)) == .ping)
        #expect(policy.action(lastHeard: heard, lastPinged: pinged, now: heard + .seconds(30)) == .hangUp)
        #expect(policy.nextCheck(lastHeard: heard, lastPinged: heard) == heard + .seconds(10))
        #expect(policy.nextCheck(lastHeard: heard, lastPinged: heard + .seconds(25)) == heard + .seconds(30), "the hang-up comes first")
    }
}
