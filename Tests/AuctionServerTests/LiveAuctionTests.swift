import AuctionCore
import AuctionServer
import AuctionStore
import AuctionTesting
import Foundation
import Testing

@Suite struct LiveAuctionTests {
    /// An observer and two bidders run a whole accelerated auction over real WebSockets against a
    /// real auctiond and Redis; every message has the protocol's shape. With three web threads the
    /// three connections are served by three threads.
    @Test(arguments: ["1", "3"]) func biddersAndAnObserverRunAWholeAuction(webThreads: String) throws {
        // Turns long enough for a loaded CI machine: a bidder must see its turn and bid within it.
        let fixture = try LiveFixture(
            offset: 3000, firstPause: 500, pause: 500, turn: 1000, environment: ["AUCTIOND_WEB_THREADS": webThreads])
        let observer = try fixture.observer()
        let welcome = try observer.receiveJSON()
        #expect(welcome["type"] as? String == "welcome")
        #expect(welcome["role"] as? String == "observer")
        #expect(welcome["auctionId"] as? String == fixture.auctionId)
        #expect(welcome["bidder"] == nil)
        #expect(welcome["serverTime"] as? Int64 != nil)
        let first = try observer.receiveJSON()
        #expect(first["type"] as? String == "state")
        #expect((first["auction"] as? [String: Any])?["status"] as? String == "scheduled")

        // Bidder 1 starts at 950, bidder 2 at 900; each bids 20 below their own price every turn.
        let accepted = Collected<(bidder: Int, requestId: String?, serverTime: Int64?, amount: String?)>()
        let failures = Collected<String>()
        let threads = (1...2).map { number in
            Thread {
                do {
                    let client = try fixture.bidder(number)
                    let hello = try client.receiveJSON()
                    guard hello["role"] as? String == "bidder", (hello["bidder"] as? [String: Any])?["number"] as? Int == number,
                        (hello["bidder"] as? [String: Any])?["label"] as? String == "Bidder \(number)"
                    else { return failures.append("bad welcome \(hello)") }
                    var own = number == 1 ? 95_000 : 90_000
                    var bidStages: Set<Int> = []
                    while true {
                        let message = try client.receiveJSON()
                        switch message["type"] as? String {
                        case "state":
                            guard let stage = stageOf(message), let auction = message["auction"] as? [String: Any] else { continue }
                            if stage["type"] as? String == "preAnnouncement" { return }
                            let index = auction["currentStage"] as! Int
                            if stage["type"] as? String == "bids", stage["bidder"] as? Int == number, !bidStages.contains(index) {
                                bidStages.insert(index)
                                own -= 2000
                                try client.sendJSON([
                                    "type": "bid", "amount": Money(kopiyky: Int64(own)).formatted, "requestId": "b\(number)-\(index)",
                                ])
                            }
                        case "bidAccepted":
                            accepted.append(
                                (number, message["requestId"] as? String, message["serverTime"] as? Int64, message["amount"] as? String))
                        case "bidRejected", "error":
                            failures.append("bidder \(number): \(message)")
                        default:
                            break
                        }
                    }
                } catch {
                    failures.append("bidder \(number): \(error)")
                }
            }
        }
        threads.forEach { $0.start() }

        var states: [[String: Any]] = [first]
        var raw: [String] = []
        observer.setTimeout(.seconds(10))
        while true {
            let frame = try observer.receive()
            guard case .text(let text) = frame else { break }
            raw.append(text)
            let message = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
            #expect(message["type"] as? String == "state", "observers get states only: \(text)")
            states.append(message)
            if stageOf(message)?["type"] as? String == "preAnnouncement" { break }
        }
        #expect(waitUntil { accepted.all.count == 6 })
        #expect(failures.all.isEmpty, "\(failures.all)")

        // seq only grows; nothing secret ever reached the observer.
        let seqs = states.compactMap { $0["seq"] as? Int }
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
        for text in raw {
            for participant in fixture.planned.participants {
                #expect(!text.contains(participant.bidId))
                #expect(!text.contains(fixture.tokens.token(auctionId: fixture.auctionId, bidId: participant.bidId)))
            }
            #expect(!text.contains("Учасник"))
        }
        for bid in accepted.all {
            #expect(bid.requestId?.hasPrefix("b\(bid.bidder)-") == true)
            #expect(bid.serverTime != nil)
            #expect(bid.amount?.hasSuffix("0.00") == true)
        }
        let final = try #require(states.last?["auction"] as? [String: Any])
        let results = try #require(final["results"] as? [[String: Any]])
        #expect(results.first?["bidder"] as? Int == 2)
        #expect(results.first?["amount"] as? String == "840.00")
        #expect(results.last?["amount"] as? String == "890.00")
        let http = try #require(fixture.daemon.get("/api/v1/auctions/\(fixture.auctionId)"))
        #expect(http.status == 200)
        #expect(http.body.contains("\"840.00\""))
        // The clock queues the report in the pass after the one that ended the last turn: the
        // observer may see the final state first.
        #expect(waitUntil { (try? fixture.store.waitingReports()) == [fixture.auctionId] })
        // Every state broadcast after the one on connect was timed, stamp to the last connection.
        let metrics = try #require(fixture.daemon.get("/metrics"))
        let timed = metrics.body.split(separator: "\n").first { $0.hasPrefix("auctiond_broadcast_seconds_count ") }
        #expect((timed.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0) >= states.count - 1)
    }

    @Test func theAuctionListShowsKnownAuctions() throws {
        let fixture = try LiveFixture(offset: 60_000)
        let list = try #require(fixture.daemon.get("/api/v1/auctions"))
        #expect(list.status == 200)
        let json = try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [String: Any]
        let entries = try #require(json?["data"] as? [[String: Any]])
        #expect(entries.count == 1)
        #expect(entries.first?["id"] as? String == fixture.auctionId)
        #expect(entries.first?["status"] as? String == "scheduled")
        #expect(entries.first?["startDate"] as? Int64 == fixture.planned.stages[0].start.milliseconds)
        #expect(entries.first?["title"] as? String == "Тестова закупівля")
        #expect(fixture.daemon.get("/api/v1/auctions/nope")?.status == 404)
        let metrics = try #require(fixture.daemon.get("/metrics"))
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("auctiond_http_requests_total"))
    }
}
