#ifndef WL_PROMPT_H
#define WL_PROMPT_H

/*
 * WorkletPrompt: one prompt sent to a worklet's agent, and what became of
 * it. Like the worklet itself it is split by writer, in one flat directory
 * (one inotify watch covers every worklet):
 *
 *   prompts/<worklet id>.<prompt id>.json         the request: written once,
 *                                                 by the API server (or by
 *                                                 the controller for the
 *                                                 base prompt), never
 *                                                 changed
 *   prompts/<worklet id>.<prompt id>.status.json  what happened: written by
 *                                                 the controller only
 *   prompts/<worklet id>.<prompt id>.cancel       a cancel request: an empty
 *                                                 file made by the API server
 *   prompts/<worklet id>.<prompt id>.retry        a retry request of a failed
 *                                                 prompt: the time it was
 *                                                 asked (ms), by the API
 *                                                 server; the controller
 *                                                 queues the prompt again
 *                                                 when it is newer than the
 *                                                 prompt's end
 *
 * A request without a status file is queued. Prompt ids are "p", 13 digits
 * of creation time in ms and 6 hex digits, so the names sort in the order
 * the prompts were made, and prompts run in that order, one at a time per
 * worklet.
 *
 * Every write is atomic and fsync'd (the request before the API answers),
 * so a prompt is never lost and never half-written. Thread-safe: only
 * paths are shared.
 */

#include <stddef.h>
#include <stdint.h>

#include "specs/spec_store.h"

#define WL_PROMPT_ID_LEN 20 /* "p" + 13 + 6 */
#define WL_PROMPT_RESPONSE_MAX (256 * 1024)
#define WL_PROMPT_FILE_MAX (512 * 1024)

/* The requirements' three states. */
enum wl_prompt_state {
	WL_PROMPT_PROCESSING = 0,
	WL_PROMPT_COMPLETED,
	WL_PROMPT_ERROR,
};

/* Where a processing prompt is; a finished one is "done". */
enum wl_prompt_stage {
	WL_STAGE_QUEUED = 0,
	WL_STAGE_RUNNING,  /* the agent runs */
	WL_STAGE_BUILDING, /* committed; the new version is being built */
	WL_STAGE_FIXING,   /* the build or start failed; a fix-up is due */
	WL_STAGE_DONE,
};

struct wl_prompt {
	/* The request. */
	char *id;
	char *worklet_id;
	char *user_id;
	char *prompt;
	int base; /* 1: the worklet's base_prompt, applied at creation */
	int64_t created_ms;
	/* A cancel was asked for (the .cancel file exists). */
	int cancel_requested;
	/* When a retry was asked for (the .retry file), or 0. */
	int64_t retry_ms;
	/* The status (all zero/NULL while queued). */
	enum wl_prompt_state state;
	enum wl_prompt_stage stage;
	char *response;	   /* the agent's final text */
	char *error;	   /* why it failed, for state error */
	char *commit;	   /* the commit it made, or NULL (no changes) */
	char *fix_request; /* the follow-up to send, for stage fixing */
	char *runner;	   /* which workletd process runs it (stage running) */
	double cost_usd;   /* summed over the agent runs of this prompt */
	int num_turns;
	int attempts;		 /* agent runs for transient API errors */
	int fixups;		 /* fix-up prompts sent */
	int changed;		 /* 1: the agent changed files */
	int64_t duration_ms;	 /* agent wall time, summed */
	int64_t started_ms;	 /* first agent run */
	int64_t finished_ms;	 /* completed or error */
	int64_t next_attempt_ms; /* a retry is due not before */
	int64_t updated_ms;
};

void wl_prompt_init(struct wl_prompt *p);
void wl_prompt_release(struct wl_prompt *p);

const char *wl_prompt_state_name(enum wl_prompt_state s);
const char *wl_prompt_stage_name(enum wl_prompt_stage s);

/* A new id for a prompt made at ms (random suffix). */
int wl_prompt_new_id(char out[WL_PROMPT_ID_LEN + 1], int64_t ms);

/* 0 if id has the shape of a prompt id, else WL_EINVALID with a message. */
int wl_prompt_validate_id(const char *id);

/*
 * Write the request of p durably. WL_EEXISTS when the prompt exists
 * already, WL_EINVALID for bad ids or a prompt over WL_PROMPT_MAX.
 */
int wl_prompt_create(const struct wl_store *s, const struct wl_prompt *p);

/*
 * Read prompt pid of worklet wid: request, status (if any) and cancel flag.
 * out is initialised by the callee. WL_ENOTFOUND, WL_EINVALID (a file that
 * does not parse, named in the message).
 */
int wl_prompt_read(const struct wl_store *s, const char *wid, const char *pid,
		   struct wl_prompt *out);

/* Write the status part of p (controller only). */
int wl_prompt_write_status(const struct wl_store *s, const struct wl_prompt *p);

/* Ask for pid to be cancelled. */
int wl_prompt_request_cancel(const struct wl_store *s, const char *wid,
			     const char *pid);

/*
 * Ask for the failed prompt pid to run again (at ms): an earlier cancel
 * request goes, so the retry is not cancelled at once.
 */
int wl_prompt_request_retry(const struct wl_store *s, const char *wid,
			    const char *pid, int64_t ms);

/*
 * The prompt ids of worklet wid, oldest first. Free with
 * wl_store_free_ids().
 */
int wl_prompt_list(const struct wl_store *s, const char *wid, char ***ids,
		   size_t *count);

/* The ids of worklets that have prompt files (for garbage collection). */
int wl_prompt_list_worklets(const struct wl_store *s, char ***ids,
			    size_t *count);

/* Remove every prompt file of worklet wid. */
int wl_prompt_remove_all(const struct wl_store *s, const char *wid);

/*
 * The worklet id a prompts/ file name belongs to, for the watcher: 0 and
 * the id in out when name is one of ours, else -1.
 */
int wl_prompt_file_worklet(const char *name, char *out, size_t n);

#endif
