// The fast side of the wire: JSON read and written without Foundation's coders, for the messages
// that go by the thousand (a bid, its answer, a state to 10,000 observers, an event on every
// process's feed), where those coders were most of auctiond's CPU (docs/PERFORMANCE.md, "Why the
// code is shaped so"). The Codable types of this module are the reference: tests hold both paths
// to the same answers.

/// Reads JSON values where they lie, without building a tree: an object's members by key, in any
/// order; nested objects and arrays are read only when asked for.
public struct JSONScanner {
    /// One value, unread beyond what its kind needs.
    public enum Value: Equatable {
        case string(String)
        /// A number's text as written (`12`, `-0.5e3`).
        case number(Substring)
        case bool(Bool)
        case null
        /// An object or array: where it lies in the scanned bytes.
        case object(Range<Int>)
        case array(Range<Int>)

        public var string: String? {
            if case .string(let text) = self { return text }
            return nil
        }

        public var int64: Int64? {
            if case .number(let text) = self { return Int64(text) }
            return nil
        }

        public var double: Double? {
            if case .number(let text) = self { return Double(text) }
            return nil
        }
    }

    let bytes: UnsafeRawBufferPointer
    private var index: Int

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        index = 0
    }

    /// The members of the object that is the whole text (or lies at `range`); nil if it is not an
    /// object, is not well-formed, or repeats a key (JSONDecoder then decides).
    public func object(at range: Range<Int>? = nil) -> [String: Value]? {
        var reader = self
        reader.index = range?.lowerBound ?? 0
        let end = range?.upperBound ?? bytes.count
        guard let members = reader.readObject(), reader.skipSpace(until: end) == end else { return nil }
        return members
    }

    /// The elements of the array at `range`.
    public func array(at range: Range<Int>) -> [Value]? {
        var reader = self
        reader.index = range.lowerBound
        guard reader.take(UInt8(ascii: "[")) else { return nil }
        var elements: [Value] = []
        reader.skipSpace()
        if reader.take(UInt8(ascii: "]")) { return elements }
        while true {
            guard let value = reader.readValue() else { return nil }
            elements.append(value)
            reader.skipSpace()
            if reader.take(UInt8(ascii: ",")) { continue }
            return reader.take(UInt8(ascii: "]")) ? elements : nil
        }
    }

    /// `{"key": "value", …}` with string values only and distinct keys, or nil: the shape of the
    /// bids bidders send and of the events the scripts publish.
    public static func flatStrings(_ text: String) -> [String: String]? {
        var text = text
        return text.withUTF8 { utf8 in
            guard let members = JSONScanner(UnsafeRawBufferPointer(utf8)).object() else { return nil }
            var strings: [String: String] = [:]
            strings.reserveCapacity(members.count)
            for (key, value) in members {
                guard case .string(let text) = value else { return nil }
                strings[key] = text
            }
            return strings
        }
    }

    /// Calls `visit` with each member of the object at `range` (or the whole text): its depth (0
    /// for the object's own members), its key, and where its value lies, unread. A member whose
    /// value is an object and whose key `entering` accepts has its own members visited first, at
    /// depth + 1, in the same pass. Returns false if the text is not well-formed (the members
    /// visited so far were visited). For a client that wants a few members of a large message.
    @discardableResult
    public func forEachMember(
        at range: Range<Int>? = nil, entering: (_ key: UnsafeRawBufferPointer) -> Bool = { _ in false },
        _ visit: (_ depth: Int, _ key: UnsafeRawBufferPointer, _ value: Range<Int>) -> Void
    ) -> Bool {
        var reader = self
        reader.index = range?.lowerBound ?? 0
        return reader.walkObject(depth: 0, entering: entering, visit)
    }

    private mutating func walkObject(
        depth: Int, entering: (UnsafeRawBufferPointer) -> Bool, _ visit: (Int, UnsafeRawBufferPointer, Range<Int>) -> Void
    ) -> Bool {
        skipSpace()
        guard take(UInt8(ascii: "{")) else { return false }
        skipSpace()
        if take(UInt8(ascii: "}")) { return true }
        while true {
            skipSpace()
            // Keys the server writes have no escapes: a key with one is compared as written.
            guard take(UInt8(ascii: "\"")) else { return false }
            let keyStart = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard index < bytes.count else { return false }
            let key = UnsafeRawBufferPointer(rebasing: bytes[keyStart..<index])
            index += 1
            skipSpace()
            guard take(UInt8(ascii: ":")) else { return false }
            skipSpace()
            let valueStart = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "{"), entering(key) {
                guard walkObject(depth: depth + 1, entering: entering, visit) else { return false }
            } else {
                guard skipValue() else { return false }
            }
            visit(depth, key, valueStart..<index)
            skipSpace()
            if take(UInt8(ascii: ",")) { continue }
            return take(UInt8(ascii: "}"))
        }
    }

    /// The value that lies at `range` (as `forEachMember` gives it).
    public func value(at range: Range<Int>) -> Value? {
        var reader = self
        reader.index = range.lowerBound
        return reader.readValue()
    }

    /// A whole number that lies at `range`, read without making a string.
    public func integer(at range: Range<Int>) -> Int64? {
        var index = range.lowerBound
        var negative = false
        if index < range.upperBound, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < range.upperBound else { return nil }
        var value: Int64 = 0
        while index < range.upperBound {
            let byte = bytes[index]
            guard byte >= 48, byte <= 57 else { return nil }
            value = value &* 10 &+ Int64(byte - 48)
            index += 1
        }
        return negative ? -value : value
    }

    // MARK: - Reading

    private mutating func skipValue() -> Bool {
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "\""): return skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["): return skipNested()
        case UInt8(ascii: "t"): return word("true")
        case UInt8(ascii: "f"): return word("false")
        case UInt8(ascii: "n"): return word("null")
        default:
            let start = index
            while index < bytes.count, Self.isNumberByte(bytes[index]) { index += 1 }
            return index > start
        }
    }

    private mutating func readObject() -> [String: Value]? {
        skipSpace()
        guard take(UInt8(ascii: "{")) else { return nil }
        var members: [String: Value] = [:]
        skipSpace()
        if take(UInt8(ascii: "}")) { return members }
        while true {
            skipSpace()
            guard let key = readString() else { return nil }
            skipSpace()
            guard take(UInt8(ascii: ":")), let value = readValue(), members.updateValue(value, forKey: key) == nil else { return nil }
            skipSpace()
            if take(UInt8(ascii: ",")) { continue }
            return take(UInt8(ascii: "}")) ? members : nil
        }
    }

    private mutating func readValue() -> Value? {
        skipSpace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return readString().map(Value.string)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let start = index
            guard skipNested() else { return nil }
            return bytes[start] == UInt8(ascii: "{") ? .object(start..<index) : .array(start..<index)
        case UInt8(ascii: "t"):
            return word("true") ? .bool(true) : nil
        case UInt8(ascii: "f"):
            return word("false") ? .bool(false) : nil
        case UInt8(ascii: "n"):
            return word("null") ? .null : nil
        default:
            let start = index
            while index < bytes.count, Self.isNumberByte(bytes[index]) { index += 1 }
            guard index > start else { return nil }
            let text = Substring(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            return Double(text) == nil ? nil : .number(text)
        }
    }

    /// Past an object or array, strings inside it included, without reading it: the bulk of a
    /// state a glance does not need, so a tight loop over raw bytes.
    private mutating func skipNested() -> Bool {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        let end = bytes.count
        var i = index
        var depth = 0
        var inString = false
        while i < end {
            let byte = base[i]
            i += 1
            // Only `"`, `\\`, and the brackets matter; `| 0x20` folds `[` and `]` onto `{` and `}`.
            let folded = byte | 0x20
            guard byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || folded == UInt8(ascii: "{") || folded == UInt8(ascii: "}")
            else { continue }
            if inString {
                if byte == UInt8(ascii: "\\") {
                    i += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    index = i
                    return true
                }
            default: break
            }
        }
        return false
    }

    private mutating func skipString() -> Bool {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        var i = index + 1
        while i < bytes.count {
            let byte = base[i]
            if byte == UInt8(ascii: "\"") {
                index = i + 1
                return true
            }
            i += byte == UInt8(ascii: "\\") ? 2 : 1
        }
        return false
    }

    private mutating func readString() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 {
            index += 1
        }
        guard index < bytes.count, bytes[index] >= 0x20 else { return nil }
        if bytes[index] == UInt8(ascii: "\"") {
            defer { index += 1 }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        }
        var text = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return String(decoding: text, as: UTF8.self) }
            guard byte >= 0x20 else { return nil }
            guard byte == UInt8(ascii: "\\") else {
                text.append(byte)
                continue
            }
            guard index < bytes.count else { return nil }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escape)
            case UInt8(ascii: "b"): text.append(0x08)
            case UInt8(ascii: "f"): text.append(0x0C)
            case UInt8(ascii: "n"): text.append(0x0A)
            case UInt8(ascii: "r"): text.append(0x0D)
            case UInt8(ascii: "t"): text.append(0x09)
            case UInt8(ascii: "u"):
                guard let scalar = unicodeEscape() else { return nil }
                UTF8.encode(scalar) { text.append($0) }
            default: return nil
            }
        }
        return nil
    }

    /// After `\u`: four hex digits, or a surrogate pair written as two escapes.
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        guard let unit = hex4() else { return nil }
        if (0xD800..<0xDC00).contains(unit) {
            guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let low = hex4(), (0xDC00..<0xE000).contains(low) else {
                return nil
            }
            return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
        }
        return Unicode.Scalar(unit)  // nil for a lone low surrogate
    }

    private mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Self.hexDigit(bytes[index]) else { return nil }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private static func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
    }

    private mutating func word(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { return false }
        index += count
        return true
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func skipSpace() {
        while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
    }

    /// Skips white space up to `end`; returns where it stopped.
    private mutating func skipSpace(until end: Int) -> Int {
        while index < end, Self.isSpace(bytes[index]) { index += 1 }
        return index
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
}

/// Writes one JSON object with its keys in the order given: callers give them in byte order, so a
/// message is the same bytes every time and equal to the Codable path's sorted output (tested).
struct JSONObjectWriter {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
    #if DEBUG
        private var lastKey: String?
    #endif

    init() { bytes.reserveCapacity(160) }

    var text: String { String(decoding: utf8, as: UTF8.self) }

    /// The object's UTF-8, closed.
    var utf8: [UInt8] {
        var closed = bytes
        closed.append(UInt8(ascii: "}"))
        return closed
    }

    private mutating func key(_ key: String) {
        #if DEBUG
            if let lastKey { assert(lastKey.utf8.lexicographicallyPrecedes(key.utf8), "keys in byte order: \(lastKey) before \(key)") }
            lastKey = key
        #endif
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        Self.writeString(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ name: String, _ value: String?) {
        key(name)
        if let value { Self.writeString(value, to: &bytes) } else { bytes += "null".utf8 }
    }

    mutating func integer(_ name: String, _ value: Int64) {
        key(name)
        bytes += String(value).utf8
    }

    mutating func raw(_ name: String, _ json: String) {
        key(name)
        bytes += json.utf8
    }

    mutating func null(_ name: String) {
        key(name)
        bytes += "null".utf8
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A JSON string: quotes, backslashes and control characters escaped (RFC 8259 §7), the rest
    /// as UTF-8, slashes as they are (as JSONEncoder's `.withoutEscapingSlashes`).
    static func writeString(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes += [UInt8(ascii: "\\"), byte]
            case UInt8(ascii: "\n"): bytes += "\\n".utf8
            case UInt8(ascii: "\r"): bytes += "\\r".utf8
            case UInt8(ascii: "\t"): bytes += "\\t".utf8
            case 0x08: bytes += "\\b".utf8
            case 0x0C: bytes += "\\f".utf8
            case 0..<0x20:
                bytes += "\\u00".utf8
                bytes += [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
