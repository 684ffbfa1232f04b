// What waits for the tender API: the results reports, the links to publish, the feed's position and its skipped tenders.
import AuctionCore
import Foundation
import RedisClient

extension AuctionStore {
    // MARK: - The results outbox

    /// Keeps a results report until the API accepts it. A report already waiting is kept as it is.
    public func enqueueReport(_ auctionId: String, body: Data) throws(AuctionStoreError) {
        try enqueueReports([(auctionId, body)])
    }

    /// `enqueueReport` for several auctions in two round trips. A report the API refused for good
    /// (`refuseReport`) is never queued again, whichever process's clock offers it.
    public func enqueueReports(_ reports: [(auctionId: String, body: Data)]) throws(AuctionStoreError) {
        guard !reports.isEmpty else { return }
        let calls = reports.map { report in
            let keys = AuctionKeys(report.auctionId)
            return (keys: [keys.report, keys.refusedReport], arguments: [String(decoding: report.body, as: UTF8.self)])
        }
        let waiting = try evaluateBatch(Scripts.queueReport, calls: calls)
        // Adding to the outbox is idempotent, so a crash between the two steps is mended by the
        // next offer of the same report.
        let commands = zip(reports, waiting).compactMap { report, reply in
            reply.integer == 1 ? command("SADD", ServiceKeys.outbox, report.auctionId) : nil
        }
        if !commands.isEmpty { _ = try run { try $0.pipeline(commands) } }
    }

    /// The API refused the report for good and the tender does not show it: it leaves the outbox
    /// and is kept as `refusedReport`, the record of what was not accepted.
    public func refuseReport(_ auctionId: String) throws(AuctionStoreError) {
        let keys = AuctionKeys(auctionId)
        _ = try run { connection in
            try connection.exchange([command("RENAME", keys.report, keys.refusedReport), command("SREM", ServiceKeys.outbox, auctionId)])
        }
    }

    /// The report the API refused for good, if it did.
    public func refusedReport(of auctionId: String) throws(AuctionStoreError) -> Data? {
        guard case .bulk(let bytes) = try run({ try $0.execute("GET", AuctionKeys(auctionId).refusedReport) }) else { return nil }
        return Data(bytes)
    }

    /// Auctions whose report waits for the API.
    public func waitingReports() throws(AuctionStoreError) -> [String] {
        try run { try $0.execute("SMEMBERS", ServiceKeys.outbox) }.array?.compactMap(\.string).sorted() ?? []
    }

    public func report(of auctionId: String) throws(AuctionStoreError) -> Data? {
        guard case .bulk(let bytes) = try run({ try $0.execute("GET", AuctionKeys(auctionId).report) }) else { return nil }
        return Data(bytes)
    }

    /// The API accepted the report: it leaves the outbox (the `resultsReported` event is appended
    /// separately, by whoever posted it).
    public func removeReport(_ auctionId: String) throws(AuctionStoreError) {
        _ = try run { try $0.pipeline([command("SREM", ServiceKeys.outbox, auctionId), command("DEL", AuctionKeys(auctionId).report)]) }
    }

    // MARK: - The audit outbox (docs/AUDIT.md)

    /// The auction's audit document is to be (re)attached to the tender. Queued before the event
    /// it is to show is appended (results reported, names revealed), so that no crash between
    /// the two leaves it out, and again after it, so that a document another process attaches
    /// meanwhile, made before the event, cannot take it out (`auditAttached`).
    public func queueAudit(_ auctionId: String) throws(AuctionStoreError) {
        _ = try run { try $0.execute("SADD", ServiceKeys.auditOutbox, auctionId) }
    }

    public func waitingAudits() throws(AuctionStoreError) -> [String] {
        try run { try $0.execute("SMEMBERS", ServiceKeys.auditOutbox) }.array?.compactMap(\.string).sorted() ?? []
    }

    /// The id the API gave the auction's audit document, once it has one.
    public func auditDocumentId(of auctionId: String) throws(AuctionStoreError) -> String? {
        try run { try $0.execute("HGET", AuctionKeys(auctionId).live, "auditDocument") }.string
    }

