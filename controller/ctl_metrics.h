#ifndef WL_CTL_METRICS_H
#define WL_CTL_METRICS_H

/*
 * Controller counters, exported by the API server's /metrics when both run
 * in one process. Atomic: bumped by worker threads without a lock.
 */

#include <stdatomic.h>
#include <stdint.h>

struct wl_ctl_metrics {
	atomic_uint_fast64_t reconciles;
	atomic_uint_fast64_t reconcile_errors;
	atomic_uint_fast64_t reconcile_ms_sum;
	atomic_uint_fast64_t builds;
	atomic_uint_fast64_t build_failures;
	atomic_uint_fast64_t app_restarts;
	/* This instance's images and their disk, at the last resync. */
	atomic_int_fast64_t image_bytes;
	atomic_int_fast64_t images;
	atomic_int running; /* 1 when the controller runs in this process */
};

extern struct wl_ctl_metrics wl_ctl_metrics;

#endif
