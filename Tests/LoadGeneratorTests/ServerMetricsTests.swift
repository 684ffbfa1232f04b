import Foundation
import Testing

@testable import LoadGenerator

@Suite struct ServerMetricsTests {
    /// The text swift-prometheus writes for a Timer, with auctiond's buckets (seconds).
    static let text = """
        # TYPE auctiond_broadcast_seconds histogram
        auctiond_broadcast_seconds_bucket{le="0.001"} 10
        auctiond_broadcast_seconds_bucket{le="0.002"} 60
        auctiond_broadcast_seconds_bucket{le="0.005"} 95
        auctiond_broadcast_seconds_bucket{le="0.01"} 99
        auctiond_broadcast_seconds_bucket{le="0.02"} 100
        auctiond_broadcast_seconds_bucket{le="+Inf"} 100
        auctiond_broadcast_seconds_sum 0.25
        auctiond_broadcast_seconds_count 100
        # TYPE auctiond_stage_lag_seconds histogram
        auctiond_stage_lag_seconds_bucket{le="0.001"} 0
        auctiond_stage_lag_seconds_bucket{le="10.0"} 1
        auctiond_stage_lag_seconds_bucket{le="+Inf"} 3
        auctiond_stage_lag_seconds_sum 40.5
        auctiond_stage_lag_seconds_count 3
        auctiond_http_requests_total 7
        """

    @Test func readsCountMeanAndThePercentilesBuckets() {
        let metrics = ServerMetrics.parse(Self.text)
        #expect(
            metrics.broadcast == ServerHistogram(count: 100, meanMilliseconds: 2.5, p50AtMostMilliseconds: 2, p99AtMostMilliseconds: 10))
        // A percentile past the last finite bucket is not made up.
        #expect(metrics.stageLag?.p50AtMostMilliseconds == nil)
        #expect(metrics.stageLag?.count == 3)
        #expect(metrics.bidVerdict == nil)
    }

    @Test func anEmptyHistogramHasNoPercentiles() {
        let metrics = ServerMetrics.parse(
            "auctiond_bid_latency_seconds_bucket{le=\"+Inf\"} 0\nauctiond_bid_latency_seconds_sum 0.0\nauctiond_bid_latency_seconds_count 0\n"
        )
        #expect(
            metrics.bidVerdict == ServerHistogram(count: 0, meanMilliseconds: 0, p50AtMostMilliseconds: nil, p99AtMostMilliseconds: nil))
    }
}
