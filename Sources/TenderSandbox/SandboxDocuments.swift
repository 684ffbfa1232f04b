// The sandbox's documents: whole tender (and DGF auction) documents as the API stores them, kept as
// JSON trees so that every field a fixture carries survives. Optionally saved to a folder, so a
// sandbox that is stopped and started again (an "API outage" in a test) still knows its tenders.
import AuctionCore
import Foundation

/// A JSON object as `JSONSerialization` reads it.
public typealias JSONObject = [String: Any]

/// The collections the sandbox serves (SPEC §2).
public let sandboxResources = ["tenders", "auctions"]

/// One request the API answered, for tests that count what the service sent.
public struct SandboxRequestRecord: Codable, Sendable {
    public var method: String
    public var path: String
    public var status: Int
    public var at: String
}

final class SandboxDocuments: @unchecked Sendable {
    private let lock = NSLock()
    private var documents: [String: [String: JSONObject]] = ["tenders": [:], "auctions": [:]]
    private var requests: [SandboxRequestRecord] = []
    private var files: [String: [UInt8]] = [:]
    /// The last `dateModified` handed out: the list is ordered by it, so it only grows.
    private var lastModified = Timestamp(microseconds: 0)
    private let stateDirectory: String?
    private var requestLogFile: FileHandle?

    init(stateDirectory: String?) throws {
        self.stateDirectory = stateDirectory
        guard let stateDirectory else { return }
        for resource in sandboxResources {
            let folder = stateDirectory + "/" + resource
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".json") {
                let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
                guard let document = try JSONSerialization.jsonObject(with: data) as? JSONObject, let id = document["id"] as? String else {
                    throw SandboxError("\(folder)/\(name) is not a stored document")
                }
                documents[resource]?[id] = document
                if let modified = (document["dateModified"] as? String).flatMap(Timestamp.init(iso8601:)) {
                    lastModified = max(lastModified, modified)
                }
            }
        }
        // One JSON line per request answered, appended as it happens.
        let logPath = stateDirectory + "/requests.jsonl"
        if let data = FileManager.default.contents(atPath: logPath) {
            requests = data.split(separator: UInt8(ascii: "\n")).compactMap {
                try? JSONDecoder().decode(SandboxRequestRecord.self, from: Data($0))
            }
        } else {
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        requestLogFile = FileHandle(forWritingAtPath: logPath)
        _ = try requestLogFile?.seekToEnd()
    }

    /// Runs `body` on the documents under the lock; a document it changes is re-dated and saved.
    func withDocument<T>(_ resource: String, _ id: String, _ body: (inout JSONObject?) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        var document = documents[resource]?[id]
        let before = document.map { NSDictionary(dictionary: $0) }
        let result = try body(&document)
        if let changed = document, before.map({ !$0.isEqual(to: changed) }) ?? true {
            var stamped = changed
            stamped["dateModified"] = nextModified().iso8601
            documents[resource]?[id] = stamped
            save(resource, id, stamped)
        }
        return result
    }

    func document(_ resource: String, _ id: String) -> JSONObject? {
        lock.lock()
        defer { lock.unlock() }
        return documents[resource]?[id]
    }

    /// Documents changed after `offset` (an ISO date), oldest first, at most `limit`.
    func list(_ resource: String, after offset: Timestamp?, limit: Int) -> [JSONObject] {
        lock.lock()
        defer { lock.unlock() }
        let dated = (documents[resource] ?? [:]).values.compactMap { document -> (Timestamp, JSONObject)? in
            guard let modified = (document["dateModified"] as? String).flatMap(Timestamp.init(iso8601:)) else { return nil }
            if let offset, modified <= offset { return nil }
            return (modified, document)
        }
        return dated.sorted { $0.0 < $1.0 }.prefix(limit).map(\.1)
    }

    func record(_ method: String, _ path: String, _ status: Int) {
        lock.lock()
        defer { lock.unlock() }
        let record = SandboxRequestRecord(method: method, path: path, status: status, at: Timestamp.now.iso8601)
        requests.append(record)
        if let requestLogFile, let line = try? JSONEncoder().encode(record) { requestLogFile.write(line + Data("\n".utf8)) }
    }

    func requestLog() -> [SandboxRequestRecord] {
        lock.lock()
        defer { lock.unlock() }
        return requests
    }

    /// The bytes of an uploaded file version, by its download key.
    func storeFile(_ key: String, _ bytes: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        files[key] = bytes
        if let stateDirectory {
            try? FileManager.default.createDirectory(atPath: stateDirectory + "/files", withIntermediateDirectories: true)
            try? Data(bytes).write(to: URL(fileURLWithPath: "\(stateDirectory)/files/\(key)"), options: .atomic)
        }
    }

    func file(_ key: String) -> [UInt8]? {
        lock.lock()
        defer { lock.unlock() }
        if let known = files[key] { return known }
        guard let stateDirectory, key.allSatisfy({ $0.isHexDigit }),
            let data = FileManager.default.contents(atPath: "\(stateDirectory)/files/\(key)")
        else { return nil }
        return Array(data)
    }

    private func nextModified() -> Timestamp {
        lastModified = max(Timestamp.now, lastModified.adding(microseconds: 1))
        return lastModified
    }

    private func save(_ resource: String, _ id: String, _ document: JSONObject) {
        guard let stateDirectory, let data = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]) else { return }
        try? data.write(to: URL(fileURLWithPath: "\(stateDirectory)/\(resource)/\(id).json"), options: .atomic)
    }
}

public struct SandboxError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Timestamp {
    /// The wall clock now.
    public static var now: Timestamp {
        Timestamp(microseconds: Int64((Date().timeIntervalSince1970 * 1_000_000).rounded()))
    }
}
