// A load-test profile (loadtest/profiles/*.yaml): how many auctions, bidders and observers, how
// fast the auctions run, and what the simulated people do. Every key has a default, so a profile
// names only what it changes.
import Foundation
import Yams

public struct Profile: Decodable, Sendable {
    public var name = "custom"
    public var description = ""
    /// Auctions created in the sandbox, all in the same run.
    public var auctions = 1
    /// `tenders` (lowestCost) or `auctions` (DGF, highestCost).
    public var resource = "tenders"
    public var biddersPerAuction = 3
    public var observersPerAuction = 2
    /// The sandbox's speed-up (`procurementMethodDetails: quick, accelerator=N`).
    public var accelerator = 60
    /// Seconds from creating the tenders to the first auction's start: time for planning.
    public var startAfterSeconds = 20
    /// Auction starts are spread evenly over this many seconds.
    public var startSpreadSeconds = 0.0
    /// Connections opened per second while joining (0: all at once).
    public var connectRate = 0
    /// What the bidders do, as shares of turns (or of connections, for reconnects).
    public var behaviour = Behaviour()
    /// Bid commands per second per bidder connection during the bidding, in and out of turn;
    /// 0 turns the storm off (the `storm` profile).
    public var stormBidsPerSecond = 0.0
    /// Seconds to keep the connections open and idle after the auctions end, for memory per
    /// connection (`connect`, `hot`).
    public var holdIdleSeconds = 0
    /// Side-by-side references, measured in the same run.
    public var compareWithMirror = false
    public var compareWithRedisBenchmark = false
    /// auctiond processes sharing the port (loadtest/run.sh starts them).
    public var auctiondProcesses = 1
    /// Threads (lws client contexts) the observers are spread over, as if on that many machines;
    /// the bidders always have one of their own.
    public var observerThreads = 1
    /// Seconds the whole run may take before it gives up.
    public var timeoutSeconds = 600
    /// Seed of the behaviour's random choices: the same profile plays the same script.
    public var seed: UInt64 = 1
    /// Processes killed while the auctions run (loadtest/chaos.sh does it; the run measures it).
    public var chaos: Chaos?
    /// Hostile clients while the auctions run (Attack.swift).
    public var attack: Attack?
    /// Two auctiond hosts in network namespaces behind HAProxy, one cut off mid-auction
    /// (loadtest/hosts.sh does it; the run reconciles as always).
    public var hosts: Hosts?

    public struct Hosts: Codable, Sendable, Equatable {
        /// Seconds after the first auction's start when host 1's link goes down.
        public var cutAfterSeconds = 5.0

