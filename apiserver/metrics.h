#ifndef WL_METRICS_H
#define WL_METRICS_H

/*
 * Process-wide counters for GET /metrics (Prometheus text format). Atomic,
 * so any thread may bump them without a lock.
 */

#include <stdatomic.h>
#include <stdint.h>

#include "specs/core/buf.h"

struct wl_metrics {
	atomic_uint_fast64_t http_requests;
	atomic_uint_fast64_t http_errors; /* 4xx and 5xx answers */
	atomic_uint_fast64_t proxy_requests;
	atomic_uint_fast64_t proxy_errors;    /* 502/503/504 from the proxy */
	atomic_uint_fast64_t proxy_bytes_in;  /* client -> app */
	atomic_uint_fast64_t proxy_bytes_out; /* app -> client */
	atomic_uint_fast64_t proxy_ws_sessions;
	atomic_int_fast64_t ws_clients; /* watch streams open now */
	atomic_uint_fast64_t events_published;
	atomic_uint_fast64_t ws_slow_disconnects;
};

extern struct wl_metrics wl_metrics;

#endif
