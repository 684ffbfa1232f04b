// What Swift cannot import from libwebsockets (function-like and composite macros), and the few
// libev calls its event loop needs (libev is only used as lws's loop; see LWSServiceThread).
// The lws shims are one-line functions, so that the Swift side stays free of magic numbers.
#ifndef CSHIMS_H
#define CSHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <libwebsockets.h>

/// Bytes lws needs free before every payload handed to lws_write (it writes the frame header there).
size_t cshim_lws_pre(void);

/// Server option bits (64-bit composite macros in lws-context-vhost.h).
uint64_t cshim_option_validate_utf8(void);
uint64_t cshim_option_security_headers(void);
uint64_t cshim_option_disable_ipv6(void);
uint64_t cshim_option_ssl_global_init(void);
uint64_t cshim_option_http_headers_security_best_practices_enforce(void);

/// lws's event loop on libev (epoll) instead of its own poll(), which walks every socket on every
/// wake-up. The loop is made here and handed to lws as a "foreign" loop: lws then leaves out the
/// SIGINT watcher that two contexts in one process cannot share. NULL if libev cannot make one.
uint64_t cshim_option_libev(void);
void *cshim_ev_loop_new(void);
void cshim_ev_loop_destroy(void *loop);
/// The loop's kernel interface, for the log: "epoll", "poll", ...
const char *cshim_ev_backend_name(void *loop);

/// Waking the loop from another thread. On a foreign loop lws 4.1 never watches its own wake-up
/// pipe, so `lws_cancel_service` does not wake it; an ev_async does. `wake` may be called from
/// any thread; `woken(owner)` then runs on the loop's thread, inside lws_service.
typedef void (*cshim_woken_fn)(void *owner);
void *cshim_ev_wake_new(void *loop, cshim_woken_fn woken, void *owner);
void cshim_ev_wake(void *loop, void *wake);
void cshim_ev_wake_free(void *loop, void *wake);
/// A timer on the loop: `fired(owner)` runs on the loop's thread after `seconds`, then every
/// `repeat` seconds (never again when `repeat` is 0, until it is re-armed).
void *cshim_ev_timer_new(void *loop, double seconds, double repeat, cshim_woken_fn fired, void *owner);
/// Makes `timer` fire once, `seconds` from now (and not before, whatever it was set to).
void cshim_ev_timer_rearm(void *loop, void *timer, double seconds);
void cshim_ev_timer_free(void *loop, void *timer);
/// One round of the loop: waits for events and serves them (lws's watchers run inside). The
/// loop is run here, not through lws_service: on libev, lws 4.1's lws_service runs it until
/// ev_break. With `seconds` > 0 it returns within that time even when nothing happens.
void cshim_ev_run_once(void *loop, double seconds);

/// The server's listening socket, made here rather than by lws 4.1, which gets two things wrong:
/// with IPv6 built in it binds an IPv4 address such as 127.0.0.1 as "::" (every interface), and
/// it sets SO_REUSEPORT only for a context with several service threads, so processes cannot
/// share a port. Binds `host` (a numeric IPv4 or IPv6 address, or a name) and `port` (0: the
/// kernel chooses), with SO_REUSEPORT when `share`. Returns the non-blocking descriptor and puts
/// the bound port in `bound_port`; on failure returns -1 and writes why into `error`.
int cshim_listen(const char *host, int port, int share, int *bound_port, char *error, size_t error_size);
/// One connection waiting on `listener`, non-blocking and with TCP_NODELAY (what lws's own
/// listener sets), ready for lws_adopt_socket_vhost; -1 when none waits.
int cshim_accept(int listener);
/// Puts `listener` on `vhost`'s loop as a raw descriptor of `protocol`: lws then calls that
/// protocol with LWS_CALLBACK_RAW_RX_FILE when connections wait. NULL if lws refuses it.
struct lws *cshim_adopt_listener(struct lws_vhost *vhost, int listener, const char *protocol);

/// Route lws's own log lines (levels: LLL_ERR | LLL_WARN ...) to stderr with a prefix.
void cshim_lws_set_log_level(int level);
int cshim_lll_err(void);
int cshim_lll_warn(void);
int cshim_lll_notice(void);

/// Byte-order-free header writers used for HTTP responses.
int cshim_add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end);

#endif
