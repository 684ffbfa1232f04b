import AuctionCore
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import Testing

@Suite struct CrashAndScaleTests {
    /// `kill -9` in the middle of a turn: the bidder reconnects to a restarted auctiond, resyncs,
    /// sees its pending bid, and a retry of the same request gets the first answer. The bid stands
    /// when the turn ends.
    @Test func aKilledProcessLosesNoAcknowledgedBid() throws {
        let fixture = try LiveFixture(offset: -10, firstPause: 0, turn: 5000)
        var bidder = try fixture.bidder(1)
        let before = try bidder.receive(until: "state").last!
        try bidder.sendJSON(["type": "bid", "amount": "930.00", "requestId": "k-1"])
        let accepted = try bidder.receiveReply()
        #expect(accepted["type"] as? String == "bidAccepted")
        fixture.daemon.kill9()
        try fixture.daemon.restart()
        #expect(fixture.daemon.waitForAuction(fixture.auctionId))

        bidder = try fixture.bidder(1)
        let again = try bidder.receive(until: "pendingBid")
        #expect(again.map { $0["type"] as? String } == ["welcome", "state", "pendingBid"])
        #expect(again.last?["amount"] as? String == "930.00")
        #expect((again[1]["seq"] as? Int ?? 0) >= (before["seq"] as? Int ?? 0))
        try bidder.sendJSON(["type": "bid", "amount": "930.00", "requestId": "k-1"])
        let retried = try bidder.receiveReply()
        #expect(retried["type"] as? String == "bidAccepted")
        #expect(retried["amount"] as? String == "930.00")
        #expect(retried["serverTime"] as? Int64 == accepted["serverTime"] as? Int64)
        try bidder.sendJSON(["type": "resync", "sinceSeq": 0])
        #expect(try bidder.receiveJSON()["type"] as? String == "state")

        // The turn ends under the restarted process's clock; the bid is the bidder's new price.
        let observer = try fixture.observer()
        bidder.setTimeout(.seconds(10))
        observer.setTimeout(.seconds(10))
        var closed: [String: Any]?
        while closed == nil {
            let message = try observer.receiveJSON()
            let stages = ((message["auction"] as? [String: Any])?["stages"] as? [[String: Any]]) ?? []
            closed = stages.first { $0["type"] as? String == "bids" && $0["bidder"] as? Int == 1 && $0["amount"] != nil }
        }
        #expect(closed?["amount"] as? String == "930.00")
        #expect(closed?["changed"] as? Bool == true)
    }

    /// Two processes on one Redis: a bid placed on one reaches the bidder's other connection and
    /// the observers on the other.
    @Test func aBidOnOneProcessReachesConnectionsOnAnother() throws {
        let fixture = try LiveFixture(offset: -10, firstPause: 0, turn: 1500)
        let second = try AuctiondProcess(redisURL: fixture.redis.url)
        #expect(second.waitForAuction(fixture.auctionId))
        let bidderHere = try fixture.bidder(1)
        _ = try bidderHere.receive(until: "state")
        let bidderThere = try fixture.bidder(1, on: second)
        _ = try bidderThere.receive(until: "state")
        let observerThere = try fixture.observer(on: second)
        _ = try observerThere.receive(until: "state")

        try bidderHere.sendJSON(["type": "bid", "amount": "925.50", "requestId": "cross"])
        #expect(try bidderHere.receiveReply()["requestId"] as? String == "cross")
        let relayed = try bidderThere.receiveReply()
        #expect(relayed["type"] as? String == "bidAccepted")
        #expect(relayed["requestId"] as? String == "cross")
        #expect(relayed["amount"] as? String == "925.50")
        observerThere.setTimeout(.seconds(10))
        var outcome: String?
        while outcome == nil {
            let message = try observerThere.receiveJSON()
            #expect(message["type"] as? String == "state", "the observer saw \(message)")
            let stages = ((message["auction"] as? [String: Any])?["stages"] as? [[String: Any]]) ?? []
            outcome = stages.first { $0["type"] as? String == "bids" && $0["bidder"] as? Int == 1 }?["amount"] as? String
        }
        #expect(outcome == "925.50")
    }

    @Test func twoProcessesShareOnePortAndAStoppedOneHandsItsClockOver() throws {
        let fixture = try LiveFixture(offset: 60_000)
        let shared = try AuctiondProcess(redisURL: fixture.redis.url, port: fixture.daemon.port)
        #expect(shared.get("/healthz")?.status == 200)
        // The first process answers /healthz for both: the second must be listening itself. (It
        // was not: lws 4.1 never set SO_REUSEPORT, the second exited with "cannot listen", and the
        // rest of this test passed with one process.)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(shared.process.isRunning, "the second process did not stay up:\n\(shared.log)")
        #expect(listenersOnPort(fixture.daemon.port) == 2)
        let holder = try fixture.redis.connect().execute("GET", AuctionKeys(fixture.auctionId).lease).string ?? ""
        let (stopping, staying) = holder.contains(":\(fixture.daemon.pid):") ? (fixture.daemon, shared) : (shared, fixture.daemon)
        stopping.stop()
        // SIGTERM released the lease: the other process takes it within one renewal, not a TTL.
        #expect(
            waitUntil(timeout: .seconds(1)) {
                (try? fixture.redis.connect().execute("GET", AuctionKeys(fixture.auctionId).lease).string)?.contains(":\(staying.pid):")
                    == true
            })
        #expect(staying.get("/healthz")?.status == 200)
    }
}

/// How many sockets listen on TCP `port` on this machine (from /proc/net/tcp and tcp6).
func listenersOnPort(_ port: Int) -> Int {
    let suffix = String(format: ":%04X", port)
    return ["/proc/net/tcp", "/proc/net/tcp6"].reduce(0) { count, path in
        // Read to the end: String(contentsOfFile:) stops after the first 4 KiB of a /proc file
        // (its size is 0), which on a busy machine holds none of the listeners.
        let text = FileHandle(forReadingAtPath: path).map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) } ?? ""
        let lines = text.split(separator: "\n").dropFirst()
        return count
            + lines.filter { line in
                let fields = line.split(separator: " ")
                return fields.count > 3 && fields[1].hasSuffix(suffix) && fields[3] == "0A"
            }.count
    }
}
