/*
 * workletctl: the command-line client of the worklet API.
 *
 *   workletctl [--server URL] [--token TOKEN] COMMAND [ARGS...]
 *
 * Every command is one or a few REST calls (cli_http.c); `watch`, `prompt`
 * and `logs --build -f` also follow the WebSocket event stream
 * (cli_watch.c). Manifests are read and checked with the service's own
 * codecs and validation (specs/), so a bad field is named before anything
 * is sent. Exit codes are a contract with scripts (see usage()).
 *
 * Single-threaded. Output for people and pipes goes to stdout; progress,
 * notes and errors go to stderr, one line each. The token is never
 * printed.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "controller/cli_config.h"
#include "controller/cli_http.h"
#include "controller/cli_watch.h"
#include "specs/codec.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/timeutil.h"
#include "specs/prompt.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

#define VERSION "0.1.0"
#define DEFAULT_SERVER "http://127.0.0.1:8080"
#define API "/api/worklet/worklets"
#define TIMEOUT_S 60
#define PR_TIMEOUT_S 150 /* the server waits up to 120 s for the push */
#define MAX_FILES 256
#define MAX_POS 4

/* ---- the command line --------------------------------------------------- */

struct ctl {
	/* global flags */
	const char *server_flag;
	const char *token_flag;
	const char *user_flag;
	int help;
	/* resolved */
	struct wl_cli_config cfg;
	struct wl_cli_conn conn;
	char server[2048];
	const char *cmd;
	const char *id; /* the worklet the command is about, if one */
};

struct flag {
	const char *name;   /* "--title" */
	const char *alt;    /* "-t", or NULL */
	const char **value; /* takes a value */
	int *set;	    /* a switch */
	const char **list;  /* a repeatable value: up to MAX_FILES */
	int *count;
};

static int say(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "workletctl: <message>" on stderr; returns code. */
static int say(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("workletctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static int usage_error(const struct ctl *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_error(const struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	fputs("workletctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun 'workletctl %s%s--help' for usage.\n",
		c->cmd ? c->cmd : "", c->cmd ? " " : "");
	return WL_CLI_USAGE;
}

static int match_flag(const struct flag *f, const char *arg, size_t len)
{
	return (strlen(f->name) == len && !strncmp(f->name, arg, len)) ||
	       (f->alt && strlen(f->alt) == len && !strncmp(f->alt, arg, len));
}

/*
 * Parse argv[0..argc) against the command's flags and the global ones;
 * the rest are positional arguments (at most MAX_POS). "--flag=value" and
 * "--flag value" both work; "--" ends the flags.
 */
static int parse_args(struct ctl *c, int argc, char **argv,
		      const struct flag *flags, char **pos, int *npos)
{
	const struct flag globals[] = {
		{ "--server", "-s", &c->server_flag, NULL, NULL, NULL },
		{ "--token", NULL, &c->token_flag, NULL, NULL, NULL },
		{ "--user", NULL, &c->user_flag, NULL, NULL, NULL },
		{ "--help", "-h", NULL, &c->help, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};
	int only_pos = 0;

	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq, *val = NULL;
		const struct flag *f = NULL;
		size_t len;

		if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
			if (*npos == MAX_POS)
				return usage_error(c, "too many arguments");
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = 1;
			continue;
		}
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		for (size_t k = 0; flags && flags[k].name && !f; k++)
			if (match_flag(&flags[k], a, len))
				f = &flags[k];
		for (size_t k = 0; globals[k].name && !f; k++)
			if (match_flag(&globals[k], a, len))
				f = &globals[k];
		if (!f)
			return usage_error(c, "unknown flag '%.*s'", (int)len,
					   a);
		if (f->set) {
			if (eq)
				return usage_error(c, "%s takes no value",
						   f->name);
			*f->set = 1;
			continue;
		}
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return usage_error(c, "%s needs a value", f->name);
		if (f->list) {
			if (*f->count == MAX_FILES)
				return usage_error(c, "too many %s", f->name);
			f->list[(*f->count)++] = val;
		} else {
			*f->value = val;
		}
	}
	return 0;
}

/* ---- server, token and requests ----------------------------------------- */

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/*
 * Where and who: flags, then the environment, then the config file.
 * Returns 0 or an exit code (a bad config file).
 */
static int connect_setup(struct ctl *c)
{
	char path[4096];
	const char *server;
	int from_env, error;
	size_t len;

	from_env = wl_cli_config_path(path, sizeof(path));
	if (from_env >= 0 &&
	    (error = wl_cli_config_load(&c->cfg, path, from_env)) < 0)
		return say(WL_CLI_USAGE, "%s", wl_error_last());
	server = c->server_flag ? c->server_flag
				: env_nonempty("WORKLET_SERVER");
	if (!server)
		server = c->cfg.server ? c->cfg.server : DEFAULT_SERVER;
	if (strstr(server, "://"))
		snprintf(c->server, sizeof(c->server), "%s", server);
	else
		snprintf(c->server, sizeof(c->server), "http://%s", server);
	len = strlen(c->server);
	while (len > 0 && c->server[len - 1] == '/')
		c->server[--len] = '\0';
	c->conn.server = c->server;
	c->conn.token =
		c->token_flag ? c->token_flag : env_nonempty("WORKLET_TOKEN");
	if (!c->conn.token)
		c->conn.token = c->cfg.token;
	c->conn.user =
		c->user_flag ? c->user_flag : env_nonempty("WORKLET_USER");
	if (!c->conn.user)
		c->conn.user = c->cfg.user;
	return 0;
}

/* Print the error of a failed answer; return its exit code. */
static int answer_error(const struct ctl *c, const struct wl_cli_response *r,
			const char *context)
{
	char msg[2048];
	int code = wl_cli_exit_for_status(r->status);

	wl_cli_error_message(r, msg, sizeof(msg));
	/* Some endpoints do not repeat the id: name it the same everywhere. */
	if (code == WL_CLI_NOTFOUND && c->id)
		snprintf(msg, sizeof(msg), "worklet '%s' not found", c->id);
	if (code == WL_CLI_AUTH)
		return say(code,
			   "%s (server %s; set WORKLET_TOKEN, --token or "
			   "token: in the config file)",
			   msg, c->server);
	if (context)
		return say(code, "%s: %s", context, msg);
	return say(code, "%s", msg);
}

/*
 * One request. 0 when the answer is 2xx (r holds it); otherwise the error
 * is printed and its exit code returned.
 */
static int call(struct ctl *c, struct wl_cli_response *r, const char *method,
		const char *path, const char *body, long timeout_s,
		const char *context)
{
	if (wl_cli_http_request(r, &c->conn, method, path, body, timeout_s) < 0)
		return say(WL_CLI_SERVER, "%s", wl_error_last());
	if (r->status < 200 || r->status >= 300)
		return answer_error(c, r, context);
	return 0;
}

/* call() and parse the JSON answer into *out (owned by the caller). */
static int call_json(struct ctl *c, cJSON **out, const char *method,
		     const char *path, const char *body, long timeout_s)
{
	struct wl_cli_response r;
	int code;

	*out = NULL;
	wl_cli_response_init(&r);
	code = call(c, &r, method, path, body, timeout_s, NULL);
	if (!code && !(*out = cJSON_ParseWithLength(r.body.ptr, r.body.len)))
		code = say(WL_CLI_SERVER,
			   "the server's answer to %s %s is "
			   "not JSON",
			   method, path);
	wl_cli_response_release(&r);
	return code;
}

/* "/api/worklet/worklets/<id><rest>"; id becomes the command's subject. */
static void worklet_path(struct ctl *c, char *out, size_t n, const char *id,
			 const char *rest)
{
	char esc[256];

	c->id = id;
	wl_cli_url_escape(esc, sizeof(esc), id);
	snprintf(out, n, API "/%s%s", esc, rest ? rest : "");
}

/* ---- JSON and text helpers ---------------------------------------------- */

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *jstr_or(const cJSON *o, const char *key, const char *def)
{
	const char *s = jstr(o, key);

	return s && *s ? s : def;
}

