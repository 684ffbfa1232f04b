// libFuzzer target: an amount as bidders type it. A parsed amount prints as text that parses back
// to the same kopiyky; nothing crashes or overflows.
import AuctionCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMoney(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let money = try? Money(parsing: text) else { return 0 }
    guard let again = try? Money(parsing: money.description), again == money else {
        fatalError("\(text.debugDescription) parsed as \(money.kopiyky) kopiyky, which does not read back from '\(money.description)'")
    }
    return 0
}
