#ifndef WL_WATCH_H
#define WL_WATCH_H

/*
 * WebSocket status streams:
 *   GET /api/worklet/worklets/{id}/watch   one worklet
 *   GET /api/worklet/watch                 all of the caller's worklets
 * Query: since=<last event id> (replay what was missed), logs=1 (also log
 * lines). Every event is one text message (see events.h). A client whose
 * queue backs up past a bound is closed with status 1008 and reason
 * "too slow"; it never stalls the server or other clients.
 *
 * Threads: libwebsockets service thread only.
 */

#include <libwebsockets.h>
#include <stdint.h>

#include "apiserver/events.h"
#include "apiserver/session.h"

struct wl_watch_opts {
	const char *worklet_id; /* NULL: all of s->user's worklets */
	uint64_t since;		/* 0: only new events */
	int logs;
};

/*
 * Called by server.c at LWS_CALLBACK_ESTABLISHED of an authenticated,
 * owner-checked watch. On 0 the session is WL_SESSION_WATCH.
 */
int wl_watch_begin(struct lws *wsi, struct wl_session *s,
		   struct wl_events *events, const struct wl_watch_opts *o);

/* Later callbacks of a WL_SESSION_WATCH session. */
int wl_watch_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      struct wl_session *s, void *in, size_t len);

/*
 * Called by server.c on LWS_CALLBACK_EVENT_WAIT_CANCELLED: ask every watch
 * session with pending events for a writeable callback.
 */
void wl_watch_wake_all(struct lws_context *ctx);

#endif
