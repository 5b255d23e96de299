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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <git2.h>

#include "controller/git_policy.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/hash.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

struct progress {
	const volatile int *cancel;
	/* credentials */
	const char *token;
	const char *token_hosts;
	int offered;	  /* times the token was handed out */
	int refused_host; /* asked for by a host the token is not for */
	char asked_host[256];
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

/*
 * "host" or "host:port" of an http(s) URL into out; "" when there is none.
 * Userinfo is skipped (it never holds ours: URLs with it are refused).
 */
static void url_host(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://"), *at, *end;
	size_t len;

	out[0] = '\0';
	if (!p)
		return;
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at)
		p = at + 1;
	len = (size_t)(end - p);
	if (len >= n)
		return;
	memcpy(out, p, len);
	out[len] = '\0';
	for (char *c = out; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
}

/* Is host (with or without its port) in the comma-separated list? */
static int host_allowed(const char *host, const char *list)
{
	size_t hlen = strcspn(host, ":");

	while (list && *list) {
		size_t len = strcspn(list, ",");

		while (len && *list == ' ') {
			list++;
			len--;
		}
		if (len &&
		    ((len == strlen(host) && !strncasecmp(list, host, len)) ||
		     (len == hlen && !strncasecmp(list, host, len))))
			return 1;
		list += len;
		if (*list == ',')
			list++;
	}
	return 0;
}

/*
 * libgit2 asks after a 401. The token goes only to the hosts it is for,
 * checked on the URL libgit2 is talking to now (after a redirect, the new
 * one), and only once: libgit2 asks again after every refusal.
 */
static int on_credentials(git_credential **out, const char *url,
			  const char *username, unsigned int allowed,
			  void *payload)
{
	struct progress *pr = payload;
	char host[256];

	(void)username;
	url_host(url, host, sizeof(host));
	snprintf(pr->asked_host, sizeof(pr->asked_host), "%s", host);
	if (!pr->token || !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
		return GIT_PASSTHROUGH;
	if (!host_allowed(host, pr->token_hosts)) {
		pr->refused_host = 1;
		return GIT_PASSTHROUGH;
	}
	if (pr->offered++)
		return GIT_EAUTH; /* it was refused once: do not loop */
	return git_credential_userpass_plaintext_new(out, "x-access-token",
						     pr->token);
}

static void fetch_options(git_fetch_options *fo, struct progress *pr)
{
	fo->callbacks.credentials = on_credentials;
	fo->callbacks.transfer_progress = on_transfer;
	fo->callbacks.sideband_progress = on_sideband;
	/* the address rule on the server's name, through a proxy */
	fo->callbacks.certificate_check = wl_git_policy_certificate_check;
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
	if (wl_git_policy_refusal()) {
		wl_error_set("cannot %s '%s': %s", verb, url,
			     wl_git_policy_refusal());
		return WL_EINVALID;
	}
	if (rc == GIT_ENOTFOUND && klass == GIT_ERROR_REFERENCE) {
		wl_error_set("branch '%s' not found in '%s'", branch, url);
		return WL_ENOTFOUND;
	}
	if (rc == GIT_EAUTH || (klass == GIT_ERROR_HTTP &&
				(strstr(msg, " 401") || strstr(msg, " 403") ||
				 strstr(msg, "authentication")))) {
		if (pr->offered)
			wl_error_set("cannot %s '%s': the token was rejected "
				     "by '%s' (wrong token, or no access to "
				     "this repository)",
				     verb, url, pr->asked_host);
		else if (pr->refused_host)
			wl_error_set("cannot %s '%s': '%s' asks for "
				     "credentials and the token is only for "
				     "%s (WORKLET_GIT_TOKEN_HOSTS)",
				     verb, url, pr->asked_host,
				     pr->token_hosts ? pr->token_hosts : "");
		else if (!pr->token)
			wl_error_set("repository '%s' not found, or it needs "
				     "credentials: set GITHUB_TOKEN",
				     url);
		else
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
 * 1 if r's origin is exactly url. Read from the config, not with
 * git_remote_lookup(): that one leaks ~20 KiB per call in Debian's libgit2
 * 1.5.1 (pcre2 match data of its url.*.insteadOf lookups), and the git
 * poll comes here every minute.
 */
static int origin_is(git_repository *r, const char *url)
{
	git_config *cfg = NULL;
	const char *have = NULL;
	int ok = git_repository_config_snapshot(&cfg, r) == 0 &&
		 git_config_get_string(&have, cfg, "remote.origin.url") == 0 &&
		 have && !strcmp(have, url);

	git_config_free(cfg);
	return ok;
}

/*
 * Open dir if it is a clone of url (a repository of its own whose origin
 * is exactly url); *repo stays NULL otherwise.
 */
static int open_existing(git_repository **repo, const char *dir,
			 const char *url)
{
	git_repository *r = NULL;
	int ok;

	*repo = NULL;
	ok = git_repository_open_ext(&r, dir, GIT_REPOSITORY_OPEN_NO_SEARCH,
				     NULL) == 0 &&
	     !git_repository_is_bare(r) && origin_is(r, url);
	if (ok)
		*repo = r;
	else
		git_repository_free(r);
	git_error_clear();
	return 0;
}

static int clone_fresh(git_repository **repo, const struct wl_git_sync_opts *o,
		       struct progress *pr, const char *mirror)
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
	/* From the mirror: a local clone, objects hard-linked, not copied. */
	co.local = GIT_CLONE_LOCAL;
	rc = git_clone(repo, mirror ? mirror : o->url, tmp, &co);
	if (rc == 0 && mirror &&
	    (rc = git_remote_set_url(*repo, "origin", o->url)) < 0) {
		wl_error_set("cannot set origin of '%s': %s", tmp,
			     git_message());
		git_repository_free(*repo);
		*repo = NULL;
		wl_fs_remove_tree(tmp);
		error = WL_ERROR;
		goto done;
	}
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

/*
 * Fetch origin (or, with a mirror, the branch from the local mirror into
 * refs/remotes/origin/), then fast-forward the branch or keep local
 * commits.
 */
static int fetch_and_update(git_repository *repo,
			    const struct wl_git_sync_opts *o,
			    struct progress *pr, const char *mirror)
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
	if (mirror) {
		char *spec = NULL;
		git_strarray specs = { &spec, 1 };

		if (asprintf(&spec, "+refs/heads/%s:%s", o->branch,
			     remote_ref) < 0) {
			wl_error_set("out of memory");
			error = WL_ERROR;
			goto done;
		}
		git_remote_create_options ro;

		fo.prune = GIT_FETCH_NO_PRUNE;
		/* Anonymous without insteadOf lookups: see mirror_open(). */
		git_remote_create_options_init(
			&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
		ro.repository = repo;
		ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
		rc = git_remote_create_with_opts(&origin, mirror, &ro);
		if (rc == 0)
			rc = git_remote_fetch(origin, &specs, &fo,
					      "worklet: fetch from the cache");
		free(spec);
		if (rc < 0) {
			error = network_error(rc, "fetch", o->url, o->branch,
					      pr);
			goto done;
		}
	} else if ((rc = git_remote_lookup(&origin, repo, "origin")) < 0 ||
		   (rc = git_remote_fetch(origin, NULL, &fo,
					  "worklet: fetch")) < 0) {
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

/* ---- the mirror cache ---------------------------------------------------- */

/* <cache>/<hash of url>.git */
static void mirror_path(char *out, size_t n, const char *cache_dir,
			const char *url)
{
	char hex[65];

	wl_sha256_hex(hex, url, strlen(url));
	snprintf(out, n, "%s/%.24s.git", cache_dir, hex);
}

/* An exclusive lock on the mirror (a file beside it); -1 on failure. */
static int mirror_lock(const char *mirror)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s.lock", mirror);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

/* Open the mirror of url, or make it (a bare repository, all branches). */
static int mirror_open(git_repository **repo, const char *mirror,
		       const char *url)
{
	git_remote *origin = NULL;

	*repo = NULL;
	if (git_repository_open_bare(repo, mirror) == 0 &&
	    origin_is(*repo, url))
		return 0;
	git_repository_free(*repo);
	*repo = NULL;
	git_error_clear();
	/* Missing or not ours: start it again. */
	if (wl_fs_remove_tree(mirror) < 0)
		return WL_ERROR;
	if (git_repository_init(repo, mirror, 1) < 0 ||
	    git_remote_create_with_fetchspec(&origin, *repo, "origin", url,
					     "+refs/heads/*:refs/heads/*") <
		    0) {
		wl_error_set("cannot create the cache '%s': %s", mirror,
			     git_message());
		git_remote_free(origin);
		git_repository_free(*repo);
		*repo = NULL;
		wl_fs_remove_tree(mirror);
		return WL_ERROR;
	}
	git_remote_free(origin);
	return 0;
}

/*
 * Bring the shared mirror of o->url up to date (one fetch however many
 * worklets use it; a lock serialises workers) and check the branch is
 * there. Its mtime says when it was last used.
 */
static int mirror_sync(char *mirror, size_t n, const struct wl_git_sync_opts *o,
		       struct progress *pr)
{
	git_repository *repo = NULL;
	git_remote *origin = NULL;
	git_remote_create_options ro;
	char spec[] = "+refs/heads/*:refs/heads/*";
	char *specv[] = { spec };
	git_strarray specs = { specv, 1 };
	git_fetch_options fo;
	git_oid oid;
	char *ref = NULL;
	int fd, rc, error = 0;

	if ((error = wl_fs_mkdir_p(o->cache_dir, 0700)) < 0)
		return error;
	mirror_path(mirror, n, o->cache_dir, o->url);
	if ((fd = mirror_lock(mirror)) < 0) {
		wl_error_set("cannot lock the cache '%s': %s", mirror,
			     strerror(errno));
		return WL_ERROR;
	}
	if ((error = mirror_open(&repo, mirror, o->url)) < 0)
		goto done;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fetch_options(&fo, pr);
	/* Anonymous, no insteadOf: see mirror_open() on git_remote_lookup(). */
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
		   GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if ((rc = git_remote_create_with_opts(&origin, o->url, &ro)) < 0 ||
	    (rc = git_remote_fetch(origin, &specs, &fo, "worklet: fetch")) <
		    0) {
		error = network_error(rc, "fetch", o->url, o->branch, pr);
		goto done;
	}
	if (asprintf(&ref, "refs/heads/%s", o->branch) < 0) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto done;
	}
	if (git_reference_name_to_id(&oid, repo, ref) < 0) {
		wl_error_set("branch '%s' not found in '%s'", o->branch,
			     o->url);
		error = WL_ENOTFOUND;
		goto done;
	}
	/* A clone of a repository whose HEAD is unborn fails in libgit2. */
	if (git_repository_head_unborn(repo) == 1 &&
	    git_repository_set_head(repo, ref) < 0) {
		wl_error_set("cannot set HEAD of the cache '%s': %s", mirror,
			     git_message());
		error = WL_ERROR;
		goto done;
	}
	utime(mirror, NULL);
done:
	free(ref);
	git_remote_free(origin);
	git_repository_free(repo);
	git_error_clear();
	close(fd); /* unlocks */
	return error;
}

int wl_git_trust_ca_file(const char *ca_file)
{
	static const char system_dir[] = "/etc/ssl/certs";
	struct stat st;

	if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, ca_file,
			     stat(system_dir, &st) == 0 && S_ISDIR(st.st_mode)
				     ? system_dir
				     : NULL) < 0) {
		wl_error_set("cannot load the CA certificates of '%s' "
			     "(WORKLET_GIT_CA_FILE): %s",
			     ca_file, git_message());
		git_error_clear();
		return WL_EINVALID;
	}
	return 0;
}

int wl_git_cache_collect(const char *cache_dir, int64_t max_idle_ms)
{
	struct dirent *de;
	DIR *dir;
	int removed = 0;
	time_t now = time(NULL);

	if (!(dir = opendir(cache_dir)))
		return 0;
	while ((de = readdir(dir))) {
		char path[4096];
		size_t len = strlen(de->d_name);
		struct stat st;
		int fd;

		if (len < 5 || strcmp(de->d_name + len - 4, ".git") ||
		    de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", cache_dir, de->d_name);
		if (stat(path, &st) < 0 ||
		    (int64_t)(now - st.st_mtime) * 1000 < max_idle_ms)
			continue;
		/* Under the lock, so no worker is fetching into it. */
		if ((fd = mirror_lock(path)) < 0)
			continue;
		if (stat(path, &st) == 0 &&
		    (int64_t)(now - st.st_mtime) * 1000 >= max_idle_ms &&
		    wl_fs_remove_tree(path) == 0) {
			char lock[4200];

			snprintf(lock, sizeof(lock), "%s.lock", path);
			unlink(lock);
			removed++;
		}
		close(fd);
	}
	closedir(dir);
	return removed;
}

int wl_git_host_allowed(const char *url, const char *hosts)
{
	char host[256];

	if (!hosts || !*hosts)
		return 1;
	url_host(url, host, sizeof(host));
	/* Paths and file:// have no host: local repositories have their own
	 * switch (WORKLET_ALLOW_LOCAL_REPOS). */
	return !host[0] || host_allowed(host, hosts);
}

int wl_git_sync(const struct wl_git_sync_opts *o, char sha[41])
{
	struct progress pr = { .cancel = o->cancel,
			       .token = o->token && *o->token ? o->token : NULL,
			       .token_hosts = o->token_hosts };
	struct wl_git_policy pol = { o->allow_local, o->allowed_hosts };
	git_repository *repo = NULL;
	char *parent = NULL, *slash, mirror[4096];
	const char *use_mirror = NULL;
	int error;

	sha[0] = '\0';
	if (!o->url || !o->branch || !o->dir || !*o->dir) {
		wl_error_set("git sync: url, branch and dir are required");
		return WL_EINVALID;
	}
	if ((error = wl_validate_git_url(o->url, o->allow_local)) < 0 ||
	    (error = wl_git_policy_install()) < 0)
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
	/* every connection of this sync is checked (git_policy.h) */
	wl_git_policy_enter(&pol, o->url);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if ((error = wl_fs_mkdir_p(parent, 0700)) < 0)
			goto done;
	}

	if (o->cache_dir) {
		if ((error = mirror_sync(mirror, sizeof(mirror), o, &pr)) < 0)
			goto done;
		use_mirror = mirror;
	}
	if ((error = open_existing(&repo, o->dir, o->url)) < 0)
		goto done;
	if (repo)
		error = fetch_and_update(repo, o, &pr, use_mirror);
	else
		error = clone_fresh(&repo, o, &pr, use_mirror);
	if (!error)
		error = head_sha(repo, o->dir, sha);
done:
	wl_git_policy_leave();
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

int wl_git_head_mentions(const char *dir, const char *needle)
{
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	const char *msg;
	git_oid oid;
	int found;

	if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0) {
		wl_error_set("'%s' is not a git repository: %s", dir,
			     git_message());
		git_error_clear();
		return WL_ENOTFOUND;
	}
	if (git_reference_name_to_id(&oid, repo, "HEAD") < 0 ||
	    git_commit_lookup(&commit, repo, &oid) < 0) {
		wl_error_set("cannot read HEAD of '%s': %s", dir,
			     git_message());
		git_error_clear();
		git_repository_free(repo);
		return WL_ERROR;
	}
	msg = git_commit_message(commit);
	found = msg && strstr(msg, needle) != NULL;
	git_commit_free(commit);
	git_repository_free(repo);
	return found;
}

/* ---- the agent's changes ------------------------------------------------ */

static int open_repo(git_repository **repo, const char *dir)
{
	if (git_repository_open_ext(repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0) {
		wl_error_set("'%s' is not a git repository: %s", dir,
			     git_message());
		git_error_clear();
		return WL_ENOTFOUND;
	}
	return 0;
}

static int status_list(git_status_list **out, git_repository *repo,
		       const char *dir)
{
	git_status_options so;

	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED |
		   GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
		   GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (git_status_list_new(out, repo, &so) < 0) {
		wl_error_set("cannot read the status of '%s': %s", dir,
			     git_message());
		git_error_clear();
		return WL_ERROR;
	}
	return 0;
}

int wl_git_changed(const char *dir, int *changed)
{
	git_repository *repo = NULL;
	git_status_list *st = NULL;
	int error;

	*changed = 0;
	if ((error = open_repo(&repo, dir)) < 0)
		return error;
	if ((error = status_list(&st, repo, dir)) == 0)
		*changed = git_status_list_entrycount(st) > 0;
	git_status_list_free(st);
	git_repository_free(repo);
	return error;
}

int wl_git_commit_all(const char *dir, const char *message,
		      const char *author_name, const char *author_email,
		      char sha[41])
{
	git_repository *repo = NULL;
	git_index *index = NULL;
	git_tree *tree = NULL;
	git_commit *parent = NULL;
	git_signature *sig = NULL;
	git_oid tree_id, commit_id;
	const char *what = "open the index";
	int error;

	sha[0] = '\0';
	if ((error = open_repo(&repo, dir)) < 0)
		return error;
	error = WL_ERROR;
	if (git_repository_index(&index, repo) < 0)
		goto fail;
	what = "stage the changes";
	/* git add -A: new and changed files, then the deleted ones. */
	if (git_index_add_all(index, NULL, GIT_INDEX_ADD_DEFAULT, NULL, NULL) <
		    0 ||
	    git_index_update_all(index, NULL, NULL, NULL) < 0 ||
	    git_index_write(index) < 0)
		goto fail;
	what = "write the tree";
	if (git_index_write_tree(&tree_id, index) < 0 ||
	    git_tree_lookup(&tree, repo, &tree_id) < 0)
		goto fail;
	what = "read HEAD";
	if (git_revparse_single((git_object **)&parent, repo, "HEAD^{commit}") <
	    0)
		goto fail;
	what = "make the author signature";
	if (git_signature_now(&sig, author_name, author_email) < 0)
		goto fail;
	what = "commit";
	if (git_commit_create_v(&commit_id, repo, "HEAD", sig, sig, NULL,
				message, tree, 1, parent) < 0)
		goto fail;
	git_oid_tostr(sha, 41, &commit_id);
	error = 0;
	goto done;
fail:
	wl_error_set("cannot %s in '%s': %s", what, dir, git_message());
done:
	git_signature_free(sig);
	git_commit_free(parent);
	git_tree_free(tree);
	git_index_free(index);
	git_repository_free(repo);
	git_error_clear();
	return error;
}

int wl_git_restore(const char *dir)
{
	git_repository *repo = NULL;
	git_object *head = NULL;
	git_status_list *st = NULL;
	git_checkout_options co;
	int error;

	if ((error = open_repo(&repo, dir)) < 0)
		return error;
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_revparse_single(&head, repo, "HEAD^{commit}") < 0 ||
	    git_reset(repo, head, GIT_RESET_HARD, &co) < 0) {
		wl_error_set("cannot reset '%s' to HEAD: %s", dir,
			     git_message());
		error = WL_ERROR;
		goto done;
	}
	/* git clean -fd: what the agent created and nobody committed. */
	if ((error = status_list(&st, repo, dir)) < 0)
		goto done;
	for (size_t i = 0; i < git_status_list_entrycount(st); i++) {
		const git_status_entry *e = git_status_byindex(st, i);
		const char *path;
		char *full;
		size_t n;

		if (!(e->status & GIT_STATUS_WT_NEW) || !e->index_to_workdir)
			continue;
		path = e->index_to_workdir->new_file.path;
		n = strlen(dir) + strlen(path) + 2;
		if (!(full = malloc(n))) {
			wl_error_set("out of memory");
			error = WL_ERROR;
			goto done;
		}
		snprintf(full, n, "%s/%s", dir, path);
		if (wl_fs_remove_tree(full) < 0 && !error)
			error = WL_ERROR;
		free(full);
	}
done:
	git_status_list_free(st);
	git_object_free(head);
	git_repository_free(repo);
	git_error_clear();
	return error;
}

/* ---- push --------------------------------------------------------------- */

struct push_state {
	struct progress pr;
	char rejected[512]; /* the server's reason for a refused ref */
};

static int on_push_ref(const char *refname, const char *status, void *payload)
{
	struct push_state *ps = payload;

	if (status)
		snprintf(ps->rejected, sizeof(ps->rejected), "%s: %s", refname,
			 status);
	return 0;
}

static int on_push_credentials(git_credential **out, const char *url,
			       const char *username, unsigned int allowed,
			       void *payload)
{
	struct push_state *ps = payload;

	return on_credentials(out, url, username, allowed, &ps->pr);
}

int wl_git_push(const struct wl_git_push_opts *o, char sha[41])
{
	struct push_state ps;
	struct wl_git_policy pol = { o->allow_local, o->allowed_hosts };
	git_repository *repo = NULL;
	git_remote *origin = NULL;
	git_reference *head = NULL;
	git_push_options po;
	git_strarray specs = { 0 };
	char *refspec = NULL;
	int rc, error;

	sha[0] = '\0';
	memset(&ps, 0, sizeof(ps));
	ps.pr.cancel = o->cancel;
	ps.pr.token = o->token && *o->token ? o->token : NULL;
	ps.pr.token_hosts = o->token_hosts;
	if ((error = wl_git_policy_install()) < 0 ||
	    (error = open_repo(&repo, o->dir)) < 0)
		return error;
	wl_git_policy_enter(&pol, o->url);
	if (git_repository_head(&head, repo) < 0 ||
	    !git_reference_is_branch(head)) {
		wl_error_set("cannot push '%s': HEAD is not a branch: %s",
			     o->dir, git_message());
		error = WL_ERROR;
		goto done;
	}
	git_oid_tostr(sha, 41, git_reference_target(head));
	/* Never forced: someone else's commits on the branch stay. */
	if (asprintf(&refspec, "%s:refs/heads/%s", git_reference_name(head),
		     o->branch) < 0) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto done;
	}
	specs.strings = &refspec;
	specs.count = 1;
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks.credentials = on_push_credentials;
	po.callbacks.push_update_reference = on_push_ref;
	po.callbacks.certificate_check = wl_git_policy_certificate_check;
	po.callbacks.payload = &ps;
	po.proxy_opts.type = GIT_PROXY_AUTO;
	if ((rc = git_remote_lookup(&origin, repo, "origin")) < 0 ||
	    (rc = git_remote_push(origin, &specs, &po)) < 0) {
		const char *msg = git_message();

		if (strstr(msg, "non-fast-forward") ||
		    strstr(msg, "not present locally") ||
		    strstr(msg, "cannot push because a reference")) {
			wl_error_set("cannot push to branch '%s' of '%s': it "
				     "has commits this worklet does not have; "
				     "choose another branch",
				     o->branch, o->url);
			error = WL_ECONFLICT;
		} else {
			error = network_error(rc, "push to", o->url, o->branch,
					      &ps.pr);
		}
		goto done;
	}
	if (ps.rejected[0]) {
		if (strstr(ps.rejected, "fast-forward") ||
		    strstr(ps.rejected, "fetch first")) {
			wl_error_set("cannot push to branch '%s' of '%s': it "
				     "has commits this worklet does not have; "
				     "choose another branch",
				     o->branch, o->url);
			error = WL_ECONFLICT;
		} else {
			wl_error_set("'%s' refused the push: %s", o->url,
				     ps.rejected);
			error = WL_ERROR;
		}
		goto done;
	}
	error = 0;
done:
	wl_git_policy_leave();
	free(refspec);
	git_remote_free(origin);
	git_reference_free(head);
	git_repository_free(repo);
	git_error_clear();
	return error;
}
