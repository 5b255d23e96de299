/* Unit tests of specs/worklet.c: enums, string maps, conditions, copies. */
#include "tests/unit/unit.h"

#include "specs/core/error.h"
#include "specs/worklet.h"
#include "specs/core/banned.h"

static void test_enum_names(void)
{
	static const struct {
		int kind; /* 0 phase, 1 run state, 2 project type */
		int value;
		const char *name;
	} cases[] = {
		{ 0, WL_PHASE_NONE, "" },
		{ 0, WL_PHASE_CREATING, "creating" },
		{ 0, WL_PHASE_BUILDING, "building" },
		{ 0, WL_PHASE_DEPLOYING, "deploying" },
		{ 0, WL_PHASE_RUNNING, "running" },
		{ 0, WL_PHASE_STOPPED, "stopped" },
		{ 0, WL_PHASE_ERROR, "error" },
		{ 1, WL_RUN_RUNNING, "running" },
		{ 1, WL_RUN_STOPPED, "stopped" },
		{ 2, WL_PROJECT_AUTO, "auto" },
		{ 2, WL_PROJECT_DOCKERFILE, "dockerfile" },
		{ 2, WL_PROJECT_NODE, "node" },
		{ 2, WL_PROJECT_PYTHON, "python" },
		{ 2, WL_PROJECT_GO, "go" },
		{ 2, WL_PROJECT_STATIC, "static" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name;
		int parsed;

		switch (cases[i].kind) {
		case 0:
			name = wl_phase_name((enum wl_phase)cases[i].value);
			parsed = wl_phase_parse(cases[i].name);
			break;
		case 1:
			name = wl_run_state_name(
				(enum wl_run_state)cases[i].value);
			parsed = wl_run_state_parse(cases[i].name);
			break;
		default:
			name = wl_project_type_name(
				(enum wl_project_type)cases[i].value);
			parsed = wl_project_type_parse(cases[i].name);
			break;
		}
		CHECK_STR(name, cases[i].name);
		CHECK(parsed == cases[i].value);
	}
}

static void test_enum_unknown(void)
{
	static const char *const bad[] = { "Running", "RUNNING",  "run",
					   "unknown", " running", "nodejs",
					   "Docker" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(wl_phase_parse(bad[i]) == -1);
		CHECK(wl_run_state_parse(bad[i]) == -1);
		CHECK(wl_project_type_parse(bad[i]) == -1);
	}
	CHECK(wl_phase_parse(NULL) == -1);
	CHECK(wl_run_state_parse("") == -1);
	CHECK(wl_project_type_parse("") == -1);
	/* Out-of-range values name nothing rather than read past a table. */
	CHECK_STR(wl_phase_name((enum wl_phase)99), "");
	CHECK_STR(wl_run_state_name((enum wl_run_state)7), "");
	CHECK_STR(wl_project_type_name((enum wl_project_type)42), "");
}

static void test_spec_branch(void)
{
	static const struct {
		const char *branch, *want;
	} cases[] = {
		{ NULL, "main" },
		{ "", "main" },
		{ "dev", "dev" },
		{ "feature/x", "feature/x" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_spec s = { 0 };

		s.branch = (char *)cases[i].branch;
		CHECK_STR(wl_spec_branch(&s), cases[i].want);
	}
}

static void test_str_set(void)
{
	char *s = NULL;

	CHECK(wl_str_set(&s, "abc") == 0);
	CHECK_STR(s, "abc");
	/* Setting a string from itself must not read freed memory. */
	CHECK(wl_str_set(&s, s) == 0);
	CHECK_STR(s, "abc");
	CHECK(wl_str_set(&s, s + 1) == 0);
	CHECK_STR(s, "bc");
	CHECK(wl_str_set(&s, NULL) == 0);
	CHECK(s == NULL);
}

static void test_kvlist(void)
{
	static const struct {
		const char *key, *value; /* value NULL: expect "" */
		size_t count_after;
	} steps[] = {
		{ "A", "1", 1 },  { "B", "2", 2 },     { "A", "3", 2 },
		{ "C", NULL, 3 }, { "a", "lower", 4 }, { "B", "", 4 },
	};
	struct wl_kvlist l = { 0 }, copy = { 0 };

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		CHECK(wl_kvlist_set(&l, steps[i].key, steps[i].value) == 0);
		CHECK(l.count == steps[i].count_after);
		CHECK_STR(wl_kvlist_get(&l, steps[i].key),
			  steps[i].value ? steps[i].value : "");
	}
	/* Insertion order is kept; replacing keeps the position. */
	CHECK_STR(l.items[0].key, "A");
	CHECK_STR(l.items[0].value, "3");
	CHECK_STR(l.items[3].key, "a");
	CHECK(wl_kvlist_get(&l, "missing") == NULL);

	CHECK(wl_kvlist_set(&copy, "old", "x") == 0);
	CHECK(wl_kvlist_copy(&copy, &l) == 0);
	CHECK(copy.count == l.count);
	CHECK(wl_kvlist_get(&copy, "old") == NULL);
	for (size_t i = 0; i < l.count; i++) {
		CHECK_STR(copy.items[i].key, l.items[i].key);
		CHECK_STR(copy.items[i].value, l.items[i].value);
		CHECK(copy.items[i].value != l.items[i].value);
	}
	wl_kvlist_release(&l);
	CHECK(l.count == 0 && l.items == NULL);
	CHECK_STR(wl_kvlist_get(&copy, "A"), "3");
	wl_kvlist_release(&copy);
}

static void test_conditions(void)
{
	/* Each step sets one condition; the transition time moves only when
	 * the status string changes. */
	static const struct {
		const char *type, *status, *reason, *message;
		int64_t now, want_transition;
		size_t want_count;
	} steps[] = {
		{ "Ready", "False", "Building", "building image", 1000, 1000,
		  1 },
		{ "Ready", "False", "Deploying", NULL, 2000, 1000, 1 },
		{ "Built", "True", "BuildSucceeded", "ok", 2500, 2500, 2 },
		{ "Ready", "True", "Running", "serving", 3000, 3000, 2 },
		{ "Ready", "True", "Running", "still serving", 4000, 3000, 2 },
		{ "Ready", "Unknown", "ProbeTimeout", "no answer", 5000, 5000,
		  2 },
		{ "Built", "True", "BuildSucceeded", "again", 6000, 2500, 2 },
	};
	struct wl_status s = { 0 };

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const struct wl_condition *c;

		CHECK(wl_status_set_condition(&s, steps[i].type,
					      steps[i].status, steps[i].reason,
					      steps[i].message,
					      steps[i].now) == 0);
		CHECK(s.condition_count == steps[i].want_count);
		c = wl_status_condition(&s, steps[i].type);
		CHECK(c != NULL);
		if (!c)
			continue;
		CHECK_STR(c->status, steps[i].status);
		CHECK_STR(c->reason, steps[i].reason);
		if (steps[i].message)
			CHECK_STR(c->message, steps[i].message);
		else
			CHECK(c->message == NULL);
		CHECK(c->last_transition_ms == steps[i].want_transition);
	}
	CHECK(wl_status_condition(&s, "Cloned") == NULL);
	wl_status_release(&s);
	CHECK(s.condition_count == 0 && s.conditions == NULL);
}

