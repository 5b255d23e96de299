/*
 * Unit tests of the YAML and JSON codecs (specs/codec_*.c): exact round
 * trips, safe output for hostile strings, the quantity formats, and a
 * table of invalid documents with the message a user would see.
 */
#include "tests/unit/unit.h"

#include <dirent.h>
#include <stdint.h>

#include "specs/codec.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

#define MAX_OUT (4 * WL_SPEC_FILE_MAX)

static const char prompt[] =
	"Convert this into a \"modern\" React app: use Tailwind.\n"
	"  - keep the 'header'\n"
	"key: value # not a comment\n"
	"Ünïcödé ✓ 日本語\n"
	"\n"
	"last line without newline";

static void fill(struct wl_worklet *w)
{
	wl_worklet_init(w);
	wl_str_set(&w->meta.id, "my-app");
	wl_str_set(&w->meta.name, "My App: \"Prototype\"");
	wl_str_set(&w->meta.user_id, "user123");
	w->meta.generation = 7;
	w->meta.created_ms = INT64_C(1795549200000);
	w->meta.updated_ms = INT64_C(1795549200123); /* with milliseconds */
	wl_kvlist_set(&w->meta.labels, "team", "web");
	wl_kvlist_set(&w->meta.labels, "app.kubernetes.io/name", "yes");
	w->meta.deletion_ms = INT64_C(1795549260000);
	wl_str_set(&w->spec.description, "A description\nover two lines");
	wl_str_set(&w->spec.git_repo, "https://github.com/user/repo.git");
	wl_str_set(&w->spec.branch, "feature/dark-mode");
	wl_str_set(&w->spec.base_prompt, prompt);
	wl_kvlist_set(&w->spec.env, "PORT", "3000");
	wl_kvlist_set(&w->spec.env, "DEBUG", "true");
	wl_kvlist_set(&w->spec.env, "EMPTY", "");
	wl_kvlist_set(&w->spec.env, "JSON", "{\"a\": [1, 2]}");
	wl_kvlist_set(&w->spec.env, "NULLISH", "null");
	w->spec.run_state = WL_RUN_STOPPED;
	w->spec.project_type = WL_PROJECT_NODE;
	wl_str_set(&w->spec.dockerfile, "docker/Dockerfile.dev");
	wl_str_set(&w->spec.start_command, "npm run start -- --port 3000");
	w->spec.container_port = 3000;
	wl_str_set(&w->spec.runtime_version, "^20.19.0 || >=22.12.0");
	wl_str_set(&w->spec.path, "apps/web");
	w->spec.resources.memory_bytes = INT64_C(536870912);
	w->spec.resources.nano_cpus = INT64_C(1500000000);
	w->spec.resources.pids = 256;
	w->spec.restarted_ms = INT64_C(1795549300000);
	wl_str_set(&w->spec.pull_request.title, "Dark mode");
	wl_str_set(&w->spec.pull_request.description, "line one\nline two");
	wl_str_set(&w->spec.pull_request.branch, "worklet/x");
	wl_str_set(&w->spec.pull_request.base, "main");
	w->spec.pull_request.requested_ms = INT64_C(1795549400000);
	w->status.phase = WL_PHASE_RUNNING;
	w->status.observed_generation = 7;
	wl_status_set_condition(&w->status, "Built", "True", "BuildSucceeded",
				"image built", INT64_C(1795549201000));
	wl_status_set_condition(&w->status, "Ready", "False", "ProbeFailed",
				"GET / returned 502: bad gateway",
				INT64_C(1795549202500));
	wl_str_set(&w->status.web_url, "http://my-app.localhost:8080/");
	w->status.port = 40123;
	wl_str_set(&w->status.container_id, "0123456789abcdef");
	wl_str_set(&w->status.image_id, "sha256:feedbeef");
	wl_str_set(&w->status.session_id,
		   "6f1c2a3b-0000-4000-8000-1234567890ab");
	wl_str_set(&w->status.last_prompt, "Add a dark mode toggle 🌙");
	wl_str_set(&w->status.last_error, "build failed:\n\tnpm ERR! code 1\n");
	wl_str_set(&w->status.build_logs,
		   "/var/lib/worklet/logs/my-app/build.log");
	wl_str_set(&w->status.commit, "0a1b2c3d4e5f");
	w->status.detection.type = WL_PROJECT_NODE;
	wl_str_set(&w->status.detection.framework, "next");
	wl_str_set(&w->status.detection.start_command, "npm start");
	w->status.detection.port = 3000;
	w->status.detection.evidence = calloc(3, sizeof(char *));
	wl_str_set(&w->status.detection.evidence[0],
		   "package.json has scripts.start");
	wl_str_set(&w->status.detection.evidence[1], "next.config.js: found");
	wl_str_set(&w->status.detection.evidence[2], "- dash first");
	w->status.detection.evidence_count = 3;
	w->status.restart_count = 3;
	w->status.last_exit_code = -1;
	w->status.last_finished_ms = INT64_C(1795549203000);
	w->status.next_restart_ms = INT64_C(1795549213000);
	w->status.deploy_started_ms = INT64_C(1795549202000);
	wl_str_set(&w->status.failed_build, "gen7-0a1b2c3d");
	wl_str_set(&w->status.failed_run, "0a1b2c3d4e5f");
	w->status.pull_request.handled_ms = INT64_C(1795549400000);
	w->status.pull_request.number = 7;
	wl_str_set(&w->status.pull_request.url,
		   "https://github.com/u/r/pull/7");
	wl_str_set(&w->status.pull_request.branch, "worklet/x");
	wl_str_set(&w->status.pull_request.base, "main");
	wl_str_set(&w->status.pull_request.commit, "abc123");
	w->status.pull_request.created = 1;
	wl_str_set(&w->status.pull_request.error_code, "none");
	wl_str_set(&w->status.serving_commit, "c0ffee");
	wl_str_set(&w->status.active_prompt, "p1764000000000abcdef");
	w->status.queued_prompts = 3;
	w->status.updated_ms = INT64_C(1795549203001);
}

/* String equality where NULL only equals NULL. */
static int same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

