import AuctionTesting
import Foundation
import RedisClient
import Testing

@Suite struct RedisConnectionTests {
    @Test func repliesAreDecodedIntoTheirTypes() throws {
        let server = try RedisServer()
        let redis = try server.connect()
        #expect(try redis.execute("PING") == .status("PONG"))
        #expect(try redis.execute("INCRBY", "counter", "41") == .integer(41))
        #expect(try redis.execute("GET", "missing") == .null)
        try redis.execute("RPUSH", "list", "a", "b")
        #expect(try redis.execute("LRANGE", "list", "0", "-1") == .array([.bulk(Array("a".utf8)), .bulk(Array("b".utf8))]))
        #expect(try redis.execute("GET", "counter").integer == 41)
    }

    @Test func valuesAreBinarySafe() throws {
        let server = try RedisServer()
        let redis = try server.connect()
        let value: [UInt8] = [0, 255, 13, 10, 0, 36, 42]
        try redis.execute([Array("SET".utf8), Array("bin".utf8), value])
        #expect(try redis.execute("GET", "bin") == .bulk(value))
    }

    @Test func errorRepliesAreThrownWithRedisText() throws {
        let server = try RedisServer()
        let redis = try server.connect()
        try redis.execute("SET", "text", "x")
        #expect {
            try redis.execute("INCR", "text")
        } throws: { error in
            guard case RedisError.server(let message) = error else { return false }
            return message.hasPrefix("ERR value is not an integer")
        }
        #expect(throws: RedisError.self) { try redis.execute("NO-SUCH-COMMAND") }
        // The connection stays usable after an error reply.
        #expect(try redis.execute("PING") == .status("PONG"))
    }

    @Test func errorsInsideArraysStayValues() throws {
        let server = try RedisServer()
        let redis = try server.connect()
        let replies = try redis.pipeline([
            ["MULTI"].map { Array($0.utf8) }, ["SET", "k", "v"].map { Array($0.utf8) },
            ["INCR", "k"].map { Array($0.utf8) }, ["EXEC"].map { Array($0.utf8) },
        ])
        guard case .array(let results) = replies[3] else {
            Issue.record("EXEC gave \(replies[3])")
            return
        }
        #expect(results[0] == .status("OK"))
        guard case .error(let message) = results[1] else {
            Issue.record("expected an error, got \(results[1])")
            return
        }
        #expect(message.contains("not an integer"))
    }

    @Test func pipelineReturnsRepliesInOrder() throws {
        let server = try RedisServer()
        let redis = try server.connect()
        let commands = (1...100).map { _ in ["INCR", "n"].map { Array($0.utf8) } }
        let replies = try redis.pipeline(commands)
        #expect(replies == (1...100).map { RedisReply.integer(Int64($0)) })
    }

    @Test func refusedConnectionIsAClearError() {
        let port = freeLoopbackPort()  // nothing listens there
        #expect {
            try RedisConnection(endpoint: RedisEndpoint(host: "127.0.0.1", port: port))
        } throws: { error in
            guard case RedisError.connectionFailed(let address, let reason) = error else { return false }
            return address == "127.0.0.1:\(port)/0" && reason.contains("refused")
        }
    }

    @Test func reconnectsAfterTheServerRestarts() throws {
        let server = try RedisServer(appendOnly: true)
        let redis = try server.connect()
        try redis.execute("SET", "kept", "1")
        try server.restart()
        // The old socket is dead: the first call says so, and the next one reconnects.
        var firstError: RedisError?
        do { try redis.execute("PING") } catch { firstError = error }
        if let firstError {
            guard case .connectionLost = firstError else {
                Issue.record("unexpected \(firstError)")
                return
            }
        }
        #expect(try redis.execute("GET", "kept") == .bulk(Array("1".utf8)))
    }

    @Test func callWhileTheServerIsDownFailsThenRecovers() throws {
        let server = try RedisServer()
        let redis = try server.connect()
        server.stop()
        #expect(throws: RedisError.self) { try redis.execute("PING") }
        #expect {
            try redis.execute("PING")
        } throws: { error in
            if case RedisError.connectionFailed = error { return true }
            return false
        }
        try server.start()
        #expect(try redis.execute("PING") == .status("PONG"))
    }

    @Test func garbageFromThePeerIsAProtocolError() throws {
        let peer = try ScriptedPeer(reply: "HTTP/1.1 400 Bad Request\r\n\r\n")
        let redis = try RedisConnection(endpoint: RedisEndpoint(host: "127.0.0.1", port: peer.port))
        #expect {
            try redis.execute("PING")
        } throws: { error in
            if case RedisError.protocolError(_, let reason) = error { return reason.contains("Protocol error") }
            return false
        }
    }

    @Test func silentPeerTimesOut() throws {
        let peer = try ScriptedPeer(reply: nil)
        let redis = try RedisConnection(endpoint: RedisEndpoint(host: "127.0.0.1", port: peer.port), timeout: .milliseconds(300))
        let started = ContinuousClock.now
        #expect {
            try redis.execute("PING")
        } throws: { error in
            if case RedisError.connectionLost = error { return true }
            return false
        }
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test func subscriberReceivesPublishedMessagesAndTimesOutQuietly() throws {
        let server = try RedisServer()
        let subscriber = try server.connect()
        let publisher = try server.connect()
        try subscriber.execute("SUBSCRIBE", "events")
        #expect(try subscriber.nextPush(timeout: .milliseconds(100)) == nil)
        try publisher.execute("PUBLISH", "events", "hello")
        let push = try subscriber.nextPush(timeout: .seconds(2))
        #expect(push?.array?.map(\.string) == ["message", "events", "hello"])
    }

    @Test func selectsTheDatabaseOfTheURL() throws {
        let server = try RedisServer()
        let endpoint = try #require(RedisEndpoint(url: "redis://127.0.0.1:\(server.port)/3"))
        let redis = try RedisConnection(endpoint: endpoint)
        try redis.execute("SET", "db3", "yes")
        let other = try server.connect()
        #expect(try other.execute("GET", "db3") == .null)
        try other.execute("SELECT", "3")
        #expect(try other.execute("GET", "db3").string == "yes")
    }

    @Test func logsInWithThePasswordAndUserOfTheURL() throws {
        let server = try RedisServer(extraArguments: ["--requirepass", "s3cret pass"], password: "s3cret pass")
        let withPassword = try #require(RedisEndpoint(url: "redis://:s3cret%20pass@127.0.0.1:\(server.port)/2"))
        let redis = try RedisConnection(endpoint: withPassword)
        try redis.execute("SET", "k", "v")
        #expect(try redis.execute("GET", "k").string == "v")
        // An ACL user of its own.
        try redis.execute("ACL", "SETUSER", "auctiond", "on", ">pw-of-auctiond", "~*", "&*", "+@all")
        let asUser = try RedisConnection(
            endpoint: #require(RedisEndpoint(url: "redis://auctiond:pw-of-auctiond@127.0.0.1:\(server.port)/0")))
        #expect(try asUser.execute("ACL", "WHOAMI").string == "auctiond")
    }

    @Test func aWrongPasswordIsAConnectionErrorThatDoesNotNameIt() throws {
        let server = try RedisServer(extraArguments: ["--requirepass", "right"], password: "right")
        let wrong = try #require(RedisEndpoint(url: "redis://:not-the-one@127.0.0.1:\(server.port)/0"))
        #expect {
            _ = try RedisConnection(endpoint: wrong)
        } throws: { error in
            guard case RedisError.connectionFailed(_, let reason) = error else { return false }
            return reason.contains("AUTH") && !"\(error)".contains("not-the-one")
        }
        // Without a password the server's refusal is a plain error reply.
        let anonymous = try RedisConnection(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port))
        #expect(throws: RedisError.self) { try anonymous.execute("GET", "k") }
    }
}
