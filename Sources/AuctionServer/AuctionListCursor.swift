/// Where a page of `GET /api/v1/auctions` ended: the start (ms) and id of its last auction, as
/// `{start}~{id}`. The list's order is (start, id), so the next page is what sorts after it.
struct AuctionListCursor: Equatable {
    let start: Int64
    let id: String

    init(start: Int64, id: String) {
        self.start = start
        self.id = id
    }

    init?(_ text: String) {
        guard let tilde = text.firstIndex(of: "~"), let start = Int64(text[..<tilde]) else { return nil }
        let id = String(text[text.index(after: tilde)...])
        guard Route.isId(id) else { return nil }
        self.init(start: start, id: id)
    }

    var text: String { "\(start)~\(id)" }

    func isBefore(_ other: AuctionListCursor) -> Bool { (start, id) < (other.start, other.id) }
    func isAfter(_ other: AuctionListCursor) -> Bool { other.isBefore(self) }
}
