/*
 * DESIGN: the prompt files are small JSON documents (cJSON, which never
 * leaves this file). The request and the status are parsed field by field
 * with types checked, so a hand-edited or truncated file is reported with
 * its name, never trusted. Writers never share a file: see prompt.h.
 */
#include "specs/prompt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/hash.h"
#include "specs/core/parse.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

#define FILE_MODE 0600

static const char *const state_names[] = { "processing", "completed", "error" };
static const char *const stage_names[] = { "queued", "running", "building",
					   "fixing", "done" };

void wl_prompt_init(struct wl_prompt *p)
{
	memset(p, 0, sizeof(*p));
}

void wl_prompt_release(struct wl_prompt *p)
{
	free(p->id);
	free(p->worklet_id);
	free(p->user_id);
	free(p->prompt);
	free(p->response);
	free(p->error);
	free(p->commit);
	free(p->fix_request);
	free(p->runner);
	memset(p, 0, sizeof(*p));
}

const char *wl_prompt_state_name(enum wl_prompt_state s)
{
	return (unsigned)s < 3 ? state_names[s] : "error";
}

const char *wl_prompt_stage_name(enum wl_prompt_stage s)
{
	return (unsigned)s < 5 ? stage_names[s] : "done";
}

int wl_prompt_new_id(char out[WL_PROMPT_ID_LEN + 1], int64_t ms)
{
	char rnd[7];

	if (ms < 0 || ms > 9999999999999LL) {
		wl_error_set("prompt time out of range");
		return WL_EINVALID;
	}
	wl_random_hex(rnd, 3);
	snprintf(out, WL_PROMPT_ID_LEN + 1, "p%013lld%s", (long long)ms, rnd);
	return 0;
}

int wl_prompt_validate_id(const char *id)
{
	size_t i;

	if (!id || strlen(id) != WL_PROMPT_ID_LEN || id[0] != 'p')
		goto bad;
	for (i = 1; i < 14; i++)
		if (id[i] < '0' || id[i] > '9')
			goto bad;
	for (; i < WL_PROMPT_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			goto bad;
	return 0;
bad:
	wl_error_set("invalid prompt id: expected 'p', 13 digits and 6 hex "
		     "digits");
	return WL_EINVALID;
}

/* "<dir>/<wid>.<pid><suffix>" after checking both ids. */
static int prompt_path(char *out, size_t n, const struct wl_store *s,
		       const char *wid, const char *pid, const char *suffix)
{
	int error;

	if (wl_validate_id(wid) < 0) {
		wl_error_set("invalid worklet id");
		return WL_EINVALID;
	}
	if ((error = wl_prompt_validate_id(pid)) < 0)
		return error;
	if ((size_t)snprintf(out, n, "%s/%s.%s%s", s->prompts_dir, wid, pid,
			     suffix) >= n) {
		wl_error_set("state directory path too long");
		return WL_EINVALID;
	}
	return 0;
}

static int oom(void)
{
	wl_error_set("out of memory");
	return WL_ERROR;
}

static int write_json(const char *path, cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);
	int error;

	if (!text)
		return oom();
	error = wl_fs_write_atomic(path, text, strlen(text), FILE_MODE);
	free(text);
	return error;
}

int wl_prompt_create(const struct wl_store *s, const struct wl_prompt *p)
{
	char path[4096];
	cJSON *o = NULL;
	int error;

	if ((error = prompt_path(path, sizeof(path), s, p->worklet_id, p->id,
				 ".json")) < 0)
		return error;
	if (!p->prompt || !p->prompt[0] || strlen(p->prompt) > WL_PROMPT_MAX) {
		wl_error_set("prompt: must be 1 to %d bytes", WL_PROMPT_MAX);
		return WL_EINVALID;
	}
	if (wl_fs_exists(path)) {
		wl_error_set("prompt '%s' exists already", p->id);
		return WL_EEXISTS;
	}
	if (!(o = cJSON_CreateObject()) ||
	    !cJSON_AddStringToObject(o, "id", p->id) ||
	    !cJSON_AddStringToObject(o, "worklet_id", p->worklet_id) ||
	    !cJSON_AddStringToObject(o, "user_id",
				     p->user_id ? p->user_id : "") ||
	    !cJSON_AddStringToObject(o, "prompt", p->prompt) ||
	    !cJSON_AddBoolToObject(o, "base", p->base) ||
	    !cJSON_AddNumberToObject(o, "created_ms", (double)p->created_ms)) {
		error = oom();
		goto out;
	}
	error = write_json(path, o);
out:
	cJSON_Delete(o);
	return error;
}

/* ---- reading ------------------------------------------------------------ */

struct reader {
	const char *file; /* for messages */
	cJSON *root;
	int bad;
};

