import AuctionTesting
import Testing

@testable import AuctionCore

@Suite struct TimestampTests {
    @Test func parsesTheAPIsKyivDates() {
        let kyiv = Timestamp(iso8601: "2017-02-16T13:35:25.282008+02:00")
        let utc = Timestamp(iso8601: "2017-02-16T11:35:25.282008Z")
        #expect(kyiv != nil && kyiv == utc)
        #expect(kyiv?.microseconds == 1_487_244_925_282_008)
        #expect(Timestamp(iso8601: "2017-02-18T00:00:00+02:00")?.milliseconds == 1_487_368_800_000)
        #expect(
            Timestamp(iso8601: "2026-11-23T12:01:40.1+02:00")?.microseconds
                == Timestamp(iso8601: "2026-11-23T10:01:40.100000Z")?.microseconds)
    }

    @Test func refusesWhatIsNotADate() {
        for text in ["", "2017-02-16", "2017-13-16T13:35:25+02:00", "2017-02-16T13:35:25", "2017-02-16T13:35:25.+02:00", "yesterday"] {
            #expect(Timestamp(iso8601: text) == nil, "\(text)")
        }
    }

    @Test func formatsInUTCWithMicroseconds() {
        let time = Timestamp(iso8601: "2026-11-23T12:01:40.400000+02:00")!
        #expect(time.iso8601 == "2026-11-23T10:01:40.400000+00:00")
        #expect(Timestamp(iso8601: time.iso8601) == time)
    }

    @Test func roundTripsAcrossCenturies() {
        var generator = SeededGenerator(seed: 3)
        for _ in 0..<2_000 {
            let time = Timestamp(microseconds: Int64.random(in: 0...4_102_444_800_000_000, using: &generator))
            #expect(Timestamp(iso8601: time.iso8601) == time)
        }
    }
}
