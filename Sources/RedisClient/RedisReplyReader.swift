// hiredis's RESP parser, the one every connection reads with, and the decoding of its replies
// into `RedisReply`. The reader on its own takes bytes from anywhere: the fuzz target feeds it
// (Tests/Fuzz/RedisReplyFuzz.swift).
import CHiredis
import CHiredisShims

extension RedisReply {
    /// A hiredis reply, copied: the caller still frees it.
    init(_ reply: UnsafeMutablePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            self = .bulk(Self.bytes(r.str, r.len))
        case REDIS_REPLY_STATUS:
            self = .status(String(decoding: Self.bytes(r.str, r.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            self = .error(String(decoding: Self.bytes(r.str, r.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            self = .integer(r.integer)
        case REDIS_REPLY_NIL:
            self = .null
        case REDIS_REPLY_ARRAY:
            self = .array((0..<r.elements).map { RedisReply(r.element[$0]!) })
        default:
            self = .error("unknown reply type \(r.type)")
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> [UInt8] {
        guard let pointer, length > 0 else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }
}

/// RESP bytes in, replies out, as a connection reads them. Not thread-safe: one owner.
public final class RedisReplyReader {
    /// An array announcing more elements than this is refused as a protocol error (see shim.h).
    public static let maxElements = Int(cshim_redis_max_elements())

    private let reader: UnsafeMutablePointer<redisReader>

    public init() {
        reader = redisReaderCreate()
        cshim_bound_reader(reader)
    }

    /// The bounded array constructor's refusal reaches hiredis as "out of memory".
    static let tooManyElements = "a reply announced more than \(maxElements) elements (or memory ran out)"

    /// The protocol error of a reader that failed: hiredis's text, or the array limit's.
    static func failure(_ reader: UnsafeMutablePointer<redisReader>) -> String {
        if reader.pointee.err == REDIS_ERR_OOM { return tooManyElements }
        return withUnsafeBytes(of: reader.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    deinit { redisReaderFree(reader) }

    /// Hands bytes to the parser; they may hold part of a reply, or several.
    public func feed(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        base.withMemoryRebound(to: CChar.self, capacity: bytes.count) { _ = redisReaderFeed(reader, $0, bytes.count) }
    }

    /// The next whole reply, nil while more bytes are needed; throws `RedisError.protocolError`
    /// naming `source` on bytes that are not RESP (the reader is then unusable, as a connection
    /// would be).
    public func next(source: String = "reader") throws -> RedisReply? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            throw RedisError.protocolError(address: source, reason: Self.failure(reader))
        }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return RedisReply(raw.assumingMemoryBound(to: redisReply.self))
    }
}
