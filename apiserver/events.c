/*
 * The event ring and the watcher thread that fills it (see events.h).
 *
 * DESIGN
 *   Threads: wl_events_publish() runs on the watcher thread and, in tests,
 *   on any thread; wl_events_next() and wl_events_last_id() run on the
 *   libwebsockets service thread. e->lock guards the ring (ring, last_id)
 *   and e->ctx; a publish assigns the id and stores the event under the
 *   lock, so ids are in ring order, and pokes the service thread with
 *   lws_cancel_service() while still holding it, so that
 *   wl_events_set_context(e, NULL) is a barrier before the context goes.
 *
 *   Everything under "watcher" in struct wl_events (the tracked worklets,
 *   inotify, the store) belongs to the watcher thread once it runs; the
 *   initial scan runs on the caller of wl_events_watch_start() before the
 *   thread exists, so what was already there is the baseline when it
 *   returns. wl_events_watch_stop() wakes the thread through an eventfd and
 *   joins it.
 *
 *   The watcher learns of status/ and specs/ changes through inotify, with
 *   a full rescan every RESCAN_MS in case inotify missed something (queue
 *   overflow, a directory replaced). Build logs are polled every POLL_MS:
 *   the controller truncates and rewrites build.log in place, and a
 *   stat() per worklet per poll is cheaper to get right than a watch per
 *   log directory that comes and goes.
 */
#include "apiserver/events.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "apiserver/metrics.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/log.h"
#include "specs/core/timeutil.h"
#include "specs/spec_store.h"
#include "specs/validate.h"
#include "specs/worklet.h"
#include "specs/core/banned.h"

#define EVENT_JSON_MAX (128 * 1024)
#define RESCAN_MS 2000
#define POLL_MS 200
#define LOG_LINE_MAX 4096	  /* longer lines are cut */
#define LOG_LINES_PER_SEC 100	  /* per worklet; the rest are counted */
#define LOG_READ_MAX (256 * 1024) /* per worklet per poll */
#define LOG_TAIL 64		  /* bytes kept to notice a rewrite */

#define USER_SIZE sizeof(((struct wl_event *)0)->user_id)
#define WORKLET_SIZE sizeof(((struct wl_event *)0)->worklet_id)

struct seen_condition {
	char *type;
	char *status;
	char *reason;
	char *message;
};

/* One log file of a worklet the watcher follows. */
struct followed {
	const char *file;   /* "build.log" */
	const char *stream; /* "build" */
	int log_known;
	int log_skip_existing; /* first seen at startup: start at the end */
	dev_t log_dev;
	ino_t log_ino;
	off_t log_off;
	char tail[LOG_TAIL]; /* the last bytes read, ending at log_off */
	size_t tail_len;
	struct wl_buf partial; /* the incomplete last line */
	int discarding;	       /* inside a line already cut */
	int64_t window_ms;
	unsigned window_lines;
	uint64_t skipped;
};

static const char *const log_files[2][2] = {
	{ "build.log", "build" },
	{ "agent.log", "agent" },
};

/* What the watcher last saw of one worklet. */
struct tracked {
	struct tracked *next;
	char id[WL_ID_MAX + 1];
	char owner[USER_SIZE];
	int owner_known;
	int announced; /* a phase event went out */
	enum wl_phase phase;
	int conditions_known;
	struct seen_condition conditions[WL_CONDITIONS_MAX];
	size_t condition_count;
	int marked; /* rescan bookkeeping */

	/* build.log and agent.log: followed alike */
	struct followed logs[2];
};

struct wl_events {
	pthread_mutex_t lock;
	struct wl_event *ring; /* event id N lives in slot (N - 1) % cap */
	size_t cap;
	uint64_t last_id;
	struct lws_context *ctx;

	/* watcher */
	int watching;
	pthread_t thread;
	int stop_fd;
	int inotify_fd;
	int wd_status;
	int wd_specs;
	struct wl_store store;
	int store_ok;
	struct tracked *tracked;
};

/* ---- JSON text ---------------------------------------------------------- */

/*
 * Append s as a JSON string. Control characters, quotes and backslashes
 * are escaped; bytes that are not valid UTF-8 become U+FFFD, because a
 * WebSocket text message must be valid UTF-8 and build logs are not.
 */