static int same_kv(const struct wl_kvlist *a, const struct wl_kvlist *b)
{
	if (a->count != b->count)
		return 0;
	for (size_t i = 0; i < a->count; i++)
		if (!same(a->items[i].key, b->items[i].key) ||
		    !same(a->items[i].value, b->items[i].value))
			return 0;
	return 1;
}

static int same_meta(const struct wl_metadata *a, const struct wl_metadata *b)
{
	return same(a->id, b->id) && same(a->name, b->name) &&
	       same(a->user_id, b->user_id) && a->generation == b->generation &&
	       a->created_ms == b->created_ms &&
	       a->updated_ms == b->updated_ms &&
	       a->deletion_ms == b->deletion_ms &&
	       same_kv(&a->labels, &b->labels);
}

static int same_spec(const struct wl_spec *a, const struct wl_spec *b)
{
	return same(a->description, b->description) &&
	       same(a->git_repo, b->git_repo) && same(a->branch, b->branch) &&
	       same(a->base_prompt, b->base_prompt) &&
	       same_kv(&a->env, &b->env) && a->run_state == b->run_state &&
	       a->project_type == b->project_type &&
	       same(a->dockerfile, b->dockerfile) &&
	       same(a->start_command, b->start_command) &&
	       a->container_port == b->container_port &&
	       same(a->runtime_version, b->runtime_version) &&
	       same(a->path, b->path) &&
	       a->resources.memory_bytes == b->resources.memory_bytes &&
	       a->resources.nano_cpus == b->resources.nano_cpus &&
	       a->resources.pids == b->resources.pids &&
	       a->restarted_ms == b->restarted_ms &&
	       same(a->pull_request.title, b->pull_request.title) &&
	       same(a->pull_request.description, b->pull_request.description) &&
	       same(a->pull_request.branch, b->pull_request.branch) &&
	       same(a->pull_request.base, b->pull_request.base) &&
	       a->pull_request.requested_ms == b->pull_request.requested_ms;
}

static int same_status(const struct wl_status *a, const struct wl_status *b)
{
	const struct wl_detection *da = &a->detection, *db = &b->detection;

	if (a->condition_count != b->condition_count ||
	    da->evidence_count != db->evidence_count)
		return 0;
	for (size_t i = 0; i < a->condition_count; i++) {
		const struct wl_condition *x = &a->conditions[i],
					  *y = &b->conditions[i];

		if (!same(x->type, y->type) || !same(x->status, y->status) ||
		    !same(x->reason, y->reason) ||
		    !same(x->message, y->message) ||
		    x->last_transition_ms != y->last_transition_ms)
			return 0;
	}
	for (size_t i = 0; i < da->evidence_count; i++)
		if (!same(da->evidence[i], db->evidence[i]))
			return 0;
	return a->phase == b->phase &&
	       a->observed_generation == b->observed_generation &&
	       same(a->web_url, b->web_url) && a->port == b->port &&
	       same(a->container_id, b->container_id) &&
	       same(a->image_id, b->image_id) &&
	       same(a->session_id, b->session_id) &&
	       same(a->last_prompt, b->last_prompt) &&
	       same(a->last_error, b->last_error) &&
	       same(a->build_logs, b->build_logs) &&
	       same(a->commit, b->commit) && da->type == db->type &&
	       same(da->framework, db->framework) &&
	       same(da->start_command, db->start_command) &&
	       da->port == db->port && a->restart_count == b->restart_count &&
	       a->last_exit_code == b->last_exit_code &&
	       a->last_finished_ms == b->last_finished_ms &&
	       a->next_restart_ms == b->next_restart_ms &&
	       a->deploy_started_ms == b->deploy_started_ms &&
	       same(a->failed_build, b->failed_build) &&
	       same(a->failed_run, b->failed_run) &&
	       same(a->serving_commit, b->serving_commit) &&
	       same(a->active_prompt, b->active_prompt) &&
	       a->queued_prompts == b->queued_prompts &&
	       a->pull_request.handled_ms == b->pull_request.handled_ms &&
	       a->pull_request.number == b->pull_request.number &&
	       same(a->pull_request.url, b->pull_request.url) &&
	       same(a->pull_request.branch, b->pull_request.branch) &&
	       same(a->pull_request.base, b->pull_request.base) &&
	       same(a->pull_request.commit, b->pull_request.commit) &&
	       a->pull_request.created == b->pull_request.created &&
	       same(a->pull_request.error_code, b->pull_request.error_code) &&
	       a->updated_ms == b->updated_ms;
}

static int is_empty(const struct wl_worklet *w)
{
	struct wl_worklet empty;

	wl_worklet_init(&empty);
	return same_meta(&w->meta, &empty.meta) &&
	       same_spec(&w->spec, &empty.spec) &&
	       same_status(&w->status, &empty.status);
}

enum doc { SPEC, STATUS, FULL, JSON_SPEC, JSON_FULL };

typedef int (*encode_fn)(struct wl_buf *, const struct wl_worklet *);
typedef int (*decode_fn)(struct wl_worklet *, const char *, size_t);

static const struct {
	const char *name;
	encode_fn encode;
	decode_fn decode;
	int meta, spec, status; /* which parts survive the trip */
} formats[] = {
	[SPEC] = { "yaml spec", wl_yaml_encode_spec, wl_yaml_decode_spec, 2, 1,
		   0 },
	[STATUS] = { "yaml status", wl_yaml_encode_status,
		     wl_yaml_decode_status, 1, 0, 1 },
	[FULL] = { "yaml full", wl_yaml_encode_full, wl_yaml_decode_full, 2, 1,
		   1 },
	[JSON_SPEC] = { "json spec", wl_json_encode_full, wl_json_decode_spec,
			2, 1, 0 },
	[JSON_FULL] = { "json full", wl_json_encode_full, wl_json_decode_full,
			2, 1, 1 },
};

