#ifndef WL_GIT_REPO_H
#define WL_GIT_REPO_H

/*
 * The worklet's clone, on libgit2 (git_libgit2_init() runs once in main()).
 * Each call opens and frees its own libgit2 objects, so any worker thread
 * may call it. No submodules are fetched and no hooks run (libgit2 runs
 * none). Does not log.
 */

#include <stdint.h>

struct wl_git_sync_opts {
	const char *url; /* already checked by wl_validate_git_url */
	const char *branch;
	const char *dir; /* the clone: <base dir>/<worklet id> */
	int allow_local; /* passed to wl_validate_git_url again */
	/*
	 * WORKLET_GIT_ALLOWED_HOSTS: with allow_local, the policy every
	 * connection is checked against (controller/git_policy.h).
	 */
	const char *allowed_hosts;
	const volatile int *cancel; /* honoured by transfer progress */
	/*
	 * HTTPS credentials: token is offered (as x-access-token:<token>)
	 * when a server asks, once, and only if the host it is talking to
	 * (after any redirect) is in token_hosts, "host[:port],...". Never
	 * written to the clone's config or to messages.
	 */
	const char *token;
	const char *token_hosts;
	/*
	 * A directory of shared mirrors, or NULL. With it, remote URLs are
	 * fetched once into <cache_dir>/<hash>.git (a bare mirror shared by
	 * every worklet of that repository, under a lock), and dir is cloned
	 * from and fetched from the mirror (objects hard-linked); origin
	 * stays the real URL, for pushes.
	 */
	const char *cache_dir;
};

/*
 * Trust the CA certificates of the PEM file ca_file for HTTPS, besides the
 * system's (/etc/ssl/certs). Once, in main(), before any worker starts.
 */
int wl_git_trust_ca_file(const char *ca_file);

/*
 * Remove mirrors of cache_dir unused for max_idle_ms. Returns how many.
 */
int wl_git_cache_collect(const char *cache_dir, int64_t max_idle_ms);

/*
 * Make dir a checkout of branch of url, and put the checked-out commit in
 * sha (40 hex + NUL):
 *  - no clone yet (or dir is not a repository, or its origin URL differs):
 *    clone (removing what was there), check out branch;
 *  - a clone exists: fetch origin; if the local branch is an ancestor of
 *    origin/branch, fast-forward and check out (force) the new tree; if it
 *    has commits of its own (prompts), keep it.
 * Errors, each with a message that says which:
 *   WL_ENOTFOUND "branch 'x' not found in '<url>'" or repo not found,
 *   WL_EUNAVAIL  network failure,
 *   WL_EINVALID  URL rejected by policy, or a connection refused by it
 *                (git_policy.h: a name resolving to a local address, a
 *                redirect to another host),
 *   WL_ECANCELED, WL_ERROR.
 */
int wl_git_sync(const struct wl_git_sync_opts *o, char sha[41]);

/*
 * 1 when url's host (or host:port) is in the comma-separated hosts list,
 * or the list is empty, or url has no host (a local path).
 */
int wl_git_host_allowed(const char *url, const char *hosts);

/* The commit HEAD points to in dir. */
int wl_git_head(const char *dir, char sha[41]);

/*
 * 1 when the message of HEAD's commit in dir contains needle, 0 when not,
 * or WL_ENOTFOUND / WL_ERROR.
 */
int wl_git_head_mentions(const char *dir, const char *needle);

/*
 * *changed = 1 when the working tree differs from HEAD: modified, deleted
 * or new files (ignored ones do not count).
 */
int wl_git_changed(const char *dir, int *changed);

/*
 * `git add -A && git commit -m message` with author and committer
 * name <email>, on the current branch. sha: the new commit.
 */
int wl_git_commit_all(const char *dir, const char *message,
		      const char *author_name, const char *author_email,
		      char sha[41]);

struct wl_git_push_opts {
	const char *dir;    /* the clone */
	const char *url;    /* origin's URL, for messages */
	const char *branch; /* the branch on origin to push HEAD to */
	const char *token;  /* as in wl_git_sync_opts */
	const char *token_hosts;
	int allow_local;	   /* the connection policy, as in */
	const char *allowed_hosts; /* wl_git_sync_opts */
	const volatile int *cancel;
};

/*
 * Push HEAD's branch to refs/heads/<branch> on origin, never forced.
 * sha: the commit pushed. WL_ECONFLICT when the branch on origin has
 * commits we do not have (someone else's: not overwritten); auth and
 * network errors as wl_git_sync's.
 */
int wl_git_push(const struct wl_git_push_opts *o, char sha[41]);

/*
 * Throw away what is not committed: reset --hard HEAD, then remove
 * untracked files (ignored files stay). The tree is then the last commit.
 */
int wl_git_restore(const char *dir);

#endif
