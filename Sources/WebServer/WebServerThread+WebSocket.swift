// WebSocket on a service thread: receiving messages (joined from fragments, bounded), writing
// frames (at once when nothing waits before them, else queued), and closing.
import CLibWebSockets
import CShims
import LWSCore
import Foundation

extension WebServerThread {

    func socketState(_ user: UnsafeMutableRawPointer?) -> SocketState? {
        guard let user else { return nil }
        return sockets[user.load(as: UInt64.self)]
    }

    func receive(
        _ wsi: OpaquePointer, _ state: SocketState, _ input: UnsafeMutableRawPointer?, _ length: Int
    ) -> Int32 {
        // The client has said all it will (RFC 6455 §5.5.1), or we are closing: nothing more is a message.
        if state.peerClosed || state.pendingClose != nil { return 0 }
        if lws_frame_is_binary(wsi) != 0 {
            return closeNow(wsi, state, .unsupportedData, "binary frames are not accepted: send JSON text")
        }
        if !state.discarding {
            if state.assembly.count + length > configuration.maxMessageBytes {
                state.discarding = true
                state.assembly.removeAll()
            } else if let input {
                state.assembly.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length))
            }
        }
        guard lws_is_final_fragment(wsi) != 0, lws_remaining_packet_payload(wsi) == 0 else { return 0 }
        state.receiving = true
        defer { state.receiving = false }
        if state.discarding {
            state.discarding = false
            delegate.receivedTooLarge(from: state.socket)
        } else {
            let text = String(decoding: state.assembly, as: UTF8.self)
            state.assembly.removeAll(keepingCapacity: state.assembly.capacity <= 64 * 1024)
            delegate.received(text, from: state.socket)
        }
        return 0
    }

    func writeFrame(_ wsi: OpaquePointer, _ state: SocketState) -> Int32 {
        // The close is lws's now: it sends the frame and waits for the client's. A second -1 makes
        // it drop the connection at once: right for a peer that does not read, not for one that
        // still sends (see closeHandedOver).
        if state.closeHandedOver { return state.hungUp ? -1 : 0 }
        if state.pingDue {
            state.pingDue = false
            let start = httpWriteBuffer + cshim_lws_pre()
            // One byte of payload: lws 4.1 does not report an empty pong (RECEIVE_PONG), so an
            // empty ping would leave every answering client looking silent.
            start.pointee = UInt8(ascii: "k")
            if lws_write(wsi, start, 1, LWS_WRITE_PING) < 0 { return -1 }
            if !state.outbox.isEmpty || state.pendingClose != nil { lws_callback_on_writable(wsi) }
            return 0
        }
        if !state.outbox.isEmpty {
            guard write(state.outbox.removeFirst(), on: wsi) else { return -1 }
            // One write per WRITEABLE callback: ask again for the rest (and for a pending close).
            if !state.outbox.isEmpty || state.pendingClose != nil { lws_callback_on_writable(wsi) }
            return 0
        }
        if let (code, reason) = state.pendingClose { return closeNow(wsi, state, code, reason) }
        return 0
    }

    /// One text frame to lws; false when the socket is broken. lws takes the whole frame: what the
    /// kernel does not, it keeps (`lws_partial_buffered`) and sends first when the socket is
    /// writable again.
    func write(_ frame: OutgoingFrame, on wsi: OpaquePointer) -> Bool {
        lws_write(wsi, frame.payload.assumingMemoryBound(to: UInt8.self), frame.count, LWS_WRITE_TEXT) >= frame.count
    }

    /// Writes `frame` at once, outside a WRITEABLE callback, when nothing is queued before it:
    /// asking for writability first costs two `epoll_ctl`s, a loop round and a callback per
    /// connection. lws allows it for a
    /// WebSocket on HTTP/1; later frames wait in the outbox while lws holds a partial write.
    func writeNow(_ frame: OutgoingFrame, to socket: SocketState) {
        if !write(frame, on: socket.wsi) {
            // The socket is broken. Outside its callback it cannot be closed by returning -1:
            // lws closes it at its next timeout check.
            socket.outbox.removeAll()
            socket.pendingClose = (.internalError, "write failed")
            lws_set_timeout(socket.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
        }
    }

    /// Hands the close to lws (the -1 that follows `lws_close_reason`); once only.
    func closeNow(_ wsi: OpaquePointer, _ state: SocketState, _ code: CloseCode, _ reason: String) -> Int32 {
        state.pendingClose = state.pendingClose ?? (code, reason)
        state.closeHandedOver = true
        if !state.hungUp { awaitCloseHandshake(state) }
        var bytes = Array(reason.utf8.prefix(123))
        lws_close_reason(wsi, lws_close_status(rawValue: UInt32(code.rawValue)), &bytes, bytes.count)
        return -1
    }
}

final class SocketState {
    let wsi: OpaquePointer
    let socket: WebSocket
    var outbox: [OutgoingFrame] = []
    var pendingClose: (CloseCode, String)?
    /// The close frame is lws's to send; it then waits for the client's close (RFC 6455 §7.1.1),
    /// reading and dropping what the client still sends, for `closeHandshakeGrace` at most.
    /// Closing the TCP connection with the client's frames unread would make the kernel reset it
    /// and drop what it had not yet sent.
    var closeHandedOver = false
    /// Closed for not reading or not answering pings: no close handshake is waited for.
    var hungUp = false
    /// When a close handed to lws stops waiting for the client's close frame.
    var closeDeadline: ContinuousClock.Instant?
    /// The client sent its close frame: nothing after it is a message.
    var peerClosed = false
    /// A message is being handed to the delegate. What it answers at once waits for WRITEABLE:
    /// lws writes its pong to a ping that came in the same read first (RFC 6455 §5.5.3), where
    /// a write now would overtake it.
    var receiving = false
    var assembly: [UInt8] = []
    var discarding = false
    /// When the client last sent anything (a message or a pong), and when it was last pinged.
    var lastHeard = ContinuousClock.now
    var lastPinged = ContinuousClock.now
    var pingDue = false

    init(wsi: OpaquePointer, socket: WebSocket) {
        self.wsi = wsi
        self.socket = socket
    }
}