static int json_str_n(struct wl_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	int error;

	if ((error = wl_buf_putc(b, '"')) < 0)
		return error;
	while (i < n) {
		unsigned char c = p[i];
		size_t len = 0;

		if (c < 0x80) {
			if (c == '"' || c == '\\')
				error = wl_buf_printf(b, "\\%c", c);
			else if (c == '\n')
				error = wl_buf_puts(b, "\\n");
			else if (c == '\t')
				error = wl_buf_puts(b, "\\t");
			else if (c == '\r')
				error = wl_buf_puts(b, "\\r");
			else if (c < 0x20 || c == 0x7f)
				error = wl_buf_printf(b, "\\u%04x", c);
			else
				error = wl_buf_putc(b, (char)c);
			if (error < 0)
				return error;
			i++;
			continue;
		}
		/* The shortest-form rules of RFC 3629. */
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		if (len && i + len <= n) {
			unsigned char c1 = p[i + 1];
			int ok = (c1 & 0xc0) == 0x80;

			if (c == 0xe0 && c1 < 0xa0)
				ok = 0;
			else if (c == 0xed && c1 > 0x9f)
				ok = 0;
			else if (c == 0xf0 && c1 < 0x90)
				ok = 0;
			else if (c == 0xf4 && c1 > 0x8f)
				ok = 0;
			for (size_t k = 2; ok && k < len; k++)
				ok = (p[i + k] & 0xc0) == 0x80;
			if (ok) {
				if ((error = wl_buf_add(b, p + i, len)) < 0)
					return error;
				i += len;
				continue;
			}
		}
		if ((error = wl_buf_puts(b, "\xef\xbf\xbd")) < 0)
			return error;
		i++;
	}
	return wl_buf_putc(b, '"');
}

static int json_str(struct wl_buf *b, const char *s)
{
	if (!s)
		return wl_buf_puts(b, "null");
	return json_str_n(b, s, strlen(s));
}

/* ---- the ring ----------------------------------------------------------- */

