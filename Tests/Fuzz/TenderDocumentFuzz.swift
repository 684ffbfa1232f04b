// libFuzzer target: a tender's private auction view as the API might send it. Decoding and
// planning either succeed or fail with an error; nothing crashes.
import AuctionCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTenderDocument(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Data(bytes: data, count: size)
    guard let envelope = try? JSONDecoder().decode(APIEnvelope<TenderDocument>.self, from: body) else { return 0 }
    let view = envelope.data
    for lot in [nil] + AuctionInput.auctionLots(of: view).map(Optional.some) {
        _ = try? AuctionInput(auctionView: view, lotId: lot)
    }
    return 0
}