/* Encode, decode, compare; encode again and expect the same bytes. */
static int round_trip(const struct wl_worklet *w, enum doc d, const char *what)
{
	struct wl_buf a, b;
	struct wl_worklet back;
	int ok = 1, error;

	wl_buf_init(&a, MAX_OUT);
	wl_buf_init(&b, MAX_OUT);
	error = formats[d].encode(&a, w);
	if (error) {
		fprintf(stderr, "%s %s: encode: %s\n", formats[d].name, what,
			wl_error_last());
		ok = 0;
		goto done;
	}
	error = formats[d].decode(&back, a.ptr, a.len);
	if (error) {
		fprintf(stderr, "%s %s: decode: %s\n%s\n", formats[d].name,
			what, wl_error_last(), wl_buf_cstr(&a));
		ok = 0;
		goto done;
	}
	if (formats[d].meta == 2)
		ok &= same_meta(&w->meta, &back.meta);
	else
		ok &= same(w->meta.id, back.meta.id) &&
		      w->meta.generation == back.meta.generation &&
		      back.meta.name == NULL;
	ok &= formats[d].spec ? same_spec(&w->spec, &back.spec)
			      : back.spec.git_repo == NULL;
	ok &= formats[d].status ? same_status(&w->status, &back.status)
				: back.status.phase == WL_PHASE_NONE;
	/* Same bytes again, where decode keeps all that encode wrote. */
	if (d != JSON_SPEC && (formats[d].encode(&b, &back) || a.len != b.len ||
			       memcmp(a.ptr, b.ptr, a.len)))
		ok = 0;
	if (!ok)
		fprintf(stderr, "%s %s: round trip differs:\n%s\n",
			formats[d].name, what, wl_buf_cstr(&a));
	wl_worklet_release(&back);
done:
	wl_buf_release(&a);
	wl_buf_release(&b);
	return ok;
}

static void test_round_trip_full(void)
{
	struct wl_worklet w, empty;

	fill(&w);
	wl_worklet_init(&empty);
	for (size_t d = 0; d < sizeof(formats) / sizeof(formats[0]); d++) {
		CHECK(round_trip(&w, (enum doc)d, "populated"));
		/* An empty worklet has every field unset, all omitted. */
		if (d != SPEC && d != JSON_SPEC)
			CHECK(round_trip(&empty, (enum doc)d, "empty"));
	}
	wl_worklet_release(&w);
}

/* What a user reads in the file matters too: check the shape. */
static void test_yaml_shape(void)
{
	static const char *const want[] = {
		"apiVersion: worklet.dev/v1\nkind: Worklet\nmetadata:\n",
		"  id: my-app\n",
		"  createdAt: \"2026-11-24T",
		":00.123Z\"\n", /* updatedAt keeps its milliseconds */
		"  basePrompt: |-\n    Convert this into a \"modern\" React",
		"\n    Ünïcödé ✓ 日本語\n",
		"  description: |-\n    A description\n    over two lines\n",
		"    DEBUG: \"true\"\n",
		"    PORT: \"3000\"\n",
		"    memory: \"512Mi\"\n",
		"    cpus: 1.5\n",
		"  runState: stopped\n",
		"    status: \"True\"\n",
		"    - \"- dash first\"\n",
	};
	static const char *const absent[] = {
		"\t", "&", "*", "!!", "---", "creationTimestamp"
	};
	struct wl_worklet w;
	struct wl_buf b;

	fill(&w);
	wl_buf_init(&b, MAX_OUT);
	CHECK(wl_yaml_encode_full(&b, &w) == 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_CONTAINS(wl_buf_cstr(&b), want[i]);
	/* The tab inside lastError is escaped ("\t"), never raw. */
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		CHECK(!strstr(wl_buf_cstr(&b), absent[i]));
	wl_buf_release(&b);
	wl_worklet_release(&w);
}

/* Strings YAML could misread if written carelessly. */
static void test_round_trip_strings(void)
{
	static const char *const strings[] = {
		"",
		" ",
		"plain words",
		"yes",
		"No",
		"ON",
		"y",
		"~",
		"null",
		"NULL",
		"true",
		"123",
		"-1",
		"0x1F",
		"0o17",
		"010",
		"1e3",
		".inf",
		".NaN",
		"1_000",
		"2026-01-02",
		"2026-01-02T15:04:05Z",
		"12:30",
		"a: b",
		"a:b",
		"trailing:",
		"#comment",
		"a #b",
		"- item",
		"-",
		"? key",
		": x",
		"[1, 2]",
		"{a: b}",
		"&anchor",
		"*alias",
		"!tag",
		"!!str",
		"%YAML 1.2",
		"@at",
		"`tick`",
		"|",
		">",
		"'single'",
		"\"double\"",
		"back\\slash",
		" leading space",
		"trailing space ",
		"two  spaces",
		"tab\there",
		"line\nbreak",
		"\nleading newline",
		"trailing newline\n",
		"two trailing\n\n",
		"\n",
		"\n\n",
		"  indented\nfirst line",
		"space before break \nx",
		"crlf\r\nline",
		"cr only\r",
		"nel\xc2\x85x",
		"ls\xe2\x80\xa8x",
		"ps\xe2\x80\xa9x",
		"bom\xef\xbb\xbfx",
		"bell\a and esc\x1b[31m",
		"del\x7f",
		"Ünïcödé ✓ 日本語 🚀",
		"\xf4\x8f\xbf\xbf", /* U+10FFFF */
		"---",
		"...",
		"--- x",
		"a\n---\nb",
		"a\n...\nb",
		"key: |\n  nested block",
		"=",
		"<<",
		"very long " /* no folding at 80 columns */
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xx"
		" words words words words words words words words words words",
	};

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		struct wl_worklet w;
		char what[64];

		wl_worklet_init(&w);
		wl_str_set(&w.meta.id, "s");
		wl_str_set(&w.meta.name, strings[i]);
		wl_str_set(&w.spec.base_prompt, strings[i]);
		wl_kvlist_set(&w.spec.env, "V", strings[i]);
		if (strings[i][0])
			wl_kvlist_set(&w.meta.labels, strings[i], strings[i]);
		wl_str_set(&w.status.last_error, strings[i]);
		w.status.detection.evidence = calloc(1, sizeof(char *));
		wl_str_set(&w.status.detection.evidence[0], strings[i]);
		w.status.detection.evidence_count = 1;
		snprintf(what, sizeof(what), "string #%zu", i);
		CHECK(round_trip(&w, FULL, what));
		CHECK(round_trip(&w, JSON_FULL, what));
		wl_worklet_release(&w);
	}
}

