// Planning from the tender API (SPEC §5.1-5.2): read the tender and its private auction view, plan
// each auction through AuctionCore, store it, and write the links back. Used by the feed follower,
// the admin route and `auctiond plan`; one thread at a time (it uses the caller's AuctionStore).
import AuctionCore
import AuctionStore
import Foundation
import Logging
import Metrics
import TenderAPI

/// What planning needs besides the API and Redis.
public struct PlanningSettings: Sendable {
    /// Base of `auctionUrl` and `participationUrl`.
    public var publicURL: String
    public var schedule: ScheduleSettings
    /// The API collections this service serves, tried in this order for a bare tender id.
    public var resources: [TenderResource]
    /// What the planner's stores apply (the retention of a rescheduled plan, above all).
    public var storePolicy = StorePolicy()

    public init(publicURL: String, schedule: ScheduleSettings = ScheduleSettings(), resources: [TenderResource] = TenderResource.allCases) {
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.schedule = schedule
        self.resources = resources
    }
}

/// What planning did to one auction.
public enum PlanOutcome: Sendable, Equatable, CustomStringConvertible {
    case planned(auctionId: String, start: Timestamp)
    /// Planned more than the outage limit after its start: not run, waiting for a new start.
    case rescheduled(auctionId: String, start: Timestamp)
    /// The API moved the start before the auction began; the stages moved with it.
    case replanned(auctionId: String, start: Timestamp)
    case unchanged(auctionId: String, status: AuctionStatus)
    /// A lot (or tender) that no longer runs an auction: its auction was stopped.
    case cancelled(auctionId: String)

    public var auctionId: String {
        switch self {
        case .planned(let id, _), .rescheduled(let id, _), .replanned(let id, _), .unchanged(let id, _), .cancelled(let id): id
        }
    }

    public var description: String {
        switch self {
        case .planned(let id, let start): "\(id): planned, starts \(start.iso8601)"
        case .rescheduled(let id, let start):
            "\(id): rescheduled, not run: its start \(start.iso8601) is further in the past than the outage limit; a new start from the API plans it again"
        case .replanned(let id, let start): "\(id): start moved to \(start.iso8601)"
        case .unchanged(let id, let status): "\(id): already planned (\(status.rawValue))"
        case .cancelled(let id): "\(id): cancelled (no longer in active.auction)"
        }
    }
}

public enum PlanningError: Error, Sendable, CustomStringConvertible {
    /// The tender cannot have an auction (limited procedure, unsupported criteria, bad data).
    case refused(tenderId: String, reason: String)
    /// The tender is not in `active.auction`.
    case notInAuction(tenderId: String, status: String)
    case notFound(tenderId: String)
    case api(TenderAPIError)
    case store(AuctionStoreError)

    public var description: String {
        switch self {
        case .refused(let id, let reason): "tender \(id) gets no auction: \(reason)"
        case .notInAuction(let id, let status): "tender \(id) is '\(status)', not active.auction"
        case .notFound(let id): "tender \(id) is not in the tender API (looked in every configured collection)"
        case .api(let error): "\(error)"
        case .store(let error): "\(error)"
        }
    }
}

public struct AuctionPlanner {
    let linksRefusedCounter = Counter(label: "auctiond_api_links_total", dimensions: [("outcome", "refused")])
    let api: TenderAPIClient
    let store: AuctionStore
    let tokens: ParticipationTokens
    let settings: PlanningSettings
    let logger: Logger
    /// Called with a new auction's id after it is stored and before its links go out, so that this
    /// process serves it before any bidder can follow a link (others find it in the index).
    let stored: @Sendable (String) -> Void
    /// This planner's name on the links claims it takes (`claimLinks`).
    let claimOwner = "links-\(UUID().uuidString)"
    /// Longer than a PATCH with its retries can take; a process that dies holding a claim delays
    /// the others' retry by at most this.
    static let linksClaimTTL = Duration.seconds(30)

    public init(
        api: TenderAPIClient, store: AuctionStore, tokens: ParticipationTokens, settings: PlanningSettings, logger: Logger,
        stored: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.api = api
        self.store = store
        self.tokens = tokens
        self.settings = settings
        self.logger = logger
        self.stored = stored
    }

