/*
 * DESIGN: one mutex guards everything; workers wait on one condition
 * variable, with a timed wait up to the earliest delayed item. The sets
 * are small (one entry per worklet), so plain arrays and linear search are
 * both simpler and faster than hash tables at this size.
 */
#include "controller/workqueue.h"

#include <errno.h>
#include <stdio.h>
#include <sys/types.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "specs/core/error.h"
#include "specs/core/timeutil.h"
#include "specs/core/banned.h"

struct strset {
	char **items;
	size_t count, cap;
};

struct delayed {
	char *key;
	int64_t ready_ms; /* monotonic */
};

struct failure {
	char *key;
	int count;
};

struct wl_workqueue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct strset queue;	  /* ready, FIFO order */
	struct strset dirty;	  /* needs processing (queued or pending) */
	struct strset processing; /* handed to a worker */
	struct delayed *delayed;
	size_t delayed_count, delayed_cap;
	struct failure *failures;
	size_t failure_count, failure_cap;
	int64_t base_ms, max_ms;
	int shutting_down;
};

static ssize_t set_find(const struct strset *s, const char *key)
{
	for (size_t i = 0; i < s->count; i++)
		if (!strcmp(s->items[i], key))
			return (ssize_t)i;
	return -1;
}

static void set_push(struct strset *s, const char *key)
{
	if (s->count == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **p = realloc(s->items, cap * sizeof(*p));

		if (!p)
			abort();
		s->items = p;
		s->cap = cap;
	}
	s->items[s->count] = strdup(key);
	if (!s->items[s->count])
		abort();
	s->count++;
}

/* Remove index i keeping order (the queue is FIFO). */
static void set_remove_at(struct strset *s, size_t i)
{
	free(s->items[i]);
	memmove(&s->items[i], &s->items[i + 1],
		(s->count - i - 1) * sizeof(s->items[0]));
	s->count--;
}

static void set_remove(struct strset *s, const char *key)
{
	ssize_t i = set_find(s, key);

	if (i >= 0)
		set_remove_at(s, (size_t)i);
}

static void set_free(struct strset *s)
{
	for (size_t i = 0; i < s->count; i++)
		free(s->items[i]);
	free(s->items);
}

int64_t wl_backoff_ms(int64_t base_ms, int64_t max_ms, int failures)
{
	int64_t d = base_ms;

	for (int i = 0; i < failures && d < max_ms; i++)
		d *= 2;
	return d < max_ms ? d : max_ms;
}

int wl_workqueue_new(struct wl_workqueue **out, int64_t base_ms, int64_t max_ms)
{
	struct wl_workqueue *q = calloc(1, sizeof(*q));
	pthread_condattr_t attr;

	if (!q) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &attr);
	pthread_condattr_destroy(&attr);
	q->base_ms = base_ms;
	q->max_ms = max_ms;
	*out = q;
	return 0;
}

void wl_workqueue_free(struct wl_workqueue *q)
{
	if (!q)
		return;
	set_free(&q->queue);
	set_free(&q->dirty);
	set_free(&q->processing);
	for (size_t i = 0; i < q->delayed_count; i++)
		free(q->delayed[i].key);
	free(q->delayed);
	for (size_t i = 0; i < q->failure_count; i++)
		free(q->failures[i].key);
	free(q->failures);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Caller holds the lock. */
static void add_locked(struct wl_workqueue *q, const char *key)
{
	if (q->shutting_down || set_find(&q->dirty, key) >= 0)
		return;
	set_push(&q->dirty, key);
	if (set_find(&q->processing, key) >= 0)
		return;
	set_push(&q->queue, key);
	pthread_cond_signal(&q->cond);
}

void wl_workqueue_add(struct wl_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->lock);
	add_locked(q, key);
	pthread_mutex_unlock(&q->lock);
}

