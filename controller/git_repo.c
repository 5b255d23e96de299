/*
 * DESIGN: any controller worker thread may call wl_git_sync() and
 * wl_git_head(); each call opens and frees its own libgit2 objects and
 * shares nothing, so no lock is needed (libgit2 is initialised once in
 * main() before the workers start). A job's cancel flag is read by the
 * transfer and sideband progress callbacks on the calling thread.
 *
 * A fresh clone is made next to the target ("<dir>.clone-tmp") and renamed
 * into place, so a crash mid-clone leaves no half-clone at dir that a
 * later pass would mistake for a repository.
 *
 * No credentials are handled here yet: a private repository fails like a
 * missing one. No submodules are fetched and no hooks run (libgit2 runs
 * none). Does not log.
 */
#include "controller/git_repo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>

#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

struct progress {
	const volatile int *cancel;
};

static int canceled(const struct progress *pr)
{
	return pr->cancel && *pr->cancel;
}

static int on_transfer(const git_indexer_progress *stats, void *payload)
{
	(void)stats;
	return canceled(payload) ? -1 : 0;
}

static int on_sideband(const char *str, int len, void *payload)
{
	(void)str;
	(void)len;
	return canceled(payload) ? -1 : 0;
}

static void fetch_options(git_fetch_options *fo, struct progress *pr)
{
	fo->callbacks.transfer_progress = on_transfer;
	fo->callbacks.sideband_progress = on_sideband;
	fo->callbacks.payload = pr;
	fo->prune = GIT_FETCH_PRUNE;
	/* https_proxy and friends from the environment, as git does */
	fo->proxy_opts.type = GIT_PROXY_AUTO;
}

static const char *git_message(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown error";
}

static int is_local_url(const char *url)
{
	return url[0] == '/' || !strncmp(url, "file://", 7);
}

/* 1 if a local URL names a path that does not exist at all. */
static int local_path_missing(const char *url)
{
	const char *path = url[0] == '/' ? url : url + strlen("file://");
	struct stat st;

	/* percent-encoded paths are left for libgit2 to judge */
	if (strchr(path, '%'))
		return 0;
	return stat(path, &st) < 0 && (errno == ENOENT || errno == ENOTDIR);
}

/*
 * Turn a failed clone or fetch (libgit2 code rc) into our code and one
 * message that says which of the cases it was.
 */
static int network_error(int rc, const char *verb, const char *url,
			 const char *branch, const struct progress *pr)
{
	const git_error *e = git_error_last();
	int klass = e ? e->klass : GIT_ERROR_NONE;
	const char *msg = git_message();

	if (canceled(pr)) {
		wl_error_set("cannot %s '%s': canceled", verb, url);
		return WL_ECANCELED;
	}
	if (rc == GIT_ENOTFOUND && klass == GIT_ERROR_REFERENCE) {
		wl_error_set("branch '%s' not found in '%s'", branch, url);
		return WL_ENOTFOUND;
	}
	if (rc == GIT_EAUTH || (klass == GIT_ERROR_HTTP &&
				(strstr(msg, " 401") || strstr(msg, " 403")))) {
		wl_error_set("repository '%s' not found, or it needs "
			     "credentials",
			     url);
		return WL_ENOTFOUND;
	}
	if ((klass == GIT_ERROR_HTTP && strstr(msg, " 404")) ||
	    klass == GIT_ERROR_REPOSITORY ||
	    (is_local_url(url) && local_path_missing(url))) {
		wl_error_set("repository '%s' not found", url);
		return WL_ENOTFOUND;
	}
	if (!is_local_url(url) &&
	    (klass == GIT_ERROR_NET || klass == GIT_ERROR_SSL ||
	     klass == GIT_ERROR_HTTP || klass == GIT_ERROR_OS ||
	     klass == GIT_ERROR_SSH)) {
		wl_error_set("cannot %s '%s': %s", verb, url, msg);
		return WL_EUNAVAIL;
	}
	wl_error_set("cannot %s '%s': %s", verb, url, msg);
	return WL_ERROR;
}

/*
 * Open dir if it is a clone of url (a repository of its own whose origin
 * is exactly url); *repo stays NULL otherwise.
 */