static void test_conditions_limit(void)
{
	struct wl_status s = { 0 };
	char type[16];

	for (int i = 0; i < WL_CONDITIONS_MAX; i++) {
		snprintf(type, sizeof(type), "C%d", i);
		CHECK(wl_status_set_condition(&s, type, "True", "R", NULL, 1) ==
		      0);
	}
	/* The codecs refuse more, so the setter does too... */
	CHECK(wl_status_set_condition(&s, "OneTooMany", "True", "R", NULL, 1) ==
	      WL_ETOOBIG);
	CHECK_CONTAINS(wl_error_last(), "OneTooMany");
	CHECK(s.condition_count == WL_CONDITIONS_MAX);
	/* ...but updating an existing one still works. */
	CHECK(wl_status_set_condition(&s, "C3", "False", "R", "m", 2) == 0);
	wl_status_release(&s);
}

static void fill(struct wl_worklet *w)
{
	wl_worklet_init(w);
	wl_str_set(&w->meta.id, "demo");
	wl_str_set(&w->meta.name, "Demo");
	wl_str_set(&w->meta.user_id, "user123");
	w->meta.generation = 4;
	w->meta.created_ms = 1000;
	w->meta.updated_ms = 2000;
	w->meta.deletion_ms = 3000;
	wl_kvlist_set(&w->meta.labels, "team", "web");
	wl_str_set(&w->spec.description, "d");
	wl_str_set(&w->spec.git_repo, "https://github.com/u/r.git");
	wl_str_set(&w->spec.branch, "dev");
	wl_str_set(&w->spec.base_prompt, "p");
	wl_kvlist_set(&w->spec.env, "PORT", "3000");
	w->spec.run_state = WL_RUN_STOPPED;
	w->spec.project_type = WL_PROJECT_NODE;
	wl_str_set(&w->spec.dockerfile, "Dockerfile");
	wl_str_set(&w->spec.start_command, "npm start");
	wl_str_set(&w->spec.runtime_version, ">=20");
	w->spec.container_port = 3000;
	w->spec.resources.memory_bytes = 1 << 29;
	w->spec.resources.nano_cpus = 500000000;
	w->spec.resources.pids = 256;
	w->spec.restarted_ms = 5000;
	w->status.phase = WL_PHASE_RUNNING;
	w->status.observed_generation = 4;
	wl_status_set_condition(&w->status, "Ready", "True", "Up", "m", 6000);
	wl_str_set(&w->status.web_url, "http://demo.localhost/");
	w->status.port = 40001;
	wl_str_set(&w->status.container_id, "c");
	wl_str_set(&w->status.image_id, "i");
	wl_str_set(&w->status.session_id, "s");
	wl_str_set(&w->status.last_prompt, "lp");
	wl_str_set(&w->status.last_error, "le");
	wl_str_set(&w->status.build_logs, "/logs/build.log");
	wl_str_set(&w->status.commit, "abc");
	w->status.detection.type = WL_PROJECT_NODE;
	wl_str_set(&w->status.detection.framework, "next");
	wl_str_set(&w->status.detection.start_command, "npm start");
	w->status.detection.port = 3000;
	w->status.detection.evidence = calloc(2, sizeof(char *));
	wl_str_set(&w->status.detection.evidence[0], "package.json");
	wl_str_set(&w->status.detection.evidence[1], "next.config.js");
	w->status.detection.evidence_count = 2;
	w->status.restart_count = 2;
	w->status.last_exit_code = 137;
	w->status.last_finished_ms = 7000;
	w->status.next_restart_ms = 8000;
	w->status.deploy_started_ms = 9000;
	wl_str_set(&w->status.failed_build, "fb");
	w->status.updated_ms = 10000;
}

