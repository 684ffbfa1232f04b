import CryptoPrimitives

/// Participation links (SPEC §6): `token` is the first 32 hex digits of
/// `HMAC-SHA256(secret, "{auctionId}:{bidId}")`. Deterministic, so links survive a reschedule; the
/// first secret signs and every secret verifies, so a secret can be rotated. Never log a token.
public struct ParticipationTokens: Sendable {
    private let secrets: [String]

    /// - Parameter secrets: at least one; the first signs new links.
    public init(secrets: [String]) {
        precondition(!secrets.isEmpty, "at least one hash secret is required")
        self.secrets = secrets
    }

    public func token(auctionId: String, bidId: String) -> String {
        Self.token(secret: secrets[0], auctionId: auctionId, bidId: bidId)
    }

    /// Whether `token` was made by any configured secret, compared in constant time.
    public func verify(_ token: String, auctionId: String, bidId: String) -> Bool {
        let presented = Array(token.lowercased().utf8)
        var valid = false
        for secret in secrets {
            // No early exit: the time taken does not tell which secret matched.
            valid = ConstantTime.equals(presented, Array(Self.token(secret: secret, auctionId: auctionId, bidId: bidId).utf8)) || valid
        }
        return valid
    }

    /// `{auctionUrl}?key_for_bid={bidId}&hash={token}`.
    public func participationURL(auctionURL: String, auctionId: String, bidId: String) -> String {
        "\(auctionURL)?key_for_bid=\(bidId)&hash=\(token(auctionId: auctionId, bidId: bidId))"
    }

    private static func token(secret: String, auctionId: String, bidId: String) -> String {
        String(HMACSHA256.authenticate("\(auctionId):\(bidId)", key: secret).hexString.prefix(32))
    }
}
