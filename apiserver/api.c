#include "apiserver/api.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apiserver/query.h"
#include "controller/git_repo.h"
#include "specs/codec.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/hash.h"
#include "specs/core/log.h"
#include "specs/core/parse.h"
#include "specs/core/timeutil.h"
#include "specs/prompt.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

#define PREFIX "/api/worklet/worklets"
#define RESPONSE_MAX (8 << 20)
#define BUILD_LOG_TAIL (64 * 1024)

void wl_api_response_init(struct wl_api_response *rs)
{
	rs->status = 200;
	rs->content_type = "application/json";
	rs->allow[0] = '\0';
	rs->wait_ms = 0;
	rs->wait_id[0] = '\0';
	rs->lookup_needed = 0;
	wl_buf_init(&rs->body, RESPONSE_MAX);
}

void wl_api_response_release(struct wl_api_response *rs)
{
	wl_buf_release(&rs->body);
}

void wl_api_error(struct wl_api_response *rs, int status, const char *code,
		  const char *fmt, ...)
{
	char msg[1024];
	cJSON *root, *err;
	char *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rs->status = status;
	rs->content_type = "application/json";
	wl_buf_reset(&rs->body);
	root = cJSON_CreateObject();
	err = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", msg);
	text = cJSON_PrintUnformatted(root);
	if (text)
		wl_buf_puts(&rs->body, text);
	wl_buf_putc(&rs->body, '\n');
	free(text);
	cJSON_Delete(root);
}

/* ---- views ------------------------------------------------------------ */

static void add_str(cJSON *o, const char *key, const char *v);

/* status.pullRequest as "pull_request" (null until one was asked for). */
static void pr_view(cJSON *o, const struct wl_status *st)
{
	const struct wl_pr_status *ps = &st->pull_request;
	cJSON *pr;

	if (!ps->handled_ms) {
		cJSON_AddNullToObject(o, "pull_request");
		return;
	}
	pr = cJSON_AddObjectToObject(o, "pull_request");
	if (ps->number)
		cJSON_AddNumberToObject(pr, "number", ps->number);
	else
		cJSON_AddNullToObject(pr, "number");
	add_str(pr, "url", ps->url);
	add_str(pr, "branch", ps->branch);
	add_str(pr, "base", ps->base);
	add_str(pr, "commit", ps->commit);
	add_str(pr, "error", ps->error);
	add_str(pr, "error_code", ps->error_code);
}

static void add_str(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static void add_time(cJSON *o, const char *key, int64_t ms)
{
	char t[40];

	if (!ms) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	wl_time_format(t, sizeof(t), ms);
	cJSON_AddStringToObject(o, key, t);
}

/* The tail of the last build's output, for build_logs. */
static void build_log_tail(const struct wl_store *store, const char *id,
			   struct wl_buf *out)
{
	char path[4096];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/build.log", store->logs_dir, id);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > BUILD_LOG_TAIL)
		lseek(fd, st.st_size - BUILD_LOG_TAIL, SEEK_SET);
	for (;;) {
		char chunk[8192];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n <= 0 || wl_buf_add(out, chunk, (size_t)n) < 0)
			break;
	}
	close(fd);
}

/*
 * A worklet in the requirements' shape (snake_case), plus the resource's
 * own fields (generation, conditions, detection...). detail adds the
 * build output.
 */
static cJSON *worklet_view(const struct wl_config *cfg,
			   const struct wl_store *store,
			   const struct wl_worklet *w, int detail)
{
	const struct wl_status *st = &w->status;
	cJSON *o = cJSON_CreateObject(), *env, *conds, *det;
	char url[1024];
	const char *phase = wl_phase_name(st->phase);

	add_str(o, "id", w->meta.id);
	add_str(o, "name", w->meta.name);
	add_str(o, "description", w->spec.description);
	cJSON_AddStringToObject(o, "status", phase[0] ? phase : "creating");
	add_str(o, "git_repo", w->spec.git_repo);
	cJSON_AddStringToObject(o, "branch", wl_spec_branch(&w->spec));
	add_str(o, "base_prompt", w->spec.base_prompt);
	add_str(o, "app_path", w->spec.path);
	if (wl_config_web_url(cfg, w->meta.id, url, sizeof(url)) == 0)
		cJSON_AddStringToObject(o, "web_url", url);
	cJSON_AddNumberToObject(o, "port", st->port);
	env = cJSON_AddObjectToObject(o, "environment");
	for (size_t i = 0; i < w->spec.env.count; i++)
		cJSON_AddStringToObject(env, w->spec.env.items[i].key,
					w->spec.env.items[i].value);
	add_str(o, "user_id", w->meta.user_id);
	add_str(o, "container_id", st->container_id);
	add_str(o, "session_id", st->session_id);
	add_str(o, "last_prompt", st->last_prompt);
	add_str(o, "last_error", st->last_error);
	add_str(o, "active_prompt", st->active_prompt);
	cJSON_AddNumberToObject(o, "queued_prompts", st->queued_prompts);
	add_str(o, "serving_commit", st->serving_commit);
	pr_view(o, st);
	if (detail) {
		struct wl_buf logs;

		wl_buf_init(&logs, BUILD_LOG_TAIL);
		build_log_tail(store, w->meta.id, &logs);
		cJSON_AddStringToObject(o, "build_logs", wl_buf_cstr(&logs));
		wl_buf_release(&logs);
	}
	add_time(o, "created_at", w->meta.created_ms);
	add_time(o, "updated_at",
		 st->updated_ms > w->meta.updated_ms ? st->updated_ms
						     : w->meta.updated_ms);

	cJSON_AddNumberToObject(o, "generation", (double)w->meta.generation);
	cJSON_AddNumberToObject(o, "observed_generation",
				(double)st->observed_generation);
	cJSON_AddStringToObject(o, "run_state",
				wl_run_state_name(w->spec.run_state));
	cJSON_AddBoolToObject(o, "deleting", w->meta.deletion_ms != 0);
	add_str(o, "commit", st->commit);
	cJSON_AddNumberToObject(o, "restart_count", st->restart_count);
	cJSON_AddNumberToObject(o, "last_exit_code", st->last_exit_code);
	conds = cJSON_AddArrayToObject(o, "conditions");
	for (size_t i = 0; i < st->condition_count; i++) {
		const struct wl_condition *c = &st->conditions[i];
		cJSON *co = cJSON_CreateObject();

		add_str(co, "type", c->type);
		add_str(co, "status", c->status);
		add_str(co, "reason", c->reason);
		add_str(co, "message", c->message);
		add_time(co, "last_transition_time", c->last_transition_ms);
		cJSON_AddItemToArray(conds, co);
	}
	if (st->detection.type != WL_PROJECT_AUTO) {
		cJSON *ev;

		det = cJSON_AddObjectToObject(o, "detection");
		cJSON_AddStringToObject(
			det, "type", wl_project_type_name(st->detection.type));
		add_str(det, "framework", st->detection.framework);
		add_str(det, "start_command", st->detection.start_command);
		cJSON_AddNumberToObject(det, "port", st->detection.port);
		ev = cJSON_AddArrayToObject(det, "evidence");
		for (size_t i = 0; i < st->detection.evidence_count; i++)
			cJSON_AddItemToArray(
				ev,
				cJSON_CreateString(st->detection.evidence[i]));
	}
	return o;
}