static double jnum(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* "5s", "3m", "2h", "4d" since an RFC 3339 time; "-" when unknown. */
static void age(char *out, size_t n, const char *when)
{
	int64_t ms, d;

	if (!when || wl_time_parse(&ms, when) < 0) {
		snprintf(out, n, "-");
		return;
	}
	d = (wl_time_now_ms() - ms) / 1000;
	if (d < 0)
		d = 0;
	if (d < 120)
		snprintf(out, n, "%llds", (long long)d);
	else if (d < 7200)
		snprintf(out, n, "%lldm", (long long)(d / 60));
	else if (d < 172800)
		snprintf(out, n, "%lldh", (long long)(d / 3600));
	else
		snprintf(out, n, "%lldd", (long long)(d / 86400));
}

/* The first line of s, at most max bytes (then "..."), into out. */
static void first_line(char *out, size_t n, const char *s, size_t max)
{
	size_t len;

	if (!s) {
		snprintf(out, n, "-");
		return;
	}
	s += strspn(s, " \t\r\n");
	len = strcspn(s, "\r\n");
	if (len > max)
		snprintf(out, n, "%.*s...", (int)(max - 3), s);
	else
		snprintf(out, n, "%.*s", (int)len, s);
}

/* A table: rows of cells, columns padded to their widest cell. */
#define TABLE_COLS 8
struct table {
	char *cells[256][TABLE_COLS];
	int rows, cols;
};

static void table_row(struct table *t, const char *const *cells)
{
	if (t->rows == 256)
		return;
	for (int i = 0; i < t->cols; i++)
		t->cells[t->rows][i] = strdup(cells[i] ? cells[i] : "-");
	t->rows++;
}

static void table_print(struct table *t, const char *indent)
{
	size_t w[TABLE_COLS] = { 0 };

	for (int r = 0; r < t->rows; r++)
		for (int i = 0; i < t->cols; i++)
			if (t->cells[r][i] && strlen(t->cells[r][i]) > w[i])
				w[i] = strlen(t->cells[r][i]);
	for (int r = 0; r < t->rows; r++) {
		fputs(indent, stdout);
		for (int i = 0; i < t->cols; i++) {
			const char *s = t->cells[r][i] ? t->cells[r][i] : "";

			if (i == t->cols - 1)
				printf("%s\n", s);
			else
				printf("%-*s   ", (int)w[i], s);
		}
		for (int i = 0; i < t->cols; i++)
			free(t->cells[r][i]);
	}
	t->rows = 0;
}

/* JSON indented by two spaces (cJSON_Print's tabs read badly). */
static void json_pretty(const cJSON *o, int depth)
{
	const cJSON *it;
	int open = cJSON_IsObject(o) ? '{' : '[', n = 0;
	char *text;

	if (!cJSON_IsObject(o) && !cJSON_IsArray(o)) {
		text = cJSON_PrintUnformatted(o);
		fputs(text ? text : "null", stdout);
		cJSON_free(text);
		return;
	}
	if (!o->child) {
		fputs(open == '{' ? "{}" : "[]", stdout);
		return;
	}
	putchar(open);
	cJSON_ArrayForEach (it, o) {
		printf("%s\n%*s", n++ ? "," : "", 2 * (depth + 1), "");
		if (open == '{') {
			cJSON *key = cJSON_CreateString(it->string);

			text = cJSON_PrintUnformatted(key);
			printf("%s: ", text ? text : "\"\"");
			cJSON_free(text);
			cJSON_Delete(key);
		}
		json_pretty(it, depth + 1);
	}
	printf("\n%*s%c", 2 * depth, "", open == '{' ? '}' : ']');
}

static void print_json(const cJSON *o)
{
	json_pretty(o, 0);
	putchar('\n');
}

/* A resource document (JSON text) as YAML on stdout, indented. */
static int print_resource_yaml(const char *json, int as_item)
{
	struct wl_worklet w;
	struct wl_buf out;
	int error;

	wl_worklet_init(&w);
	wl_buf_init(&out, 8 << 20);
	error = wl_json_decode_full(&w, json, strlen(json));
	if (!error)
		error = wl_yaml_encode_full(&out, &w);
	if (error < 0) {
		say(WL_CLI_SERVER, "cannot convert the server's answer: %s",
		    wl_error_last());
	} else if (!as_item) {
		fputs(wl_buf_cstr(&out), stdout);
	} else {
		/* A list item: "- " on the first line, two spaces after. */
		const char *p = wl_buf_cstr(&out);
		int first = 1;

		while (*p) {
			size_t len = strcspn(p, "\n");

			printf("%s%.*s\n", first ? "- " : (len ? "  " : ""),
			       (int)len, p);
			first = 0;
			p += len + (p[len] == '\n');
		}
	}
	wl_buf_release(&out);
	wl_worklet_release(&w);
	return error < 0 ? WL_CLI_SERVER : 0;
}

/* ---- apply -------------------------------------------------------------- */

static int read_stream(struct wl_buf *out, FILE *f)
{
	char chunk[8192];
	size_t got;

	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (wl_buf_add(out, chunk, got) < 0)
			return WL_ETOOBIG;
	return ferror(f) ? WL_ERROR : 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static int manifest_name(const char *name)
{
	return name[0] != '.' &&
	       (ends_with(name, ".yaml") || ends_with(name, ".yml") ||
		ends_with(name, ".json"));
}

/* The id a file name gives: "dir/todo-demo.yaml" -> "todo-demo". */
static void id_from_file(char *out, size_t n, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strcspn(base, ".");
	snprintf(out, n, "%.*s", (int)len, base);
}

/* One manifest: check it here, then PUT it. Returns an exit code. */
static int apply_one(struct ctl *c, const char *path, const char *data,
		     size_t len)
{
	struct wl_worklet w;
	struct wl_cli_response r;
	struct wl_buf body;
	char id[128], wpath[512];
	double before = -1;
	cJSON *answer = NULL;
	int error, code = 0;

	wl_worklet_init(&w);
	wl_cli_response_init(&r);
	wl_buf_init(&body, 2 * WL_SPEC_FILE_MAX);
	if (ends_with(path, ".json"))
		error = wl_json_decode_spec(&w, data, len);
	else
		error = wl_yaml_decode_spec(&w, data, len);
	if (error < 0) {
		code = say(WL_CLI_INVALID, "%s: %s", path, wl_error_last());
		goto out;
	}
	if (!w.meta.id) {
		id_from_file(id, sizeof(id), path);
		if (!strcmp(path, "-") || wl_validate_id(id) < 0) {
			code = say(WL_CLI_INVALID,
				   "%s: metadata.id: required (the file name "
				   "does not give a valid id)",
				   path);
			goto out;
		}
		wl_str_set(&w.meta.id, id);
	}
	/* Local repositories are the server's call: allow them here. */
	if (wl_validate_worklet(&w, 1) < 0) {
		code = say(WL_CLI_INVALID, "%s: %s", path, wl_error_last());
		goto out;
	}
	worklet_path(c, wpath, sizeof(wpath), w.meta.id, NULL);
	if (wl_cli_http_request(&r, &c->conn, "GET", wpath, NULL, TIMEOUT_S) <
	    0) {
		code = say(WL_CLI_SERVER, "%s", wl_error_last());
		goto out;
	}
	if (r.status == 200) {
		cJSON *cur = cJSON_ParseWithLength(r.body.ptr, r.body.len);

		before = jnum(cur, "generation");
		cJSON_Delete(cur);
	} else if (r.status != 404) {
		code = answer_error(c, &r, path);
		goto out;
	}
	if (wl_json_encode_full(&body, &w) < 0) {
		code = say(WL_CLI_INVALID, "%s: %s", path, wl_error_last());
		goto out;
	}
	if ((code = call(c, &r, "PUT", wpath, wl_buf_cstr(&body), TIMEOUT_S,
			 path)))
		goto out;
	answer = cJSON_ParseWithLength(r.body.ptr, r.body.len);
	if (r.status == 201)
		printf("worklet/%s created\n", w.meta.id);
	else if (before >= 0 && jnum(answer, "generation") == before)
		printf("worklet/%s unchanged\n", w.meta.id);
	else
		printf("worklet/%s configured\n", w.meta.id);
	fflush(stdout);
out:
	cJSON_Delete(answer);
	wl_buf_release(&body);
	wl_cli_response_release(&r);
	wl_worklet_release(&w);
	return code;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every manifest of a directory, sorted by name (not recursive). */
static int apply_dir(struct ctl *c, const char *dir)
{
	char *names[MAX_FILES];
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);
	int worst = 0;

	if (!d)
		return say(WL_CLI_USAGE, "cannot read '%s': %s", dir,
			   strerror(errno));
	while ((de = readdir(d)) && n < MAX_FILES)
		if (manifest_name(de->d_name))
			names[n++] = strdup(de->d_name);
	closedir(d);
	if (!n)
		return say(WL_CLI_USAGE,
			   "no manifests (*.yaml, *.yml, *.json) in '%s'", dir);
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		struct wl_buf data;
		char path[4096];
		FILE *f;
		int code;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		wl_buf_init(&data, WL_SPEC_FILE_MAX + 1);
		if (!(f = fopen(path, "rb"))) {
			code = say(WL_CLI_USAGE, "cannot read '%s': %s", path,
				   strerror(errno));
		} else if (read_stream(&data, f) < 0) {
			code = say(WL_CLI_INVALID, "%s: larger than %d KiB",
				   path, WL_SPEC_FILE_MAX / 1024);
		} else {
			code = apply_one(c, path, data.ptr, data.len);
		}
		if (f)
			fclose(f);
		wl_buf_release(&data);
		free(names[i]);
		if (code && !worst)
			worst = code;
	}
	return worst;
}

static int cmd_apply(struct ctl *c, int argc, char **argv)
{
	const char *files[MAX_FILES];
	char *pos[MAX_POS];
	int nfiles = 0, npos, code, worst = 0;
	const struct flag flags[] = {
		{ "--filename", "-f", NULL, NULL, files, &nfiles },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	if ((code = parse_args(c, argc, argv, flags, pos, &npos)) || c->help)
		return code;
	if (npos)
		return usage_error(c, "unexpected argument '%s'", pos[0]);
	if (!nfiles)
		return usage_error(c, "-f FILE|DIR is required");
	if ((code = connect_setup(c)))
		return code;
	for (int i = 0; i < nfiles; i++) {
		struct wl_buf data;
		struct stat st;
		FILE *f = NULL;

		if (strcmp(files[i], "-") && stat(files[i], &st) == 0 &&
		    S_ISDIR(st.st_mode)) {
			code = apply_dir(c, files[i]);
			if (code && !worst)
				worst = code;
			continue;
		}
		wl_buf_init(&data, WL_SPEC_FILE_MAX + 1);
		if (!strcmp(files[i], "-"))
			f = stdin;
		else if (!(f = fopen(files[i], "rb")))
			code = say(WL_CLI_USAGE, "cannot read '%s': %s",
				   files[i], strerror(errno));
		if (f && read_stream(&data, f) < 0)
			code = say(WL_CLI_INVALID, "%s: larger than %d KiB",
				   files[i], WL_SPEC_FILE_MAX / 1024);
		else if (f)
			code = apply_one(c, files[i], data.ptr, data.len);
		if (f && f != stdin)
			fclose(f);
		wl_buf_release(&data);
		if (code && !worst)
			worst = code;
	}
	return worst;
}

/* ---- get ---------------------------------------------------------------- */

static void worklet_row(struct table *t, const cJSON *w)
{
	const char *commit = jstr(w, "serving_commit");
	char short_commit[16], when[32];
	const char *cells[6];

	if (!commit)
		commit = jstr(w, "commit");
	snprintf(short_commit, sizeof(short_commit), "%.7s",
		 commit ? commit : "-");
	age(when, sizeof(when), jstr(w, "created_at"));
	cells[0] = jstr(w, "id");
	cells[1] = jstr_or(w, "name", "-");
	cells[2] = cJSON_IsTrue(cJSON_GetObjectItem(w, "deleting"))
			   ? "deleting"
			   : jstr(w, "status");
	cells[3] = short_commit;
	cells[4] = when;
	cells[5] = jstr(w, "web_url");
	table_row(t, cells);
}

static int get_resources(struct ctl *c, const char *id, const char *format)
{
	char path[512];
	cJSON *root = NULL, *item;
	int code;

	if (id)
		worklet_path(c, path, sizeof(path), id, "?format=resource");
	else
		snprintf(path, sizeof(path), API "?format=resource");
	if ((code = call_json(c, &root, "GET", path, NULL, TIMEOUT_S)))
		return code;
	if (!strcmp(format, "json")) {
		print_json(root);
	} else if (id) {
		char *text = cJSON_PrintUnformatted(root);

		code = print_resource_yaml(text ? text : "", 0);
		cJSON_free(text);
	} else {
		printf("apiVersion: %s\nkind: WorkletList\nitems:%s\n",
		       jstr_or(root, "apiVersion", "worklet.dev/v1"),
		       cJSON_GetArraySize(cJSON_GetObjectItem(root, "items"))
			       ? ""
			       : " []");
		cJSON_ArrayForEach (item, cJSON_GetObjectItem(root, "items")) {
			char *text = cJSON_PrintUnformatted(item);

			code = print_resource_yaml(text ? text : "", 1);
			cJSON_free(text);
			if (code)
				break;
		}
	}
	cJSON_Delete(root);
	return code;
}

static int cmd_get(struct ctl *c, int argc, char **argv)
{
	const char *output = NULL;
	char *pos[MAX_POS], path[512];
	struct table t = { .cols = 6 };
	static const char *const header[] = { "ID",	"NAME", "STATUS",
					      "COMMIT", "AGE",	"URL" };
	cJSON *root = NULL, *w;
	int npos, code;
	const struct flag flags[] = {
		{ "--output", "-o", &output, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	if ((code = parse_args(c, argc, argv, flags, pos, &npos)) || c->help)
		return code;
	if (npos > 1)
		return usage_error(c, "unexpected argument '%s'", pos[1]);
	if (output && strcmp(output, "json") && strcmp(output, "yaml") &&
	    strcmp(output, "name"))
		return usage_error(c, "-o: must be json, yaml or name");
	if ((code = connect_setup(c)))
		return code;
	if (output && strcmp(output, "name"))
		return get_resources(c, npos ? pos[0] : NULL, output);
	if (npos)
		worklet_path(c, path, sizeof(path), pos[0], NULL);
	else
		snprintf(path, sizeof(path), API);
	if ((code = call_json(c, &root, "GET", path, NULL, TIMEOUT_S)))
		return code;
	if (output) { /* name */
		if (npos)
			printf("%s\n", jstr_or(root, "id", ""));
		cJSON_ArrayForEach (w, cJSON_GetObjectItem(root, "worklets"))
			printf("%s\n", jstr_or(w, "id", ""));
		cJSON_Delete(root);
		return 0;
	}
	table_row(&t, header);
	if (npos)
		worklet_row(&t, root);
	cJSON_ArrayForEach (w, cJSON_GetObjectItem(root, "worklets"))
		worklet_row(&t, w);
	if (t.rows == 1) {
		fprintf(stderr, "No worklets yet; create one with "
				"'workletctl apply -f FILE'.\n");
		for (int i = 0; i < t.cols; i++)
			free(t.cells[0][i]);
	} else {
		table_print(&t, "");
	}
	cJSON_Delete(root);
	return 0;
}

/* ---- describe ----------------------------------------------------------- */

static void field(const char *name, const char *value)
{
	printf("%-15s %s\n", name, value && *value ? value : "-");
}

static void describe_prompts(const cJSON *list)
{
	struct table t = { .cols = 6 };
	static const char *const header[] = { "ID",	"STATUS", "STAGE",
					      "COMMIT", "AGE",	  "PROMPT" };
	const cJSON *p;
	int count = (int)jnum(list, "count"), i = 0;

	printf("Prompts:        %d (%d processing)%s\n", count,
	       (int)jnum(list, "processing"),
	       count > 20 ? ", the last 20" : "");
	if (!count)
		return;
	table_row(&t, header);
	cJSON_ArrayForEach (p, cJSON_GetObjectItem(list, "prompts")) {
		char commit[16], when[32], text[80];
		const char *cells[6];

		if (i++ < count - 20)
			continue;

		snprintf(commit, sizeof(commit), "%.7s",
			 jstr_or(p, "commit_sha", "-"));
		age(when, sizeof(when), jstr(p, "created_at"));
		first_line(text, sizeof(text), jstr(p, "prompt"), 50);
		cells[0] = jstr(p, "id");
		cells[1] = jstr(p, "status");
		cells[2] = jstr(p, "stage");
		cells[3] = commit;
		cells[4] = when;
		cells[5] = text;
		table_row(&t, cells);
	}
	table_print(&t, "  ");
	i = 0;
	cJSON_ArrayForEach (p, cJSON_GetObjectItem(list, "prompts"))
		if (i++ >= count - 20 && jstr(p, "error"))
			printf("  %s: error: %s\n", jstr(p, "id"),
			       jstr(p, "error"));
}

static void describe_worklet(const cJSON *w)
{
	const cJSON *o, *it, *det;
	char line[1024], when[32];
	struct table t = { .cols = 5 };
	static const char *const header[] = { "TYPE", "STATUS", "REASON", "AGE",
					      "MESSAGE" };

	field("Id:", jstr(w, "id"));
	field("Name:", jstr(w, "name"));
	field("Description:", jstr(w, "description"));
	field("User:", jstr(w, "user_id"));
	snprintf(line, sizeof(line), "%s (branch %s)",
		 jstr_or(w, "git_repo", "-"), jstr_or(w, "branch", "main"));
	field("Repository:", line);
	if (jstr(w, "app_path"))
		field("App path:", jstr(w, "app_path"));
	snprintf(line, sizeof(line), "%s%s (desired: %s)",
		 jstr_or(w, "status", "-"),
		 cJSON_IsTrue(cJSON_GetObjectItem(w, "deleting")) ? ", deleting"
								  : "",
		 jstr_or(w, "run_state", "running"));
	field("Status:", line);
	field("URL:", jstr(w, "web_url"));
	snprintf(line, sizeof(line), "%d", (int)jnum(w, "port"));
	field("Port:", jnum(w, "port") ? line : NULL);
	snprintf(line, sizeof(line), "%.12s%s%.12s%s",
		 jstr_or(w, "commit", "-"),
		 jstr(w, "serving_commit") ? " (serving " : "",
		 jstr_or(w, "serving_commit", ""),
		 jstr(w, "serving_commit") ? ")" : "");
	field("Commit:", line);
	snprintf(line, sizeof(line), "%d (observed %d)",
		 (int)jnum(w, "generation"),
		 (int)jnum(w, "observed_generation"));
	field("Generation:", line);
	snprintf(line, sizeof(line), "%d (last exit code %d)",
		 (int)jnum(w, "restart_count"), (int)jnum(w, "last_exit_code"));
	field("Restarts:", line);
	age(when, sizeof(when), jstr(w, "created_at"));
	snprintf(line, sizeof(line), "%s (%s ago)",
		 jstr_or(w, "created_at", "-"), when);
	field("Created:", line);
	field("Session:", jstr(w, "session_id"));
	field("Last error:", jstr(w, "last_error"));
	o = cJSON_GetObjectItem(w, "environment");
	printf("Environment:%s\n", cJSON_GetArraySize(o) ? "" : "    -");
	cJSON_ArrayForEach (it, o)
		printf("  %s=%s\n", it->string,
		       cJSON_IsString(it) ? it->valuestring : "");
	det = cJSON_GetObjectItem(w, "detection");
	if (cJSON_IsObject(det)) {
		printf("Detection:\n");
		printf("  %-13s %s\n", "Type:", jstr_or(det, "type", "-"));
		printf("  %-13s %s\n",
		       "Framework:", jstr_or(det, "framework", "-"));
		printf("  %-13s %s\n",
		       "Start:", jstr_or(det, "start_command", "-"));
		printf("  %-13s %d\n", "Port:", (int)jnum(det, "port"));
		printf("  Evidence:\n");
		cJSON_ArrayForEach (it, cJSON_GetObjectItem(det, "evidence"))
			if (cJSON_IsString(it))
				printf("    - %s\n", it->valuestring);
	} else {
		printf("Detection:      - (not yet)\n");
	}
	o = cJSON_GetObjectItem(w, "conditions");
	printf("Conditions:%s\n", cJSON_GetArraySize(o) ? "" : "     -");
	if (cJSON_GetArraySize(o)) {
		table_row(&t, header);
		cJSON_ArrayForEach (it, o) {
			const char *cells[5];

			age(when, sizeof(when),
			    jstr(it, "last_transition_time"));
			first_line(line, sizeof(line), jstr(it, "message"),
				   200);
			cells[0] = jstr(it, "type");
			cells[1] = jstr(it, "status");
			cells[2] = jstr_or(it, "reason", "-");
			cells[3] = when;
			cells[4] = line;
			table_row(&t, cells);
		}
		table_print(&t, "  ");
	}
}

static void describe_pr(const cJSON *w)
{
	const cJSON *pr = cJSON_GetObjectItem(w, "pull_request");

	if (!cJSON_IsObject(pr)) {
		printf("Pull request:   -\n");
		return;
	}
	if (jstr(pr, "error")) {
		printf("Pull request:   failed (%s): %s\n",
		       jstr_or(pr, "error_code", "error"), jstr(pr, "error"));
		return;
	}
	printf("Pull request:   #%d %s\n", (int)jnum(pr, "number"),
	       jstr_or(pr, "url", "-"));
	printf("  %-13s %s -> %s (commit %.12s)\n",
	       "Branch:", jstr_or(pr, "branch", "-"), jstr_or(pr, "base", "-"),
	       jstr_or(pr, "commit", "-"));
}

/* The last n lines of text, indented. */
static void tail_lines(const char *text, int n)
{
	const char *p = text + strlen(text);
	int lines = 0;

	while (p > text && (p[-1] == '\n' || p[-1] == '\r'))
		p--;
	while (p > text && lines <= n) {
		p--;
		if (*p == '\n')
			lines++;
	}
	if (*p == '\n')
		p++;
	while (*p) {
		size_t len = strcspn(p, "\n");

		printf("  %.*s\n", (int)len, p);
		p += len + (p[len] == '\n');
	}
}

static int cmd_describe(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS], path[512];
	cJSON *w = NULL, *prompts = NULL;
	const char *logs;
	int npos, code;

	if ((code = parse_args(c, argc, argv, NULL, pos, &npos)) || c->help)
		return code;
	if (npos != 1)
		return usage_error(c, "describe takes one worklet id");
	if ((code = connect_setup(c)))
		return code;
	worklet_path(c, path, sizeof(path), pos[0], NULL);
	if ((code = call_json(c, &w, "GET", path, NULL, TIMEOUT_S)))
		return code;
	worklet_path(c, path, sizeof(path), pos[0], "/prompts");
	if ((code = call_json(c, &prompts, "GET", path, NULL, TIMEOUT_S)))
		goto out;
	describe_worklet(w);
	describe_prompts(prompts);
	describe_pr(w);
	logs = jstr(w, "build_logs");
	if (logs && *logs) {
		printf("Build output (last lines):\n");
		tail_lines(logs, 12);
	}
out:
	cJSON_Delete(w);
	cJSON_Delete(prompts);
	return code;
}

/* ---- delete, start, stop, restart, open --------------------------------- */

static int parse_timeout(struct ctl *c, const char *s, long *out)
{
	char *end;
	long v;

	if (!s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 86400)
		return usage_error(c, "--timeout: must be 1-86400 seconds");
	*out = v;
	return 0;
}

static int cmd_delete(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS], path[512];
	const char *timeout_s = NULL;
	struct wl_cli_response r;
	long timeout = 300;
	int npos, code, wait = 0;
	int64_t deadline;
	const struct flag flags[] = {
		{ "--wait", "-w", NULL, &wait, NULL, NULL },
		{ "--timeout", NULL, &timeout_s, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	if ((code = parse_args(c, argc, argv, flags, pos, &npos)) || c->help)
		return code;
	if (npos != 1)
		return usage_error(c, "delete takes one worklet id");
	if ((code = parse_timeout(c, timeout_s, &timeout)) ||
	    (code = connect_setup(c)))
		return code;
	worklet_path(c, path, sizeof(path), pos[0], NULL);
	wl_cli_response_init(&r);
	if ((code = call(c, &r, "DELETE", path, NULL, TIMEOUT_S, NULL)))
		goto out;
	if (!wait) {
		printf("worklet/%s deletion requested\n", pos[0]);
		goto out;
	}
	deadline = wl_time_mono_ms() + timeout * 1000;
	for (;;) {
		if (wl_cli_http_request(&r, &c->conn, "GET", path, NULL,
					TIMEOUT_S) < 0) {
			code = say(WL_CLI_SERVER, "%s", wl_error_last());
			break;
		}
		if (r.status == 404) {
			printf("worklet/%s deleted\n", pos[0]);
			break;
		}
		if (r.status != 200) {
			code = answer_error(c, &r, NULL);
			break;
		}
		if (wl_time_mono_ms() > deadline) {
			code = say(WL_CLI_SERVER,
				   "worklet '%s' is still being deleted after "
				   "%ld s",
				   pos[0], timeout);
			break;
		}
		usleep(300 * 1000);
	}
out:
	wl_cli_response_release(&r);
	return code;
}

static int cmd_action(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS], path[512], rest[32];
	struct wl_cli_response r;
	int npos, code;

	if ((code = parse_args(c, argc, argv, NULL, pos, &npos)) || c->help)
		return code;
	if (npos != 1)
		return usage_error(c, "%s takes one worklet id", c->cmd);
	if ((code = connect_setup(c)))
		return code;
	snprintf(rest, sizeof(rest), "/%s", c->cmd);
	worklet_path(c, path, sizeof(path), pos[0], rest);
	wl_cli_response_init(&r);
	if (!(code = call(c, &r, "POST", path, NULL, TIMEOUT_S, NULL)))
		printf("worklet/%s %s\n", pos[0],
		       !strcmp(c->cmd, "stop")	  ? "stopped"
		       : !strcmp(c->cmd, "start") ? "started"
						  : "restarted");
	wl_cli_response_release(&r);
	return code;
}

/*
 * open: a link a browser opens with no credentials (POST .../preview): the
 * prototype at the root of its own origin, signed in for this user. The
 * bare web_url needs a sign-in that only such a link gives a browser.
 */
static int cmd_open(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS], path[512];
	cJSON *w = NULL, *t = NULL;
	int npos, code;

	if ((code = parse_args(c, argc, argv, NULL, pos, &npos)) || c->help)
		return code;
	if (npos != 1)
		return usage_error(c, "open takes one worklet id");
	if ((code = connect_setup(c)))
		return code;
	worklet_path(c, path, sizeof(path), pos[0], NULL);
	if ((code = call_json(c, &w, "GET", path, NULL, TIMEOUT_S)))
		return code;
	worklet_path(c, path, sizeof(path), pos[0], "/preview");
	if ((code = call_json(c, &t, "POST", path, NULL, TIMEOUT_S)))
		goto out;
	if (jstr(t, "url"))
		printf("%s\n", jstr(t, "url"));
	else
		code = say(WL_CLI_SERVER, "worklet '%s' has no URL", pos[0]);
	if (!code && strcmp(jstr_or(w, "status", ""), "running"))
		fprintf(stderr, "note: worklet '%s' is %s, not running\n",
			pos[0], jstr_or(w, "status", "creating"));
out:
	cJSON_Delete(w);
	cJSON_Delete(t);
	return code;
}

/* ---- prompt, prompts ---------------------------------------------------- */

struct prompt_run {
	struct ctl *c;
	const char *id;
	char *body; /* {"prompt": ...} */
	char pid[64];
	char stage[32];
	int posted, show_agent, finished, code;
	int64_t deadline;
	cJSON *result; /* the finished prompt */
};

/* POST the prompt; 0 or an exit code (printed). */
static int prompt_post(struct prompt_run *pr)
{
	char path[512];
	cJSON *p = NULL;
	int code;

	worklet_path(pr->c, path, sizeof(path), pr->id, "/prompt");
	pr->posted = 1;
	if ((code = call_json(pr->c, &p, "POST", path, pr->body, TIMEOUT_S)))
		return code;
	snprintf(pr->pid, sizeof(pr->pid), "%s", jstr_or(p, "id", ""));
	snprintf(pr->stage, sizeof(pr->stage), "%s",
		 jstr_or(p, "stage", "queued"));
	pr->show_agent = jnum(p, "queue_position") == 0;
	if (!pr->show_agent)
		fprintf(stderr, "prompt %s queued behind %d other(s)\n",
			pr->pid, (int)jnum(p, "queue_position"));
	else
		fprintf(stderr, "prompt %s queued\n", pr->pid);
	cJSON_Delete(p);
	return 0;
}

/* Look at the prompt: stage changes, the end. Non-zero: stop waiting. */
static int prompt_poll(void *arg)
{
	struct prompt_run *pr = arg;
	char path[512], rest[128];
	cJSON *p = NULL;
	const char *stage, *status;

	if (!pr->pid[0])
		return 0;
	snprintf(rest, sizeof(rest), "/prompts/%s", pr->pid);
	worklet_path(pr->c, path, sizeof(path), pr->id, rest);
	if ((pr->code = call_json(pr->c, &p, "GET", path, NULL, TIMEOUT_S)))
		return 1;
	stage = jstr_or(p, "stage", "");
	status = jstr_or(p, "status", "");
	if (strcmp(stage, pr->stage)) {
		snprintf(pr->stage, sizeof(pr->stage), "%s", stage);
		if (strcmp(stage, "queued"))
			pr->show_agent = 1;
		if (strcmp(stage, "done"))
			fprintf(stderr, "stage: %s\n", stage);
	}
	if (strcmp(status, "processing")) {
		pr->finished = 1;
		pr->result = p;
		return 1;
	}
	cJSON_Delete(p);
	if (pr->deadline && wl_time_mono_ms() > pr->deadline) {
		pr->code = say(WL_CLI_SERVER,
			       "prompt %s has not finished in time (stage "
			       "%s); 'workletctl prompts %s' shows it later",
			       pr->pid, pr->stage, pr->id);
		return 1;
	}
	return 0;
}

static int prompt_event(void *arg, const char *json, size_t len)
{
	struct prompt_run *pr = arg;
	cJSON *ev = cJSON_ParseWithLength(json, len);
	const char *type = jstr(ev, "type");
	int stop = 0;

	if (type && !strcmp(type, "hello") && !pr->posted) {
		if ((pr->code = prompt_post(pr)))
			stop = 1;
	} else if (type && !strcmp(type, "log") && pr->show_agent &&
		   !pr->finished &&
		   !strcmp(jstr_or(ev, "stream", ""), "agent")) {
		fprintf(stderr, "  %s\n", jstr_or(ev, "line", ""));
	} else if (type && !strcmp(type, "deleted")) {
		pr->code = say(WL_CLI_NOTFOUND, "worklet '%s' was deleted",
			       pr->id);
		stop = 1;
	}
	cJSON_Delete(ev);
	return stop;
}

static int prompt_report(struct prompt_run *pr)
{
	const cJSON *p = pr->result;
	const char *response = jstr(p, "response");
	const char *commit = jstr(p, "commit_sha");

	if (response && *response)
		printf("%s%s", response,
		       response[strlen(response) - 1] == '\n' ? "" : "\n");
	if (commit)
		printf("commit: %s\n", commit);
	else
		printf("commit: none (no changes)\n");
	fprintf(stderr, "prompt %s %s in %.1f s, %d turn(s), $%.4f\n", pr->pid,
		jstr_or(p, "status", "?"), jnum(p, "duration_ms") / 1000.0,
		(int)jnum(p, "num_turns"), jnum(p, "cost_usd"));
	if (strcmp(jstr_or(p, "status", ""), "completed"))
		return say(WL_CLI_FAILED, "prompt %s failed: %s", pr->pid,
			   jstr_or(p, "error", "unknown error"));
	return 0;
}

static int read_prompt_text(struct ctl *c, const char *arg, char **out)
{
	struct wl_buf b;
	cJSON *o;

	*out = NULL;
	wl_buf_init(&b, WL_PROMPT_MAX + 1);
	if (!strcmp(arg, "-")) {
		if (read_stream(&b, stdin) < 0) {
			wl_buf_release(&b);
			return say(WL_CLI_INVALID,
				   "prompt: must be at most %d bytes",
				   WL_PROMPT_MAX);
		}
		arg = wl_buf_cstr(&b);
	}
	if (!arg[strspn(arg, " \t\r\n")]) {
		wl_buf_release(&b);
		return usage_error(c, "the prompt text is empty");
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "prompt", arg);
	*out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	wl_buf_release(&b);
	return 0;
}

static int cmd_prompt(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS], path[512];
	const char *timeout_s = NULL;
	struct prompt_run pr;
	struct wl_cli_watch_opts wo;
	long timeout = 1800;
	int npos, code, no_wait = 0;
	cJSON *w = NULL;
	const struct flag flags[] = {
		{ "--no-wait", NULL, NULL, &no_wait, NULL, NULL },
		{ "--timeout", NULL, &timeout_s, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	memset(&pr, 0, sizeof(pr));
	if ((code = parse_args(c, argc, argv, flags, pos, &npos)) || c->help)
		return code;
	if (npos != 2)
		return usage_error(c, "prompt takes a worklet id and the "
				      "prompt text (or - to read stdin)");
	if ((code = parse_timeout(c, timeout_s, &timeout)) ||
	    (code = read_prompt_text(c, pos[1], &pr.body)) ||
	    (code = connect_setup(c)))
		goto out;
	pr.c = c;
	pr.id = pos[0];
	pr.deadline = wl_time_mono_ms() + timeout * 1000;
	if (no_wait) {
		cJSON *p = NULL;

		worklet_path(c, path, sizeof(path), pr.id, "/prompt");
		if (!(code = call_json(c, &p, "POST", path, pr.body,
				       TIMEOUT_S))) {
			printf("%s\n", jstr_or(p, "id", ""));
			fprintf(stderr, "prompt %s queued (position %d)\n",
				jstr_or(p, "id", ""),
				(int)jnum(p, "queue_position"));
		}
		cJSON_Delete(p);
		goto out;
	}
	/* Unknown id, bad token: say so before opening a stream. */
	worklet_path(c, path, sizeof(path), pr.id, NULL);
	if ((code = call_json(c, &w, "GET", path, NULL, TIMEOUT_S)))
		goto out;
	memset(&wo, 0, sizeof(wo));
	wo.conn = &c->conn;
	wo.worklet_id = pr.id;
	wo.logs = 1;
	wo.on_event = prompt_event;
	wo.on_tick = prompt_poll;
	wo.tick_ms = 250;
	wo.arg = &pr;
	if (wl_cli_watch_run(&wo) < 0 && !pr.code && !pr.finished) {
		/* No progress stream: the prompt still runs; poll it. */
		fprintf(stderr, "note: no progress (%s)\n", wl_error_last());
		if (!pr.posted && (pr.code = prompt_post(&pr)))
			goto done;
		while (!prompt_poll(&pr))
			usleep(300 * 1000);
	}
done:
	code = pr.code;
	if (!code && pr.finished)
		code = prompt_report(&pr);
out:
	cJSON_Delete(w);
	cJSON_Delete(pr.result);
	cJSON_free(pr.body);
	return code;
}

static int cmd_retry(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS], path[512], rest[64];
	cJSON *p = NULL;
	int npos, code;

	if ((code = parse_args(c, argc, argv, NULL, pos, &npos)) || c->help)
		return code;
	if (npos != 2)
		return usage_error(c,
				   "retry takes a worklet id and a prompt id");
	if (wl_prompt_validate_id(pos[1]) < 0)
		return usage_error(c,
				   "'%s' is not a prompt id (see workletctl "
				   "prompts %s)",
				   pos[1], pos[0]);
	if ((code = connect_setup(c)))
		return code;
	snprintf(rest, sizeof(rest), "/prompts/%s/retry", pos[1]);
	worklet_path(c, path, sizeof(path), pos[0], rest);
	if (!(code = call_json(c, &p, "POST", path, "{}", TIMEOUT_S)))
		printf("prompt %s queued again\n", jstr_or(p, "id", pos[1]));
	cJSON_Delete(p);
	return code;
}

static int cmd_prompts(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS], path[512];
	const char *output = NULL;
	struct table t = { .cols = 8 };
	static const char *const header[] = { "ID",	"STATUS", "STAGE",
					      "COMMIT", "COST",	  "AGE",
					      "TURNS",	"PROMPT" };
	cJSON *root = NULL, *p;
	int npos, code;
	const struct flag flags[] = {
		{ "--output", "-o", &output, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	if ((code = parse_args(c, argc, argv, flags, pos, &npos)) || c->help)
		return code;
	if (npos != 1)
		return usage_error(c, "prompts takes one worklet id");
	if (output && strcmp(output, "json"))
		return usage_error(c, "-o: must be json");
	if ((code = connect_setup(c)))
		return code;
	worklet_path(c, path, sizeof(path), pos[0], "/prompts");
	if ((code = call_json(c, &root, "GET", path, NULL, TIMEOUT_S)))
		return code;
	if (output) {
		print_json(root);
		cJSON_Delete(root);
		return 0;
	}
	table_row(&t, header);
	cJSON_ArrayForEach (p, cJSON_GetObjectItem(root, "prompts")) {
		char commit[16], cost[32], when[32], turns[16], text[80];
		const char *cells[8];

		snprintf(commit, sizeof(commit), "%.7s",
			 jstr_or(p, "commit_sha", "-"));
		snprintf(cost, sizeof(cost), "$%.4f", jnum(p, "cost_usd"));
		snprintf(turns, sizeof(turns), "%d", (int)jnum(p, "num_turns"));
		age(when, sizeof(when), jstr(p, "created_at"));
		first_line(text, sizeof(text), jstr(p, "prompt"), 60);
		cells[0] = jstr(p, "id");
		cells[1] = jstr(p, "status");
		cells[2] = jstr(p, "stage");
		cells[3] = commit;
		cells[4] = cost;
		cells[5] = when;
		cells[6] = turns;
		cells[7] = text;
		table_row(&t, cells);
		if (t.rows == 256) {
			table_print(&t, "");
			table_row(&t, header);
		}
	}
	if (t.rows == 1)
		fprintf(stderr, "No prompts yet.\n");
	else
		table_print(&t, "");
	for (int r = 0; r < t.rows; r++)
		for (int i = 0; i < t.cols; i++)
			free(t.cells[r][i]);
	cJSON_Delete(root);
	return 0;
}

/* ---- logs --------------------------------------------------------------- */

static void write_out(void *arg, const char *data, size_t len)
{
	(void)arg;
	fwrite(data, 1, len, stdout);
	fflush(stdout);
}

struct build_follow {
	const char *id;
	int building;	 /* a build is under way */
	int64_t ended;	 /* when the phase moved on (mono ms), 0: not yet */
	int64_t last_ms; /* when the last line came */
	int done;
};

/*
 * The phase moves on before the last lines of the build log have been
 * published: stop once they have stopped coming (a second), at most 5 s
 * after.
 */
static int build_tick(void *arg)
{
	struct build_follow *bf = arg;
	int64_t now = wl_time_mono_ms();

	return bf->ended &&
	       (now - bf->last_ms > 1000 || now - bf->ended > 5000);
}

static int build_event(void *arg, const char *json, size_t len)
{
	struct build_follow *bf = arg;
	cJSON *ev = cJSON_ParseWithLength(json, len);
	const char *type = jstr(ev, "type");

	if (type && !strcmp(type, "log") &&
	    !strcmp(jstr_or(ev, "stream", ""), "build")) {
		printf("%s\n", jstr_or(ev, "line", ""));
		fflush(stdout);
		bf->last_ms = wl_time_mono_ms();
	} else if (type && !strcmp(type, "phase")) {
		const char *ph = jstr_or(ev, "phase", "");

		if (!strcmp(ph, "building")) {
			bf->building = 1;
			bf->ended = 0;
		} else if (bf->building && strcmp(ph, "creating") &&
			   !bf->ended) {
			bf->ended = bf->last_ms = wl_time_mono_ms();
		}
	} else if (type && !strcmp(type, "deleted")) {
		bf->done = 1;
	}
	cJSON_Delete(ev);
	return bf->done;
}

static int cmd_logs(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS], path[512], rest[128], tail_esc[64];
	const char *tail = NULL;
	struct wl_cli_response r;
	int npos, code, follow = 0, build = 0;
	cJSON *root = NULL;
	const struct flag flags[] = {
		{ "--follow", "-f", NULL, &follow, NULL, NULL },
		{ "--build", NULL, NULL, &build, NULL, NULL },
		{ "--tail", NULL, &tail, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	if ((code = parse_args(c, argc, argv, flags, pos, &npos)) || c->help)
		return code;
	if (npos != 1)
		return usage_error(c, "logs takes one worklet id");
	if ((code = connect_setup(c)))
		return code;
	wl_cli_url_escape(tail_esc, sizeof(tail_esc), tail ? tail : "200");
	wl_cli_response_init(&r);
	if (follow && !build) {
		snprintf(rest, sizeof(rest), "/logs?follow=1&tail=%s",
			 tail_esc);
		worklet_path(c, path, sizeof(path), pos[0], rest);
		if (wl_cli_http_stream(&r, &c->conn, path, write_out, NULL) < 0)
			code = say(WL_CLI_SERVER, "%s", wl_error_last());
		else if (r.status != 200)
			code = answer_error(c, &r, NULL);
		goto out;
	}
	snprintf(rest, sizeof(rest), "/logs?tail=%s", tail_esc);
	worklet_path(c, path, sizeof(path), pos[0], rest);
	if ((code = call_json(c, &root, "GET", path, NULL, TIMEOUT_S)))
		goto out;
	if (build) {
		const char *text = jstr_or(root, "build_logs", "");

		fputs(text, stdout);
		if (*text && text[strlen(text) - 1] != '\n')
			putchar('\n');
	} else {
		const char *text = jstr_or(root, "app_logs", "");

		fputs(text, stdout);
		if (*text && text[strlen(text) - 1] != '\n')
			putchar('\n');
		if (jstr(root, "app_logs_error"))
			fprintf(stderr, "note: %s\n",
				jstr(root, "app_logs_error"));
	}
	fflush(stdout);
	if (follow) { /* and --build: new build lines until it ends */
		struct build_follow bf = { pos[0], 0, 0, 0, 0 };
		struct wl_cli_watch_opts wo;

		bf.building = !strcmp(jstr_or(root, "status", ""), "building");
		memset(&wo, 0, sizeof(wo));
		wo.conn = &c->conn;
		wo.worklet_id = pos[0];
		wo.logs = 1;
		wo.on_event = build_event;
		wo.on_tick = build_tick;
		wo.tick_ms = 200;
		wo.arg = &bf;
		if (wl_cli_watch_run(&wo) < 0)
			code = say(WL_CLI_SERVER, "%s", wl_error_last());
	}
out:
	cJSON_Delete(root);
	wl_cli_response_release(&r);
	return code;
}

/* ---- pr ----------------------------------------------------------------- */

static int cmd_pr(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS], path[512];
	const char *title = NULL, *description = NULL, *branch = NULL,
		   *base = NULL;
	struct wl_cli_response r;
	cJSON *body, *res = NULL;
	char *text = NULL;
	int npos, code;
	const struct flag flags[] = {
		{ "--title", "-t", &title, NULL, NULL, NULL },
		{ "--description", "-d", &description, NULL, NULL, NULL },
		{ "--branch", NULL, &branch, NULL, NULL, NULL },
		{ "--base", NULL, &base, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	if ((code = parse_args(c, argc, argv, flags, pos, &npos)) || c->help)
		return code;
	if (npos != 1)
		return usage_error(c, "pr takes one worklet id");
	if (!title)
		return usage_error(c, "--title is required");
	if ((code = connect_setup(c)))
		return code;
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "title", title);
	if (description)
		cJSON_AddStringToObject(body, "description", description);
	if (branch)
		cJSON_AddStringToObject(body, "branch", branch);
	if (base)
		cJSON_AddStringToObject(body, "base", base);
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	worklet_path(c, path, sizeof(path), pos[0], "/pr");
	if (isatty(STDERR_FILENO)) /* it may take a while */
		fprintf(stderr, "pushing and opening the pull request...\n");
	wl_cli_response_init(&r);
	if ((code = call(c, &r, "POST", path, text, PR_TIMEOUT_S, NULL)))
		goto out;
	res = cJSON_ParseWithLength(r.body.ptr, r.body.len);
	if (r.status == 202) {
		printf("pull request requested; still being worked on "
		       "('workletctl describe %s' shows the result)\n",
		       pos[0]);
		goto out;
	}
	printf("pull request #%d %s: %s\n", (int)jnum(res, "number"),
	       r.status == 201 ? "opened" : "updated",
	       jstr_or(res, "url", "-"));
	fprintf(stderr, "branch %s -> %s, commit %.12s\n",
		jstr_or(res, "branch", "-"), jstr_or(res, "base", "-"),
		jstr_or(res, "commit", "-"));
out:
	cJSON_Delete(res);
	cJSON_free(text);
	wl_cli_response_release(&r);
	return code;
}

/* ---- watch -------------------------------------------------------------- */

struct watch_state {
	const char *id;
	int json;
	uint64_t last_id;
	int ended; /* the watched worklet was deleted */
	int announced;
};

static int watch_event(void *arg, const char *json, size_t len)
{
	struct watch_state *ws = arg;
	cJSON *ev = cJSON_ParseWithLength(json, len);
	const char *type = jstr(ev, "type"),
		   *wid = jstr_or(ev, "worklet_id", "-");
	const cJSON *cond;
	char now[40];

	if (!ev || !type)
		goto out;
	if (jnum(ev, "id") > 0)
		ws->last_id = (uint64_t)jnum(ev, "id");
	if (!strcmp(type, "hello")) {
		if (!ws->announced++)
			fprintf(stderr, "watching %s%s (Ctrl-C to stop)\n",
				ws->id ? "worklet " : "all your worklets",
				ws->id ? ws->id : "");
		goto out;
	}
	if (!strcmp(type, "resync")) {
		fprintf(stderr, "note: some events were missed (more than "
				"the server keeps); showing new ones\n");
		ws->last_id = (uint64_t)jnum(ev, "last_id");
		goto out;
	}
	if (ws->json) {
		printf("%.*s\n", (int)len, json);
	} else {
		wl_time_format(now, sizeof(now), wl_time_now_ms());
		printf("%s  %s  ", jstr_or(ev, "time", now), wid);
		if (!strcmp(type, "phase")) {
			printf("phase %s", jstr_or(ev, "phase", "-"));
			if (jstr(ev, "previous"))
				printf(" (was %s)", jstr(ev, "previous"));
		} else if (!strcmp(type, "condition")) {
			cond = cJSON_GetObjectItem(ev, "condition");
			printf("condition %s=%s %s%s%s",
			       jstr_or(cond, "type", "?"),
			       jstr_or(cond, "status", "?"),
			       jstr_or(cond, "reason", ""),
			       jstr(cond, "message") ? ": " : "",
			       jstr_or(cond, "message", ""));
		} else if (!strcmp(type, "log")) {
			printf("log %s: %s", jstr_or(ev, "stream", "?"),
			       jstr_or(ev, "line", ""));
		} else {
			printf("%s", type);
		}
		putchar('\n');
	}
	fflush(stdout);
	if (!strcmp(type, "deleted") && ws->id)
		ws->ended = 1;
out:
	cJSON_Delete(ev);
	return ws->ended;
}

static int cmd_watch(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS], path[512];
	const char *output = NULL, *since = NULL;
	struct watch_state ws = { 0 };
	struct wl_cli_watch_opts wo;
	int npos, code, logs = 0, delay = 1, opened = 0;
	cJSON *root = NULL;
	const struct flag flags[] = {
		{ "--logs", NULL, NULL, &logs, NULL, NULL },
		{ "--since", NULL, &since, NULL, NULL, NULL },
		{ "--output", "-o", &output, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL, NULL, NULL },
	};

	if ((code = parse_args(c, argc, argv, flags, pos, &npos)) || c->help)
		return code;
	if (npos > 1)
		return usage_error(c, "watch takes at most one worklet id");
	if (output && strcmp(output, "json"))
		return usage_error(c, "-o: must be json");
	if (since) {
		char *end;

		errno = 0;
		ws.last_id = strtoull(since, &end, 10);
		if (errno || end == since || *end)
			return usage_error(c, "--since: must be an event id");
	}
	if ((code = connect_setup(c)))
		return code;
	/* Unknown id, bad token: say so before opening the stream. */
	if (npos)
		worklet_path(c, path, sizeof(path), pos[0], NULL);
	else
		snprintf(path, sizeof(path), API);
	if ((code = call_json(c, &root, "GET", path, NULL, TIMEOUT_S)))
		return code;
	cJSON_Delete(root);
	ws.id = npos ? pos[0] : NULL;
	ws.json = output != NULL;
	memset(&wo, 0, sizeof(wo));
	wo.conn = &c->conn;
	wo.worklet_id = ws.id;
	wo.logs = logs;
	wo.on_event = watch_event;
	wo.arg = &ws;
	for (;;) {
		int error;

		wo.since = ws.last_id;
		error = wl_cli_watch_run(&wo);
		if (!error || ws.ended)
			return 0;
		if (error == WL_EUNAVAIL && !opened)
			return say(WL_CLI_SERVER, "%s", wl_error_last());
		/* Gone while we were away, or the token revoked: say so. */
		if (error == WL_EUNAVAIL) {
			struct wl_cli_response r;

			wl_cli_response_init(&r);
			if (wl_cli_http_request(&r, &c->conn, "GET", path, NULL,
						TIMEOUT_S) == 0) {
				code = wl_cli_exit_for_status(r.status);
				if (code == WL_CLI_NOTFOUND ||
				    code == WL_CLI_AUTH)
					code = answer_error(c, &r, NULL);
				else
					code = 0;
			}
			wl_cli_response_release(&r);
			if (code)
				return code;
		}
		opened = 1;
		fprintf(stderr, "workletctl: %s; reconnecting in %d s\n",
			wl_error_last(), delay);
		sleep((unsigned)delay);
		delay = delay < 8 ? delay * 2 : 10;
		if (error == WL_ERROR)
			delay = 1; /* it was open: start over */
	}
}

/* ---- completion --------------------------------------------------------- */

static const char completion_bash[] =
	"# bash completion for workletctl: source <(workletctl completion "
	"bash)\n"
	"_workletctl() {\n"
	"\tlocal cur prev cmd i\n"
	"\tcur=${COMP_WORDS[COMP_CWORD]}\n"
	"\tprev=${COMP_WORDS[COMP_CWORD-1]}\n"
	"\tcmd=\n"
	"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	"\t\tcase ${COMP_WORDS[i]} in\n"
	"\t\t--server|-s|--token|--user) ((i++)) ;;\n"
	"\t\t-*) ;;\n"
	"\t\t*) cmd=${COMP_WORDS[i]}; break ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tcase $prev in\n"
	"\t-f|--filename) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
	"\t-o|--output)\n"
	"\t\tif [[ $cmd == get ]]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -W 'json yaml name' -- \"$cur\"))\n"
	"\t\telse\n"
	"\t\t\tCOMPREPLY=($(compgen -W 'json' -- \"$cur\"))\n"
	"\t\tfi\n"
	"\t\treturn ;;\n"
	"\t--server|-s|--token|--user|--title|-t|--description|-d|--branch|"
	"--base|--tail|--since|--timeout) return ;;\n"
	"\tesac\n"
	"\tif [[ -z $cmd ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W 'apply get describe delete start stop "
	"restart prompt prompts logs pr watch open completion help "
	"--server --token --user --help --version' -- \"$cur\"))\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tlocal flags=\n"
	"\tcase $cmd in\n"
	"\tapply) flags='-f --filename' ;;\n"
	"\tget) flags='-o --output' ;;\n"
	"\tdelete) flags='--wait --timeout' ;;\n"
	"\tprompt) flags='--no-wait --timeout' ;;\n"
	"\tprompts) flags='-o --output' ;;\n"
	"\tlogs) flags='-f --follow --build --tail' ;;\n"
	"\tpr) flags='--title --description --branch --base' ;;\n"
	"\twatch) flags='--logs --since -o --output' ;;\n"
	"\tcompletion) COMPREPLY=($(compgen -W bash -- \"$cur\")); return ;;\n"
	"\thelp) COMPREPLY=($(compgen -W 'apply get describe delete start "
	"stop restart prompt prompts logs pr watch open completion' -- "
	"\"$cur\")); return ;;\n"
	"\tesac\n"
	"\tif [[ $cur == -* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"$flags --help\" -- \"$cur\"))\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tcase $cmd in\n"
	"\tapply) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
	"\t*) COMPREPLY=($(compgen -W \"$(workletctl get -o name "
	"2>/dev/null)\" "
	"-- \"$cur\")) ;;\n"
	"\tesac\n"
	"}\n"
	"complete -F _workletctl workletctl\n";

static int cmd_completion(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS];
	int npos, code;

	if ((code = parse_args(c, argc, argv, NULL, pos, &npos)) || c->help)
		return code;
	if (npos != 1 || strcmp(pos[0], "bash"))
		return usage_error(c, "completion takes one shell: bash");
	fputs(completion_bash, stdout);
	return 0;
}

/* ---- commands and help -------------------------------------------------- */

struct command {
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
	const char *synopsis;
	const char *summary;
	const char *details;
};

static int cmd_help(struct ctl *c, int argc, char **argv);

static const struct command commands[] = {
	{ "apply", cmd_apply, "apply -f FILE|DIR [-f ...]",
	  "create or update worklets from manifests",
	  "Reads Worklet manifests (the spec directory's YAML, see\n"
	  "specs/worklet-schema.md; also .json), checks them here with the\n"
	  "service's own parser, then creates each worklet with its\n"
	  "metadata.id (or the file name) or replaces the spec of your own\n"
	  "(PUT /api/worklet/worklets/{id}). A DIR applies its *.yaml,\n"
	  "*.yml and *.json files in name order; '-' reads stdin. Prints\n"
	  "'worklet/ID created', 'configured' or 'unchanged' for each.\n"
	  "The output of 'get -o yaml' can be applied again.\n"
	  "\n"
	  "  -f, --filename FILE|DIR   a manifest or a directory of them\n" },
	{ "get", cmd_get, "get [ID] [-o json|yaml|name]",
	  "list your worklets, or show one",
	  "A table (ID, NAME, STATUS, COMMIT, AGE, URL), or with -o the\n"
	  "resource documents (apiVersion, kind, metadata, spec, status) as\n"
	  "JSON or YAML; a list is a WorkletList with items. '-o name'\n"
	  "prints only the ids.\n"
	  "\n"
	  "  -o, --output FORMAT   json, yaml or name\n" },
	{ "describe", cmd_describe, "describe ID", "show a worklet in detail",
	  "Status, URL, commits, detection and its evidence, conditions,\n"
	  "the prompt history, the pull request and the end of the build\n"
	  "output.\n" },
	{ "delete", cmd_delete, "delete ID [--wait] [--timeout SECONDS]",
	  "delete a worklet",
	  "Asks for the deletion; the controller removes the container,\n"
	  "images and clone.\n"
	  "\n"
	  "  -w, --wait            wait until it is gone\n"
	  "  --timeout SECONDS     how long to wait (default 300)\n" },
	{ "start", cmd_action, "start ID", "run a stopped worklet",
	  "Sets the desired state to running.\n" },
	{ "stop", cmd_action, "stop ID", "stop a worklet",
	  "Sets the desired state to stopped; the container is removed, the\n"
	  "build is kept.\n" },
	{ "restart", cmd_action, "restart ID", "recreate a worklet's container",
	  "A rollout restart: the container is recreated from the same\n"
	  "image.\n" },
	{ "prompt", cmd_prompt,
	  "prompt ID TEXT|- [--no-wait] [--timeout SECONDS]",
	  "send a prompt and wait for the result",
	  "Sends the prompt (TEXT, or '-' to read it from stdin), shows the\n"
	  "agent's progress and stage changes on stderr while it runs, then\n"
	  "prints the agent's response and the commit on stdout. Exits 6 if\n"
	  "the prompt ends in error.\n"
	  "\n"
	  "  --no-wait             print the prompt id and return at once\n"
	  "  --timeout SECONDS     give up waiting after this (default "
	  "1800)\n" },
	{ "retry", cmd_retry, "retry ID PROMPT_ID", "run a failed prompt again",
	  "Queues a prompt that ended in error (a base prompt that could not\n"
	  "be applied, say) again, as it was sent; `workletctl prompts ID`\n"
	  "lists the ids.\n" },
	{ "prompts", cmd_prompts, "prompts ID [-o json]",
	  "list a worklet's prompts",
	  "The prompt history, oldest first (the base prompt first): status,\n"
	  "stage, commit, cost, turns.\n"
	  "\n"
	  "  -o, --output json     the API's JSON\n" },
	{ "logs", cmd_logs, "logs ID [-f] [--build] [--tail N]",
	  "print a worklet's app or build output",
	  "The app's output (its container), or with --build the last\n"
	  "build's output.\n"
	  "\n"
	  "  -f, --follow   keep printing: the app's output until it stops,\n"
	  "                 or with --build the next build's lines until it\n"
	  "                 ends\n"
	  "  --build        the build output instead of the app's\n"
	  "  --tail N       the last N lines (default 200)\n" },
	{ "pr", cmd_pr,
	  "pr ID --title TITLE [--description TEXT] [--branch B] [--base B]",
	  "open or update the GitHub pull request",
	  "Pushes the worklet's commits (one per prompt, never forced) to\n"
	  "a branch and opens a pull request, or updates the one already\n"
	  "open from that branch. Prints its number and URL.\n"
	  "\n"
	  "  -t, --title TITLE          required\n"
	  "  -d, --description TEXT     the first part of the body\n"
	  "  --branch BRANCH            default worklet/ID\n"
	  "  --base BRANCH              default: the worklet's branch\n" },
	{ "watch", cmd_watch, "watch [ID] [--logs] [--since N] [-o json]",
	  "print events as they happen",
	  "One line per event (phase changes, conditions, deletions; with\n"
	  "--logs also build, agent and app output lines) for one worklet or\n"
	  "all of yours, until interrupted (or the worklet is deleted).\n"
	  "Reconnects by itself and replays what it missed.\n"
	  "\n"
	  "  --logs           also log lines\n"
	  "  --since N        first replay the events after id N\n"
	  "  -o, --output json   the events as JSON, one a line\n" },
	{ "open", cmd_open, "open ID", "print a link that opens the prototype",
	  "Prints a sign-in link for a browser (valid for a few minutes): it\n"
	  "opens the live prototype at the root of its own origin. web_url\n"
	  "(workletctl get) is its lasting address, for API clients.\n" },
	{ "completion", cmd_completion, "completion bash",
	  "print the bash completion script",
	  "Add to ~/.bashrc:  source <(workletctl completion bash)\n" },
	{ "help", cmd_help, "help [COMMAND]", "show help",
	  "Without a command, the list of commands; with one, its flags.\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char usage_footer[] =
	"\n"
	"Global flags (anywhere on the line):\n"
	"  -s, --server URL   the worklet server (default " DEFAULT_SERVER ")\n"
	"  --token TOKEN      an API token; prefer WORKLET_TOKEN, which\n"
	"                     other users cannot see in the process list\n"
	"  --user ID          X-User-ID, for servers that trust it (no token)\n"
	"  -h, --help         help for workletctl or a command\n"
	"\n"
	"Environment and configuration (flags win, then the environment,\n"
	"then the file):\n"
	"  WORKLET_SERVER, WORKLET_TOKEN, WORKLET_USER\n"
	"  WORKLETCTL_CONFIG  the config file, default\n"
	"                     ~/.config/workletctl/config.yaml, with the keys\n"
	"                     server:, token: and user:; a file holding a\n"
	"                     token must not be readable by others (chmod "
	"600)\n"
	"\n"
	"Exit codes:\n"
	"  0  ok\n"
	"  1  usage: a bad command line or config file\n"
	"  2  not found: no such worklet (or prompt)\n"
	"  3  server error, server busy (429) or unreachable\n"
	"  4  invalid input: a bad manifest or request (400, 409, 413, 415,"
	" 422)\n"
	"  5  authentication: no token or a wrong one (401, 403)\n"
	"  6  the operation ran and failed (a prompt that ended in error)\n";

static void usage(FILE *out)
{
	fputs("usage: workletctl [--server URL] COMMAND [ARGS...]\n"
	      "\n"
	      "The command-line client of worklet: git repositories turned "
	      "into\n"
	      "live prototypes, changed by prompts.\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-11s %s\n", commands[i].name,
			commands[i].summary);
	fputs("\nRun 'workletctl COMMAND --help' for a command's flags.\n",
	      out);
	fputs(usage_footer, out);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void command_usage(const struct command *cmd)
{
	printf("usage: workletctl %s\n\n%s: %s.\n", cmd->synopsis, cmd->name,
	       cmd->summary);
	if (*cmd->details)
		printf("\n%s", cmd->details);
	fputs(usage_footer, stdout);
}

static int cmd_help(struct ctl *c, int argc, char **argv)
{
	char *pos[MAX_POS];
	const struct command *cmd;
	int npos, code;

	if ((code = parse_args(c, argc, argv, NULL, pos, &npos)))
		return code;
	if (c->help) {
		command_usage(find_command("help"));
		return 0;
	}
	if (!npos) {
		usage(stdout);
		return 0;
	}
	if (!(cmd = find_command(pos[0])))
		return usage_error(c, "unknown command '%s'", pos[0]);
	command_usage(cmd);
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl c;
	const struct command *cmd = NULL;
	int i, code;

	memset(&c, 0, sizeof(c));
	wl_cli_config_init(&c.cfg);
	/* Global flags may come before the command. */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--version")) {
			printf("workletctl %s\n", VERSION);
			return 0;
		}
		if (a[0] != '-')
			break;
		if ((!strcmp(a, "--server") || !strcmp(a, "-s") ||
		     !strcmp(a, "--token") || !strcmp(a, "--user")) &&
		    i + 1 < argc)
			i++;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			c.help = 1;
	}
	if (i == argc) {
		if (c.help) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return WL_CLI_USAGE;
	}
	if (!(cmd = find_command(argv[i])))
		return usage_error(&c, "unknown command '%s'", argv[i]);
	c.cmd = cmd->name;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "workletctl: cannot initialise libcurl\n");
		return WL_CLI_SERVER;
	}
	/* Flags before the command, then the command's own line. */
	{
		char **args = calloc((size_t)argc, sizeof(*args));
		int n = 0;

		if (!args)
			return WL_CLI_SERVER;
		for (int k = 1; k < argc; k++)
			if (k != i)
				args[n++] = argv[k];
		c.help = 0;
		code = cmd->run(&c, n, args);
		if (!code && c.help && cmd->run != cmd_help)
			command_usage(cmd);
		free(args);
	}
	wl_cli_config_release(&c.cfg);
	curl_global_cleanup();
	return code;
}
