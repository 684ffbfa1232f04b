// libFuzzer target: the load generator's one-pass glance at a server message, and the stages it
// reads from a state. Any bytes: no crash, no read past the buffer (ASan).
import AuctionProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServerMessageGlance(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let glance = ServerMessageGlance(bytes) { _ = glance.stages(in: bytes) }
    return 0
}
