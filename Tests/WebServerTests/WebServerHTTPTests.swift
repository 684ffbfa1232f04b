import AuctionTesting
import Foundation
import Locking
import Synchronization
import Testing
import WebServer

/// Echoes every text message, answers HTTP from another thread, and records what happened.
final class EchoDelegate: WebServerDelegate {
    let sockets = Locked<[WebSocket]>([])
    let closedCount = Atomic<Int>(0)
    let messages = Locked<[String]>([])
    /// "hold" blocks the service thread until `release` is signalled, so a test can queue work
    /// behind it.
    let holding = Atomic<Bool>(false)
    let release = DispatchSemaphore(value: 0)

    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        // Answer from another thread, as the service does after a Redis call.
        DispatchQueue.global().async {
            switch request.path {
            case "/echo":
                let query = request.query.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
                let summary = "\(request.method.rawValue) \(request.path) ?\(query) body=\(request.body.count)"
                responder.respond(HTTPResponse(status: 200, text: summary))
            case "/big":
                responder.respond(HTTPResponse(status: 200, text: String(repeating: "x", count: 100_000)))
            default:
                responder.respond(HTTPResponse(status: 404, text: "no such path"))
            }
        }
    }

    func shouldUpgrade(_ request: HTTPRequest) -> UpgradeDecision {
        request.path.hasPrefix("/ws/") ? .accept : .reject(status: 404, message: "unknown")
    }

    func opened(_ socket: WebSocket) { sockets.withLock { $0.append(socket) } }

    func received(_ text: String, from socket: WebSocket) {
        messages.withLock { $0.append(text) }
        if text == "hold" {
            holding.store(true, ordering: .releasing)
            release.wait()
            holding.store(false, ordering: .releasing)
        } else if text == "query" {
            socket.send(text: socket.request.queryValue("key") ?? "none")
        } else if text == "peer" {
            socket.send(text: socket.request.peer)
        } else if text == "close" {
            socket.send(text: "bye")
            socket.close(.normal, reason: "enough")
        } else if text == "violate" {
            socket.send(text: "bye")
            socket.close(.policyViolation, reason: "enough")
        } else {
            socket.send(text: text)
        }
    }

    func receivedTooLarge(from socket: WebSocket) { socket.send(text: "too_large") }

    func closed(_ socket: WebSocket) {
        closedCount.add(1, ordering: .relaxed)
        sockets.withLock { $0.removeAll { $0 == socket } }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
}

/// A server on a kernel-chosen port with a static folder holding hello.txt and index.html.
final class ServerFixture {
    let delegate = EchoDelegate()
    let server: WebServer
    let folder = makeTemporaryDirectory("web")

    init(
        maxMessageBytes: Int = 256 * 1024, maxQueuedFrames: Int = 1024, maxBody: Int = 1 << 20, broadcastSlice: Int = 128,
        serviceThreads: Int = 1
    ) throws {
        try "hello from disk".write(toFile: folder + "/hello.txt", atomically: true, encoding: .utf8)
        try "<!doctype html><title>t</title>".write(toFile: folder + "/index.html", atomically: true, encoding: .utf8)
        server = WebServer(
            configuration: WebServerConfiguration(
                port: 0, staticFolders: [.init(urlPrefix: "/static", directory: folder)],
                maxMessageBytes: maxMessageBytes, maxRequestBodyBytes: maxBody, maxQueuedFrames: maxQueuedFrames,
                broadcastSlice: broadcastSlice, serviceThreads: serviceThreads),
            delegate: delegate)
        try server.start()
    }

    var base: String { "http://127.0.0.1:\(server.port)" }

    func connect(_ path: String = "/ws/test") throws -> TestWebSocketClient {
        try TestWebSocketClient(port: server.port, path: path)
    }

