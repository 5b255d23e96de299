/*
 * Request routing and query parsing of the REST API (apiserver/api.c,
 * wl_api_handle) over a real state directory (on tmpfs when there is
 * one). The input is a request:
 *
 *   METHOD SP TARGET LF BODY
 *
 * TARGET is split at its first '?' into path and query, as the server
 * does. The user is "alice", who owns the seeded worklet "w1" (a spec, a
 * status and a prompt); "bob" owns "w2". After a request that is not a GET
 * the state directory is wiped and seeded again, so every input starts
 * from the same state and a crash replays.
 *
 * A handler that asks for a repository host's addresses (create, PUT:
 * lookup_needed) is called again as the server would, with an answer
 * made up here (the host does not resolve: no lookup leaves the process),
 * and must not ask twice.
 *
 * Checked: the status is a real HTTP one and the body is JSON (an
 * object), a 405 names the allowed methods.
 */
#include <ftw.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "apiserver/api.h"
#include "controller/config.h"
#include "specs/codec.h"
#include "specs/core/log.h"
#include "specs/prompt.h"
#include "specs/spec_store.h"
#include "tests/fuzz/fuzz.h"

#define LINE_MAX_LEN 4096

static char state[256];
static struct wl_config cfg;
static struct wl_store store;
static int ready;

static const char w1_yaml[] = "apiVersion: worklet.dev/v1\n"
			      "kind: Worklet\n"
			      "metadata:\n"
			      "  id: w1\n"
			      "  name: first\n"
			      "  userId: alice\n"
			      "  generation: 1\n"
			      "spec:\n"
			      "  gitRepo: https://example.com/a/b.git\n"
			      "  branch: main\n"
			      "  env:\n"
			      "    A: b\n";

static const char w1_status_yaml[] = "apiVersion: worklet.dev/v1\n"
				     "kind: WorkletStatus\n"
				     "metadata:\n"
				     "  id: w1\n"
				     "  generation: 1\n"
				     "status:\n"
				     "  phase: running\n"
				     "  port: 40001\n"
				     "  observedGeneration: 1\n";

static const char w2_yaml[] = "apiVersion: worklet.dev/v1\n"
			      "kind: Worklet\n"
			      "metadata:\n"
			      "  id: w2\n"
			      "  userId: bob\n"
			      "  generation: 1\n"
			      "spec:\n"
			      "  gitRepo: https://example.com/c/d.git\n";

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void put_spec(const char *yaml, int with_status)
{
	struct wl_worklet w;

	FUZZ_CHECK(wl_yaml_decode_spec(&w, yaml, strlen(yaml)) == 0);
	FUZZ_CHECK(wl_store_write_spec(&store, &w) == 0);
	wl_worklet_release(&w);
	if (!with_status)
		return;
	FUZZ_CHECK(wl_yaml_decode_status(&w, w1_status_yaml,
					 strlen(w1_status_yaml)) == 0);
	FUZZ_CHECK(wl_store_write_status(&store, &w) == 0);
	wl_worklet_release(&w);
}

static void seed(void)
{
	struct wl_prompt p;
	char pid[WL_PROMPT_ID_LEN + 1];

	if (ready)
		wl_store_release(&store);
	nftw(state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	FUZZ_CHECK(wl_store_init(&store, state) == 0);
	put_spec(w1_yaml, 1);
	put_spec(w2_yaml, 0);
	wl_prompt_init(&p);
	FUZZ_CHECK(wl_prompt_new_id(pid, 1700000000000) == 0);
	p.id = pid;
	p.worklet_id = (char *)"w1";
	p.user_id = (char *)"alice";
	p.prompt = (char *)"add a page";
	p.created_ms = 1700000000000;
	FUZZ_CHECK(wl_prompt_create(&store, &p) == 0);
	ready = 1;
}

static void cleanup(void)
{
	if (!ready)
		return;
	wl_store_release(&store);
	nftw(state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	wl_config_release(&cfg);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	else if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(state, sizeof(state), "%s/wl-fuzz-api-XXXXXX", tmp);
	if (!mkdtemp(state)) {
		perror("mkdtemp");
		abort();
	}
	wl_log_set_level(WL_LOG_ERROR); /* no line per request */
	FUZZ_CHECK(wl_config_init(&cfg) == 0);
	free(cfg.state_dir);
	cfg.state_dir = strdup(state);
	/* what wl_config_load_env derives from the listen address */
	free(cfg.public_url);
	cfg.public_url = strdup("http://127.0.0.1:8080");
	FUZZ_CHECK(cfg.state_dir && cfg.public_url);
	seed();
	atexit(cleanup);
}

static void check_response(const struct wl_api_response *rs)
{
	cJSON *j;

	FUZZ_CHECK(rs->status >= 200 && rs->status <= 599);
	if (rs->status == 405)
		FUZZ_CHECK(rs->allow[0] != '\0');
	if (rs->status == 202 || !rs->content_type ||
	    strcmp(rs->content_type, "application/json"))
		return;
	j = cJSON_ParseWithLength(rs->body.ptr, rs->body.len);
	FUZZ_CHECK(cJSON_IsObject(j));
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nl = memchr(s, '\n', size), *sp;
	char line[LINE_MAX_LEN], *q;
	struct wl_api_request rq;
	struct wl_api_response rs;
	size_t llen;

	if (!ready)
		setup();
	llen = nl ? (size_t)(nl - s) : size;
	if (llen >= sizeof(line) || !(sp = memchr(s, ' ', llen)))
		return 0;
	memcpy(line, s, llen);
	line[llen] = '\0';
	/* The server never hands on a NUL inside the request line. */
	if (strlen(line) != llen)
		return 0;
	line[sp - s] = '\0';
	memset(&rq, 0, sizeof(rq));
	rq.method = line;
	rq.path = line + (sp - s) + 1;
	if ((q = strchr(line + (sp - s) + 1, '?'))) {
		*q = '\0';
		rq.query = q + 1;
	}
	rq.user = "alice";
	rq.body = nl ? nl + 1 : "";
	rq.body_len = nl ? size - llen - 1 : 0;
	wl_api_response_init(&rs);
	wl_api_handle(&cfg, &store, &rq, &rs);
	if (rs.lookup_needed) {
		struct wl_git_lookup done = rs.lookup;

		done.error = EAI_NONAME;
		done.count = 0;
		rq.lookup = &done;
		wl_api_response_release(&rs);
		wl_api_response_init(&rs);
		wl_api_handle(&cfg, &store, &rq, &rs);
		FUZZ_CHECK(!rs.lookup_needed);
	}
	check_response(&rs);
	wl_api_response_release(&rs);
	if (strcmp(rq.method, "GET"))
		seed();
	return 0;
}
