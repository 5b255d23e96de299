/*
 * Unit tests of apiserver/events.c: the ring (ids, filters, history,
 * concurrent publishers) and the watcher thread against a mkdtemp() state
 * directory written the way the controller writes it.
 */
#include "tests/unit/unit.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "apiserver/events.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/timeutil.h"
#include "specs/spec_store.h"
#include "specs/worklet.h"
#include "specs/core/banned.h"

/* ---- helpers ------------------------------------------------------------ */

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* All ids visible to (user, worklet, logs) after `after`, in order. */
static size_t collect(struct wl_events *e, uint64_t after, const char *user,
		      const char *worklet, int logs, uint64_t *ids, size_t max)
{
	struct wl_event ev;
	size_t n = 0;

	while (n < max &&
	       wl_events_next(e, after, user, worklet, logs, &ev) == 1) {
		ids[n++] = ev.id;
		after = ev.id;
		free(ev.json);
	}
	return n;
}

static const char *str_field(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- the ring ----------------------------------------------------------- */

static void test_publish_filter(void)
{
	static const struct {
		const char *worklet, *user, *type;
		int is_log;
	} pub[] = {
		{ "w1", "alice", "phase", 0 },	   /* 1 */
		{ "w2", "bob", "phase", 0 },	   /* 2 */
		{ "w1", "alice", "log", 1 },	   /* 3 */
		{ "w3", "alice", "condition", 0 }, /* 4 */
		{ "w1", "alice", "phase", 0 },	   /* 5 */
		{ "w2", "bob", "log", 1 },	   /* 6 */
	};
	static const struct {
		uint64_t after;
		const char *user, *worklet;
		int logs;
		uint64_t want[6];
		size_t nwant;
	} cases[] = {
		{ 0, "alice", NULL, 0, { 1, 4, 5 }, 3 },
		{ 0, "alice", NULL, 1, { 1, 3, 4, 5 }, 4 },
		{ 0, "alice", "w1", 1, { 1, 3, 5 }, 3 },
		{ 0, "alice", "w1", 0, { 1, 5 }, 2 },
		{ 1, "alice", "w1", 1, { 3, 5 }, 2 },
		{ 5, "alice", NULL, 1, { 0 }, 0 },
		{ 0, "alice", "w2", 1, { 0 }, 0 }, /* bob's worklet */
		{ 0, "bob", NULL, 1, { 2, 6 }, 2 },
		{ 0, "bob", NULL, 0, { 2 }, 1 },
		{ 0, "carol", NULL, 1, { 0 }, 0 },
		{ 0, "", NULL, 1, { 0 }, 0 },
		{ 0, "alic", NULL, 1, { 0 }, 0 },
		{ 100, "alice", NULL, 1, { 0 }, 0 }, /* from the future */
	};
	struct wl_events *e = NULL;
	struct wl_event ev;
	cJSON *doc;

	CHECK(wl_events_new(&e, 16) == 0);
	if (!e)
		return;
	CHECK(wl_events_last_id(e) == 0);
	for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
		CHECK(wl_events_publish(e, pub[i].worklet, pub[i].user,
					pub[i].type, "\"k\":1",
					pub[i].is_log) == i + 1);
	CHECK(wl_events_last_id(e) == 6);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t got[8];
		size_t n = collect(e, cases[i].after, cases[i].user,
				   cases[i].worklet, cases[i].logs, got, 8);

		CHECK(n == cases[i].nwant);
		for (size_t k = 0; k < n && k < cases[i].nwant; k++)
			CHECK(got[k] == cases[i].want[k]);
		if (n != cases[i].nwant)
			fprintf(stderr, "case %zu: %zu events\n", i, n);
	}

	/* The event itself: valid JSON with id, type, worklet, fields, time. */
	CHECK(wl_events_next(e, 3, "alice", NULL, 0, &ev) == 1);
	CHECK(ev.id == 4);
	CHECK_STR(ev.worklet_id, "w3");
	CHECK_STR(ev.user_id, "alice");
	CHECK(ev.json_len == strlen(ev.json));
	CHECK(!strncmp(ev.json, "{\"id\":4,\"type\":\"condition\"", 26));
	doc = cJSON_Parse(ev.json);
	CHECK(doc != NULL);
	CHECK_STR(str_field(doc, "worklet_id"), "w3");
	CHECK(cJSON_GetObjectItem(doc, "k") &&
	      cJSON_GetObjectItem(doc, "k")->valueint == 1);
	CHECK(str_field(doc, "time") && strlen(str_field(doc, "time")) == 20);
	CHECK(!cJSON_GetObjectItem(doc, "user_id")); /* not for the wire */
	cJSON_Delete(doc);
	free(ev.json);

	/* Type and worklet id are escaped; an owner too long is refused. */
	CHECK(wl_events_publish(e, "w\"1", "alice", "a\nb", NULL, 0) == 7);
	CHECK(wl_events_next(e, 6, "alice", NULL, 0, &ev) == 1);
	doc = cJSON_Parse(ev.json);
	CHECK(doc != NULL);
	CHECK_STR(str_field(doc, "type"), "a\nb");
	CHECK_STR(str_field(doc, "worklet_id"), "w\"1");
	cJSON_Delete(doc);
	free(ev.json);
	{
		char long_user[200];

		memset(long_user, 'u', sizeof(long_user) - 1);
		long_user[sizeof(long_user) - 1] = '\0';
		CHECK(wl_events_publish(e, "w1", long_user, "phase", NULL, 0) ==
		      0);
		CHECK(wl_events_last_id(e) == 7);
	}
	wl_events_free(e);
}