    /// One client, and the server's side of its connection once it is open.
    func connectOne() throws -> (TestWebSocketClient, WebSocket) {
        let client = try connect()
        guard waitUntil({ delegate.sockets.withLock { $0.count } == 1 }) else {
            throw FixtureError(description: "the connection did not open")
        }
        return (client, delegate.sockets.withLock { $0[0] })
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

@Suite struct WebServerHTTPTests {
    @Test(arguments: [1, 3]) func servesTheStaticFolder(serviceThreads: Int) async throws {
        let fixture = try ServerFixture(serviceThreads: serviceThreads)
        let file = try await httpRequest("GET", fixture.base + "/static/hello.txt")
        #expect(file.status == 200)
        #expect(file.text == "hello from disk")
        let index = try await httpRequest("GET", fixture.base + "/static/")
        #expect(index.status == 200)
        #expect(index.header("content-type")?.hasPrefix("text/html") == true)
        let missing = try await httpRequest("GET", fixture.base + "/static/nope.txt")
        #expect(missing.status == 404)
    }

    @Test(arguments: [1, 3]) func dynamicRoutesAnswerFromAnotherThread(serviceThreads: Int) async throws {
        let fixture = try ServerFixture(serviceThreads: serviceThreads)
        let result = try await httpRequest("GET", fixture.base + "/echo?a=1&key_for_bid=b%201")
        #expect(result.status == 200)
        #expect(result.text == "GET /echo ?a=1&key_for_bid=b 1 body=0")
        let unknown = try await httpRequest("GET", fixture.base + "/elsewhere")
        #expect(unknown.status == 404)
    }

    @Test func requestBodiesArriveWhole() async throws {
        let fixture = try ServerFixture()
        let body = Data(repeating: 65, count: 50_000)
        let result = try await httpRequest("POST", fixture.base + "/echo", body: body)
        #expect(result.text == "POST /echo ? body=50000")
        let patch = try await httpRequest("PATCH", fixture.base + "/echo", body: Data("{}".utf8))
        #expect(patch.text == "PATCH /echo ? body=2")
    }

    @Test func aPostWithAnEmptyBodyIsAnswered() throws {
        let fixture = try ServerFixture()
        // Content-Length: 0 reaches lws as one body callback without bytes.
        let result = blockingHTTP("POST", port: fixture.server.port, path: "/echo")
        #expect(result?.status == 200)
        #expect(result?.body == "POST /echo ? body=0")
    }

    @Test func oversizeBodyIsRefusedWith413() async throws {
        let fixture = try ServerFixture(maxBody: 1000)
        let result = try? await httpRequest("POST", fixture.base + "/echo", body: Data(repeating: 1, count: 5000))
        // lws answers 413 and closes; some clients report the closed connection instead.
        if let result { #expect(result.status == 413) }
        // The server is still serving.
        #expect(try await httpRequest("GET", fixture.base + "/echo").status == 200)
    }

    @Test func largeResponsesAreWrittenInChunks() async throws {
        let fixture = try ServerFixture()
        let result = try await httpRequest("GET", fixture.base + "/big")
        #expect(result.body.count == 100_000)
    }

    @Test func aTakenPortIsAClearError() throws {
        let first = try ServerFixture()
        let second = WebServer(
            configuration: WebServerConfiguration(port: first.server.port), delegate: EchoDelegate())
        #expect { try second.start() } throws: { "\($0)" == "cannot listen on 127.0.0.1:\(first.server.port): Address already in use" }
    }

    @Test func listensOnlyOnTheAddressItWasGiven() async throws {
        let fixture = try ServerFixture()
        #expect(try await httpRequest("GET", "http://127.0.0.1:\(fixture.server.port)/echo").status == 200)
        // All of 127/8 is loopback: a socket bound to every interface (lws 4.1 bound "127.0.0.1"
        // as "::") answers on 127.0.0.2 too, and so on the machine's public address.
        await #expect(throws: (any Error).self) { try await httpRequest("GET", "http://127.0.0.2:\(fixture.server.port)/echo") }
    }

    /// Containers often have no IPv6 at all; there the test has nothing to check.
    static let machineHasIPv6Loopback = onIPv6Loopback(port: 0, bind)

    @Test(.enabled(if: machineHasIPv6Loopback), arguments: ["::1", "[::1]"])
    func listensOnIPv6WhenGivenAnIPv6Address(host: String) async throws {
        let server = WebServer(configuration: WebServerConfiguration(host: host, port: 0), delegate: EchoDelegate())
        try server.start()
        defer { server.stop() }
        #expect(connectsOverIPv6(to: server.port))
        await #expect(throws: (any Error).self) { try await httpRequest("GET", "http://127.0.0.1:\(server.port)/echo") }
    }

    /// Whether a TCP connection to [::1]:`port` is accepted (Foundation's URL loading on Linux
    /// refuses a bracketed host).
    private func connectsOverIPv6(to port: Int) -> Bool { Self.onIPv6Loopback(port: port, connect) }

    /// `call` (bind or connect) on a new TCP socket with [::1]:`port`; whether it succeeded.
    private static func onIPv6Loopback(port: Int, _ call: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Bool {
        let descriptor = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port).bigEndian)
        address.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 }
        }
    }

    @Test func anAddressThatIsNotThisMachinesIsAClearError() throws {
        let server = WebServer(configuration: WebServerConfiguration(host: "192.0.2.254", port: 0), delegate: EchoDelegate())
        #expect { try server.start() } throws: { "\($0)".contains("cannot listen on 192.0.2.254:0: Cannot assign requested address") }
    }

    @Test func aStoppedServerGivesItsPortBack() throws {
        let first = WebServer(configuration: WebServerConfiguration(port: 0), delegate: EchoDelegate())
        try first.start()
        let port = first.port
        first.stop()
        let second = WebServer(configuration: WebServerConfiguration(port: port), delegate: EchoDelegate())
        try second.start()
        second.stop()
    }

    @Test func serversAskedToShareAPortBothListenOnIt() async throws {
        let first = WebServer(configuration: WebServerConfiguration(port: 0, shareListeningPort: true), delegate: EchoDelegate())
        try first.start()
        defer { first.stop() }
        let second = WebServer(configuration: WebServerConfiguration(port: first.port, shareListeningPort: true), delegate: EchoDelegate())
        try second.start()
        defer { second.stop() }
        #expect(second.port == first.port)
        #expect(try await httpRequest("GET", "http://127.0.0.1:\(first.port)/echo").status == 200)
    }
}
