// The one place that calls OpenSSL: SHA-256, MD5, HMAC-SHA256, constant-time comparison, random bytes
// (and, in TLSClient.swift, TLS for the tender API's client).
import COpenSSL

/// Failures of the OpenSSL calls below, with OpenSSL's own error text.
public struct CryptoError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Turns OpenSSL's "1 is success" convention into a thrown error, so that no caller ignores a failure.
func check(_ result: Int32, _ operation: String) throws(CryptoError) {
    guard result == 1 else { throw CryptoError.last(operation) }
}

public enum SHA256 {
    /// The 32-byte SHA-256 of `message` (FIPS 180-4).
    public static func hash(_ message: [UInt8]) -> [UInt8] { digest(message, EVP_sha256(), size: 32, name: "SHA-256") }

    /// `hash` in lowercase hex, as the scripts write it.
    public static func hex(_ message: [UInt8]) -> String { hash(message).hexString }
}

/// MD5, for the `md5:` hashes the tender API and its document service put on files (not for
/// anything that must resist forgery).
public enum MD5 {
    /// The 16-byte MD5 of `message` (RFC 1321).
    public static func hash(_ message: [UInt8]) -> [UInt8] { digest(message, EVP_md5(), size: 16, name: "MD5") }

    /// `hash` in lowercase hex.
    public static func hex(_ message: [UInt8]) -> String { hash(message).hexString }
}

private func digest(_ message: [UInt8], _ kind: OpaquePointer?, size: Int, name: String) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    let result = message.withUnsafeBufferPointer { m in EVP_Digest(m.baseAddress, m.count, &out, &length, kind, nil) }
    // A digest only fails on allocation failure; nothing sensible can continue then.
    precondition(result == 1 && length == size, "\(name) failed inside OpenSSL")
    return Array(out.prefix(size))
}

public enum HMACSHA256 {
    /// The 32-byte HMAC-SHA256 of `message` under `key` (RFC 2104).
    public static func authenticate(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress, m.count, &out, &length)
            }
        }
        // HMAC with SHA-256 only fails on allocation failure; nothing sensible can continue then.
        precondition(result != nil && length == 32, "HMAC-SHA256 failed inside OpenSSL")
        return Array(out.prefix(Int(length)))
    }

    public static func authenticate(_ message: String, key: String) -> [UInt8] {
        authenticate(Array(message.utf8), key: Array(key.utf8))
    }
}

public enum ConstantTime {
    /// Whether `a` and `b` are equal, in time that depends only on their lengths (CRYPTO_memcmp),
    /// so that an attacker cannot learn a secret token byte by byte from response times.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 }
        }
    }
}

public enum SecureRandom {
    /// `count` bytes from OpenSSL's CSPRNG.
    public static func bytes(_ count: Int) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if count > 0 { try check(RAND_bytes(&out, Int32(count)), "RAND_bytes") }
        return out
    }
}

extension Array where Element == UInt8 {
    /// Lower-case hexadecimal, two digits per byte.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var chars = [UInt8]()
        chars.reserveCapacity(count * 2)
        for byte in self {
            chars.append(digits[Int(byte >> 4)])
            chars.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: chars, as: UTF8.self)
    }
}
