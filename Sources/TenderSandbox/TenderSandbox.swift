// The local stand-in for the tender API (PROTOCOL.md "Running it"). Filled in by issue 6.
import AuctionCore

/// The API version path the sandbox serves, as the real API's current major version.
public let sandboxAPIVersion = "2.5"