static void test_history_overflow(void)
{
	static const struct {
		uint64_t after;
		int want;
		uint64_t id;
	} cases[] = {
		/* history 8, events 1..20: 13..20 are kept */
		{ 0, -1, 0 },  { 1, -1, 0 },  { 11, -1, 0 }, { 12, 1, 13 },
		{ 13, 1, 14 }, { 19, 1, 20 }, { 20, 0, 0 },  { 25, 0, 0 },
	};
	struct wl_events *e = NULL;

	CHECK(wl_events_new(&e, 8) == 0);
	if (!e)
		return;
	/* Before anything fell out, 0 is a fine start. */
	CHECK(wl_events_publish(e, "w1", "u", "phase", NULL, 0) == 1);
	{
		struct wl_event ev;

		CHECK(wl_events_next(e, 0, "u", NULL, 0, &ev) == 1);
		free(ev.json);
	}
	for (uint64_t i = 2; i <= 20; i++)
		CHECK(wl_events_publish(e, "w1", "u", "phase", NULL, 0) == i);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_event ev;
		int r = wl_events_next(e, cases[i].after, "u", NULL, 0, &ev);

		CHECK(r == cases[i].want);
		if (r == 1) {
			CHECK(ev.id == cases[i].id);
			free(ev.json);
		}
		if (r != cases[i].want)
			fprintf(stderr, "after %" PRIu64 ": %d\n",
				cases[i].after, r);
	}
	/* A filter that matches nothing still knows the history is gone. */
	{
		struct wl_event ev;

		CHECK(wl_events_next(e, 5, "nobody", NULL, 0, &ev) == -1);
	}
	wl_events_free(e);
}

#define PUBLISHERS 4
#define PER_PUBLISHER 1000

static struct wl_events *shared_events;

static void *publisher(void *arg)
{
	int k = (int)(intptr_t)arg;
	char worklet[16], fields[32];

	snprintf(worklet, sizeof(worklet), "t%d", k);
	for (int i = 0; i < PER_PUBLISHER; i++) {
		snprintf(fields, sizeof(fields), "\"n\":%d", i);
		if (!wl_events_publish(shared_events, worklet, "u", "x", fields,
				       0))
			return (void *)1;
	}
	return NULL;
}

static void test_concurrent_publishers(void)
{
	pthread_t th[PUBLISHERS];
	int next_n[PUBLISHERS] = { 0 };
	uint64_t after = 0;
	struct wl_event ev;
	size_t seen = 0;
	int in_order = 1;

	CHECK(wl_events_new(&shared_events, 4096) == 0);
	if (!shared_events)
		return;
	for (int k = 0; k < PUBLISHERS; k++)
		pthread_create(&th[k], NULL, publisher, (void *)(intptr_t)k);
	for (int k = 0; k < PUBLISHERS; k++) {
		void *ret;

		pthread_join(th[k], &ret);
		CHECK(ret == NULL);
	}
	CHECK(wl_events_last_id(shared_events) == PUBLISHERS * PER_PUBLISHER);
	while (wl_events_next(shared_events, after, "u", NULL, 0, &ev) == 1) {
		cJSON *doc = cJSON_Parse(ev.json);
		const cJSON *n = cJSON_GetObjectItem(doc, "n");
		int k = ev.worklet_id[1] - '0';

		if (ev.id != after + 1 || !cJSON_IsNumber(n) || k < 0 ||
		    k >= PUBLISHERS || n->valueint != next_n[k])
			in_order = 0;
		else
			next_n[k]++;
		after = ev.id;
		seen++;
		cJSON_Delete(doc);
		free(ev.json);
	}
	CHECK(seen == PUBLISHERS * PER_PUBLISHER);
	CHECK(in_order);
	for (int k = 0; k < PUBLISHERS; k++)
		CHECK(next_n[k] == PER_PUBLISHER);
	wl_events_free(shared_events);
	shared_events = NULL;
}

