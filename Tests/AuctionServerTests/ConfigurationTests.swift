import AuctionRuntime
import AuctionServer
import AuctionTesting
import Foundation
import Testing

@Suite struct ConfigurationTests {
    @Test func theYAMLFileDocumentsExactlyTheKnownKeysWithTheirDefaults() throws {
        let text = try String(contentsOfFile: "Config/auctiond.yaml", encoding: .utf8)
        // A tiny reader for this file's shape (two levels, `key: value`), independent of Yams.
        var keys: [String] = []
        var section = ""
        for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).hasPrefix("#") {
            let indented = line.hasPrefix("  ")
            let parts = line.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map
            {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard parts.count == 2 else { continue }
            if parts[1].isEmpty {
                section = parts[0]
                continue
            }
            if !indented { section = "" }
            keys.append(section.isEmpty ? parts[0] : "\(section).\(parts[0])")
        }
        #expect(keys == Configuration.keys, "every key, in the struct's order")
        #expect(try Configuration(yaml: text, fileName: "auctiond.yaml", environment: [:]) == Configuration(), "with the struct's defaults")
    }

    @Test func environmentVariablesOverrideTheFileAndTheProtocolNamesHold() throws {
        for (key, variable) in [
            ("listen", "AUCTIOND_LISTEN"), ("publicUrl", "AUCTIOND_PUBLIC_URL"), ("redisUrl", "AUCTIOND_REDIS_URL"),
            ("apiUrl", "AUCTIOND_API_URL"), ("apiToken", "AUCTIOND_API_TOKEN"), ("apiResources", "AUCTIOND_API_RESOURCES"),
            ("hashSecrets", "AUCTIOND_HASH_SECRETS"), ("adminToken", "AUCTIOND_ADMIN_TOKEN"), ("feed", "AUCTIOND_FEED"),
            ("redisDurability", "AUCTIOND_REDIS_DURABILITY"), ("webDir", "AUCTIOND_WEB_DIR"),
            ("limits.maxConnectionsPerIp", "AUCTIOND_LIMITS_MAX_CONNECTIONS_PER_IP"),
        ] {
            #expect(Configuration.keys.contains(key))
            #expect(Configuration.environmentName(of: key) == variable)
        }
        let config = try Configuration(
            yaml: "listen: 0.0.0.0:1\nworkers: 2\nfeed: on\nlimits:\n  maxQueuedBids: 7\n", fileName: "x.yaml",
            environment: ["AUCTIOND_LISTEN": "127.0.0.1:9", "AUCTIOND_HASH_SECRETS": "a, b", "AUCTIOND_FEED": "off", "PATH": "/bin"])
        #expect(config.listen == "127.0.0.1:9")
        #expect(config.workers == 2)
        #expect(config.limits.maxQueuedBids == 7)
        #expect(config.hashSecretList == ["a", "b"])
        #expect(config.feed == false)
    }

    @Test func badValuesAndUnknownKeysAreNamedWithWhereTheyCameFrom() throws {
        func refusal(_ yaml: String? = nil, _ environment: [String: String] = [:]) -> String {
            do {
                _ = try Configuration(yaml: yaml, fileName: "x.yaml", environment: environment)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(refusal("nope: 1") == "x.yaml: unknown key 'nope' (see Config/auctiond.yaml for the keys)")
        #expect(
            refusal("limits:\n  maxConection: 5") == "x.yaml: unknown key 'limits.maxConection' (see Config/auctiond.yaml for the keys)")
        #expect(refusal(nil, ["AUCTIOND_MAX_CONECTIONS": "5"]).hasPrefix("AUCTIOND_MAX_CONECTIONS: unknown variable"))
        #expect(refusal(nil, ["AUCTIOND_WORKERS": "many"]) == "AUCTIOND_WORKERS: 'many' is not a whole number in 1...64")
        #expect(refusal(nil, ["AUCTIOND_FEED": "maybe"]) == "AUCTIOND_FEED: 'maybe' is not on or off")
        #expect(
            refusal(nil, ["AUCTIOND_REDIS_DURABILITY": "sometimes"]) == "AUCTIOND_REDIS_DURABILITY: 'sometimes' is not required or relaxed")
        #expect(
            refusal("logLevel: loud") == "x.yaml key logLevel: 'loud' is not one of trace, debug, info, notice, warning, error, critical")
        #expect(refusal("limits:\n  maxConnections: 0") == "x.yaml key limits.maxConnections: '0' is not a whole number in 1...1000000")
        #expect(refusal("retentionDays: -1") == "x.yaml key retentionDays: '-1' is not a number in 1e-05...3650.0")
        #expect(refusal("limits: 5") == "x.yaml: 'limits' is not a mapping of keys to values")
        #expect(refusal("workers: [1, 2]") == "x.yaml key workers: a list is not a value here")
        #expect(refusal("workers: 2\n  - :").hasPrefix("x.yaml is not valid YAML"))
    }

    /// Starts auctiond with `environment` (and a hash secret) and returns its log once it has
    /// stopped; nil if it is still running after the wait.
    private func logOfARefusedStart(_ environment: [String: String], arguments: [String] = ["serve"]) throws -> String? {
        let folder = makeTemporaryDirectory("config")
        let process = try ManagedProcess(
            executable: builtProduct("auctiond"), arguments: arguments,
            environment: environment.merging(["AUCTIOND_HASH_SECRETS": AuctiondProcess.hashSecret]) { given, _ in given },
            logPath: folder + "/log")
        return waitUntil { !process.isRunning } ? process.log : nil
    }

    @Test func auctiondRefusesABadConfigurationWithAClearMessage() throws {
        let log = try logOfARefusedStart(["AUCTIOND_LIMITS_MAX_CONNECTIONS": "-5"])
        #expect(log?.contains("AUCTIOND_LIMITS_MAX_CONNECTIONS: '-5' is not a whole number") == true)
    }

    @Test func theDocumentServiceNeedsItsURL() throws {
        let withoutURL = try logOfARefusedStart(["AUCTIOND_AUDIT_UPLOAD": "documentService"])
        #expect(
            withoutURL?.contains(
                "auditUpload is documentService, so documentServiceUrl must be the document service's http(s) URL, got ''") == true)
        let misspelt = try logOfARefusedStart(["AUCTIOND_AUDIT_UPLOAD": "docservice"])
        #expect(misspelt?.contains("AUCTIOND_AUDIT_UPLOAD") == true, "\(misspelt ?? "still running")")
    }

    @Test func auctiondRefusesAnUnknownKeyInItsFile() throws {
        let folder = makeTemporaryDirectory("config")
        try "limits:\n  maxConection: 5\n".write(toFile: folder + "/auctiond.yaml", atomically: true, encoding: .utf8)
        let log = try logOfARefusedStart([:], arguments: ["serve", "--config", folder + "/auctiond.yaml"])
        #expect(log?.contains("unknown key 'limits.maxConection'") == true, "\(log ?? "still running")")
    }
}