/* Bytes that are not UTF-8 (build output) are written as U+FFFD. */
static void test_encode_invalid_utf8(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "ok\xff", "ok\xef\xbf\xbd" },
		{ "\xc3(", "\xef\xbf\xbd(" },
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int json = 0; json <= 1; json++) {
			struct wl_worklet w, back;
			struct wl_buf b;

			wl_worklet_init(&w);
			wl_buf_init(&b, MAX_OUT);
			wl_str_set(&w.status.last_error, cases[i].in);
			CHECK((json ? wl_json_encode_full(&b, &w)
				    : wl_yaml_encode_full(&b, &w)) == 0);
			CHECK((json ? wl_json_decode_full(&back, b.ptr, b.len)
				    : wl_yaml_decode_full(&back, b.ptr,
							  b.len)) == 0);
			CHECK_STR(back.status.last_error, cases[i].want);
			wl_worklet_release(&back);
			wl_worklet_release(&w);
			wl_buf_release(&b);
		}
	}
}

static const char head[] = "apiVersion: worklet.dev/v1\nkind: Worklet\n";

/* Decode head + body as a spec document. */
static int decode_spec(struct wl_worklet *w, const char *body)
{
	char doc[4096];

	snprintf(doc, sizeof(doc), "%s%s", head, body);
	return wl_yaml_decode_spec(w, doc, strlen(doc));
}

static void test_memory(void)
{
	static const struct {
		const char *text;
		int64_t bytes; /* -1: invalid */
	} cases[] = {
		{ "536870912", INT64_C(536870912) },
		{ "\"536870912\"", INT64_C(536870912) },
		{ "512Mi", INT64_C(536870912) },
		{ "1Gi", INT64_C(1073741824) },
		{ "1.5Gi", -1 }, /* fractions: wl_parse_size, like the config */
		{ "-1Gi", -1 },
		{ "-1", -1 },
		{ "256M", INT64_C(256000000) },
		{ "2G", INT64_C(2000000000) },
		{ "64k", 64000 },
		{ "64K", 64000 },
		{ "1Ti", INT64_C(1099511627776) },
		{ "512m", -1 }, /* milli-bytes or Docker's MiB? refused */
		{ "512 Mi", -1 },
		{ "Mi", -1 },
		{ "12XB", -1 },
		{ "lots", -1 },
		{ "[1]", -1 },
		{ "99999999999Ti", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_worklet w;
		char body[256];
		int error;

		snprintf(body, sizeof(body),
			 "spec:\n  resources:\n    memory: %s\n",
			 cases[i].text);
		error = decode_spec(&w, body);
		if (cases[i].bytes < 0) {
			CHECK(error == WL_EINVALID);
			CHECK_CONTAINS(wl_error_last(),
				       "spec.resources.memory: ");
			CHECK_CONTAINS(wl_error_last(), "(line 5)");
		} else {
			CHECK(error == 0);
			CHECK(w.spec.resources.memory_bytes == cases[i].bytes);
		}
		wl_worklet_release(&w);
	}
}

static void test_quantity_round_trip(void)
{
	static const int64_t bytes[] = {
		1,
		1000,
		1023,
		1024,
		1536,
		INT64_C(536870912),
		INT64_C(256000000),
		INT64_C(1610612736),
		INT64_C(1234567),
		INT64_C(1099511627776),
		INT64_MAX,
		(INT64_C(1) << 53) - 1,
		(INT64_C(1) << 53) + 1,
	};
	static const int64_t nanos[] = {
		1,
		10,
		INT64_C(500000000),
		INT64_C(1000000000),
		INT64_C(1500000000),
		INT64_C(1234567891),
		INT64_C(64000000000),
		INT64_C(250000000),
		INT64_C(1024000000000), /* the most wl_parse_cpus takes */
	};
	struct wl_worklet w;

	for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		wl_worklet_init(&w);
		w.spec.resources.memory_bytes = bytes[i];
		CHECK(round_trip(&w, FULL, "memory"));
		CHECK(round_trip(&w, JSON_FULL, "memory"));
	}
	for (size_t i = 0; i < sizeof(nanos) / sizeof(nanos[0]); i++) {
		wl_worklet_init(&w);
		w.spec.resources.nano_cpus = nanos[i];
		CHECK(round_trip(&w, FULL, "cpus"));
		CHECK(round_trip(&w, JSON_FULL, "cpus"));
	}
}

