// Keep-alive without a timer per connection (lws's validity timers woke the loop for each).
// Instead each connection is filed under the tenth of a
// second its next check falls in, and one libev timer sweeps the slots that came due; each
// connection is pinged when its own time comes, so a crowd that connected over a few seconds is
// pinged over as many (docs/PERFORMANCE.md, the keep-alive passes).

/// When each connection is next looked at: slots of `1 / sweepsPerSecond` s since `epoch`.
struct KeepAliveWheel {
    static let sweepsPerSecond = 10
    static var sweepInterval: Duration { .seconds(1) / sweepsPerSecond }

    private var slots: [Int: [UInt64]] = [:]
    /// The first slot no sweep has taken yet.
    private var nextSlot = 0
    private let epoch: ContinuousClock.Instant

    init(epoch: ContinuousClock.Instant = .now) { self.epoch = epoch }

    /// Files `id` for a look at `instant`; never in a slot a sweep has already taken.
    mutating func schedule(_ id: UInt64, at instant: ContinuousClock.Instant) {
        slots[max(slot(of: instant), nextSlot), default: []].append(id)
    }

    /// The connections whose slots came due by `now`, in slot order (ids of connections closed
    /// meanwhile among them: the caller skips those).
    mutating func takeDue(at now: ContinuousClock.Instant) -> [UInt64] {
        let current = slot(of: now)
        var due: [UInt64] = []
        while nextSlot <= current {
            due += slots.removeValue(forKey: nextSlot) ?? []
            nextSlot += 1
        }
        return due
    }

    var scheduledCount: Int { slots.values.reduce(0) { $0 + $1.count } }

    private func slot(of instant: ContinuousClock.Instant) -> Int {
        guard instant > epoch else { return 0 }
        let (seconds, attoseconds) = (instant - epoch).components
        return Int(seconds) * Self.sweepsPerSecond + Int(attoseconds / (1_000_000_000_000_000_000 / Int64(Self.sweepsPerSecond)))
    }
}

/// What to do with a connection when its check comes: ping it after `pingAfter` of quiet (once
/// per `pingAfter`), hang up after `hangUpAfter`.
struct KeepAlivePolicy {
    let pingAfter: Duration
    let hangUpAfter: Duration

    enum Action: Equatable { case wait, ping, hangUp }

    func action(lastHeard: ContinuousClock.Instant, lastPinged: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Action {
        let quiet = now - lastHeard
        if quiet >= hangUpAfter { return .hangUp }
        if quiet >= pingAfter, now - lastPinged >= pingAfter { return .ping }
        return .wait
    }

    /// When to look again: the hang-up, or the next ping, whichever comes first.
    func nextCheck(lastHeard: ContinuousClock.Instant, lastPinged: ContinuousClock.Instant) -> ContinuousClock.Instant {
        min(lastHeard + hangUpAfter, max(lastHeard, lastPinged) + pingAfter)
    }
}
