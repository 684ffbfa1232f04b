import AuctionTesting
import Testing

@testable import AuctionCore

@Suite struct RationalTests {
    @Test func meatExampleIsNineSevenths() {
        let parameters = Rational(decimal: "0.1")! + Rational(decimal: "0.1")!
        let largest = Rational(decimal: "0.15")! + Rational(decimal: "0.15")!
        #expect((.one + parameters / (.one - largest)).description == "9/7")
    }

    @Test func reducesAndCompares() {
        #expect(Rational(6, 4) == Rational(3, 2))
        #expect(Rational(1, -2).description == "-1/2")
        #expect(Rational(1, 3) < Rational(1, 2))
        #expect(Rational(Money(kopiyky: 98_000)) / Rational(9, 7) == Rational(6860, 9))
    }

    @Test func roundsHalfAwayFromZeroForDisplay() {
        #expect(Rational(6860, 9).roundedMoney.formatted == "762.22")
        #expect(Rational(1, 200).roundedMoney.formatted == "0.01")
        #expect(Rational(-1, 200).roundedMoney.formatted == "-0.01")
    }

    @Test func decimalsParseExactly() {
        #expect(Rational(decimal: "0.15") == Rational(3, 20))
        #expect(Rational(jsonNumber: 0.15) == Rational(3, 20))
        #expect(Rational(decimal: "1e3") == nil)
        #expect(Rational(jsonNumber: .nan) == nil)
    }
}
