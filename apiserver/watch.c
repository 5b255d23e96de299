/*
 * WebSocket watch streams (see watch.h).
 *
 * DESIGN
 *   Everything here runs on the libwebsockets service thread; the list of
 *   watches needs no lock. Events come from the ring in events.c, which
 *   wakes the service thread with lws_cancel_service(); server.c then calls
 *   wl_watch_wake_all().
 *
 *   Each watch keeps a cursor (every event id <= cursor has been sent or
 *   did not match its filter) and at most one event looked up ahead and
 *   waiting for the socket. Nothing else is queued per client: a client
 *   that does not read leaves its cursor behind while the ring moves on,
 *   and once it is LAG_MAX events behind the newest (or the ring has
 *   dropped what it still needed) it is closed with 1008 "too slow".
 *   The kernel's send buffer is made small for the same reason: otherwise
 *   megabytes of events would vanish into it before the lag shows.
 */
#include "apiserver/watch.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "apiserver/metrics.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/banned.h"

#define LAG_MAX 1024		 /* events behind the newest: too slow */
#define SLOW_GRACE_SECONDS 5	 /* to drain and see the close frame */
#define WATCH_SNDBUF (64 * 1024) /* the kernel doubles it */
#define CLIENT_MSG_MAX 1024	 /* larger client messages are ignored */

struct watch {
	struct watch *next;
	struct watch **pprev;
	struct lws *wsi;
	struct wl_session *s;
	struct wl_events *events;
	char worklet_id[WL_ID_MAX + 1];
	int by_worklet;
	int logs;
	uint64_t cursor;
	struct wl_event pending; /* json != NULL: to send next */
	uint64_t hello_id;
	int hello_due;
	int resync_due;
	int pong_due;
	int slow; /* closing: too slow */
};

static struct watch *watches;

/* Scratch for outgoing messages, with LWS_PRE bytes in front. */
static struct wl_buf out_buf;

static int write_text(struct lws *wsi, const char *text, size_t len)
{
	static const unsigned char pre[LWS_PRE];

	if (!out_buf.max)
		wl_buf_init(&out_buf, 1024 * 1024);
	wl_buf_reset(&out_buf);
	if (wl_buf_add(&out_buf, pre, sizeof(pre)) < 0 ||
	    wl_buf_add(&out_buf, text, len) < 0)
		return -1;
	if (lws_write(wsi, (unsigned char *)out_buf.ptr + LWS_PRE, len,
		      LWS_WRITE_TEXT) < (int)len)
		return -1;
	return 0;
}

/*
 * Look up the next matching event into w->pending. Returns -1 when the
 * ring no longer has what the client needs.
 */
static int fill(struct watch *w)
{
	uint64_t last;
	int r;

	if (w->pending.json)
		return 0;
	last = wl_events_last_id(w->events);
	if (w->cursor >= last)
		return 0;
	r = wl_events_next(w->events, w->cursor, w->s->user,
			   w->by_worklet ? w->worklet_id : NULL, w->logs,
			   &w->pending);
	if (r == 1)
		w->cursor = w->pending.id;
	else if (r == 0)
		w->cursor = last; /* nothing up to last was for us */
	return r < 0 ? -1 : 0;
}

static void mark_slow(struct watch *w)
{
	if (w->slow)
		return;
	w->slow = 1;
	free(w->pending.json);
	w->pending.json = NULL;
	atomic_fetch_add(&wl_metrics.ws_slow_disconnects, 1);
	/* The close frame goes out once it drains; if it never does, drop. */
	lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_REASON_BASE + 1,
			SLOW_GRACE_SECONDS);
	lws_callback_on_writable(w->wsi);
}

/* Queue what is due and ask for a writeable callback if anything is. */
static void kick(struct watch *w)
{
	uint64_t last;

	if (w->slow)
		return;
	if (fill(w) < 0) {
		mark_slow(w);
		return;
	}
	last = wl_events_last_id(w->events);
	if (w->pending.json && last - w->cursor > LAG_MAX) {
		mark_slow(w);
		return;
	}
	if (w->pending.json || w->hello_due || w->resync_due || w->pong_due)
		lws_callback_on_writable(w->wsi);
}

int wl_watch_begin(struct lws *wsi, struct wl_session *s,
		   struct wl_events *events, const struct wl_watch_opts *o)
{
	struct watch *w = NULL;
	struct wl_event probe;
	uint64_t last;
	int fd, sndbuf = WATCH_SNDBUF;

