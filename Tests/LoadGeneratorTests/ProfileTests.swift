import AuctionCore
import AuctionTesting
import Foundation
import Testing

@testable import AuctionServer
@testable import LoadGenerator

@Suite struct ProfileTests {
    func write(_ text: String) -> String {
        let path = NSTemporaryDirectory() + "profile-\(UUID().uuidString).yaml"
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    @Test func everyShippedProfileLoads() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../loadtest/profiles")
            .standardized.path
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names == ["connect.yaml", "hot.yaml", "peak.yaml", "smoke.yaml", "storm.yaml"])
        for name in names {
            let profile = try Profile.load(path: folder + "/" + name)
            #expect(profile.name + ".yaml" == name)
        }
    }

    @Test func missingKeysTakeTheirDefaults() throws {
        let profile = try Profile.load(path: write("name: tiny\nauctions: 2\nbehaviour:\n  replace: 0.5\n"))
        #expect(profile.auctions == 2)
        #expect(profile.biddersPerAuction == 3)
        #expect(profile.behaviour.replace == 0.5)
        #expect(profile.behaviour.cancel == 0)
    }

    @Test func badProfilesAreNamedErrors() {
        let cases: [(String, String)] = [
            ("biddersPerAuction: 1\n", "biddersPerAuction must be 2…30"),
            ("resource: lots\n", "resource must be tenders or auctions"),
            ("stormBidsPerSecond: 50\n", "stormBidsPerSecond must be 0…20"),
            ("behaviour:\n  cancel: 2\n", "a share between 0 and 1"),
            ("auctions: many\n", "auctions"),
            ("obsevers: 3\n", "unknown key 'obsevers'"),
            ("observerThreads: 0\n", "observerThreads must be 1…8"),
        ]
        for (text, expected) in cases {
            #expect { try Profile.load(path: write(text)) } throws: { "\($0)".contains(expected) }
        }
        #expect { try Profile.load(path: "/nonexistent/profile.yaml") } throws: { "\($0)".contains("cannot read the profile") }
    }

    @Test func theScannerReadsTheServersCompactSortedJSON() {
        let text =
            #"{"auction":{"currentStage":3,"serverTime":1732000000123,"stages":[{"type":"pause"}],"status":"active","title":"\"seq\":9"},"seq":17,"type":"state"}"#
        Array(text.utf8).withUnsafeBytes { bytes in
            #expect(MessageScan.type(bytes) == "state")
            #expect(MessageScan.integer("seq", in: bytes, fromEnd: true) == 17)
            #expect(MessageScan.integer("currentStage", in: bytes) == 3)
            #expect(MessageScan.integer("serverTime", in: bytes) == 1_732_000_000_123)
            #expect(MessageScan.string(after: "\"status\":\"", in: bytes) == "active")
            #expect(MessageScan.string(after: "\"status\":\"", in: bytes, fromEnd: true) == "active")
            #expect(MessageScan.integer("missing", in: bytes) == nil)
        }
    }

    /// The stages as a bidder needs them, from what the server really sends (its state message
    /// of a planned auction's public view), with finished turns, MEAT's normalizedAmount and a
    /// title full of quotes and brackets.
    @Test func theScannerReadsTheStagesOfTheServersState() throws {
        var view = try samplePlannedAuction(criteria: .lowestCost, start: Timestamp(milliseconds: 1_732_000_000_000)).publicView(
            serverTime: Timestamp(milliseconds: 5))
        view.title = #"Лот "{1}" [a]: "stages":["#
        view.stages[1].amount = "885.00"
        view.stages[1].normalizedAmount = "0.97"
        view.stages[1].changed = true
        let text = ServerMessage.state(seq: 3, auction: view)
        let stages = Array(text.utf8).withUnsafeBytes { MessageScan.stages(in: $0) }
        #expect(stages?.count == view.stages.count)
        let expected: [MessageScan.Stage] = view.stages.map { stage in
            MessageScan.Stage(
                type: Substring(stage.type.rawValue), start: stage.start, end: stage.end ?? 0, bidder: stage.bidder,
                amount: stage.amount.map { Substring($0) })
        }
        #expect(stages == expected)
        #expect(stages?[1].amount.map(String.init) == "885.00")
        for broken in [
            #"{"auction":{"stages":[{"type":"pause""#, #"{"auction":{"stages":[{"start":1}]}}"#, #"{"auction":{"stages":[{"x":{"y":1}}]}}"#,
            #"{"auction":{}}"#,
        ] {
            #expect(Array(broken.utf8).withUnsafeBytes { MessageScan.stages(in: $0) } == nil, "\(broken)")
        }
    }

    @Test func theSeededScriptRepeats() {
        var a = SeededGenerator(seed: 42)
        var b = SeededGenerator(seed: 42)
        #expect((0..<100).map { _ in a.chance(0.3) } == (0..<100).map { _ in b.chance(0.3) })
        var c = SeededGenerator(seed: 7)
        let share = Double((0..<10_000).filter { _ in c.chance(0.25) }.count) / 10_000
        #expect(abs(share - 0.25) < 0.02)
    }
}
