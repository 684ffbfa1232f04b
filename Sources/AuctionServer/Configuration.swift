// The service's configuration: Config/auctiond.yaml, overridden by AUCTIOND_* environment
// variables. Every key, its default and its variable are listed here once; the YAML file documents
// them and a test keeps the two in step.
import AuctionCore
import Foundation

public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

public struct Configuration: Sendable {
    /// Every key with its default, in the file's order.
    public static let defaults: [(key: String, value: String)] = [
        ("listen", "127.0.0.1:8090"), ("publicUrl", "http://127.0.0.1:8090"), ("redisUrl", "redis://127.0.0.1:6390/0"), ("redisDurability", "required"),
        ("apiUrl", "http://127.0.0.1:6543/api/2.5"), ("apiToken", "auction"), ("apiResources", "tenders,auctions"),
        ("apiTimeoutSeconds", "10"), ("apiRetrySeconds", "10"),
        ("hashSecrets", ""), ("adminToken", ""), ("feed", "off"), ("feedIntervalMilliseconds", "2000"), ("syncIntervalMilliseconds", "500"), ("webDir", "Web"), ("logLevel", "info"),
        ("shareListeningPort", "true"), ("webThreads", "1"), ("tlsCertificate", ""), ("tlsPrivateKey", ""),
        ("limits.maxMessageBytes", "4096"), ("limits.messagesPerSecond", "20"), ("limits.violationsBeforeClose", "3"),
        ("limits.maxConnections", "10000"), ("limits.maxConnectionsPerIp", "100"), ("limits.maxConnectionsPerLink", "5"), ("limits.maxRequestBodyBytes", "1048576"),
        ("limits.maxQueuedFrames", "1024"), ("limits.maxQueuedBids", "1000"), ("limits.maxBidWaitMilliseconds", String(defaultMaxBidWaitMilliseconds)), ("limits.pingAfterSeconds", "10"), ("limits.hangUpAfterSeconds", "30"),
        ("clock.leaseTtlMilliseconds", "5000"), ("clock.leaseRenewalMilliseconds", "1000"),
        ("clock.outageThresholdMilliseconds", "3000"), ("clock.heartbeatMilliseconds", "1000"),
        ("schedule.lowestCostFirstPauseSeconds", "300"), ("schedule.lowestCostPauseSeconds", "120"),
        ("schedule.lowestCostTurnSeconds", "120"), ("schedule.highestCostFirstPauseSeconds", "300"),
        ("schedule.highestCostPauseSeconds", "180"), ("schedule.highestCostTurnSeconds", "180"),
        ("schedule.maxOutageShiftSeconds", "120"), ("workers", "4"), ("indexRefreshMilliseconds", "1000"),
        ("retentionDays", "30"), ("memoryGraceSeconds", "3600"),
    ]

    /// The value of each key, and where it came from (for error messages).
    private var values: [String: (value: String, source: String)]

    /// - Parameters:
    ///   - file: the YAML text's flattened keys (`limits.maxConnections` → "10000"), if a file was read.
    ///   - environment: the process environment.
    public init(file: [String: String] = [:], fileName: String = "defaults", environment: [String: String]) throws(ConfigurationError) {
        let known = Set(Self.defaults.map(\.key))
        if let unknown = file.keys.filter({ !known.contains($0) }).sorted().first {
            throw ConfigurationError(description: "\(fileName): unknown key '\(unknown)' (see Config/auctiond.yaml for the keys)")
        }
        values = [:]
        for (key, value) in Self.defaults {
            let variable = Self.environmentName(of: key)
            if let override = environment[variable], !override.isEmpty {
                values[key] = (override, variable)
            } else if let fromFile = file[key] {
                values[key] = (fromFile, "\(fileName) key \(key)")
            } else {
                values[key] = (value, "the default of \(key)")
            }
        }
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

    public func string(_ key: String) -> String { values[key]?.value ?? "" }

    public func integer(_ key: String, in range: ClosedRange<Int> = 0...Int.max) throws(ConfigurationError) -> Int {
        let (text, source) = values[key] ?? ("", key)
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ConfigurationError(description: "\(source): '\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A number, fractions allowed (`retentionDays: 0.5`).
    public func number(_ key: String, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        let (text, source) = values[key] ?? ("", key)
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite, range.contains(value) else {
            throw ConfigurationError(description: "\(source): '\(text)' is not a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    public func flag(_ key: String) throws(ConfigurationError) -> Bool {
        let (text, source) = values[key] ?? ("", key)
        switch text.lowercased() {
        case "on", "true", "yes", "1": return true
        case "off", "false", "no", "0", "": return false
        default: throw ConfigurationError(description: "\(source): '\(text)' is not on or off")
        }
    }

    public func list(_ key: String) -> [String] {
        string(key).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Flattens a parsed YAML mapping: nested mappings become dotted keys, scalars text.
    public static func flatten(_ value: Any, prefix: String = "") throws(ConfigurationError) -> [String: String] {
        guard let mapping = value as? [String: Any] else {
            throw ConfigurationError(description: "the configuration must be a mapping of keys to values")
        }
        var flat: [String: String] = [:]
        for (key, item) in mapping {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            if item is [String: Any] {
                for (k, v) in try flatten(item, prefix: path) { flat[k] = v }
            } else if let bool = item as? Bool {
                flat[path] = bool ? "true" : "false"
            } else {
                flat[path] = "\(item)"
            }
        }
        return flat
    }
}