static cJSON *field(struct reader *r, const char *name, int type)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(r->root, name);

	if (!v || cJSON_IsNull(v))
		return NULL;
	if ((type == cJSON_String && !cJSON_IsString(v)) ||
	    (type == cJSON_Number && !cJSON_IsNumber(v)) ||
	    (type == cJSON_True && !cJSON_IsBool(v))) {
		if (!r->bad)
			wl_error_set("%s: %s: wrong type", r->file, name);
		r->bad = 1;
		return NULL;
	}
	return v;
}

static void get_str(struct reader *r, const char *name, char **dst)
{
	cJSON *v = field(r, name, cJSON_String);

	if (v && wl_str_set(dst, v->valuestring) < 0 && !r->bad) {
		oom();
		r->bad = 1;
	}
}

static void get_i64(struct reader *r, const char *name, int64_t *dst)
{
	cJSON *v = field(r, name, cJSON_Number);

	if (v)
		*dst = (int64_t)v->valuedouble;
}

static void get_int(struct reader *r, const char *name, int *dst)
{
	cJSON *v = field(r, name, cJSON_Number);

	if (v)
		*dst = (int)v->valuedouble;
}

static void get_bool(struct reader *r, const char *name, int *dst)
{
	cJSON *v = field(r, name, cJSON_True);

	if (v)
		*dst = cJSON_IsTrue(v);
}

static int get_enum(struct reader *r, const char *name,
		    const char *const *names, size_t count)
{
	cJSON *v = field(r, name, cJSON_String);

	if (!v)
		return 0;
	for (size_t i = 0; i < count; i++)
		if (!strcmp(v->valuestring, names[i]))
			return (int)i;
	if (!r->bad)
		wl_error_set("%s: %s: unknown value", r->file, name);
	r->bad = 1;
	return 0;
}

/* The time in a .retry file; 0 when there is none or it does not parse. */
static void read_retry(const char *path, int64_t *ms)
{
	struct wl_buf b;
	char *nl;

	*ms = 0;
	wl_buf_init(&b, 64);
	if (wl_fs_read(&b, path) == 0 && b.len) {
		nl = strchr(wl_buf_cstr(&b), '\n');
		if (nl)
			*nl = '\0';
		if (wl_parse_int64(ms, wl_buf_cstr(&b), 0, INT64_MAX) < 0)
			*ms = 0;
	}
	wl_buf_release(&b);
}

static int load(struct reader *r, const char *path, const char *rel)
{
	struct wl_buf b;
	int error;

	r->file = rel;
	r->bad = 0;
	wl_buf_init(&b, WL_PROMPT_FILE_MAX);
	if ((error = wl_fs_read(&b, path)) < 0) {
		wl_buf_release(&b);
		if (error != WL_ENOTFOUND)
			wl_error_prefix("%s", rel);
		return error;
	}
	r->root = cJSON_ParseWithLength(b.ptr ? b.ptr : "", b.len);
	wl_buf_release(&b);
	if (!r->root || !cJSON_IsObject(r->root)) {
		cJSON_Delete(r->root);
		r->root = NULL;
		wl_error_set("%s: not a JSON object", rel);
		return WL_EINVALID;
	}
	return 0;
}

int wl_prompt_read(const struct wl_store *s, const char *wid, const char *pid,
		   struct wl_prompt *out)
{
	char path[4096], rel[128];
	struct reader r = { 0 };
	int error;

	wl_prompt_init(out);
	if ((error = prompt_path(path, sizeof(path), s, wid, pid, ".json")) < 0)
		return error;
	snprintf(rel, sizeof(rel), "prompts/%s.%s.json", wid, pid);
	if ((error = load(&r, path, rel)) < 0) {
		if (error == WL_ENOTFOUND)
			wl_error_set("prompt '%s' not found", pid);
		return error;
	}
	get_str(&r, "id", &out->id);
	get_str(&r, "worklet_id", &out->worklet_id);
	get_str(&r, "user_id", &out->user_id);
	get_str(&r, "prompt", &out->prompt);
	get_bool(&r, "base", &out->base);
	get_i64(&r, "created_ms", &out->created_ms);
	cJSON_Delete(r.root);
	if (!r.bad && (!out->id || strcmp(out->id, pid) || !out->worklet_id ||
		       strcmp(out->worklet_id, wid) || !out->prompt)) {
		wl_error_set("%s: id, worklet_id or prompt missing or wrong",
			     rel);
		r.bad = 1;
	}
	if (r.bad) {
		wl_prompt_release(out);
		return WL_EINVALID;
	}

	prompt_path(path, sizeof(path), s, wid, pid, ".cancel");
	out->cancel_requested = wl_fs_exists(path);
	prompt_path(path, sizeof(path), s, wid, pid, ".retry");
	read_retry(path, &out->retry_ms);