static int open_existing(git_repository **repo, const char *dir,
			 const char *url)
{
	git_repository *r = NULL;
	git_remote *origin = NULL;
	const char *origin_url;
	int ok = 0;

	*repo = NULL;
	if (git_repository_open_ext(&r, dir, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0 ||
	    git_repository_is_bare(r))
		goto done;
	if (git_remote_lookup(&origin, r, "origin") < 0)
		goto done;
	origin_url = git_remote_url(origin);
	ok = origin_url && !strcmp(origin_url, url);
done:
	git_remote_free(origin);
	if (ok)
		*repo = r;
	else
		git_repository_free(r);
	git_error_clear();
	return 0;
}

static int clone_fresh(git_repository **repo, const struct wl_git_sync_opts *o,
		       struct progress *pr)
{
	git_clone_options co;
	char *tmp = NULL;
	int rc, error = 0;

	*repo = NULL;
	git_clone_options_init(&co, GIT_CLONE_OPTIONS_VERSION);
	if (asprintf(&tmp, "%s.clone-tmp", o->dir) < 0) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	if ((error = wl_fs_remove_tree(tmp)) < 0)
		goto done;
	co.checkout_branch = o->branch;
	co.checkout_opts.checkout_strategy = GIT_CHECKOUT_SAFE;
	fetch_options(&co.fetch_opts, pr);
	rc = git_clone(repo, o->url, tmp, &co);
	if (rc < 0) {
		error = network_error(rc, "clone", o->url, o->branch, pr);
		*repo = NULL;
		wl_fs_remove_tree(tmp);
		goto done;
	}
	/* The repository must be reopened at its final path. */
	git_repository_free(*repo);
	*repo = NULL;
	if ((error = wl_fs_remove_tree(o->dir)) < 0)
		goto done;
	if (rename(tmp, o->dir) < 0) {
		wl_error_set("cannot rename '%s' to '%s': %s", tmp, o->dir,
			     strerror(errno));
		error = WL_ERROR;
		wl_fs_remove_tree(tmp);
		goto done;
	}
	if (git_repository_open_ext(repo, o->dir, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0) {
		wl_error_set("cannot open clone '%s': %s", o->dir,
			     git_message());
		error = WL_ERROR;
	}
done:
	free(tmp);
	return error;
}

/*
 * Check out commit's tree over the working tree (force: the controller
 * owns this checkout), point refs/heads/<branch> at it and HEAD at the
 * branch.
 */
static int checkout_branch(git_repository *repo, const char *branch,
			   const git_oid *target, const char *why)
{
	git_checkout_options copts;
	git_commit *commit = NULL;
	git_reference *ref = NULL;
	char *refname = NULL;
	int error = 0;

	git_checkout_options_init(&copts, GIT_CHECKOUT_OPTIONS_VERSION);

	if (asprintf(&refname, "refs/heads/%s", branch) < 0) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	copts.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_commit_lookup(&commit, repo, target) < 0 ||
	    git_checkout_tree(repo, (const git_object *)commit, &copts) < 0 ||
	    git_reference_create(&ref, repo, refname, target, 1, why) < 0 ||
	    git_repository_set_head(repo, refname) < 0) {
		wl_error_set("cannot check out branch '%s': %s", branch,
			     git_message());
		error = WL_ERROR;
	}
	git_reference_free(ref);
	git_commit_free(commit);
	free(refname);
	return error;
}

static int head_is(git_repository *repo, const char *branch)
{
	git_reference *head = NULL;
	int same = 0;

	if (git_repository_head(&head, repo) == 0) {
		const char *name = git_reference_name(head);

		same = !strncmp(name, "refs/heads/", 11) &&
		       !strcmp(name + 11, branch);
	}
	git_reference_free(head);
	git_error_clear();
	return same;
}

/* Fetch origin, then fast-forward the branch or keep local commits. */
static int fetch_and_update(git_repository *repo,
			    const struct wl_git_sync_opts *o,
			    struct progress *pr)
{
	git_fetch_options fo;
	git_remote *origin = NULL;
	git_oid remote_oid, local_oid;
	char *remote_ref = NULL, *local_ref = NULL;
	int rc, error = 0;

	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);

	if (asprintf(&remote_ref, "refs/remotes/origin/%s", o->branch) < 0 ||
	    asprintf(&local_ref, "refs/heads/%s", o->branch) < 0) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto done;
	}
	fetch_options(&fo, pr);
	if ((rc = git_remote_lookup(&origin, repo, "origin")) < 0 ||
	    (rc = git_remote_fetch(origin, NULL, &fo, "worklet: fetch")) < 0) {
		error = network_error(rc, "fetch", o->url, o->branch, pr);
		goto done;
	}
	if (git_reference_name_to_id(&remote_oid, repo, remote_ref) < 0) {
		wl_error_set("branch '%s' not found in '%s'", o->branch,
			     o->url);
		error = WL_ENOTFOUND;
		goto done;
	}

	if (git_reference_name_to_id(&local_oid, repo, local_ref) < 0) {
		/* a branch this clone has not had before */
		error = checkout_branch(repo, o->branch, &remote_oid,
					"worklet: branch from origin");
		goto done;
	}
	if (git_oid_equal(&local_oid, &remote_oid)) {
		if (!head_is(repo, o->branch))
			error = checkout_branch(repo, o->branch, &local_oid,
						"worklet: switch branch");
		goto done;
	}
	rc = git_graph_descendant_of(repo, &remote_oid, &local_oid);
	if (rc < 0) {
		wl_error_set("cannot compare '%s' with origin: %s", o->branch,
			     git_message());
		error = WL_ERROR;
		goto done;
	}
	if (rc == 1) {
		error = checkout_branch(repo, o->branch, &remote_oid,
					"worklet: fast-forward");
		goto done;
	}
	/* Local commits of our own (prompts): keep them. */
	if (!head_is(repo, o->branch))
		error = checkout_branch(repo, o->branch, &local_oid,
					"worklet: switch branch");
