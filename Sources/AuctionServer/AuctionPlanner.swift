// Planning from the tender API (SPEC §5.1-5.2): read the tender and its private auction view, plan
// each auction through AuctionCore, store it, and write the links back. Used by the feed follower,
// the admin route and `auctiond plan`; one thread at a time (it uses the caller's AuctionStore).
import AuctionCore
import AuctionStore
import Foundation
import Logging
import TenderAPI

/// What planning needs besides the API and Redis.
public struct PlanningSettings: Sendable {
    /// Base of `auctionUrl` and `participationUrl`.
    public var publicURL: String
    public var schedule: ScheduleSettings
    /// The API collections this service serves, tried in this order for a bare tender id.
    public var resources: [TenderResource]

    public init(publicURL: String, schedule: ScheduleSettings = ScheduleSettings(), resources: [TenderResource] = TenderResource.allCases) {
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.schedule = schedule
        self.resources = resources
    }
}

/// What planning did to one auction.
public enum PlanOutcome: Sendable, Equatable, CustomStringConvertible {
    case planned(auctionId: String, start: Timestamp)
    /// The API moved the start before the auction began; the stages moved with it.
    case replanned(auctionId: String, start: Timestamp)
    case unchanged(auctionId: String, status: AuctionStatus)
    /// A lot (or tender) that no longer runs an auction: its auction was stopped.
    case cancelled(auctionId: String)

    public var auctionId: String {
        switch self {
        case .planned(let id, _), .replanned(let id, _), .unchanged(let id, _), .cancelled(let id): id
        }
    }

    public var description: String {
        switch self {
        case .planned(let id, let start): "\(id): planned, starts \(start.iso8601)"
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
    let api: TenderAPIClient
    let store: AuctionStore
    let tokens: ParticipationTokens
    let settings: PlanningSettings
    let logger: Logger
    /// Called with a new auction's id after it is stored and before its links go out, so that this
    /// process serves it before any bidder can follow a link (others find it in the index).
    let stored: @Sendable (String) -> Void

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
            logger.notice("auction planned", metadata: ["auction": "\(id)", "start": "\(input.startDate)", "bidders": "\(input.participants.count)"])
            try store.queueLinks(id)
            stored(id)
            publishLinks(id, resource: resource, tender: view)
            return .planned(auctionId: id, start: planned.stages.first?.start ?? input.startDate)
        }
        return try moveStartIfChanged(id, to: input.startDate)
    }

    /// Moves a planned auction that has not begun to the API's new `startDate` (SPEC §5: the
    /// API may reschedule it; the links stay the same).
    private func moveStartIfChanged(_ id: String, to start: Timestamp) throws(AuctionStoreError) -> PlanOutcome {
        let (state, event) = try store.appendDecided(id) { state, now in
            guard state.status == .scheduled, state.currentStage == -1, state.stages.first?.kind == .pause, state.input.startDate != start else {
                return nil
            }
            return .replanned(startDate: start, at: now)
        }
        guard event != nil else { return .unchanged(auctionId: id, status: state.status) }
        logger.notice("auction start moved", metadata: ["auction": "\(id)", "start": "\(start)"])
        return .replanned(auctionId: id, start: start)
    }

    /// Stops an auction whose tender (or lot) left `active.auction`, unless its turns are over
    /// (then its results are on their way to the API and the tender left because of them) — or
    /// `evenWithResults`, when the API has refused those results for good.
    public func cancelIfRunning(_ id: String, reason: String, evenWithResults: Bool = false) throws(AuctionStoreError) -> PlanOutcome? {
        let event: AuctionEvent?
        do {
            event = try store.appendDecided(id) { state, now in
                guard state.status == .scheduled || state.status == .active, evenWithResults || !state.resultsAreFinal else { return nil }
                return .cancelled(at: now)
            }.event
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

    /// PATCHes the links of a planned auction (SPEC §5.2). On success it leaves the links outbox;
    /// otherwise it stays there for `retryLinks`. A tender that left `active.auction` has no use
    /// for links: they are dropped.
    @discardableResult
    func publishLinks(_ auctionId: String, resource: TenderResource, tender view: TenderDocument) -> Bool {
        do {
            let replica = try store.load(auctionId)
            let body = try linksBody(replica.state.input, view: view)
            try api.patchAuction(resource, id: replica.state.input.tenderId, lotId: replica.state.input.lotId, body: body)
            try store.linksPublished(auctionId)
            logger.info("links published", metadata: ["auction": "\(auctionId)"])
            return true
        } catch let error as TenderAPIError where error.status == 403 || error.status == 404 {
            logger.warning("links dropped: the API no longer takes them", metadata: ["auction": "\(auctionId)", "error": "\(error)"])
            try? store.linksPublished(auctionId)
        } catch {
            logger.warning("links not published yet", metadata: ["auction": "\(auctionId)", "error": "\(error)"])
        }
        return false
    }

    /// Retries every auction whose links the API has not accepted yet.
    func retryLinks(until stopping: () -> Bool) {
        guard let waiting = try? store.waitingLinks() else { return }
        for id in waiting where !stopping() {
            do {
                let replica = try store.load(id)
                let resource = TenderResource(rawValue: replica.state.input.resource ?? "") ?? .tenders
                let view = try api.auctionView(resource, id: replica.state.input.tenderId)
                publishLinks(id, resource: resource, tender: view)
            } catch AuctionStoreError.unknownAuction {
                try? store.linksPublished(id)
            } catch {
                logger.warning("links not published yet", metadata: ["auction": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// The PATCH body: one entry per tender bid in tender order; a participant carries its link
    /// (for a lot, inside the matching `lotValues` entry), every other bid only its id.
    func linksBody(_ input: AuctionInput, view: TenderDocument) throws -> Data {
        let url = auctionURL(input.auctionId, resource: input.resource)
        let participants = Set(input.participants.map(\.bidId))
        var bids: [[String: Any]] = []
        for bid in view.bids ?? [] {
            guard participants.contains(bid.id) else {
                bids.append(["id": bid.id])
                continue
            }
            let link = tokens.participationURL(auctionURL: url, auctionId: input.auctionId, bidId: bid.id)
            if let lotId = input.lotId {
                let lotValues = (bid.lotValues ?? []).map { entry -> [String: Any] in
                    entry.relatedLot == lotId ? ["relatedLot": lotId, "participationUrl": link] : ["relatedLot": entry.relatedLot]
                }
                bids.append(["id": bid.id, "lotValues": lotValues])
            } else {
                bids.append(["id": bid.id, "participationUrl": link])
            }
        }
        var data: [String: Any] = ["bids": bids]
        if let lotId = input.lotId {
            data["lots"] = (view.lots ?? []).map { lot -> [String: Any] in lot.id == lotId ? ["id": lot.id, "auctionUrl": url] : ["id": lot.id] }
        } else {
            data["auctionUrl"] = url
        }
        return try JSONSerialization.data(withJSONObject: ["data": data], options: [.sortedKeys, .withoutEscapingSlashes])
    }
}
