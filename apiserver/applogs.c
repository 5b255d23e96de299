/*
 * DESIGN: the follower list is guarded by `lock`; acquire/release run on
 * the service thread, each follower thread reads its own entry's cancel
 * flag and the status file, and publishes into the event ring (which has
 * its own lock). A follower whose count drops to zero is cancelled; its
 * thread unlinks and frees it on the way out, and wl_applogs_free() waits
 * for all threads to be gone.
 */
#include "apiserver/applogs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/docker_client.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/log.h"
#include "specs/core/timeutil.h"
#include "specs/core/banned.h"

#define LINE_MAX_BYTES 4096
#define LINES_PER_SECOND 200

struct follower {
	struct follower *next;
	struct wl_applogs *owner;
	char id[WL_ID_MAX + 1];
	char user[129];
	int refs;
	volatile int cancel;
	struct wl_buf line; /* the line being received */
	int64_t window_ms;  /* rate limit: the current second */
	int lines;
	size_t skipped;
};

struct wl_applogs {
	const struct wl_config *cfg;
	const struct wl_store *store;
	struct wl_events *events;
	pthread_mutex_t lock;
	pthread_cond_t gone;
	struct follower *list;
	int threads;
};

int wl_applogs_new(struct wl_applogs **out, const struct wl_config *cfg,
		   const struct wl_store *store, struct wl_events *events)
{
	struct wl_applogs *a = calloc(1, sizeof(*a));

	if (!a) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	a->cfg = cfg;
	a->store = store;
	a->events = events;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->gone, NULL);
	*out = a;
	return 0;
}

void wl_applogs_free(struct wl_applogs *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	for (struct follower *f = a->list; f; f = f->next)
		f->cancel = 1;
	while (a->threads > 0)
		pthread_cond_wait(&a->gone, &a->lock);
	pthread_mutex_unlock(&a->lock);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->gone);
	free(a);
}

static void publish_line(struct follower *f, const char *s, size_t n)
{
	int64_t now = wl_time_mono_ms();

	if (now - f->window_ms >= 1000) {
		if (f->skipped) {
			char note[128];
			int len = snprintf(note, sizeof(note),
					   "[worklet: %zu lines skipped: more "
					   "than %d a second]",
					   f->skipped, LINES_PER_SECOND);

			wl_events_publish_log(f->owner->events, f->id, f->user,
					      "app", note, (size_t)len);
		}
		f->window_ms = now;
		f->lines = 0;
		f->skipped = 0;
	}
	if (f->lines >= LINES_PER_SECOND) {
		f->skipped++;
		return;
	}
	f->lines++;
	wl_events_publish_log(f->owner->events, f->id, f->user, "app", s,
			      n > LINE_MAX_BYTES ? LINE_MAX_BYTES : n);
}

static void on_output(void *ctx, const char *data, size_t len)
{
	struct follower *f = ctx;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n') {
			size_t n = f->line.len;

			if (n && f->line.ptr[n - 1] == '\r')
				n--;
			publish_line(f, wl_buf_cstr(&f->line), n);
			wl_buf_reset(&f->line);
		} else if (f->line.len < LINE_MAX_BYTES) {
			wl_buf_putc(&f->line, data[i]);
		}
	}
}

/* Sleep up to ms, waking early on cancel. */
static void nap(struct follower *f, int ms)
{
	for (int i = 0; i < ms / 100 && !f->cancel; i++)
		usleep(100 * 1000);
}

static void *follower_main(void *arg)
{
	struct follower *f = arg;
	struct wl_applogs *a = f->owner;
	struct wl_docker *d = NULL;
	/* From when the first watcher asked: nothing older, nothing missed. */
	int64_t since = wl_time_now_ms() / 1000;

	if (wl_docker_new(&d, a->cfg->docker_host) < 0) {
		wl_warn("app logs of '%s': %s", f->id, wl_error_last());
		f->cancel = 1;
	}
	while (!f->cancel) {
		struct wl_worklet w;
		char cid[80] = "";

		wl_worklet_init(&w);
		if (wl_store_read_status(a->store, f->id, &w) == 0 &&
		    w.status.container_id)
			snprintf(cid, sizeof(cid), "%s", w.status.container_id);
		wl_worklet_release(&w);
		if (cid[0]) {
			/* Returns when the container stops, or on cancel. */
			int64_t until = wl_time_now_ms() / 1000;

			wl_docker_container_logs_follow(
				d, cid, 0, since, on_output, f, &f->cancel);
			/* The next attach picks up where this one was. */
			since = until > since ? until : since;
		}
		nap(f, 1000);
	}
	wl_docker_free(d);

	pthread_mutex_lock(&a->lock);
	for (struct follower **pp = &a->list; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	wl_buf_release(&f->line);
	free(f);
	a->threads--;
	pthread_cond_broadcast(&a->gone);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int wl_applogs_acquire(struct wl_applogs *a, const char *id, const char *user)
{
	struct follower *f;
	pthread_t t;
	int error = 0;

	pthread_mutex_lock(&a->lock);
	for (f = a->list; f; f = f->next) {
		if (!strcmp(f->id, id) && !f->cancel) {
			f->refs++;
			goto out;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		error = WL_ERROR;
		goto out;
	}
	f->owner = a;
	f->refs = 1;
	snprintf(f->id, sizeof(f->id), "%s", id);
	snprintf(f->user, sizeof(f->user), "%s", user);
	wl_buf_init(&f->line, LINE_MAX_BYTES + 1);
	if (pthread_create(&t, NULL, follower_main, f)) {
		free(f);
		wl_error_set("cannot start an app log follower");
		error = WL_ERROR;
		goto out;
	}
	pthread_detach(t);
	a->threads++;
	f->next = a->list;
	a->list = f;
out:
	pthread_mutex_unlock(&a->lock);
	return error;
}

void wl_applogs_release(struct wl_applogs *a, const char *id)
{
	/* NULL: the watch streams closed by lws_context_destroy, after the
	   followers went (wl_apiserver_free ends them first). */
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	for (struct follower *f = a->list; f; f = f->next) {
		if (!strcmp(f->id, id) && !f->cancel) {
			if (--f->refs == 0)
				f->cancel = 1;
			break;
		}
	}
	pthread_mutex_unlock(&a->lock);
}
