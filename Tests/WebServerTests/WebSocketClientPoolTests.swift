import AuctionTesting
import Foundation
import Locking
import Synchronization
import Testing
import WebServer
import WebSocketClient

/// Records what the pool reports, per connection id.
final class RecordingClients: WebSocketClientDelegate {
    let opened = Locked<Set<Int>>([])
    let messages = Locked<[Int: [String]]>([:])
    let closed = Locked<[Int: String?]>([:])

    func connected(_ connection: Int) { opened.withLock { _ = $0.insert(connection) } }
    func received(_ message: UnsafeRawBufferPointer, on connection: Int) {
        let text = String(decoding: message, as: UTF8.self)
        messages.withLock { $0[connection, default: []].append(text) }
    }
    func disconnected(_ connection: Int, reason: String?) {
        opened.withLock { _ = $0.remove(connection) }
        closed.withLock { $0[connection] = reason }
    }
}

/// An echo server, a started pool beside it and what the pool reports; the pool stops with it.
final class PoolFixture {
    let server: ServerFixture
    let recorder = RecordingClients()
    let pool: WebSocketClientPool
    var target: WebSocketTarget { WebSocketTarget(port: server.server.port, path: "/ws/pool") }

    init() throws {
        server = try ServerFixture()
        pool = WebSocketClientPool(delegate: recorder)
        try pool.start()
    }

    deinit { pool.stop() }
}

@Suite struct WebSocketClientPoolTests {
    @Test func manyClientsExchangeMessagesOnOneThread() throws {
        let fixture = try PoolFixture()
        let (pool, recorder) = (fixture.pool, fixture.recorder)
        for id in 0..<200 { pool.connect(id, to: fixture.target) }
        #expect(waitUntil { recorder.opened.withLock { $0.count } == 200 })
        for id in 0..<200 { pool.send(text: "hello \(id)", on: id) }
        #expect(waitUntil { recorder.messages.withLock { $0.values.reduce(0) { $0 + $1.count } } == 200 })
        #expect(recorder.messages.withLock { $0[17] } == ["hello 17"])

        // A message larger than lws's receive buffer arrives whole.
        let big = String(repeating: "б", count: 100_000)
        pool.send(text: big, on: 3)
        #expect(waitUntil { recorder.messages.withLock { $0[3]?.count } == 2 })
        #expect(recorder.messages.withLock { $0[3]?.last } == big)
    }

    /// A connection bound to another loopback address comes from it, as the server sees it.
    @Test func aConnectionComesFromTheSourceAddressAsked() throws {
        let fixture = try PoolFixture()
        var target = fixture.target
        target.source = "127.3.2.1"
        fixture.pool.connect(1, to: target)
        #expect(waitUntil { fixture.recorder.opened.withLock { $0.contains(1) } })
        #expect(fixture.server.delegate.sockets.withLock { $0.map(\.request.peer) } == ["127.3.2.1"])
    }

    /// A send on the service thread goes out at once when nothing waits before it; a burst larger
    /// than the socket takes queues behind lws's partial write, and a send made before the
    /// handshake has ended waits for it. Everything comes back (the server echoes) whole, in order.
    @Test func burstsAndSendsBeforeTheHandshakeArriveWholeAndInOrder() throws {
        let fixture = try PoolFixture()
        let (pool, recorder, target) = (fixture.pool, fixture.recorder, fixture.target)
        pool.run {
            pool.connect(1, to: target)
            pool.send(text: "before the handshake", on: 1)
        }
        #expect(waitUntil { recorder.messages.withLock { $0[1] } == ["before the handshake"] })
        let burst = (0..<80).map { "\($0) " + String(repeating: "x", count: 100_000) }
        pool.run { burst.forEach { pool.send(text: $0, on: 1) } }
        #expect(waitUntil { recorder.messages.withLock { $0[1]?.count } == 81 })
        #expect(recorder.messages.withLock { Array($0[1]?.dropFirst() ?? []) } == burst)
    }

    @Test func closesReconnectsAndRunsTimedWork() throws {
        let fixture = try PoolFixture()
        let (pool, recorder, target) = (fixture.pool, fixture.recorder, fixture.target)
        pool.connect(1, to: target)
        #expect(waitUntil { recorder.opened.withLock { $0.contains(1) } })
        pool.close(1)
        #expect(waitUntil { recorder.closed.withLock { $0.keys.contains(1) } })
        #expect(waitUntil { fixture.server.delegate.sockets.withLock { $0.isEmpty } })
        pool.connect(1, to: target)
        #expect(waitUntil { recorder.opened.withLock { $0.contains(1) } })

        let start = ContinuousClock.now
        let ranAt = Locked<ContinuousClock.Instant?>(nil)
        pool.run(at: start + .milliseconds(150)) { ranAt.withLock { $0 = ContinuousClock.now } }
        #expect(waitUntil { ranAt.withLock { $0 } != nil })
        #expect(ranAt.withLock { $0! } - start >= .milliseconds(150))
    }

    /// Timed work runs on the pool's one thread (on the loop's own timer), in deadline order,
    /// work due at the same instant in the order it was given, and work already due at once.
    @Test func timedWorkRunsInDeadlineOrderOnTheServiceThread() throws {
        let fixture = try PoolFixture()
        let pool = fixture.pool
        let serviceThread = Locked<pthread_t?>(nil)
        let kernelName = Locked<String?>(nil)
        pool.run {
            serviceThread.withLock { $0 = pthread_self() }
            kernelName.withLock { $0 = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8) }
        }
        #expect(waitUntil { serviceThread.withLock { $0 } != nil })
        #expect(kernelName.withLock { $0 } == "lws-clients\n", "top -H and perf show the thread by name")
        let ran = Locked<[Int]>([])
        let threads = Locked<Set<pthread_t>>([])
        let start = ContinuousClock.now
        for (order, delay) in [(4, 120), (2, 60), (3, 60), (1, 20), (0, -50)] {
            pool.run(at: start + .milliseconds(delay)) {
                ran.withLock { $0.append(order) }
                threads.withLock { _ = $0.insert(pthread_self()) }
            }
        }
        #expect(waitUntil { ran.withLock { $0.count } == 5 })
        #expect(ran.withLock { $0 } == [0, 1, 2, 3, 4])
        #expect(threads.withLock { $0 } == [serviceThread.withLock { $0! }])
        // Scheduled from the service thread itself, earlier than what waits: it does not wait.
        let nested = Locked<ContinuousClock.Instant?>(nil)
        pool.run(at: ContinuousClock.now + .seconds(5)) {}
        pool.run {
            pool.run(at: ContinuousClock.now + .milliseconds(10)) { nested.withLock { $0 = ContinuousClock.now } }
        }
        #expect(waitUntil { nested.withLock { $0 } != nil })
    }

    @Test func aRefusedConnectionIsReportedWithItsReason() throws {
        let recorder = RecordingClients()
        let pool = WebSocketClientPool(delegate: recorder)
        try pool.start()
        defer { pool.stop() }
        pool.connect(7, to: WebSocketTarget(port: freeLoopbackPort(), path: "/ws/none"))
        #expect(waitUntil { recorder.closed.withLock { $0.keys.contains(7) } })
        let fixture = try ServerFixture()
        pool.connect(8, to: WebSocketTarget(port: fixture.server.port, path: "/not-ws"))
        #expect(waitUntil { recorder.closed.withLock { $0.keys.contains(8) } })
        #expect(recorder.opened.withLock { $0.isEmpty })
    }
}
