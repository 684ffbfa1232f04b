import TenderAPI
import Testing

@Suite struct TenderResourceTests {
    @Test func bothCollectionsAreKnown() {
        #expect(TenderResource.allCases.map(\.rawValue) == ["tenders", "auctions"])
    }
}
