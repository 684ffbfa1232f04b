// The bid script's answer, in its one encoding. The script keeps this text under the request id
// in `auction:{id}:requests` and answers a retry with it, so it outlives a deployment: its grammar
// changes only with a migration of the stored answers.
//
//     accepted|{seq}|{at µs}|{amount kopiyky}
//     cancelled|{seq}|{at µs}
//     rejected|{code}|{at µs}         code: a BidRejectionCode (too_low, turn_over, request_id_reused, …)
//     missing                         no such auction
//     outage                          an outage is pending: nothing judged (the bidder sends it again)
import AuctionCore

enum BidScriptReply: Equatable {
    case verdict(BidVerdict)
    case missing
    case outage

    /// nil for a text that is not one of the forms above.
    init?(_ text: String) {
        // Split on the UTF-8 view: the reply is ASCII, and a Character split costs once per bid.
        let parts = text.utf8.split(separator: UInt8(ascii: "|"), omittingEmptySubsequences: false).map { String(Substring($0)) }
        func int(_ i: Int) -> Int64? { i < parts.count ? Int64(parts[i]) : nil }
        switch (parts.first, parts.count) {
        case ("accepted", 4):
            guard let seq = int(1), let at = int(2), let kopiyky = int(3) else { return nil }
            self = .verdict(.accepted(seq: seq, amount: Money(kopiyky: kopiyky), at: Timestamp(microseconds: at)))
        case ("cancelled", 3):
            guard let seq = int(1), let at = int(2) else { return nil }
            self = .verdict(.cancelled(seq: seq, at: Timestamp(microseconds: at)))
        case ("rejected", 3):
            guard let code = BidRejectionCode(rawValue: parts[1]), let at = int(2) else { return nil }
            self = .verdict(.rejected(code, at: Timestamp(microseconds: at)))
        case ("missing", 1): self = .missing
        case ("outage", 1): self = .outage
        default: return nil
        }
    }
}
