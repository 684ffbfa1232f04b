// Everything the service does at the tender API on its own (SPEC §5): follows the tender list and
// plans what appears in `active.auction` (when the feed is on), retries links the API has not taken,
// posts the results waiting in the outbox, and reveals the names once the tender is qualifying.
// One thread with its own Redis connection; every step is idempotent, so any number of processes
// may run it at once and a restart resumes where Redis says.
import AuctionCore
import AuctionStore
import Foundation
import Logging
import Metrics
import RedisClient
import TenderAPI

public struct TenderSyncSettings: Sendable {
    /// Follow the API's tender list and plan by itself (`AUCTIOND_FEED=on`).
    public var followFeed: Bool
    /// How often the tender list is read again once the feed has caught up.
    public var feedInterval: Duration
    /// How often the outboxes (links, results) and the tenders awaiting names are looked at.
    public var interval: Duration
    /// The longest wait between two attempts at one report.
    public var maximumReportBackoff: Duration
    /// How the audit document reaches the tender (`auditUpload`).
    public var documentUpload: DocumentUpload

    public init(
        followFeed: Bool = false, feedInterval: Duration = .seconds(2), interval: Duration = .milliseconds(500),
        maximumReportBackoff: Duration = .seconds(60), documentUpload: DocumentUpload = .multipart
    ) {
        self.followFeed = followFeed
        self.feedInterval = feedInterval
        self.interval = interval
        self.maximumReportBackoff = maximumReportBackoff
        self.documentUpload = documentUpload
    }
}

public final class TenderSync: Sendable {
    private let loop: ServiceLoop
    private let api: TenderAPIClient
    private let redis: RedisEndpoint
    private let tokens: ParticipationTokens
    private let planning: PlanningSettings
    private let settings: TenderSyncSettings
    private let logger: Logger
    private let stored: @Sendable (String) -> Void

    /// - Parameter stored: called with each auction the feed plans, before its links go out.
    public init(
        api: TenderAPIClient, redis: RedisEndpoint, tokens: ParticipationTokens, planning: PlanningSettings, settings: TenderSyncSettings,
        logger: Logger, stored: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.stored = stored
        self.api = api
        self.redis = redis
        self.tokens = tokens
        self.planning = planning
        self.settings = settings
        self.logger = logger
        loop = ServiceLoop(name: "auctiond.tender-sync", interval: settings.interval)
    }

    public func start() {
        loop.start { [self] in
            SyncWork(
                planner: AuctionPlanner(
                    api: api, store: AuctionStore(endpoint: redis, policy: planning.storePolicy), tokens: tokens, settings: planning,
                    logger: logger, stored: stored),
                settings: settings, logger: logger, isStopping: { [loop] in loop.isStopping })
        }
    }

    public func stop() {
        loop.stop()
    }
}

/// One pass of the sync loop and what it remembers between passes (the loop's own).
struct SyncWork: LoopWork {
    let planner: AuctionPlanner
    let settings: TenderSyncSettings
    let logger: Logger
    /// A pass over a thousand finished auctions takes a while: a stop comes between two of them.
    let isStopping: () -> Bool
    var store: AuctionStore { planner.store }
    var api: TenderAPIClient { planner.api }
    var nextFeedRead = ContinuousClock.now
    /// Per auction: when to try its report (or its names) again, and the wait after that.
    var retryAt: [String: (at: ContinuousClock.Instant, backoff: Backoff)] = [:]
    /// Per skipped tender (`resource/id`): the wait before its next attempt.
    var tenderBackoff: [String: Backoff] = [:]
    let tendersSkipped = Counter(label: "auctiond_feed_tenders_skipped_total")

    let reportsAccepted = Counter(label: "auctiond_api_reports_total", dimensions: [("outcome", "accepted")])
    let reportsFailed = Counter(label: "auctiond_api_reports_total", dimensions: [("outcome", "failed")])
    /// Refused by the API for good and not on the tender: an operator must look (logged as an error).
    let reportsRefused = Counter(label: "auctiond_api_reports_total", dimensions: [("outcome", "refused")])
    let apiFailures = Counter(label: "auctiond_api_failures_total")

