// The service's configuration: one typed value decoded from Config/auctiond.yaml, with AUCTIOND_*
// environment variables over it. Every key, its type and its default are declared here once; the
// YAML file documents them and a test keeps the two in step. An unknown key, an unknown AUCTIOND_
// variable or a bad value stops auctiond at start-up with a message that names it.
import AuctionCore
import Foundation
import Yams

public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

public struct Configuration: Codable, Sendable, Equatable {
    public var listen = "127.0.0.1:8090"
    public var publicUrl = "http://127.0.0.1:8090"
    public var redisUrl = "redis://127.0.0.1:6390/0"
    public var redisDurability = RedisDurability.required
    public var redisReplicasToAck = 0
    public var redisReplicaAckMilliseconds = 500
    public var apiUrl = "http://127.0.0.1:6543/api/2.5"
    public var apiToken = "auction"
    public var apiResources = "tenders,auctions"
    public var apiTimeoutSeconds = 10
    public var apiRetrySeconds = 10
    public var auditUpload = AuditUpload.multipart
    public var documentServiceUrl = ""
    public var documentServiceUser = ""
    public var documentServicePassword = ""
    public var hashSecrets = ""
    public var adminToken = ""
    public var feed = false
    public var feedIntervalMilliseconds = 2000
    public var syncIntervalMilliseconds = 500
    public var webDir = "Web"
    public var logLevel = LogLevel.info
    public var shareListeningPort = true
    public var webThreads = 1
    public var tlsCertificate = ""
    public var tlsPrivateKey = ""
    public var limits = Limits()
    public var clock = Clock()
    public var schedule = Schedule()
    public var workers = 4
    public var indexRefreshMilliseconds = 1000
    public var retentionDays = 30.0
    public var memoryGraceSeconds = 3600

    public struct Limits: Codable, Sendable, Equatable {
        public var maxMessageBytes = 4096
        public var messagesPerSecond = 20
        public var violationsBeforeClose = 3
        public var maxConnections = 10_000
        public var maxConnectionsPerIp = 100
        public var maxConnectionsPerLink = 5
        public var requestsPerIpPerSecond = 50
        public var maxRequestBodyBytes = 1_048_576
        public var maxQueuedFrames = 1024
        public var maxQueuedBids = 1000
        public var maxBidWaitMilliseconds = Int(defaultMaxBidWaitMilliseconds)
        public var pingAfterSeconds = 10
        public var hangUpAfterSeconds = 30
    }

    public struct Clock: Codable, Sendable, Equatable {
        public var leaseTtlMilliseconds = 5000
        public var leaseRenewalMilliseconds = 1000
        public var outageThresholdMilliseconds = 3000
        public var heartbeatMilliseconds = 1000
    }

    public struct Schedule: Codable, Sendable, Equatable {
        public var lowestCostFirstPauseSeconds = 300
        public var lowestCostPauseSeconds = 120
        public var lowestCostTurnSeconds = 120
        public var highestCostFirstPauseSeconds = 300
        public var highestCostPauseSeconds = 180
        public var highestCostTurnSeconds = 180
        public var maxOutageShiftSeconds = 120
    }

    public enum RedisDurability: String, ConfigurationChoice { case required, relaxed }
    public enum AuditUpload: String, ConfigurationChoice { case multipart, documentService }
    public enum LogLevel: String, ConfigurationChoice { case trace, debug, info, notice, warning, error, critical }

