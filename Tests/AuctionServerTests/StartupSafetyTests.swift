import AuctionServer
import AuctionTesting
import Foundation
import Testing

/// Issue 19, items 11 and 12: auctiond refuses unsafe defaults at start, with an error that names
/// the setting and the fix (real auctiond and redis-server processes).
@Suite struct StartupSafetyTests {
    /// Starts `auctiond serve` against `redis` with `environment` over safe test settings; returns
    /// the process once it has either exited or answered /healthz.
    private func start(_ redisURL: String, _ environment: [String: String]) throws -> (ManagedProcess, Int) {
        let folder = makeTemporaryDirectory("startup")
        let port = freeLoopbackPort()
        var base = [
            "AUCTIOND_LISTEN": "127.0.0.1:\(port)", "AUCTIOND_REDIS_URL": redisURL, "AUCTIOND_WEB_DIR": folder,
            "AUCTIOND_HASH_SECRETS": AuctiondProcess.hashSecret,
        ]
        base.merge(environment) { $1 }
        let process = try ManagedProcess(
            executable: builtProduct("auctiond"), arguments: ["serve"], environment: base, logPath: folder + "/log")
        _ = waitUntil(timeout: .seconds(15)) { !process.isRunning || blockingHTTP("GET", port: port, path: "/healthz")?.status == 200 }
        return (process, port)
    }

    @Test(arguments: [nil, "change-me", "s3cret", "short-secret"] as [String?])
    func aMissingPubliclyKnownOrShortParticipationSecretStopsTheStart(secret: String?) throws {
        let redis = try RedisServer(appendOnly: true)
        let (process, _) = try start(redis.url, ["AUCTIOND_HASH_SECRETS": secret ?? ""])
        #expect(waitUntil { !process.isRunning }, "auctiond started with the secret \(secret ?? "(none)")")
        #expect(process.log.contains("AUCTIOND_HASH_SECRETS"), "\(process.log)")
    }

    @Test func theExampleSecretOfTheConfigurationFileIsRefusedToo() throws {
        let redis = try RedisServer(appendOnly: true)
        let folder = makeTemporaryDirectory("startup-file")
        try "hashSecrets: change-me\n".write(toFile: folder + "/auctiond.yaml", atomically: true, encoding: .utf8)
        let (process, _) = try start(redis.url, ["AUCTIOND_HASH_SECRETS": "", "AUCTIOND_CONFIG": folder + "/auctiond.yaml"])
        #expect(waitUntil { !process.isRunning })
        #expect(process.log.contains("AUCTIOND_HASH_SECRETS (hashSecrets): 'change-me' is a publicly known example"), "\(process.log)")
    }

    @Test func aRedisWithoutTheAppendOnlyFileStopsTheStartNamingTheSettingAndTheFix() throws {
        let redis = try RedisServer()  // appendonly no
        let (process, _) = try start(redis.url, [:])
        #expect(waitUntil { !process.isRunning }, "auctiond started on a Redis that loses bids")
        #expect(process.log.contains("appendonly is 'no', it must be 'yes'"), "\(process.log)")
        #expect(process.log.contains("AUCTIOND_REDIS_DURABILITY=relaxed"), "\(process.log)")
    }

    @Test func anAppendOnlyFileThatIsNotFsyncedOnEveryWriteStopsTheStart() throws {
        let redis = try RedisServer(appendOnly: true, extraArguments: ["--appendfsync", "everysec"])
        let (process, _) = try start(redis.url, [:])
        #expect(waitUntil { !process.isRunning })
        #expect(process.log.contains("appendfsync is 'everysec', it must be 'always'"), "\(process.log)")
    }

    @Test func aDurableRedisStartsAndHealthSaysNothingOfDurability() throws {
        let redis = try RedisServer(appendOnly: true)
        let (process, port) = try start(redis.url, [:])
        defer { process.stop() }
        let health = try #require(blockingHTTP("GET", port: port, path: "/healthz"), "\(process.log)")
        #expect(health.status == 200)
        #expect(!health.body.contains("durability"), "\(health.body)")
    }

    @Test func relaxedStartsWithAWarningAndHealthShowsIt() throws {
        let redis = try RedisServer()
        let (process, port) = try start(redis.url, ["AUCTIOND_REDIS_DURABILITY": "relaxed"])
        defer { process.stop() }
        let health = try #require(blockingHTTP("GET", port: port, path: "/healthz"), "\(process.log)")
        #expect(health.status == 200)
        #expect(health.body.contains("\"durability\":\"relaxed\""), "\(health.body)")
        #expect(process.log.contains("would lose acknowledged bids"), "\(process.log)")
    }

    @Test func aRedisThatRefusesConfigGetIsLoggedAsUnverifiedAndServed() throws {
        let redis = try RedisServer(appendOnly: true, extraArguments: ["--rename-command", "CONFIG", ""])
        let (process, port) = try start(redis.url, [:])
        defer { process.stop() }
        #expect(blockingHTTP("GET", port: port, path: "/healthz")?.status == 200, "\(process.log)")
        #expect(process.log.contains("durability could not be verified"), "\(process.log)")
    }

    @Test func aPasswordInTheRedisURLLogsInAndIsNeverLogged() throws {
        let password = "pw-\(UUID().uuidString)"
        let redis = try RedisServer(appendOnly: true, extraArguments: ["--requirepass", password], password: password)
        #expect(redis.url.contains(password))
        let (process, port) = try start(redis.url, ["AUCTIOND_LOG_LEVEL": "trace"])
        defer { process.stop() }
        #expect(blockingHTTP("GET", port: port, path: "/healthz")?.status == 200, "\(process.log)")
        #expect(!process.log.contains(password))
        // Nor does a refused URL's error print it.
        let (refused, _) = try start("redis://:\(password)@127.0.0.1:\(redis.port)/not-a-db", [:])
        #expect(waitUntil { !refused.isRunning })
        #expect(refused.log.contains("AUCTIOND_REDIS_URL"), "\(refused.log)")
        #expect(!refused.log.contains(password))
    }

    @Test func withoutAnAdminTokenTheAdminRoutesAreOff() throws {
        let redis = try RedisServer(appendOnly: true)
        let (process, port) = try start(redis.url, ["AUCTIOND_ADMIN_TOKEN": ""])
        defer { process.stop() }
        for path in ["/api/v1/auctions/any/cancel", "/api/v1/auctions/any/plan"] {
            for headers in [[:], ["Authorization": "Bearer "]] as [[String: String]] {
                let answer = blockingHTTP("POST", port: port, path: path, headers: headers)
                #expect(answer?.status == 403, "\(path) \(headers)")
                #expect(answer?.body.contains("admin_disabled") == true)
            }
        }
    }

    @Test func theDefaultRedisURLIsThePortOfConfigRedisConf() throws {
        let conf = try String(contentsOfFile: "Config/redis.conf", encoding: .utf8)
        let port = try #require(conf.split(separator: "\n").first { $0.hasPrefix("port ") }?.split(separator: " ").last)
        #expect(Configuration().redisUrl == "redis://127.0.0.1:\(port)/0")
        #expect(Configuration().redisDurability == .required)
    }
}
