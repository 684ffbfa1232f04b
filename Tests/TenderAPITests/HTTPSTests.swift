import AuctionCore
import AuctionTesting
import Foundation
import TenderAPI
import Testing

/// The client against the sandbox serving the API over https, as the real API is served: it
/// reads and writes with a certificate it trusts, and refuses one it does not.
@Suite struct HTTPSTests {
    let sandbox: SandboxProcess
    let securePort = freeLoopbackPort()
    let certificate: String

    init() throws {
        let folder = makeTemporaryDirectory("https")
        let made = try makeTestCertificate(in: folder, names: ["127.0.0.1"])
        certificate = made.certificate
        sandbox = try SandboxProcess(arguments: [
            "--tls-listen", "127.0.0.1:\(securePort)", "--tls-certificate", made.certificate, "--tls-private-key", made.privateKey,
        ])
        var document = sampleTender(id: "t-https", start: Timestamp(milliseconds: 1_795_000_000_000))
        document["status"] = "active.auction"
        try sandbox.put(document)
    }

    func client(_ host: String = "127.0.0.1", trusting file: String?) -> TenderAPIClient {
        TenderAPIClient(
            settings: TenderAPISettings(
                baseURL: "https://\(host):\(securePort)/api/2.5", token: SandboxProcess.token, timeout: .seconds(2), retryBudget: .zero,
                trustedCertificatesFile: file))
    }

    @Test func overHTTPSTheClientReadsAndWritesWithACertificateItTrusts() throws {
        let client = client(trusting: certificate)
        #expect(try client.tender(.tenders, id: "t-https").id == "t-https")
        #expect(try client.auctionView(.tenders, id: "t-https").bids?.count == 3)
        let links = try JSONSerialization.data(withJSONObject: [
            "data": [
                "auctionUrl": "https://a/tenders/t-https",
                "bids": [["id": "t-https-bid1"], ["id": "t-https-bid2"], ["id": "t-https-bid3"]],
            ]
        ])
        #expect(try client.patchAuction(.tenders, id: "t-https", lotId: nil, body: links).auctionUrl == "https://a/tenders/t-https")
        #expect(try client.tender(.tenders, id: "t-https").auctionUrl == "https://a/tenders/t-https", "again, on the kept connection")
    }

    @Test func aCertificateNoAuthorityVouchesForIsRefusedWithTheReason() {
        #expect {
            try client(trusting: nil).tender(.tenders, id: "t-https")
        } throws: { error in
            "\(error)".contains("the server's certificate: self-signed certificate")
        }
    }

    @Test func aCertificateForAnotherNameIsRefused() {
        #expect {
            try client("localhost", trusting: certificate).tender(.tenders, id: "t-https")
        } throws: { error in
            "\(error)".contains("the server's certificate: hostname mismatch")
        }
    }

    @Test func auctiondPlansFromAnHTTPSAPIWhoseAuthorityIsNamedBySSLCertFile() throws {
        let redis = try RedisServer()
        let now = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        var document = sampleTender(id: "t-https-plan", start: Timestamp(milliseconds: now.milliseconds + 600_000))
        document["status"] = "active.auction"
        try sandbox.put(document)
        func plan(_ environment: [String: String]) throws -> (status: Int32, output: String) {
            try runProgram(
                builtProduct("auctiond"), ["plan", "t-https-plan"],
                environment: ProcessInfo.processInfo.environment.merging(
                    [
                        "AUCTIOND_REDIS_URL": redis.url, "AUCTIOND_API_URL": "https://127.0.0.1:\(securePort)/api/2.5",
                        "AUCTIOND_HASH_SECRETS": AuctiondProcess.hashSecret, "AUCTIOND_API_RETRY_SECONDS": "0",
                    ].merging(environment) { $1 }
                ) { $1 })
        }
        let untrusted = try plan([:])
        #expect(untrusted.status != 0)
        #expect(untrusted.output.contains("the server's certificate: self-signed certificate"), "\(untrusted.output)")
        let trusted = try plan(["SSL_CERT_FILE": certificate])
        #expect(trusted.status == 0, "\(trusted.output)")
        #expect(trusted.output.contains("planned"), "\(trusted.output)")
    }
}