    init(planner: AuctionPlanner, settings: TenderSyncSettings, logger: Logger, isStopping: @escaping () -> Bool) {
        self.planner = planner
        self.settings = settings
        self.logger = logger
        self.isStopping = isStopping
    }

    mutating func pass(_ loop: ServiceLoop) -> Duration? {
        pass()
        return nil
    }

    mutating func pass() {
        // The outboxes first: a long feed catch-up never keeps a report or a link waiting, and the
        // feed itself works at most `feedPassBudget` a pass, then lets them run again.
        for (id, waiting) in planner.retryLinks(isDue: { isDue("links:" + $0) }, until: isStopping) {
            if waiting { later("links:" + id) } else { retryAt["links:" + id] = nil }
        }
        do {
            for id in try store.waitingReports() where isDue(id) {
                if isStopping() { return }
                sendReport(id)
            }
            for entry in try store.indexedAuctions() where entry.status == .finished && isDue(entry.id) {
                if isStopping() { return }
                revealNames(entry.id)
            }
            for id in try store.waitingAudits() where isDue("audit:" + id) {
                if isStopping() { return }
                attachAudit(id)
            }
        } catch {
            logger.warning("cannot read the outbox", metadata: ["error": "\(error)"])
        }
        if settings.followFeed, ContinuousClock.now >= nextFeedRead {
            let caughtUp = followFeed(until: ContinuousClock.now + Self.feedPassBudget)
            retrySkippedTenders(until: ContinuousClock.now + Self.feedPassBudget)
            nextFeedRead = caughtUp ? ContinuousClock.now + settings.feedInterval : ContinuousClock.now
        }
    }

    /// The longest the feed works in one pass before the outboxes get their turn.
    static let feedPassBudget: Duration = .seconds(1)
    /// A skipped tender is tried again after a second, then two, up to ten minutes.
    static let tenderBackoff = Backoff(first: .seconds(1), maximum: .seconds(600))

    // MARK: - The feed (SPEC §5: following the tender list with next_page.offset)

    /// Reads each collection's tender list from the position kept in Redis and handles every
    /// changed tender; the position moves past a tender once it is handled or skipped. Returns
    /// whether every list was read to its end before `deadline`.
    mutating func followFeed(until deadline: ContinuousClock.Instant) -> Bool {
        var caughtUp = true
        for resource in planner.settings.resources {
            do {
                var offset = try store.feedPosition(resource.rawValue)
                while !isStopping() {
                    if ContinuousClock.now >= deadline {
                        caughtUp = false
                        break
                    }
                    let page = try api.tenderList(resource, offset: offset)
                    if page.data.isEmpty { break }
                    // Read once a page: most listed tenders are not in auction and are looked up here.
                    let index = try store.indexedAuctions()
                    for entry in page.data where !isStopping() {
                        // The position is kept per tender, so a pass may end in the middle of a page.
                        if ContinuousClock.now >= deadline {
                            caughtUp = false
                            break
                        }
                        if try handleOrSkip(resource, entry, index: index),
                            tenderBackoff.removeValue(forKey: "\(resource.rawValue)/\(entry.id)") != nil
                        {
                            try store.forgetSkippedTender(resource.rawValue, entry.id)
                        }
                        offset = entry.dateModified
                        try store.setFeedPosition(resource.rawValue, entry.dateModified)
                    }
                    if !caughtUp { break }
                }
            } catch {
                apiFailures.increment()
                logger.warning("feed stopped for now", metadata: ["resource": "\(resource.rawValue)", "error": "\(error)"])
            }
        }
        return caughtUp
    }

    /// Handles one listed tender. A tender that cannot be planned (a document that does not
    /// decode, an API refusal of this tender) is logged with its id and skipped, and tried again
    /// later with backoff; only the API being down or Redis failing stops the feed (thrown).
    /// Returns whether it was handled (false: skipped).
    private mutating func handleOrSkip(
        _ resource: TenderResource, _ entry: TenderListPage.Entry, index: [(id: String, status: AuctionStatus?, startMilliseconds: Int64)]
    ) throws -> Bool {
        do {
            try handle(resource, entry, index: index)
            return true
        } catch {
            guard Self.isThisTendersProblem(error) else { throw error }
            let key = "\(resource.rawValue)/\(entry.id)"
            let backoff = tenderBackoff[key, default: Self.tenderBackoff].next()
            tendersSkipped.increment()
            logger.error(
                "tender skipped: it cannot be planned now",
                metadata: [
                    "tender": "\(entry.id)", "resource": "\(resource.rawValue)", "retryIn": "\(backoff)", "error": "\(error)",
                ])
            try store.skipTender(
                resource.rawValue, entry.id, retryAt: Timestamp(microseconds: RedisClock.hostMicroseconds() + backoff.wholeMicroseconds))
            return false
        }
    }