void wl_workqueue_add_after(struct wl_workqueue *q, const char *key,
			    int64_t delay_ms)
{
	int64_t ready = wl_time_mono_ms() + delay_ms;
	size_t i;

	if (delay_ms <= 0) {
		wl_workqueue_add(q, key);
		return;
	}
	pthread_mutex_lock(&q->lock);
	if (q->shutting_down)
		goto out;
	for (i = 0; i < q->delayed_count; i++) {
		if (strcmp(q->delayed[i].key, key))
			continue;
		if (ready < q->delayed[i].ready_ms)
			q->delayed[i].ready_ms = ready;
		goto wake;
	}
	if (q->delayed_count == q->delayed_cap) {
		size_t cap = q->delayed_cap ? q->delayed_cap * 2 : 16;
		struct delayed *p = realloc(q->delayed, cap * sizeof(*p));

		if (!p)
			abort();
		q->delayed = p;
		q->delayed_cap = cap;
	}
	q->delayed[q->delayed_count].key = strdup(key);
	if (!q->delayed[q->delayed_count].key)
		abort();
	q->delayed[q->delayed_count].ready_ms = ready;
	q->delayed_count++;
wake:
	/* A waiting worker recomputes its timeout. */
	pthread_cond_broadcast(&q->cond);
out:
	pthread_mutex_unlock(&q->lock);
}

static struct failure *failure_find(struct wl_workqueue *q, const char *key)
{
	for (size_t i = 0; i < q->failure_count; i++)
		if (!strcmp(q->failures[i].key, key))
			return &q->failures[i];
	return NULL;
}

int64_t wl_workqueue_add_rate_limited(struct wl_workqueue *q, const char *key)
{
	struct failure *f;
	int64_t delay;

	pthread_mutex_lock(&q->lock);
	f = failure_find(q, key);
	if (!f) {
		if (q->failure_count == q->failure_cap) {
			size_t cap = q->failure_cap ? q->failure_cap * 2 : 16;
			struct failure *p =
				realloc(q->failures, cap * sizeof(*p));

			if (!p)
				abort();
			q->failures = p;
			q->failure_cap = cap;
		}
		f = &q->failures[q->failure_count++];
		f->key = strdup(key);
		if (!f->key)
			abort();
		f->count = 0;
	}
	delay = wl_backoff_ms(q->base_ms, q->max_ms, f->count);
	if (f->count < 62)
		f->count++;
	pthread_mutex_unlock(&q->lock);
	wl_workqueue_add_after(q, key, delay);
	return delay;
}

void wl_workqueue_forget(struct wl_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < q->failure_count; i++) {
		if (strcmp(q->failures[i].key, key))
			continue;
		free(q->failures[i].key);
		q->failures[i] = q->failures[--q->failure_count];
		break;
	}
	pthread_mutex_unlock(&q->lock);
}

int wl_workqueue_failures(struct wl_workqueue *q, const char *key)
{
	struct failure *f;
	int n;

	pthread_mutex_lock(&q->lock);
	f = failure_find(q, key);
	n = f ? f->count : 0;
	pthread_mutex_unlock(&q->lock);
	return n;
}

/* Move due delayed items to the queue; return ms until the next, or -1. */
static int64_t promote_delayed(struct wl_workqueue *q)
{
	int64_t now = wl_time_mono_ms(), next = -1;

	for (size_t i = 0; i < q->delayed_count;) {
		struct delayed *d = &q->delayed[i];

		if (d->ready_ms <= now) {
			add_locked(q, d->key);
			free(d->key);
			q->delayed[i] = q->delayed[--q->delayed_count];
			continue;
		}
		if (next < 0 || d->ready_ms - now < next)
			next = d->ready_ms - now;
		i++;
	}
	return next;
}

int wl_workqueue_get(struct wl_workqueue *q, char *key, size_t n)
{
	pthread_mutex_lock(&q->lock);
	for (;;) {
		int64_t wait_ms;

		if (q->shutting_down) {
			pthread_mutex_unlock(&q->lock);
			return WL_ECANCELED;
		}
		wait_ms = promote_delayed(q);
		if (q->queue.count > 0)
			break;
		if (wait_ms < 0) {
			pthread_cond_wait(&q->cond, &q->lock);
		} else {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += wait_ms / 1000;
			ts.tv_nsec += (wait_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&q->cond, &q->lock, &ts);
		}
	}
	snprintf(key, n, "%s", q->queue.items[0]);
	set_push(&q->processing, q->queue.items[0]);
	set_remove(&q->dirty, q->queue.items[0]);
	set_remove_at(&q->queue, 0);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

void wl_workqueue_done(struct wl_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->lock);
	set_remove(&q->processing, key);
	if (set_find(&q->dirty, key) >= 0 && !q->shutting_down) {
		set_push(&q->queue, key);
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
}

void wl_workqueue_shutdown(struct wl_workqueue *q)
{
	pthread_mutex_lock(&q->lock);
	q->shutting_down = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

size_t wl_workqueue_len(struct wl_workqueue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->queue.count;
	pthread_mutex_unlock(&q->lock);
	return n;
}
