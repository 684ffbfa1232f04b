import ArgumentParser

@main
struct LoadTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auction-loadtest",
        abstract: "Load generator for auctiond (not built yet: issue 8).")

    func run() throws {
        throw ValidationError("auction-loadtest is not built yet (issue 8)")
    }
}