	prompt_path(path, sizeof(path), s, wid, pid, ".status.json");
	snprintf(rel, sizeof(rel), "prompts/%s.%s.status.json", wid, pid);
	if ((error = load(&r, path, rel)) == WL_ENOTFOUND)
		return 0; /* queued */
	if (error < 0) {
		wl_prompt_release(out);
		return error;
	}
	out->state = get_enum(&r, "status", state_names, 3);
	out->stage = get_enum(&r, "stage", stage_names, 5);
	get_str(&r, "response", &out->response);
	get_str(&r, "error", &out->error);
	get_str(&r, "commit", &out->commit);
	get_str(&r, "fix_request", &out->fix_request);
	get_str(&r, "runner", &out->runner);
	{
		cJSON *v = field(&r, "cost_usd", cJSON_Number);

		if (v)
			out->cost_usd = v->valuedouble;
	}
	get_int(&r, "num_turns", &out->num_turns);
	get_int(&r, "attempts", &out->attempts);
	get_int(&r, "fixups", &out->fixups);
	get_bool(&r, "changed", &out->changed);
	get_i64(&r, "duration_ms", &out->duration_ms);
	get_i64(&r, "started_ms", &out->started_ms);
	get_i64(&r, "finished_ms", &out->finished_ms);
	get_i64(&r, "next_attempt_ms", &out->next_attempt_ms);
	get_i64(&r, "updated_ms", &out->updated_ms);
	cJSON_Delete(r.root);
	if (r.bad) {
		wl_prompt_release(out);
		return WL_EINVALID;
	}
	return 0;
}

static int add_opt_str(cJSON *o, const char *name, const char *v)
{
	return v ? cJSON_AddStringToObject(o, name, v) != NULL : 1;
}

int wl_prompt_write_status(const struct wl_store *s, const struct wl_prompt *p)
{
	char path[4096];
	cJSON *o = NULL;
	int error;

	if ((error = prompt_path(path, sizeof(path), s, p->worklet_id, p->id,
				 ".status.json")) < 0)
		return error;
	if (!(o = cJSON_CreateObject()) ||
	    !cJSON_AddStringToObject(o, "status",
				     wl_prompt_state_name(p->state)) ||
	    !cJSON_AddStringToObject(o, "stage",
				     wl_prompt_stage_name(p->stage)) ||
	    !add_opt_str(o, "response", p->response) ||
	    !add_opt_str(o, "error", p->error) ||
	    !add_opt_str(o, "commit", p->commit) ||
	    !add_opt_str(o, "fix_request", p->fix_request) ||
	    !add_opt_str(o, "runner", p->runner) ||
	    !cJSON_AddNumberToObject(o, "cost_usd", p->cost_usd) ||
	    !cJSON_AddNumberToObject(o, "num_turns", p->num_turns) ||
	    !cJSON_AddNumberToObject(o, "attempts", p->attempts) ||
	    !cJSON_AddNumberToObject(o, "fixups", p->fixups) ||
	    !cJSON_AddBoolToObject(o, "changed", p->changed) ||
	    !cJSON_AddNumberToObject(o, "duration_ms",
				     (double)p->duration_ms) ||
	    !cJSON_AddNumberToObject(o, "started_ms", (double)p->started_ms) ||
	    !cJSON_AddNumberToObject(o, "finished_ms",
				     (double)p->finished_ms) ||
	    !cJSON_AddNumberToObject(o, "next_attempt_ms",
				     (double)p->next_attempt_ms) ||
	    !cJSON_AddNumberToObject(o, "updated_ms", (double)p->updated_ms)) {
		error = oom();
		goto out;
	}
	error = write_json(path, o);
out:
	cJSON_Delete(o);
	return error;
}

int wl_prompt_request_retry(const struct wl_store *s, const char *wid,
			    const char *pid, int64_t ms)
{
	char path[4096], text[32];
	int error, len;

	if ((error = prompt_path(path, sizeof(path), s, wid, pid, ".cancel")) <
	    0)
		return error;
	if (unlink(path) < 0 && errno != ENOENT) {
		wl_error_set("cannot remove '%s': %s", path, strerror(errno));
		return WL_ERROR;
	}
	prompt_path(path, sizeof(path), s, wid, pid, ".retry");
	len = snprintf(text, sizeof(text), "%lld\n", (long long)ms);
	return wl_fs_write_atomic(path, text, (size_t)len, FILE_MODE);
}

int wl_prompt_request_cancel(const struct wl_store *s, const char *wid,
			     const char *pid)
{
	char path[4096];
	int error;

	if ((error = prompt_path(path, sizeof(path), s, wid, pid, ".cancel")) <
	    0)
		return error;
	return wl_fs_write_atomic(path, "", 0, FILE_MODE);
}