    /// The document the API holds as `documentId` shows the log up to `seq`. It leaves the outbox,
    /// and is queued again if the log has gone past `seq` (an event appended while it was being
    /// sent). Taken out first and the log read after: an event appended in between is either
    /// seen here or queued by its appender after this removal, so none is left out. (The outbox
    /// and the auction are in different slots on a cluster: no script can do both at once.)
    public func auditAttached(_ auctionId: String, documentId: String, coveringSeq seq: Int64) throws(AuctionStoreError) {
        let live = AuctionKeys(auctionId).live
        _ = try run { connection in
            try connection.pipeline([
                command("HSET", live, "auditDocument", documentId), command("SREM", ServiceKeys.auditOutbox, auctionId),
            ])
        }
        if (try run { try $0.execute("HGET", live, "seq") }.integer ?? 0) > seq { try queueAudit(auctionId) }
    }

    /// The audit cannot be made (the record does not replay): it leaves the outbox; the reason is logged.
    public func dropAudit(_ auctionId: String) throws(AuctionStoreError) {
        _ = try run { try $0.execute("SREM", ServiceKeys.auditOutbox, auctionId) }
    }

    // MARK: - The tender API's side: links to publish, the feed's position

    /// The auction's links wait to be written to the API (until `linksPublished`).
    public func queueLinks(_ auctionId: String) throws(AuctionStoreError) {
        _ = try run { try $0.execute("SADD", ServiceKeys.linksOutbox, auctionId) }
    }

    public func waitingLinks() throws(AuctionStoreError) -> [String] {
        try run { try $0.execute("SMEMBERS", ServiceKeys.linksOutbox) }.array?.compactMap(\.string).sorted() ?? []
    }

    public func linksPublished(_ auctionId: String) throws(AuctionStoreError) {
        _ = try run { try $0.execute("SREM", ServiceKeys.linksOutbox, auctionId) }
    }

    /// Claims the writing of the auction's links for `ttl` (false: another process writes them
    /// now). A process that dies holding it leaves them to the others once it expires.
    public func claimLinks(_ auctionId: String, owner: String, for ttl: Duration) throws(AuctionStoreError) -> Bool {
        let key = AuctionKeys(auctionId).linksClaim
        return try run { try $0.execute("SET", key, owner, "NX", "PX", String(ttl.wholeMilliseconds)) } == .status("OK")
    }

    /// Lets go of a claim this process holds (`owner`), once its attempt is over: a lease's release.
    public func releaseLinks(_ auctionId: String, owner: String) throws(AuctionStoreError) {
        _ = try evaluate(Scripts.releaseLease, keys: [AuctionKeys(auctionId).linksClaim], arguments: [owner])
    }

    /// Where the feed follower is in `resource`'s tender list; nil before its first page.
    public func feedPosition(_ resource: String) throws(AuctionStoreError) -> String? {
        try run { try $0.execute("GET", ServiceKeys.feedPosition(resource)) }.string
    }

    public func setFeedPosition(_ resource: String, _ offset: String) throws(AuctionStoreError) {
        _ = try run { try $0.execute("SET", ServiceKeys.feedPosition(resource), offset) }
    }

    /// A listed tender the feed could not plan: tried again from `retryAt` on.
    public func skipTender(_ resource: String, _ tenderId: String, retryAt: Timestamp) throws(AuctionStoreError) {
        _ = try run { try $0.execute("ZADD", ServiceKeys.skippedTenders, String(retryAt.milliseconds), "\(resource)/\(tenderId)") }
    }

    /// The skipped tenders whose next attempt is due by `time`, as (resource, id).
    public func skippedTenders(dueBy time: Timestamp) throws(AuctionStoreError) -> [(resource: String, tenderId: String)] {
        let reply = try run { try $0.execute("ZRANGEBYSCORE", ServiceKeys.skippedTenders, "-inf", String(time.milliseconds)) }
        return (reply.array ?? []).compactMap { item in
            guard let text = item.string, let slash = text.firstIndex(of: "/") else { return nil }
            return (String(text[..<slash]), String(text[text.index(after: slash)...]))
        }
    }

    public func forgetSkippedTender(_ resource: String, _ tenderId: String) throws(AuctionStoreError) {
        _ = try run { try $0.execute("ZREM", ServiceKeys.skippedTenders, "\(resource)/\(tenderId)") }
    }
}