    /// The whole numbers' bounds, checked after decoding.
    static let wholeNumberBounds: [(key: String, value: any KeyPath<Configuration, Int> & Sendable, range: ClosedRange<Int>)] = [
        ("apiTimeoutSeconds", \.apiTimeoutSeconds, 1...600), ("apiRetrySeconds", \.apiRetrySeconds, 0...3600),
        ("redisReplicasToAck", \.redisReplicasToAck, 0...16), ("redisReplicaAckMilliseconds", \.redisReplicaAckMilliseconds, 1...60_000),
        ("feedIntervalMilliseconds", \.feedIntervalMilliseconds, 10...3_600_000),
        ("syncIntervalMilliseconds", \.syncIntervalMilliseconds, 10...3_600_000), ("webThreads", \.webThreads, 1...64),
        ("limits.maxMessageBytes", \.limits.maxMessageBytes, 256...1 << 20),
        ("limits.messagesPerSecond", \.limits.messagesPerSecond, 1...10_000),
        ("limits.violationsBeforeClose", \.limits.violationsBeforeClose, 1...1000),
        ("limits.maxConnections", \.limits.maxConnections, 1...1_000_000),
        ("limits.maxConnectionsPerIp", \.limits.maxConnectionsPerIp, 1...1_000_000),
        ("limits.maxConnectionsPerLink", \.limits.maxConnectionsPerLink, 1...1000),
        ("limits.requestsPerIpPerSecond", \.limits.requestsPerIpPerSecond, 0...1_000_000),
        ("limits.maxRequestBodyBytes", \.limits.maxRequestBodyBytes, 1024...1 << 26),
        ("limits.maxQueuedFrames", \.limits.maxQueuedFrames, 8...1 << 20),
        ("limits.maxQueuedBids", \.limits.maxQueuedBids, 1...1_000_000),
        ("limits.maxBidWaitMilliseconds", \.limits.maxBidWaitMilliseconds, 0...10_000),
        ("limits.pingAfterSeconds", \.limits.pingAfterSeconds, 1...3600),
        ("limits.hangUpAfterSeconds", \.limits.hangUpAfterSeconds, 2...7200),
        ("clock.leaseTtlMilliseconds", \.clock.leaseTtlMilliseconds, 100...600_000),
        ("clock.leaseRenewalMilliseconds", \.clock.leaseRenewalMilliseconds, 50...600_000),
        ("clock.outageThresholdMilliseconds", \.clock.outageThresholdMilliseconds, 100...600_000),
        ("clock.heartbeatMilliseconds", \.clock.heartbeatMilliseconds, 50...600_000),
        ("schedule.lowestCostFirstPauseSeconds", \.schedule.lowestCostFirstPauseSeconds, 0...86_400),
        ("schedule.lowestCostPauseSeconds", \.schedule.lowestCostPauseSeconds, 0...86_400),
        ("schedule.lowestCostTurnSeconds", \.schedule.lowestCostTurnSeconds, 0...86_400),
        ("schedule.highestCostFirstPauseSeconds", \.schedule.highestCostFirstPauseSeconds, 0...86_400),
        ("schedule.highestCostPauseSeconds", \.schedule.highestCostPauseSeconds, 0...86_400),
        ("schedule.highestCostTurnSeconds", \.schedule.highestCostTurnSeconds, 0...86_400),
        ("schedule.maxOutageShiftSeconds", \.schedule.maxOutageShiftSeconds, 0...86_400),
        ("workers", \.workers, 1...64), ("indexRefreshMilliseconds", \.indexRefreshMilliseconds, 10...600_000),
        ("memoryGraceSeconds", \.memoryGraceSeconds, 0...30 * 86_400),
    ]
    static let numberBounds: [(key: String, value: any KeyPath<Configuration, Double> & Sendable, range: ClosedRange<Double>)] = [
        ("retentionDays", \.retentionDays, 0.000_01...3650)
    ]

    /// The defaults.
    public init() {}

    /// Decodes the configuration.
    /// - Parameters:
    ///   - yaml: the configuration file's text, if a file was read.
    ///   - fileName: the file's name, for error messages.
    ///   - environment: the process environment; `AUCTIOND_*` variables win over the file.
    public init(yaml: String? = nil, fileName: String = "defaults", environment: [String: String]) throws(ConfigurationError) {
        let known = Set(Self.keys)
        var values = Dictionary(uniqueKeysWithValues: Self.defaults.map { ($0.key, (text: $0.text, source: "the default of \($0.key)")) })
        if let yaml {
            let parsed: Any?
            do { parsed = try Yams.load(yaml: yaml) } catch {
                throw ConfigurationError(description: "\(fileName) is not valid YAML: \(error)")
            }
            for (key, text) in try Self.flatten(parsed ?? [String: Any](), fileName: fileName) {
                guard known.contains(key) else {
                    if known.contains(where: { $0.hasPrefix(key + ".") }) {
                        throw ConfigurationError(description: "\(fileName): '\(key)' is not a mapping of keys to values")
                    }
                    throw ConfigurationError(description: "\(fileName): unknown key '\(key)' (see Config/auctiond.yaml for the keys)")
                }
                values[key] = (text, "\(fileName) key \(key)")
            }
        }
        let variables = Dictionary(uniqueKeysWithValues: Self.keys.map { (Self.environmentName(of: $0), $0) })
        for (variable, text) in environment where variable.hasPrefix("AUCTIOND_") && variable != "AUCTIOND_CONFIG" {
            guard let key = variables[variable] else {
                throw ConfigurationError(
                    description: "\(variable): unknown variable (see Config/auctiond.yaml for the keys; AUCTIOND_CONFIG names the file)")
            }
            if !text.isEmpty { values[key] = (text, variable) }
        }
        self = try Self.decode(values)
        try checkBounds(values)
    }

    /// `limits.maxConnections` → `AUCTIOND_LIMITS_MAX_CONNECTIONS`.
    public static func environmentName(of key: String) -> String {
        var name = "AUCTIOND"
        for part in key.split(separator: ".") {
            name += "_"
            for character in part {
                if character.isUppercase { name += "_" }
                name += character.uppercased()
            }
        }
        return name
    }

    /// Every key, dotted (`limits.maxConnections`), in the file's order.
    public static var keys: [String] { defaults.map(\.key) }

    /// Every key with its default as text, in the file's order. The defaults encoded say which
    /// keys there are: nothing to keep in step by hand.
    public static let defaults: [(key: String, text: String)] = {
        guard let yaml = try? YAMLEncoder().encode(Configuration()), let node = try? Yams.compose(yaml: yaml) else { return [] }
        func leaves(_ node: Node, _ prefix: String) -> [(key: String, text: String)] {
            guard let mapping = node.mapping else { return [(prefix, node.scalar?.string ?? "")] }
            return mapping.flatMap { key, value in leaves(value, prefix.isEmpty ? key.string ?? "" : "\(prefix).\(key.string ?? "")") }
        }
        return leaves(node, "")
    }()

