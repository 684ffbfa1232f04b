import Foundation
import Testing

@testable import LoadGenerator

@Suite struct ProcessProbeTests {
    /// With several auctiond processes, each one's memory is divided by the sockets it holds.
    @Test func countsTheSocketsAProcessHolds() throws {
        let probe = ProcessProbe(name: "self", pid: getpid())
        let before = try #require(probe.socketCount)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        #expect(probe.socketCount == before + 1)
        #expect(ProcessProbe(name: "gone", pid: Int32.max).socketCount == nil)
    }
}
