// TLS for a client, as OpenSSL's byte transformer: the caller owns the socket and moves bytes
// between it and the engine (memory BIOs), so time-outs and signals stay the caller's business.
import COpenSSL

/// The trust a client checks servers against: the system's certificate authorities (OpenSSL's
/// default paths, which `SSL_CERT_FILE` and `SSL_CERT_DIR` can change), or one file of them.
/// Shared by every connection; OpenSSL's context is safe to share once set up.
public final class TLSClientContext: @unchecked Sendable {
    fileprivate let context: OpaquePointer

    /// - Parameter trustedCertificatesFile: a PEM file of the certificate authorities to trust,
    ///   in place of the system's.
    public init(trustedCertificatesFile: String? = nil) throws(CryptoError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw CryptoError.last("SSL_CTX_new") }
        self.context = context
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        try check(cshim_SSL_CTX_require_tls12(context), "requiring TLS 1.2 or later")
        if let trustedCertificatesFile {
            try check(SSL_CTX_load_verify_locations(context, trustedCertificatesFile, nil), "loading \(trustedCertificatesFile)")
        } else {
            try check(SSL_CTX_set_default_verify_paths(context), "loading the system's certificate authorities")
        }
    }

    deinit { SSL_CTX_free(context) }
}

/// One TLS client connection's state. Bytes read from the socket go in with `receive`; what
/// the engine wants sent comes out of `takeOutgoing`. Used by one thread at a time.
public final class TLSClientEngine {
    /// What an engine call needs before it can go on.
    public enum Progress: Equatable, Sendable {
        case done
        /// More bytes from the server (send `takeOutgoing()` first).
        case needsInput
    }

    private let ssl: OpaquePointer
    /// The engine's end of the network: it reads what the server sent from `fromNetwork` and
    /// writes what it sends into `toNetwork` (SSL_free frees both).
    private let fromNetwork: OpaquePointer
    private let toNetwork: OpaquePointer
    private let context: TLSClientContext

    /// - Parameter serverName: the host the certificate must name (a DNS name or an IP
    ///   address); a DNS name is also sent as SNI.
    public init(context: TLSClientContext, serverName: String) throws(CryptoError) {
        guard let ssl = SSL_new(context.context) else { throw CryptoError.last("SSL_new") }
        guard let fromNetwork = BIO_new(BIO_s_mem()), let toNetwork = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw CryptoError.last("BIO_new")
        }
        SSL_set_bio(ssl, fromNetwork, toNetwork)
        self.ssl = ssl
        self.fromNetwork = fromNetwork
        self.toNetwork = toNetwork
        self.context = context
        SSL_set_connect_state(ssl)
        if Self.isIPAddress(serverName) {
            try check(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName), "checking the certificate for \(serverName)")
        } else {
            try check(cshim_SSL_set_server_name(ssl, serverName), "naming the server \(serverName)")
            try check(SSL_set1_host(ssl, serverName), "checking the certificate for \(serverName)")
        }
    }

    deinit { SSL_free(ssl) }

    private static func isIPAddress(_ host: String) -> Bool {
        guard let address = a2i_IPADDRESS(host) else {
            ERR_clear_error()
            return false
        }
        ASN1_OCTET_STRING_free(address)
        return true
    }

    /// Hands the engine bytes the server sent.
    public func receive(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        // A memory BIO grows as needed: the write takes everything.
        _ = BIO_write(fromNetwork, base, Int32(bytes.count))
    }

    /// What the engine wants sent to the server now (possibly nothing).
    public func takeOutgoing() -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(toNetwork))
        guard pending > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: pending)
        let read = bytes.withUnsafeMutableBytes { BIO_read(toNetwork, $0.baseAddress, Int32(pending)) }
        return Array(bytes.prefix(Int(max(0, read))))
    }

    /// Takes the handshake as far as the bytes received allow; fails if the server's
    /// certificate is not trusted or does not name the server.
    public func handshake() throws(CryptoError) -> Progress {
        let result = SSL_connect(ssl)
        if result == 1 { return .done }
        return try progress(after: result, "the TLS handshake")
    }

    /// Encrypts `plaintext` for sending (then `takeOutgoing()`).
    public func send(_ plaintext: UnsafeRawBufferPointer) throws(CryptoError) {
        var offset = 0
        while offset < plaintext.count {
            let written = SSL_write(ssl, plaintext.baseAddress! + offset, Int32(plaintext.count - offset))
            guard written > 0 else {
                _ = try progress(after: written, "a TLS write")
                throw CryptoError(description: "a TLS write made no progress")
            }
            offset += Int(written)
        }
    }

    /// Decrypted bytes into `buffer`: a count > 0, 0 when the server closed the TLS session,
    /// or nil when more input is needed.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(CryptoError) -> Int? {
        let read = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
        if read > 0 { return Int(read) }
        if SSL_get_error(ssl, read) == SSL_ERROR_ZERO_RETURN { return 0 }
        _ = try progress(after: read, "a TLS read")
        return nil
    }

    private func progress(after result: Int32, _ operation: String) throws(CryptoError) -> Progress {
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .needsInput
        default:
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
                ERR_clear_error()
                throw CryptoError(description: "\(operation) failed: the server's certificate: \(String(cString: text))")
            }
            throw CryptoError.last(operation + " (SSL error \(error))")
        }
    }
}

extension CryptoError {
    /// The error OpenSSL queued last, with `operation` named.
    static func last(_ operation: String) -> CryptoError {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return CryptoError(description: "\(operation) failed") }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return CryptoError(description: "\(operation) failed: \(text)")
    }
}