/* ---- listing ------------------------------------------------------------ */

int wl_prompt_file_worklet(const char *name, char *out, size_t n)
{
	const char *dot = strchr(name, '.');
	size_t len;

	if (!dot || name[0] == '.')
		return -1;
	len = (size_t)(dot - name);
	if (len == 0 || len > WL_ID_MAX || len >= n)
		return -1;
	memcpy(out, name, len);
	out[len] = '\0';
	if (wl_validate_id(out) < 0 ||
	    strncmp(dot + 1, "p", 1) != 0) /* temp files start with '.' */
		return -1;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push(char ***ids, size_t *count, size_t *cap, const char *s,
		size_t len)
{
	char *copy;

	if (*count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		char **n = realloc(*ids, ncap * sizeof(*n));

		if (!n)
			return oom();
		*ids = n;
		*cap = ncap;
	}
	if (!(copy = strndup(s, len)))
		return oom();
	(*ids)[(*count)++] = copy;
	return 0;
}

/*
 * Walk prompts/: for files of worklet wid (or of any worklet when wid is
 * NULL) collect the prompt id (or the worklet id), once each.
 */
static int scan(const struct wl_store *s, const char *wid, char ***ids,
		size_t *count)
{
	size_t cap = 0, wlen = wid ? strlen(wid) : 0;
	struct dirent *de;
	DIR *dir;
	int error = 0;

	*ids = NULL;
	*count = 0;
	if (!(dir = opendir(s->prompts_dir))) {
		if (errno == ENOENT)
			return 0;
		wl_error_set("cannot read '%s': %s", s->prompts_dir,
			     strerror(errno));
		return WL_ERROR;
	}
	while (!error && (de = readdir(dir))) {
		char owner[WL_ID_MAX + 1];
		const char *pid;

		if (wl_prompt_file_worklet(de->d_name, owner, sizeof(owner)) <
		    0)
			continue;
		pid = de->d_name + strlen(owner) + 1;
		/* One entry per request file; the others go with it. */
		if (strlen(pid) != WL_PROMPT_ID_LEN + 5 ||
		    strcmp(pid + WL_PROMPT_ID_LEN, ".json"))
			continue;
		if (wid) {
			if (strlen(owner) != wlen || strcmp(owner, wid))
				continue;
			error = push(ids, count, &cap, pid, WL_PROMPT_ID_LEN);
		} else {
			error = push(ids, count, &cap, owner, strlen(owner));
		}
	}
	closedir(dir);
	if (error < 0) {
		wl_store_free_ids(*ids, *count);
		*ids = NULL;
		*count = 0;
		return error;
	}
	if (*count)
		qsort(*ids, *count, sizeof(**ids), cmp_str);
	if (!wid && *count) {
		/* Dedup the sorted worklet ids. */
		size_t j = 0;

		for (size_t i = 0; i < *count; i++) {
			if (j && !strcmp((*ids)[j - 1], (*ids)[i])) {
				free((*ids)[i]);
				continue;
			}
			(*ids)[j++] = (*ids)[i];
		}
		*count = j;
	}
	return 0;
}

int wl_prompt_list(const struct wl_store *s, const char *wid, char ***ids,
		   size_t *count)
{
	if (wl_validate_id(wid) < 0) {
		*ids = NULL;
		*count = 0;
		wl_error_set("invalid worklet id");
		return WL_EINVALID;
	}
	return scan(s, wid, ids, count);
}

int wl_prompt_list_worklets(const struct wl_store *s, char ***ids,
			    size_t *count)
{
	return scan(s, NULL, ids, count);
}

int wl_prompt_remove_all(const struct wl_store *s, const char *wid)
{
	char owner[WL_ID_MAX + 1], path[4096];
	struct dirent *de;
	DIR *dir;
	int error = 0;

	if (wl_validate_id(wid) < 0) {
		wl_error_set("invalid worklet id");
		return WL_EINVALID;
	}
	if (!(dir = opendir(s->prompts_dir)))
		return errno == ENOENT ? 0 : WL_ERROR;
	/* Every file of wid, whether or not its request is still there. */
	while ((de = readdir(dir))) {
		if (wl_prompt_file_worklet(de->d_name, owner, sizeof(owner)) <
			    0 ||
		    strcmp(owner, wid))
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->prompts_dir,
			 de->d_name);
		if (unlink(path) < 0 && errno != ENOENT && !error) {
			wl_error_set("cannot remove '%s': %s", path,
				     strerror(errno));
			error = WL_ERROR;
		}
	}
	closedir(dir);
	return error;
}
