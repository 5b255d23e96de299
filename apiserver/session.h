#ifndef WL_SESSION_H
#define WL_SESSION_H

/*
 * One client connection of the API server, as libwebsockets' per-session
 * user data of protocols[0] ("worklet"). server.c authenticates and
 * routes each request, then hands the session to the module that serves it:
 *
 *   WL_SESSION_API    REST handlers (api.c): a whole response in memory
 *   WL_SESSION_PROXY  the reverse proxy (proxy.c), HTTP or WebSocket
 *   WL_SESSION_WATCH  WebSocket status streams (watch.c)
 *   WL_SESSION_STREAM a chunked HTTP stream (logs?follow=1)
 *
 * All of it runs on the libwebsockets service thread only. Modules keep
 * their own state behind `impl` and free it on LWS_CALLBACK_CLOSED(_HTTP).
 */

#include <libwebsockets.h>

#include "specs/worklet.h"

#define WL_USER_MAX 128

enum wl_session_kind {
	WL_SESSION_NONE = 0,
	WL_SESSION_API,
	WL_SESSION_PROXY,
	WL_SESSION_WATCH,
	WL_SESSION_STREAM,
};

struct wl_apiserver;

struct wl_session {
	enum wl_session_kind kind;
	struct wl_apiserver *server;
	char user[WL_USER_MAX + 1];	/* authenticated user id */
	char worklet_id[WL_ID_MAX + 1]; /* target worklet, if any */
	void *impl;			/* the serving module's state */
	int app_logs; /* holds an app log follower for worklet_id */
};

/*
 * Where a proxied request goes: the worklet's app on the host. Filled by
 * server.c after the ownership check and the phase check (only running
 * worklets are proxied; others get a 503 page from server.c).
 */
struct wl_proxy_target {
	char worklet_id[WL_ID_MAX + 1];
	int port;	    /* on 127.0.0.1 */
	const char *prefix; /* "/api/worklet/worklets/<id>/proxy" or "" */
	int host_routed;    /* 1: reached as <id>.<base domain> */
	char proto[8];	    /* X-Forwarded-Proto for the app */
};

#endif