int wl_events_new(struct wl_events **out, size_t history)
{
	struct wl_events *e = NULL;

	*out = NULL;
	if (history == 0) {
		wl_error_set("event history must hold at least one event");
		return WL_EINVALID;
	}
	if (!(e = calloc(1, sizeof(*e))) ||
	    !(e->ring = calloc(history, sizeof(*e->ring)))) {
		free(e);
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	pthread_mutex_init(&e->lock, NULL);
	e->cap = history;
	e->stop_fd = -1;
	e->inotify_fd = -1;
	e->wd_status = -1;
	e->wd_specs = -1;
	*out = e;
	return 0;
}

void wl_events_free(struct wl_events *e)
{
	if (!e)
		return;
	wl_events_watch_stop(e);
	for (size_t i = 0; i < e->cap; i++)
		free(e->ring[i].json);
	free(e->ring);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

void wl_events_set_context(struct wl_events *e, struct lws_context *ctx)
{
	pthread_mutex_lock(&e->lock);
	e->ctx = ctx;
	pthread_mutex_unlock(&e->lock);
}

uint64_t wl_events_publish(struct wl_events *e, const char *worklet_id,
			   const char *user_id, const char *type,
			   const char *fields_json, int is_log)
{
	struct wl_buf tail;
	struct wl_event *slot;
	char head[40], now[40];
	char *json = NULL;
	size_t head_len;
	uint64_t id = 0;

	if (!worklet_id || strlen(worklet_id) >= WORKLET_SIZE || !user_id ||
	    strlen(user_id) >= USER_SIZE || !type) {
		/* Cutting an owner could hand the event to another user. */
		wl_error_set("cannot publish event: bad worklet or user id");
		return 0;
	}
	wl_time_format(now, sizeof(now), wl_time_now_ms());
	wl_buf_init(&tail, EVENT_JSON_MAX);
	if (wl_buf_puts(&tail, ",\"type\":") < 0 || json_str(&tail, type) < 0 ||
	    wl_buf_puts(&tail, ",\"worklet_id\":") < 0 ||
	    json_str(&tail, worklet_id) < 0 ||
	    (fields_json && fields_json[0] &&
	     (wl_buf_putc(&tail, ',') < 0 ||
	      wl_buf_puts(&tail, fields_json) < 0)) ||
	    wl_buf_printf(&tail, ",\"time\":\"%s\"}", now) < 0)
		goto done;

	pthread_mutex_lock(&e->lock);
	head_len = (size_t)snprintf(head, sizeof(head), "{\"id\":%" PRIu64,
				    e->last_id + 1);
	if (!(json = malloc(head_len + tail.len + 1))) {
		pthread_mutex_unlock(&e->lock);
		wl_error_set("out of memory");
		goto done;
	}
	memcpy(json, head, head_len);
	memcpy(json + head_len, wl_buf_cstr(&tail), tail.len + 1);
	id = ++e->last_id;
	slot = &e->ring[(id - 1) % e->cap];
	free(slot->json);
	slot->id = id;
	snprintf(slot->worklet_id, sizeof(slot->worklet_id), "%s", worklet_id);
	snprintf(slot->user_id, sizeof(slot->user_id), "%s", user_id);
	slot->is_log = is_log;
	slot->json = json;
	slot->json_len = head_len + tail.len;
	if (e->ctx)
		lws_cancel_service(e->ctx);
	pthread_mutex_unlock(&e->lock);
	atomic_fetch_add(&wl_metrics.events_published, 1);
done:
	wl_buf_release(&tail);
	return id;
}

int wl_events_next(struct wl_events *e, uint64_t after, const char *user,
		   const char *worklet_id, int want_logs, struct wl_event *out)
{
	uint64_t oldest;
	int found = 0;

	pthread_mutex_lock(&e->lock);
	oldest = e->last_id >= e->cap ? e->last_id - e->cap + 1 : 1;
	if (after >= e->last_id)
		goto done;
	if (after + 1 < oldest) {
		found = -1;
		goto done;
	}
	for (uint64_t id = after + 1; id <= e->last_id; id++) {
		const struct wl_event *ev = &e->ring[(id - 1) % e->cap];

		if (strcmp(ev->user_id, user) ||
		    (worklet_id && strcmp(ev->worklet_id, worklet_id)) ||
		    (ev->is_log && !want_logs))
			continue;
		*out = *ev;
		if (!(out->json = malloc(ev->json_len + 1))) {
			wl_error_set("out of memory");
			goto done; /* 0: try again later */
		}
		memcpy(out->json, ev->json, ev->json_len + 1);
		found = 1;
		break;
	}
done:
	pthread_mutex_unlock(&e->lock);
	return found;
}

uint64_t wl_events_last_id(struct wl_events *e)
{
	uint64_t id;

	pthread_mutex_lock(&e->lock);
	id = e->last_id;
	pthread_mutex_unlock(&e->lock);
	return id;
}

/* ---- the watcher: status and specs --------------------------------------- */

static void conditions_release(struct tracked *t)
{
	for (size_t i = 0; i < t->condition_count; i++) {
		free(t->conditions[i].type);
		free(t->conditions[i].status);
		free(t->conditions[i].reason);
		free(t->conditions[i].message);
	}
	memset(t->conditions, 0, sizeof(t->conditions));
	t->condition_count = 0;
}

static void tracked_free(struct tracked *t)
{
	if (!t)
		return;
	conditions_release(t);
	for (size_t i = 0; i < 2; i++)
		wl_buf_release(&t->logs[i].partial);
	free(t);
}

static struct tracked *tracked_find(struct wl_events *e, const char *id)
{
	for (struct tracked *t = e->tracked; t; t = t->next)
		if (!strcmp(t->id, id))
			return t;
	return NULL;
}

static void tracked_remove(struct wl_events *e, struct tracked *t)
{
	for (struct tracked **pp = &e->tracked; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			tracked_free(t);
			return;
		}
	}
}

uint64_t wl_events_publish_log(struct wl_events *e, const char *worklet_id,
			       const char *user_id, const char *stream,
			       const char *line, size_t len)
{
	struct wl_buf fields;
	uint64_t id = 0;

	wl_buf_init(&fields, 64 * 1024);
	if (wl_buf_puts(&fields, "\"stream\":") == 0 &&
	    json_str_n(&fields, stream, strlen(stream)) == 0 &&
	    wl_buf_puts(&fields, ",\"line\":") == 0 &&
	    json_str_n(&fields, line, len) == 0)
		id = wl_events_publish(e, worklet_id, user_id, "log",
				       wl_buf_cstr(&fields), 1);
	wl_buf_release(&fields);
	return id;
}

static void publish_fields(struct wl_events *e, struct tracked *t,
			   const char *type, struct wl_buf *fields, int is_log)
{
	/* A field that hit the buffer's bound is not worth a broken event. */
	if (!wl_events_publish(e, t->id, t->owner, type, wl_buf_cstr(fields),
			       is_log))
		wl_warn("events: cannot publish '%s' for '%s': %s", type, t->id,
			wl_error_last());
}

static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void publish_phase(struct wl_events *e, struct tracked *t,
			  enum wl_phase phase)
{
	struct wl_buf f;

	wl_buf_init(&f, EVENT_JSON_MAX);
	if (wl_buf_puts(&f, "\"phase\":") == 0 &&
	    json_str(&f, wl_phase_name(phase)) == 0 &&
	    wl_buf_puts(&f, ",\"previous\":") == 0 &&
	    json_str(&f, t->announced ? wl_phase_name(t->phase) : NULL) == 0)
		publish_fields(e, t, "phase", &f, 0);
	wl_buf_release(&f);
}

static void publish_condition(struct wl_events *e, struct tracked *t,
			      const struct wl_condition *c)
{
	struct wl_buf f;
	char when[40];
	int error;

	wl_buf_init(&f, EVENT_JSON_MAX);
	error = wl_buf_puts(&f, "\"condition\":{\"type\":") < 0 ||
		json_str(&f, c->type) < 0 ||
		wl_buf_puts(&f, ",\"status\":") < 0 ||
		json_str(&f, c->status) < 0 ||
		wl_buf_puts(&f, ",\"reason\":") < 0 ||
		json_str(&f, c->reason) < 0 ||
		wl_buf_puts(&f, ",\"message\":") < 0 ||
		json_str(&f, c->message) < 0;
	if (!error && c->last_transition_ms) {
		wl_time_format(when, sizeof(when), c->last_transition_ms);
		error = wl_buf_printf(&f, ",\"lastTransitionTime\":\"%s\"",
				      when) < 0;
	}
	if (!error && wl_buf_putc(&f, '}') == 0)
		publish_fields(e, t, "condition", &f, 0);
	wl_buf_release(&f);
}

/*
 * Compare a freshly read status with what was last seen and publish the
 * differences: the phase first (the headline), then each condition whose
 * status, reason or message changed. Conditions already there when the
 * server started are the baseline, not news.
 */
static void diff_status(struct wl_events *e, struct tracked *t,
			const struct wl_status *st, int initial)
{
	struct seen_condition now[WL_CONDITIONS_MAX];
	size_t count = 0;

	if (st->phase != WL_PHASE_NONE &&
	    (!t->announced || st->phase != t->phase)) {
		publish_phase(e, t, st->phase);
		t->phase = st->phase;
		t->announced = 1;
	}
	memset(now, 0, sizeof(now));
	for (size_t i = 0; i < st->condition_count && i < WL_CONDITIONS_MAX;
	     i++) {
		const struct wl_condition *c = &st->conditions[i];
		const struct seen_condition *old = NULL;

		if (!c->type)
			continue;
		for (size_t k = 0; k < t->condition_count; k++)
			if (str_eq(t->conditions[k].type, c->type))
				old = &t->conditions[k];
		if ((t->conditions_known || !initial) &&
		    (!old || !str_eq(old->status, c->status) ||
		     !str_eq(old->reason, c->reason) ||
		     !str_eq(old->message, c->message)))
			publish_condition(e, t, c);
		now[count].type = dup_or_null(c->type);
		now[count].status = dup_or_null(c->status);
		now[count].reason = dup_or_null(c->reason);
		now[count].message = dup_or_null(c->message);
		count++;
	}
	conditions_release(t);
	memcpy(t->conditions, now, sizeof(now));
	t->condition_count = count;
	t->conditions_known = 1;
}

static int doc_exists(const struct wl_store *s, int which, const char *id)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.yaml",
		 which ? s->status_dir : s->specs_dir, id);
	return wl_fs_exists(path);
}

