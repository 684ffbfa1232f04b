/// Exponential backoff: the one way every part of the service waits after a failure (a lost Redis
/// connection, the tender API down, a report refused for now, a tender that cannot be read).
///
/// A value: each retrying loop owns one, `next()` after a failure, `reset()` after a success.
/// With `jitter`, each wait is drawn from `jitter...1` of the nominal one, so that many auctions
/// retrying after one outage do not all come back in the same millisecond.
public struct Backoff: Sendable, Equatable {
    public let first: Duration
    public let maximum: Duration
    /// The lowest fraction of the nominal wait a jittered wait may be (1: no jitter).
    public let jitter: Double
    /// The nominal wait `next()` gives next.
    public private(set) var current: Duration

    public init(first: Duration, maximum: Duration, jitter: Double = 1) {
        precondition(first > .zero && maximum >= first, "a backoff grows from a positive first wait to a maximum")
        precondition((0...1).contains(jitter), "jitter is a fraction of the wait")
        self.first = first
        self.maximum = maximum
        self.jitter = jitter
        current = first
    }

    /// The wait before the next attempt; the one after it is twice as long, up to `maximum`.
    public mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    public mutating func next<G: RandomNumberGenerator>(using generator: inout G) -> Duration {
        let nominal = current
        current = min(current * 2, maximum)
        guard jitter < 1 else { return nominal }
        return nominal * Double.random(in: jitter...1, using: &generator)
    }

    /// After a success: the next failure waits `first` again.
    public mutating func reset() { current = first }
}
