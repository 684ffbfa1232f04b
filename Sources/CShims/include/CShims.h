// What Swift cannot import from libwebsockets: function-like and composite macros.
// Each shim is a one-line function so that the Swift side stays free of magic numbers.
#ifndef CSHIMS_H
#define CSHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <libwebsockets.h>

/// Bytes lws needs free before every payload handed to lws_write (it writes the frame header there).
size_t cshim_lws_pre(void);

/// Server option bits (64-bit composite macros in lws-context-vhost.h).
uint64_t cshim_option_validate_utf8(void);
uint64_t cshim_option_listen_share(void);
uint64_t cshim_option_security_headers(void);
uint64_t cshim_option_disable_ipv6(void);
uint64_t cshim_option_ssl_global_init(void);
uint64_t cshim_option_http_headers_security_best_practices_enforce(void);

/// Route lws's own log lines (levels: LLL_ERR | LLL_WARN ...) to stderr with a prefix.
void cshim_lws_set_log_level(int level);
int cshim_lll_err(void);
int cshim_lll_warn(void);
int cshim_lll_notice(void);

/// Byte-order-free header writers used for HTTP responses.
int cshim_add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end);

#endif