    /// Whether planning failed because of this tender alone: its document does not decode, or the
    /// API refused this tender's calls; not when the API does not answer or Redis fails.
    static func isThisTendersProblem(_ error: Error) -> Bool {
        switch error {
        case let error as TenderAPIError:
            if case .unavailable = error { return false }
            return true
        case PlanningError.api(let apiError):
            return isThisTendersProblem(apiError)
        case PlanningError.store:
            return false
        default:
            return !(error is AuctionStoreError)
        }
    }

    /// Tries the skipped tenders that are due again (kept in Redis, so a restart keeps trying).
    private mutating func retrySkippedTenders(until deadline: ContinuousClock.Instant) {
        guard let due = try? store.skippedTenders(dueBy: Timestamp(microseconds: RedisClock.hostMicroseconds())), !due.isEmpty else {
            return
        }
        guard let index = try? store.indexedAuctions() else { return }
        for (resource, id) in due where !isStopping() && ContinuousClock.now < deadline {
            guard let resource = TenderResource(rawValue: resource) else {
                try? store.forgetSkippedTender(resource, id)
                continue
            }
            do {
                if try handleOrSkip(resource, TenderListPage.Entry(id: id, dateModified: "", status: nil), index: index) {
                    tenderBackoff["\(resource.rawValue)/\(id)"] = nil
                    try store.forgetSkippedTender(resource.rawValue, id)
                }
            } catch {
                logger.warning("skipped tender not tried again yet", metadata: ["tender": "\(id)", "error": "\(error)"])
                return
            }
        }
    }

    private func handle(
        _ resource: TenderResource, _ entry: TenderListPage.Entry, index: [(id: String, status: AuctionStatus?, startMilliseconds: Int64)]
    ) throws {
        let status: String
        if let listed = entry.status {
            status = listed
        } else {
            status = try api.tender(resource, id: entry.id).status ?? ""
        }
        if status == "active.auction" {
            do {
                for outcome in try planner.plan(resource, tenderId: entry.id) {
                    logger.info("feed", metadata: ["outcome": "\(outcome)"])
                }
            } catch .refused(let id, let reason) {
                // Not an error of ours: the API put a tender in active.auction that has no auction.
                logger.notice("tender refused", metadata: ["tender": "\(id)", "reason": "\(reason)"])
            } catch .notInAuction {
                // It moved on between the list and the read; the next change will show it.
            } catch {
                throw error  // the API or Redis failed: the feed stops here and tries again later
            }
        } else {
            // A tender that left active.auction (cancelled, or moved on) stops what still runs.
            for auction in index where auction.id == entry.id || auction.id.hasPrefix(entry.id + "_") {
                guard auction.status == .scheduled || auction.status == .active else { continue }
                if let outcome = try planner.cancelIfRunning(auction.id, reason: "tender is '\(status)'") {
                    logger.notice("feed", metadata: ["outcome": "\(outcome)"])
                }
            }
        }
    }

    // MARK: - Results (SPEC §5.3)

    private func isDue(_ id: String) -> Bool {
        retryAt[id].map { ContinuousClock.now >= $0.at } ?? true
    }

    private mutating func later(_ id: String) {
        var backoff =
            retryAt[id]?.backoff
            ?? Backoff(first: min(.milliseconds(500), settings.maximumReportBackoff), maximum: settings.maximumReportBackoff)
        retryAt[id] = (ContinuousClock.now + backoff.next(), backoff)
    }