    /// Plans the tender's auction, or each active lot's (only `lotId` when given), in the first
    /// configured collection that has the tender.
    public func plan(tenderId: String, lotId: String? = nil) throws(PlanningError) -> [PlanOutcome] {
        for resource in settings.resources {
            do { return try plan(resource, tenderId: tenderId, lotId: lotId) } catch .api(let error) where error.status == 404 {
                continue
            }
        }
        throw .notFound(tenderId: tenderId)
    }

    public func plan(_ resource: TenderResource, tenderId: String, lotId: String? = nil) throws(PlanningError) -> [PlanOutcome] {
        let tender: TenderDocument
        let view: TenderDocument
        do {
            tender = try api.tender(resource, id: tenderId)
            guard tender.status == "active.auction" else {
                // Refuse a limited procedure by name, whatever its status.
                if let reason = Self.refusal(tender) { throw PlanningError.refused(tenderId: tenderId, reason: reason) }
                throw PlanningError.notInAuction(tenderId: tenderId, status: tender.status ?? "unknown")
            }
            if let reason = Self.refusal(tender) { throw PlanningError.refused(tenderId: tenderId, reason: reason) }
            view = try api.auctionView(resource, id: tenderId)
        } catch let error as PlanningError {
            throw error
        } catch {
            throw .api(error as? TenderAPIError ?? .undecodable("\(error)"))
        }
        let auctionLots = AuctionInput.auctionLots(of: view)
        let lots: [String?]
        if let lotId {
            lots = [lotId]
        } else if (view.lots ?? []).isEmpty {
            lots = [nil]
        } else {
            lots = auctionLots
        }
        var outcomes: [PlanOutcome] = []
        for lot in lots {
            let input: AuctionInput
            do { input = try AuctionInput(auctionView: view, publicTender: tender, lotId: lot) } catch {
                logger.warning("tender refused", metadata: ["tender": "\(tenderId)", "lot": "\(lot ?? "-")", "reason": "\(error)"])
                throw .refused(tenderId: tenderId, reason: error.description)
            }
            do { outcomes.append(try planOne(resource, input: input, view: view)) } catch { throw .store(error) }
        }
        // A lot that stopped being active stops its auction.
        if lotId == nil {
            for lot in view.lots ?? [] where !auctionLots.contains(lot.id) {
                do {
                    if let outcome = try cancelIfRunning("\(tenderId)_\(lot.id)", reason: "lot \(lot.id) is '\(lot.status ?? "?")'") {
                        outcomes.append(outcome)
                    }
                } catch { throw .store(error) }
            }
        }
        return outcomes
    }

    /// A reason the tender can never have an auction, read from the public document.
    static func refusal(_ tender: TenderDocument) -> String? {
        do {
            // The input check names limited procedures and unsupported criteria; other missing
            // data is judged later, on the private view.
            _ = try AuctionInput(auctionView: tender, publicTender: tender, lotId: AuctionInput.auctionLots(of: tender).first)
        } catch let error {
            switch error {
            case .limitedProcedure, .unsupportedAwardCriteria: return error.description
            default: return nil
            }
        }
        return nil
    }

    private func planOne(_ resource: TenderResource, input: AuctionInput, view: TenderDocument) throws(AuctionStoreError) -> PlanOutcome {
        var input = input
        input.resource = resource.rawValue
        let id = input.auctionId
        let planned = AuctionState.planned(input, settings: settings.schedule, now: try store.now())
        if try store.create(planned) {
            let start = planned.stages.first?.start ?? input.startDate
            if planned.status == .rescheduled {
                logger.warning(
                    "auction planned too late to run: rescheduled", metadata: ["auction": "\(id)", "start": "\(input.startDate)"])
            } else {
                logger.notice(
                    "auction planned", metadata: ["auction": "\(id)", "start": "\(start)", "bidders": "\(input.participants.count)"])
            }
            // The links hold through a reschedule (they are deterministic), so they go out now,
            // claimed before they enter the outbox: another process's sync leaves them to this one.
            let claimed = claimLinks(id)
            try store.queueLinks(id)
            stored(id)
            if claimed {
                publishLinks(planned.input, resource: resource, tender: view)
                releaseLinks(id)
            }
            return planned.status == .rescheduled
                ? .rescheduled(auctionId: id, start: input.startDate) : .planned(auctionId: id, start: start)
        }
        return try moveStartIfChanged(id, to: input.startDate)
    }