static struct tracked *tracked_add(struct wl_events *e, const char *id,
				   int initial)
{
	struct tracked *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	snprintf(t->id, sizeof(t->id), "%s", id);
	for (size_t i = 0; i < 2; i++) {
		t->logs[i].file = log_files[i][0];
		t->logs[i].stream = log_files[i][1];
		wl_buf_init(&t->logs[i].partial, LOG_LINE_MAX);
		t->logs[i].log_skip_existing = initial;
	}
	t->next = e->tracked;
	e->tracked = t;
	return t;
}

/*
 * Look at one worklet's files again. The owner comes from the spec and is
 * remembered, so the "deleted" event still reaches them when both files
 * are gone; until an owner is known (status written before a readable
 * spec) nothing is published, because nobody could be shown it.
 */
static void process_id(struct wl_events *e, const char *id, int initial)
{
	struct tracked *t = tracked_find(e, id);
	struct wl_worklet w;
	int has_spec = doc_exists(&e->store, 0, id);
	int has_status = doc_exists(&e->store, 1, id);

	if (!has_spec && !has_status) {
		if (t && t->owner_known)
			wl_events_publish(e, t->id, t->owner, "deleted", NULL,
					  0);
		if (t)
			tracked_remove(e, t);
		return;
	}
	if (!t && !(t = tracked_add(e, id, initial)))
		return;
	if (has_spec && wl_store_read_spec(&e->store, id, &w) == 0) {
		const char *owner = w.meta.user_id ? w.meta.user_id : "";

		/* A longer id is refused by validation; keep the old one. */
		if (strlen(owner) < sizeof(t->owner)) {
			snprintf(t->owner, sizeof(t->owner), "%s", owner);
			t->owner_known = 1;
		}
		wl_worklet_release(&w);
	}
	if (!t->owner_known || !has_status)
		return;
	wl_worklet_init(&w);
	if (wl_store_read_status(&e->store, id, &w) == 0)
		diff_status(e, t, &w.status, initial);
	wl_worklet_release(&w);
}