static void respond_json(struct wl_api_response *rs, int status, cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);

	rs->status = status;
	rs->content_type = "application/json";
	wl_buf_reset(&rs->body);
	if (!text || wl_buf_puts(&rs->body, text) < 0 ||
	    wl_buf_putc(&rs->body, '\n') < 0)
		wl_api_error(rs, 500, "internal", "cannot encode the response");
	free(text);
	cJSON_Delete(o);
}

/* ---- loading ------------------------------------------------------------ */

int wl_api_load_owned(const struct wl_store *store, const char *id,
		      const char *user, struct wl_worklet *out)
{
	int error;

	if (wl_validate_id(id) < 0) {
		wl_error_set("worklet '%s' not found", id);
		return WL_ENOTFOUND;
	}
	if ((error = wl_store_read_spec(store, id, out)) < 0) {
		if (error == WL_ENOTFOUND)
			wl_error_set("worklet '%s' not found", id);
		return error;
	}
	/* Someone else's worklet does not exist, as far as you can tell. */
	if (!out->meta.user_id || strcmp(out->meta.user_id, user)) {
		wl_worklet_release(out);
		wl_worklet_init(out);
		wl_error_set("worklet '%s' not found", id);
		return WL_ENOTFOUND;
	}
	wl_store_read_status(store, id, out); /* none yet is fine */
	return 0;
}

static int load_or_answer(const struct wl_store *store, const char *id,
			  const char *user, struct wl_worklet *w,
			  struct wl_api_response *rs)
{
	int error;

	wl_worklet_init(w);
	error = wl_api_load_owned(store, id, user, w);
	if (error == WL_ENOTFOUND)
		wl_api_error(rs, 404, "not_found", "worklet '%s' not found",
			     id);
	else if (error < 0)
		wl_api_error(rs, 500, "unreadable_spec", "%s", wl_error_last());
	return error;
}

/* ---- create ------------------------------------------------------------- */

static const char *const create_fields[] = {
	"name",
	"description",
	"git_repo",
	"branch",
	"base_prompt",
	"environment",
	"project_type",
	"dockerfile",
	"start_command",
	"container_port",
	"runtime_version",
	"app_path",
	NULL,
};

static int field_known(const char *name)
{
	for (size_t i = 0; create_fields[i]; i++)
		if (!strcmp(create_fields[i], name))
			return 1;
	return 0;
}

/* A string field of the request, or NULL; *bad set on a wrong type. */
static const char *opt_string(const cJSON *root, const char *name,
			      struct wl_api_response *rs, int *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);

	if (!v || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsString(v)) {
		wl_api_error(rs, 400, "invalid", "%s: must be a string", name);
		*bad = 1;
		return NULL;
	}
	return v->valuestring;
}

static void make_id(char out[WL_ID_MAX + 1])
{
	char hex[11];

	wl_random_hex(hex, 5);
	snprintf(out, WL_ID_MAX + 1, "wl-%s", hex);
}

static int parse_create(const struct wl_api_request *rq, struct wl_worklet *w,
			struct wl_api_response *rs)
{
	const char *s, *name, *repo;
	const cJSON *it, *env, *port;
	cJSON *root = NULL;
	int bad = 0, t;

	if (!rq->body_len) {
		wl_api_error(rs, 400, "invalid", "a JSON body is required");
		return -1;
	}
	root = cJSON_ParseWithLength(rq->body, rq->body_len);
	if (!root || !cJSON_IsObject(root)) {
		wl_api_error(rs, 400, "malformed_json",
			     "the body is not a JSON object");
		goto fail;
	}
	cJSON_ArrayForEach (it, root) {
		if (!field_known(it->string)) {
			wl_api_error(rs, 400, "invalid", "%s: unknown field",
				     it->string);
			goto fail;
		}
	}
	repo = opt_string(root, "git_repo", rs, &bad);
	name = opt_string(root, "name", rs, &bad);
	if (bad)
		goto fail;
	if (!repo || !*repo) {
		wl_api_error(rs, 400, "invalid", "git_repo: is required");
		goto fail;
	}
	wl_str_set(&w->spec.git_repo, repo);
	wl_str_set(&w->meta.name, name && *name ? name : w->meta.id);
	if ((s = opt_string(root, "description", rs, &bad)))
		wl_str_set(&w->spec.description, s);
	if ((s = opt_string(root, "branch", rs, &bad)) && *s)
		wl_str_set(&w->spec.branch, s);
	if ((s = opt_string(root, "base_prompt", rs, &bad)))
		wl_str_set(&w->spec.base_prompt, s);
	if ((s = opt_string(root, "dockerfile", rs, &bad)))
		wl_str_set(&w->spec.dockerfile, s);
	if ((s = opt_string(root, "start_command", rs, &bad)))
		wl_str_set(&w->spec.start_command, s);
	if ((s = opt_string(root, "runtime_version", rs, &bad)))
		wl_str_set(&w->spec.runtime_version, s);
	if ((s = opt_string(root, "app_path", rs, &bad)))
		wl_str_set(&w->spec.path, s);
	if ((s = opt_string(root, "project_type", rs, &bad))) {
		if ((t = wl_project_type_parse(s)) < 0) {
			wl_api_error(rs, 400, "invalid",
				     "project_type: must be one of auto, "
				     "dockerfile, node, python, go, static");
			goto fail;
		}
		w->spec.project_type = (enum wl_project_type)t;
	}
	if (bad)
		goto fail;
	port = cJSON_GetObjectItemCaseSensitive(root, "container_port");
	if (port && !cJSON_IsNull(port)) {
		if (!cJSON_IsNumber(port) ||
		    port->valuedouble != (int)port->valuedouble) {
			wl_api_error(rs, 400, "invalid",
				     "container_port: must be an integer");
			goto fail;
		}
		w->spec.container_port = (int)port->valuedouble;
	}
	env = cJSON_GetObjectItemCaseSensitive(root, "environment");
	if (env && !cJSON_IsNull(env)) {
		if (!cJSON_IsObject(env)) {
			wl_api_error(rs, 400, "invalid",
				     "environment: must be an object of "
				     "strings");
			goto fail;
		}
		cJSON_ArrayForEach (it, env) {
			if (!cJSON_IsString(it)) {
				wl_api_error(rs, 400, "invalid",
					     "environment.%s: must be a string",
					     it->string);
				goto fail;
			}
			wl_kvlist_set(&w->spec.env, it->string,
				      it->valuestring);
		}
	}
	cJSON_Delete(root);
	return 0;
fail:
	cJSON_Delete(root);
	return -1;
}

