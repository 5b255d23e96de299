/*
 * Unit tests of controller/agent_sandbox.c: the pure pieces (the
 * container's name, its create body, the API URL as seen from inside).
 * The container runs are exercised end to end in
 * tests/e2e/test_agent_sandbox.py.
 */
#include "tests/unit/unit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "controller/agent_sandbox.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/banned.h"

static void check_url(const char *in, const char *want, int want_rc)
{
	char out[256];
	int rc = wl_agent_sandbox_url(in, out, sizeof(out));

	CHECK(rc == want_rc);
	if (rc >= 0)
		CHECK_STR(out, want);
}

static void test_url_rewrite(void)
{
	const char *alias = WL_AGENT_SANDBOX_HOST_ALIAS;
	char want[256];

	snprintf(want, sizeof(want), "http://%s:8080", alias);
	check_url("http://127.0.0.1:8080", want, 1);
	check_url("http://localhost:8080", want, 1);
	check_url("http://LOCALHOST:8080", want, 1);
	check_url("http://[::1]:8080", want, 1);
	snprintf(want, sizeof(want), "http://%s:8080/api?x=1", alias);
	check_url("http://127.1.2.3:8080/api?x=1", want, 1);
	snprintf(want, sizeof(want), "https://user:pw@%s/v", alias);
	check_url("https://user:pw@localhost/v", want, 1);
	snprintf(want, sizeof(want), "http://%s", alias);
	check_url("http://127.0.0.1", want, 1);
	/* not loopback: unchanged */
	check_url("https://api.anthropic.com", "https://api.anthropic.com", 0);
	check_url("http://127.0.0.1.example.com:1/",
		  "http://127.0.0.1.example.com:1/", 0);
	check_url("http://localhost.example:1", "http://localhost.example:1",
		  0);
	check_url("http://10.0.0.1:8080", "http://10.0.0.1:8080", 0);
	check_url("http://127.0.0:80", "http://127.0.0:80", 0);
	check_url("not a url", "not a url", 0);
	{
		char tiny[8];

		CHECK(wl_agent_sandbox_url("http://localhost:1", tiny,
					   sizeof(tiny)) == WL_EINVALID);
	}
}