    /// The hash secrets, the first of which signs.
    public var hashSecretList: [String] { Self.list(hashSecrets) }
    public var apiResourceList: [String] { Self.list(apiResources) }

    private static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    // MARK: - Decoding

    /// Nested mappings become dotted keys, scalars text.
    private static func flatten(_ value: Any, prefix: String = "", fileName: String) throws(ConfigurationError) -> [String: String] {
        guard let mapping = value as? [String: Any] else {
            throw ConfigurationError(
                description: "\(fileName): \(prefix.isEmpty ? "the file" : "'\(prefix)'") is not a mapping of keys to values")
        }
        var flat: [String: String] = [:]
        for (key, item) in mapping {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            if item is [String: Any] {
                for (k, v) in try flatten(item, prefix: path, fileName: fileName) { flat[k] = v }
            } else if let bool = item as? Bool {
                flat[path] = bool ? "true" : "false"
            } else if item is [Any] {
                throw ConfigurationError(description: "\(fileName) key \(path): a list is not a value here")
            } else {
                flat[path] = "\(item)"
            }
        }
        return flat
    }

    /// The defaults with `values` over them, decoded; a value of the wrong type is named.
    private static func decode(_ values: [String: (text: String, source: String)]) throws(ConfigurationError) -> Configuration {
        func node(_ prefix: String) -> Node {
            var pairs: [(Node, Node)] = []
            var sections: [String] = []
            for key in values.keys.sorted() where prefix.isEmpty || key.hasPrefix(prefix + ".") {
                let rest = prefix.isEmpty ? key : String(key.dropFirst(prefix.count + 1))
                if let dot = rest.firstIndex(of: ".") {
                    let section = String(rest[..<dot])
                    if !sections.contains(section) { sections.append(section) }
                } else {
                    pairs.append((Node(rest), Node(values[key]!.text)))
                }
            }
            for section in sections { pairs.append((Node(section), node(prefix.isEmpty ? section : "\(prefix).\(section)"))) }
            return Node.mapping(Node.Mapping(pairs))
        }
        do {
            return try YAMLDecoder().decode(Configuration.self, from: try Yams.serialize(node: node("")))
        } catch let error as DecodingError {
            let (path, expected): ([any CodingKey], String) =
                switch error {
                case .typeMismatch(let type, let context): (context.codingPath, Self.phrase(for: type))
                case .dataCorrupted(let context): (context.codingPath, context.debugDescription)
                case .keyNotFound(_, let context), .valueNotFound(_, let context): (context.codingPath, "a value")
                @unknown default: ([], "a value")
                }
            let key = path.map(\.stringValue).joined(separator: ".")
            let (text, source) = values[key] ?? ("", key)
            throw ConfigurationError(description: "\(source): '\(text)' is not \(expected)\(bounds(of: key))")
        } catch {
            throw ConfigurationError(description: "the configuration cannot be read: \(error)")
        }
    }

    private static func phrase(for type: Any.Type) -> String {
        switch type {
        case is Int.Type: "a whole number"
        case is Double.Type: "a number"
        case is Bool.Type: "on or off"
        default: "a \(type)"
        }
    }

    private static func bounds(of key: String) -> String {
        if let bound = wholeNumberBounds.first(where: { $0.key == key }) {
            return " in \(bound.range.lowerBound)...\(bound.range.upperBound)"
        }
        if let bound = numberBounds.first(where: { $0.key == key }) { return " in \(bound.range.lowerBound)...\(bound.range.upperBound)" }
        return ""
    }

    private func checkBounds(_ values: [String: (text: String, source: String)]) throws(ConfigurationError) {
        func source(_ key: String) -> (String, String) { values[key] ?? ("", key) }
        for bound in Self.wholeNumberBounds where !bound.range.contains(self[keyPath: bound.value]) {
            let (text, from) = source(bound.key)
            throw ConfigurationError(description: "\(from): '\(text)' is not a whole number\(Self.bounds(of: bound.key))")
        }
        for bound in Self.numberBounds where !(bound.range.contains(self[keyPath: bound.value]) && self[keyPath: bound.value].isFinite) {
            let (text, from) = source(bound.key)
            throw ConfigurationError(description: "\(from): '\(text)' is not a number\(Self.bounds(of: bound.key))")
        }
    }
}

/// A key whose value is one of a few words; any other is named with the words it may be.
public protocol ConfigurationChoice: Codable, Sendable, CaseIterable, RawRepresentable where RawValue == String {}

extension ConfigurationChoice {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: text) else {
            let words = Self.allCases.map(\.rawValue)
            let phrase = words.count == 2 ? words.joined(separator: " or ") : "one of " + words.joined(separator: ", ")
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: phrase))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
