/// The version the audit document names (docs/AUDIT.md).
public let serviceVersion = "auctiond 1.0 (2026-12-07)"
