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

    /// Secrets printed in this project's files and docs: anyone can forge links made with them.
    public static let publiclyKnownSecrets: Set<String> = [
        "change-me", "changeme", "secret", "s3cret", "old", "my-secret", "demo-secret", "test-secret", "load-test-secret",
    ]
    /// Shorter secrets can be guessed; 16 characters is 128 bits of hex, or a pass phrase.
    public static let minimumSecretLength = 16

    /// Why `secrets` must not sign links (none, a publicly known one, a short one), or nil.
    public static func refusal(of secrets: [String]) -> String? {
        if secrets.isEmpty { return "no participation secret is configured" }
        if let known = secrets.first(where: { publiclyKnownSecrets.contains($0.lowercased()) }) {
            return "'\(known)' is a publicly known example, and links signed with it could be forged"
        }
        if secrets.contains(where: { $0.count < minimumSecretLength }) {
            return "every secret needs at least \(minimumSecretLength) characters (e.g. `openssl rand -hex 32`)"
        }
        return nil
    }

    private static func token(secret: String, auctionId: String, bidId: String) -> String {
        String(HMACSHA256.authenticate("\(auctionId):\(bidId)", key: secret).hexString.prefix(32))
    }
}
