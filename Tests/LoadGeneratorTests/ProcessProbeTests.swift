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

extension ProcessProbeTests {
    /// Where a process's CPU goes, thread by thread, read from /proc/PID/task/*/stat; a name may
    /// hold spaces and parentheses, and libdispatch's pool threads count as one.
    @Test func readsEachThreadsCPUByName() throws {
        let service = try #require(ProcessProbe.threadCPU(stat: "42 (lws-service-0) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0"))
        #expect(service == ("lws-service-0", 300))
        let odd = try #require(ProcessProbe.threadCPU(stat: "42 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 7 3 0 0"))
        #expect(odd == ("a (b) c", 10))
        #expect(ProcessProbe.threadCPU(stat: "42 (-qos.overcommit) S 1 2 3 4 5 6 7 8 9 10 1 1 0 0")?.name == "libdispatch")
        #expect(ProcessProbe.threadCPU(stat: "42 (oot.default-qos) S 1 2 3 4 5 6 7 8 9 10 1 1 0 0")?.name == "libdispatch")
        #expect(ProcessProbe.threadCPU(stat: "truncated") == nil)

        let spinner = Thread {
            try? "probe-spinner".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            let end = ContinuousClock.now + .milliseconds(60)
            while ContinuousClock.now < end {}
        }
        spinner.start()
        Thread.sleep(forTimeInterval: 0.03)
        let precise = try #require(ProcessProbe(name: "self", pid: getpid()).preciseCPUNanoseconds)
        #expect(precise > 0)
        #expect(ProcessProbe(name: "gone", pid: Int32.max).preciseCPUNanoseconds == nil)
        let threads = try #require(ProcessProbe(name: "self", pid: getpid()).cpuSecondsByThread)
        #expect(threads.keys.contains("probe-spinner"))
        #expect(ProcessProbe(name: "gone", pid: Int32.max).cpuSecondsByThread == nil)
    }
}
