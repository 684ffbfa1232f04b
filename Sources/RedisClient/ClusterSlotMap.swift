// Which primary serves which slots, read from `CLUSTER SHARDS` (Redis 7).

public struct ClusterSlotMap: Sendable, Equatable {
    /// Slot ranges, sorted by start, each with the address of its shard's primary.
    public private(set) var ranges: [(slots: ClosedRange<Int>, primary: RedisAddress)]

    public init(ranges: [(slots: ClosedRange<Int>, primary: RedisAddress)]) {
        self.ranges = ranges.sorted { $0.slots.lowerBound < $1.slots.lowerBound }
    }

    /// Every primary with slots, each once.
    public var primaries: [RedisAddress] {
        var seen = Set<RedisAddress>()
        return ranges.map(\.primary).filter { seen.insert($0).inserted }
    }

    public func primary(for slot: Int) -> RedisAddress? {
        var low = 0
        var high = ranges.count - 1
        while low <= high {
            let middle = (low + high) / 2
            let range = ranges[middle].slots
            if slot < range.lowerBound {
                high = middle - 1
            } else if slot > range.upperBound {
                low = middle + 1
            } else {
                return ranges[middle].primary
            }
        }
        return nil
    }

    /// After `MOVED`: the one slot now lives at `address` (the rest of the map is read again soon).
    mutating func move(_ slot: Int, to address: RedisAddress) {
        var next: [(slots: ClosedRange<Int>, primary: RedisAddress)] = []
        for range in ranges {
            guard range.slots.contains(slot) else {
                next.append(range)
                continue
            }
            if range.slots.lowerBound < slot { next.append((range.slots.lowerBound...(slot - 1), range.primary)) }
            if slot < range.slots.upperBound { next.append(((slot + 1)...range.slots.upperBound, range.primary)) }
        }
        next.append((slot...slot, address))
        self = ClusterSlotMap(ranges: next)
    }

    /// Reads a `CLUSTER SHARDS` reply (RESP2: each shard and node a flat list of names and
    /// values). A shard's primary is its node with role `master` and health `online`; a shard
    /// without one (mid-failover) is left out, so its slots have no primary until the next read.
    public init(shards reply: RedisReply) throws(RedisError) {
        guard let shards = reply.array else { throw .server("CLUSTER SHARDS: not a list of shards") }
        var ranges: [(slots: ClosedRange<Int>, primary: RedisAddress)] = []
        for shard in shards {
            let fields = Self.fields(shard)
            guard let slots = fields["slots"]?.array?.compactMap(\.integer), slots.count % 2 == 0,
                let nodes = fields["nodes"]?.array
            else { throw .server("CLUSTER SHARDS: a shard without slots or nodes") }
            let primary = nodes.lazy.map(Self.fields).first { node in
                node["role"]?.string == "master" && node["health"]?.string == "online"
            }
            guard let primary, let port = primary["port"]?.integer,
                let host = (primary["ip"] ?? primary["endpoint"])?.string
            else { continue }
            let address = RedisAddress(host: host, port: Int(port))
            for index in stride(from: 0, to: slots.count, by: 2) where slots[index] <= slots[index + 1] {
                ranges.append((Int(slots[index])...Int(slots[index + 1]), address))
            }
        }
        self.init(ranges: ranges)
    }

    private static func fields(_ reply: RedisReply) -> [String: RedisReply] {
        guard let flat = reply.array else { return [:] }
        var map: [String: RedisReply] = [:]
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            if let name = flat[index].string { map[name] = flat[index + 1] }
        }
        return map
    }

    public static func == (a: ClusterSlotMap, b: ClusterSlotMap) -> Bool {
        a.ranges.count == b.ranges.count && zip(a.ranges, b.ranges).allSatisfy { $0.slots == $1.slots && $0.primary == $1.primary }
    }
}