        enum CodingKeys: String, CodingKey, CaseIterable { case cutAfterSeconds }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            cutAfterSeconds = try c.decodeIfPresent(Double.self, forKey: .cutAfterSeconds) ?? Hosts().cutAfterSeconds
            guard cutAfterSeconds >= 0 else {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "hosts: cutAfterSeconds ≥ 0"))
            }
        }
    }

    /// kill -9 of auctiond and redis-server, each restarted (Redis on its AOF), at random moments
    /// from the first auction's start on.
    public struct Chaos: Codable, Sendable, Equatable {
        public var auctiondKills = 0
        public var redisKills = 0
        /// The pause between two kills is drawn from this range, in seconds.
        public var minimumPauseSeconds = 1.0
        public var maximumPauseSeconds = 4.0
        /// How long a killed process stays down before it is started again.
        public var downSeconds = 0.5

        enum CodingKeys: String, CodingKey, CaseIterable {
            case auctiondKills, redisKills, minimumPauseSeconds, maximumPauseSeconds, downSeconds
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = Chaos()
            auctiondKills = try c.decodeIfPresent(Int.self, forKey: .auctiondKills) ?? defaults.auctiondKills
            redisKills = try c.decodeIfPresent(Int.self, forKey: .redisKills) ?? defaults.redisKills
            minimumPauseSeconds = try c.decodeIfPresent(Double.self, forKey: .minimumPauseSeconds) ?? defaults.minimumPauseSeconds
            maximumPauseSeconds = try c.decodeIfPresent(Double.self, forKey: .maximumPauseSeconds) ?? defaults.maximumPauseSeconds
            downSeconds = try c.decodeIfPresent(Double.self, forKey: .downSeconds) ?? defaults.downSeconds
        }
    }

    public struct Behaviour: Decodable, Sendable {
        public var replace = 0.0
        public var cancel = 0.0
        public var tooHigh = 0.0
        public var tooLow = 0.0
        public var outOfTurn = 0.0
        /// A second bid sent a few milliseconds before the turn ends: accepted or `turn_over`,
        /// never accepted late.
        public var raceTurnEnd = 0.0
        public var raceMarginMilliseconds = 3
        /// Connections that drop once mid-auction and come back; bidders then resend their last
        /// request id and must get the first answer again.
        public var reconnect = 0.0

        public init() {}

        enum CodingKeys: String, CodingKey {
            case replace, cancel, tooHigh, tooLow, outOfTurn, raceTurnEnd, raceMarginMilliseconds, reconnect
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func share(_ key: CodingKeys) throws -> Double {
                let value = try c.decodeIfPresent(Double.self, forKey: key) ?? 0
                guard (0...1).contains(value) else {
                    throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "a share between 0 and 1, got \(value)")
                }
                return value
            }
            replace = try share(.replace)
            cancel = try share(.cancel)
            tooHigh = try share(.tooHigh)
            tooLow = try share(.tooLow)
            outOfTurn = try share(.outOfTurn)
            raceTurnEnd = try share(.raceTurnEnd)
            reconnect = try share(.reconnect)
            raceMarginMilliseconds = try c.decodeIfPresent(Int.self, forKey: .raceMarginMilliseconds) ?? 3
        }
    }

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, description, auctions, resource, biddersPerAuction, observersPerAuction, accelerator
        case startAfterSeconds, startSpreadSeconds, connectRate, behaviour, stormBidsPerSecond, holdIdleSeconds
        case compareWithMirror, compareWithRedisBenchmark, timeoutSeconds, seed, auctiondProcesses
        case observerThreads, chaos, attack, hosts
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Profile()
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? defaults.name
        description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        auctions = try c.decodeIfPresent(Int.self, forKey: .auctions) ?? defaults.auctions
        resource = try c.decodeIfPresent(String.self, forKey: .resource) ?? defaults.resource
        biddersPerAuction = try c.decodeIfPresent(Int.self, forKey: .biddersPerAuction) ?? defaults.biddersPerAuction
        observersPerAuction = try c.decodeIfPresent(Int.self, forKey: .observersPerAuction) ?? defaults.observersPerAuction
        accelerator = try c.decodeIfPresent(Int.self, forKey: .accelerator) ?? defaults.accelerator
        startAfterSeconds = try c.decodeIfPresent(Int.self, forKey: .startAfterSeconds) ?? defaults.startAfterSeconds
        startSpreadSeconds = try c.decodeIfPresent(Double.self, forKey: .startSpreadSeconds) ?? 0
        connectRate = try c.decodeIfPresent(Int.self, forKey: .connectRate) ?? 0
        behaviour = try c.decodeIfPresent(Behaviour.self, forKey: .behaviour) ?? Behaviour()
        stormBidsPerSecond = try c.decodeIfPresent(Double.self, forKey: .stormBidsPerSecond) ?? 0
        holdIdleSeconds = try c.decodeIfPresent(Int.self, forKey: .holdIdleSeconds) ?? 0
        compareWithMirror = try c.decodeIfPresent(Bool.self, forKey: .compareWithMirror) ?? false
        compareWithRedisBenchmark = try c.decodeIfPresent(Bool.self, forKey: .compareWithRedisBenchmark) ?? false
        timeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .timeoutSeconds) ?? defaults.timeoutSeconds
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1
        auctiondProcesses = try c.decodeIfPresent(Int.self, forKey: .auctiondProcesses) ?? 1
        observerThreads = try c.decodeIfPresent(Int.self, forKey: .observerThreads) ?? 1
        chaos = try c.decodeIfPresent(Chaos.self, forKey: .chaos)
        attack = try c.decodeIfPresent(Attack.self, forKey: .attack)
        hosts = try c.decodeIfPresent(Hosts.self, forKey: .hosts)
        try validate()
    }

    /// Reads a profile file; every mistake is named with the key it concerns.
    public static func load(path: String) throws -> Profile {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw LoadTestError("cannot read the profile '\(path)'")
        }
        do {
            // A misspelt key would silently keep its default: name it instead.
            let document = try Yams.load(yaml: text) as? [String: Any]
            if let keys = document?.keys {
                let known = Set(CodingKeys.allCases.map(\.rawValue))
                if let unknown = keys.filter({ !known.contains($0) }).sorted().first { throw LoadTestError("unknown key '\(unknown)'") }
            }
            for (section, known) in [
                ("chaos", Set(Chaos.CodingKeys.allCases.map(\.rawValue))), ("attack", Set(Attack.CodingKeys.allCases.map(\.rawValue))),
                ("hosts", Set(Hosts.CodingKeys.allCases.map(\.rawValue))),
            ] {
                if let keys = (document?[section] as? [String: Any])?.keys,
                    let unknown = keys.filter({ !known.contains($0) }).sorted().first
                {
                    throw LoadTestError("unknown key '\(section).\(unknown)'")
                }
            }
            return try YAMLDecoder().decode(Profile.self, from: text)
        } catch let error as LoadTestError {
            throw LoadTestError("profile '\(path)': \(error.description)")
        } catch {
            throw LoadTestError("profile '\(path)': \(error)")
        }
    }

    func validate() throws {
        guard ["tenders", "auctions"].contains(resource) else {
            throw LoadTestError("resource must be tenders or auctions, got '\(resource)'")
        }
        guard auctions >= 1 else { throw LoadTestError("auctions must be at least 1") }
        guard (2...30).contains(biddersPerAuction) else {
            throw LoadTestError("biddersPerAuction must be 2…30 (an auction needs two bids)")
        }
        guard observersPerAuction >= 0 else { throw LoadTestError("observersPerAuction must not be negative") }
        guard accelerator >= 1 else { throw LoadTestError("accelerator must be at least 1") }
        guard startAfterSeconds >= 1 else { throw LoadTestError("startAfterSeconds must be at least 1") }
        guard (1...4).contains(auctiondProcesses) else { throw LoadTestError("auctiondProcesses must be 1…4") }
        guard (1...8).contains(observerThreads) else { throw LoadTestError("observerThreads must be 1…8") }
        if let chaos {
            guard chaos.auctiondKills >= 0, chaos.redisKills >= 0 else { throw LoadTestError("chaos: kills must not be negative") }
            guard chaos.minimumPauseSeconds > 0, chaos.maximumPauseSeconds >= chaos.minimumPauseSeconds else {
                throw LoadTestError("chaos: minimumPauseSeconds must be above 0 and at most maximumPauseSeconds")
            }
            guard chaos.downSeconds >= 0 else { throw LoadTestError("chaos: downSeconds must not be negative") }
            guard chaos.auctiondKills == 0 || auctiondProcesses >= 2 else {
                throw LoadTestError("chaos: killing auctiond needs auctiondProcesses ≥ 2, so that one serves while another restarts")
            }
        }
        guard stormBidsPerSecond >= 0, stormBidsPerSecond <= 20 else {
            throw LoadTestError("stormBidsPerSecond must be 0…20 (the service allows 20 messages a second per connection)")
        }
    }

    public var connectionsPerAuction: Int { biddersPerAuction + observersPerAuction }
}

public struct LoadTestError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
