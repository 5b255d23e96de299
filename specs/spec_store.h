#ifndef WL_SPEC_STORE_H
#define WL_SPEC_STORE_H

/*
 * The on-disk store, under the state directory (WORKLET_STATE_DIR):
 *
 *   specs/<id>.yaml    desired state; written by people, workletctl and the
 *                      API server. The file name is the worklet id.
 *   status/<id>.yaml   observed state; written by the controller only.
 *   logs/<id>/build.log  the last build's output.
 *   logs/<id>/agent.log  the agent's progress, one line per event.
 *   prompts/           the prompts and what became of them (prompt.h).
 *
 * Every write is atomic (wl_fs_write_atomic). Files whose names are not
 * "<valid id>.yaml" (temp files, editor backups, dotfiles) are ignored by
 * the listing. Reads never crash on a bad file: they return WL_EINVALID
 * with a message naming the file and the field.
 *
 * The struct holds only paths, so it may be shared by threads after init.
 */

#include <stddef.h>

#include "specs/worklet.h"

struct wl_store {
	char *root;
	char *specs_dir;
	char *status_dir;
	char *logs_dir;
	char *prompts_dir; /* see prompt.h */
};

/* Fill s for state_dir and create the directories (mode 0700). */
int wl_store_init(struct wl_store *s, const char *state_dir);
void wl_store_release(struct wl_store *s);

/*
 * Read specs/<id>.yaml into out (metadata + spec; out is initialised by the
 * callee). metadata.id, when present, must equal the file's id; when absent
 * it is taken from the file name. Returns 0, WL_ENOTFOUND, or WL_EINVALID /
 * WL_ETOOBIG with "specs/<id>.yaml: <field>: <problem>".
 */
int wl_store_read_spec(const struct wl_store *s, const char *id,
		       struct wl_worklet *out);

/* Write metadata + spec of w to specs/<meta.id>.yaml atomically. */
int wl_store_write_spec(const struct wl_store *s, const struct wl_worklet *w);

/* Remove specs/<id>.yaml; missing is success. */
int wl_store_remove_spec(const struct wl_store *s, const char *id);

/*
 * Read status/<id>.yaml into out->status (other fields untouched).
 * Returns 0, WL_ENOTFOUND or WL_EINVALID.
 */
int wl_store_read_status(const struct wl_store *s, const char *id,
			 struct wl_worklet *out);

/* Write w->status (with meta.id, meta.generation) to status/<id>.yaml. */
int wl_store_write_status(const struct wl_store *s, const struct wl_worklet *w);

/* Remove status/<id>.yaml and logs/<id>/; missing is success. */
int wl_store_remove_status(const struct wl_store *s, const char *id);

/*
 * The ids of specs/ (or status/ when which == 1), sorted. *ids is a
 * malloc'd array of malloc'd strings; free with wl_store_free_ids.
 */
int wl_store_list(const struct wl_store *s, int which, char ***ids,
		  size_t *count);
void wl_store_free_ids(char **ids, size_t count);

/*
 * Remove the temp files crashed writers left in specs/, status/ and
 * prompts/ (wl_fs_sweep_temps). Returns how many, or WL_ERROR.
 */
int wl_store_sweep_temps(const struct wl_store *s);

/* "<root>/logs/<id>/<name>" into out; creates logs/<id>/. */
int wl_store_log_path(const struct wl_store *s, const char *id,
		      const char *name, char *out, size_t n);

#endif
