#include "CShims.h"
#include <stdio.h>
#include <string.h>

size_t cshim_lws_pre(void) { return LWS_PRE; }

uint64_t cshim_option_validate_utf8(void) { return LWS_SERVER_OPTION_VALIDATE_UTF8; }
uint64_t cshim_option_listen_share(void) { return LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE; }
uint64_t cshim_option_security_headers(void) { return LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE; }
uint64_t cshim_option_disable_ipv6(void) { return LWS_SERVER_OPTION_DISABLE_IPV6; }
uint64_t cshim_option_ssl_global_init(void) { return LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT; }
uint64_t cshim_option_http_headers_security_best_practices_enforce(void) {
    return LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
}

static void cshim_emit(int level, const char *line) {
    // lws lines end with a newline already.
    fprintf(stderr, "lws[%d] %s", level, line);
}

void cshim_lws_set_log_level(int level) { lws_set_log_level(level, cshim_emit); }
int cshim_lll_err(void) { return LLL_ERR; }
int cshim_lll_warn(void) { return LLL_WARN; }
int cshim_lll_notice(void) { return LLL_NOTICE; }

int cshim_add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end) {
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}
