import ArgumentParser
import AuctionTesting
import Dispatch
import Foundation

@main
struct LoadTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auction-loadtest",
        abstract: "Simulated bidders for auctiond (the full load test arrives with issue 8).",
        subcommands: [Bidders.self])
}

/// Reads the links the service wrote into the tender API and runs one scripted bidder per link:
/// each improves its own price by one minimal step in each of its turns (`make demo`).
struct Bidders: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bid in the auctions of the given tenders, one step per turn.")

    @Option(help: "The tender API base with its version.") var api = "http://127.0.0.1:6543/api/2.5"
    @Option(help: "The service's token at the API (reads the private auction view).") var token = "auction"
    @Option(help: "resource/tenderId, or resource/tenderId/lotId; repeatable.") var auction: [String] = []
    @Option(help: "Seconds to wait for the links to appear.") var linkTimeout = 60

    func run() throws {
        var bidders: [ScriptedBidder] = []
        for spec in auction {
            let parts = spec.split(separator: "/").map(String.init)
            guard parts.count == 2 || parts.count == 3, ["tenders", "auctions"].contains(parts[0]) else {
                throw ValidationError("--auction must be tenders/<id> or auctions/<id>[/<lotId>], got '\(spec)'")
            }
            bidders += try links(resource: parts[0], tenderId: parts[1], lotId: parts.count == 3 ? parts[2] : nil)
        }
        let group = DispatchGroup()
        for bidder in bidders {
            group.enter()
            Thread {
                do { try bidder.run(timeout: .seconds(3600)) } catch { print("bidder in \(bidder.auctionId): \(error)") }
                let amounts = bidder.accepted.map(ScriptedBidder.text).joined(separator: " → ")
                print("\(bidder.auctionId) Bidder \(bidder.number ?? 0): bids \(amounts.isEmpty ? "none" : amounts); \(bidder.finalStatus ?? "?")")
                group.leave()
            }.start()
        }
        group.wait()
    }

    private func links(resource: String, tenderId: String, lotId: String?) throws -> [ScriptedBidder] {
        let deadline = Date().addingTimeInterval(Double(linkTimeout))
        while Date() < deadline {
            if let view = try? privateView(resource, tenderId) {
                let found = try ScriptedBidder.bidders(inAuctionView: view, lotId: lotId)
                if !found.isEmpty { return found }
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        throw ValidationError("no participation links for \(resource)/\(tenderId) after \(linkTimeout) s: is auctiond following the feed?")
    }

    private func privateView(_ resource: String, _ id: String) throws -> [String: Any]? {
        guard let base = URLComponents(string: api), let port = base.port else { throw ValidationError("--api must be http://host:port/api/<version>") }
        let basic = "Basic " + Data("\(token):".utf8).base64EncodedString()
        guard let answer = blockingHTTP("GET", port: port, path: "\(base.path)/\(resource)/\(id)/auction", headers: ["Authorization": basic]) else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["data"] as? [String: Any]
    }
}
