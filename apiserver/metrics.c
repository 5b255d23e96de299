/*
 * The process-wide counters (see metrics.h). They are atomics, so there is
 * nothing else here: the definition lives in its own file so that every
 * module can bump them without depending on server.c.
 */

#include "apiserver/metrics.h"

#include "specs/core/banned.h"

struct wl_metrics wl_metrics;
