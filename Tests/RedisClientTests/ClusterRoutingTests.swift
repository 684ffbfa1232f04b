import Testing

@testable import RedisClient

/// The cluster client's pure parts: slots, redirections, the map, which key routes a command.
@Suite struct ClusterRoutingTests {
    @Test func slotsFollowTheHashTagRule() {
        // The cluster specification's own examples and its edge cases.
        #expect(ClusterSlot.crc16(Array("123456789".utf8)) == 0x31C3, "CRC16/XMODEM check value")
        #expect(ClusterSlot.of("{user1000}.following") == ClusterSlot.of("user1000"))
        #expect(ClusterSlot.of("foo{}{bar}") == ClusterSlot.of("foo{}{bar}".utf8), "an empty tag hashes the whole key")
        #expect(ClusterSlot.of("foo{{bar}}zap") == ClusterSlot.of("{bar"), "the tag ends at the first }")
        #expect(ClusterSlot.of("foo{bar}{zap}") == ClusterSlot.of("bar"), "only the first tag counts")
        #expect(ClusterSlot.of("auction:{UA-1}:log") == ClusterSlot.of("auction:{UA-1}:live"), "one auction, one slot")
    }

    @Test func redirectionsAreReadFromTheErrorReply() {
        #expect(
            ClusterRedirection(errorReply: "MOVED 3999 127.0.0.1:6381")
                == .moved(slot: 3999, address: RedisAddress(host: "127.0.0.1", port: 6381)))
        #expect(ClusterRedirection(errorReply: "ASK 3999 [::1]:6381") == .ask(slot: 3999, address: RedisAddress(host: "::1", port: 6381)))
        #expect(ClusterRedirection(errorReply: "TRYAGAIN Multiple keys request during rehashing of slot") == .tryAgain)
        #expect(ClusterRedirection(errorReply: "CLUSTERDOWN The cluster is down") == .clusterDown)
        #expect(ClusterRedirection(errorReply: "MOVED nonsense") == nil)
        #expect(ClusterRedirection(errorReply: "ERR unknown command") == nil)
    }

    @Test func aMovedSlotChangesOnlyThatSlot() {
        let a = RedisAddress(host: "127.0.0.1", port: 7001)
        let b = RedisAddress(host: "127.0.0.1", port: 7002)
        var map = ClusterSlotMap(ranges: [(0...8191, a), (8192...16383, b)])
        map.move(100, to: b)
        #expect(map.primary(for: 99) == a && map.primary(for: 100) == b && map.primary(for: 101) == a)
        #expect(map.primary(for: 8191) == a && map.primary(for: 16383) == b)
        #expect(map.ranges.reduce(0) { $0 + $1.slots.count } == ClusterSlot.count)
        #expect(Set(map.primaries) == [a, b])
    }

    @Test func commandsAreRoutedByTheirFirstKey() {
        func key(_ words: String...) -> String? {
            RedisClusterConnection.routingKey(words.map { Array($0.utf8) }).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(key("GET", "a") == "a")
        #expect(key("evalsha", "abc", "2", "k1", "k2", "arg") == "k1")
        #expect(key("EVALSHA", "abc", "0", "arg") == nil)
        #expect(key("XREAD", "COUNT", "10", "STREAMS", "s1", "s2", "0", "0") == "s1")
        #expect(key("PING") == nil)
        #expect(key("TIME") == nil)
        #expect(key("CLUSTER", "SHARDS") == nil)
    }
}

@Suite struct ClusterURLTests {
    @Test func clusterURLsAreReadAndBadOnesRefused() throws {
        let endpoint = try #require(RedisEndpoint(url: "redis+cluster://app:pw@10.0.0.1:7000,10.0.0.2:7001"))
        #expect(endpoint.cluster == [RedisAddress(host: "10.0.0.1", port: 7000), RedisAddress(host: "10.0.0.2", port: 7001)])
        #expect(endpoint.servers == endpoint.cluster)
        #expect(endpoint.user == "app" && endpoint.password == "pw" && endpoint.database == 0)
        #expect(!endpoint.description.contains("pw"), "\(endpoint.description)")
        #expect(RedisEndpoint(url: "redis+cluster://10.0.0.1:7000/0")?.cluster?.count == 1)
        for bad in ["redis+cluster://", "redis+cluster://10.0.0.1", "redis+cluster://10.0.0.1:7000/1", "redis+cluster://10.0.0.1:7000,x"] {
            #expect(RedisEndpoint(url: bad) == nil, "\(bad)")
        }
    }
}
