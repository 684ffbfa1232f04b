import Foundation

/// A real `auctiond serve` process on a free port (or a given one), with a page folder of its own,
/// test secrets and short intervals.
public final class AuctiondProcess: @unchecked Sendable {
    public static let hashSecret = "test-secret-of-the-suite-0123"
    public static let adminToken = "test-admin-token"
    public let port: Int
    public let folder: String
    public private(set) var process: ManagedProcess
    private let environment: [String: String]

    public init(redisURL: String, port: Int? = nil, environment extra: [String: String] = [:]) throws {
        self.port = port ?? freeLoopbackPort()
        folder = makeTemporaryDirectory("auctiond")
        try "<!doctype html><title>auction</title>".write(toFile: folder + "/index.html", atomically: true, encoding: .utf8)
        environment = [
            "AUCTIOND_LISTEN": "127.0.0.1:\(self.port)", "AUCTIOND_PUBLIC_URL": "http://127.0.0.1:\(self.port)",
            "AUCTIOND_REDIS_URL": redisURL, "AUCTIOND_WEB_DIR": folder,
            "AUCTIOND_HASH_SECRETS": Self.hashSecret, "AUCTIOND_ADMIN_TOKEN": Self.adminToken,
            "AUCTIOND_INDEX_REFRESH_MILLISECONDS": "100", "AUCTIOND_CLOCK_LEASE_TTL_MILLISECONDS": "1500",
            "AUCTIOND_CLOCK_LEASE_RENEWAL_MILLISECONDS": "300", "AUCTIOND_LOG_LEVEL": "debug",
            // Test Redis servers run without persistence unless a test is about it.
            "AUCTIOND_REDIS_DURABILITY": "relaxed",
        ].merging(extra) { $1 }
        process = try Self.launch(environment, folder)
        try waitForHealth()
    }

    public var pid: Int32 { process.pid }
    public var log: String { process.log }

    /// Starts it again on the same port (after `kill9` or `stop`).
    public func restart() throws {
        process = try Self.launch(environment, folder)
        try waitForHealth()
    }

    public func stop() { process.stop() }
    public func kill9() { process.kill9() }

    /// A WebSocket to `path` on this process (from the local address `source`, if given).
    public func webSocket(_ path: String, from source: String? = nil) throws -> TestWebSocketClient {
        try TestWebSocketClient(port: port, path: path, from: source)
    }

    /// GET over a plain socket, blocking: status and body.
    public func get(_ path: String, from source: String? = nil) -> (status: Int, body: String)? {
        blockingHTTP("GET", port: port, path: path, from: source)
    }

    /// Waits until this process has loaded `auctionId` from Redis.
    public func waitForAuction(_ auctionId: String) -> Bool {
        waitUntil { get("/api/v1/auctions/\(auctionId)")?.status == 200 }
    }

    private func waitForHealth() throws {
        guard waitUntil(timeout: .seconds(15), { get("/healthz")?.status == 200 }) else {
            throw RedisServerError(description: "auctiond did not become healthy:\n\(process.log)")
        }
    }

    private static func launch(_ environment: [String: String], _ folder: String) throws -> ManagedProcess {
        try ManagedProcess(
            executable: builtProduct("auctiond"), arguments: ["serve"], environment: environment,
            logPath: folder + "/auctiond-\(UInt32.random(in: 0...UInt32.max)).log")
    }

    deinit {
        process.kill9()
    }
}

/// One HTTP/1.1 request over a blocking socket (`Connection: close`): status and body, or nil
/// when nothing answers. For readiness checks and tests that must not depend on URLSession.
public func blockingHTTP(
    _ method: String, port: Int, path: String, headers: [String: String] = [:], body: String = "", from source: String? = nil
) -> (status: Int, body: String)? {
    guard let fd = openTCP(port: port, from: source) else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n"
    for (name, value) in headers { request += "\(name): \(value)\r\n" }
    request += "\r\n" + body
    let bytes = Array(request.utf8)
    guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, bytes.count, 0) }) == bytes.count else { return nil }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16384)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        response += buffer[0..<count]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let statusLine = text.split(separator: "\r\n").first,
        let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    else {
        return nil
    }
    let payload = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
    return (status, payload)
}

/// A TCP connection to `port` on the loopback address, blocking, nothing sent (nil if refused).
/// `source` binds the client's end to another local address (`127.0.0.2`: a second client address
/// on the loopback, for per-address limits).
public func openTCP(port: Int, host: String = "127.0.0.1", from source: String? = nil) -> Int32? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    func connect(_ descriptor: Int32, to host: String, port: Int, bind: Bool) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind
                    ? Glibc.bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    : Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }
    guard source.map({ connect(descriptor, to: $0, port: 0, bind: true) == 0 }) ?? true,
        connect(descriptor, to: host, port: port, bind: false) == 0
    else {
        close(descriptor)
        return nil
    }
    return descriptor
}
