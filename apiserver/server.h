#ifndef WL_SERVER_H
#define WL_SERVER_H

/*
 * The API server: one libwebsockets context and service thread serving the
 * REST API, WebSocket status streams and the reverse proxy on
 * cfg->listen. It talks to the controller only through the state
 * directory, so it runs in workletd's process or alone
 * (`workletd apiserver`).
 *
 * Threads: wl_apiserver_run() is the service loop and must run on one
 * thread; wl_apiserver_request_stop() may be called from any thread.
 */

#include "controller/config.h"

struct wl_apiserver;

/* cfg must outlive the server. Binds the listen socket. */
int wl_apiserver_new(struct wl_apiserver **out, const struct wl_config *cfg);

/* Serve until wl_apiserver_request_stop(). */
int wl_apiserver_run(struct wl_apiserver *s);

void wl_apiserver_request_stop(struct wl_apiserver *s);

/* Accepts NULL. */
void wl_apiserver_free(struct wl_apiserver *s);

#endif
