import CryptoPrimitives
import Testing

@Suite struct SecureRandomTests {
    @Test func returnsTheRequestedNumberOfBytes() throws {
        #expect(try SecureRandom.bytes(0).isEmpty)
        #expect(try SecureRandom.bytes(32).count == 32)
    }

    @Test func twoDrawsDiffer() throws {
        // 2^-256 chance of a false failure.
        #expect(try SecureRandom.bytes(32) != SecureRandom.bytes(32))
    }
}