    /// Lays a planned auction out again from the API's new `startDate` (SPEC §3, §5: the API
    /// moves the start of one that has not begun, or gives a rescheduled one a new start; the links
    /// stay the same). It is an event of the log, so `seq` goes on and every process follows.
    private func moveStartIfChanged(_ id: String, to start: Timestamp) throws(AuctionStoreError) -> PlanOutcome {
        let (state, event) = try store.appendDecided(id) { state, now in
            state.acceptsNewStart(start) ? .replanned(startDate: start, at: now) : nil
        }
        guard let event else { return .unchanged(auctionId: id, status: state.status) }
        var next = state
        try? next.apply(event)
        if next.status == .rescheduled {
            logger.warning("new start is too late to run: still rescheduled", metadata: ["auction": "\(id)", "start": "\(start)"])
            return .rescheduled(auctionId: id, start: start)
        }
        logger.notice(
            "auction planned again",
            metadata: ["auction": "\(id)", "start": "\(next.stages.first?.start ?? start)", "was": "\(state.status)"])
        return .replanned(auctionId: id, start: next.stages.first?.start ?? start)
    }

    /// Stops an auction whose tender (or lot) left `active.auction`, unless its turns are over:
    /// then its results are final and are posted (SPEC §3), and the tender left because of them.
    public func cancelIfRunning(_ id: String, reason: String) throws(AuctionStoreError) -> PlanOutcome? {
        let event: AuctionEvent?
        do {
            event = try store.appendDecided(id) { state, now in state.isStoppable ? .cancelled(at: now) : nil }.event
        } catch .unknownAuction {
            return nil
        }
        guard event != nil else { return nil }
        logger.notice("auction cancelled", metadata: ["auction": "\(id)", "reason": "\(reason)"])
        return .cancelled(auctionId: id)
    }

    // MARK: - Links

    /// `{publicUrl}/tenders/{auctionId}` (`/auctions/…` for DGF).
    public func auctionURL(_ auctionId: String, resource: String?) -> String {
        "\(settings.publicURL)/\(resource ?? TenderResource.tenders.rawValue)/\(auctionId)"
    }

    /// PATCHes the links of a planned auction (SPEC §5.2). On success they leave the links outbox;
    /// otherwise they stay there for `retryLinks`. Refused for good (a 4xx: 403 or 404 when the
    /// tender left `active.auction`, 422 for a body it will never take) they leave the outbox too:
    /// done if the tender shows our `auctionUrl` (a PATCH whose answer was lost), an error logged
    /// and counted if not. Returns whether the links still wait.
    @discardableResult
    func publishLinks(_ input: AuctionInput, resource: TenderResource, tender view: TenderDocument) -> Bool {
        do {
            try api.patchAuction(resource, id: input.tenderId, lotId: input.lotId, body: try linksBody(input, view: view))
            try store.linksPublished(input.auctionId)
            logger.info("links published", metadata: ["auction": "\(input.auctionId)"])
            return false
        } catch let error as TenderAPIError where error.isFinalRefusal {
            linksRefused(input, resource: resource, error)
            return false
        } catch {
            logger.warning("links not published yet", metadata: ["auction": "\(input.auctionId)", "error": "\(error)"])
            return true
        }
    }

    /// Claims the writing of the auction's links (false: another process is writing them). If
    /// Redis cannot say, the links are written: a second PATCH of the same links is harmless, a
    /// missing one is not.
    func claimLinks(_ auctionId: String) -> Bool {
        (try? store.claimLinks(auctionId, owner: claimOwner, for: Self.linksClaimTTL)) ?? true
    }

    func releaseLinks(_ auctionId: String) { try? store.releaseLinks(auctionId, owner: claimOwner) }

