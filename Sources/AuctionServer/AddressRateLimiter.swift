// Requests per client address: a token bucket each, so that one address hammering the HTTP
// routes or opening WebSocket after WebSocket is refused before any work is done for it, and every
// other address is served as before.

/// A token bucket per address: up to `burst` requests at once, refilled at `perSecond`. Times are
/// milliseconds of a monotonic clock, given by the caller.
struct AddressRateLimiter {
    let perSecond: Double
    let burst: Double
    private var buckets: [String: Bucket] = [:]
    /// Above this many tracked addresses, the full buckets (addresses quiet long enough to have
    /// their whole burst back) are forgotten: tracking them changes no answer.
    private var sweepAbove: Int

    private struct Bucket {
        var tokens: Double
        var at: Int64
    }

    /// `perSecond` 0 turns the limit off.
    init(perSecond: Int, burstSeconds: Double = 2, sweepAbove: Int = 4096) {
        self.perSecond = Double(perSecond)
        self.burst = max(1, Double(perSecond) * burstSeconds)
        self.sweepAbove = sweepAbove
    }

    var isOff: Bool { perSecond == 0 }
    var trackedAddresses: Int { buckets.count }

    /// Takes one request from `address`'s bucket: false when it is empty.
    mutating func admit(_ address: String, nowMilliseconds now: Int64) -> Bool {
        if isOff { return true }
        var bucket = buckets[address] ?? Bucket(tokens: burst, at: now)
        bucket.tokens = min(burst, bucket.tokens + Double(max(0, now - bucket.at)) * perSecond / 1000)
        bucket.at = now
        let admitted = bucket.tokens >= 1
        if admitted { bucket.tokens -= 1 }
        buckets[address] = bucket
        if buckets.count > sweepAbove { sweep(now) }
        return admitted
    }

    private mutating func sweep(_ now: Int64) {
        let refill = (burst / perSecond) * 1000
        buckets = buckets.filter { Double(now - $0.value.at) < refill }
        // Many busy addresses: sweep again only once the table has doubled.
        sweepAbove = max(sweepAbove, buckets.count * 2)
    }
}
