import CryptoPrimitives
import Testing

@Suite struct HMACSHA256Tests {
    // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
    @Test func rfc4231TestCase2() {
        let mac = HMACSHA256.authenticate("what do ya want for nothing?", key: "Jefe")
        #expect(mac.hexString == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    // RFC 4231, test case 1: 20 bytes of 0x0b, data "Hi There".
    @Test func rfc4231TestCase1() {
        let mac = HMACSHA256.authenticate(Array("Hi There".utf8), key: [UInt8](repeating: 0x0b, count: 20))
        #expect(mac.hexString == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    // RFC 4231, test case 6: a key longer than the block size is hashed first.
    @Test func rfc4231TestCase6LongKey() {
        let mac = HMACSHA256.authenticate(
            Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            key: [UInt8](repeating: 0xaa, count: 131))
        #expect(mac.hexString == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func emptyMessageAndKeyStillAuthenticate() {
        #expect(HMACSHA256.authenticate([], key: []).count == 32)
    }
}