    /// Retries the links the API has not accepted yet of the auctions that `isDue`; returns, for
    /// each one tried, whether its links still wait (the caller backs those off).
    func retryLinks(isDue: (String) -> Bool, until stopping: () -> Bool) -> [(auctionId: String, waiting: Bool)] {
        guard let waiting = try? store.waitingLinks() else { return [] }
        var tried: [(auctionId: String, waiting: Bool)] = []
        for id in waiting where isDue(id) && !stopping() {
            // Another process writes these links now: they stay its own until its claim goes.
            guard claimLinks(id) else {
                tried.append((id, true))
                continue
            }
            defer { releaseLinks(id) }
            do {
                let input = try store.load(id).state.input
                let resource = TenderResource(rawValue: input.resource ?? "") ?? .tenders
                let view: TenderDocument
                do { view = try api.auctionView(resource, id: input.tenderId) } catch {
                    guard error.isFinalRefusal else { throw error }
                    // The real API serves the private view only in active.auction.
                    linksRefused(input, resource: resource, error)
                    tried.append((id, false))
                    continue
                }
                tried.append((id, publishLinks(input, resource: resource, tender: view)))
            } catch AuctionStoreError.unknownAuction {
                try? store.linksPublished(id)
                tried.append((id, false))
            } catch {
                logger.warning("links not published yet", metadata: ["auction": "\(id)", "error": "\(error)"])
                tried.append((id, true))
            }
        }
        return tried
    }

    /// The API will not take these links again: they leave the outbox. The public tender says
    /// whether they were taken (an earlier PATCH whose answer was lost).
    private func linksRefused(_ input: AuctionInput, resource: TenderResource, _ error: TenderAPIError) {
        defer { try? store.linksPublished(input.auctionId) }
        if let tender = try? api.tender(resource, id: input.tenderId) {
            let shown = input.lotId.map { lot in tender.lots?.first { $0.id == lot }?.auctionUrl } ?? tender.auctionUrl
            if shown == auctionURL(input.auctionId, resource: input.resource) {
                logger.notice(
                    "links already on the tender (an earlier PATCH's answer was lost)", metadata: ["auction": "\(input.auctionId)"])
                return
            }
        }
        linksRefusedCounter.increment()
        logger.error(
            "links refused by the API and not on the tender: not sent again",
            metadata: ["auction": "\(input.auctionId)", "error": "\(error)"])
    }

    /// The PATCH body: one entry per tender bid in tender order; a participant carries its link
    /// (for a lot, inside the matching `lotValues` entry), every other bid only its id.
    func linksBody(_ input: AuctionInput, view: TenderDocument) throws -> Data {
        let url = auctionURL(input.auctionId, resource: input.resource)
        let participants = Set(input.participants.map(\.bidId))
        var bids: [LinksPatch.Bid] = []
        for bid in view.bids ?? [] {
            guard participants.contains(bid.id) else {
                bids.append(LinksPatch.Bid(id: bid.id))
                continue
            }
            let link = tokens.participationURL(auctionURL: url, auctionId: input.auctionId, bidId: bid.id)
            if let lotId = input.lotId {
                let lotValues = (bid.lotValues ?? []).map { entry in
                    LinksPatch.LotValue(relatedLot: entry.relatedLot, participationUrl: entry.relatedLot == lotId ? link : nil)
                }
                bids.append(LinksPatch.Bid(id: bid.id, lotValues: lotValues))
            } else {
                bids.append(LinksPatch.Bid(id: bid.id, participationUrl: link))
            }
        }
        var patch = LinksPatch(data: .init(bids: bids))
        if let lotId = input.lotId {
            patch.data.lots = (view.lots ?? []).map { lot in LinksPatch.Lot(id: lot.id, auctionUrl: lot.id == lotId ? url : nil) }
        } else {
            patch.data.auctionUrl = url
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(patch)
    }
}

/// `PATCH …/auction[/{lotId}]` (SPEC §6): the links, in the API's envelope. Absent members are
/// left out, as the API expects for bids and lots that are not this auction's.
struct LinksPatch: Encodable {
    struct Bid: Encodable {
        var id: String
        var participationUrl: String?
        var lotValues: [LotValue]?
    }

    struct LotValue: Encodable {
        var relatedLot: String?
        var participationUrl: String?
    }

    struct Lot: Encodable {
        var id: String
        var auctionUrl: String?
    }

    struct Body: Encodable {
        var bids: [Bid]
        var lots: [Lot]?
        var auctionUrl: String?
    }

    var data: Body
}
