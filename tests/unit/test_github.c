/*
 * The GitHub client against tests/e2e/scripted_github.py (a scripted REST
 * server that answers like GitHub, started here as a child process).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "controller/github.h"
#include "specs/core/error.h"
#include "unit.h"

#define TOKEN "ghp_unit_test_token_0123456789"

static pid_t server_pid;
static char api[256];

/* Start the scripted server; its first stdout line is the API URL. */
static int start_server(const char *script)
{
	const char *fixtures = getenv("WL_FIXTURES");
	char path[1024];
	int fds[2];
	FILE *out;

	snprintf(path, sizeof(path), "%s/../e2e/scripted_github.py",
		 fixtures ? fixtures : "tests/fixtures");
	if (pipe(fds) < 0)
		return -1;
	if ((server_pid = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		if (script)
			execl("/usr/bin/python3", "python3", path, "--port",
			      "0", "--token", TOKEN, "--repo", "acme/app",
			      "--script", script, (char *)NULL);
		else
			execl("/usr/bin/python3", "python3", path, "--port",
			      "0", "--token", TOKEN, "--repo", "acme/app",
			      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	out = fdopen(fds[0], "r");
	if (!out || !fgets(api, sizeof(api), out)) {
		fprintf(stderr, "the scripted GitHub server did not start\n");
		return -1;
	}
	api[strcspn(api, "\r\n")] = '\0';
	fclose(out);
	return 0;
}

static void stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
}

static void test_parse_repo(void)
{
	static const struct {
		const char *url, *owner, *name;
	} good[] = {
		{ "https://github.com/acme/app.git", "acme", "app" },
		{ "https://github.com/acme/app", "acme", "app" },
		{ "https://github.com/acme/app/", "acme", "app" },
		{ "http://ghe.local:8080/a-b/c_d.e.git", "a-b", "c_d.e" },
	};
	static const char *const bad[] = {
		"git@github.com:acme/app.git",
		"https://github.com/acme",
		"https://github.com/acme/app/tree/main",
		"file:///x/y",
		"https://github.com/../app",
		"https://github.com/ac me/app",
	};
	char owner[64], name[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		CHECK(wl_github_parse_repo(good[i].url, owner, sizeof(owner),
					   name, sizeof(name)) == 0);
		CHECK_STR(owner, good[i].owner);
		CHECK_STR(name, good[i].name);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		CHECK(wl_github_parse_repo(bad[i], owner, sizeof(owner), name,
					   sizeof(name)) == WL_EINVALID);
}

static void test_pull_request_cycle(void)
{
	struct wl_github g = { api, TOKEN, 5000 };
	struct wl_github_pr pr, found, updated, dup;
	char *branch = NULL;

	if (start_server(NULL) < 0) {
		CHECK(0);
		return;
	}
	CHECK(wl_github_default_branch(&g, "acme", "app", &branch) == 0);
	CHECK_STR(branch, "main");
	free(branch);

	CHECK(wl_github_find_open_pr(&g, "acme", "app", "worklet/x", &found) ==
	      WL_ENOTFOUND);
	CHECK(wl_github_create_pr(&g, "acme", "app", "worklet/x", "main",
				  "Add dark mode", "body text", &pr) == 0);
	CHECK(pr.number > 0);
	CHECK_CONTAINS(pr.html_url, "/acme/app/pull/");
	CHECK_STR(pr.head, "worklet/x");
	CHECK_STR(pr.base, "main");
	CHECK_STR(pr.state, "open");

	/* A second create is a 422 naming the existing one... */
	CHECK(wl_github_create_pr(&g, "acme", "app", "worklet/x", "main",
				  "again", "", &dup) == WL_ECONFLICT);
	CHECK_CONTAINS(wl_error_last(), "422");
	CHECK_CONTAINS(wl_error_last(), "already exists");
	/* ...so callers look it up and update it. */
	CHECK(wl_github_find_open_pr(&g, "acme", "app", "worklet/x", &found) ==
	      0);
	CHECK(found.number == pr.number);
	CHECK(wl_github_update_pr(&g, "acme", "app", pr.number, "New title",
				  "new body", &updated) == 0);
	CHECK(updated.number == pr.number);

	/* Errors name the cause and never carry the token. */
	{
		struct wl_github bad = { api, "ghp_wrong_token_xxxxxxxxxxxx",
					 5000 };
		struct wl_github_pr x;

		CHECK(wl_github_create_pr(&bad, "acme", "app", "worklet/y",
					  "main", "t", "b", &x) == WL_EINVALID);
		CHECK_CONTAINS(wl_error_last(), "401");
		CHECK(!strstr(wl_error_last(), "ghp_wrong"));
		CHECK(wl_github_default_branch(&g, "acme", "nope", &branch) ==
		      WL_ENOTFOUND);
		CHECK_CONTAINS(wl_error_last(), "404");
	}
	wl_github_pr_release(&pr);
	wl_github_pr_release(&found);
	wl_github_pr_release(&updated);
	stop_server();
}

static void test_rate_limit_and_network(void)
{
	char script[] = "/tmp/wl-gh-script-XXXXXX";
	struct wl_github g = { api, TOKEN, 5000 };
	struct wl_github_pr pr;
	FILE *f;
	int fd = mkstemp(script);

	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		CHECK(0);
		return;
	}
	fputs("[{\"kind\": \"rate_limit\", \"method\": \"POST\", \"path\": "
	      "\"/pulls$\", \"times\": 1}]\n",
	      f);
	fclose(f);
	if (start_server(script) < 0) {
		CHECK(0);
		unlink(script);
		return;
	}
	CHECK(wl_github_create_pr(&g, "acme", "app", "worklet/r", "main", "t",
				  "b", &pr) == WL_EUNAVAIL);
	CHECK_CONTAINS(wl_error_last(), "rate limit");
	CHECK_CONTAINS(wl_error_last(), "resets at");
	/* The rule fired once: the next call goes through. */
	CHECK(wl_github_create_pr(&g, "acme", "app", "worklet/r", "main", "t",
				  "b", &pr) == 0);
	wl_github_pr_release(&pr);
	stop_server();
	unlink(script);

	/* Nobody listening: a network error, retryable. */
	{
		struct wl_github down = { "http://127.0.0.1:1", TOKEN, 2000 };

		CHECK(wl_github_create_pr(&down, "acme", "app", "b", "main",
					  "t", "b", &pr) == WL_EUNAVAIL);
		CHECK_CONTAINS(wl_error_last(), "cannot reach GitHub");
	}
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_parse_repo),
		UNIT(test_pull_request_cycle),
		UNIT(test_rate_limit_and_network),
		{ 0 },
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = wl_unit_run(tests);
	stop_server();
	curl_global_cleanup();
	return rc;
}