    /// Posts one waiting report. Accepted (or found already on the tender): the auction becomes
    /// `finished` and the report leaves the outbox; otherwise it stays and is tried again later.
    mutating func sendReport(_ id: String) {
        do {
            guard let body = try store.report(of: id) else { return try store.removeReport(id) }
            let replica = try store.load(id)
            let input = replica.state.input
            guard replica.state.status == .active else {
                // Finished already (another process posted it) or stopped: nothing to send.
                return try store.removeReport(id)
            }
            let resource = TenderResource(rawValue: input.resource ?? "") ?? .tenders
            if let refusal = try post(resource, input, body) {
                // Refused for good (403: the tender has left active.auction, or this lot has its
                // results already; 422: a body the API will never take). The tender decides: a post whose answer was lost left these very results
                // on it. Otherwise they will never be taken: say so loudly, once, and stop.
                if try tenderShowsResults(resource, input, body) {
                    logger.notice("results already on the tender (an earlier post's answer was lost)", metadata: ["auction": "\(id)"])
                } else {
                    reportsRefused.increment()
                    logger.error(
                        "results refused by the API and not on the tender: not posted again",
                        metadata: ["auction": "\(id)", "tender": "\(input.tenderId)", "error": "\(refusal)"])
                    retryAt[id] = nil
                    return try store.refuseReport(id)
                }
            } else {
                logger.notice("results accepted by the API", metadata: ["auction": "\(id)"])
            }
            try markReported(id)
            reportsAccepted.increment()
            retryAt[id] = nil
        } catch {
            reportsFailed.increment()
            apiFailures.increment()
            logger.warning("results not posted yet", metadata: ["auction": "\(id)", "error": "\(error)"])
            later(id)
        }
    }

    /// Whether the tender carries the reported prices (`resultsView`).
    private func tenderShowsResults(_ resource: TenderResource, _ input: AuctionInput, _ body: Data) throws -> Bool {
        try Self.showsResults(TenderSync.resultsView(api, resource, tenderId: input.tenderId), report: body, lotId: input.lotId)
    }

    /// Posts the results: nil when accepted, the error when the API refused them for good (a 4xx:
    /// 403 outside `active.auction`, 422 for a body it will never take); other failures throw.
    private func post(_ resource: TenderResource, _ input: AuctionInput, _ body: Data) throws -> TenderAPIError? {
        do {
            try api.postResults(resource, id: input.tenderId, lotId: input.lotId, body: body)
            return nil
        } catch {
            if error.isFinalRefusal { return error }
            throw error
        }
    }

    /// Appends `resultsReported` (compare-and-set) and takes the report out of the outbox.
    private func markReported(_ id: String) throws {
        try store.queueAudit(id)
        let (_, event) = try store.appendDecided(id) { state, now in state.status == .active ? .resultsReported(at: now) : nil }
        if event != nil { try store.queueAudit(id) }
        try store.removeReport(id)
    }

    /// Whether the tender's bids carry the reported prices already.
    static func showsResults(_ view: TenderDocument, report body: Data, lotId: String?) throws -> Bool {
        try TenderSync.firstDifference(view, report: JSONDecoder().decode(ResultsReport.self, from: body), lotId: lotId) == nil
    }

    // MARK: - The audit document (docs/AUDIT.md)

    /// Attaches the auction's audit document to the tender, or puts the new version in place of
    /// the one attached before (found by the id kept in Redis, else by its title on the tender),
    /// so that however often it is sent, the tender holds one document per auction.
    mutating func attachAudit(_ id: String) {
        let key = "audit:" + id
        do {
            let record = try store.record(of: id)
            let replay: Replay
            do { replay = try Replay(record) } catch {
                logger.error(
                    "the auction's record does not replay: no audit document", metadata: ["auction": "\(id)", "error": "\(error)"])
                retryAt[key] = nil
                return try store.dropAudit(id)
            }
            let input = replay.state.input
            let resource = TenderResource(rawValue: input.resource ?? "") ?? .tenders
            let title = "audit_\(id).yaml"
            let yaml = try replay.document(serviceVersion: serviceVersion).yaml()
            var documentId = try store.auditDocumentId(of: id)
            if documentId == nil { documentId = try api.documents(resource, id: input.tenderId).last { $0.title == title }?.id }
            let file: TenderFile
            switch settings.documentUpload {
            case .multipart:
                file = try api.uploadDocument(
                    resource, id: input.tenderId, replacing: documentId, fileName: title, contentType: "application/yaml",
                    contents: Array(yaml.utf8))
            case .documentService(let service):
                // Uploaded again on a retry: the service keeps a file nothing links to, and the
                // tender links the one attached.
                let stored: StoredFile
                do { stored = try service.upload(fileName: title, contentType: "application/yaml", contents: Array(yaml.utf8)) } catch {
                    // Even a refusal there (credentials) is the service's set-up, not the tender's
                    // answer: the document waits in the outbox until it is mended.
                    throw DocumentServiceFailure(error: error)
                }
                file = try api.attachDocument(resource, id: input.tenderId, replacing: documentId, stored)
            }
            try store.auditAttached(id, documentId: file.id, coveringSeq: record.entries.last?.seq ?? 0)
            retryAt[key] = nil
            logger.notice("audit document attached", metadata: ["auction": "\(id)", "document": "\(file.id)", "head": "\(replay.head)"])
        } catch let error as TenderAPIError where error.isFinalRefusal {
            logger.error("the API refused the audit document: not sent again", metadata: ["auction": "\(id)", "error": "\(error)"])
            retryAt[key] = nil
            try? store.dropAudit(id)
        } catch {
            apiFailures.increment()
            logger.warning("audit document not attached yet", metadata: ["auction": "\(id)", "error": "\(error)"])
            later(key)
        }
    }

