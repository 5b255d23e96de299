#ifndef WL_PORT_POOL_H
#define WL_PORT_POOL_H

/*
 * Host ports for worklet containers, from a configured range, published on
 * 127.0.0.1 only. A worklet keeps its port for its whole life (recorded in
 * its status and on its containers' labels), so that after a controller
 * restart wl_port_pool_reserve() re-claims exactly the ports in use and a
 * new worklet never collides with an old one. A claimed port is also
 * probed with bind(2) so a port some other program holds is skipped.
 *
 * Thread-safe (one mutex).
 */

#include <stddef.h>

struct wl_port_pool;

int wl_port_pool_new(struct wl_port_pool **out, int min_port, int max_port);
void wl_port_pool_free(struct wl_port_pool *p);

/*
 * Record that id owns port (from a status file or a container label).
 * Returns WL_ECONFLICT if another id holds it, WL_EINVALID outside range.
 */
int wl_port_pool_reserve(struct wl_port_pool *p, const char *id, int port);

/*
 * The port of id: its existing one, or a new free one (lowest free port
 * that binds on 127.0.0.1). WL_ERROR "no free port in <min>-<max>" when
 * exhausted.
 */
int wl_port_pool_claim(struct wl_port_pool *p, const char *id, int *port);

/* The port id holds, or 0. */
int wl_port_pool_lookup(struct wl_port_pool *p, const char *id);

/* Free id's port. */
void wl_port_pool_release(struct wl_port_pool *p, const char *id);

#endif
