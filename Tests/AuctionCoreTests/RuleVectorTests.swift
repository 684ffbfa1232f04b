import Foundation
import Testing

@testable import AuctionCore

/// `shared/vectors/rules.json`, copied unchanged: rules from an independent reference model.
struct RuleVector: Decodable, CustomTestStringConvertible, Sendable {
    struct Bid: Decodable, Sendable {
        var id: String
        var amount: String
        var date: String
        var parameters: [TenderDocument.Parameter]?
    }

    struct Action: Decodable, Sendable {
        var amount: String?
        var cancel: Bool?
        var at: String
        var expect: String
    }

    struct Turn: Decodable, Sendable {
        var round: Int
        var bidder: String
        var actions: [Action]
    }

    struct Final: Decodable, Sendable {
        var id: String
        var amount: String
        var date: String
        var normalizedAmount: String?
    }

    struct Expected: Decodable, Sendable {
        var order: [[String]]
        var final: [Final]
        var ranking: [String]
        var coefficients: [String: String]?
    }

    var name: String
    var awardCriteria: String
    var minimalStep: String
    var value: String
    var bids: [Bid]
    var features: [TenderDocument.Feature]?
    var turns: [Turn]
    var expected: Expected

    var testDescription: String { name }

    static let all: [RuleVector] = {
        struct File: Decodable { var vectors: [RuleVector] }
        return try! JSONDecoder().decode(File.self, from: resource("rules.json")).vectors
    }()

    /// The vector's tender as the API's auction view.
    var document: TenderDocument {
        TenderDocument(
            id: name, tenderID: nil, title: nil, title_en: nil, status: "active.auction", procuringEntity: nil,
            procurementMethod: "open", procurementMethodType: nil, procurementMethodDetails: nil,
            submissionMethodDetails: nil, awardCriteria: awardCriteria,
            value: .init(amount: Double(value)!, currency: "UAH", valueAddedTaxIncluded: true),
            minimalStep: .init(amount: Double(minimalStep)!, currency: "UAH", valueAddedTaxIncluded: true),
            auctionPeriod: .init(startDate: "2026-11-23T12:01:00+02:00"), auctionUrl: nil, lots: nil, items: nil,
            features: features,
            bids: bids.map {
                .init(
                    id: $0.id, status: "active", date: $0.date,
                    value: .init(amount: Double($0.amount)!, currency: "UAH", valueAddedTaxIncluded: true),
                    parameters: $0.parameters, lotValues: nil, tenderers: nil, participationUrl: nil)
            })
    }
}

@Suite struct RuleVectorTests {
    @Test func allVectorsAreLoaded() {
        #expect(RuleVector.all.count == 39)
    }

    @Test(arguments: RuleVector.all)
    func vector(_ vector: RuleVector) throws {
        let input = try AuctionInput(auctionView: vector.document)
        var state = AuctionState.planned(input, now: timestamp("2026-11-23T12:00:00+02:00"))
        let bidIds = state.participants.map(\.bidId)
        func number(_ id: String) -> Int { bidIds.firstIndex(of: id)! + 1 }

        // Lay the turns out on the clock so that each turn's window holds its actions' times:
        // the vectors fix the order and the instants, not the stage lengths.
        let turnStages = state.stages.indices.filter { state.stages[$0].kind == .bids }
        try #require(turnStages.count == vector.turns.count)
        var cursor = timestamp(vector.turns.flatMap(\.actions).first?.at ?? "2026-11-23T12:01:40+02:00")
            .adding(microseconds: -1_000_000)
        var turnOfStage: [Int: RuleVector.Turn] = [:]
        for (stageIndex, turn) in zip(turnStages, vector.turns) { turnOfStage[stageIndex] = turn }
        for index in state.stages.indices {
            state.stages[index].start = cursor
            if let turn = turnOfStage[index], let last = turn.actions.last {
                cursor = timestamp(last.at).adding(microseconds: 1)
            }
            if state.stages[index].end != nil { state.stages[index].end = cursor }
        }

        var order: [[String]] = [[], [], []]
        for index in state.stages.indices where state.stages[index].kind != .announcement {
            try state.apply(.stageStarted(index: index, at: state.stages[index].start))
            guard let turn = turnOfStage[index] else { continue }
            let bidder = try #require(state.stages[index].bidder)
            order[turn.round - 1].append(bidIds[bidder - 1])
            #expect(bidIds[bidder - 1] == turn.bidder, "turn order in round \(turn.round)")
            for action in turn.actions {
                let at = timestamp(action.at)
                let decision =
                    action.cancel == true
                    ? state.decideCancel(bidder: number(turn.bidder), at: at)
                    : state.decideBid(bidder: number(turn.bidder), amount: .text(action.amount!), at: at)
                switch decision {
                case .success(let event):
                    #expect(action.expect == "ok", "\(action.amount ?? "cancel") at \(action.at)")
                    try state.apply(event)
                case .failure(let rejection):
                    #expect(rejection.code.rawValue == action.expect, "\(action.amount ?? "cancel") at \(action.at)")
                }
            }
        }

        #expect(order == vector.expected.order)
        for final in vector.expected.final {
            let bidder = number(final.id)
            #expect(state.prices[bidder - 1].amount.formatted == final.amount, "final amount of \(final.id)")
            #expect(state.prices[bidder - 1].date == timestamp(final.date), "final date of \(final.id)")
            if let normalized = final.normalizedAmount {
                #expect(state.normalized(bidder: bidder).description == normalized, "normalised price of \(final.id)")
            }
        }
        #expect(state.ranking.map { bidIds[$0 - 1] } == vector.expected.ranking)
        if let coefficients = vector.expected.coefficients {
            for (id, coefficient) in coefficients {
                #expect(state.participants[number(id) - 1].coefficient.description == coefficient)
            }
        }
    }
}