static void test_name(void)
{
	char out[64];

	CHECK(wl_agent_sandbox_name(out, sizeof(out), "abc123", "wl-1") == 0);
	CHECK_STR(out, "abc123-agent-wl-1");
	CHECK(wl_agent_sandbox_name(out, 10, "abc123", "wl-1") == WL_EINVALID);
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int array_has(const cJSON *a, const char *s)
{
	const cJSON *e;

	cJSON_ArrayForEach (e, a) {
		if (cJSON_IsString(e) && !strcmp(e->valuestring, s))
			return 1;
	}
	return 0;
}

static char tree[] = "/tmp/wl-unit-sandbox-XXXXXX";

static void fill_job(struct wl_agent_sandbox_job *job, char *const *argv,
		     char *const *envp)
{
	memset(job, 0, sizeof(*job));
	job->argv = argv;
	job->envp = envp;
	job->cwd = tree;
	job->config_dir = "/state/agent-config/wl-1";
	job->cli_path = "/usr/lib/claude.exe";
}

static void fill_sandbox(struct wl_agent_sandbox *sb, const char *network)
{
	memset(sb, 0, sizeof(*sb));
	sb->image = "worklet-local/node:18";
	sb->network = network;
	sb->memory_bytes = 1LL << 30;
	sb->nano_cpus = 1000000000;
	sb->pids_limit = 512;
	sb->instance = "inst";
	sb->worklet_id = "wl-1";
	sb->runner = "r1";
}

static void test_spec(void)
{
	static char a0[] = WL_AGENT_SANDBOX_CLI, a1[] = "-p", a2[] = "hi";
	static char e0[] = "IS_SANDBOX=1";
	char *const argv[] = { a0, a1, a2, NULL };
	char *const envp[] = { e0, NULL };
	struct wl_agent_sandbox sb;
	struct wl_agent_sandbox_job job;
	char git[128], bind[300], *body = NULL;
	const cJSON *host, *binds, *labels;
	cJSON *j;

	CHECK(mkdtemp(tree) != NULL);
	snprintf(git, sizeof(git), "%s/.git", tree);
	CHECK(mkdir(git, 0700) == 0);
	fill_sandbox(&sb, "inst-agent");
	fill_job(&job, argv, envp);
	job.secret = "sk-unit-secret";
	CHECK(wl_agent_sandbox_spec(&sb, &job, &body) == 0);
	CHECK((j = cJSON_Parse(body)) != NULL);
	CHECK_STR(get(j, "Image")->valuestring, "worklet-local/node:18");
	CHECK_STR(get(j, "User")->valuestring, "1000:1000");
	CHECK_STR(get(j, "WorkingDir")->valuestring, tree);
	/* the supervisor, then the CLI's argv as it was */
	CHECK(cJSON_GetArraySize(get(j, "Cmd")) == 7);
	CHECK_STR(cJSON_GetArrayItem(get(j, "Cmd"), 0)->valuestring, "/bin/sh");
	CHECK_STR(cJSON_GetArrayItem(get(j, "Cmd"), 3)->valuestring,
		  "worklet-agent");
	CHECK_STR(cJSON_GetArrayItem(get(j, "Cmd"), 4)->valuestring,
		  WL_AGENT_SANDBOX_CLI);
	CHECK_STR(cJSON_GetArrayItem(get(j, "Cmd"), 6)->valuestring, "hi");
	CHECK_CONTAINS(cJSON_GetArrayItem(get(j, "Cmd"), 2)->valuestring,
		       "> " WL_AGENT_SANDBOX_KEY_FILE);
	CHECK(cJSON_GetArraySize(get(j, "Env")) == 1);
	/* stdin: the key, then the lease; the key itself is nowhere */
	CHECK(cJSON_IsTrue(get(j, "OpenStdin")));
	CHECK(cJSON_IsTrue(get(j, "StdinOnce")));
	CHECK(cJSON_IsTrue(get(j, "AttachStdin")));
	CHECK(strstr(body, "sk-unit-secret") == NULL);
	{
		char *bad = NULL;

		job.secret = "sk-unit\nsecond-line";
		CHECK(wl_agent_sandbox_spec(&sb, &job, &bad) == WL_EINVALID);
		CHECK(bad == NULL);
		CHECK_CONTAINS(wl_error_last(), "contains a line break");
		CHECK(strstr(wl_error_last(), "sk-unit") == NULL);
		job.secret = "sk-unit-secret";
	}
	labels = get(j, "Labels");
	CHECK_STR(get(labels, "worklet.role")->valuestring, "agent");
	CHECK_STR(get(labels, "worklet.agent-for")->valuestring, "wl-1");
	CHECK_STR(get(labels, "worklet.instance")->valuestring, "inst");
	CHECK_STR(get(labels, "worklet.runner")->valuestring, "r1");
	CHECK(get(labels, "worklet.id") == NULL);

	host = get(j, "HostConfig");
	CHECK(cJSON_GetArraySize(get(host, "CapDrop")) == 1 &&
	      array_has(get(host, "CapDrop"), "ALL"));
	CHECK(get(host, "CapAdd") == NULL);
	CHECK(array_has(get(host, "SecurityOpt"), "no-new-privileges"));
	CHECK(cJSON_IsTrue(get(host, "Init")));
	CHECK(cJSON_IsTrue(get(host, "ReadonlyRootfs")));
	CHECK(cJSON_IsFalse(get(host, "Privileged")));
	CHECK(get(host, "Memory")->valuedouble == (double)(1LL << 30));
	CHECK(get(host, "MemorySwap")->valuedouble == (double)(1LL << 30));
	CHECK(get(host, "PidsLimit")->valuedouble == 512);
	CHECK(get(host, "NanoCpus")->valuedouble == 1e9);
	CHECK_STR(get(host, "NetworkMode")->valuestring, "inst-agent");
	CHECK(array_has(get(host, "ExtraHosts"),
			"host.docker.internal:host-gateway"));
	CHECK(get(get(host, "Tmpfs"), "/tmp") != NULL);
	CHECK_CONTAINS(
		get(get(host, "Tmpfs"), WL_AGENT_SANDBOX_KEY_DIR)->valuestring,
		"noexec,nosuid,nodev,size=64k,mode=0700,uid=1000,gid=1000");
	CHECK(cJSON_GetArraySize(get(host, "Tmpfs")) == 2);

	/* exactly four binds: tree rw, its .git ro, config rw, CLI ro */
	binds = get(host, "Binds");
	CHECK(cJSON_GetArraySize(binds) == 4);
	snprintf(bind, sizeof(bind), "%s:%s:rw", tree, tree);
	CHECK(array_has(binds, bind));
	snprintf(bind, sizeof(bind), "%s:%s:ro", git, git);
	CHECK(array_has(binds, bind));
	CHECK(array_has(binds, "/state/agent-config/wl-1:"
			       "/state/agent-config/wl-1:rw"));
	CHECK(array_has(binds,
			"/usr/lib/claude.exe:" WL_AGENT_SANDBOX_CLI ":ro"));
	cJSON_Delete(j);
	free(body);

	/* no network: no host alias either */
	fill_sandbox(&sb, "none");
	CHECK(wl_agent_sandbox_spec(&sb, &job, &body) == 0);
	CHECK((j = cJSON_Parse(body)) != NULL);
	host = get(j, "HostConfig");
	CHECK_STR(get(host, "NetworkMode")->valuestring, "none");
	CHECK(get(host, "ExtraHosts") == NULL);
	cJSON_Delete(j);
	free(body);

	/* no .git directory: no .git bind */
	CHECK(rmdir(git) == 0);
	fill_sandbox(&sb, "inst-agent");
	CHECK(wl_agent_sandbox_spec(&sb, &job, &body) == 0);
	CHECK((j = cJSON_Parse(body)) != NULL);
	CHECK(cJSON_GetArraySize(get(get(j, "HostConfig"), "Binds")) == 3);
	cJSON_Delete(j);
	free(body);
	rmdir(tree);
}

static void test_spec_rejects_bad_paths(void)
{
	static char a0[] = WL_AGENT_SANDBOX_CLI;
	char *const argv[] = { a0, NULL };
	char *const envp[] = { NULL };
	struct wl_agent_sandbox sb;
	struct wl_agent_sandbox_job job;
	char *body = NULL;

	fill_sandbox(&sb, "n");
	fill_job(&job, argv, envp);
	job.cwd = "/tmp/a:b"; /* would split the bind spec */
	CHECK(wl_agent_sandbox_spec(&sb, &job, &body) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "working tree");
	job.cwd = "relative";
	CHECK(wl_agent_sandbox_spec(&sb, &job, &body) == WL_EINVALID);
	fill_job(&job, argv, envp);
	job.cli_path = "/x,y";
	CHECK(wl_agent_sandbox_spec(&sb, &job, &body) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "CLI binary");
	fill_job(&job, argv, envp);
	sb.image = "";
	CHECK(wl_agent_sandbox_spec(&sb, &job, &body) == WL_EINVALID);
	CHECK(body == NULL);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_url_rewrite),
		UNIT(test_name),
		UNIT(test_spec),
		UNIT(test_spec_rejects_bad_paths),
		{ 0 },
	};

	return wl_unit_run(tests);
}
