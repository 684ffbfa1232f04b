import AuctionCore
import AuctionRuntime
import AuctionTesting
import CryptoPrimitives
import Foundation
import RedisClient
import Testing

@testable import AuctionStore

/// The auction's record (docs/AUDIT.md): every event linked by SHA-256 to the record before it,
/// from the plan on, in the script that records it; a replay with AuctionCore alone; the audit
/// document that carries the record; and an edit anywhere named.
@Suite struct RecordTests {
    /// Runs a whole auction on a clock, a bid in every turn but the second.
    func finishedAuction() throws -> StoreFixture {
        let fixture = try StoreFixture()
        _ = try fixture.plan(offset: 50, firstPause: 100, pause: 100, turn: 250)
        let clock = fixture.clock(owner: "only")
        clock.start()
        defer { clock.stop() }
        var bidIn: Set<Int> = []
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let state = try fixture.store.load("tender-1").state
            if state.status == .active, state.resultsAreFinal { break }
            let index = state.currentStage
            if index >= 0, index != 3, state.stages[index].kind == .bids, let bidder = state.stages[index].bidder,
                bidIn.insert(index).inserted
            {
                _ = try fixture.store.placeBid(
                    auctionId: "tender-1", bidder: bidder, request: .place(state.bestValidAmount(of: bidder)), requestId: "turn-\(index)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return fixture
    }

    @Test func everyEventIsLinkedToTheRecordBeforeItFromThePlan() throws {
        let fixture = try finishedAuction()
        let record = try fixture.store.record(of: "tender-1")
        #expect(record.entries.count > 9)
        #expect(record.entries.first?.value("prev") == SHA256.hex(record.plan))
        #expect(record.entries.allSatisfy { $0.fields.last?.name == "prev" })
        let head = try record.verifyChain().get()
        #expect(head == record.head)

        let replay = try Replay(record)
        #expect(replay.state == (try fixture.store.load("tender-1").state))
        #expect(replay.turns.count == 9, "3 rounds × 3 bidders")
        #expect(
            replay.turns.map(\.changed).filter { $0 }.count >= 7, "a bid in each turn but one (one may miss its turn on a slow machine)")
        #expect(replay.turns.first { $0.changed }?.at != nil)
    }

    @Test func theScriptsSHA256IsOpenSSLs() throws {
        let redis = try RedisServer()
        let connection = try redis.connect()
        let texts =
            [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 1000].map { String(repeating: "a", count: $0) } + ["Аукціон № 7 — ціна 1 000,00 ₴"]
        for text in texts {
            let lua = Scripts.chain + "\nreturn sha256(ARGV[1])"
            #expect(try connection.execute("EVAL", lua, "0", text).string == SHA256.hex(Array(text.utf8)), "length \(text.utf8.count)")
        }
    }

    /// Rewrites the auction's Stream with `edit` applied to its entries, as someone with access
    /// to Redis could.
    func rewrite(_ fixture: StoreFixture, _ edit: (inout [AuctionRecord.Entry]) -> Void) throws {
        var entries = try fixture.store.record(of: "tender-1").entries
        edit(&entries)
        let redis = try fixture.redis.connect()
        let log = AuctionKeys("tender-1").log
        try redis.execute("DEL", log)
        for entry in entries {
            try redis.execute(["XADD", log, "0-\(entry.seq)"] + entry.fields.flatMap { [$0.name, $0.value] })
        }
    }

    @Test func anEventEditedInRedisIsNamedByTheReplay() throws {
        let fixture = try finishedAuction()
        let bid = try #require(try fixture.store.record(of: "tender-1").entries.first { $0.type == "bidAccepted" })
        try rewrite(fixture) { entries in
            let index = entries.firstIndex { $0.seq == bid.seq }!
            let amount = entries[index].fields.firstIndex { $0.name == "amount" }!
            entries[index].fields[amount].value = String(Int64(entries[index].fields[amount].value)! - 100_000)
        }
        #expect(throws: ReplayError.self) { try Replay(try fixture.store.record(of: "tender-1")) }
        let record = try fixture.store.record(of: "tender-1")
        do throws(ReplayError) {
            _ = try Replay(record)
        } catch {
            guard case .chain(.link(let seq, let before, _, _)) = error else {
                Issue.record("not a broken link: \(error)")
                return
            }
            #expect(seq == bid.seq + 1)
            #expect(before == "bidAccepted")
            #expect(error.description.contains("event \(bid.seq) (bidAccepted) does not match the hash event \(bid.seq + 1) recorded"))
        }
    }

    @Test func theLastEventEditedOrAnEventRemovedIsNamedToo() throws {
        let fixture = try finishedAuction()
        let last = try #require(try fixture.store.record(of: "tender-1").entries.last)
        try rewrite(fixture) { entries in
            let at = entries[entries.count - 1].fields.firstIndex { $0.name == "at" }!
            entries[entries.count - 1].fields[at].value = "1"
        }
        #expect(throws: ReplayError.self) { try Replay(try fixture.store.record(of: "tender-1")) }
        let record = try fixture.store.record(of: "tender-1")
        guard case .failure(.head(let seq, _, _, _)) = record.verifyChain() else {
            Issue.record("the edited last event is not named: \(record.verifyChain())")
            return
        }
        #expect(seq == last.seq)

        try rewrite(fixture) { entries in entries.remove(at: 4) }
        guard case .failure(.gap(4, 6)) = try fixture.store.record(of: "tender-1").verifyChain() else {
            Issue.record("the removed event is not named")
            return
        }
    }

    /// The audit outbox: a document that covers less than the log leaves the auction queued (an
    /// event came while it was sent); one that covers the whole log takes it out, its id kept.
    @Test func anAuditDocumentLeavesTheOutboxOnlyWhenItCoversTheLog() throws {
        let fixture = try finishedAuction()
        let last = try #require(try fixture.store.record(of: "tender-1").entries.last?.seq)
        try fixture.store.queueAudit("tender-1")
        try fixture.store.auditAttached("tender-1", documentId: "doc-1", coveringSeq: last - 1)
        #expect(try fixture.store.waitingAudits() == ["tender-1"])
        try fixture.store.auditAttached("tender-1", documentId: "doc-1", coveringSeq: last)
        #expect(try fixture.store.waitingAudits().isEmpty)
        #expect(try fixture.store.auditDocumentId(of: "tender-1") == "doc-1")
    }

    @Test func theAuditDocumentVerifiesOnItsOwnAndNamesAnyEdit() throws {
        let fixture = try finishedAuction()
        let replay = try Replay(try fixture.store.record(of: "tender-1"))
        let yaml = try replay.document(serviceVersion: "test").yaml()
        let document = try AuditDocument(yaml: yaml)
        #expect(document == replay.document(serviceVersion: "test"))
        #expect(try document.verify().head == replay.head)

        var edited = document
        edited.turns[0].amount = "1.00"
        #expect(throws: ReplayError.document("turn 1 says \(edited.turns[0]), the record gives \(document.turns[0])")) {
            try edited.verify()
        }
        var forged = document
        let middle = forged.record.events.count / 2
        let atIndex = forged.record.events[middle].firstIndex(of: "at")! + 1
        forged.record.events[middle][atIndex] = "2"
        #expect {
            try forged.verify()
        } throws: { error in
            guard case ReplayError.chain = error else { return false }
            return true
        }
    }
}
