#ifndef WL_PROMPTS_H
#define WL_PROMPTS_H

/*
 * The prompt queue of one worklet, driven by its reconcile pass (so a
 * worklet's prompts run one at a time, in order, on the worker that holds
 * its key; see specs/prompt.h for the files).
 *
 * A pass calls wl_prompts_step() after syncing the clone and before
 * detecting and building: it settles what needs no agent (cancelled
 * queued prompts, prompts interrupted by a restart of workletd), then
 * runs the oldest prompt due, if an agent slot is free:
 *
 *   queued -> running -> (changes) commit -> building -> completed
 *                     -> (no changes) completed
 *                     -> (transient API error) queued again, with backoff
 *                     -> (error, timeout, cancel) error; tree restored
 *   building -> fixing (the build or start failed; a fix-up prompt is sent
 *               to the same session) -> building ...  -> error when the
 *               fix-up attempts run out
 *
 * After the pass built and rolled out, wl_prompts_finish() completes the
 * prompt whose commit now serves, or moves it to fixing / error.
 */

#include <stdint.h>

#include "controller/reconcile.h"
#include "specs/worklet.h"

struct wl_prompt_pass {
	struct wl_reconciler *r;
	const char *id;
	const char *clone_dir;
	struct wl_worklet *wl; /* meta + spec; status is updated */
	int64_t now;
	/* Save wl's status (the pass's writer, which skips no-op writes). */
	int (*save)(void *ctx);
	void *ctx;
};

/*
 * Run the next prompt if one is due. *committed is set when the agent
 * made a commit (the caller builds the new HEAD). *requeue_ms is lowered
 * when the queue wants another look (a retry later, a busy agent slot,
 * more prompts). Returns 0, or a negative code when a retry can help.
 */
int wl_prompts_step(struct wl_prompt_pass *pp, int *committed,
		    int64_t *requeue_ms);

/*
 * After build and rollout of head: serving_commit tells what serves now;
 * build_failed / rollout_failed and message say what went wrong with head.
 */
void wl_prompts_finish(struct wl_prompt_pass *pp, const char *head,
		       int build_failed, int rollout_failed,
		       const char *message, int64_t *requeue_ms);

/* Remove the prompt files and agent state of a deleted worklet. */
void wl_prompts_forget(struct wl_reconciler *r, const char *id,
		       const char *clone_dir);

#endif
