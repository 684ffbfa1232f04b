import Testing

@testable import LoadGenerator

@Suite struct ChaosFiguresTests {
    @Test func readsTheDriversLog() throws {
        let log = """
            1000000 kill auctiond-2 4242
            1500000 up auctiond-2 4300
            3000000 kill redis 11
            3600000 up redis 12
            4000000 kill auctiond-1 4100
            4000001 done
            """
        let (kills, finished) = try ChaosFigures.readLog(log)
        #expect(finished)
        #expect(kills.map(\.process) == ["auctiond-2", "redis", "auctiond-1"])
        #expect(kills.map(\.upAt) == [1_500_000, 3_600_000, nil])
        #expect(kills.map(\.kind) == ["auctiond", "redis", "auctiond"])
    }

    @Test func aBadLineIsANamedError() {
        #expect { try ChaosFigures.readLog("1000 kill auctiond-1 1\nsoon kill redis 2\n") } throws: {
            "\($0)".contains("line 2: 'soon kill redis 2'")
        }
        #expect { try ChaosFigures.readLog("1000 up redis 2\n") } throws: { "\($0)".contains("came up without a kill") }
        #expect { try ChaosFigures.readLog("1000 maim redis 2\n") } throws: { "\($0)".contains("line 1") }
    }

    /// From each kill to the next switch and the next accepted bid anywhere; the `unavailable`
    /// answers from the kill until five seconds after the restart count towards it.
    @Test func measuresTheRecoveryFromEachKill() {
        let kills = [
            ChaosKill(process: "redis", killedAt: 10_000_000, upAt: 11_000_000),
            ChaosKill(process: "auctiond-1", killedAt: 20_000_000, upAt: 20_500_000),
            ChaosKill(process: "auctiond-2", killedAt: 90_000_000, upAt: nil),
        ]
        let figures = ChaosFigures(
            kills: kills, finished: false, switches: [9_000_000, 12_000_000, 20_100_000],
            acceptedBids: [10_000_000, 13_500_000, 25_000_000],
            unavailable: [9_999_999, 10_000_000, 10_200_000, 15_999_999, 16_000_000, 21_000_000])
        #expect(figures.kills.map(\.toNextStageSwitchMilliseconds) == [2_000, 100, nil])
        #expect(figures.kills.map(\.toNextAcceptedBidMilliseconds) == [3_500, 5_000, nil])
        #expect(figures.kills.map(\.unavailableAnswers) == [3, 1, 0])
        #expect(figures.killsByKind == ["redis": 1, "auctiond": 2])
        #expect(figures.unavailableAnswers == ["redis": 3, "auctiond": 1])
        #expect(figures.killsWithoutASwitchAfter == 1 && figures.killsWithoutABidAfter == 1)
        #expect(figures.toNextStageSwitch["redis"]?.count == 1)
        #expect(!figures.driverFinished)
    }

    /// Before the first switch or the first accepted bid nothing was due: such a kill measures no
    /// recovery (the bidding had not begun) and does not count as one without a switch or bid after.
    @Test func killsBeforeTheBiddingMeasureNoRecovery() {
        let figures = ChaosFigures(
            kills: [ChaosKill(process: "auctiond-1", killedAt: 1_000_000, upAt: 1_500_000)], finished: true,
            switches: [2_000_000], acceptedBids: [30_000_000], unavailable: [])
        #expect(figures.kills[0].toNextStageSwitchMilliseconds == nil && figures.kills[0].toNextAcceptedBidMilliseconds == nil)
        #expect(figures.killsWithoutASwitchAfter == 0 && figures.killsWithoutABidAfter == 0)
        #expect(figures.toNextAcceptedBid["auctiond"] == nil)
    }
}
