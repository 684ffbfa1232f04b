import Testing

@testable import AuctionCore

@Suite struct AuctionInputTests {
    @Test func twoStageTenderTakesOnlyActiveBids() throws {
        let input = try AuctionInput(auctionView: seedDocument("twostage-auction-view.json"))
        #expect(input.auctionId == "69620e7245b048d696d61d9b5061cee2")
        #expect(input.criteria == .lowestCost)
        #expect(input.value == Money(kopiyky: 50_100))
        #expect(input.minimalStep == Money(kopiyky: 3_500))
        #expect(input.startDate == timestamp("2017-02-16T13:35:25.282008+02:00"))
        #expect(input.participants.map(\.bidId) == ["64c6b855beba4212a4e8434cec225ff3", "35e7d4ecdfe2489989257ea9acd43787"])
        // The unsuccessful bid takes no part but is still reported (one entry per tender bid).
        #expect(input.tenderBids.count == 3)
        #expect(!input.isMEAT)
        #expect(input.tenderID == "R-UA-2017-02-16-000001")
    }

    @Test func aPublicViewWithoutBidValuesIsAClearError() {
        #expect(throws: AuctionInputError.missingField("value of bid 64c6b855beba4212a4e8434cec225ff3")) {
            try AuctionInput(auctionView: seedDocument("twostage-tender-active-auction.json"))
        }
    }

    @Test func dgfAuctionRisesIsAcceleratedAndSkipsDraftBids() throws {
        let input = try AuctionInput(auctionView: seedDocument("dgf-auction-view.json"))
        #expect(input.criteria == .highestCost)
        #expect(input.accelerator == 1440)
        #expect(input.participants.count == 2)
        #expect(input.tenderBids.count == 3)
    }

    @Test func dgfBidsBelowTheStartingValueTakeNoPart() throws {
        var document = try seedDocument("dgf-auction-view.json")
        document.bids![0].value!.amount = 99.99
        let input = try AuctionInput(auctionView: document)
        #expect(input.participants.map(\.bidId) == [document.bids![1].id])
    }

    @Test func eachActiveLotIsItsOwnAuction() throws {
        let document = try seedDocument("two-lots-auction-view.json")
        let lot1 = "f2542173d5f74511bd1d3fd7b0ca6333"
        #expect(AuctionInput.auctionLots(of: document) == [lot1])
        let input = try AuctionInput(auctionView: document, lotId: lot1)
        #expect(input.auctionId == "\(document.id!)_\(lot1)")
        #expect(input.value == Money(kopiyky: 50_000))
        #expect(input.participants.map(\.initial.amount) == [Money(kopiyky: 48_000), Money(kopiyky: 47_000)])
        #expect(input.startDate == timestamp("2017-02-18T10:00:00+02:00"))
    }

    @Test func lotTendersNeedAnActiveLot() throws {
        let document = try seedDocument("two-lots-auction-view.json")
        #expect(throws: AuctionInputError.lotRequired(tenderId: document.id!)) { try AuctionInput(auctionView: document) }
        #expect(throws: AuctionInputError.lotNotFound(tenderId: document.id!, lotId: "nope")) {
            try AuctionInput(auctionView: document, lotId: "nope")
        }
        #expect(throws: AuctionInputError.lotNotActive(lotId: "37dbcb6cabfe4c44b6c42457cb39dcc9", status: "unsuccessful")) {
            try AuctionInput(auctionView: document, lotId: "37dbcb6cabfe4c44b6c42457cb39dcc9")
        }
        #expect(throws: AuctionInputError.noLots(tenderId: "69620e7245b048d696d61d9b5061cee2")) {
            try AuctionInput(auctionView: seedDocument("twostage-auction-view.json"), lotId: "x")
        }
    }

    @Test func limitedProceduresNeverHaveAnAuction() throws {
        #expect(throws: AuctionInputError.limitedProcedure(type: "reporting")) {
            try AuctionInput(auctionView: seedDocument("reporting-tender.json"))
        }
        for type in ["negotiation", "negotiation.quick"] {
            var document = try seedDocument("twostage-auction-view.json")
            document.procurementMethodType = type
            #expect(throws: AuctionInputError.limitedProcedure(type: type)) { try AuctionInput(auctionView: document) }
        }
    }

    @Test func unknownAwardCriteriaAreRefusedByName() throws {
        var document = try seedDocument("twostage-auction-view.json")
        document.awardCriteria = "ratedCriteria"
        #expect(throws: AuctionInputError.unsupportedAwardCriteria("ratedCriteria")) { try AuctionInput(auctionView: document) }
        #expect("\(AuctionInputError.unsupportedAwardCriteria("ratedCriteria"))".contains("ratedCriteria"))
    }

    @Test func meatCoefficientUsesOnlyApplicableFeatures() throws {
        let input = try AuctionInput(auctionView: seedDocument("meat-auction-view.json"))
        #expect(input.isMEAT)
        #expect(input.participants.map(\.coefficient.description) == ["9/7", "1"])
    }

    @Test func featuresWhoseWeightsReachOneAreRefused() throws {
        var document = try seedDocument("meat-auction-view.json")
        document.features![0].enum.append(.init(value: 0.9))
        #expect(throws: AuctionInputError.self) { try AuctionInput(auctionView: document) }
    }

    @Test func parameterAboveItsFeaturesLargestValueIsRefused() throws {
        var document = try seedDocument("meat-auction-view.json")
        document.bids![0].parameters![0].value = 0.2
        #expect(throws: AuctionInputError.self) { try AuctionInput(auctionView: document) }
    }

    @Test func sandboxModesAreRead() throws {
        #expect(try simpleInput(submissionMethodDetails: "quick(mode:no-auction)").mode == .noAuction)
        #expect(try simpleInput(submissionMethodDetails: "quick(mode:fast-forward)").mode == .fastForward)
        #expect(try simpleInput(submissionMethodDetails: "quick").mode == .normal)
        #expect(try simpleInput(procurementMethodDetails: "quick, accelerator=60").accelerator == 60)
    }

    @Test func invalidAmountsAndDatesInTheTenderAreRefused() throws {
        var document = try seedDocument("twostage-auction-view.json")
        document.minimalStep!.amount = 0.005
        #expect(throws: AuctionInputError.self) { try AuctionInput(auctionView: document) }
        document = try seedDocument("twostage-auction-view.json")
        document.auctionPeriod!.startDate = "soon"
        #expect(throws: AuctionInputError.invalidDate(field: "auctionPeriod.startDate", text: "soon")) {
            try AuctionInput(auctionView: document)
        }
        document.auctionPeriod = nil
        #expect(throws: AuctionInputError.missingField("auctionPeriod.startDate")) { try AuctionInput(auctionView: document) }
    }
}
