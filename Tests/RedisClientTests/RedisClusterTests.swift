import AuctionTesting
import Foundation
import Testing

@testable import RedisClient

/// The cluster client against a real local cluster (3 primaries, 3 replicas, `redis-cli --cluster
/// create`): slots as the cluster computes them, every command at its primary, MOVED, ASK,
/// scripts on every node, and a primary killed and replaced by its replica.
@Suite(.serialized) struct RedisClusterTests {
    static let cluster = Result { try RedisCluster() }

    func client(seed: Int = 0) throws -> RedisClusterConnection {
        let cluster = try Self.cluster.get()
        return try RedisClusterConnection(seeds: [cluster.nodes[seed].endpoint])
    }

    @Test func slotsAreTheClustersOwn() throws {
        let cluster = try Self.cluster.get()
        let node = try cluster.nodes[0].connect()
        var keys = ["", "{}", "{", "}", "a{}b", "{{a}}", "a{b}c{d}", "auction:{UA-2026-12-07-000001-a}:log", "ключ{тег}"]
        keys += (0..<500).map { _ in String((0..<Int.random(in: 1...24)).map { _ in "ab{}cd:-_01Я".randomElement()! }) }
        for key in keys {
            #expect(ClusterSlot.of(key) == Int(try node.execute("CLUSTER", "KEYSLOT", key).integer ?? -1), "\(key)")
        }
    }

    @Test func everyCommandReachesItsPrimaryFromOneSeed() throws {
        // The seed is a replica: the map still leads every command to the primary.
        let cluster = try Self.cluster.get()
        let replica = try #require(cluster.nodes.firstIndex { (try? $0.connect().execute("ROLE").array?.first?.string) == "slave" })
        let client = try client(seed: replica)
        #expect(client.map.primaries.count == 3)
        let keys = (0..<300).map { "routing:{\($0)}" }
        let writes = try client.exchange(keys.map { ["SET", $0, "v-\($0)"].map { Array($0.utf8) } })
        #expect(writes.allSatisfy { $0 == .status("OK") })
        let reads = try client.exchange(keys.map { ["GET", $0].map { Array($0.utf8) } })
        #expect(reads.map(\.string) == keys.map { "v-\($0)" }, "replies in the commands' order, across the primaries")
        #expect(Set(keys.map { client.map.primary(for: ClusterSlot.of($0)) }).count == 3, "the keys spread over the three primaries")
    }