	if (o->worklet_id && strlen(o->worklet_id) > WL_ID_MAX) {
		wl_error_set("invalid worklet id for watch");
		return WL_EINVALID;
	}
	if (!(w = calloc(1, sizeof(*w)))) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	w->wsi = wsi;
	w->s = s;
	w->events = events;
	if (o->worklet_id) {
		snprintf(w->worklet_id, sizeof(w->worklet_id), "%s",
			 o->worklet_id);
		w->by_worklet = 1;
	}
	w->logs = o->logs;
	last = wl_events_last_id(events);
	w->hello_id = last;
	w->hello_due = 1;
	w->cursor = last;
	if (o->since > last) {
		/* Ids from before a restart of the server: they mean nothing.
		 */
		w->resync_due = 1;
	} else if (o->since) {
		int r = wl_events_next(events, o->since, s->user,
				       w->by_worklet ? w->worklet_id : NULL,
				       w->logs, &probe);

		if (r == 1)
			free(probe.json);
		if (r < 0)
			w->resync_due = 1;
		else
			w->cursor = o->since;
	}
	fd = lws_get_socket_fd(wsi);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

	w->next = watches;
	if (watches)
		watches->pprev = &w->next;
	w->pprev = &watches;
	watches = w;
	s->kind = WL_SESSION_WATCH;
	s->impl = w;
	atomic_fetch_add(&wl_metrics.ws_clients, 1);
	lws_callback_on_writable(wsi);
	return 0;
}

static void watch_free(struct watch *w)
{
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
	free(w->pending.json);
	free(w);
	atomic_fetch_sub(&wl_metrics.ws_clients, 1);
	if (!watches) {
		wl_buf_release(&out_buf);
		out_buf.max = 0;
	}
}

static int on_writeable(struct watch *w)
{
	char msg[96];
	int len;

	if (w->slow) {
		static const char reason[] = "too slow";

		lws_close_reason(w->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				 (unsigned char *)reason, sizeof(reason) - 1);
		return -1;
	}
	if (w->hello_due || w->resync_due) {
		len = snprintf(msg, sizeof(msg),
			       "{\"type\":\"%s\",\"last_id\":%llu}",
			       w->hello_due ? "hello" : "resync",
			       (unsigned long long)w->hello_id);
		if (w->hello_due)
			w->hello_due = 0;
		else
			w->resync_due = 0;
		if (write_text(w->wsi, msg, (size_t)len) < 0)
			return -1;
	} else if (w->pong_due) {
		w->pong_due = 0;
		if (write_text(w->wsi, "{\"type\":\"pong\"}", 15) < 0)
			return -1;
	} else {
		if (fill(w) < 0) {
			mark_slow(w);
			return 0;
		}
		if (!w->pending.json)
			return 0;
		if (write_text(w->wsi, w->pending.json, w->pending.json_len) <
		    0)
			return -1;
		free(w->pending.json);
		w->pending.json = NULL;
	}
	kick(w);
	return 0;
}

static void on_receive(struct watch *w, const void *in, size_t len)
{
	const cJSON *type;
	cJSON *msg;

	/* Only small, whole messages mean anything; the rest is ignored. */
	if (len > CLIENT_MSG_MAX || !lws_is_first_fragment(w->wsi) ||
	    !lws_is_final_fragment(w->wsi))
		return;
	if (!(msg = cJSON_ParseWithLength(in, len)))
		return;
	type = cJSON_GetObjectItemCaseSensitive(msg, "type");
	if (cJSON_IsString(type) && !strcmp(type->valuestring, "ping")) {
		w->pong_due = 1;
		lws_callback_on_writable(w->wsi);
	}
	cJSON_Delete(msg);
}

int wl_watch_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      struct wl_session *s, void *in, size_t len)
{
	struct watch *w = s ? s->impl : NULL;

	if (!w)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return on_writeable(w);
	case LWS_CALLBACK_RECEIVE:
		on_receive(w, in, len);
		return 0;
	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		watch_free(w);
		s->impl = NULL;
		s->kind = WL_SESSION_NONE;
		return 0;
	default:
		(void)wsi;
		return 0;
	}
}

void wl_watch_wake_all(struct lws_context *ctx)
{
	for (struct watch *w = watches; w; w = w->next)
		if (!ctx || lws_get_context(w->wsi) == ctx)
			kick(w);
}
