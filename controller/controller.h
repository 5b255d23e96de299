#ifndef WL_CONTROLLER_H
#define WL_CONTROLLER_H

/*
 * The controller: watches the spec directory (inotify) and Docker's event
 * stream, resyncs everything periodically, and feeds worklet ids to a pool
 * of worker threads that run wl_reconcile(). Start and stop from the main
 * thread only.
 */

#include "controller/config.h"

struct wl_controller;

/* cfg must outlive the controller. */
int wl_controller_new(struct wl_controller **out, const struct wl_config *cfg);

/* Adopt ports, start the threads. */
int wl_controller_start(struct wl_controller *c);

/* Ask every thread to stop (safe from a signal-handling thread). */
void wl_controller_request_stop(struct wl_controller *c);

/* Join the threads and free; accepts NULL. */
void wl_controller_free(struct wl_controller *c);

/* Queue a worklet for reconciliation (any thread). */
void wl_controller_enqueue(struct wl_controller *c, const char *id);

#endif