/*
 * Translate the resource's field paths to the API's names, so a 400 names
 * the field the caller sent: "spec.gitRepo: ..." -> "git_repo: ...".
 */
static void api_field_message(char *out, size_t n, const char *msg)
{
	static const struct {
		const char *resource, *api;
	} names[] = {
		{ "spec.gitRepo", "git_repo" },
		{ "spec.branch", "branch" },
		{ "spec.basePrompt", "base_prompt" },
		{ "spec.description", "description" },
		{ "spec.env", "environment" },
		{ "spec.containerPort", "container_port" },
		{ "spec.startCommand", "start_command" },
		{ "spec.runtimeVersion", "runtime_version" },
		{ "spec.dockerfile", "dockerfile" },
		{ "spec.path", "app_path" },
		{ "spec.projectType", "project_type" },
		{ "metadata.name", "name" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t len = strlen(names[i].resource);

		if (!strncmp(msg, names[i].resource, len)) {
			snprintf(out, n, "%s%s", names[i].api, msg + len);
			return;
		}
	}
	snprintf(out, n, "%s", msg);
}

/*
 * A write to the state directory failed: a full disk is 507 and says so
 * (nothing was changed, the client may retry once space is freed); any
 * other failure is 500. The detail (paths) goes to the log only.
 */
static void storage_error(struct wl_api_response *rs, int error,
			  const char *what)
{
	if (error == WL_ENOSPACE)
		wl_api_error(rs, 507, "insufficient_storage",
			     "%s: the state directory is full; nothing was "
			     "changed, retry when space is freed",
			     what);
	else
		wl_api_error(rs, 500, "storage", "%s", what);
}

/*
 * The address rule of the repository (git_policy.h): 0 allowed, 1 the
 * server must look its host up first (rs->lookup_needed), -1 refused (rs
 * set, the message prefixed with field).
 */
static int check_repo_address(const struct wl_config *cfg,
			      const struct wl_api_request *rq, const char *url,
			      const char *field, struct wl_api_response *rs)
{
	struct wl_git_policy pol = { cfg->allow_local_repos,
				     cfg->git_allowed_hosts };
	int rc = wl_git_policy_check_url(&pol, url, rq->lookup, &rs->lookup);

	if (rc == 1) {
		rs->lookup_needed = 1;
		return 1;
	}
	if (rc < 0) {
		wl_api_error(rs, 400, "invalid", "%s: %s", field,
			     wl_error_last());
		return -1;
	}
	return 0;
}

static void handle_create(const struct wl_config *cfg,
			  const struct wl_store *store,
			  const struct wl_api_request *rq,
			  struct wl_api_response *rs)
{
	struct wl_worklet w;
	char id[WL_ID_MAX + 1], msg[1024];
	int64_t now = wl_time_now_ms();
	int error;

	wl_worklet_init(&w);
	do {
		char path[4096];

		make_id(id);
		snprintf(path, sizeof(path), "%s/%s.yaml", store->specs_dir,
			 id);
		if (!wl_fs_exists(path))
			break;
	} while (1);
	wl_str_set(&w.meta.id, id);
	wl_str_set(&w.meta.user_id, rq->user);
	w.meta.generation = 1;
	w.meta.created_ms = now;
	w.meta.updated_ms = now;
	if (parse_create(rq, &w, rs) < 0)
		goto out;
	if (wl_validate_worklet(&w, cfg->allow_local_repos) < 0) {
		api_field_message(msg, sizeof(msg), wl_error_last());
		wl_api_error(rs, 400, "invalid", "%s", msg);
		goto out;
	}
	if (!wl_git_host_allowed(w.spec.git_repo, cfg->git_allowed_hosts)) {
		wl_api_error(rs, 400, "invalid",
			     "git_repo: the host is not allowed; repositories "
			     "may only come from %s",
			     cfg->git_allowed_hosts);
		goto out;
	}
	if (check_repo_address(cfg, rq, w.spec.git_repo, "git_repo", rs))
		goto out;
	if ((error = wl_store_write_spec(store, &w)) < 0) {
		wl_err("create '%s': %s", id, wl_error_last());
		storage_error(rs, error, "cannot store the worklet");
		goto out;
	}
	wl_info("user '%s' created worklet '%s'", rq->user, id);
	respond_json(rs, 201, worklet_view(cfg, store, &w, 0));
out:
	wl_worklet_release(&w);
}

/* ---- list, get, delete, actions ----------------------------------------- */

static void handle_list(const struct wl_config *cfg,
			const struct wl_store *store,
			const struct wl_api_request *rq,
			struct wl_api_response *rs)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char **ids = NULL;
	size_t n = 0;

	if (wl_store_list(store, 0, &ids, &n) < 0) {
		cJSON_Delete(root);
		wl_api_error(rs, 500, "storage", "cannot list worklets");
		return;
	}
	arr = cJSON_AddArrayToObject(root, "worklets");
	for (size_t i = 0; i < n; i++) {
		struct wl_worklet w;

		wl_worklet_init(&w);
		if (wl_api_load_owned(store, ids[i], rq->user, &w) == 0)
			cJSON_AddItemToArray(arr,
					     worklet_view(cfg, store, &w, 0));
		wl_worklet_release(&w);
	}
	cJSON_AddNumberToObject(root, "count", cJSON_GetArraySize(arr));
	wl_store_free_ids(ids, n);
	respond_json(rs, 200, root);
}

/* Write a changed spec: bump generation and updatedAt. */
static int update_spec(const struct wl_store *store, struct wl_worklet *w,
		       struct wl_api_response *rs)
{
	int error;

	w->meta.generation =
		w->meta.generation > 0 ? w->meta.generation + 1 : 2;
	w->meta.updated_ms = wl_time_now_ms();
	if ((error = wl_store_write_spec(store, w)) < 0) {
		wl_err("update '%s': %s", w->meta.id, wl_error_last());
		storage_error(rs, error, "cannot store the worklet");
		return -1;
	}
	return 0;
}

static void handle_action(const struct wl_config *cfg,
			  const struct wl_store *store,
			  const struct wl_api_request *rq, const char *id,
			  const char *action, struct wl_api_response *rs)
{
	struct wl_worklet w;

	if (load_or_answer(store, id, rq->user, &w, rs) < 0)
		goto out;
	if (w.meta.deletion_ms) {
		wl_api_error(rs, 409, "deleting",
			     "worklet '%s' is being deleted", id);
		goto out;
	}
	if (!strcmp(action, "start")) {
		w.spec.run_state = WL_RUN_RUNNING;
	} else if (!strcmp(action, "stop")) {
		w.spec.run_state = WL_RUN_STOPPED;
	} else {
		/* A rollout restart: a new marker recreates the container. */
		w.spec.run_state = WL_RUN_RUNNING;
		w.spec.restarted_ms = wl_time_now_ms();
	}
	if (update_spec(store, &w, rs) < 0)
		goto out;
	wl_info("user '%s': %s worklet '%s'", rq->user, action, id);
	respond_json(rs, 202, worklet_view(cfg, store, &w, 0));
out:
	wl_worklet_release(&w);
}

