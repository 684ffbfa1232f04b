// libFuzzer target: bytes from Redis, as a connection reads them (hiredis's parser and the decoding
// into RedisReply), and each reply given to the store's decoders of script answers and stream
// entries, as a Redis that answers something unexpected (a restored dump, a script of another
// version, a proxy) would give them. Each decoder answers with a value or its error: no crash.
import AuctionCore
import Foundation
import RedisClient

@testable import AuctionStore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRedisReply(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let reader = RedisReplyReader()
    reader.feed(UnsafeBufferPointer(start: data, count: size))
    while let reply = try? reader.next() {
        _ = AuctionStore.sequencedEvents(reply, auctionId: "a1")
        _ = try? AuctionStore.verdict(reply, auctionId: "a1")
        _ = try? AuctionStore.appendOutcome(reply, auctionId: "a1")
        if let text = reply.string { _ = BidScriptReply(text) }
        // A pub/sub message: [pmessage, pattern, channel, payload].
        if let parts = reply.array, parts.count == 4, let channel = parts[2].string, let payload = parts[3].string {
            _ = StoredEvent.decode(channel: channel, payload: payload)
        }
    }
    return 0
}
