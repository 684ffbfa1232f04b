// The one clock the service tells clients about: Redis `TIME`, which judges every deadline (the
// bid script, stage switches). A host clock that is seconds off changes nothing a bidder sees.
import AuctionCore
import Foundation
import Synchronization

/// Redis time as seen from this process: the host clock plus an offset measured against `TIME`.
public final class RedisClock: Sendable {
    /// Redis time minus host time, in µs.
    private let offset = Atomic<Int64>(0)

    public init() {}

    /// Redis' clock now, by the last measured offset.
    public var now: Timestamp { Timestamp(microseconds: Self.hostMicroseconds() + offset.load(ordering: .relaxed)) }

    /// Measures the offset again. Against the host time at the reply, not the middle of the round
    /// trip: a command waits its turn behind bid batches before Redis reads its clock and answers
    /// at once, so the middle would put Redis ahead by half that wait; at the reply the estimate
    /// is never ahead of Redis.
    public func synchronize(with store: AuctionStore) throws(AuctionStoreError) {
        let redis = try store.now()
        offset.store(redis.microseconds - Self.hostMicroseconds(), ordering: .relaxed)
    }

    /// Takes a Redis time that was just read (a script's answer) as a new measurement.
    public func observe(_ redisTime: Timestamp) {
        offset.store(redisTime.microseconds - Self.hostMicroseconds(), ordering: .relaxed)
    }

    /// The host's wall clock (`CLOCK_REALTIME`), in µs.
    public static func hostMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }
}