static void rescan(struct wl_events *e, int initial)
{
	char **ids[2] = { NULL, NULL };
	size_t counts[2] = { 0, 0 };
	char *gone[256];
	size_t ngone;

	for (struct tracked *t = e->tracked; t; t = t->next)
		t->marked = 0;
	for (int which = 0; which < 2; which++) {
		if (wl_store_list(&e->store, which, &ids[which],
				  &counts[which]) < 0)
			continue;
		for (size_t i = 0; i < counts[which]; i++) {
			struct tracked *t = tracked_find(e, ids[which][i]);

			if (t && t->marked)
				continue;
			process_id(e, ids[which][i], initial);
			if ((t = tracked_find(e, ids[which][i])))
				t->marked = 1;
		}
	}
	/* Whatever was not listed is gone (or going): look once more. */
	do {
		ngone = 0;
		for (struct tracked *t = e->tracked; t && ngone < 256;
		     t = t->next)
			if (!t->marked && (gone[ngone] = strdup(t->id)))
				ngone++;
		for (size_t i = 0; i < ngone; i++) {
			struct tracked *t;

			process_id(e, gone[i], initial);
			if ((t = tracked_find(e, gone[i])))
				t->marked = 1;
			free(gone[i]);
		}
	} while (ngone == 256);
	wl_store_free_ids(ids[0], counts[0]);
	wl_store_free_ids(ids[1], counts[1]);
}

/* "<id>.yaml" with a valid id into id; 0 if the name is anything else. */
static int id_from_name(char *id, size_t n, const char *name)
{
	size_t len = strlen(name);

	if (len <= 5 || len - 5 >= n || strcmp(name + len - 5, ".yaml"))
		return 0;
	memcpy(id, name, len - 5);
	id[len - 5] = '\0';
	return wl_validate_id(id) == 0;
}

/* Drain inotify; returns 1 when a full rescan is needed. */
static int read_inotify(struct wl_events *e)
{
	char buf[8192]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	int need_rescan = 0;
	ssize_t n;

	while ((n = read(e->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;
			char id[WL_ID_MAX + 1];

			p += sizeof(*ev) + ev->len;
			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED)) {
				need_rescan = 1;
				if (ev->mask & IN_IGNORED) {
					if (ev->wd == e->wd_status)
						e->wd_status = -1;
					if (ev->wd == e->wd_specs)
						e->wd_specs = -1;
				}
				continue;
			}
			if (ev->len && id_from_name(id, sizeof(id), ev->name))
				process_id(e, id, 0);
		}
	}
	return need_rescan;
}

static void add_watches(struct wl_events *e)
{
	const uint32_t mask =
		IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM;

	if (e->inotify_fd < 0)
		return;
	if (e->wd_status < 0)
		e->wd_status = inotify_add_watch(e->inotify_fd,
						 e->store.status_dir, mask);
	if (e->wd_specs < 0)
		e->wd_specs = inotify_add_watch(e->inotify_fd,
						e->store.specs_dir, mask);
}

