import Testing

@testable import TenderSandbox

/// The sandbox reads an upload's file part as the real API does, and names what it cannot read.
@Suite struct MultipartFormTests {
    func body(_ text: String) -> [UInt8] { Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8) }

    @Test func theFilePartIsFoundAmongOthers() {
        let form = body(
            """
            --XyZ
            Content-Disposition: form-data; name="note"

            not the file
            --XyZ
            Content-Disposition: form-data; name="file"; filename="audit.yaml"
            Content-Type: application/yaml

            a: 1
            b: --XyZ-not-a-boundary
            --XyZ--

            """)
        let part = try? MultipartForm.file(in: form, contentType: "multipart/form-data; boundary=XyZ").get()
        #expect(
            part
                == MultipartForm.Part(fileName: "audit.yaml", contentType: "application/yaml", bytes: body("a: 1\nb: --XyZ-not-a-boundary"))
        )
    }

    @Test func whatCannotBeReadIsNamed() {
        #expect(MultipartForm.file(in: [], contentType: "application/json") == .failure(.notMultipart))
        #expect(
            MultipartForm.file(
                in: body("--B\nContent-Disposition: form-data; name=\"x\"\n\n1\n--B--\n"), contentType: "multipart/form-data; boundary=B")
                == .failure(.noFile))
        #expect(
            MultipartForm.file(in: body("no boundary here"), contentType: "multipart/form-data; boundary=B")
                == .failure(.malformed("no boundary")))
        #expect(
            MultipartForm.file(
                in: body("--B\nContent-Disposition: form-data; name=\"file\"\n\nnever closed"),
                contentType: "multipart/form-data; boundary=B")
                == .failure(.malformed("a part without its closing boundary")))
    }
}
