import TenderSandbox
import Testing

@Suite struct SandboxVersionTests {
    @Test func servesAPIVersion25() { #expect(sandboxAPIVersion == "2.5") }
}
