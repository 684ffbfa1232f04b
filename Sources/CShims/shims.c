#define _GNU_SOURCE  // accept4
#include "CShims.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

size_t cshim_lws_pre(void) { return LWS_PRE; }

uint64_t cshim_option_validate_utf8(void) { return LWS_SERVER_OPTION_VALIDATE_UTF8; }
uint64_t cshim_option_security_headers(void) { return LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE; }
uint64_t cshim_option_disable_ipv6(void) { return LWS_SERVER_OPTION_DISABLE_IPV6; }
uint64_t cshim_option_ssl_global_init(void) { return LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT; }
uint64_t cshim_option_http_headers_security_best_practices_enforce(void) {
    return LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
}

uint64_t cshim_option_libev(void) { return LWS_SERVER_OPTION_LIBEV; }
void *cshim_ev_loop_new(void) { return ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV); }
void cshim_ev_loop_destroy(void *loop) { ev_loop_destroy((struct ev_loop *)loop); }
const char *cshim_ev_backend_name(void *loop) {
    switch (ev_backend((struct ev_loop *)loop)) {
    case EVBACKEND_EPOLL: return "epoll";
    case EVBACKEND_POLL: return "poll";
    case EVBACKEND_SELECT: return "select";
    default: return "other";
    }
}

struct cshim_wake {
    ev_async watcher;
    cshim_woken_fn woken;
    void *owner;
};

static void cshim_wake_fired(struct ev_loop *loop, ev_async *watcher, int revents) {
    struct cshim_wake *wake = (struct cshim_wake *)watcher;
    wake->woken(wake->owner);
}

void *cshim_ev_wake_new(void *loop, cshim_woken_fn woken, void *owner) {
    struct cshim_wake *wake = calloc(1, sizeof(*wake));
    if (!wake) return NULL;
    wake->woken = woken;
    wake->owner = owner;
    ev_async_init(&wake->watcher, cshim_wake_fired);
    ev_async_start((struct ev_loop *)loop, &wake->watcher);
    return wake;
}

void cshim_ev_wake(void *loop, void *wake) { ev_async_send((struct ev_loop *)loop, &((struct cshim_wake *)wake)->watcher); }

void cshim_ev_wake_free(void *loop, void *wake) {
    ev_async_stop((struct ev_loop *)loop, &((struct cshim_wake *)wake)->watcher);
    free(wake);
}

struct cshim_timer {
    ev_timer watcher;
    cshim_woken_fn fired;
    void *owner;
};

static void cshim_timer_fired(struct ev_loop *loop, ev_timer *watcher, int revents) {
    struct cshim_timer *timer = (struct cshim_timer *)watcher;
    timer->fired(timer->owner);
}

void *cshim_ev_timer_new(void *loop, double seconds, double repeat, cshim_woken_fn fired, void *owner) {
    struct cshim_timer *timer = calloc(1, sizeof(*timer));
    if (!timer) return NULL;
    timer->fired = fired;
    timer->owner = owner;
    ev_timer_init(&timer->watcher, cshim_timer_fired, seconds, repeat);
    ev_timer_start((struct ev_loop *)loop, &timer->watcher);
    return timer;
}

void cshim_ev_timer_rearm(void *loop, void *timer, double seconds) {
    ev_timer *watcher = &((struct cshim_timer *)timer)->watcher;
    ev_timer_stop((struct ev_loop *)loop, watcher);
    ev_timer_set(watcher, seconds, 0.);
    ev_timer_start((struct ev_loop *)loop, watcher);
}

void cshim_ev_timer_free(void *loop, void *timer) {
    ev_timer_stop((struct ev_loop *)loop, &((struct cshim_timer *)timer)->watcher);
    free(timer);
}

static void cshim_deadline_fired(struct ev_loop *loop, ev_timer *timer, int revents) {}

void cshim_ev_run_once(void *loop, double seconds) {
    if (seconds <= 0) {
        ev_run((struct ev_loop *)loop, EVRUN_ONCE);
        return;
    }
    ev_timer deadline;
    ev_timer_init(&deadline, cshim_deadline_fired, seconds, 0);
    ev_timer_start((struct ev_loop *)loop, &deadline);
    ev_run((struct ev_loop *)loop, EVRUN_ONCE);
    ev_timer_stop((struct ev_loop *)loop, &deadline);
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

int cshim_listen(const char *host, int port, int share, int *bound_port, char *error, size_t error_size) {
    struct addrinfo hints = {0}, *found = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    int status = getaddrinfo(host, service, &hints, &found);
    if (status != 0) {
        snprintf(error, error_size, "%s", gai_strerror(status));
        return -1;
    }
    int fd = -1, one = 1;
    const char *failed = "no address";
    for (struct addrinfo *address = found; address; address = address->ai_next) {
        fd = socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address->ai_protocol);
        if (fd < 0) { failed = strerror(errno); continue; }
        // SO_REUSEADDR: a restart may bind while old connections sit in TIME_WAIT.
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (share && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
            failed = strerror(errno);
        } else if (bind(fd, address->ai_addr, address->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
            failed = strerror(errno);
        } else {
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    if (fd < 0) {
        snprintf(error, error_size, "%s", failed);
        return -1;
    }
    struct sockaddr_storage bound;
    socklen_t length = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &length);
    *bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    return fd;
}

int cshim_accept(int listener) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

struct lws *cshim_adopt_listener(struct lws_vhost *vhost, int listener, const char *protocol) {
    lws_sock_file_fd_type descriptor;
    descriptor.filefd = listener;
    return lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, descriptor, protocol, NULL);
}
