// Redis Cluster's key space: 16,384 slots, a key's slot the CRC16 (XMODEM) of its hash tag (the
// text between the first `{` and the first `}` after it, when not empty) or else of the whole key
// (https://redis.io/docs/reference/cluster-spec/, "Keys distribution model"). Every key of one
// auction carries the tag `{auctionId}`, so an auction lives on one slot and its scripts run there.

public enum ClusterSlot {
    public static let count = 16_384

    /// The slot of `key`, as `CLUSTER KEYSLOT` answers.
    public static func of(_ key: some Collection<UInt8>) -> Int {
        let bytes = Array(key)
        var hashed = bytes[...]
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
            let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            hashed = bytes[(open + 1)..<close]
        }
        return Int(crc16(hashed)) & (count - 1)
    }

    public static func of(_ key: String) -> Int { of(Array(key.utf8)) }

    static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes { crc = (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte)) & 0xff] }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { n in
        var crc = UInt16(n) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}

/// A cluster's answer that the command belongs elsewhere or later (the error reply's first word).
enum ClusterRedirection: Equatable {
    /// The slot lives on another primary for good: update the map, send it there.
    case moved(slot: Int, address: RedisAddress)
    /// The slot is being migrated and this key is already on the target: send it there once,
    /// after `ASKING`, and keep the map.
    case ask(slot: Int, address: RedisAddress)
    /// A multi-key command during a migration, or the cluster without a primary for the slot for
    /// now (failover): wait a little and send it again.
    case tryAgain
    case clusterDown

    init?(errorReply message: String) {
        let words = message.split(separator: " ")
        switch words.first {
        case "MOVED", "ASK":
            guard words.count >= 3, let slot = Int(words[1]), let address = RedisAddress(String(words[2])) else { return nil }
            self = words[0] == "MOVED" ? .moved(slot: slot, address: address) : .ask(slot: slot, address: address)
        case "TRYAGAIN": self = .tryAgain
        case "CLUSTERDOWN": self = .clusterDown
        default: return nil
        }
    }
}
