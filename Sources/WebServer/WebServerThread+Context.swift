// The lws context of a service thread: its protocol, the static folders as mounts, TLS.
import CLibWebSockets
import CShims
import LWSCore
import Foundation

extension WebServerThread {

    func createContext() -> OpaquePointer? {
        var options = cshim_option_validate_utf8()
        if configuration.securityHeaders { options |= cshim_option_http_headers_security_best_practices_enforce() }
        if configuration.tls != nil { options |= cshim_option_ssl_global_init() }
        // lws gives every connection a receive buffer of this size. Client messages are at most
        // `maxMessageBytes` (4 KiB by default) and larger ones arrive in pieces that `receive`
        // joins, so a small buffer keeps an idle observer cheap.
        let recipe = LWSContextRecipe(
            protocolName: "http", callback: webServerCallback, perSessionDataSize: MemoryLayout<UInt64>.size, receiveBufferSize: 4096,
            acceptsAdoptedConnections: true, timeoutSeconds: 20, options: options, logLevel: cshim_lll_err() | cshim_lll_warn())
        return recipe.make(user: Unmanaged.passUnretained(self).toOpaque(), on: service, keeping: lifetime) { info in
            info.mounts = makeMounts()
            if let tls = configuration.tls {
                info.ssl_cert_filepath = lifetime.keep(tls.certificatePath)
                info.ssl_private_key_filepath = lifetime.keep(tls.privateKeyPath)
                // HTTP/1.1 only: offered h2, a browser opens its WebSocket as an h2 stream
                // (RFC 8441), and the WebSocket path here is built for HTTP/1.1 connections.
                info.alpn = lifetime.keep("http/1.1")
            }
        }
    }

    func makeMounts() -> UnsafePointer<lws_http_mount>? {
        var next: UnsafePointer<lws_http_mount>?
        let mimeTypes = makeMimeTypes()
        for folder in configuration.staticFolders.reversed() {
            let mount = UnsafeMutablePointer<lws_http_mount>.allocate(capacity: 1)
            mount.initialize(to: lws_http_mount())
            mount.pointee.mount_next = next
            mount.pointee.mountpoint = lifetime.keep(folder.urlPrefix)
            mount.pointee.mountpoint_len = UInt8(folder.urlPrefix.utf8.count)
            mount.pointee.origin = lifetime.keep(folder.directory)
            mount.pointee.def = lifetime.keep(folder.defaultFile)
            mount.pointee.origin_protocol = UInt8(LWSMPRO_FILE.rawValue)
            mount.pointee.extra_mimetypes = mimeTypes
            mount.pointee.cache_max_age = 60
            mount.pointee.cache_reusable = 1
            mount.pointee.cache_revalidate = 1
            lifetime.keep(mount)
            next = UnsafePointer(mount)
        }
        return next
    }

    /// Types lws does not know by itself; ES modules must be served as JavaScript.
    func makeMimeTypes() -> UnsafePointer<lws_protocol_vhost_options>? {
        let types = [
            (".mjs", "text/javascript"), (".json", "application/json"), (".svg", "image/svg+xml"),
            (".webmanifest", "application/manifest+json"), (".woff2", "font/woff2"),
        ]
        var next: UnsafePointer<lws_protocol_vhost_options>?
        for (suffix, type) in types {
            let option = UnsafeMutablePointer<lws_protocol_vhost_options>.allocate(capacity: 1)
            option.initialize(to: lws_protocol_vhost_options())
            option.pointee.next = next
            option.pointee.name = lifetime.keep(suffix)
            option.pointee.value = lifetime.keep(type)
            lifetime.keep(option)
            next = UnsafePointer(option)
        }
        return next
    }
}
