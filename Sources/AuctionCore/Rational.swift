/// An exact fraction, always reduced, denominator positive. MEAT coefficients and normalised
/// prices are compared as rationals so that no rounding can change a ranking. Int128 leaves room:
/// amounts are below 10^14 kopiyky and feature weights have a few decimals.
public struct Rational: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let numerator: Int128
    public let denominator: Int128

    public init(_ numerator: Int128, _ denominator: Int128 = 1) {
        precondition(denominator != 0, "a rational with denominator 0")
        let divisor = Self.gcd(numerator.magnitude, denominator.magnitude)
        let sign: Int128 = denominator < 0 ? -1 : 1
        self.numerator = sign * numerator / Int128(divisor)
        self.denominator = sign * denominator / Int128(divisor)
    }

    /// Money in whole units (hryvni): 98000 kopiyky is 980.
    public init(_ money: Money) { self.init(Int128(money.kopiyky), 100) }

    /// A decimal text such as "0.15" or "-2", exactly.
    public init?(decimal text: String) {
        var body = Substring(text)
        let negative = body.first == "-"
        if negative { body = body.dropFirst() }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !parts[0].isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }), parts.count == 1 || !parts[1].isEmpty,
            body.count <= 30
        else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard let value = Int128(parts[0] + fraction) else { return nil }
        var scale: Int128 = 1
        for _ in fraction { scale *= 10 }
        self.init(negative ? -value : value, scale)
    }

    /// A JSON number from the API (feature weights, parameter values), exactly.
    public init?(jsonNumber value: Double) {
        guard let text = decimalText(of: value) else { return nil }
        self.init(decimal: text)
    }

    public static func < (a: Rational, b: Rational) -> Bool {
        a.numerator * b.denominator < b.numerator * a.denominator
    }

    public static func + (a: Rational, b: Rational) -> Rational {
        Rational(a.numerator * b.denominator + b.numerator * a.denominator, a.denominator * b.denominator)
    }

    public static func - (a: Rational, b: Rational) -> Rational {
        Rational(a.numerator * b.denominator - b.numerator * a.denominator, a.denominator * b.denominator)
    }

    public static func * (a: Rational, b: Rational) -> Rational {
        Rational(a.numerator * b.numerator, a.denominator * b.denominator)
    }

    public static func / (a: Rational, b: Rational) -> Rational {
        Rational(a.numerator * b.denominator, a.denominator * b.numerator)
    }

    public static let one = Rational(1)
    public static let zero = Rational(0)

    /// "9/7", or "780" for a whole number.
    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }

    /// Rounded half away from zero to kopiyky, for display only (never for a decision).
    public var roundedMoney: Money {
        let scaled = numerator * 100
        let twice = 2 * (scaled.magnitude % denominator.magnitude)
        var quotient = scaled / denominator
        if twice >= denominator.magnitude { quotient += scaled < 0 ? -1 : 1 }
        return Money(kopiyky: Int64(quotient))
    }

    private static func gcd(_ a: UInt128, _ b: UInt128) -> UInt128 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a == 0 ? 1 : a
    }
}

extension Rational: Codable {
    /// Encoded as its text ("9/7"), which is exact.
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        let parts = text.split(separator: "/")
        guard (1...2).contains(parts.count), let n = Int128(String(parts[0])),
            let d = parts.count == 2 ? Int128(String(parts[1])) : 1, d != 0
        else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a fraction: \(text)")) }
        self.init(n, d)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
