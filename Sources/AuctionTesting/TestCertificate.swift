import Foundation

/// A self-signed certificate and its key, made with the `openssl` command in `folder`, valid
/// for a day for `names` (IP addresses and DNS names, as subject alternative names): for tests
/// of TLS, where the certificate is also the authority the client trusts.
public func makeTestCertificate(in folder: String, names: [String] = ["127.0.0.1"]) throws -> (certificate: String, privateKey: String) {
    let certificate = folder + "/cert.pem"
    let privateKey = folder + "/key.pem"
    let alternatives = names.map { name in (name.first?.isNumber ?? false) || name.contains(":") ? "IP:\(name)" : "DNS:\(name)" }
    let made = try runProgram(
        "/usr/bin/openssl",
        [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", privateKey, "-out", certificate, "-days", "1",
            "-subj", "/CN=\(names[0])", "-addext", "subjectAltName=" + alternatives.joined(separator: ","),
        ])
    guard made.status == 0 else { throw SandboxTestError(description: "openssl could not make a certificate: \(made.output)") }
    return (certificate, privateKey)
}
