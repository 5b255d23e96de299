#ifndef WL_EVENTS_H
#define WL_EVENTS_H

/*
 * The event stream behind the WebSocket watches. The API server learns of
 * changes only through the state directory (it may run apart from the
 * controller): a watcher thread follows status/ and specs/ (inotify plus a
 * periodic rescan) and each worklet's build log, and turns differences into
 * events, each a JSON object with a monotonically increasing id:
 *
 *   {"id":12,"type":"phase","worklet_id":"w1","phase":"running",
 *    "previous":"deploying","time":"2026-11-24T20:00:00Z"}
 *   {"id":13,"type":"condition","worklet_id":"w1","condition":{...}}
 *   {"id":14,"type":"log","worklet_id":"w1","stream":"build","line":"..."}
 *   {"id":15,"type":"deleted","worklet_id":"w1"}
 *
 * A bounded history (ring) lets a client that reconnects with its last id
 * get what it missed; one older than the history gets {"type":"resync"}.
 *
 * Threads: publishing happens on the watcher thread (and, for tests, any
 * thread); readers are on the libwebsockets service thread. One mutex
 * guards the ring; a publish calls lws_cancel_service() on the registered
 * context so the service thread wakes up and pushes to clients
 * (LWS_CALLBACK_EVENT_WAIT_CANCELLED).
 */

#include <stddef.h>
#include <stdint.h>

struct lws_context;
struct wl_events;

struct wl_event {
	uint64_t id;
	char worklet_id[64];
	char user_id[129]; /* the owner: events are only shown to them */
	int is_log;	   /* log lines are sent only to clients that ask */
	char *json;	   /* the whole event object, NUL-terminated */
	size_t json_len;
};

/* history: events kept for replay (e.g. 4096). */
int wl_events_new(struct wl_events **out, size_t history);
void wl_events_free(struct wl_events *e);

/* Wake this context on every publish (NULL: none). */
void wl_events_set_context(struct wl_events *e, struct lws_context *ctx);

/*
 * Publish: builds the event JSON from type and the fields object text
 * (e.g. "\"phase\":\"running\""), assigns the next id. Any thread.
 */
uint64_t wl_events_publish(struct wl_events *e, const char *worklet_id,
			   const char *user_id, const char *type,
			   const char *fields_json, int is_log);

/*
 * Publish one log line ({"type":"log","stream":stream,"line":...}); the
 * line need not be valid UTF-8 or NUL-terminated. Any thread.
 */
uint64_t wl_events_publish_log(struct wl_events *e, const char *worklet_id,
			       const char *user_id, const char *stream,
			       const char *line, size_t len);

/*
 * Copy into out the first event with id > after that passes the filter
 * (user must match; worklet_id NULL = all of the user's; logs only when
 * want_logs). Returns 1 (found; caller frees out->json), 0 (none yet), or
 * -1 when `after` is older than the history (the client must resync).
 */
int wl_events_next(struct wl_events *e, uint64_t after, const char *user,
		   const char *worklet_id, int want_logs, struct wl_event *out);

/* The id of the newest event (0 if none). */
uint64_t wl_events_last_id(struct wl_events *e);

/*
 * The watcher thread: follows <state_dir>/status, specs and logs and
 * publishes. Start once; stop before wl_events_free.
 */
int wl_events_watch_start(struct wl_events *e, const char *state_dir);
void wl_events_watch_stop(struct wl_events *e);

#endif