    @Test func askIsFollowedOnceAndMovedCorrectsTheMap() throws {
        let cluster = try Self.cluster.get()
        let client = try client()
        let key = "migrating:{\(UUID().uuidString)}"
        let slot = ClusterSlot.of(key)
        try client.execute("SET", key, "here")
        let sourceAddress = try #require(client.map.primary(for: slot))
        let targetAddress = try #require(client.map.primaries.first { $0 != sourceAddress })
        let source = try #require(cluster.node(at: sourceAddress))
        let target = try #require(cluster.node(at: targetAddress))
        let (sourceId, targetId) = (try cluster.id(of: source), try cluster.id(of: target))
        // Migrate the slot by hand, as `redis-cli --cluster reshard` does: the key moves first.
        try target.connect().execute("CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceId)
        try source.connect().execute("CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetId)
        try source.connect().execute("MIGRATE", "127.0.0.1", String(target.port), key, "0", "5000")
        #expect(try client.execute("GET", key).string == "here", "ASK: read at the importing node")
        #expect(client.map.primary(for: slot) == sourceAddress, "ASK leaves the map as it was")
        for node in cluster.nodes where node.pid != nil {
            _ = try? node.connect().execute("CLUSTER", "SETSLOT", String(slot), "NODE", targetId)
        }
        #expect(try client.execute("GET", key).string == "here", "MOVED: sent on to the new owner")
        #expect(client.map.primary(for: slot) == targetAddress, "MOVED corrects the map")
    }

    @Test func scriptsRunOnEveryPrimaryAndAreLoadedAgainWhereLost() throws {
        let cluster = try Self.cluster.get()
        let client = try client()
        let hash = try #require(try client.execute("SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])").string)
        let keys = (0..<30).map { "script:{\($0)}" }
        func run() throws -> [RedisReply] { try client.exchange(keys.map { ["EVALSHA", hash, "1", $0].map { Array($0.utf8) } }) }
        #expect(try run().allSatisfy { $0.integer == 1 })
        for node in cluster.nodes where node.pid != nil { _ = try? node.connect().execute("SCRIPT", "FLUSH") }
        #expect(try run().allSatisfy { $0.integer == 2 }, "NOSCRIPT: loaded on the node and sent again")
    }

    @Test func waitCountsTheReplicasOfEachCommandsOwnPrimary() throws {
        let cluster = try Self.cluster.get()
        let client = try client()
        let keys = (0..<30).map { "wait:{\($0)}" }
        let commands = keys.map { ["SET", $0, "v"].map { Array($0.utf8) } }
        let healthy = try client.exchange(commands, waitingForReplicas: 1, timeout: .milliseconds(500))
        #expect(healthy.allSatisfy { $0.reply == .status("OK") && $0.replicated == 1 }, "\(healthy.map(\.replicated))")
        // One primary's replica stops reading (SIGSTOP): only that shard's writes go unacknowledged.
        let stalled = try #require(client.map.primary(for: ClusterSlot.of(keys[0])))
        let replica = try #require(
            cluster.nodes.first { node in
                guard let role = try? node.connect().execute("ROLE").array, role.count > 2 else { return false }
                return role[0].string == "slave" && role[2].integer == Int64(stalled.port)
            })
        let pid = try #require(replica.pid)
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        let answers = try client.exchange(commands, waitingForReplicas: 1, timeout: .milliseconds(300))
        for (key, answer) in zip(keys, answers) {
            let onStalled = client.map.primary(for: ClusterSlot.of(key)) == stalled
            #expect(answer.reply == .status("OK"))
            #expect(answer.replicated == (onStalled ? 0 : 1), "\(key) on \(onStalled ? "the stalled shard" : "a healthy one")")
        }
    }

    /// Last: it kills a primary. Its replica takes over after the node time-out; meanwhile the
    /// client's calls fail (the caller retries, as the store does), then reach the new primary.
    /// One primary that answers nobody (CLIENT PAUSE … ALL) fails its own commands only: the
    /// others' are sent before any reply is read, so they run whatever that primary does.
    @Test func aPrimaryThatDoesNotAnswerFailsOnlyItsOwnShare() throws {
        let cluster = try Self.cluster.get()
        let client = try RedisClusterConnection(seeds: [cluster.nodes[0].endpoint], timeout: .milliseconds(300))
        let run = UUID().uuidString
        let keys = (0..<60).map { "apart:{\($0)}:\(run)" }
        let paused = try #require(client.map.primary(for: ClusterSlot.of(keys[0])))
        try #require(cluster.node(at: paused)).connect().execute("CLIENT", "PAUSE", "1500", "ALL")
        let results = client.exchangeEachServerApart(keys.map { ["SET", $0, "set"].map { Array($0.utf8) } })
        var failed = 0
        for (key, result) in zip(keys, results) {
            if client.map.primary(for: ClusterSlot.of(key)) == paused {
                if case .failure = result { failed += 1 } else { Issue.record("\(key) on the paused primary answered \(result)") }
            } else {
                #expect((try? result.get()) == .status("OK"), "\(key)")
            }
        }
        #expect(failed > 0)
        // A script loaded meanwhile reaches the paused primary when it asks for it (NOSCRIPT).
        let script = "return '\(run)'"
        let hash = try client.loadScript(script)
        Thread.sleep(forTimeInterval: 1.6)
        let again = client.exchangeEachServerApart(keys.map { ["SET", $0, "again"].map { Array($0.utf8) } })
        #expect(again.allSatisfy { (try? $0.get()) == .status("OK") }, "the primary is back")
        #expect(try client.execute("EVALSHA", hash, "1", keys[0]).string == run)
    }

    @Test func aKilledPrimaryIsReplacedByItsReplicaAndTheClientFollows() throws {
        let cluster = try Self.cluster.get()
        let client = try client()
        let key = "failover:{\(UUID().uuidString)}"
        let oldPrimary = try #require(client.map.primary(for: ClusterSlot.of(key)))
        let victim = try #require(cluster.node(at: oldPrimary))
        // Written and acknowledged by the replica before the kill (WAIT counts the writes of its
        // own connection), so the promoted replica has it.
        let direct = try victim.connect()
        try direct.execute("SET", key, "kept")
        #expect(try direct.execute("WAIT", "1", "1000").integer == 1)
        victim.kill9()
        var value: String?
        let deadline = ContinuousClock.now + .seconds(20)
        var failures = 0
        while value == nil, ContinuousClock.now < deadline {
            do { value = try client.execute("GET", key).string } catch {
                failures += 1
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        #expect(value == "kept")
        #expect(failures > 0, "the first calls met the dead primary")
        let newPrimary = try #require(client.map.primary(for: ClusterSlot.of(key)))
        #expect(newPrimary != oldPrimary)
    }
}
