#include "specs/codec_tree.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specs/core/error.h"
#include "specs/core/parse.h"
#include "specs/core/timeutil.h"
#include "specs/core/banned.h"

/* The last instant wl_time_parse can read back: 9999-12-31T23:59:59.999Z. */
#define TIME_MAX_MS INT64_C(253402300799999)

static int oom(void)
{
	wl_error_set("out of memory");
	return WL_ERROR;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ---- nodes ---------------------------------------------------------- */

struct wl_codec_node *wl_codec_node_new(enum wl_codec_kind kind, int line)
{
	struct wl_codec_node *n = calloc(1, sizeof(*n));

	if (!n) {
		oom();
		return NULL;
	}
	n->kind = kind;
	n->line = line;
	return n;
}

struct wl_codec_node *wl_codec_scalar_new(const char *text, size_t len,
					  int quoted, int line)
{
	struct wl_codec_node *n = wl_codec_node_new(WL_CODEC_SCALAR, line);

	if (!n)
		return NULL;
	n->quoted = quoted;
	n->text = malloc(len + 1);
	if (!n->text) {
		free(n);
		oom();
		return NULL;
	}
	if (len)
		memcpy(n->text, text, len);
	n->text[len] = '\0';
	return n;
}

void wl_codec_node_free(struct wl_codec_node *n)
{
	if (!n)
		return;
	/* Depth is bounded by WL_CODEC_DEPTH_MAX, so recursion is safe. */
	for (size_t i = 0; i < n->count; i++)
		wl_codec_node_free(n->items[i]);
	free(n->items);
	free(n->key);
	free(n->text);
	free(n);
}

static void sanitize(char *out, size_t n, const char *s)
{
	size_t i = 0;

	for (; *s && i + 1 < n; s++, i++) {
		unsigned char c = (unsigned char)*s;

		out[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	out[i] = '\0';
}

void wl_codec_path_key(char *out, size_t n, const char *parent, const char *key)
{
	char clean[96];

	sanitize(clean, sizeof(clean), key);
	if (parent && parent[0])
		snprintf(out, n, "%s.%s", parent, clean);
	else
		snprintf(out, n, "%s", clean);
}

void wl_codec_path_index(char *out, size_t n, const char *parent, size_t index)
{
	snprintf(out, n, "%s[%zu]", parent, index);
}

/* "<path>: <problem>" plus " (line N)" when the line is known. */
__attribute__((format(printf, 3, 4))) static int
fail_line(int line, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		wl_error_set("%s: %s (line %d)", path, msg, line);
	else
		wl_error_set("%s: %s", path, msg);
	return WL_EINVALID;
}

int wl_codec_node_append(struct wl_codec_node *parent,
			 struct wl_codec_node *child, const char *path)
{
	struct wl_codec_node **items;
	char where[WL_CODEC_PATH_MAX];

	if (parent->kind == WL_CODEC_MAP) {
		/*
		 * Quadratic, but a map holds at most WL_CODEC_ITEMS_MAX
		 * entries, so at worst a few tens of thousands of compares.
		 */
		for (size_t i = 0; i < parent->count; i++) {
			if (strcmp(parent->items[i]->key, child->key))
				continue;
			wl_codec_path_key(where, sizeof(where), path,
					  child->key);
			fail_line(child->key_line, where, "duplicate key");
			goto fail;
		}
	}
	if (parent->count >= WL_CODEC_ITEMS_MAX) {
		fail_line(child->key_line ? child->key_line : child->line,
			  path[0] ? path : "document", "more than %d entries",
			  WL_CODEC_ITEMS_MAX);
		goto fail;
	}
	items = realloc(parent->items, (parent->count + 1) * sizeof(*items));
	if (!items) {
		oom();
		wl_codec_node_free(child);
		return WL_ERROR;
	}
	parent->items = items;
	items[parent->count++] = child;
	return 0;
fail:
	wl_codec_node_free(child);
	return WL_EINVALID;
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (at most avail bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

int wl_codec_check_input(const char *data, size_t len)
{
	const unsigned char *s = (const unsigned char *)data;
	int line = 1;

	if (len > WL_SPEC_FILE_MAX) {
		wl_error_set("document is larger than %d bytes",
			     WL_SPEC_FILE_MAX);
		return WL_ETOOBIG;
	}
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(s + i, len - i);

		if (s[i] == '\0') {
			wl_error_set("document contains a NUL byte (line %d)",
				     line);
			return WL_EINVALID;
		}
		if (!n) {
			wl_error_set("document is not valid UTF-8 (line %d)",
				     line);
			return WL_EINVALID;
		}
		if (s[i] == '\n')
			line++;
		i += n;
	}
	return 0;
}

/* A copy of s with every invalid UTF-8 byte replaced by U+FFFD. */
static char *utf8_dup(const char *s)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), o = 0;
	char *out;

	/* Each byte becomes at most the three bytes of U+FFFD. */
	if (len > (SIZE_MAX - 1) / 3 || !(out = malloc(len * 3 + 1))) {
		oom();
		return NULL;
	}
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(p + i, len - i);

		if (n) {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, replacement, 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

/* ---- scalar syntax ---------------------------------------------------- */

/*
 * A decimal integer without leading zeros (YAML 1.1 would read "010" as
 * octal, so it is refused rather than guessed). 0, -1 not an integer, -2
 * out of range.
 */
static int parse_int64(const char *s, int64_t *out)
{
	uint64_t v = 0, limit = INT64_MAX;
	int neg = 0, overflow = 0;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!is_digit(*s) || (*s == '0' && is_digit(s[1])))
		return -1;
	if (neg)
		limit++;
	for (; is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (limit - d) / 10)
			overflow = 1;
		else
			v = v * 10 + d;
	}
	if (*s)
		return -1;
	if (overflow)
		return -2;
	*out = neg ? (v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v)
		   : (int64_t)v;
	return 0;
}

/*
 * Quantities are read by wl_parse_size() and wl_parse_cpus() (core), the
 * same grammar as the service's configuration; these write them back.
 */
static const struct unit {
	const char *suffix;
	uint64_t mult;
} memory_units[] = {
	{ "Ti", UINT64_C(1) << 40 },	  { "Gi", UINT64_C(1) << 30 },
	{ "Mi", UINT64_C(1) << 20 },	  { "Ki", UINT64_C(1) << 10 },
	{ "T", UINT64_C(1000000000000) }, { "G", UINT64_C(1000000000) },
	{ "M", UINT64_C(1000000) },	  { "k", UINT64_C(1000) },
};

/*
 * The shortest exact text for bytes: "512Mi", "256M" or "1000001". Returns
 * 1 when the text is a bare number: only below 2^53, from where a JSON
 * reader's double may round it (the decoder takes digits in a string).
 */
static int format_memory(char *out, size_t n, int64_t v)
{
	char cand[32];
	int is_number = v > -(INT64_C(1) << 53) && v < INT64_C(1) << 53;

	snprintf(out, n, "%" PRId64, v);
	if (v <= 0)
		return is_number;
	for (size_t i = 0; i < sizeof(memory_units) / sizeof(memory_units[0]);
	     i++) {
		const struct unit *u = &memory_units[i];

		if ((uint64_t)v % u->mult)
			continue;
		snprintf(cand, sizeof(cand), "%" PRIu64 "%s",
			 (uint64_t)v / u->mult, u->suffix);
		if (strlen(cand) < strlen(out)) {
			snprintf(out, n, "%s", cand);
			is_number = 0;
		}
	}
	return is_number;
}

static void format_cpus(char *out, size_t n, int64_t nano)
{
	uint64_t a = nano < 0 ? 0 - (uint64_t)nano : (uint64_t)nano;
	uint64_t whole = a / 1000000000, frac = a % 1000000000;
	char digits[16];
	size_t len;

	if (!frac) {
		snprintf(out, n, "%s%" PRIu64, nano < 0 ? "-" : "", whole);
		return;
	}
	snprintf(digits, sizeof(digits), "%09" PRIu64, frac);
	for (len = strlen(digits); len > 0 && digits[len - 1] == '0'; len--)
		digits[len - 1] = '\0';
	snprintf(out, n, "%s%" PRIu64 ".%s", nano < 0 ? "-" : "", whole,
		 digits);
}

static void format_time(char *out, size_t n, int64_t ms)
{
	if (ms % 1000)
		wl_time_format_ms(out, n, ms);
	else
		wl_time_format(out, n, ms);
}

/* ---- the schema --------------------------------------------------------- */

enum ftype {
	F_STR,	 /* char * */
	F_INT,	 /* int */
	F_I64,	 /* int64_t */
	F_TIME,	 /* int64_t epoch ms, RFC 3339 text */
	F_KV,	 /* struct wl_kvlist, a map of strings */
	F_PHASE, /* enum wl_phase */
	F_RUN,	 /* enum wl_run_state */
	F_PTYPE, /* enum wl_project_type */
	F_MEM,	 /* int64_t bytes, or a quantity "512Mi" */
	F_CPUS,	 /* int64_t nano CPUs, as a decimal number of CPUs */
	F_STRS,	 /* char **, count at count_off */
	F_OBJ,	 /* a nested struct described by sub */
	F_CONDS, /* struct wl_condition *, count at count_off */
};

struct field {
	const char *name;
	enum ftype type;
	size_t off;
	size_t count_off;	 /* F_STRS, F_CONDS */
	size_t max;		 /* F_KV, F_STRS, F_CONDS: most entries */
	const struct field *sub; /* F_OBJ, F_CONDS */
};

#define FIELD(name, type, st, member)                                          \
	{                                                                      \
		name, type, offsetof(st, member), 0, 0, NULL                   \
	}
#define LIST(name, type, st, member, count, max, sub)                          \
	{                                                                      \
		name, type, offsetof(st, member), offsetof(st, count), max,    \
			sub                                                    \
	}
#define KV(name, st, member, max)                                              \
	{                                                                      \
		name, F_KV, offsetof(st, member), 0, max, NULL                 \
	}
#define OBJ(name, st, member, sub)                                             \
	{                                                                      \
		name, F_OBJ, offsetof(st, member), 0, 0, sub                   \
	}

static const struct field meta_fields[] = {
	FIELD("id", F_STR, struct wl_metadata, id),
	FIELD("name", F_STR, struct wl_metadata, name),
	FIELD("userId", F_STR, struct wl_metadata, user_id),
	FIELD("generation", F_I64, struct wl_metadata, generation),
	FIELD("createdAt", F_TIME, struct wl_metadata, created_ms),
	FIELD("updatedAt", F_TIME, struct wl_metadata, updated_ms),
	KV("labels", struct wl_metadata, labels, WL_LABELS_MAX),
	FIELD("deletionTimestamp", F_TIME, struct wl_metadata, deletion_ms),
	{ 0 },
};

/* A status document names its worklet and the generation it observed. */
static const struct field status_meta_fields[] = {
	FIELD("id", F_STR, struct wl_metadata, id),
	FIELD("generation", F_I64, struct wl_metadata, generation),
	{ 0 },
};

static const struct field resources_fields[] = {
	FIELD("memory", F_MEM, struct wl_resources, memory_bytes),
	FIELD("cpus", F_CPUS, struct wl_resources, nano_cpus),
	FIELD("pids", F_I64, struct wl_resources, pids),
	{ 0 },
};

static const struct field pr_request_fields[] = {
	FIELD("title", F_STR, struct wl_pr_request, title),
	FIELD("description", F_STR, struct wl_pr_request, description),
	FIELD("branch", F_STR, struct wl_pr_request, branch),
	FIELD("base", F_STR, struct wl_pr_request, base),
	FIELD("requestedAt", F_TIME, struct wl_pr_request, requested_ms),
	{ 0 },
};

static const struct field pr_status_fields[] = {
	FIELD("handledAt", F_TIME, struct wl_pr_status, handled_ms),
	FIELD("number", F_INT, struct wl_pr_status, number),
	FIELD("url", F_STR, struct wl_pr_status, url),
	FIELD("branch", F_STR, struct wl_pr_status, branch),
	FIELD("base", F_STR, struct wl_pr_status, base),
	FIELD("commit", F_STR, struct wl_pr_status, commit),
	FIELD("created", F_INT, struct wl_pr_status, created),
	FIELD("error", F_STR, struct wl_pr_status, error),
	FIELD("errorCode", F_STR, struct wl_pr_status, error_code),
	{ 0 },
};

static const struct field spec_fields[] = {
	FIELD("description", F_STR, struct wl_spec, description),
	FIELD("gitRepo", F_STR, struct wl_spec, git_repo),
	FIELD("branch", F_STR, struct wl_spec, branch),
	FIELD("basePrompt", F_STR, struct wl_spec, base_prompt),
	KV("env", struct wl_spec, env, WL_ENV_MAX),
	FIELD("runState", F_RUN, struct wl_spec, run_state),
	FIELD("projectType", F_PTYPE, struct wl_spec, project_type),
	FIELD("dockerfile", F_STR, struct wl_spec, dockerfile),
	FIELD("startCommand", F_STR, struct wl_spec, start_command),
	FIELD("containerPort", F_INT, struct wl_spec, container_port),
	FIELD("runtimeVersion", F_STR, struct wl_spec, runtime_version),
	FIELD("path", F_STR, struct wl_spec, path),
	OBJ("resources", struct wl_spec, resources, resources_fields),
	FIELD("restartedAt", F_TIME, struct wl_spec, restarted_ms),
	OBJ("pullRequest", struct wl_spec, pull_request, pr_request_fields),
	{ 0 },
};

static const struct field condition_fields[] = {
	FIELD("type", F_STR, struct wl_condition, type),
	FIELD("status", F_STR, struct wl_condition, status),
	FIELD("reason", F_STR, struct wl_condition, reason),
	FIELD("message", F_STR, struct wl_condition, message),
	FIELD("lastTransitionTime", F_TIME, struct wl_condition,
	      last_transition_ms),
	{ 0 },
};

static const struct field detection_fields[] = {
	FIELD("type", F_PTYPE, struct wl_detection, type),
	FIELD("framework", F_STR, struct wl_detection, framework),
	FIELD("startCommand", F_STR, struct wl_detection, start_command),
	FIELD("port", F_INT, struct wl_detection, port),
	LIST("evidence", F_STRS, struct wl_detection, evidence, evidence_count,
	     WL_EVIDENCE_MAX, NULL),
	{ 0 },
};

static const struct field status_fields[] = {
	FIELD("phase", F_PHASE, struct wl_status, phase),
	FIELD("observedGeneration", F_I64, struct wl_status,
	      observed_generation),
	LIST("conditions", F_CONDS, struct wl_status, conditions,
	     condition_count, WL_CONDITIONS_MAX, condition_fields),
	FIELD("webUrl", F_STR, struct wl_status, web_url),
	FIELD("port", F_INT, struct wl_status, port),
	FIELD("containerId", F_STR, struct wl_status, container_id),
	FIELD("imageId", F_STR, struct wl_status, image_id),
	FIELD("sessionId", F_STR, struct wl_status, session_id),
	FIELD("lastPrompt", F_STR, struct wl_status, last_prompt),
	FIELD("lastError", F_STR, struct wl_status, last_error),
	FIELD("buildLogs", F_STR, struct wl_status, build_logs),
	FIELD("commit", F_STR, struct wl_status, commit),
	OBJ("detection", struct wl_status, detection, detection_fields),
	FIELD("restartCount", F_INT, struct wl_status, restart_count),
	FIELD("lastExitCode", F_INT, struct wl_status, last_exit_code),
	FIELD("lastFinishedAt", F_TIME, struct wl_status, last_finished_ms),
	FIELD("nextRestartAt", F_TIME, struct wl_status, next_restart_ms),
	FIELD("deployStartedAt", F_TIME, struct wl_status, deploy_started_ms),
	FIELD("failedBuild", F_STR, struct wl_status, failed_build),
	FIELD("failedRun", F_STR, struct wl_status, failed_run),
	FIELD("servingCommit", F_STR, struct wl_status, serving_commit),
	FIELD("activePrompt", F_STR, struct wl_status, active_prompt),
	FIELD("queuedPrompts", F_INT, struct wl_status, queued_prompts),
	OBJ("pullRequest", struct wl_status, pull_request, pr_status_fields),
	FIELD("updatedAt", F_TIME, struct wl_status, updated_ms),
	{ 0 },
};

#define AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))
#define AT_C(base, off, type)                                                  \
	((const type *)(const void *)((const char *)(base) + (off)))

/* ---- decoding ------------------------------------------------------------ */

static int fail(const struct wl_codec_node *n, const char *path,
		const char *problem)
{
	return fail_line(n->line, path, "%s", problem);
}

static int dec_map(void *base, const struct field *table,
		   const struct wl_codec_node *n, const char *path);

static int dec_str(char **dst, const struct wl_codec_node *n, const char *path)
{
	if (n->kind == WL_CODEC_NULL)
		return 0;
	if (n->kind != WL_CODEC_SCALAR)
		return fail(n, path, "must be a string");
	return wl_str_set(dst, n->text);
}

static int dec_int64(int64_t *dst, const struct wl_codec_node *n,
		     const char *path, int64_t min, int64_t max)
{
	int64_t v;
	int error;

	if (n->kind == WL_CODEC_NULL)
		return 0;
	if (n->kind != WL_CODEC_SCALAR || n->quoted)
		return fail(n, path, "must be an integer");
	error = parse_int64(n->text, &v);
	if (error == -1)
		return fail(n, path, "must be an integer");
	if (error < 0 || v < min || v > max)
		return fail_line(n->line, path,
				 "must be an integer between %" PRId64
				 " and %" PRId64,
				 min, max);
	*dst = v;
	return 0;
}

static int dec_time(int64_t *dst, const struct wl_codec_node *n,
		    const char *path)
{
	int64_t ms;

	if (n->kind == WL_CODEC_NULL)
		return 0;
	if (n->kind != WL_CODEC_SCALAR || wl_time_parse(&ms, n->text) < 0 ||
	    ms < 0 || ms > TIME_MAX_MS)
		return fail(n, path,
			    "must be an RFC 3339 time such as "
			    "\"2026-01-02T15:04:05Z\"");
	*dst = ms;
	return 0;
}

static int dec_kv(struct wl_kvlist *dst, const struct wl_codec_node *n,
		  const char *path, size_t max)
{
	char where[WL_CODEC_PATH_MAX];

	if (n->kind == WL_CODEC_NULL)
		return 0;
	if (n->kind != WL_CODEC_MAP)
		return fail(n, path, "must be a map of strings");
	if (n->count > max)
		return fail_line(n->line, path,
				 "too many entries (at most %zu)", max);
	for (size_t i = 0; i < n->count; i++) {
		const struct wl_codec_node *v = n->items[i];

		if (v->kind != WL_CODEC_SCALAR && v->kind != WL_CODEC_NULL) {
			wl_codec_path_key(where, sizeof(where), path, v->key);
			return fail(v, where, "must be a string");
		}
		/* "KEY:" with no value means the empty string. */
		if (wl_kvlist_set(dst, v->key,
				  v->kind == WL_CODEC_SCALAR ? v->text : "") <
		    0)
			return WL_ERROR;
	}
	return 0;
}

static int dec_enum(void *dst, enum ftype type, const struct wl_codec_node *n,
		    const char *path)
{
	const char *choices = "";
	int v = -1;

	if (n->kind == WL_CODEC_NULL)
		return 0;
	switch (type) {
	case F_PHASE:
		choices = "creating, building, deploying, running, stopped, "
			  "error";
		if (n->kind == WL_CODEC_SCALAR)
			v = wl_phase_parse(n->text);
		if (v >= 0)
			*(enum wl_phase *)dst = (enum wl_phase)v;
		break;
	case F_RUN:
		choices = "running, stopped";
		if (n->kind == WL_CODEC_SCALAR)
			v = wl_run_state_parse(n->text);
		if (v >= 0)
			*(enum wl_run_state *)dst = (enum wl_run_state)v;
		break;
	default:
		choices = "auto, dockerfile, node, python, go, static";
		if (n->kind == WL_CODEC_SCALAR)
			v = wl_project_type_parse(n->text);
		if (v >= 0)
			*(enum wl_project_type *)dst = (enum wl_project_type)v;
		break;
	}
	if (v < 0)
		return fail_line(n->line, path, "must be one of %s", choices);
	return 0;
}

static int dec_quantity(int64_t *dst, enum ftype type,
			const struct wl_codec_node *n, const char *path)
{
	int error = WL_EINVALID;

	if (n->kind == WL_CODEC_NULL)
		return 0;
	if (n->kind == WL_CODEC_SCALAR)
		error = type == F_MEM ? wl_parse_size(dst, n->text)
				      : wl_parse_cpus(dst, n->text);
	if (!error)
		return 0;
	if (type == F_MEM)
		return fail(n, path,
			    "must be a number of bytes or a quantity such as "
			    "512Mi, 1Gi or 256M");
	return fail(n, path,
		    "must be a number of CPUs such as 0.5 or 2, or "
		    "millicores such as 500m (at most 1024 CPUs, 9 decimals)");
}

static int dec_strs(char ***dst, size_t *count, const struct wl_codec_node *n,
		    const char *path, size_t max)
{
	char where[WL_CODEC_PATH_MAX];

	if (n->kind == WL_CODEC_NULL)
		return 0;
	if (n->kind != WL_CODEC_SEQ)
		return fail(n, path, "must be a list of strings");
	if (n->count > max)
		return fail_line(n->line, path,
				 "too many entries (at most %zu)", max);
	if (!n->count)
		return 0;
	if (!(*dst = calloc(n->count, sizeof(char *))))
		return oom();
	for (size_t i = 0; i < n->count; i++) {
		if (n->items[i]->kind != WL_CODEC_SCALAR) {
			wl_codec_path_index(where, sizeof(where), path, i);
			return fail(n->items[i], where, "must be a string");
		}
		if (wl_str_set(&(*dst)[i], n->items[i]->text) < 0)
			return WL_ERROR;
		(*count)++;
	}
	return 0;
}

static int dec_conds(struct wl_condition **dst, size_t *count,
		     const struct wl_codec_node *n, const char *path,
		     const struct field *sub, size_t max)
{
	char where[WL_CODEC_PATH_MAX];
	int error;

	if (n->kind == WL_CODEC_NULL)
		return 0;
	if (n->kind != WL_CODEC_SEQ)
		return fail(n, path, "must be a list of maps");
	if (n->count > max)
		return fail_line(n->line, path,
				 "too many entries (at most %zu)", max);
	if (!n->count)
		return 0;
	if (!(*dst = calloc(n->count, sizeof(**dst))))
		return oom();
	*count = n->count; /* zeroed entries release cleanly on error */
	for (size_t i = 0; i < n->count; i++) {
		wl_codec_path_index(where, sizeof(where), path, i);
		if (n->items[i]->kind != WL_CODEC_MAP)
			return fail(n->items[i], where, "must be a map");
		if ((error = dec_map(&(*dst)[i], sub, n->items[i], where)) < 0)
			return error;
	}
	return 0;
}

static int dec_field(void *base, const struct field *f,
		     const struct wl_codec_node *n, const char *path)
{
	int64_t v = 0;
	int error;

	switch (f->type) {
	case F_STR:
		return dec_str(AT(base, f->off, char *), n, path);
	case F_INT:
		if ((error = dec_int64(&v, n, path, INT_MIN, INT_MAX)) < 0)
			return error;
		*AT(base, f->off, int) = (int)v;
		return 0;
	case F_I64:
		return dec_int64(AT(base, f->off, int64_t), n, path, INT64_MIN,
				 INT64_MAX);
	case F_TIME:
		return dec_time(AT(base, f->off, int64_t), n, path);
	case F_KV:
		return dec_kv(AT(base, f->off, struct wl_kvlist), n, path,
			      f->max);
	case F_PHASE:
	case F_RUN:
	case F_PTYPE:
		return dec_enum(AT(base, f->off, char), f->type, n, path);
	case F_MEM:
	case F_CPUS:
		return dec_quantity(AT(base, f->off, int64_t), f->type, n,
				    path);
	case F_STRS:
		return dec_strs(AT(base, f->off, char **),
				AT(base, f->count_off, size_t), n, path,
				f->max);
	case F_OBJ:
		return dec_map(AT(base, f->off, char), f->sub, n, path);
	case F_CONDS:
		return dec_conds(AT(base, f->off, struct wl_condition *),
				 AT(base, f->count_off, size_t), n, path,
				 f->sub, f->max);
	}
	return 0;
}

static int dec_map(void *base, const struct field *table,
		   const struct wl_codec_node *n, const char *path)
{
	char where[WL_CODEC_PATH_MAX];
	int error;

	if (n->kind == WL_CODEC_NULL)
		return 0;
	if (n->kind != WL_CODEC_MAP)
		return fail(n, path, "must be a map");
	for (size_t i = 0; i < n->count; i++) {
		const struct wl_codec_node *v = n->items[i];
		const struct field *f = table;

		while (f->name && strcmp(f->name, v->key))
			f++;
		wl_codec_path_key(where, sizeof(where), path, v->key);
		if (!f->name)
			return fail_line(v->key_line, where, "unknown field");
		if ((error = dec_field(base, f, v, where)) < 0)
			return error;
	}
	return 0;
}

static const struct wl_codec_node *find(const struct wl_codec_node *map,
					const char *key)
{
	for (size_t i = 0; i < map->count; i++)
		if (!strcmp(map->items[i]->key, key))
			return map->items[i];
	return NULL;
}

/* apiVersion and kind: present, strings, and exactly the expected value. */
static int check_header(const struct wl_codec_node *root, const char *key,
			const char *want)
{
	const struct wl_codec_node *n = find(root, key);
	char got[64];

	if (!n || n->kind == WL_CODEC_NULL)
		return fail_line(root->line, key, "required (\"%s\")", want);
	if (n->kind != WL_CODEC_SCALAR)
		return fail_line(n->line, key, "must be \"%s\"", want);
	if (strcmp(n->text, want)) {
		sanitize(got, sizeof(got), n->text);
		return fail_line(n->line, key, "must be \"%s\", not \"%s\"",
				 want, got);
	}
	return 0;
}

static int unknown(const struct wl_codec_node *n)
{
	char where[WL_CODEC_PATH_MAX];

	wl_codec_path_key(where, sizeof(where), "", n->key);
	return fail_line(n->key_line, where, "unknown field");
}

int wl_codec_tree_decode(struct wl_worklet *out,
			 const struct wl_codec_node *root,
			 enum wl_codec_doc doc)
{
	const char *kind =
		doc == WL_CODEC_DOC_STATUS ? "WorkletStatus" : WL_KIND;
	int error;

	wl_worklet_init(out);
	if (!root || root->kind == WL_CODEC_NULL) {
		wl_error_set("document is empty");
		return WL_EINVALID;
	}
	if (root->kind != WL_CODEC_MAP) {
		wl_error_set("document must be a map of apiVersion, kind, "
			     "metadata and %s (line %d)",
			     doc == WL_CODEC_DOC_STATUS ? "status" : "spec",
			     root->line);
		return WL_EINVALID;
	}
	if ((error = check_header(root, "apiVersion", WL_API_VERSION)) < 0 ||
	    (error = check_header(root, "kind", kind)) < 0)
		return error;
	for (size_t i = 0; i < root->count; i++) {
		const struct wl_codec_node *n = root->items[i];
		const char *key = n->key;

		if (!strcmp(key, "apiVersion") || !strcmp(key, "kind"))
			continue;
		if (!strcmp(key, "metadata"))
			error = dec_map(&out->meta,
					doc == WL_CODEC_DOC_STATUS
						? status_meta_fields
						: meta_fields,
					n, key);
		else if (!strcmp(key, "spec") && doc != WL_CODEC_DOC_STATUS)
			error = dec_map(&out->spec, spec_fields, n, key);
		else if (!strcmp(key, "status") && doc == WL_CODEC_DOC_SPEC)
			continue; /* `get -o yaml` output can be applied */
		else if (!strcmp(key, "status"))
			error = dec_map(&out->status, status_fields, n, key);
		else
			error = unknown(n);
		if (error < 0)
			goto fail;
	}
	return 0;
fail:
	wl_worklet_release(out);
	return error;
}

int wl_codec_decode(struct wl_worklet *out, const char *data, size_t len,
		    enum wl_codec_doc doc, wl_codec_parse_fn parse)
{
	struct wl_codec_node *root = NULL;
	int error;

	wl_worklet_init(out);
	if (!data)
		data = "";
	if ((error = wl_codec_check_input(data, len)) < 0 ||
	    (error = parse(&root, data, len)) < 0)
		return error;
	error = wl_codec_tree_decode(out, root, doc);
	wl_codec_node_free(root);
	return error;
}

/* ---- encoding ------------------------------------------------------------ */

static int put(struct wl_codec_node *map, const char *key,
	       struct wl_codec_node *child)
{
	if (!child)
		return WL_ERROR;
	if (!(child->key = strdup(key))) {
		wl_codec_node_free(child);
		return oom();
	}
	return wl_codec_node_append(map, child, "");
}

static struct wl_codec_node *str_node(const char *s)
{
	struct wl_codec_node *n;
	char *clean = utf8_dup(s);

	if (!clean)
		return NULL;
	n = wl_codec_node_new(WL_CODEC_SCALAR, 0);
	if (!n) {
		free(clean);
		return NULL;
	}
	n->quoted = 1;
	n->text = clean;
	return n;
}

static struct wl_codec_node *text_node(const char *text, int quoted)
{
	return wl_codec_scalar_new(text, strlen(text), quoted, 0);
}

static int enc_map(struct wl_codec_node **out, const void *base,
		   const struct field *table, const char *path);

static int put_number(struct wl_codec_node *map, const char *key, int64_t v)
{
	char text[32];

	if (!v)
		return 0;
	snprintf(text, sizeof(text), "%" PRId64, v);
	return put(map, key, text_node(text, 0));
}

/* The value of an enum field in *v and its name ("" when out of range). */
static const char *enum_name(const void *base, const struct field *f,
			     int64_t *v)
{
	switch (f->type) {
	case F_PHASE: {
		enum wl_phase e = *AT_C(base, f->off, enum wl_phase);

		*v = (int64_t)e;
		return wl_phase_name(e);
	}
	case F_RUN: {
		enum wl_run_state e = *AT_C(base, f->off, enum wl_run_state);

		*v = (int64_t)e;
		return wl_run_state_name(e);
	}
	default: {
		enum wl_project_type e =
			*AT_C(base, f->off, enum wl_project_type);

		*v = (int64_t)e;
		return wl_project_type_name(e);
	}
	}
}

static int enc_field(struct wl_codec_node *map, const void *base,
		     const struct field *f, const char *path)
{
	struct wl_codec_node *n = NULL;
	char text[64];
	int64_t v;
	int error;

	switch (f->type) {
	case F_STR: {
		const char *s = *AT_C(base, f->off, char *);

		return s ? put(map, f->name, str_node(s)) : 0;
	}
	case F_INT:
		return put_number(map, f->name, *AT_C(base, f->off, int));
	case F_I64:
		return put_number(map, f->name, *AT_C(base, f->off, int64_t));
	case F_TIME:
		v = *AT_C(base, f->off, int64_t);
		if (!v)
			return 0;
		if (v < 0 || v > TIME_MAX_MS) {
			wl_error_set("%s: time %" PRId64 " ms is out of range",
				     path, v);
			return WL_EINVALID;
		}
		format_time(text, sizeof(text), v);
		return put(map, f->name, text_node(text, 1));
	case F_KV: {
		const struct wl_kvlist *l =
			AT_C(base, f->off, struct wl_kvlist);

		if (!l->count)
			return 0;
		if (!(n = wl_codec_node_new(WL_CODEC_MAP, 0)))
			return WL_ERROR;
		for (size_t i = 0; i < l->count; i++) {
			char *key = utf8_dup(l->items[i].key);

			if (!key) {
				wl_codec_node_free(n);
				return WL_ERROR;
			}
			error = put(n, key, str_node(l->items[i].value));
			free(key);
			if (error < 0) {
				/* Two keys equal after U+FFFD replacement. */
				wl_codec_node_free(n);
				return error;
			}
		}
		return put(map, f->name, n);
	}
	case F_PHASE:
	case F_RUN:
	case F_PTYPE: {
		const char *name = enum_name(base, f, &v);

		if (!v)
			return 0;
		if (!name[0]) {
			wl_error_set("%s: invalid value %" PRId64, path, v);
			return WL_EINVALID;
		}
		return put(map, f->name, text_node(name, 1));
	}
	case F_MEM: {
		int is_number;

		v = *AT_C(base, f->off, int64_t);
		if (!v)
			return 0;
		is_number = format_memory(text, sizeof(text), v);
		return put(map, f->name, text_node(text, !is_number));
	}
	case F_CPUS:
		v = *AT_C(base, f->off, int64_t);
		if (!v)
			return 0;
		format_cpus(text, sizeof(text), v);
		return put(map, f->name, text_node(text, 0));
	case F_STRS: {
		char *const *items =
			*(char **const *)(const void *)((const char *)base +
							f->off);
		size_t count = *AT_C(base, f->count_off, size_t);

		if (!count)
			return 0;
		if (!(n = wl_codec_node_new(WL_CODEC_SEQ, 0)))
			return WL_ERROR;
		for (size_t i = 0; i < count; i++) {
			error = wl_codec_node_append(
				n, str_node(items[i] ? items[i] : ""), path);
			if (error < 0) {
				wl_codec_node_free(n);
				return error;
			}
		}
		return put(map, f->name, n);
	}
	case F_OBJ:
		if ((error = enc_map(&n, AT_C(base, f->off, char), f->sub,
				     path)) < 0)
			return error;
		if (!n->count) {
			wl_codec_node_free(n);
			return 0;
		}
		return put(map, f->name, n);
	case F_CONDS: {
		const struct wl_condition *items =
			*AT_C(base, f->off, struct wl_condition *);
		size_t count = *AT_C(base, f->count_off, size_t);
		struct wl_codec_node *item;
		char where[WL_CODEC_PATH_MAX];

		if (!count)
			return 0;
		if (!(n = wl_codec_node_new(WL_CODEC_SEQ, 0)))
			return WL_ERROR;
		for (size_t i = 0; i < count; i++) {
			wl_codec_path_index(where, sizeof(where), path, i);
			if ((error = enc_map(&item, &items[i], f->sub, where)) <
				    0 ||
			    (error = wl_codec_node_append(n, item, path)) < 0) {
				wl_codec_node_free(n);
				return error;
			}
		}
		return put(map, f->name, n);
	}
	}
	return 0;
}

static int enc_map(struct wl_codec_node **out, const void *base,
		   const struct field *table, const char *path)
{
	struct wl_codec_node *map = wl_codec_node_new(WL_CODEC_MAP, 0);
	char where[WL_CODEC_PATH_MAX];
	int error;

	*out = NULL;
	if (!map)
		return WL_ERROR;
	for (const struct field *f = table; f->name; f++) {
		wl_codec_path_key(where, sizeof(where), path, f->name);
		if ((error = enc_field(map, base, f, where)) < 0) {
			wl_codec_node_free(map);
			return error;
		}
	}
	*out = map;
	return 0;
}

int wl_codec_tree_encode(struct wl_codec_node **out, const struct wl_worklet *w,
			 enum wl_codec_doc doc)
{
	struct wl_codec_node *root = NULL, *n = NULL;
	int error = WL_ERROR;

	*out = NULL;
	if (!(root = wl_codec_node_new(WL_CODEC_MAP, 0)))
		return WL_ERROR;
	if ((error = put(root, "apiVersion", text_node(WL_API_VERSION, 1))) <
		    0 ||
	    (error = put(root, "kind",
			 text_node(doc == WL_CODEC_DOC_STATUS ? "WorkletStatus"
							      : WL_KIND,
				   1))) < 0)
		goto done;
	if ((error = enc_map(&n, &w->meta,
			     doc == WL_CODEC_DOC_STATUS ? status_meta_fields
							: meta_fields,
			     "metadata")) < 0 ||
	    (error = put(root, "metadata", n)) < 0)
		goto done;
	if (doc != WL_CODEC_DOC_STATUS &&
	    ((error = enc_map(&n, &w->spec, spec_fields, "spec")) < 0 ||
	     (error = put(root, "spec", n)) < 0))
		goto done;
	if (doc != WL_CODEC_DOC_SPEC &&
	    ((error = enc_map(&n, &w->status, status_fields, "status")) < 0 ||
	     (error = put(root, "status", n)) < 0))
		goto done;
	*out = root;
	root = NULL;
	error = 0;
done:
	wl_codec_node_free(root);
	return error;
}
