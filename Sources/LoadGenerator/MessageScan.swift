// Reading the few fields the load test needs from a server message without building a JSON tree:
// 10,000 observers receive every state, and the generator shares the machine with the service.
// The server writes keys sorted and compact (LiveMessages.swift), and a key in quotes followed by
// a colon cannot occur inside a JSON string (its quotes would be escaped).
import Foundation

enum MessageScan {
    /// The value of the message's own `"type":"…"`: the last one, since keys are sorted and a
    /// state's stages carry types of their own.
    static func type(_ message: UnsafeRawBufferPointer) -> Substring? {
        string(after: "\"type\":\"", in: message, fromEnd: true)
    }

    /// The integer after `"key":`, searching from the start (or from the end for `seq`, which
    /// follows the auction object in a state message).
    static func integer(_ key: String, in message: UnsafeRawBufferPointer, fromEnd: Bool = false) -> Int64? {
        guard let start = find("\"\(key)\":", in: message, fromEnd: fromEnd) else { return nil }
        var index = start
        var negative = false
        if index < message.count, message[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var value: Int64 = 0
        var digits = 0
        while index < message.count, (48...57).contains(message[index]) {
            value = value * 10 + Int64(message[index] - 48)
            index += 1
            digits += 1
        }
        guard digits > 0 else { return nil }
        return negative ? -value : value
    }

    static func string(after prefix: String, in message: UnsafeRawBufferPointer, fromEnd: Bool = false) -> Substring? {
        guard let start = find(prefix, in: message, fromEnd: fromEnd) else { return nil }
        var end = start
        while end < message.count, message[end] != UInt8(ascii: "\"") { end += 1 }
        return Substring(String(decoding: UnsafeRawBufferPointer(rebasing: message[start..<end]), as: UTF8.self))
    }

    /// One element of a state's `stages`, the fields a bidder plays by.
    struct Stage: Equatable {
        var type: Substring
        var start: Int64
        var end: Int64
        var bidder: Int?
        var amount: Substring?
    }

    /// The auction's `stages`, read without a JSON tree (a bidder needs them in every state, and
    /// JSONSerialization of a 3.5 KB state took the generator's thread for about a millisecond).
    /// Stages are flat objects; nil if the array is not where the server puts it.
    static func stages(in message: UnsafeRawBufferPointer) -> [Stage]? {
        guard var index = find("\"stages\":[", in: message, fromEnd: false) else { return nil }
        var stages: [Stage] = []
        while index < message.count {
            switch message[index] {
            case UInt8(ascii: "]"):
                return stages
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "{"):
                guard let close = objectEnd(in: message, from: index) else { return nil }
                let object = UnsafeRawBufferPointer(rebasing: message[index...close])
                guard let type = string(after: "\"type\":\"", in: object) else { return nil }
                stages.append(
                    Stage(
                        type: type, start: integer("start", in: object) ?? 0, end: integer("end", in: object) ?? 0,
                        bidder: integer("bidder", in: object).map(Int.init), amount: string(after: "\"amount\":\"", in: object)))
                index = close + 1
            default:
                return nil
            }
        }
        return nil
    }

    /// The index of the `}` that closes the flat object opening at `start`, skipping strings.
    private static func objectEnd(in message: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start + 1
        var inString = false
        while index < message.count {
            let byte = message[index]
            if inString {
                if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "}") {
                return index
            } else if byte == UInt8(ascii: "{") {
                return nil  // not flat
            }
            index += 1
        }
        return nil
    }

    /// The index just past the first (or last) occurrence of `needle`.
    static func find(_ needle: String, in message: UnsafeRawBufferPointer, fromEnd: Bool) -> Int? {
        let pattern = Array(needle.utf8)
        guard message.count >= pattern.count, let base = message.baseAddress else { return nil }
        if !fromEnd {
            var position = 0
            while position <= message.count - pattern.count {
                if message[position] == pattern[0], memcmp(base + position, pattern, pattern.count) == 0 { return position + pattern.count }
                position += 1
            }
            return nil
        }
        var position = message.count - pattern.count
        while position >= 0 {
            if message[position] == pattern[0], memcmp(base + position, pattern, pattern.count) == 0 { return position + pattern.count }
            position -= 1
        }
        return nil
    }
}
