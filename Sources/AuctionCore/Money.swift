/// An exact amount of money in kopiyky (hundredths of a hryvnia, or of any currency the tender
/// uses). Never a binary float: both generations of the ProZorro module shipped step-validation
/// bugs from floats (14395.71 − 72.03).
public struct Money: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let kopiyky: Int64

    /// The largest amount accepted anywhere: one trillion (10^12) units, far above any tender and
    /// far below Int64's range, so sums and differences cannot overflow.
    public static let maximum = Money(kopiyky: 100_000_000_000_000)
    public static let zero = Money(kopiyky: 0)

    public init(kopiyky: Int64) { self.kopiyky = kopiyky }

    /// Parses the protocol's text form: an optional minus, digits, and at most two decimals
    /// ("480", "480.5", "480.50", "-1"). No spaces, no plus sign, no exponent, no comma.
    public init(parsing text: String) throws(MoneyError) {
        // One pass over the UTF-8 bytes (every bid's amount is read here): ASCII digits, a leading
        // "-" and one "."; any other byte, a combining mark's included, makes it not a number.
        var negative = false
        var sawPoint = false
        var valid = true
        var atStart = true
        var units: Int64 = 0
        var wholeDigits = 0
        var significantWholeDigits = 0
        var cents: Int64 = 0
        var fractionDigits = 0
        for byte in text.utf8 {
            defer { atStart = false }
            if atStart, byte == UInt8(ascii: "-") {
                negative = true
                continue
            }
            if byte == UInt8(ascii: "."), !sawPoint {
                sawPoint = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                valid = false
                break
            }
            let digit = Int64(byte - UInt8(ascii: "0"))
            if sawPoint {
                fractionDigits += 1
                if fractionDigits <= 2 { cents = cents * 10 + digit }
            } else {
                wholeDigits += 1
                if significantWholeDigits > 0 || digit != 0 { significantWholeDigits += 1 }
                // 14 whole digits would already exceed the maximum: stop before Int64 could overflow.
                if significantWholeDigits <= 13 { units = units * 10 + digit }
            }
        }
        guard valid, wholeDigits > 0, !sawPoint || fractionDigits > 0 else { throw .notANumber(text) }
        guard fractionDigits <= 2 else { throw .tooManyDecimals(text) }
        guard significantWholeDigits <= 13 else { throw .tooLarge(text) }
        let magnitude = units * 100 + (fractionDigits == 1 ? cents * 10 : cents)
        guard magnitude <= Money.maximum.kopiyky else { throw .tooLarge(text) }
        kopiyky = negative ? -magnitude : magnitude
    }

    /// Converts a JSON number (the API sends floats with at most two decimals), exactly: see
    /// `decimalText(of:)`.
    public init(jsonNumber value: Double) throws(MoneyError) {
        guard let text = decimalText(of: value) else { throw .notANumber("\(value)") }
        try self.init(parsing: text)
    }

    /// "499.00", "-1.50": the protocol's money format.
    public var formatted: String {
        let magnitude = kopiyky.magnitude
        let cents = magnitude % 100
        return (kopiyky < 0 ? "-" : "") + "\(magnitude / 100)." + (cents < 10 ? "0" : "") + "\(cents)"
    }

    public var description: String { formatted }

    /// The amount as the API's JSON number. Exact in the sense that matters: the double's shortest
    /// text is this amount's text.
    public var jsonNumber: Double { Double(kopiyky) / 100 }

    public static func < (a: Money, b: Money) -> Bool { a.kopiyky < b.kopiyky }
    public static func + (a: Money, b: Money) -> Money { Money(kopiyky: a.kopiyky + b.kopiyky) }
    public static func - (a: Money, b: Money) -> Money { Money(kopiyky: a.kopiyky - b.kopiyky) }
}

extension Money: Codable {
    /// Encoded as the protocol's string ("499.00"); decoded from such a string.
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try Money(parsing: text)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(formatted)
    }
}

/// Why a text or number is not an amount. Every case is the protocol's `invalid_amount`.
public enum MoneyError: Error, Equatable, Sendable, CustomStringConvertible {
    case notANumber(String)
    case tooManyDecimals(String)
    case tooLarge(String)

    public var description: String {
        switch self {
        case .notANumber(let text): "'\(text)' is not an amount: use digits and a dot, like 480.50"
        case .tooManyDecimals(let text): "'\(text)' has more than two decimals"
        case .tooLarge(let text): "'\(text)' is larger than the largest amount accepted (\(Money.maximum))"
        }
    }
}

/// The decimal text a JSON number was written as, or nil for NaN, infinities and exponents. A
/// double's shortest round-trip text is the sender's text for every value of at most 15
/// significant digits (all amounts below `Money.maximum`, all feature weights), so parsing it is
/// exact. "1000.0" comes back as "1000".
func decimalText(of value: Double) -> String? {
    guard value.isFinite else { return nil }
    var text = "\(value)"
    guard !text.contains("e") else { return nil }
    if text.hasSuffix(".0") { text.removeLast(2) }
    return text
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
