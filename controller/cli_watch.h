#ifndef WL_CLI_WATCH_H
#define WL_CLI_WATCH_H

/*
 * workletctl's client of the WebSocket watch streams (libwebsockets):
 *   GET /api/worklet/worklets/{id}/watch   one worklet
 *   GET /api/worklet/watch                 all of the caller's worklets
 * with ?logs=1 and ?since=<id>. The token goes in an Authorization header
 * of the upgrade request. Each event (one JSON text message, the first a
 * {"type":"hello"}) is handed to on_event; on_tick runs every tick_ms
 * between events, on the same thread, so it may make blocking HTTP calls.
 *
 * Single-threaded: the CLI's main thread runs the service loop.
 */

#include <stddef.h>
#include <stdint.h>

#include "controller/cli_http.h"

/* Return non-zero to stop watching. */
typedef int (*wl_cli_event_fn)(void *arg, const char *json, size_t len);
typedef int (*wl_cli_tick_fn)(void *arg);

struct wl_cli_watch_opts {
	const struct wl_cli_conn *conn;
	const char *worklet_id; /* NULL: every worklet of the caller */
	int logs;		/* also log lines */
	uint64_t since;		/* replay after this event id; 0: new only */
	wl_cli_event_fn on_event;
	wl_cli_tick_fn on_tick; /* may be NULL */
	int tick_ms;
	void *arg;
};

/*
 * Connect and hand events over until a callback asks to stop (returns 0)
 * or the stream ends: WL_EUNAVAIL when it could not be opened, WL_ERROR
 * when it closed (message set, with the server's reason when it gave one).
 * The caller decides whether to reconnect, with since = the last id seen.
 */
int wl_cli_watch_run(const struct wl_cli_watch_opts *o);

#endif
