// The bid pipeline's last step before Redis: a ServiceLoop with its own Redis connection that runs
// requests in the order they came, and sends bids in batches.
import AuctionCore
import AuctionStore
import Dispatch
import Locking
import RedisClient
import Synchronization

/// A loop with its own Redis connection. Bids wait in a bounded queue and go to Redis in batches:
/// one round trip (and, with `appendfsync always`, one fsync) for all the bids that arrived while
/// the previous batch was out. Requests and bids are taken in the order they came, so one
/// auction's requests, always sent to the same worker, are decided in the order they arrived.
public final class StoreWorker: Sendable {
    public typealias BidAnswer = @Sendable (Result<BidVerdict, AuctionStoreError>) -> Void

    private let loop: ServiceLoop
    private let bidLimit: Int
    private let queue = Locked(Queue())

    /// Bids in one round trip at most: a batch's answers all wait for its last script.
    static let bidsPerBatch = 128

    private enum Item {
        case request(@Sendable (AuctionStore) -> Void)
        case bid(BidSubmission, BidAnswer)
    }

    private struct Queue {
        var items: [Item] = []
        /// Where `items` starts: taken items are dropped in bulk, not one by one from the front.
        var head = 0
        /// Waiting bids per auction: the limit is per auction, so that one auction's flood (a
        /// leaked link, a client in a loop) fills only its own share of the worker.
        var bidsPerAuction: [String: Int] = [:]
        var isEmpty: Bool { head == items.count }
    }

    /// - Parameter bidLimit: bids of one auction that may wait; `submit` refuses more.
    public init(name: String, endpoint: RedisEndpoint, policy: StorePolicy, bidLimit: Int = 1000) {
        loop = ServiceLoop(name: name, interval: .seconds(3600))
        self.bidLimit = bidLimit
        loop.start { [self] in Drain(worker: self, store: AuctionStore(endpoint: endpoint, policy: policy)) }
    }

    /// Runs `request` on the worker's thread with its store, after what is queued already.
    public func run(_ request: @escaping @Sendable (AuctionStore) -> Void) {
        enqueue(.request(request))
    }

    /// Runs `request` on the worker's thread and waits for it.
    public func runAndWait<T: Sendable>(_ request: @escaping @Sendable (AuctionStore) -> T) -> T {
        let result = Locked<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        run { store in
            let value = request(store)
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }

    /// Queues a bid for Redis; `answer` is called on the worker's thread. Returns false, and
    /// queues nothing, when `bidLimit` bids of the same auction are waiting already.
    public func submit(_ bid: BidSubmission, answer: @escaping BidAnswer) -> Bool {
        let (queued, wasIdle): (Bool, Bool) = queue.withLock { queue in
            guard queue.bidsPerAuction[bid.auctionId, default: 0] < bidLimit else { return (false, false) }
            queue.bidsPerAuction[bid.auctionId, default: 0] += 1
            let idle = queue.isEmpty
            queue.items.append(.bid(bid, answer))
            return (true, idle)
        }
        if wasIdle { loop.wake() }
        return queued
    }

    public func stop() { loop.stop() }

    private func enqueue(_ item: Item) {
        let wasIdle = queue.withLock { queue in
            let idle = queue.isEmpty
            queue.items.append(item)
            return idle
        }
        // A busy loop takes what comes before it sleeps again.
        if wasIdle { loop.wake() }
    }

    /// The first waiting request, or the first run of waiting bids (up to a batch).
    private func take() -> (request: (@Sendable (AuctionStore) -> Void)?, bids: [(BidSubmission, BidAnswer)], more: Bool) {
        queue.withLock { queue in
            var bids: [(BidSubmission, BidAnswer)] = []
            var request: (@Sendable (AuctionStore) -> Void)?
            taking: while !queue.isEmpty, bids.count < Self.bidsPerBatch {
                switch queue.items[queue.head] {
                case .request(let body):
                    // A request after bids waits for the next pass: order is kept.
                    if bids.isEmpty {
                        request = body
                        queue.head += 1
                    }
                    break taking
                case .bid(let bid, let answer):
                    bids.append((bid, answer))
                    let left = queue.bidsPerAuction[bid.auctionId, default: 1] - 1
                    queue.bidsPerAuction[bid.auctionId] = left > 0 ? left : nil
                    queue.head += 1
                }
            }
            if queue.isEmpty {
                queue.items.removeAll(keepingCapacity: true)
                queue.head = 0
            } else if queue.head > 4096 {
                queue.items.removeFirst(queue.head)
                queue.head = 0
            }
            return (request, bids, !queue.isEmpty)
        }
    }

    private struct Drain: LoopWork {
        let worker: StoreWorker
        let store: AuctionStore

        func pass(_ loop: ServiceLoop) -> Duration? {
            let (request, bids, more) = worker.take()
            if let request { request(store) }
            if !bids.isEmpty {
                do {
                    let verdicts = try store.placeBids(bids.map(\.0))
                    for ((_, answer), verdict) in zip(bids, verdicts) { answer(verdict) }
                } catch {
                    for (_, answer) in bids { answer(.failure(error)) }
                }
            }
            return more ? .zero : nil
        }
    }
}