static void test_cpus(void)
{
	static const struct {
		const char *text;
		int64_t nano; /* -1: invalid */
	} cases[] = {
		{ "0.5", INT64_C(500000000) },
		{ "\"0.5\"", INT64_C(500000000) },
		{ "1", INT64_C(1000000000) },
		{ "2.25", INT64_C(2250000000) },
		{ "500m", INT64_C(500000000) },
		{ "\"250m\"", INT64_C(250000000) },
		{ ".5", INT64_C(500000000) },
		{ "0.000000001", 1 },
		{ "0.0000000001", -1 }, /* finer than a nano CPU */
		{ "1025", -1 },
		{ "-0.5", -1 },
		{ "half", -1 },
		{ "1.5.2", -1 },
		{ "1,5", -1 },
		{ "{}", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_worklet w;
		char body[256];
		int error;

		snprintf(body, sizeof(body),
			 "spec:\n  resources:\n    cpus: %s\n", cases[i].text);
		error = decode_spec(&w, body);
		if (cases[i].nano < 0) {
			CHECK(error == WL_EINVALID);
			CHECK_CONTAINS(wl_error_last(),
				       "spec.resources.cpus: ");
		} else {
			CHECK(error == 0);
			CHECK(w.spec.resources.nano_cpus == cases[i].nano);
		}
		wl_worklet_release(&w);
	}
}

static void test_decode_values(void)
{
	struct wl_worklet w;
	const char *doc;

	/* Env values a person writes without quotes stay their text. */
	CHECK(decode_spec(&w, "spec:\n  env:\n    PORT: 3000\n    DEBUG: "
			      "yes\n    EMPTY:\n    TILDE: ~\n") == 0);
	CHECK_STR(wl_kvlist_get(&w.spec.env, "PORT"), "3000");
	CHECK_STR(wl_kvlist_get(&w.spec.env, "DEBUG"), "yes");
	CHECK_STR(wl_kvlist_get(&w.spec.env, "EMPTY"), "");
	CHECK_STR(wl_kvlist_get(&w.spec.env, "TILDE"), "");
	wl_worklet_release(&w);

	/* null means unset; "" is an empty string. */
	CHECK(decode_spec(&w, "metadata:\n  name: ~\n  userId: \"\"\n"
			      "spec:\n  branch: null\n  description:\n") == 0);
	CHECK(w.meta.name == NULL && w.spec.branch == NULL &&
	      w.spec.description == NULL);
	CHECK_STR(w.meta.user_id, "");
	wl_worklet_release(&w);

	/* Flow style, comments and document markers are fine. */
	doc = "---\napiVersion: worklet.dev/v1\nkind: Worklet\n"
	      "metadata: {id: a, generation: 2} # c\n"
	      "spec: {gitRepo: 'https://x.dev/r', runState: stopped, "
	      "projectType: static}\n...\n";
	CHECK(wl_yaml_decode_spec(&w, doc, strlen(doc)) == 0);
	CHECK_STR(w.meta.id, "a");
	CHECK(w.meta.generation == 2);
	CHECK(w.spec.run_state == WL_RUN_STOPPED);
	CHECK(w.spec.project_type == WL_PROJECT_STATIC);
	wl_worklet_release(&w);

	/* A spec document accepts (and ignores) status, so that the output
	 * of `get -o yaml` can be applied again. */
	CHECK(decode_spec(&w, "spec: {}\nstatus:\n  phase: nonsense\n  "
			      "anything: [1, 2]\n") == 0);
	CHECK(w.status.phase == WL_PHASE_NONE);
	wl_worklet_release(&w);

	/* JSON numbers arrive as doubles: small ones written with an
	 * exponent still read exactly, integers up to 2^53 exactly. */
	doc = "{\"apiVersion\":\"worklet.dev/v1\",\"kind\":\"Worklet\","
	      "\"metadata\":{\"generation\":9007199254740991},"
	      "\"spec\":{\"resources\":{\"cpus\":1e-9,\"memory\":1024,"
	      "\"pids\":1E2}}}";
	CHECK(wl_json_decode_spec(&w, doc, strlen(doc)) == 0);
	CHECK(w.spec.resources.nano_cpus == 1);
	CHECK(w.spec.resources.memory_bytes == 1024);
	CHECK(w.spec.resources.pids == 100);
	CHECK(w.meta.generation == INT64_C(9007199254740991));
	wl_worklet_release(&w);

	/* Times with offsets and fractions are normalised to epoch ms. */
	CHECK(decode_spec(&w, "metadata:\n  createdAt: "
			      "2026-11-24T20:40:00.5+01:00\n") == 0);
	CHECK(w.meta.created_ms == INT64_C(1795549200500));
	wl_worklet_release(&w);
}

struct bad_case {
	enum doc doc;
	const char *input; /* NULL: built by the test */
	int code;
	const char *want;
};

static void test_invalid_documents(void)
{
	static const struct bad_case cases[] = {
		{ SPEC, "", WL_EINVALID, "document is empty" },
		{ SPEC, "# only a comment\n", WL_EINVALID,
		  "document is empty" },
		{ SPEC, "just a string\n", WL_EINVALID,
		  "document must be a map" },
		{ SPEC, "- a\n- b\n", WL_EINVALID, "document must be a map" },
		{ SPEC, "kind: Worklet\nspec: {}\n", WL_EINVALID,
		  "apiVersion: required" },
		{ SPEC, "apiVersion: v1\nkind: Worklet\n", WL_EINVALID,
		  "apiVersion: must be \"worklet.dev/v1\", not \"v1\" (line "
		  "1)" },
		{ SPEC, "apiVersion: [worklet.dev/v1]\nkind: Worklet\n",
		  WL_EINVALID, "apiVersion: must be \"worklet.dev/v1\"" },
		{ SPEC, "apiVersion: worklet.dev/v1\n", WL_EINVALID,
		  "kind: required (\"Worklet\")" },
		{ SPEC, "apiVersion: worklet.dev/v1\nkind: Pod\n", WL_EINVALID,
		  "kind: must be \"Worklet\", not \"Pod\" (line 2)" },
		{ SPEC, "apiVersion: worklet.dev/v1\nkind: WorkletStatus\n",
		  WL_EINVALID, "kind: must be \"Worklet\"" },
		{ STATUS, "apiVersion: worklet.dev/v1\nkind: Worklet\n",
		  WL_EINVALID,
		  "kind: must be \"WorkletStatus\", not \"Worklet\"" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n  "
		  "gitRep: https://github.com/u/r\n",
		  WL_EINVALID, "spec.gitRep: unknown field (line 4)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspecs: {}\n",
		  WL_EINVALID, "specs: unknown field (line 3)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nmetadata:\n  "
		  "uid: x\n",
		  WL_EINVALID, "metadata.uid: unknown field" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n  "
		  "resources:\n    memroy: 1Gi\n",
		  WL_EINVALID,
		  "spec.resources.memroy: unknown field (line 5)" },
		{ STATUS,
		  "apiVersion: worklet.dev/v1\nkind: WorkletStatus\nspec: {}\n",
		  WL_EINVALID, "spec: unknown field" },
		{ STATUS,
		  "apiVersion: worklet.dev/v1\nkind: WorkletStatus\nmetadata:\n"
		  "  name: x\n",
		  WL_EINVALID, "metadata.name: unknown field" },
		{ FULL,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nstatus:\n  "
		  "conditions:\n  - type: Ready\n    stauts: \"True\"\n",
		  WL_EINVALID,
		  "status.conditions[0].stauts: unknown field "
		  "(line 6)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  containerPort: \"3000\"\n",
		  WL_EINVALID,
		  "spec.containerPort: must be an integer (line 4)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  containerPort: 3000.5\n",
		  WL_EINVALID, "spec.containerPort: must be an integer" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  containerPort: 0x10\n",
		  WL_EINVALID, "spec.containerPort: must be an integer" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  containerPort: 99999999999\n",
		  WL_EINVALID,
		  "spec.containerPort: must be an integer between -2147483648 "
		  "and 2147483647" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nmetadata:\n"
		  "  generation: 99999999999999999999\n",
		  WL_EINVALID,
		  "metadata.generation: must be an integer between" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  gitRepo: [a, b]\n",
		  WL_EINVALID, "spec.gitRepo: must be a string (line 4)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  env: [A=1]\n",
		  WL_EINVALID, "spec.env: must be a map of strings" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n  env:\n"
		  "    A: {b: c}\n",
		  WL_EINVALID, "spec.env.A: must be a string (line 5)" },
		{ SPEC, "apiVersion: worklet.dev/v1\nkind: Worklet\nspec: 3\n",
		  WL_EINVALID, "spec: must be a map (line 3)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  runState: paused\n",
		  WL_EINVALID,
		  "spec.runState: must be one of running, stopped" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  projectType: rust\n",
		  WL_EINVALID,
		  "spec.projectType: must be one of auto, dockerfile" },
		{ FULL,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nstatus:\n"
		  "  phase: Running\n",
		  WL_EINVALID, "status.phase: must be one of creating" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nmetadata:\n"
		  "  createdAt: yesterday\n",
		  WL_EINVALID, "metadata.createdAt: must be an RFC 3339 time" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nmetadata:\n"
		  "  createdAt: 1960-01-01T00:00:00Z\n",
		  WL_EINVALID, "metadata.createdAt: must be an RFC 3339 time" },
		{ FULL,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nstatus:\n"
		  "  conditions: {type: Ready}\n",
		  WL_EINVALID, "status.conditions: must be a list of maps" },
		{ FULL,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nstatus:\n"
		  "  conditions: [Ready]\n",
		  WL_EINVALID, "status.conditions[0]: must be a map" },
		{ FULL,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nstatus:\n"
		  "  detection:\n    evidence: [a, [b]]\n",
		  WL_EINVALID,
		  "status.detection.evidence[1]: must be a string" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  branch: main\n  gitRepo: x\n  branch: dev\n",
		  WL_EINVALID, "spec.branch: duplicate key (line 6)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nkind: Worklet\n",
		  WL_EINVALID, "kind: duplicate key (line 3)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n  env:\n"
		  "    A: 1\n    A: 2\n",
		  WL_EINVALID, "spec.env.A: duplicate key (line 6)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nmetadata:\n"
		  "  labels: &l {a: b}\nspec:\n  env: *l\n",
		  WL_EINVALID,
		  "metadata.labels: anchors and aliases are not "
		  "allowed (line 4)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  env: *undefined\n",
		  WL_EINVALID,
		  "spec.env: anchors and aliases are not allowed" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  description: !!binary aGVsbG8=\n",
		  WL_EINVALID, "spec.description: tags are not allowed" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  ? [complex, key]\n  : x\n",
		  WL_EINVALID, "spec: keys must be strings" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\n---\n"
		  "apiVersion: worklet.dev/v1\nkind: Worklet\n",
		  WL_EINVALID,
		  "only one document is allowed, found another "
		  "(line 3)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  description: \"a\\0b\"\n",
		  WL_EINVALID, "spec.description: must not contain NUL" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  description: caf\xe9\n",
		  WL_EINVALID, "document is not valid UTF-8 (line 4)" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  description: \xed\xa0\x80\n",
		  WL_EINVALID, "not valid UTF-8" },
		{ SPEC, "apiVersion: worklet.dev/v1\nkind: \xc0\xafWorklet\n",
		  WL_EINVALID, "not valid UTF-8 (line 2)" },
		{ SPEC,
		  "\xff\xfe"
		  "a\0p\0i\0",
		  WL_EINVALID, "not valid UTF-8" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  description: \"unterminated\n",
		  WL_EINVALID, "invalid YAML: found unexpected end of stream" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  gitRepo: x\n bad: indent\n",
		  WL_EINVALID, "invalid YAML" },
		{ SPEC,
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  gitRepo: x\n\tenv: {}\n",
		  WL_EINVALID, "invalid YAML" },
		{ JSON_SPEC, "", WL_EINVALID, "document is empty" },
		{ JSON_SPEC, "  \n", WL_EINVALID, "document is empty" },
		{ JSON_SPEC, "[]", WL_EINVALID, "document must be a map" },
		{ JSON_SPEC,
		  "{\"apiVersion\":\"worklet.dev/v1\",\"kind\":\"Worklet\","
		  "\"spec\":{\"gitRep\":\"x\"}}",
		  WL_EINVALID, "spec.gitRep: unknown field" },
		{ JSON_SPEC,
		  "{\"apiVersion\":\"worklet.dev/v1\",\"kind\":\"Worklet\","
		  "\"spec\":{\"containerPort\":\"3000\"}}",
		  WL_EINVALID, "spec.containerPort: must be an integer" },
		{ JSON_SPEC,
		  "{\"apiVersion\":\"worklet.dev/v1\",\"kind\":\"Worklet\","
		  "\"spec\":{\"containerPort\":80.5}}",
		  WL_EINVALID, "spec.containerPort: must be an integer" },
		{ JSON_SPEC,
		  "{\"apiVersion\":\"worklet.dev/v1\",\"kind\":\"Worklet\","
		  "\"spec\":{\"branch\":\"a\",\"branch\":\"b\"}}",
		  WL_EINVALID, "spec.branch: duplicate key" },
		{ JSON_SPEC,
		  "{\"apiVersion\":\"worklet.dev/v2\",\"kind\":\"Worklet\"}",
		  WL_EINVALID, "apiVersion: must be \"worklet.dev/v1\"" },
		{ JSON_SPEC,
		  "{\"apiVersion\":\"worklet.dev/v1\",\"kind\":\"Worklet\","
		  "\"spec\":{\"description\":\"caf\xe9\"}}",
		  WL_EINVALID, "not valid UTF-8" },
		{ JSON_SPEC,
		  "{\"apiVersion\":\"worklet.dev/v1\",\"kind\":\"Worklet\"} {}",
		  WL_EINVALID, "unexpected data after the document" },
		{ JSON_SPEC,
		  "{\"apiVersion\":\"worklet.dev/v1\",\"kind\":\"Worklet\",\n"
		  "\"spec\":{\"gitRepo\":\"https://github.com/u",
		  WL_EINVALID, "the document is incomplete (line 2)" },
		{ JSON_SPEC, "{\"apiVersion\": worklet}", WL_EINVALID,
		  "invalid JSON: syntax error (line 1, column 16)" },
		{ JSON_SPEC,
		  "{\"apiVersion\":\"worklet.dev/v1\",\"kind\":\"Worklet\","
		  "\"metadata\":{\"generation\":9007199254740993}}",
		  WL_EINVALID, "metadata.generation: must be an integer" },
		{ JSON_SPEC,
		  "{\"apiVersion\":\"worklet.dev/v1\",\"kind\":\"Worklet\","
		  "\"metadata\":{\"generation\":9007199254740992}}",
		  WL_EINVALID, "metadata.generation: must be an integer" },
		{ JSON_FULL,
		  "{\"apiVersion\":\"worklet.dev/v1\",\"kind\":\"Worklet\","
		  "\"status\":{\"restartCount\":true}}",
		  WL_EINVALID, "status.restartCount: must be an integer" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_worklet w;
		const char *in = cases[i].input;
		size_t len = strlen(in);
		int error;

		/* The UTF-16 case holds NULs: measure it by hand. */
		if (in[0] == '\xff')
			len = 8;
		error = formats[cases[i].doc].decode(&w, in, len);
		CHECK(error == cases[i].code);
		CHECK_CONTAINS(wl_error_last(), cases[i].want);
		/* A failed decode leaves nothing behind. */
		CHECK(is_empty(&w));
		if (error != cases[i].code ||
		    !strstr(wl_error_last(), cases[i].want))
			fprintf(stderr, "  case %zu: %s\n", i, in);
		wl_worklet_release(&w);
	}
}

/* Cases whose input is too large to write out in a table. */
static void test_limits(void)
{
	struct wl_buf doc;
	struct wl_worklet w;

	/* Over WL_SPEC_FILE_MAX, rejected before parsing. */
	wl_buf_init(&doc, MAX_OUT);
	wl_buf_puts(&doc, head);
	wl_buf_puts(&doc, "spec:\n  description: \"");
	while (doc.len <= WL_SPEC_FILE_MAX)
		wl_buf_puts(&doc, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	wl_buf_puts(&doc, "\"\n");
	CHECK(wl_yaml_decode_spec(&w, doc.ptr, doc.len) == WL_ETOOBIG);
	CHECK_CONTAINS(wl_error_last(), "larger than 262144 bytes");
	CHECK(wl_json_decode_spec(&w, doc.ptr, doc.len) == WL_ETOOBIG);

	/* Nesting deeper than 32 levels, in YAML and in JSON. */
	for (int json = 0; json <= 1; json++) {
		wl_buf_reset(&doc);
		wl_buf_puts(&doc,
			    json ? "{\"apiVersion\":\"worklet.dev/v1\","
				   "\"kind\":\"Worklet\",\"spec\":{\"env\":"
				 : "apiVersion: worklet.dev/v1\nkind: "
				   "Worklet\nspec:\n  env: ");
		for (int i = 0; i < 40; i++)
			wl_buf_puts(&doc, "[");
		for (int i = 0; i < 40; i++)
			wl_buf_puts(&doc, "]");
		wl_buf_puts(&doc, json ? "}}" : "\n");
		CHECK((json ? wl_json_decode_spec(&w, doc.ptr, doc.len)
			    : wl_yaml_decode_spec(&w, doc.ptr, doc.len)) ==
		      WL_EINVALID);
		CHECK_CONTAINS(wl_error_last(),
			       "nesting deeper than 32 levels");
		CHECK_CONTAINS(wl_error_last(), "spec.env");
	}

	/* More env entries than allowed. */
	wl_buf_reset(&doc);
	wl_buf_puts(&doc, head);
	wl_buf_puts(&doc, "spec:\n  env:\n");
	for (int i = 0; i <= WL_ENV_MAX; i++)
		wl_buf_printf(&doc, "    V%d: x\n", i);
	CHECK(wl_yaml_decode_spec(&w, doc.ptr, doc.len) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "spec.env: too many entries (at most "
					"128)");

	/* A map too large for any field is refused while parsing. */
	wl_buf_reset(&doc);
	wl_buf_puts(&doc, head);
	wl_buf_puts(&doc, "spec:\n  env:\n");
	for (int i = 0; i < 5000; i++)
		wl_buf_printf(&doc, "    V%d: x\n", i);
	CHECK(wl_yaml_decode_spec(&w, doc.ptr, doc.len) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "spec.env: more than 256 entries");
	wl_buf_release(&doc);
}

/* A worklet whose file would exceed the limit is refused at encode. */
static void test_encode_too_big(void)
{
	struct wl_worklet w;
	struct wl_buf b;
	char *value = malloc(WL_ENV_VALUE_MAX + 1), name[16];

	wl_worklet_init(&w);
	wl_str_set(&w.meta.id, "big");
	memset(value, 'v', WL_ENV_VALUE_MAX);
	value[WL_ENV_VALUE_MAX] = '\0';
	for (int i = 0; i < WL_ENV_MAX; i++) {
		snprintf(name, sizeof(name), "V%d", i);
		wl_kvlist_set(&w.spec.env, name, value);
	}
	wl_buf_init(&b, MAX_OUT);
	wl_buf_puts(&b, "keep:");
	CHECK(wl_yaml_encode_spec(&b, &w) == WL_ETOOBIG);
	CHECK_CONTAINS(wl_error_last(), "worklet 'big': document is larger");
	/* What the buffer held before is left as it was. */
	CHECK_STR(wl_buf_cstr(&b), "keep:");
	wl_buf_release(&b);
	wl_worklet_release(&w);
	free(value);
}

/*
 * A file cut short at any byte (a crash mid-write, a slow editor) never
 * crashes the decoder and never half-fills the struct: it is an error with
 * a message, or (YAML cut at a line end) a shorter valid document. The
 * store's atomic writes are what keep the latter from happening.
 */
static void test_truncated(void)
{
	struct wl_worklet w, back;
	struct wl_buf full;

	fill(&w);
	for (int json = 0; json <= 1; json++) {
		size_t ok = 0, bad = 0;

		wl_buf_init(&full, MAX_OUT);
		CHECK((json ? wl_json_encode_full(&full, &w)
			    : wl_yaml_encode_full(&full, &w)) == 0);
		for (size_t cut = 0; cut < full.len; cut++) {
			int error =
				json ? wl_json_decode_full(&back, full.ptr, cut)
				     : wl_yaml_decode_full(&back, full.ptr,
							   cut);

			if (error) {
				CHECK(error == WL_EINVALID);
				CHECK(wl_error_last()[0] != '\0');
				CHECK(is_empty(&back));
				bad++;
			} else {
				ok++;
			}
			wl_worklet_release(&back);
		}
		/* JSON has no valid prefix; YAML does at line ends. */
		CHECK(bad > 0);
		CHECK(json ? ok == 0 : ok > 0);
		wl_buf_release(&full);
	}
	wl_worklet_release(&w);
}

/* The written documentation and the sample manifests decode and validate. */
static void test_examples(void)
{
	const char *fixtures = getenv("WL_FIXTURES");
	char path[4096], dir[4096], src[4096];
	const char *files[32];
	char names[32][256];
	size_t n = 0;
	DIR *dp;
	struct dirent *d;

	/* WL_FIXTURES is <source>/tests/fixtures; default: run from <source>.
	 */
	snprintf(src, sizeof(src), "%s", fixtures ? fixtures : ".");
	if (fixtures && strlen(src) > 15 &&
	    !strcmp(src + strlen(src) - 15, "/tests/fixtures"))
		src[strlen(src) - 15] = '\0';
	snprintf(path, sizeof(path), "%s/specs/worklet.example.yaml", src);
	files[n++] = path;
	snprintf(dir, sizeof(dir), "%s/manifests/examples", src);
	dp = opendir(dir);
	CHECK(dp != NULL);
	while (dp && (d = readdir(dp)) && n < 32) {
		size_t len = strlen(d->d_name);

		if (len < 6 || strcmp(d->d_name + len - 5, ".yaml"))
			continue;
		snprintf(names[n], sizeof(names[n]), "%s/%s", dir, d->d_name);
		files[n] = names[n];
		n++;
	}
	if (dp)
		closedir(dp);
	CHECK(n >= 3); /* the example and at least two manifests */
	for (size_t i = 0; i < n; i++) {
		struct wl_buf b;
		struct wl_worklet w;
		int error;

		wl_buf_init(&b, WL_SPEC_FILE_MAX);
		CHECK(wl_fs_read(&b, files[i]) == 0);
		error = wl_yaml_decode_spec(&w, b.ptr, b.len);
		if (!error)
			error = wl_validate_worklet(&w, 0);
		if (error)
			fprintf(stderr, "%s: %s\n", files[i], wl_error_last());
		CHECK(error == 0);
		CHECK(w.meta.id != NULL && w.spec.git_repo != NULL);
		wl_worklet_release(&w);
		wl_buf_release(&b);
	}
}

/* Every field the encoder writes is described in worklet-schema.md. */
static void test_schema_documented(void)
{
	const char *fixtures = getenv("WL_FIXTURES");
	char path[4096], src[4096];
	struct wl_worklet w;
	struct wl_buf doc, out;
	const char *line;
	int block_indent = -1;

	snprintf(src, sizeof(src), "%s", fixtures ? fixtures : ".");
	if (fixtures && strlen(src) > 15 &&
	    !strcmp(src + strlen(src) - 15, "/tests/fixtures"))
		src[strlen(src) - 15] = '\0';
	snprintf(path, sizeof(path), "%s/specs/worklet-schema.md", src);
	wl_buf_init(&doc, 1 << 20);
	wl_buf_init(&out, MAX_OUT);
	CHECK(wl_fs_read(&doc, path) == 0);
	fill(&w);
	/* Map keys under env and labels are the user's, not the schema's. */
	wl_kvlist_release(&w.spec.env);
	wl_kvlist_release(&w.meta.labels);
	CHECK(wl_yaml_encode_full(&out, &w) == 0);
	for (line = wl_buf_cstr(&out); *line;) {
		const char *end = strchr(line, '\n'), *k = line, *colon, *hit;
		char key[64], quoted[80], parent[80];
		int found = 0, indent;

		while (*k == ' ' || *k == '-')
			k++;
		indent = (int)(k - line);
		/* Skip the content of a literal block. */
		if (block_indent >= 0 &&
		    (indent > block_indent || *k == '\n')) {
			line = end ? end + 1 : line + strlen(line);
			continue;
		}
		block_indent = -1;
		colon = strchr(k, ':');
		if (colon && colon < end && *k != '"' && colon - k < 60 &&
		    colon > k) {
			snprintf(key, sizeof(key), "%.*s", (int)(colon - k), k);
			if (colon[1] == ' ' && colon[2] == '|')
				block_indent = indent;
			/* `key`, `parent.key` or `key.child` in the document.
			 */
			snprintf(quoted, sizeof(quoted), "%s`", key);
			snprintf(parent, sizeof(parent), "`%s.", key);
			found = strstr(doc.ptr ? doc.ptr : "", parent) != NULL;
			for (hit = strstr(doc.ptr ? doc.ptr : "", quoted);
			     hit && !found; hit = strstr(hit + 1, quoted))
				found = hit > doc.ptr &&
					(hit[-1] == '`' || hit[-1] == '.');
			if (!found)
				fprintf(stderr, "  undocumented: %s\n", key);
			CHECK(found);
		}
		line = end ? end + 1 : line + strlen(line);
	}
	wl_worklet_release(&w);
	wl_buf_release(&doc);
	wl_buf_release(&out);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_round_trip_full),
		UNIT(test_yaml_shape),
		UNIT(test_round_trip_strings),
		UNIT(test_encode_invalid_utf8),
		UNIT(test_memory),
		UNIT(test_cpus),
		UNIT(test_quantity_round_trip),
		UNIT(test_decode_values),
		UNIT(test_invalid_documents),
		UNIT(test_limits),
		UNIT(test_encode_too_big),
		UNIT(test_truncated),
		UNIT(test_examples),
		UNIT(test_schema_documented),
		{ 0 },
	};

	return wl_unit_run(tests);
}
