#ifndef WL_WORKQUEUE_H
#define WL_WORKQUEUE_H

/*
 * A work queue of string keys (worklet ids) with the semantics of
 * Kubernetes' client-go queue:
 *  - a key is never handed to two workers at once: while a key is being
 *    processed, adding it again only marks it dirty, and it is queued again
 *    when the worker calls wl_workqueue_done();
 *  - adding a key that is already queued does nothing (duplicates collapse);
 *  - wl_workqueue_add_after() queues a key after a delay (the earliest
 *    pending delay wins);
 *  - wl_workqueue_add_rate_limited() queues after a per-key exponential
 *    backoff (base * 2^failures, capped); wl_workqueue_forget() resets it.
 *
 * Thread-safe: any thread may add; workers block in wl_workqueue_get().
 */

#include <stddef.h>
#include <stdint.h>

struct wl_workqueue;

/* Backoff: base_ms * 2^(failures) capped at max_ms. */
int wl_workqueue_new(struct wl_workqueue **out, int64_t base_ms,
		     int64_t max_ms);

/* Free the queue; no thread may be using it. Accepts NULL. */
void wl_workqueue_free(struct wl_workqueue *q);

void wl_workqueue_add(struct wl_workqueue *q, const char *key);
void wl_workqueue_add_after(struct wl_workqueue *q, const char *key,
			    int64_t delay_ms);

/* Returns the delay that was applied. */
int64_t wl_workqueue_add_rate_limited(struct wl_workqueue *q, const char *key);
void wl_workqueue_forget(struct wl_workqueue *q, const char *key);

/* Number of consecutive rate-limited requeues of key. */
int wl_workqueue_failures(struct wl_workqueue *q, const char *key);

/*
 * Block until a key is ready; copy it into key (n bytes) and mark it
 * processing. Returns 0, or WL_ECANCELED once the queue is shut down.
 */
int wl_workqueue_get(struct wl_workqueue *q, char *key, size_t n);

/* The worker finished key; requeue it if it was added meanwhile. */
void wl_workqueue_done(struct wl_workqueue *q, const char *key);

/* Wake all workers and make get() return WL_ECANCELED. */
void wl_workqueue_shutdown(struct wl_workqueue *q);

/* Keys queued (ready) now, not counting delayed or processing ones. */
size_t wl_workqueue_len(struct wl_workqueue *q);

/* The backoff for a number of failures, for the same base and cap. */
int64_t wl_backoff_ms(int64_t base_ms, int64_t max_ms, int failures);

#endif
