// libFuzzer target: a WebSocket client message, as the server reads it. Whatever the bytes, the
// fast path and the JSONDecoder path must agree, and nothing may crash.
import AuctionProtocol
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClientMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let fast = ClientMessage.read(text)
    let slow = ClientMessage.readWithDecoder(text)
    switch (fast, slow) {
    case (.success(let a), .success(let b)):
        if a != b { fatalError("fast and decoder paths differ on \(text.debugDescription): \(a) / \(b)") }
        // What is read writes back and reads as itself.
        if case .success(let again) = ClientMessage.read(a.text), again != a { fatalError("\(a) does not read back") }
    case (.failure, .failure):
        break
    default:
        fatalError("fast and decoder paths disagree on \(text.debugDescription): \(fast) / \(slow)")
    }
    return 0
}
