#ifndef WL_APPLOGS_H
#define WL_APPLOGS_H

/*
 * The app's own output as "log" events (stream "app") for watchers that
 * asked for logs. One follower thread per worklet, started by the first
 * such watcher and ended when the last one leaves; it follows whatever
 * container the status file names, across restarts and redeploys, and
 * publishes each line (cut at 4 KiB, at most 200 lines a second) into the
 * event ring.
 *
 * Threads: acquire/release on the libwebsockets service thread; the
 * followers run on their own threads and only publish.
 */

#include "apiserver/events.h"
#include "controller/config.h"
#include "specs/spec_store.h"

struct wl_applogs;

int wl_applogs_new(struct wl_applogs **out, const struct wl_config *cfg,
		   const struct wl_store *store, struct wl_events *events);

/* Stops every follower and waits for them; accepts NULL. */
void wl_applogs_free(struct wl_applogs *a);

/* A watcher of worklet id (owned by user) wants app lines. */
int wl_applogs_acquire(struct wl_applogs *a, const char *id, const char *user);

/* That watcher left. */
void wl_applogs_release(struct wl_applogs *a, const char *id);

#endif
