// HTTP on a service thread: reading a request (path, query, headers, body), handing it to the
// delegate, and writing the response in chunks.
import CLibWebSockets
import CShims
import LWSCore
import Foundation

extension WebServerThread {

    func transaction(_ user: UnsafeMutableRawPointer?) -> HTTPTransaction? {
        guard let user else { return nil }
        return transactions[user.load(as: UInt64.self)]
    }

    func beginHTTP(_ wsi: OpaquePointer, _ user: UnsafeMutableRawPointer?) -> Int32 {
        guard let user else { return -1 }
        var uri: UnsafeMutablePointer<CChar>?
        var uriLength: Int32 = 0
        let methodIndex = lws_http_get_uri_and_method(wsi, &uri, &uriLength)
        guard let method = Self.method(methodIndex) else {
            _ = lws_return_http_status(wsi, 405, "Method not allowed")
            return -1
        }
        let path = uri.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: Int(uriLength)), as: UTF8.self) } ?? "/"
        let id = makeID()
        user.storeBytes(of: id, as: UInt64.self)
        let transaction = HTTPTransaction(wsi: wsi, id: id, request: readRequest(wsi, method: method, path: path))
        transactions[id] = transaction
        let declaredLength = Int(transaction.request.headers["content-length"] ?? "") ?? 0
        if declaredLength > configuration.maxRequestBodyBytes {
            return rejectOversizeBody(wsi, transaction)
        }
        if method.carriesBody && declaredLength > 0 {
            return 0  // wait for LWS_CALLBACK_HTTP_BODY_COMPLETION
        }
        dispatchHTTP(transaction)
        return 0
    }

    func rejectOversizeBody(_ wsi: OpaquePointer, _ transaction: HTTPTransaction) -> Int32 {
        transactions[transaction.id] = nil
        _ = lws_return_http_status(wsi, 413, "Request body too large")
        return -1
    }

    func dispatchHTTP(_ transaction: HTTPTransaction) {
        guard !transaction.dispatched else { return }
        transaction.dispatched = true
        delegate.handle(transaction.request, responder: HTTPResponder(transaction: transaction.id, server: self))
    }

    func writeHTTP(_ wsi: OpaquePointer, _ transaction: HTTPTransaction) -> Int32 {
        guard let response = transaction.response else { return 0 }
        let chunkSize = Self.httpChunkSize
        let start = httpWriteBuffer + cshim_lws_pre()
        let sendsBody = transaction.request.method != .head

        if !transaction.headersSent {
            var cursor: UnsafeMutablePointer<UInt8>? = start
            let end = start + chunkSize - 1
            var failed =
                lws_add_http_common_headers(
                    wsi, UInt32(response.status), response.contentType, lws_filepos_t(response.body.count), &cursor, end) != 0
            for header in response.headers where !failed {
                failed = cshim_add_header(wsi, header.name + ":", header.value, &cursor, end) != 0
            }
            if failed || lws_finalize_write_http_header(wsi, start, &cursor, end) != 0 { return -1 }
            transaction.headersSent = true
            if !sendsBody || response.body.isEmpty { return completeHTTP(wsi, transaction) }
            lws_callback_on_writable(wsi)
            return 0
        }

        let remaining = response.body.count - transaction.bodyOffset
        let count = min(remaining, chunkSize)
        response.body.withUnsafeBufferPointer { body in
            start.update(from: body.baseAddress! + transaction.bodyOffset, count: count)
        }
        let isLast = count == remaining
        let written = lws_write(wsi, start, count, isLast ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP)
        if written != count { return -1 }
        transaction.bodyOffset += count
        if isLast { return completeHTTP(wsi, transaction) }
        lws_callback_on_writable(wsi)
        return 0
    }

    func completeHTTP(_ wsi: OpaquePointer, _ transaction: HTTPTransaction) -> Int32 {
        transactions[transaction.id] = nil
        return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
    }

    /// lws's method index (LWSHUMETH_*, an anonymous C enum) as our method.
    private static func method(_ index: Int32) -> HTTPMethod? {
        switch Int(index) {
        case Int(LWSHUMETH_GET): .get
        case Int(LWSHUMETH_POST): .post
        case Int(LWSHUMETH_OPTIONS): .options
        case Int(LWSHUMETH_PUT): .put
        case Int(LWSHUMETH_PATCH): .patch
        case Int(LWSHUMETH_DELETE): .delete
        case Int(LWSHUMETH_HEAD): .head
        default: nil
        }
    }

    /// The headers the service reads; lws parses these into fixed tokens.
    private static let readHeaders: [(name: String, token: lws_token_indexes)] = {
        var table: [(name: String, token: lws_token_indexes)] = []
        table.append(("host", WSI_TOKEN_HOST))
        table.append(("authorization", WSI_TOKEN_HTTP_AUTHORIZATION))
        table.append(("content-type", WSI_TOKEN_HTTP_CONTENT_TYPE))
        table.append(("content-length", WSI_TOKEN_HTTP_CONTENT_LENGTH))
        table.append(("origin", WSI_TOKEN_ORIGIN))
        table.append(("x-forwarded-for", WSI_TOKEN_X_FORWARDED_FOR))
        table.append(("user-agent", WSI_TOKEN_HTTP_USER_AGENT))
        table.append(("accept", WSI_TOKEN_HTTP_ACCEPT))
        table.append(("cookie", WSI_TOKEN_HTTP_COOKIE))
        return table
    }()

    func uriPath(_ wsi: OpaquePointer) -> String? {
        header(wsi, WSI_TOKEN_GET_URI)
    }

    func header(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> String? {
        let length = lws_hdr_total_length(wsi, token)
        guard length > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(length) + 1)
        guard lws_hdr_copy(wsi, &buffer, Int32(buffer.count), token) >= 0 else { return nil }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func readRequest(_ wsi: OpaquePointer, method: HTTPMethod, path: String) -> HTTPRequest {
        var headers: [String: String] = [:]
        for (name, token) in Self.readHeaders {
            if let value = header(wsi, token) { headers[name] = value }
        }
        // lws splits the query into url-decoded "name=value" fragments.
        var query: [(name: String, value: String)] = []
        var buffer = [CChar](repeating: 0, count: 1024)
        var index: Int32 = 0
        while true {
            let length = lws_hdr_copy_fragment(wsi, &buffer, Int32(buffer.count), WSI_TOKEN_HTTP_URI_ARGS, index)
            if length < 0 { break }
            let fragment = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let equals = fragment.firstIndex(of: "=") {
                query.append((String(fragment[..<equals]), String(fragment[fragment.index(after: equals)...])))
            } else {
                query.append((fragment, ""))
            }
            index += 1
        }
        var peer = [CChar](repeating: 0, count: 64)
        let peerName = lws_get_peer_simple(wsi, &peer, peer.count).map { String(cString: $0) } ?? ""
        return HTTPRequest(method: method, path: path, query: query, headers: headers, peer: peerName)
    }
}

final class HTTPTransaction {
    let wsi: OpaquePointer
    let id: UInt64
    var request: HTTPRequest
    var dispatched = false
    var response: HTTPResponse?
    var headersSent = false
    var bodyOffset = 0

    init(wsi: OpaquePointer, id: UInt64, request: HTTPRequest) {
        self.wsi = wsi
        self.id = id
        self.request = request
    }
}