/* ---- the watcher -------------------------------------------------------- */

static char root[64];
static struct wl_store store;

static void state_setup(void)
{
	snprintf(root, sizeof(root), "/tmp/wl-events-XXXXXX");
	if (!mkdtemp(root) || wl_store_init(&store, root) < 0) {
		fprintf(stderr, "state dir: %s\n", wl_error_last());
		exit(1);
	}
}

static void state_teardown(void)
{
	wl_store_release(&store);
	wl_fs_remove_tree(root);
}

static void put_spec(const char *id, const char *user)
{
	struct wl_worklet w;

	wl_worklet_init(&w);
	wl_str_set(&w.meta.id, id);
	wl_str_set(&w.meta.user_id, user);
	w.meta.generation = 1;
	wl_str_set(&w.spec.git_repo, "https://github.com/user/repo.git");
	CHECK(wl_store_write_spec(&store, &w) == 0);
	wl_worklet_release(&w);
}

struct cond_in {
	const char *type, *status, *reason, *message;
};

/* Write a status as the controller does: whole file, atomically. */
static void put_status(const char *id, enum wl_phase phase,
		       const struct cond_in *conds, size_t n)
{
	struct wl_worklet w;

	wl_worklet_init(&w);
	wl_str_set(&w.meta.id, id);
	w.meta.generation = 1;
	w.status.phase = phase;
	w.status.observed_generation = 1;
	for (size_t i = 0; i < n; i++)
		wl_status_set_condition(&w.status, conds[i].type,
					conds[i].status, conds[i].reason,
					conds[i].message, wl_time_now_ms());
	CHECK(wl_store_write_status(&store, &w) == 0);
	wl_worklet_release(&w);
}

/*
 * Wait up to timeout_ms for the next event after *after for user; parse
 * it. Returns NULL on timeout.
 */
static cJSON *wait_event(struct wl_events *e, uint64_t *after, const char *user,
			 int logs, int timeout_ms)
{
	int64_t end = wl_time_mono_ms() + timeout_ms;
	struct wl_event ev;

	for (;;) {
		int r = wl_events_next(e, *after, user, NULL, logs, &ev);

		if (r == 1) {
			cJSON *doc = cJSON_Parse(ev.json);

			*after = ev.id;
			if (!doc)
				fprintf(stderr, "bad event JSON: %s\n",
					ev.json);
			free(ev.json);
			return doc;
		}
		if (r < 0 || wl_time_mono_ms() > end)
			return NULL;
		sleep_ms(10);
	}
}

/*
 * One expected event: type, worklet, then (by type) phase + previous,
 * condition type + status + reason, or log line.
 */
struct expect {
	const char *type, *worklet, *a, *b, *c;
};

static void expect_events(struct wl_events *e, uint64_t *after,
			  const char *user, const struct expect *x, size_t n,
			  int logs)
{
	for (size_t i = 0; i < n; i++) {
		cJSON *doc = wait_event(e, after, user, logs, 5000);
		const cJSON *prev, *cond;

		CHECK(doc != NULL);
		if (!doc) {
			fprintf(stderr, "missing event %zu (%s)\n", i,
				x[i].type);
			return;
		}
		CHECK_STR(str_field(doc, "type"), x[i].type);
		CHECK_STR(str_field(doc, "worklet_id"), x[i].worklet);
		if (!strcmp(x[i].type, "phase")) {
			CHECK_STR(str_field(doc, "phase"), x[i].a);
			prev = cJSON_GetObjectItem(doc, "previous");
			if (x[i].b)
				CHECK_STR(str_field(doc, "previous"), x[i].b);
			else
				CHECK(cJSON_IsNull(prev));
		} else if (!strcmp(x[i].type, "condition")) {
			cond = cJSON_GetObjectItem(doc, "condition");
			CHECK_STR(str_field(cond, "type"), x[i].a);
			CHECK_STR(str_field(cond, "status"), x[i].b);
			CHECK_STR(str_field(cond, "reason"), x[i].c);
		} else if (!strcmp(x[i].type, "log")) {
			CHECK_STR(str_field(doc, "stream"), "build");
			CHECK_STR(str_field(doc, "line"), x[i].a);
		}
		cJSON_Delete(doc);
	}
}

