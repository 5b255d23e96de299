#ifndef WL_FRONT_H
#define WL_FRONT_H

/*
 * The front door of the API server: it owns the listening socket, reads
 * each connection's request head itself and serves the reverse proxy
 * (path form and host form, HTTP and WebSocket) with its own HTTP/1.1 code
 * on its own epoll threads, forwarding every request header the client
 * sent. A connection whose next request is anything else (the REST API,
 * watch streams, logs, health, metrics) is handed to libwebsockets.
 *
 * libwebsockets 4.1.6 cannot list the request headers it parsed unless it
 * knows their names, which is why proxy requests do not go through it; see
 * the DESIGN comment in front.c for threads, ownership and limits.
 */

#include <stddef.h>

#include "apiserver/auth.h"
#include "apiserver/route.h"
#include "controller/config.h"

struct wl_front;

/*
 * A connection for libwebsockets: nothing of its pending request has been
 * taken off the socket, so lws reads it from the start. Called on a front
 * end thread; the fd is the callee's from then on.
 */
typedef void (*wl_front_handoff_fn)(void *arg, int fd);

struct wl_front_options {
	const struct wl_config *cfg; /* listen, base_domain */
	const struct wl_auth *auth;
	struct wl_route_cache *routes;
	wl_front_handoff_fn handoff;
	void *handoff_arg;
	int threads; /* 0: one per two CPUs, 1 to 4 */
};

/*
 * Bind and listen on cfg->listen. Everything in opts must outlive the
 * front end. No thread runs until wl_front_start().
 */
int wl_front_new(struct wl_front **out, const struct wl_front_options *opts);

/* Start the threads: from now on connections are accepted. */
int wl_front_start(struct wl_front *f);

/*
 * Stop the threads, wait for them and close every connection the front
 * end still owns (those handed off are not its). Accepts NULL.
 */
void wl_front_free(struct wl_front *f);

#endif
