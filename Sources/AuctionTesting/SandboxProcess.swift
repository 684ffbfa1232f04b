import Foundation

/// A real `tender-sandbox` process on a free port, saving its documents in a folder of its own so
/// that `stop` and `restart` play an API outage that loses nothing.
public final class SandboxProcess: @unchecked Sendable {
    public static let token = "auction"
    public let port: Int
    public let folder: String
    public private(set) var process: ManagedProcess
    private let extraArguments: [String]

    public init(port: Int? = nil, arguments: [String] = []) throws {
        self.port = port ?? freeLoopbackPort()
        folder = makeTemporaryDirectory("sandbox")
        extraArguments = arguments
        process = try Self.launch(port: self.port, folder: folder, arguments: arguments)
        try waitForReady()
    }

    /// `AUCTIOND_API_URL` for an auctiond that talks to this sandbox.
    public var apiURL: String { "http://127.0.0.1:\(port)/api/2.5" }
    /// The document service the sandbox also plays (`POST /upload`, `GET /get/{id}`).
    public var documentServiceURL: String { "http://127.0.0.1:\(port)" }
    public var log: String { process.log }

    public func stop() { process.stop() }

    public func restart() throws {
        process = try Self.launch(port: port, folder: folder, arguments: extraArguments)
        try waitForReady()
    }

    /// Stores a document (`POST /sandbox/{resource}`); returns it as stored.
    @discardableResult
    public func put(_ document: [String: Any], in resource: String = "tenders") throws -> [String: Any] {
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["data": document]), as: UTF8.self)
        guard
            let answer = blockingHTTP(
                "POST", port: port, path: "/sandbox/\(resource)", headers: ["Content-Type": "application/json"], body: body),
            answer.status == 201, let stored = Self.data(answer.body) as? [String: Any]
        else { throw SandboxTestError(description: "the sandbox did not store the document") }
        return stored
    }

    /// The public document.
    public func tender(_ resource: String = "tenders", _ id: String) -> [String: Any]? {
        blockingHTTP("GET", port: port, path: "/api/2.5/\(resource)/\(id)").flatMap { Self.data($0.body) as? [String: Any] }
    }

    /// The private auction view, as the service's token reads it.
    public func auctionView(_ resource: String = "tenders", _ id: String) -> [String: Any]? {
        let basic = "Basic " + Data("\(Self.token):".utf8).base64EncodedString()
        return blockingHTTP("GET", port: port, path: "/api/2.5/\(resource)/\(id)/auction", headers: ["Authorization": basic])
            .flatMap { Self.data($0.body) as? [String: Any] }
    }

    /// The API requests answered so far: method, path, status.
    public func requests() -> [(method: String, path: String, status: Int)] {
        guard let answer = blockingHTTP("GET", port: port, path: "/sandbox/requests"), let list = Self.data(answer.body) as? [[String: Any]]
        else { return [] }
        return list.map { ($0["method"] as? String ?? "", $0["path"] as? String ?? "", $0["status"] as? Int ?? 0) }
    }

    /// Makes the next `count` API requests fail with `status` and/or answer after a delay.
    public func fault(count: Int, status: Int? = nil, body: String? = nil, delayMilliseconds: Int? = nil) {
        var data: [String: Any] = ["count": count]
        if let status { data["status"] = status }
        if let body { data["body"] = body }
        if let delayMilliseconds { data["delayMilliseconds"] = delayMilliseconds }
        let text = String(decoding: (try? JSONSerialization.data(withJSONObject: ["data": data])) ?? Data(), as: UTF8.self)
        _ = blockingHTTP("POST", port: port, path: "/sandbox/faults", headers: ["Content-Type": "application/json"], body: text)
    }

    private static func data(_ body: String) -> Any? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["data"]
    }

    private func waitForReady() throws {
        guard waitUntil(timeout: .seconds(10), { blockingHTTP("GET", port: port, path: "/api/2.5/tenders") != nil }) else {
            throw SandboxTestError(description: "tender-sandbox did not start:\n\(process.log)")
        }
    }

    private static func launch(port: Int, folder: String, arguments: [String]) throws -> ManagedProcess {
        try ManagedProcess(
            executable: builtProduct("tender-sandbox"),
            arguments: ["--listen", "127.0.0.1:\(port)", "--state", folder + "/state"] + arguments,
            logPath: folder + "/sandbox-\(UInt32.random(in: 0...UInt32.max)).log")
    }

    deinit { process.kill9() }
}

public struct SandboxTestError: Error, CustomStringConvertible {
    public let description: String
}

/// The package's root folder (this file is in Sources/AuctionTesting).
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The demo fixtures of `Config/sandbox`.
public func sandboxFixture(_ relativePath: String) throws -> [String: Any] {
    let url = packageRoot.appendingPathComponent("Config/sandbox/" + relativePath)
    guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any],
        let data = object["data"] as? [String: Any]
    else {
        throw SandboxTestError(description: "\(url.path) is not {\"data\": …}")
    }
    return data
}