static void test_copy(void)
{
	struct wl_worklet a, b;

	fill(&a);
	wl_worklet_init(&b);
	/* Copies replace what dst held (no leak under ASan/valgrind). */
	wl_str_set(&b.meta.name, "old");
	wl_kvlist_set(&b.spec.env, "OLD", "1");
	wl_status_set_condition(&b.status, "Old", "True", "R", NULL, 1);
	CHECK(wl_metadata_copy(&b.meta, &a.meta) == 0);
	CHECK(wl_spec_copy(&b.spec, &a.spec) == 0);
	CHECK(wl_status_copy(&b.status, &a.status) == 0);
	/* Free the source first: the copy must not share any memory. */
	wl_worklet_release(&a);

	CHECK_STR(b.meta.id, "demo");
	CHECK_STR(b.meta.name, "Demo");
	CHECK_STR(b.meta.user_id, "user123");
	CHECK(b.meta.generation == 4 && b.meta.created_ms == 1000 &&
	      b.meta.updated_ms == 2000 && b.meta.deletion_ms == 3000);
	CHECK_STR(wl_kvlist_get(&b.meta.labels, "team"), "web");
	CHECK_STR(b.spec.git_repo, "https://github.com/u/r.git");
	CHECK_STR(b.spec.branch, "dev");
	CHECK(b.spec.env.count == 1);
	CHECK_STR(wl_kvlist_get(&b.spec.env, "PORT"), "3000");
	CHECK(b.spec.run_state == WL_RUN_STOPPED);
	CHECK(b.spec.project_type == WL_PROJECT_NODE);
	CHECK_STR(b.spec.dockerfile, "Dockerfile");
	CHECK_STR(b.spec.start_command, "npm start");
	CHECK_STR(b.spec.runtime_version, ">=20");
	CHECK(b.spec.container_port == 3000);
	CHECK(b.spec.resources.memory_bytes == 1 << 29);
	CHECK(b.spec.resources.nano_cpus == 500000000);
	CHECK(b.spec.resources.pids == 256);
	CHECK(b.spec.restarted_ms == 5000);
	CHECK(b.status.phase == WL_PHASE_RUNNING);
	CHECK(b.status.condition_count == 1);
	CHECK(wl_status_condition(&b.status, "Old") == NULL);
	CHECK_STR(wl_status_condition(&b.status, "Ready")->message, "m");
	CHECK_STR(b.status.web_url, "http://demo.localhost/");
	CHECK(b.status.port == 40001);
	CHECK_STR(b.status.commit, "abc");
	CHECK_STR(b.status.failed_build, "fb");
	CHECK(b.status.detection.evidence_count == 2);
	CHECK_STR(b.status.detection.evidence[1], "next.config.js");
	CHECK_STR(b.status.detection.framework, "next");
	CHECK(b.status.restart_count == 2 && b.status.last_exit_code == 137);
	CHECK(b.status.last_finished_ms == 7000 &&
	      b.status.next_restart_ms == 8000 &&
	      b.status.deploy_started_ms == 9000 &&
	      b.status.updated_ms == 10000);
	wl_worklet_release(&b);
	CHECK(b.meta.id == NULL && b.spec.env.count == 0 &&
	      b.status.detection.evidence == NULL);
	/* Releasing twice is harmless: release leaves the struct empty. */
	wl_worklet_release(&b);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_enum_names),
		UNIT(test_enum_unknown),
		UNIT(test_spec_branch),
		UNIT(test_str_set),
		UNIT(test_kvlist),
		UNIT(test_conditions),
		UNIT(test_conditions_limit),
		UNIT(test_copy),
		{ 0 },
	};

	return wl_unit_run(tests);
}
