// The run's fleets: the bidders, and the observers in the profile's `observerThreads` shares,
// each on its own lws client thread. What the run asks of "the clients" is asked of all of them
// here, and their counts are added up.
import Foundation

final class Fleets: Sendable {
    let bidders: Fleet
    let observers: [Fleet]
    var all: [Fleet] { [bidders] + observers }
    let auctionCount: Int
    let connectionCount: Int

    init(profile: Profile, auctions: [PlannedAuction], webSocketPorts: [Int]) throws {
        bidders = try Fleet(.bidders, profile: profile, auctions: auctions, webSocketPorts: webSocketPorts)
        let shares = profile.observerThreads
        observers = try (0..<shares).map {
            try Fleet(.observers(share: $0, of: shares), profile: profile, auctions: auctions, webSocketPorts: webSocketPorts)
        }
        auctionCount = auctions.count
        connectionCount = bidders.connections.count + observers.reduce(0) { $0 + $1.connections.count }
    }

    func start() throws {
        for fleet in all { try fleet.pool.start() }
    }

    func stop() {
        for fleet in all { fleet.pool.stop() }
    }

    /// Opens every connection: all at once, or the profile's `connectRate` a second over both
    /// fleets, each taking its share of the rate.
    func connectAll() {
        let rate = Double(bidders.profile.connectRate)
        for fleet in all {
            fleet.connectAll(rate: rate * Double(fleet.connections.count) / Double(max(connectionCount, 1)))
        }
    }

    /// `value` read on each fleet's thread, added up.
    func sum(_ value: @escaping (Fleet) -> Int) -> Int {
        all.reduce(0) { $0 + onPool($1, value) }
    }

    var welcomed: Int { sum(\.welcomedCount) }
    var done: Int { sum(\.doneCount) }
    var open: Int { sum(\.openCount) }
    var messages: Int { sum(\.tally.totalMessages) }

    func stopping() {
        for fleet in all { onPool(fleet) { $0.stopping = true } }
    }

    func closeAll() {
        for fleet in all { onPool(fleet) { fleet in for id in fleet.connections.indices { fleet.pool.close(id) } } }
    }

    /// The bidders' tracks: they hold the bid ids by number that the reconciliation needs.
    var tracksForReconciliation: [Fleet.AuctionTrack] { onPool(bidders) { $0.auctions } }

    /// This second's client counters from both fleets, and a new second begun on each.
    func takeSecond() -> (second: ClientSecond, connections: Int) {
        var second = ClientSecond()
        var connections = 0
        for fleet in all {
            let (part, open) = onPool(fleet) { fleet in
                defer { fleet.second = ClientSecond() }
                return (fleet.second, fleet.openCount)
            }
            second.add(part)
            connections += open
        }
        return (second, connections)
    }
}
