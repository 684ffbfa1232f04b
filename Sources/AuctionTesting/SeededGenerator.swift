/// A small deterministic random source (SplitMix64): the same seed gives the same sequence, for
/// property tests and the load generator's scripted behaviour.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `share` (0 never draws).
    public mutating func chance(_ share: Double) -> Bool { share > 0 && unit() < share }

    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * unit()
    }

    /// A double in [0, 1) from the top 53 bits.
    private mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
