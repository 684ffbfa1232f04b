import AuctionTesting
import Testing

@testable import AuctionCore

@Suite struct MoneyTests {
    @Test func parsesTheProtocolsStrings() throws {
        #expect(try Money(parsing: "499.00").kopiyky == 49_900)
        #expect(try Money(parsing: "480.5").kopiyky == 48_050)
        #expect(try Money(parsing: "480").kopiyky == 48_000)
        #expect(try Money(parsing: "0.01").kopiyky == 1)
        #expect(try Money(parsing: "-1").kopiyky == -100)
    }

    @Test func formatsWithExactlyTwoDecimals() throws {
        #expect(Money(kopiyky: 49_900).formatted == "499.00")
        #expect(Money(kopiyky: 5).formatted == "0.05")
        #expect(Money(kopiyky: -150).formatted == "-1.50")
        #expect(Money(kopiyky: 177_209_111).formatted == "1772091.11")
    }

    // Both ProZorro modules computed this step check in floats.
    @Test func floatTrap14395_71Minus72_03IsExact() throws {
        let difference = try Money(parsing: "14395.71") - Money(parsing: "72.03")
        #expect(difference == Money(kopiyky: 1_432_368))
        #expect(difference.formatted == "14323.68")
        let own = try Money(parsing: "14395.71")
        let step = try Money(parsing: "72.03")
        #expect(checkStep(amount: difference, own: own, step: step, criteria: .lowestCost) == nil)
    }

    @Test func floatTrap1772091_11FromAJSONNumberIsExact() throws {
        #expect(try Money(jsonNumber: 1772091.11).kopiyky == 177_209_111)
        #expect(try Money(jsonNumber: 14395.71).kopiyky == 1_439_571)
    }

    @Test func threeDecimalsAreRefused() {
        #expect(throws: MoneyError.tooManyDecimals("1.005")) { try Money(parsing: "1.005") }
        #expect(throws: MoneyError.self) { try Money(jsonNumber: 1.005) }
        // 0.1 + 0.2 is not 0.3 in binary: it has 17 decimals and is refused, not rounded.
        #expect(throws: MoneyError.self) { try Money(jsonNumber: 0.1 + 0.2) }
    }

    @Test func exponentsAndHugeNumbersAreRefused() throws {
        #expect(throws: MoneyError.notANumber("1e308")) { try Money(parsing: "1e308") }
        #expect(throws: MoneyError.self) { try Money(jsonNumber: 1e308) }
        #expect(throws: MoneyError.notANumber("1e3")) { try Money(parsing: "1e3") }
        #expect(throws: MoneyError.tooLarge("1000000000000.01")) { try Money(parsing: "1000000000000.01") }
        #expect(throws: MoneyError.self) { try Money(parsing: "99999999999999999999999999") }
        #expect(try Money(parsing: "1000000000000.00") == Money.maximum)
    }

    @Test func nanAndInfinityAreRefused() {
        #expect(throws: MoneyError.notANumber("NaN")) { try Money(parsing: "NaN") }
        #expect(throws: MoneyError.self) { try Money(jsonNumber: .nan) }
        #expect(throws: MoneyError.self) { try Money(jsonNumber: .infinity) }
    }

    @Test func negativeZeroIsZero() throws {
        #expect(try Money(parsing: "-0") == .zero)
        #expect(try Money(jsonNumber: -0.0) == .zero)
    }

    @Test func commasSpacesAndSignsAreRefused() {
        for text in ["12,50", " 12", "12 ", "+12", "", ".5", "5.", "1_000", "１２", "12.5.1", "--1", "0x10", "abc"] {
            #expect(throws: MoneyError.self, "\(text)") { try Money(parsing: text) }
        }
    }

    /// The byte parser against the Character-based one it replaced (kept here as the reference):
    /// the same amount or the same error for random texts over digits, signs, points, a
    /// combining mark, fullwidth and Arabic-Indic digits and spaces.
    @Test func theByteParserAnswersAsTheCharacterParserDid() {
        func reference(_ text: String) throws(MoneyError) -> Money {
            var digits = Substring(text)
            let negative = digits.first == "-"
            if negative { digits = digits.dropFirst() }
            let parts = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            let whole = parts[0]
            let fraction = parts.count == 2 ? String(parts[1]) : ""
            guard !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit), fraction.allSatisfy(\.isASCIIDigit),
                parts.count == 1 || !fraction.isEmpty
            else { throw .notANumber(text) }
            guard fraction.count <= 2 else { throw .tooManyDecimals(text) }
            let significantWhole = whole.drop { $0 == "0" }
            guard significantWhole.count <= 13, let units = Int64(whole) else { throw .tooLarge(text) }
            let magnitude = units * 100 + Int64(fraction + String(repeating: "0", count: 2 - fraction.count))!
            guard magnitude <= Money.maximum.kopiyky else { throw .tooLarge(text) }
            return Money(kopiyky: negative ? -magnitude : magnitude)
        }
        func outcome(_ parse: (String) throws(MoneyError) -> Money, _ text: String) -> Result<Money, MoneyError> {
            do throws(MoneyError) { return .success(try parse(text)) } catch { return .failure(error) }
        }
        let alphabet: [String] = ["0", "1", "5", "9", "0", "7", ".", "-", "+", " ", "e", "\u{301}", "１", "٣", ","]
        var generator = SeededGenerator(seed: 11)
        var texts = [
            "000000000000001.00", "1000000000000.00", "1000000000000.01", "9999999999999.99", "99999999999999", "-0.5", "-", ".", "-.",
            "0.", "00",
        ]
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...16, using: &generator)
            texts.append((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }.joined())
        }
        for text in texts {
            #expect(
                outcome({ (t: String) throws(MoneyError) -> Money in try Money(parsing: t) }, text) == outcome(reference, text), "\(text)")
        }
    }

    @Test func errorsReadAsSentences() {
        #expect("\(MoneyError.tooManyDecimals("1.005"))" == "'1.005' has more than two decimals")
    }

    @Test func codableAsTheProtocolString() throws {
        let json = try JSONEncoderForTests.encode([Money(kopiyky: 48_050)])
        #expect(json == #"["480.50"]"#)
    }

    @Test func everyTwoDecimalAmountSurvivesAJSONNumber() throws {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<10_000 {
            let kopiyky = Int64.random(in: 1...Money.maximum.kopiyky, using: &generator)
            let money = Money(kopiyky: kopiyky)
            #expect(try Money(jsonNumber: money.jsonNumber) == money)
        }
    }
}