done:
	git_remote_free(origin);
	free(remote_ref);
	free(local_ref);
	git_error_clear();
	return error;
}

static int head_sha(git_repository *repo, const char *dir, char sha[41])
{
	git_oid oid;

	if (git_reference_name_to_id(&oid, repo, "HEAD") < 0) {
		wl_error_set("cannot read HEAD of '%s': %s", dir,
			     git_message());
		git_error_clear();
		return WL_ERROR;
	}
	git_oid_tostr(sha, 41, &oid);
	return 0;
}

int wl_git_sync(const struct wl_git_sync_opts *o, char sha[41])
{
	struct progress pr = { .cancel = o->cancel };
	git_repository *repo = NULL;
	char *parent = NULL, *slash;
	int error;

	sha[0] = '\0';
	if (!o->url || !o->branch || !o->dir || !*o->dir) {
		wl_error_set("git sync: url, branch and dir are required");
		return WL_EINVALID;
	}
	if ((error = wl_validate_git_url(o->url, o->allow_local)) < 0)
		return error;
	if (canceled(&pr)) {
		wl_error_set("cannot sync '%s': canceled", o->url);
		return WL_ECANCELED;
	}
	/* the clone's parent, usually the worklets' base directory */
	if (!(parent = strdup(o->dir))) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if ((error = wl_fs_mkdir_p(parent, 0700)) < 0)
			goto done;
	}

	if ((error = open_existing(&repo, o->dir, o->url)) < 0)
		goto done;
	if (repo)
		error = fetch_and_update(repo, o, &pr);
	else
		error = clone_fresh(&repo, o, &pr);
	if (!error)
		error = head_sha(repo, o->dir, sha);
done:
	git_repository_free(repo);
	free(parent);
	git_error_clear();
	return error;
}

int wl_git_head(const char *dir, char sha[41])
{
	git_repository *repo = NULL;
	int error;

	sha[0] = '\0';
	if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0) {
		wl_error_set("'%s' is not a git repository: %s", dir,
			     git_message());
		git_error_clear();
		return WL_ENOTFOUND;
	}
	error = head_sha(repo, dir, sha);
	git_repository_free(repo);
	return error;
}
