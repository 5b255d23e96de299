#ifndef WL_ROUTE_H
#define WL_ROUTE_H

/*
 * Which worklet a request is for, and where its app listens: the routing
 * rules of the reverse proxy (path form and host form) and a cache of the
 * facts the proxy needs per request (owner, phase, port), shared by the
 * libwebsockets service thread and the front end threads.
 *
 * The cache saves parsing two YAML files per proxied request: an entry is
 * valid while the spec and status files are unchanged (same inode, size and
 * mtime), so two stat(2) calls replace two parses, and a phase change is
 * seen by the very next request. Any thread; the cache has its own lock.
 */

#include <stddef.h>

#include "specs/spec_store.h"
#include "specs/core/buf.h"
#include "specs/worklet.h"

/* The prefix of path-routed proxy requests: WL_ROUTE_WORKLETS<id>/proxy. */
#define WL_ROUTE_WORKLETS "/api/worklet/worklets/"

/* What a proxied request needs to know about its worklet. */
struct wl_route {
	char id[WL_ID_MAX + 1];
	enum wl_phase phase;
	int port;    /* on 127.0.0.1; 0 when none */
	int serving; /* a version of the app answers on port */
	char last_error[512];
};

struct wl_route_cache;

/* store must outlive the cache. */
int wl_route_cache_new(struct wl_route_cache **out,
		       const struct wl_store *store);

/* Accepts NULL. */
void wl_route_cache_free(struct wl_route_cache *c);

/*
 * The routing facts of worklet id into *out if user owns it: 0. Otherwise
 * WL_ENOTFOUND, whether it is missing, someone else's or its id is
 * malformed (indistinguishable on purpose). Any thread.
 */
int wl_route_lookup(struct wl_route_cache *c, const char *id, const char *user,
		    struct wl_route *out);

/*
 * 1 if the worklet's app answers on its port: it is running, or an older
 * version is still Ready while a new one builds and starts (a rollout).
 */
int wl_route_serving(const struct wl_route *r);

/*
 * The text of the 503 page for a worklet that is not serving (its phase
 * and last error), appended to out.
 */
int wl_route_not_serving_text(const struct wl_route *r, struct wl_buf *out);

/*
 * Host routing: when host (len bytes, with or without ":port") is
 * "<id>.<base_domain>", copy the id in lower case to id (n bytes) and
 * return 1; else 0.
 */
int wl_route_host_id(const char *base_domain, const char *host, size_t len,
		     char *id, size_t n);

/*
 * Path routing: when path (len bytes, the query excluded) is
 * WL_ROUTE_WORKLETS "<id>/proxy" or starts with WL_ROUTE_WORKLETS
 * "<id>/proxy/", copy the id to id (n bytes), set *rest to the offset of
 * what follows "/proxy" and return 1; else 0. The id is not validated.
 */
int wl_route_proxy_path(const char *path, size_t len, char *id, size_t n,
			size_t *rest);

/*
 * The preview form (see auth.h): when path (len bytes, no query) is
 * WL_ROUTE_WORKLETS "<id>/preview/<ticket>" with "/..." or nothing after
 * it, copy the id to id (n bytes), set *ticket and *ticket_len to where
 * the ticket is, *rest to the offset of what follows it, and return 1.
 */
int wl_route_preview_path(const char *path, size_t len, char *id, size_t n,
			  size_t *ticket, size_t *ticket_len, size_t *rest);

#endif
