/*
 * wl_git_sync against real repositories made with the git command line in
 * a temporary directory: clone over file:// and a plain path, fast-forward,
 * local commits kept, the precise errors, URL policy, submodules.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "controller/git_repo.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "tests/unit/unit.h"
#include "specs/core/banned.h"

#define GIT                                                                    \
	"git -c user.name=test -c user.email=test@example.invalid "            \
	"-c commit.gpgsign=false -c init.defaultBranch=main "

static char base[64];

static char *path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A path under the test's temporary directory (leaked: test only). */
static char *path(const char *fmt, ...)
{
	char *rel = NULL, *full = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (asprintf(&full, "%s/%s", base, rel) < 0)
		abort();
	free(rel);
	return full;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command built from our own paths; abort on failure. */
static void sh(const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (system(cmd) != 0) {
		fprintf(stderr, "command failed: %s\n", cmd);
		abort();
	}
	free(cmd);
}

/* Commit a new file name, holding the line text, on the branch of repo. */
static void commit_file(const char *repo, const char *name, const char *text,
			const char *msg)
{
	sh("cd '%s' && echo %s > %s && " GIT "add %s && " GIT "commit -q -m %s",
	   repo, text, name, name, msg);
}

/* The output of "git rev-parse rev" in repo. */
static void rev_parse(char out[41], const char *repo, const char *rev)
{
	char *cmd = NULL;
	FILE *p;

	if (asprintf(&cmd, "git -C '%s' rev-parse '%s'", repo, rev) < 0)
		abort();
	p = popen(cmd, "r");
	if (!p || !fgets(out, 41, p))
		abort();
	pclose(p);
	free(cmd);
}

/* The first line of a command's output, in out (at most n bytes). */
static void first_line(char *out, size_t n, const char *cmd)
{
	FILE *p = popen(cmd, "r");

	out[0] = '\0';
	if (!p)
		abort();
	if (fgets(out, (int)n, p))
		out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

/*
 * HEAD is the branch itself (not detached, not another ref) and the
 * working tree and index match it: what the agent will commit on.
 */
static void check_clean_on(const char *dir, const char *branch)
{
	char *cmd = NULL, line[256];

	if (asprintf(&cmd, "git -C '%s' symbolic-ref --short HEAD", dir) < 0)
		abort();
	first_line(line, sizeof(line), cmd);
	CHECK_STR(line, branch);
	free(cmd);
	if (asprintf(&cmd, "git -C '%s' status --porcelain", dir) < 0)
		abort();
	first_line(line, sizeof(line), cmd);
	CHECK_STR(line, "");
	free(cmd);
}

static int exists(const char *dir, const char *name)
{
	char *p = NULL;
	int yes;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	yes = wl_fs_exists(p);
	free(p);
	return yes;
}

static char *file_url(const char *p)
{
	char *url = NULL;

	if (asprintf(&url, "file://%s", p) < 0)
		abort();
	return url;
}

static int sync_to(const char *url, const char *branch, const char *dir,
		   int allow_local, char sha[41])
{
	struct wl_git_sync_opts o = { .url = url,
				      .branch = branch,
				      .dir = dir,
				      .allow_local = allow_local };

	wl_error_clear();
	return wl_git_sync(&o, sha);
}

/*
 * src: main with a.txt and old.txt, feature with b.txt on top of main.
 */
static char *make_source(const char *name)
{
	char *src = path("%s", name);

	sh(GIT "init -q '%s'", src);
	sh("cd '%s' && echo a > a.txt && echo old > old.txt && " GIT
	   "add . && " GIT "commit -q -m first",
	   src);
	sh("cd '%s' && " GIT "checkout -q -b feature && echo b > b.txt && " GIT
	   "add b.txt && " GIT "commit -q -m feature && " GIT
	   "checkout -q main",
	   src);
	return src;
}

static void test_clone_file_url(void)
{
	char *src = make_source("src1"), *url = file_url(src);
	char *dir = path("clones/one");
	char sha[41], want[41], head[41];

	CHECK(sync_to(url, "main", dir, 1, sha) == 0);
	rev_parse(want, src, "main");
	CHECK_STR(sha, want);
	CHECK(exists(dir, "a.txt"));
	CHECK(!exists(dir, "b.txt"));
	check_clean_on(dir, "main");
	CHECK(wl_git_head(dir, head) == 0);
	CHECK_STR(head, want);
	/* nothing left behind next to the clone */
	CHECK(!exists(base, "clones/one.clone-tmp"));
	/* a second sync with nothing new is a no-op */
	CHECK(sync_to(url, "main", dir, 1, sha) == 0);
	CHECK_STR(sha, want);
	free(src);
	free(url);
	free(dir);
}

static void test_clone_plain_path_branch(void)
{
	char *src = make_source("src2"), *dir = path("clones/two");
	char sha[41], want[41];

	CHECK(sync_to(src, "feature", dir, 1, sha) == 0);
	rev_parse(want, src, "feature");
	CHECK_STR(sha, want);
	CHECK(exists(dir, "b.txt"));
	free(src);
	free(dir);
}

static void test_fast_forward(void)
{
	char *src = make_source("src3"), *url = file_url(src);
	char *dir = path("clones/three");
	char sha[41], want[41];

	CHECK(sync_to(url, "main", dir, 1, sha) == 0);
	sh("cd '%s' && echo new > new.txt && " GIT "rm -q old.txt && " GIT
	   "add new.txt && " GIT "commit -q -m second",
	   src);
	rev_parse(want, src, "main");
	CHECK(sync_to(url, "main", dir, 1, sha) == 0);
	CHECK_STR(sha, want);
	CHECK(exists(dir, "new.txt"));
	CHECK(!exists(dir, "old.txt"));
	check_clean_on(dir, "main");
	/* switching the branch of an existing clone */
	rev_parse(want, src, "feature");
	CHECK(sync_to(url, "feature", dir, 1, sha) == 0);
	CHECK_STR(sha, want);
	CHECK(exists(dir, "b.txt"));
	CHECK(exists(dir, "old.txt"));
	CHECK(!exists(dir, "new.txt"));
	check_clean_on(dir, "feature");
	free(src);
	free(url);
	free(dir);
}

static void test_local_commit_kept(void)
{
	char *src = make_source("src4"), *url = file_url(src);
	char *dir = path("clones/four");
	char sha[41], local[41];

	CHECK(sync_to(url, "main", dir, 1, sha) == 0);
	commit_file(dir, "local.txt", "mine", "prompt");
	rev_parse(local, dir, "HEAD");
	commit_file(src, "up.txt", "up", "upstream");
	CHECK(sync_to(url, "main", dir, 1, sha) == 0);
	CHECK_STR(sha, local);
	CHECK(exists(dir, "local.txt"));
	CHECK(!exists(dir, "up.txt"));
	check_clean_on(dir, "main");
	/* ahead only (no upstream change) is kept as well */
	CHECK(sync_to(url, "main", dir, 1, sha) == 0);
	CHECK_STR(sha, local);
	free(src);
	free(url);
	free(dir);
}

static void test_missing_branch(void)
{
	char *src = make_source("src5"), *url = file_url(src);
	char *dir = path("clones/five"), *want = NULL;
	char sha[41];

	if (asprintf(&want, "branch 'nope' not found in '%s'", url) < 0)
		abort();
	CHECK(sync_to(url, "nope", dir, 1, sha) == WL_ENOTFOUND);
	CHECK_STR(wl_error_last(), want);
	CHECK(!wl_fs_exists(dir));
	/* and on an existing clone, after a fetch */
	CHECK(sync_to(url, "main", dir, 1, sha) == 0);
	CHECK(sync_to(url, "nope", dir, 1, sha) == WL_ENOTFOUND);
	CHECK_STR(wl_error_last(), want);
	CHECK(exists(dir, "a.txt"));
	free(want);
	free(src);
	free(url);
	free(dir);
}

static void test_missing_repo(void)
{
	char *missing = path("no-such-repo"), *url = file_url(missing);
	char *empty = path("not-a-repo"), *dir = path("clones/six");
	const char *urls[3];
	char sha[41];

	CHECK(wl_fs_mkdir_p(empty, 0755) == 0);
	urls[0] = url;
	urls[1] = missing;
	urls[2] = empty;
	for (size_t i = 0; i < 3; i++) {
		char *want = NULL;

		if (asprintf(&want, "repository '%s' not found", urls[i]) < 0)
			abort();
		CHECK(sync_to(urls[i], "main", dir, 1, sha) == WL_ENOTFOUND);
		CHECK_STR(wl_error_last(), want);
		CHECK(!wl_fs_exists(dir));
		free(want);
	}
	free(missing);
	free(url);
	free(empty);
	free(dir);
}

static void test_network_unavailable(void)
{
	char *dir = path("clones/seven");
	char sha[41];

	/* nothing listens on port 1 */
	CHECK(sync_to("http://127.0.0.1:1/repo.git", "main", dir, 1, sha) ==
	      WL_EUNAVAIL);
	CHECK_CONTAINS(wl_error_last(),
		       "cannot clone 'http://127.0.0.1:1/repo.git'");
	CHECK(!wl_fs_exists(dir));
	free(dir);
}

static void test_hostile_urls(void)
{
	char *marker = path("pwned"), *src = make_source("src8");
	char *dir = path("clones/eight"), *ext = NULL, *local = file_url(src);
	char sha[41];

	if (asprintf(&ext, "ext::sh -c touch%% %s", marker) < 0)
		abort();
	const char *const bad[] = {
		ext,
		"-uhttps://example.com/x.git",
		"--upload-pack=touch /tmp/x",
		"ssh://example.com/x.git",
		"git@example.com:x.git",
		"https://user:secret@example.com/x.git",
		"https://example.com/x.git\nfoo",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int rc = sync_to(bad[i], "main", dir, 1, sha);

		CHECK(rc == WL_EINVALID);
		if (rc != WL_EINVALID)
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
		CHECK(!wl_fs_exists(dir));
	}
	/* local URLs only when allowed */
	CHECK(sync_to(local, "main", dir, 0, sha) == WL_EINVALID);
	CHECK(sync_to(src, "main", dir, 0, sha) == WL_EINVALID);
	CHECK(!wl_fs_exists(dir));
	CHECK(!wl_fs_exists(marker));
	free(marker);
	free(src);
	free(dir);
	free(ext);
	free(local);
}

static void test_submodule_not_fetched(void)
{
	char *sub = make_source("sub9"), *super = make_source("super9");
	char *url = file_url(super), *dir = path("clones/nine");
	char *subdir = NULL;
	char sha[41];

	sh("cd '%s' && " GIT "-c protocol.file.allow=always submodule add -q "
	   "'%s' vendored >/dev/null 2>&1 && " GIT "commit -q -m sub",
	   super, sub);
	CHECK(sync_to(url, "main", dir, 1, sha) == 0);
	CHECK(exists(dir, ".gitmodules"));
	if (asprintf(&subdir, "%s/vendored", dir) < 0)
		abort();
	/* the gitlink's directory is at most empty: nothing was fetched */
	CHECK(!exists(subdir, "a.txt"));
	CHECK(!exists(subdir, ".git"));
	CHECK(!exists(dir, ".git/modules"));
	free(sub);
	free(super);
	free(url);
	free(dir);
	free(subdir);
}

static void test_origin_changed(void)
{
	char *a = make_source("src10a"), *b = make_source("src10b");
	char *dir = path("clones/ten");
	char sha[41], want[41];

	commit_file(b, "only-b.txt", "only-b", "b");
	/* a directory that is not a repository is replaced */
	CHECK(wl_fs_mkdir_p(dir, 0755) == 0);
	sh("echo junk > '%s/junk.txt'", dir);
	CHECK(sync_to(a, "main", dir, 1, sha) == 0);
	rev_parse(want, a, "main");
	CHECK_STR(sha, want);
	CHECK(!exists(dir, "junk.txt"));
	/* another origin: a fresh clone of it */
	CHECK(sync_to(b, "main", dir, 1, sha) == 0);
	rev_parse(want, b, "main");
	CHECK_STR(sha, want);
	CHECK(exists(dir, "only-b.txt"));
	free(a);
	free(b);
	free(dir);
}

static void test_canceled(void)
{
	char *src = make_source("src11"), *dir = path("clones/eleven");
	volatile int cancel = 1;
	struct wl_git_sync_opts o = { .url = src,
				      .branch = "main",
				      .dir = dir,
				      .allow_local = 1,
				      .cancel = &cancel };
	char sha[41];

	CHECK(wl_git_sync(&o, sha) == WL_ECANCELED);
	CHECK_CONTAINS(wl_error_last(), "canceled");
	CHECK(!wl_fs_exists(dir));
	cancel = 0;
	CHECK(wl_git_sync(&o, sha) == 0);
	free(src);
	free(dir);
}

static void test_head_not_a_repo(void)
{
	char sha[41];
	char *dir = path("plain");

	CHECK(wl_fs_mkdir_p(dir, 0755) == 0);
	CHECK(wl_git_head(dir, sha) == WL_ENOTFOUND);
	CHECK_CONTAINS(wl_error_last(), "is not a git repository");
	free(dir);
}

static void test_head_mentions(void)
{
	char *src = make_source("src-mentions"), *dir = path("plain2");

	sh("cd '%s' && echo p > p.txt && " GIT "add p.txt && " GIT
	   "commit -q -m 'Add p' -m 'worklet prompt p123'",
	   src);
	CHECK(wl_git_head_mentions(src, "\nworklet prompt p123\n") == 1);
	CHECK(wl_git_head_mentions(src, "\nworklet prompt p12\n") == 0);
	CHECK(wl_git_head_mentions(src, "worklet prompt p999") == 0);
	CHECK(wl_fs_mkdir_p(dir, 0755) == 0);
	CHECK(wl_git_head_mentions(dir, "x") == WL_ENOTFOUND);
	free(src);
	free(dir);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_clone_file_url),
		UNIT(test_clone_plain_path_branch),
		UNIT(test_fast_forward),
		UNIT(test_local_commit_kept),
		UNIT(test_missing_branch),
		UNIT(test_missing_repo),
		UNIT(test_network_unavailable),
		UNIT(test_hostile_urls),
		UNIT(test_submodule_not_fetched),
		UNIT(test_origin_changed),
		UNIT(test_canceled),
		UNIT(test_head_not_a_repo),
		UNIT(test_head_mentions),
		{ 0 },
	};
	int rc;

	snprintf(base, sizeof(base), "/tmp/wl-git-XXXXXX");
	if (!mkdtemp(base))
		abort();
	/* no user or system git configuration leaks into the test repos */
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_TERMINAL_PROMPT", "0", 1);
	git_libgit2_init();
	rc = wl_unit_run(tests);
	git_libgit2_shutdown();
	wl_fs_remove_tree(base);
	return rc;
}
