// The audit document as YAML (docs/AUDIT.md). Here rather than beside the document: AuctionStore
// stays free of Yams, so that the fuzz targets build it alone.
import AuctionStore
import Yams

extension AuditDocument {
    /// Reads a document as `auctiond audit` prints it.
    public init(yaml: String) throws {
        self = try YAMLDecoder().decode(AuditDocument.self, from: yaml)
    }

    /// The document as YAML.
    public func yaml() throws -> String { try YAMLEncoder().encode(self) }
}
