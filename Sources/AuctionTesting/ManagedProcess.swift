import Foundation

/// A child process that tests start and stop by PID. Its output goes to a log file so that a
/// failing test can show it.
public final class ManagedProcess: @unchecked Sendable {
    public let executable: String
    public let arguments: [String]
    public let logPath: String
    private let process = Process()

    public init(executable: String, arguments: [String], environment: [String: String] = [:], logPath: String) throws {
        self.executable = executable
        self.arguments = arguments
        self.logPath = logPath
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: logPath])
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    /// The exit status once the process has ended (nil while it runs).
    public var exitCode: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    public func stop(grace: Duration = .seconds(5)) {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        if !waitUntil(timeout: grace, { !process.isRunning }) { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGKILL: the crash case.
    public func kill9() {
        guard process.isRunning else { return }
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// A sanitizer stops the process it finds a fault in (make sanitize): the test then sees only
    /// a dropped connection, so the report itself is copied where the test runner's output shows it.
    public var sanitizerReport: String? {
        let log = self.log
        guard let start = log.range(of: "==ERROR: AddressSanitizer") ?? log.range(of: "WARNING: ThreadSanitizer") else { return nil }
        return String(log[start.lowerBound...].prefix(20_000))
    }

    deinit {
        kill9()
        if let report = sanitizerReport {
            FileHandle.standardError.write(Data("\n\(executable) (log \(logPath)) stopped on a sanitizer report:\n\(report)\n".utf8))
        }
    }
}

/// A fresh temporary folder for one test's files.
public func makeTemporaryDirectory(_ label: String) -> String {
    let path = NSTemporaryDirectory() + "auction-test-\(label)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The path of an executable of this package, built beside the test bundle (`swift build` builds
/// every product before the tests run).
public func builtProduct(_ name: String) -> String {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for folder in [bundle, bundle.deletingLastPathComponent()] {
        let path = folder.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return bundle.appendingPathComponent(name).path
}

/// Runs a program to its end and returns its exit status and what it printed (standard output,
/// and standard error too unless `includeErrors` is false). The output is read before the wait,
/// so that a program printing more than a pipe holds does not block.
public func runProgram(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, includeErrors: Bool = true
) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = includeErrors ? output : FileHandle.nullDevice
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}