/* Nothing more arrives for user within ms. */
static void expect_quiet(struct wl_events *e, uint64_t after, const char *user,
			 int logs, int ms)
{
	cJSON *doc = wait_event(e, &after, user, logs, ms);

	CHECK(doc == NULL);
	if (doc) {
		char *s = cJSON_PrintUnformatted(doc);

		fprintf(stderr, "unexpected event: %s\n", s);
		free(s);
		cJSON_Delete(doc);
	}
}

static void test_watch_status(void)
{
	static const struct cond_in spec_ok[] = {
		{ "SpecValid", "True", "Valid", "spec is valid" },
	};
	static const struct cond_in cloned[] = {
		{ "SpecValid", "True", "Valid", "spec is valid" },
		{ "Cloned", "True", "Cloned", "at abc123" },
	};
	static const struct cond_in cloned2[] = {
		{ "SpecValid", "True", "Valid", "spec is valid" },
		{ "Cloned", "True", "Cloned", "at def456" },
	};
	static const struct cond_in failed[] = {
		{ "SpecValid", "True", "Valid", "spec is valid" },
		{ "Cloned", "True", "Cloned", "at def456" },
		{ "Built", "False", "BuildFailed", "npm \"install\" failed" },
	};
	static const struct expect baseline[] = {
		{ "phase", "old", "running", NULL, NULL },
	};
	static const struct expect steps[] = {
		{ "phase", "w1", "creating", NULL, NULL },
		{ "condition", "w1", "SpecValid", "True", "Valid" },
		{ "phase", "w1", "building", "creating", NULL },
		{ "condition", "w1", "Cloned", "True", "Cloned" },
		{ "condition", "w1", "Cloned", "True", "Cloned" },
		{ "phase", "w1", "error", "building", NULL },
		{ "condition", "w1", "Built", "False", "BuildFailed" },
		{ "deleted", "w1", NULL, NULL, NULL },
		{ "deleted", "old", NULL, NULL, NULL },
	};
	struct wl_events *e = NULL;
	uint64_t after = 0;

	state_setup();
	/* Already there at startup: its phase is announced, conditions not. */
	put_spec("old", "alice");
	put_status("old", WL_PHASE_RUNNING, cloned, 2);
	/* A status without a readable spec has no owner: nothing published. */
	put_status("orphan", WL_PHASE_RUNNING, NULL, 0);

	CHECK(wl_events_new(&e, 1024) == 0);
	if (!e)
		goto done;
	CHECK(wl_events_watch_start(e, root) == 0);
	expect_events(e, &after, "alice", baseline, 1, 0);

	put_spec("w1", "alice");
	put_spec("b1", "bob");
	put_status("w1", WL_PHASE_CREATING, spec_ok, 1);
	sleep_ms(50);
	put_status("w1", WL_PHASE_BUILDING, cloned, 2);
	sleep_ms(50);
	put_status("w1", WL_PHASE_BUILDING, cloned, 2); /* no change */
	sleep_ms(50);
	put_status("w1", WL_PHASE_BUILDING, cloned2, 2); /* message only */
	sleep_ms(50);
	put_status("w1", WL_PHASE_ERROR, failed, 3);
	sleep_ms(50);
	/* The controller removes the spec, then the status. */
	CHECK(wl_store_remove_spec(&store, "w1") == 0);
	sleep_ms(50);
	CHECK(wl_store_remove_status(&store, "w1") == 0);
	sleep_ms(50);
	/* A worklet removed at once: one "deleted", owner remembered. */
	CHECK(wl_store_remove_spec(&store, "old") == 0);
	CHECK(wl_store_remove_status(&store, "old") == 0);
	expect_events(e, &after, "alice", steps,
		      sizeof(steps) / sizeof(steps[0]), 1);
	expect_quiet(e, after, "alice", 1, 300);

	/* Bob saw only his own worklet: its spec, no status yet. */
	expect_quiet(e, 0, "bob", 1, 100);
	put_status("b1", WL_PHASE_CREATING, NULL, 0);
	{
		static const struct expect bob[] = {
			{ "phase", "b1", "creating", NULL, NULL },
		};
		uint64_t bob_after = 0;

		expect_events(e, &bob_after, "bob", bob, 1, 1);
	}
	wl_events_watch_stop(e);
	wl_events_free(e);
done:
	state_teardown();
}

/* Write bytes to the build log, appending or truncating like a new build. */
static void put_log(const char *id, const char *data, size_t len, int trunc)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/logs/%s", root, id);
	wl_fs_mkdir_p(path, 0700);
	snprintf(path, sizeof(path), "%s/logs/%s/build.log", root, id);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (trunc ? O_TRUNC : 0),
		  0600);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	lseek(fd, 0, SEEK_END);
	CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

