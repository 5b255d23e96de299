#ifndef WL_RECONCILE_H
#define WL_RECONCILE_H

/*
 * The reconciler: one level-triggered, idempotent pass over one worklet.
 * It never trusts memory: each pass reads the spec and status files, asks
 * Docker what exists (containers and images carry worklet.id labels) and
 * takes the next step towards the spec, writing what it observed to the
 * status file. Killing the process at any point and starting again
 * converges to the same result.
 *
 * Labels on everything we create:
 *   worklet.managed=true  worklet.id=<id>
 *   worklet.instance=<cfg->instance>: lists and garbage collection only
 *                         ever see this service's own (several services
 *                         may share one Docker daemon)
 *   worklet.build=<key>   (images: hash of commit + generated files)
 *   worklet.run=<key>     (containers: hash of image + runtime settings)
 *   worklet.port=<port>   (containers: the host port, for adoption)
 *
 * Rollouts have no downtime: a worklet holds two host ports ("<id>" and
 * "<id>~b" in the pool); a new version starts on the one the serving
 * version does not use, status.port switches when it answers HTTP, and the
 * old container is removed after a short drain. A version that fails to
 * build or start never takes traffic: the old one keeps serving (Ready
 * stays True; Built or Rollout say what failed).
 *
 * Prompts (controller/prompts.h) run inside the pass, after the clone is
 * synced and before detection, so their commits are what gets built.
 *
 * Threads: wl_reconcile() runs on worker threads, one key at a time per
 * key (the work queue guarantees it), so a worklet's files, clone and
 * cache entry are only ever touched by one thread. The shared context is
 * read-only after init except the cache table (its own mutex) and the port
 * pool (its own mutex).
 */

#include <pthread.h>
#include <stdint.h>

#include "controller/config.h"
#include "controller/docker_client.h"
#include "controller/port_pool.h"
#include "specs/spec_store.h"

struct wl_cache_entry;

/* Shared by all workers. */
struct wl_reconciler {
	const struct wl_config *cfg;
	struct wl_store store;
	struct wl_port_pool *ports;
	const volatile int *stop; /* cancels long work (builds, clones) */
	pthread_mutex_t cache_lock;
	struct wl_cache_entry *cache; /* linked list, one per worklet */
	/* Agent runs at once (cfg->agent_concurrency), all worklets. */
	pthread_mutex_t agent_lock;
	int agents_running;
	/* This process: a prompt "running" under another runner was cut
	 * short by a restart. */
	char runner[17];
	char mirrors_dir[4096]; /* <base dir>/.mirrors: shared repo mirrors */
};

/* Per worker thread: owns its Docker client and probe handle. */
struct wl_worker_ctx {
	struct wl_reconciler *r;
	struct wl_docker *docker;
	void *probe; /* CURL easy handle for health checks */
};

int wl_reconciler_init(struct wl_reconciler *r, const struct wl_config *cfg,
		       const volatile int *stop);
void wl_reconciler_release(struct wl_reconciler *r);

/*
 * Re-claim the host ports recorded in status files and on containers, so
 * that ports stay stable across restarts. Call once before workers start.
 */
int wl_reconciler_adopt_ports(struct wl_reconciler *r, struct wl_docker *d);

int wl_worker_ctx_init(struct wl_worker_ctx *w, struct wl_reconciler *r);
void wl_worker_ctx_release(struct wl_worker_ctx *w);

/*
 * Reconcile worklet id. Returns 0 when the pass completed; *requeue_ms is
 * then -1 (nothing to do until something changes) or a delay after which
 * the worklet should be looked at again (health checks, crash backoff).
 * Returns a negative code when a retry can help (Docker unreachable, a
 * transient git error): the caller requeues with backoff. Permanent
 * failures (a build that fails, an invalid spec) are written to status and
 * return 0, so they are not retried in a hot loop.
 */
int wl_reconcile(struct wl_worker_ctx *w, const char *id, int64_t *requeue_ms);

#endif
