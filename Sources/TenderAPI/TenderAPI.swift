// Client of the Open Procurement tender API (SPEC §5). Filled in by issue 6.
import AuctionCore

/// The API collections an auction can live in (SPEC §2: tenders, and DGF auctions).
public enum TenderResource: String, Sendable, CaseIterable {
    case tenders
    case auctions
}