static void test_watch_build_log(void)
{
	static const struct expect first[] = {
		{ "log", "w1", "Step 1/3 : FROM node", NULL, NULL },
		{ "log", "w1", "quote \" and \\ and \x01 tab\t", NULL, NULL },
		{ "log", "w1", "partial line", NULL, NULL },
		{ "log", "w1", "bad \xef\xbf\xbd byte \xc3\xa9", NULL, NULL },
		{ "log", "w1", "new build", NULL, NULL },
		{ "log", "w1", "second build, longer than the first one was",
		  NULL, NULL },
	};
	static const char *const chunks[] = {
		"Step 1/3 : FROM node\r\n",
		"quote \" and \\ and \x01 tab\t\n",
		"partial",
		" line\nbad \xff byte \xc3\xa9\n",
	};
	struct wl_events *e = NULL;
	uint64_t after = 0;
	char *big = NULL;
	cJSON *doc;

	state_setup();
	put_spec("w1", "alice");
	/* An old log at startup is not replayed. */
	put_log("w1", "old line\n", 9, 1);
	CHECK(wl_events_new(&e, 4096) == 0);
	if (!e)
		goto done;
	CHECK(wl_events_watch_start(e, root) == 0);
	expect_quiet(e, after, "alice", 1, 400);

	put_log("w1", "", 0, 1); /* a new build truncates */
	sleep_ms(300);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		put_log("w1", chunks[i], strlen(chunks[i]), 0);
		sleep_ms(250);
	}
	expect_events(e, &after, "alice", first, 4, 1);
	/* Log lines go only to clients that ask. */
	expect_quiet(e, 0, "alice", 0, 10);

	/* Truncated and rewritten past the old size between two polls. */
	put_log("w1", "new build\n", 10, 1);
	sleep_ms(300);
	put_log("w1",
		"second build, longer than the first one was\n"
		"and more\n",
		53, 1);
	expect_events(e, &after, "alice", first + 4, 1, 1);
	doc = wait_event(e, &after, "alice", 1, 2000);
	CHECK(doc != NULL);
	/* Either the truncation was seen, or the rewrite was noticed. */
	CHECK_STR(str_field(doc, "line"), first[5].a);
	cJSON_Delete(doc);
	doc = wait_event(e, &after, "alice", 1, 2000);
	CHECK_STR(str_field(doc, "line"), "and more");
	cJSON_Delete(doc);

	/* A line over 4 KiB is cut, and the rest of it skipped. */
	big = malloc(10000);
	memset(big, 'x', 10000);
	big[9998] = '\n';
	big[9999] = 'y';
	sleep_ms(1100); /* a fresh rate window */
	put_log("w1", big, 10000, 0);
	put_log("w1", "\n", 1, 0);
	doc = wait_event(e, &after, "alice", 1, 2000);
	CHECK(doc && str_field(doc, "line") &&
	      strlen(str_field(doc, "line")) == 4096);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(doc, "truncated")));
	cJSON_Delete(doc);
	doc = wait_event(e, &after, "alice", 1, 2000);
	CHECK_STR(str_field(doc, "line"), "y");
	cJSON_Delete(doc);

	/* A noisy build: 100 lines a second get through, the rest counted. */
	{
		struct wl_buf lots;
		size_t lines = 0;
		uint64_t skipped = 0;

		wl_buf_init(&lots, 1 << 20);
		for (int i = 0; i < 500; i++)
			wl_buf_printf(&lots, "noise %d\n", i);
		sleep_ms(1100);
		put_log("w1", wl_buf_cstr(&lots), lots.len, 0);
		while ((doc = wait_event(e, &after, "alice", 1, 2500))) {
			const cJSON *sk = cJSON_GetObjectItem(doc, "skipped");

			if (cJSON_IsNumber(sk))
				skipped += (uint64_t)sk->valuedouble;
			else
				lines++;
			cJSON_Delete(doc);
			if (lines + skipped >= 500)
				break;
		}
		CHECK(lines == 100);
		CHECK(skipped == 400);
		wl_buf_release(&lots);
	}
	wl_events_watch_stop(e);
	wl_events_free(e);
done:
	free(big);
	state_teardown();
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_publish_filter),	  UNIT(test_history_overflow),
		UNIT(test_concurrent_publishers), UNIT(test_watch_status),
		UNIT(test_watch_build_log),	  { 0 },
	};

	return wl_unit_run(tests);
}
