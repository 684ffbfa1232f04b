import AuctionTesting
import Testing

@testable import AuctionCore

@Suite struct TimestampFractionTests {
    // More than six fraction digits must not crash: the extra digits are below a microsecond.
    @Test func fractionsLongerThanMicrosecondsAreTruncated() {
        #expect(Timestamp(iso8601: "2017-02-16T13:35:25.1234567+02:00") == Timestamp(iso8601: "2017-02-16T13:35:25.123456+02:00"))
        #expect(
            Timestamp(iso8601: "2017-02-16T13:35:25.123456789123Z")?.microseconds
                == Timestamp(iso8601: "2017-02-16T13:35:25.123456Z")?.microseconds)
    }
}
