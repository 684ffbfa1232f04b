import AuctionRuntime
import AuctionServer
import AuctionTesting
import Foundation
import Testing

@Suite struct ConfigurationTests {
    @Test func theYAMLFileDocumentsExactlyTheKnownKeysWithTheirDefaults() throws {
        let text = try String(contentsOfFile: "Config/auctiond.yaml", encoding: .utf8)
        // A tiny reader for this file's shape (two levels, `key: value`), independent of Yams.
        var file: [String: String] = [:]
        var section = ""
        for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).hasPrefix("#") {
            let indented = line.hasPrefix("  ")
            let parts = line.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[1].isEmpty { section = parts[0]; continue }
            if !indented { section = "" }
            file[section.isEmpty ? parts[0] : "\(section).\(parts[0])"] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        let defaults = Dictionary(uniqueKeysWithValues: Configuration.defaults.map { ($0.key, $0.value) })
        #expect(file == defaults)
    }

    @Test func environmentVariablesOverrideTheFileAndTheProtocolNamesHold() throws {
        for (key, variable) in [
            ("listen", "AUCTIOND_LISTEN"), ("publicUrl", "AUCTIOND_PUBLIC_URL"), ("redisUrl", "AUCTIOND_REDIS_URL"),
            ("apiUrl", "AUCTIOND_API_URL"), ("apiToken", "AUCTIOND_API_TOKEN"), ("apiResources", "AUCTIOND_API_RESOURCES"),
            ("hashSecrets", "AUCTIOND_HASH_SECRETS"), ("adminToken", "AUCTIOND_ADMIN_TOKEN"), ("feed", "AUCTIOND_FEED"),
            ("webDir", "AUCTIOND_WEB_DIR"), ("limits.maxConnectionsPerIp", "AUCTIOND_LIMITS_MAX_CONNECTIONS_PER_IP"),
        ] {
            #expect(Configuration.environmentName(of: key) == variable)
        }
        let config = try Configuration(
            file: ["listen": "0.0.0.0:1", "workers": "2"], fileName: "x.yaml", environment: ["AUCTIOND_LISTEN": "127.0.0.1:9", "AUCTIOND_HASH_SECRETS": "a, b"])
        #expect(config.string("listen") == "127.0.0.1:9")
        #expect(try config.integer("workers") == 2)
        #expect(config.list("hashSecrets") == ["a", "b"])
        #expect(try config.flag("feed") == false)
    }

    @Test func badValuesAreNamedWithWhereTheyCameFrom() throws {
        #expect { try Configuration(file: ["nope": "1"], fileName: "x.yaml", environment: [:]) } throws: {
            "\($0)" == "x.yaml: unknown key 'nope' (see Config/auctiond.yaml for the keys)"
        }
        let config = try Configuration(environment: ["AUCTIOND_WORKERS": "many", "AUCTIOND_FEED": "maybe"])
        #expect { try config.integer("workers", in: 1...64) } throws: { "\($0)" == "AUCTIOND_WORKERS: 'many' is not a whole number in 1...64" }
        #expect { try config.flag("feed") } throws: { "\($0)" == "AUCTIOND_FEED: 'maybe' is not on or off" }
    }

    @Test func auctiondRefusesABadConfigurationWithAClearMessage() throws {
        let folder = makeTemporaryDirectory("config")
        let process = try ManagedProcess(
            executable: builtProduct("auctiond"), arguments: ["serve"],
            environment: ["AUCTIOND_LIMITS_MAX_CONNECTIONS": "-5", "AUCTIOND_HASH_SECRETS": AuctiondProcess.hashSecret],
            logPath: folder + "/log")
        #expect(waitUntil { !process.isRunning })
        #expect(process.log.contains("AUCTIOND_LIMITS_MAX_CONNECTIONS: '-5' is not a whole number"))
    }
}

@Suite struct ParticipationTokenTests {
    @Test func aTokenIsTheFirst32HexDigitsOfTheHMACOfAuctionAndBid() {
        let tokens = ParticipationTokens(secrets: ["key"])
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") starts f7bc83f430538424b13298e6aa6fb143.
        #expect(tokens.token(auctionId: "The quick brown fox jumps over the lazy dog", bidId: "").count == 32)
        let token = tokens.token(auctionId: "a", bidId: "b")
        #expect(token.allSatisfy { $0.isHexDigit })
        #expect(tokens.verify(token, auctionId: "a", bidId: "b"))
        #expect(!tokens.verify(token, auctionId: "a", bidId: "c"))
        #expect(!tokens.verify(String(token.dropLast()), auctionId: "a", bidId: "b"))
        #expect(tokens.participationURL(auctionURL: "http://x/tenders/a", auctionId: "a", bidId: "b") == "http://x/tenders/a?key_for_bid=b&hash=\(token)")
    }

    @Test func everyConfiguredSecretVerifiesAndTheFirstSigns() {
        let old = ParticipationTokens(secrets: ["old"])
        let rotated = ParticipationTokens(secrets: ["new", "old"])
        #expect(rotated.verify(old.token(auctionId: "a", bidId: "b"), auctionId: "a", bidId: "b"))
        #expect(rotated.token(auctionId: "a", bidId: "b") == ParticipationTokens(secrets: ["new"]).token(auctionId: "a", bidId: "b"))
        #expect(!ParticipationTokens(secrets: ["other"]).verify(old.token(auctionId: "a", bidId: "b"), auctionId: "a", bidId: "b"))
    }
}

@Suite struct TLSTests {
    @Test func withACertificateAndKeyTheServiceSpeaksHTTPS() throws {
        let folder = makeTemporaryDirectory("tls")
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", folder + "/key.pem", "-out", folder + "/cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1"]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        let redis = try RedisServer()
        let port = freeLoopbackPort()
        let daemon = try ManagedProcess(
            executable: builtProduct("auctiond"), arguments: ["serve"],
            environment: [
                "AUCTIOND_LISTEN": "127.0.0.1:\(port)", "AUCTIOND_REDIS_URL": redis.url, "AUCTIOND_TLS_CERTIFICATE": folder + "/cert.pem",
                "AUCTIOND_TLS_PRIVATE_KEY": folder + "/key.pem", "AUCTIOND_WEB_DIR": folder,
                "AUCTIOND_HASH_SECRETS": AuctiondProcess.hashSecret, "AUCTIOND_REDIS_DURABILITY": "relaxed",
            ],
            logPath: folder + "/auctiond.log")
        defer { daemon.stop() }
        func curl(_ url: String) -> String {
            let process = Process()
            let pipe = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments = ["-sk", "-m", "2", url]
            process.standardOutput = pipe
            try? process.run()
            process.waitUntilExit()
            return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        #expect(waitUntil { curl("https://127.0.0.1:\(port)/healthz").contains("\"status\":\"ok\"") }, "\(daemon.log)")
        #expect(blockingHTTP("GET", port: port, path: "/healthz")?.status != 200, "plain HTTP must not be served on a TLS port")
    }
}