    struct DocumentServiceFailure: Error, CustomStringConvertible {
        let error: TenderAPIError
        var description: String { "the document service: \(error)".replacingOccurrences(of: "the tender API", with: "it") }
    }

    // MARK: - Names (SPEC §5.4)

    /// Once the tender is qualifying (or later), the bidders' names go on the auction page.
    mutating func revealNames(_ id: String) {
        do {
            let replica = try store.load(id)
            guard replica.state.status == .finished else { return }
            let input = replica.state.input
            let resource = TenderResource(rawValue: input.resource ?? "") ?? .tenders
            let tender = try api.tender(resource, id: input.tenderId)
            let status = tender.status ?? ""
            guard !["active.auction", "active.tendering", "active.pre-qualification"].contains(status) else { return later(id) }
            let names = replica.state.participants.enumerated().map { number, participant in
                let bid = tender.bids?.first { $0.id == participant.bidId }
                return bid?.tenderers?.first?.name ?? participant.name ?? "Bidder \(number + 1)"
            }
            try store.queueAudit(id)
            let (_, event) = try store.appendDecided(id) { state, now in
                state.status == .finished ? .namesRevealed(names: names, at: now) : nil
            }
            if event != nil {
                try store.queueAudit(id)
                logger.notice("names revealed", metadata: ["auction": "\(id)", "tenderStatus": "\(status)"])
                retryAt[id] = nil
            }
        } catch {
            apiFailures.increment()
            logger.warning("names not revealed yet", metadata: ["auction": "\(id)", "error": "\(error)"])
            later(id)
        }
    }
}

extension TenderSync {
    /// The first reported price the tender's bids do not carry (nil: they carry every one).
    public static func firstDifference(_ view: TenderDocument, report: ResultsReport, lotId: String?) -> String? {
        for entry in report.data.bids {
            guard let bid = view.bids?.first(where: { $0.id == entry.id }) else { return "the tender has no bid \(entry.id)" }
            let reported: Double?
            let standing: Double?
            if let lotId {
                reported = entry.lotValues?.first { $0.relatedLot == lotId }?.value?.amount
                standing = bid.lotValues?.first { $0.relatedLot == lotId }?.value?.amount
            } else {
                reported = entry.value?.amount
                standing = bid.value?.amount
            }
            guard let reported else { continue }
            guard let standing, (try? Money(jsonNumber: standing)) == (try? Money(jsonNumber: reported)) else {
                return "bid \(entry.id): the tender shows \(standing.map { "\($0)" } ?? "no value"), the record gives \(reported)"
            }
        }
        return nil
    }

    /// The tender as it shows the bids' values: the public tender once the auction is over; while
    /// it is still in `active.auction` (another lot runs) the private view, which the API serves
    /// only then.
    public static func resultsView(_ api: TenderAPIClient, _ resource: TenderResource, tenderId: String) throws -> TenderDocument {
        let tender = try api.tender(resource, id: tenderId)
        return tender.status == "active.auction" ? try api.auctionView(resource, id: tenderId) : tender
    }
}