static void cancel_prompts(const struct wl_store *store, const char *id);

static void handle_delete(const struct wl_config *cfg,
			  const struct wl_store *store,
			  const struct wl_api_request *rq, const char *id,
			  struct wl_api_response *rs)
{
	struct wl_worklet w;

	if (load_or_answer(store, id, rq->user, &w, rs) < 0)
		goto out;
	if (!w.meta.deletion_ms) {
		w.meta.deletion_ms = wl_time_now_ms();
		if (update_spec(store, &w, rs) < 0)
			goto out;
		/* An agent at work on it stops now, not at its time limit. */
		cancel_prompts(store, id);
		wl_info("user '%s' deleted worklet '%s'", rq->user, id);
	}
	respond_json(rs, 202, worklet_view(cfg, store, &w, 0));
out:
	wl_worklet_release(&w);
}

static void handle_status(const struct wl_config *cfg,
			  const struct wl_store *store,
			  const struct wl_api_request *rq, const char *id,
			  struct wl_api_response *rs)
{
	struct wl_worklet w;
	cJSON *full, *o;
	static const char *const keep[] = {
		"id",
		"status",
		"web_url",
		"port",
		"generation",
		"observed_generation",
		"run_state",
		"deleting",
		"commit",
		"last_error",
		"restart_count",
		"last_exit_code",
		"conditions",
		"detection",
		"container_id",
		"active_prompt",
		"queued_prompts",
		"serving_commit",
		"pull_request",
		"updated_at",
		NULL,
	};

	if (load_or_answer(store, id, rq->user, &w, rs) < 0)
		goto out;
	full = worklet_view(cfg, store, &w, 0);
	o = cJSON_CreateObject();
	for (size_t i = 0; keep[i]; i++) {
		cJSON *v = cJSON_DetachItemFromObject(full, keep[i]);

		if (v)
			cJSON_AddItemToObject(o, keep[i], v);
	}
	cJSON_Delete(full);
	respond_json(rs, 200, o);
out:
	wl_worklet_release(&w);
}

static void handle_get(const struct wl_config *cfg,
		       const struct wl_store *store,
		       const struct wl_api_request *rq, const char *id,
		       struct wl_api_response *rs)
{
	struct wl_worklet w;

	if (load_or_answer(store, id, rq->user, &w, rs) == 0)
		respond_json(rs, 200, worklet_view(cfg, store, &w, 1));
	wl_worklet_release(&w);
}

/* ---- the resource form: GET ?format=resource, PUT ---------------------- */

/*
 * ?format=resource asks for the resource's own document (apiVersion, kind,
 * metadata, spec, status; specs/worklet-schema.md) instead of the API's
 * view: what `workletctl get -o yaml` prints and PUT takes back. Returns
 * 1 for it, 0 for the view, -1 (rs set) for an unknown format.
 */
static int want_resource(const struct wl_api_request *rq,
			 struct wl_api_response *rs)
{
	char v[16];
	int found = wl_query_param(rq->query, "format", v, sizeof(v));

	if (found == 0)
		return 0;
	if (found == 1 && !strcmp(v, "resource"))
		return 1;
	wl_api_error(rs, 400, "invalid", "format: must be 'resource'");
	return -1;
}

static void respond_resource(struct wl_api_response *rs, int status,
			     const struct wl_worklet *w)
{
	rs->status = status;
	rs->content_type = "application/json";
	wl_buf_reset(&rs->body);
	if (wl_json_encode_full(&rs->body, w) < 0 ||
	    wl_buf_putc(&rs->body, '\n') < 0)
		wl_api_error(rs, 500, "internal", "cannot encode the worklet");
}

static void handle_get_resource(const struct wl_store *store,
				const struct wl_api_request *rq, const char *id,
				struct wl_api_response *rs)
{
	struct wl_worklet w;

	if (load_or_answer(store, id, rq->user, &w, rs) == 0)
		respond_resource(rs, 200, &w);
	wl_worklet_release(&w);
}

/* The caller's worklets as {"apiVersion", "kind": "WorkletList", "items"}. */
static void handle_list_resources(const struct wl_store *store,
				  const struct wl_api_request *rq,
				  struct wl_api_response *rs)
{
	char **ids = NULL;
	size_t n = 0, count = 0;
	int error = 0;

	if (wl_store_list(store, 0, &ids, &n) < 0) {
		wl_api_error(rs, 500, "storage", "cannot list worklets");
		return;
	}
	rs->status = 200;
	rs->content_type = "application/json";
	wl_buf_reset(&rs->body);
	error = wl_buf_puts(&rs->body, "{\"apiVersion\":\"" WL_API_VERSION
				       "\",\"kind\":\"WorkletList\","
				       "\"items\":[");
	for (size_t i = 0; i < n && !error; i++) {
		struct wl_worklet w;

		wl_worklet_init(&w);
		if (wl_api_load_owned(store, ids[i], rq->user, &w) == 0) {
			if (count++)
				error = wl_buf_putc(&rs->body, ',');
			if (!error)
				error = wl_json_encode_full(&rs->body, &w);
		}
		wl_worklet_release(&w);
	}
	if (!error)
		error = wl_buf_puts(&rs->body, "]}\n");
	if (error)
		wl_api_error(rs, 500, "internal", "cannot encode the worklets");
	wl_store_free_ids(ids, n);
}

/* Hand src's pull request over to dst (the API's /pr owns it). */
static void pr_request_move(struct wl_pr_request *dst,
			    struct wl_pr_request *src)
{
	free(dst->title);
	free(dst->description);
	free(dst->branch);
	free(dst->base);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

/* 1 if a and b hold the same metadata and spec, as they would be stored. */
static int same_spec(const struct wl_worklet *a, const struct wl_worklet *b)
{
	struct wl_buf ea, eb;
	int same;

	wl_buf_init(&ea, WL_SPEC_FILE_MAX * 2);
	wl_buf_init(&eb, WL_SPEC_FILE_MAX * 2);
	same = wl_yaml_encode_spec(&ea, a) == 0 &&
	       wl_yaml_encode_spec(&eb, b) == 0 && ea.len == eb.len &&
	       !memcmp(wl_buf_cstr(&ea), wl_buf_cstr(&eb), ea.len);
	wl_buf_release(&ea);
	wl_buf_release(&eb);
	return same;
}

/*
 * PUT /worklets/{id}: a Worklet document in the resource's JSON shape
 * creates the worklet with that id (201) or replaces the spec of the
 * caller's own (200; the generation moves only when something changed).
 * The server's fields are kept: metadata.userId (the caller),
 * generation, createdAt, updatedAt, deletionTimestamp, and
 * spec.pullRequest (POST /pr's); spec.restartedAt is kept when the
 * document has none. A status section is ignored. Ids are global: one
 * that belongs to someone else answers 409.
 */
static void handle_put(const struct wl_config *cfg,
		       const struct wl_store *store,
		       const struct wl_api_request *rq, const char *id,
		       struct wl_api_response *rs)
{
	struct wl_worklet in, cur;
	struct wl_pr_request none = { 0 };
	int error, creating = 0;
	int64_t now = wl_time_now_ms();

