#ifndef WL_PULLS_H
#define WL_PULLS_H

/*
 * Pull requests, driven by the reconcile pass like prompts: when
 * spec.pullRequest.requestedAt is newer than status.pullRequest.handledAt,
 * push the worklet's commits (never forced) to the requested branch
 * (default worklet/<id>) and open the pull request through the GitHub REST
 * API, or update the one already open from that branch. The body is the
 * user's description, the preview URL and the prompt history. The result,
 * or the error with a code the API maps to a status, goes to
 * status.pullRequest; the API server waits for it.
 */

#include "controller/reconcile.h"
#include "specs/worklet.h"

struct wl_pull_pass {
	struct wl_reconciler *r;
	const char *id;
	const char *clone_dir;
	struct wl_worklet *wl; /* status.pullRequest is updated */
};

/* 1 when a request waits to be handled. */
int wl_pull_due(const struct wl_worklet *w);

/* Handle it; the outcome is in wl->status.pull_request. */
void wl_pull_step(struct wl_pull_pass *pp);

#endif
