import ArgumentParser
import TenderSandbox

@main
struct TenderSandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tender-sandbox",
        abstract: "A local stand-in for the tender API (not built yet: issue 6).")

    @Option(help: "Address to listen on.") var listen = "127.0.0.1:6543"
    @Option(help: "Folder of tender fixtures to load.") var fixtures: String?

    func run() throws {
        throw ValidationError("tender-sandbox is not built yet (issue 6); API version \(sandboxAPIVersion)")
    }
}