	wl_worklet_init(&in);
	wl_worklet_init(&cur);
	if (wl_validate_id(id) < 0) {
		wl_api_error(rs, 400, "invalid", "%s", wl_error_last());
		goto out;
	}
	if (!rq->body_len) {
		wl_api_error(rs, 400, "invalid",
			     "a Worklet document (JSON) is required");
		goto out;
	}
	error = wl_json_decode_spec(&in, rq->body, rq->body_len);
	if (error < 0) {
		wl_api_error(rs, error == WL_ETOOBIG ? 413 : 400,
			     error == WL_ETOOBIG ? "too_big" : "invalid", "%s",
			     wl_error_last());
		goto out;
	}
	if (in.meta.id && strcmp(in.meta.id, id)) {
		wl_api_error(rs, 400, "invalid",
			     "metadata.id: '%s' does not match the id in the "
			     "URL, '%s'",
			     in.meta.id, id);
		goto out;
	}
	wl_str_set(&in.meta.id, id);
	error = wl_store_read_spec(store, id, &cur);
	if (error == WL_ENOTFOUND) {
		creating = 1;
	} else if (error < 0) {
		wl_err("apply '%s': %s", id, wl_error_last());
		wl_api_error(rs, 500, "unreadable_spec",
			     "worklet '%s' cannot be read", id);
		goto out;
	} else if (!cur.meta.user_id || strcmp(cur.meta.user_id, rq->user)) {
		wl_api_error(rs, 409, "id_taken",
			     "the worklet id '%s' is taken; choose another "
			     "metadata.id",
			     id);
		goto out;
	} else if (cur.meta.deletion_ms) {
		wl_api_error(rs, 409, "deleting",
			     "worklet '%s' is being deleted", id);
		goto out;
	}
	wl_str_set(&in.meta.user_id, rq->user);
	in.meta.deletion_ms = 0;
	if (creating) {
		in.meta.generation = 1;
		in.meta.created_ms = now;
		in.meta.updated_ms = now;
		pr_request_move(&in.spec.pull_request, &none);
	} else {
		in.meta.generation = cur.meta.generation;
		in.meta.created_ms = cur.meta.created_ms;
		in.meta.updated_ms = cur.meta.updated_ms;
		pr_request_move(&in.spec.pull_request, &cur.spec.pull_request);
		if (!in.spec.restarted_ms)
			in.spec.restarted_ms = cur.spec.restarted_ms;
	}
	if (wl_validate_worklet(&in, cfg->allow_local_repos) < 0) {
		wl_api_error(rs, 400, "invalid", "%s", wl_error_last());
		goto out;
	}
	/* Well-formed but more than this service grants: 422. */
	if (wl_config_check_resources(cfg, &in.spec.resources) < 0) {
		wl_api_error(rs, 422, "resources_exceed_ceiling", "%s",
			     wl_error_last());
		goto out;
	}
	if (!wl_git_host_allowed(in.spec.git_repo, cfg->git_allowed_hosts)) {
		wl_api_error(rs, 400, "invalid",
			     "spec.gitRepo: the host is not allowed; "
			     "repositories may only come from %s",
			     cfg->git_allowed_hosts);
		goto out;
	}
	if (check_repo_address(cfg, rq, in.spec.git_repo, "spec.gitRepo", rs))
		goto out;
	if (creating) {
		if ((error = wl_store_write_spec(store, &in)) < 0) {
			wl_err("apply '%s': %s", id, wl_error_last());
			storage_error(rs, error, "cannot store the worklet");
			goto out;
		}
		wl_info("user '%s' created worklet '%s' (PUT)", rq->user, id);
	} else if (!same_spec(&in, &cur)) {
		if (update_spec(store, &in, rs) < 0)
			goto out;
		wl_info("user '%s' replaced the spec of worklet '%s'", rq->user,
			id);
	}
	wl_store_read_status(store, id, &in); /* none yet is fine */
	respond_json(rs, creating ? 201 : 200,
		     worklet_view(cfg, store, &in, 0));
out:
	wl_worklet_release(&in);
	wl_worklet_release(&cur);
}

/* ---- prompts ------------------------------------------------------------ */

#define PROMPTS_QUEUED_MAX 20

static cJSON *prompt_view(const struct wl_prompt *pr, int position)
{
	cJSON *o = cJSON_CreateObject();

	add_str(o, "id", pr->id);
	add_str(o, "worklet_id", pr->worklet_id);
	add_str(o, "prompt", pr->prompt);
	add_str(o, "response", pr->response);
	cJSON_AddStringToObject(o, "status", wl_prompt_state_name(pr->state));
	add_str(o, "user_id", pr->user_id);
	add_time(o, "created_at", pr->created_ms);
	cJSON_AddStringToObject(o, "stage", wl_prompt_stage_name(pr->stage));
	if (position >= 0)
		cJSON_AddNumberToObject(o, "queue_position", position);
	add_str(o, "error", pr->error);
	add_str(o, "commit_sha", pr->commit);
	cJSON_AddBoolToObject(o, "changed", pr->changed);
	cJSON_AddNumberToObject(o, "cost_usd", pr->cost_usd);
	cJSON_AddNumberToObject(o, "num_turns", pr->num_turns);
	cJSON_AddNumberToObject(o, "duration_ms", (double)pr->duration_ms);
	cJSON_AddNumberToObject(o, "attempts", pr->attempts);
	cJSON_AddNumberToObject(o, "fixups", pr->fixups);
	cJSON_AddBoolToObject(o, "base", pr->base);
	cJSON_AddBoolToObject(o, "cancel_requested", pr->cancel_requested);
	add_time(o, "started_at", pr->started_ms);
	add_time(o, "finished_at", pr->finished_ms);
	add_time(o, "updated_at",
		 pr->updated_ms ? pr->updated_ms : pr->created_ms);
	return o;
}

/*
 * Every prompt of a worklet, oldest first, as views in arr (when not
 * NULL); *processing counts those not finished. A prompt file that does
 * not parse is skipped (the controller reports it).
 */
static int prompts_collect(const struct wl_store *store, const char *id,
			   cJSON *arr, int *processing)
{
	char **ids = NULL;
	size_t n = 0;

	*processing = 0;
	if (wl_prompt_list(store, id, &ids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct wl_prompt pr;
		int pos = -1;

		if (wl_prompt_read(store, id, ids[i], &pr) < 0)
			continue;
		if (pr.state == WL_PROMPT_PROCESSING)
			pos = (*processing)++;
		if (arr)
			cJSON_AddItemToArray(arr, prompt_view(&pr, pos));
		wl_prompt_release(&pr);
	}
	wl_store_free_ids(ids, n);
	return 0;
}

/* Ask for every unfinished prompt of id to be cancelled. */
static void cancel_prompts(const struct wl_store *store, const char *id)
{
	char **ids = NULL;
	size_t n = 0;

	if (wl_prompt_list(store, id, &ids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct wl_prompt pr;

		if (wl_prompt_read(store, id, ids[i], &pr) == 0 &&
		    pr.state == WL_PROMPT_PROCESSING && !pr.cancel_requested &&
		    wl_prompt_request_cancel(store, id, ids[i]) < 0)
			wl_warn("delete '%s': cannot cancel prompt %s: %s", id,
				ids[i], wl_error_last());
		wl_prompt_release(&pr);
	}
	wl_store_free_ids(ids, n);
}

/* Prompt ids sort by time: never hand out one older than the last. */
static int64_t prompt_clock(void)
{
	static int64_t last; /* the service thread only */
	int64_t now = wl_time_now_ms();

	last = now > last ? now : last + 1;
	return last;
}

static void handle_prompt(const struct wl_store *store,
			  const struct wl_api_request *rq, const char *id,
			  struct wl_api_response *rs)
{
	struct wl_worklet w;
	struct wl_prompt pr;
	char pid[WL_PROMPT_ID_LEN + 1];
	const cJSON *it, *text;
	cJSON *root = NULL;
	int processing, error;

	wl_prompt_init(&pr);
	if (load_or_answer(store, id, rq->user, &w, rs) < 0)
		goto out;
	root = rq->body_len ? cJSON_ParseWithLength(rq->body, rq->body_len)
			    : NULL;
	if (!root || !cJSON_IsObject(root)) {
		wl_api_error(rs, 400, "malformed_json",
			     "the body must be a JSON object like "
			     "{\"prompt\": \"...\"}");
		goto out;
	}
	cJSON_ArrayForEach (it, root) {
		if (strcmp(it->string, "prompt")) {
			wl_api_error(rs, 400, "invalid", "%s: unknown field",
				     it->string);
			goto out;
		}
	}
	text = cJSON_GetObjectItemCaseSensitive(root, "prompt");
	if (!cJSON_IsString(text) ||
	    !text->valuestring[strspn(text->valuestring, " \t\r\n")]) {
		wl_api_error(rs, 400, "invalid",
			     "prompt: is required and must be a non-empty "
			     "string");
		goto out;
	}
	if (strlen(text->valuestring) > WL_PROMPT_MAX) {
		wl_api_error(rs, 400, "invalid",
			     "prompt: must be at most %d bytes", WL_PROMPT_MAX);
		goto out;
	}
	if (w.meta.deletion_ms) {
		wl_api_error(rs, 409, "deleting",
			     "worklet '%s' is being deleted", id);
		goto out;
	}
	if (w.spec.run_state == WL_RUN_STOPPED) {
		wl_api_error(rs, 409, "stopped",
			     "worklet '%s' is stopped; start it to send "
			     "prompts",
			     id);
		goto out;
	}
	if (prompts_collect(store, id, NULL, &processing) < 0) {
		wl_api_error(rs, 500, "storage", "cannot read the prompts");
		goto out;
	}
	if (processing >= PROMPTS_QUEUED_MAX) {
		wl_api_error(rs, 429, "too_many_prompts",
			     "worklet '%s' has %d prompts waiting; wait for "
			     "them or cancel some",
			     id, processing);
		goto out;
	}
	if (wl_prompt_new_id(pid, prompt_clock()) < 0) {
		wl_api_error(rs, 500, "internal", "%s", wl_error_last());
		goto out;
	}
	pr.id = strdup(pid);
	pr.worklet_id = strdup(id);
	pr.user_id = strdup(rq->user);
	pr.prompt = strdup(text->valuestring);
	pr.created_ms = wl_time_now_ms();
	if (!pr.id || !pr.worklet_id || !pr.user_id || !pr.prompt) {
		wl_api_error(rs, 500, "internal", "out of memory");
		goto out;
	}
	/* Durable before we answer: the controller may take it at once. */
	if ((error = wl_prompt_create(store, &pr)) < 0) {
		wl_err("prompt for '%s': %s", id, wl_error_last());
		storage_error(rs, error, "cannot store the prompt");
		goto out;
	}
	wl_info("user '%s' sent prompt %s to worklet '%s'", rq->user, pid, id);
	respond_json(rs, 202, prompt_view(&pr, processing));
out:
	cJSON_Delete(root);
	wl_prompt_release(&pr);
	wl_worklet_release(&w);
}

static void handle_prompts(const struct wl_store *store,
			   const struct wl_api_request *rq, const char *id,
			   struct wl_api_response *rs)
{
	struct wl_worklet w;
	cJSON *root, *arr;
	int processing;

	if (load_or_answer(store, id, rq->user, &w, rs) < 0)
		goto out;
	root = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(root, "prompts");
	if (prompts_collect(store, id, arr, &processing) < 0) {
		cJSON_Delete(root);
		wl_api_error(rs, 500, "storage", "cannot read the prompts");
		goto out;
	}
	cJSON_AddNumberToObject(root, "count", cJSON_GetArraySize(arr));
	cJSON_AddNumberToObject(root, "processing", processing);
	respond_json(rs, 200, root);
out:
	wl_worklet_release(&w);
}

/* One prompt of a worklet you own; 404 otherwise. */
static int load_prompt(const struct wl_store *store,
		       const struct wl_api_request *rq, const char *id,
		       const char *pid, struct wl_prompt *pr,
		       struct wl_api_response *rs)
{
	struct wl_worklet w;
	int error;

	wl_prompt_init(pr);
	error = load_or_answer(store, id, rq->user, &w, rs);
	wl_worklet_release(&w);
	if (error < 0)
		return error;
	if (wl_prompt_validate_id(pid) < 0 ||
	    (error = wl_prompt_read(store, id, pid, pr)) == WL_ENOTFOUND) {
		wl_api_error(rs, 404, "not_found", "prompt '%s' not found",
			     pid);
		return WL_ENOTFOUND;
	}
	if (error < 0) {
		wl_api_error(rs, 500, "storage", "%s", wl_error_last());
		return error;
	}
	return 0;
}

static void handle_prompt_get(const struct wl_store *store,
			      const struct wl_api_request *rq, const char *id,
			      const char *pid, struct wl_api_response *rs)
{
	struct wl_prompt pr;

	if (load_prompt(store, rq, id, pid, &pr, rs) == 0)
		respond_json(rs, 200, prompt_view(&pr, -1));
	wl_prompt_release(&pr);
}

static void handle_prompt_cancel(const struct wl_store *store,
				 const struct wl_api_request *rq,
				 const char *id, const char *pid,
				 struct wl_api_response *rs)
{
	struct wl_prompt pr;
	int error;

	if (load_prompt(store, rq, id, pid, &pr, rs) < 0)
		goto out;
	if (pr.state != WL_PROMPT_PROCESSING) {
		wl_api_error(rs, 409, "finished",
			     "prompt '%s' has finished already (%s)", pid,
			     wl_prompt_state_name(pr.state));
		goto out;
	}
	if (pr.stage == WL_STAGE_BUILDING) {
		wl_api_error(rs, 409, "committed",
			     "prompt '%s' is committed and being deployed; it "
			     "can no longer be cancelled",
			     pid);
		goto out;
	}
	if (!pr.cancel_requested &&
	    (error = wl_prompt_request_cancel(store, id, pid)) < 0) {
		wl_err("cancel %s of '%s': %s", pid, id, wl_error_last());
		storage_error(rs, error, "cannot record the cancel");
		goto out;
	}
	pr.cancel_requested = 1;
	wl_info("user '%s' cancelled prompt %s of worklet '%s'", rq->user, pid,
		id);
	respond_json(rs, 202, prompt_view(&pr, -1));
out:
	wl_prompt_release(&pr);
}

/*
 * Queue a failed prompt again (the base prompt that could not be applied,
 * say): the controller runs it as it was, in its place in the order.
 */
static void handle_prompt_retry(const struct wl_store *store,
				const struct wl_api_request *rq, const char *id,
				const char *pid, struct wl_api_response *rs)
{
	struct wl_worklet w;
	struct wl_prompt pr;
	int error;

	wl_worklet_init(&w);
	if (load_prompt(store, rq, id, pid, &pr, rs) < 0)
		goto out;
	if (pr.state != WL_PROMPT_ERROR) {
		wl_api_error(rs, 409,
			     pr.state == WL_PROMPT_PROCESSING ? "processing"
							      : "finished",
			     "prompt '%s' is %s; only a prompt that failed can "
			     "be retried",
			     pid, wl_prompt_state_name(pr.state));
		goto out;
	}
	if (wl_api_load_owned(store, id, rq->user, &w) == 0 &&
	    w.meta.deletion_ms) {
		wl_api_error(rs, 409, "deleting",
			     "worklet '%s' is being deleted", id);
		goto out;
	}
	if ((error = wl_prompt_request_retry(store, id, pid,
					     wl_time_now_ms())) < 0) {
		wl_err("retry %s of '%s': %s", pid, id, wl_error_last());
		storage_error(rs, error, "cannot record the retry");
		goto out;
	}
	wl_info("user '%s' asked for prompt %s of worklet '%s' again", rq->user,
		pid, id);
	/* What it is about to be: queued again. */
	pr.state = WL_PROMPT_PROCESSING;
	pr.stage = WL_STAGE_QUEUED;
	pr.cancel_requested = 0;
	wl_str_set(&pr.error, NULL);
	pr.finished_ms = 0;
	respond_json(rs, 202, prompt_view(&pr, -1));
out:
	wl_worklet_release(&w);
	wl_prompt_release(&pr);
}

/* ---- pull requests ------------------------------------------------------ */

static const char *const pr_fields[] = { "title", "description", "branch",
					 "base", NULL };

static void handle_pr(const struct wl_config *cfg, const struct wl_store *store,
		      const struct wl_api_request *rq, const char *id,
		      struct wl_api_response *rs)
{
	struct wl_pr_request *pr;
	struct wl_worklet w;
	const cJSON *it;
	cJSON *root = NULL, *o;
	const char *s;
	char msg[1024];
	int bad = 0;
	int64_t now = wl_time_now_ms();

	if (load_or_answer(store, id, rq->user, &w, rs) < 0)
		goto out;
	root = rq->body_len ? cJSON_ParseWithLength(rq->body, rq->body_len)
			    : NULL;
	if (!root || !cJSON_IsObject(root)) {
		wl_api_error(rs, 400, "malformed_json",
			     "the body must be a JSON object like "
			     "{\"title\": \"...\", \"description\": "
			     "\"...\"}");
		goto out;
	}
	cJSON_ArrayForEach (it, root) {
		size_t i = 0;

		while (pr_fields[i] && strcmp(pr_fields[i], it->string))
			i++;
		if (!pr_fields[i]) {
			wl_api_error(rs, 400, "invalid", "%s: unknown field",
				     it->string);
			goto out;
		}
	}
	if (w.meta.deletion_ms) {
		wl_api_error(rs, 409, "deleting",
			     "worklet '%s' is being deleted", id);
		goto out;
	}
	pr = &w.spec.pull_request;
	s = opt_string(root, "title", rs, &bad);
	if (!bad && (!s || !s[strspn(s, " ")])) {
		wl_api_error(rs, 400, "invalid", "title: is required");
		goto out;
	}
	wl_str_set(&pr->title, s);
	wl_str_set(&pr->description, opt_string(root, "description", rs, &bad));
	wl_str_set(&pr->branch, opt_string(root, "branch", rs, &bad));
	wl_str_set(&pr->base, opt_string(root, "base", rs, &bad));
	if (bad)
		goto out;
	/* Each request is new, even within one millisecond. */
	pr->requested_ms = now > pr->requested_ms ? now : pr->requested_ms + 1;
	if (wl_validate_worklet(&w, cfg->allow_local_repos) < 0) {
		snprintf(msg, sizeof(msg), "%s", wl_error_last());
		wl_api_error(rs, 400, "invalid", "%s",
			     !strncmp(msg, "spec.pullRequest.", 17) ? msg + 17
								    : msg);
		goto out;
	}
	if (update_spec(store, &w, rs) < 0)
		goto out;
	wl_info("user '%s' asked for a pull request of worklet '%s'", rq->user,
		id);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "worklet_id", id);
	cJSON_AddStringToObject(o, "status", "pending");
	add_time(o, "requested_at", pr->requested_ms);
	respond_json(rs, 202, o);
	rs->wait_ms = pr->requested_ms;
	snprintf(rs->wait_id, sizeof(rs->wait_id), "%s", id);
out:
	cJSON_Delete(root);
	wl_worklet_release(&w);
}

int wl_api_pr_result(const struct wl_store *store, const char *id,
		     const char *user, int64_t requested_ms,
		     struct wl_api_response *rs)
{
	static const struct {
		const char *code;
		int status;
	} statuses[] = {
		{ "invalid", 400 },
		{ "branch_conflict", 409 },
		{ "github_validation", 422 },
		{ "github_rate_limited", 429 },
		{ "github_unavailable", 503 },
	};
	const struct wl_pr_status *ps;
	struct wl_worklet w;
	int status = 502, done = 0;
	cJSON *o;

	wl_worklet_init(&w);
	if (wl_api_load_owned(store, id, user, &w) < 0) {
		wl_api_error(rs, 404, "not_found", "worklet '%s' not found",
			     id);
		done = 1;
		goto out;
	}
	ps = &w.status.pull_request;
	if (ps->handled_ms < requested_ms)
		goto out;
	done = 1;
	if (ps->error) {
		for (size_t i = 0; i < sizeof(statuses) / sizeof(*statuses);
		     i++)
			if (ps->error_code &&
			    !strcmp(ps->error_code, statuses[i].code))
				status = statuses[i].status;
		wl_api_error(rs, status,
			     ps->error_code ? ps->error_code : "pr_failed",
			     "%s", ps->error);
		goto out;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "worklet_id", id);
	cJSON_AddNumberToObject(o, "number", ps->number);
	add_str(o, "url", ps->url);
	add_str(o, "branch", ps->branch);
	add_str(o, "base", ps->base);
	add_str(o, "commit", ps->commit);
	cJSON_AddBoolToObject(o, "created", ps->created);
	respond_json(rs, ps->created ? 201 : 200, o);
out:
	wl_worklet_release(&w);
	return done;
}

static void method_not_allowed(struct wl_api_response *rs, const char *allow)
{
	wl_api_error(rs, 405, "method_not_allowed",
		     "method not allowed; use %s", allow);
	snprintf(rs->allow, sizeof(rs->allow), "%s", allow);
}

/*
 * JSON text is UTF-8 (RFC 8259) and our strings are C strings: a body with
 * bytes that are not UTF-8, or a "\u0000" escape (cJSON would cut the
 * string there and store what comes before), is refused whole rather than
 * stored changed. Overlong forms, surrogates and code points past
 * U+10FFFF are not UTF-8 either.
 */
static const char *json_text_problem(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	int in_str = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned c = p[i];
		size_t more;
		unsigned cp, min;

		if (c < 0x80) {
			if (c == '"')
				in_str = !in_str;
			else if (c == '\\' && in_str && i + 1 < n) {
				if (p[i + 1] == 'u' && i + 5 < n &&
				    !memcmp(p + i + 2, "0000", 4))
					return "a string holds \\u0000";
				i++; /* the escaped character */
			}
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			more = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, cp = c & 0x07, min = 0x10000;
		else
			return "the body is not valid UTF-8";
		if (i + more >= n)
			return "the body is not valid UTF-8";
		for (size_t k = 1; k <= more; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return "the body is not valid UTF-8";
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return "the body is not valid UTF-8";
		i += more;
	}
	return NULL;
}

void wl_api_handle(const struct wl_config *cfg, const struct wl_store *store,
		   const struct wl_api_request *rq, struct wl_api_response *rs)
{
	char seg[4][WL_ID_MAX + 2];
	const char *p = rq->path + strlen(PREFIX);
	const char *m = rq->method;
	const char *why;
	int nseg = 0, resource;

	if (rq->body_len && (why = json_text_problem(rq->body, rq->body_len))) {
		wl_api_error(rs, 400, "malformed_json", "%s", why);
		return;
	}

	if (strncmp(rq->path, PREFIX, strlen(PREFIX)) || (*p && *p != '/')) {
		wl_api_error(rs, 404, "not_found", "no such endpoint");
		return;
	}
	/* Split up to four segments; more is an unknown endpoint. */
	while (*p == '/' && p[1]) {
		const char *end = strchr(p + 1, '/');
		size_t len = end ? (size_t)(end - p - 1) : strlen(p + 1);

		if (nseg == 4 || len == 0 || len >= sizeof(seg[0])) {
			wl_api_error(rs, 404, "not_found", "no such endpoint");
			return;
		}
		memcpy(seg[nseg], p + 1, len);
		seg[nseg++][len] = '\0';
		p += len + 1;
	}
	if (nseg == 0) {
		if (!strcmp(m, "GET")) {
			resource = want_resource(rq, rs);
			if (resource > 0)
				handle_list_resources(store, rq, rs);
			else if (resource == 0)
				handle_list(cfg, store, rq, rs);
		} else if (!strcmp(m, "POST"))
			handle_create(cfg, store, rq, rs);
		else
			method_not_allowed(rs, "GET, POST");
		return;
	}
	if (nseg == 1) {
		if (!strcmp(m, "GET")) {
			resource = want_resource(rq, rs);
			if (resource > 0)
				handle_get_resource(store, rq, seg[0], rs);
			else if (resource == 0)
				handle_get(cfg, store, rq, seg[0], rs);
		} else if (!strcmp(m, "PUT"))
			handle_put(cfg, store, rq, seg[0], rs);
		else if (!strcmp(m, "DELETE"))
			handle_delete(cfg, store, rq, seg[0], rs);
		else
			method_not_allowed(rs, "GET, PUT, DELETE");
		return;
	}
	if (nseg == 2 && (!strcmp(seg[1], "start") || !strcmp(seg[1], "stop") ||
			  !strcmp(seg[1], "restart"))) {
		if (strcmp(m, "POST"))
			method_not_allowed(rs, "POST");
		else
			handle_action(cfg, store, rq, seg[0], seg[1], rs);
		return;
	}
	if (nseg == 2 && !strcmp(seg[1], "status")) {
		if (strcmp(m, "GET"))
			method_not_allowed(rs, "GET");
		else
			handle_status(cfg, store, rq, seg[0], rs);
		return;
	}
	if (nseg == 2 && !strcmp(seg[1], "prompt")) {
		if (strcmp(m, "POST"))
			method_not_allowed(rs, "POST");
		else
			handle_prompt(store, rq, seg[0], rs);
		return;
	}
	if (nseg == 2 && !strcmp(seg[1], "prompts")) {
		if (strcmp(m, "GET"))
			method_not_allowed(rs, "GET");
		else
			handle_prompts(store, rq, seg[0], rs);
		return;
	}
	if (nseg == 3 && !strcmp(seg[1], "prompts")) {
		if (strcmp(m, "GET"))
			method_not_allowed(rs, "GET");
		else
			handle_prompt_get(store, rq, seg[0], seg[2], rs);
		return;
	}
	if (nseg == 4 && !strcmp(seg[1], "prompts") &&
	    !strcmp(seg[3], "cancel")) {
		if (strcmp(m, "POST"))
			method_not_allowed(rs, "POST");
		else
			handle_prompt_cancel(store, rq, seg[0], seg[2], rs);
		return;
	}
	if (nseg == 4 && !strcmp(seg[1], "prompts") &&
	    !strcmp(seg[3], "retry")) {
		if (strcmp(m, "POST"))
			method_not_allowed(rs, "POST");
		else
			handle_prompt_retry(store, rq, seg[0], seg[2], rs);
		return;
	}
	if (nseg == 2 && !strcmp(seg[1], "pr")) {
		if (strcmp(m, "POST"))
			method_not_allowed(rs, "POST");
		else
			handle_pr(cfg, store, rq, seg[0], rs);
		return;
	}
	wl_api_error(rs, 404, "not_found", "no such endpoint");
}