/* ---- the watcher: build logs --------------------------------------------- */

static void publish_log_line(struct wl_events *e, struct tracked *t,
			     struct followed *fl, const char *line, size_t len,
			     int cut, uint64_t skipped)
{
	struct wl_buf f;

	if (!skipped && fl->window_lines >= LOG_LINES_PER_SEC) {
		fl->skipped++;
		return;
	}
	if (!skipped)
		fl->window_lines++;
	while (len && line[len - 1] == '\r')
		len--;
	wl_buf_init(&f, EVENT_JSON_MAX);
	if (wl_buf_printf(&f, "\"stream\":\"%s\",\"line\":", fl->stream) == 0 &&
	    json_str_n(&f, line, len) == 0 &&
	    (!cut || wl_buf_puts(&f, ",\"truncated\":true") == 0) &&
	    (!skipped ||
	     wl_buf_printf(&f, ",\"skipped\":%" PRIu64, skipped) == 0))
		publish_fields(e, t, "log", &f, 1);
	wl_buf_release(&f);
}

static void flush_partial(struct wl_events *e, struct tracked *t,
			  struct followed *f, int cut)
{
	if (f->partial.len)
		publish_log_line(e, t, f, wl_buf_cstr(&f->partial),
				 f->partial.len, cut, 0);
	wl_buf_reset(&f->partial);
}

/* Split new bytes of build.log into lines of at most LOG_LINE_MAX. */
static void log_bytes(struct wl_events *e, struct tracked *t,
		      struct followed *f, const char *p, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;

		if (f->discarding) {
			if (nl)
				f->discarding = 0;
		} else if (seg > LOG_LINE_MAX - f->partial.len) {
			wl_buf_add(&f->partial, p,
				   LOG_LINE_MAX - f->partial.len);
			flush_partial(e, t, f, 1);
			f->discarding = !nl;
		} else {
			wl_buf_add(&f->partial, p, seg);
			if (nl)
				flush_partial(e, t, f, 0);
		}
		if (!nl)
			break;
		p += seg + 1;
		n -= seg + 1;
	}
}

static void log_window(struct wl_events *e, struct tracked *t,
		       struct followed *f, int64_t now)
{
	char note[80];
	int len;

	if (now - f->window_ms < 1000)
		return;
	if (f->skipped) {
		len = snprintf(note, sizeof(note),
			       "[%" PRIu64 " lines not shown: too fast]",
			       f->skipped);
		publish_log_line(e, t, f, note, (size_t)len, 0, f->skipped);
		f->skipped = 0;
	}
	f->window_ms = now;
	f->window_lines = 0;
}

/*
 * Publish what was appended to logs/<id>/build.log since the last look.
 * The controller truncates it at each build (same inode): a size below
 * our offset, a new inode, or bytes before the offset that are not what
 * we read there mean a new build, so start again from 0.
 */
static void follow_log(struct wl_events *e, struct tracked *t,
		       struct followed *f, int64_t now)
{
	char path[4096], tail[LOG_TAIL];
	char *chunk = NULL;
	struct stat st;
	size_t want;
	ssize_t n;
	int fd = -1, skip = f->log_skip_existing;

