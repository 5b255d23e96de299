#ifndef WL_API_H
#define WL_API_H

/*
 * The REST handlers of /api/worklet/worklets. They read and write the
 * state directory only (desired state in specs/, observed state from
 * status/): the controller does the work. Responses use the requirements'
 * Worklet field names (snake_case); errors are
 *   {"error": {"code": "<reason>", "message": "<what is wrong>"}}
 *
 * Threads: the libwebsockets service thread. Everything here is quick
 * local file I/O; nothing waits on Docker, git or the network: a
 * repository host whose addresses must be checked (git_policy.h) is handed
 * back to the server to look up (lookup_needed) and the request is handled
 * again with the answer.
 */

#include <stddef.h>

#include "controller/config.h"
#include "controller/git_policy.h"
#include "specs/core/buf.h"
#include "specs/spec_store.h"

struct wl_api_request {
	const char *method;
	const char *path;  /* without the query */
	const char *query; /* without '?', or NULL */
	const char *user;  /* authenticated */
	const char *body;
	size_t body_len;
	/* the addresses asked for by an earlier lookup_needed, or NULL */
	const struct wl_git_lookup *lookup;
};

struct wl_api_response {
	int status;
	const char *content_type; /* static string */
	char allow[64];		  /* for 405: the allowed methods */
	struct wl_buf body;
	/*
	 * POST /pr: the controller does the work; the server answers when
	 * status.pullRequest says this request (wait_ms) was handled, with
	 * wl_api_pr_result(); until then body holds a 202 "pending".
	 */
	int64_t wait_ms;
	char wait_id[64];
	/*
	 * Create and PUT: the repository's host is a name whose addresses
	 * the policy needs (lookup.host, lookup.port). Nothing was stored and
	 * nothing is to be sent: look it up away from the service thread,
	 * then handle the same request again with rq->lookup.
	 */
	int lookup_needed;
	struct wl_git_lookup lookup;
};

void wl_api_response_init(struct wl_api_response *rs);

/*
 * The outcome of pull request requested_ms of worklet id: 1 and rs set
 * (201 opened, 200 updated, or the error) when the controller handled it,
 * 0 while it has not.
 */
int wl_api_pr_result(const struct wl_store *store, const char *id,
		     const char *user, int64_t requested_ms,
		     struct wl_api_response *rs);
void wl_api_response_release(struct wl_api_response *rs);

/* Set an error response: status, machine code, human message. */
void wl_api_error(struct wl_api_response *rs, int status, const char *code,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Handle one request under /api/worklet/. */
void wl_api_handle(const struct wl_config *cfg, const struct wl_store *store,
		   const struct wl_api_request *rq, struct wl_api_response *rs);

/*
 * Load worklet id for user: spec (+ status if any). Returns 0,
 * WL_ENOTFOUND (missing or owned by someone else: indistinguishable), or
 * WL_EINVALID (unreadable spec).
 */
int wl_api_load_owned(const struct wl_store *store, const char *id,
		      const char *user, struct wl_worklet *out);

#endif
