// Measures the bid script: accepted bids per second and the latency of each call, on one hot
// auction and spread over many auctions. Not a test: numbers go to docs/PERFORMANCE.md
// (loadtest/store-benchmark.sh runs it beside redis-benchmark on the same Redis).
import ArgumentParser
import AuctionCore
import AuctionStore
import AuctionTesting
import Foundation
import Locking
import RedisClient
import Synchronization

@main
struct StoreBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auction-store-benchmark",
        abstract: "Bids per second and p50/p99 latency of the bid script on a real Redis.")

    @Option(help: "Redis to use; its data is flushed.") var redis = "redis://127.0.0.1:6391/0"
    @Option(help: "Client threads, each with its own connection.") var threads = 8
    @Option(help: "Bids per thread per scenario.") var bids = 20_000
    @Option(help: "Auctions in the spread scenario.") var auctions = 1000

    func run() throws {
        guard let endpoint = RedisEndpoint(url: redis) else { throw ValidationError("bad --redis \(redis)") }
        try RedisConnection(endpoint: endpoint).execute("FLUSHALL")
        print("| scenario | threads | bids | accepted/s | p50 µs | p99 µs | p99.9 µs |")
        print("|---|---|---|---|---|---|---|")
        let hot = try prepare(endpoint, count: 1)
        try measure("1 hot auction", endpoint, ids: hot)
        let spread = try prepare(endpoint, count: auctions)
        try measure("\(auctions) auctions", endpoint, ids: spread)
    }

    /// Plans auctions whose first turn (bidder 1's) is open for an hour, so every bid is judged by
    /// the full script: turn, deadline, step rule, record, publish.
    func prepare(_ endpoint: RedisEndpoint, count: Int) throws -> [String] {
        let store = AuctionStore(endpoint: endpoint)
        let start = try store.now().adding(milliseconds: -10)
        return try (0..<count).map { index in
            let id = "bench-\(count)-\(index)"
            try store.create(samplePlannedAuction(id: id, start: start, firstPause: 0, pause: 3_600_000, turn: 3_600_000))
            return id
        }
    }

    func measure(_ name: String, _ endpoint: RedisEndpoint, ids: [String]) throws {
        let latencies = Locked<[Int64]>([])
        let accepted = Atomic<Int>(0)
        let bids = self.bids
        let began = ContinuousClock.now
        // One OS thread per client: concurrentPerform would cap the clients at the core count.
        let done = DispatchGroup()
        for thread in 0..<threads {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                let store = AuctionStore(endpoint: endpoint)
                var mine: [Int64] = []
                mine.reserveCapacity(bids)
                for i in 0..<bids {
                    let id = ids[(thread * bids + i) % ids.count]
                    let amount = Money(kopiyky: 90_000 - Int64(i % 5000))
                    let sent = ContinuousClock.now
                    let verdict = try? store.placeBid(auctionId: id, bidder: 1, request: .place(amount), requestId: "t\(thread)-\(i)")
                    let elapsed = ContinuousClock.now - sent
                    mine.append(elapsed.wholeMicroseconds)
                    if case .accepted = verdict { accepted.add(1, ordering: .relaxed) }
                }
                latencies.withLock { $0 += mine }
            }
        }
        done.wait()
        let seconds = (ContinuousClock.now - began).inSeconds
        let sorted = latencies.withLock { $0 }.sorted()
        func percentile(_ p: Double) -> Int64 { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        let count = accepted.load(ordering: .relaxed)
        print(
            "| \(name) | \(threads) | \(sorted.count) | \(Int(Double(count) / seconds)) | \(percentile(0.5)) | \(percentile(0.99)) | \(percentile(0.999)) |"
        )
        if count != sorted.count { print("(\(sorted.count - count) bids were not accepted)") }
    }
}