	/* Only what was there at startup is old news. */
	f->log_skip_existing = 0;
	log_window(e, t, f, now);
	snprintf(path, sizeof(path), "%s/%s/%s", e->store.logs_dir, t->id,
		 f->file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto done;
	if (f->log_known && st.st_ino == f->log_ino &&
	    st.st_dev == f->log_dev && st.st_size >= f->log_off &&
	    f->tail_len &&
	    (pread(fd, tail, f->tail_len, f->log_off - (off_t)f->tail_len) !=
		     (ssize_t)f->tail_len ||
	     memcmp(tail, f->tail, f->tail_len)))
		f->log_off = st.st_size + 1; /* rewritten: start over below */
	if (!f->log_known || st.st_ino != f->log_ino ||
	    st.st_dev != f->log_dev || st.st_size < f->log_off) {
		if (f->log_known)
			flush_partial(e, t, f,
				      0); /* the old build's last line */
		f->discarding = 0;
		f->log_known = 1;
		f->log_dev = st.st_dev;
		f->log_ino = st.st_ino;
		f->log_off = skip ? st.st_size : 0;
		f->tail_len = 0;
	}
	if (st.st_size == f->log_off)
		goto done;
	want = (size_t)(st.st_size - f->log_off);
	if (want > LOG_READ_MAX)
		want = LOG_READ_MAX;
	if (!(chunk = malloc(want)))
		goto done;
	if ((n = pread(fd, chunk, want, f->log_off)) <= 0)
		goto done;
	log_bytes(e, t, f, chunk, (size_t)n);
	f->log_off += n;
	f->tail_len = (size_t)n < LOG_TAIL ? (size_t)n : LOG_TAIL;
	if (f->tail_len < LOG_TAIL && f->log_off > n) {
		/* Too little new data: keep the tail from the file itself. */
		size_t keep =
			f->log_off < LOG_TAIL ? (size_t)f->log_off : LOG_TAIL;

		if (pread(fd, f->tail, keep, f->log_off - (off_t)keep) ==
		    (ssize_t)keep)
			f->tail_len = keep;
		else
			f->tail_len = 0;
	} else {
		memcpy(f->tail, chunk + n - (ssize_t)f->tail_len, f->tail_len);
	}
done:
	free(chunk);
	close(fd);
}

/* ---- the watcher thread ------------------------------------------------- */

static void *watch_main(void *arg)
{
	struct wl_events *e = arg;
	int64_t next_rescan = wl_time_mono_ms() + RESCAN_MS;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = e->stop_fd, .events = POLLIN },
			{ .fd = e->inotify_fd, .events = POLLIN },
		};
		int need_rescan = 0;
		int64_t now;

		if (poll(pfd, e->inotify_fd >= 0 ? 2 : 1, POLL_MS) < 0 &&
		    errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (e->inotify_fd >= 0 && pfd[1].revents)
			need_rescan = read_inotify(e);
		now = wl_time_mono_ms();
		if (need_rescan || now >= next_rescan) {
			add_watches(e);
			rescan(e, 0);
			next_rescan = now + RESCAN_MS;
		}
		for (struct tracked *t = e->tracked; t; t = t->next)
			if (t->owner_known)
				for (size_t i = 0; i < 2; i++)
					follow_log(e, t, &t->logs[i], now);
	}
	return NULL;
}

int wl_events_watch_start(struct wl_events *e, const char *state_dir)
{
	int error;

	if (e->watching) {
		wl_error_set("event watcher already started");
		return WL_ECONFLICT;
	}
	if ((error = wl_store_init(&e->store, state_dir)) < 0)
		return error;
	e->store_ok = 1;
	if ((e->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		wl_error_set("cannot create eventfd: %s", strerror(errno));
		error = WL_ERROR;
		goto fail;
	}
	e->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (e->inotify_fd < 0)
		wl_warn("events: inotify unavailable (%s), rescanning every "
			"%d ms",
			strerror(errno), RESCAN_MS);
	add_watches(e);
	/* The baseline: on the caller, so it is complete on return. */
	rescan(e, 1);
	{
		int64_t now = wl_time_mono_ms();

		for (struct tracked *t = e->tracked; t; t = t->next)
			if (t->owner_known)
				for (size_t i = 0; i < 2; i++)
					follow_log(e, t, &t->logs[i], now);
	}
	if ((error = pthread_create(&e->thread, NULL, watch_main, e)) != 0) {
		wl_error_set("cannot start event watcher: %s", strerror(error));
		error = WL_ERROR;
		goto fail;
	}
	e->watching = 1;
	return 0;
fail:
	wl_events_watch_stop(e);
	return error;
}

void wl_events_watch_stop(struct wl_events *e)
{
	if (e->watching) {
		uint64_t one = 1;

		if (write(e->stop_fd, &one, sizeof(one)) < 0)
			wl_warn("events: cannot wake the watcher: %s",
				strerror(errno));
		pthread_join(e->thread, NULL);
		e->watching = 0;
	}
	while (e->tracked)
		tracked_remove(e, e->tracked);
	if (e->inotify_fd >= 0)
		close(e->inotify_fd);
	if (e->stop_fd >= 0)
		close(e->stop_fd);
	e->inotify_fd = e->stop_fd = -1;
	e->wd_status = e->wd_specs = -1;
	if (e->store_ok)
		wl_store_release(&e->store);
	e->store_ok = 0;
}
