/*
 * DESIGN: everything here runs inside one worklet's reconcile pass, on the
 * worker holding its key, so the worklet's prompt files and clone have one
 * writer. The only shared state is the agent slot count (r->agent_lock).
 * The agent blocks the worker for as long as it runs (bounded by the
 * wall-clock limit); a prompt that finds every slot busy leaves the worker
 * free and asks to be looked at again a second later.
 *
 * The agent's progress goes to logs/<id>/agent.log, one human line per
 * stream event, which the API server's watcher pushes to WebSocket
 * subscribers like build output.
 */
#include "controller/prompts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller/agent.h"
#include "controller/git_repo.h"
#include "controller/workqueue.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/log.h"
#include "specs/core/timeutil.h"
#include "specs/prompt.h"
#include "specs/core/banned.h"

#define AGENT_LOG_MAX (1 << 20) /* truncated when a prompt starts above it */
#define AGENT_LINE_MAX 1000
#define SLOT_RETRY_MS 1000
#define FIX_LOG_LINES 40

/* ---- small helpers ----------------------------------------------------- */

static const char *store_err(void)
{
	return wl_error_last();
}

static void set_cond(struct wl_prompt_pass *pp, const char *st,
		     const char *reason, const char *message)
{
	wl_status_set_condition(&pp->wl->status, "Agent", st, reason, message,
				pp->now);
}

static void lower(int64_t *requeue_ms, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (*requeue_ms < 0 || ms < *requeue_ms)
		*requeue_ms = ms;
}

static int slot_take(struct wl_reconciler *r)
{
	int ok;

	pthread_mutex_lock(&r->agent_lock);
	ok = r->agents_running < r->cfg->agent_concurrency;
	if (ok)
		r->agents_running++;
	pthread_mutex_unlock(&r->agent_lock);
	return ok;
}

static void slot_give(struct wl_reconciler *r)
{
	pthread_mutex_lock(&r->agent_lock);
	r->agents_running--;
	pthread_mutex_unlock(&r->agent_lock);
}

/*
 * Record a prompt's progress. A full disk is waited out (the worker holds
 * this worklet until the write goes through or workletd stops): a record
 * left behind on disk would make the next pass run the agent again and
 * lose the commit it made.
 */
static int save_prompt(struct wl_prompt_pass *pp, struct wl_prompt *pr)
{
	int error, waited = 0;

	pr->updated_ms = wl_time_now_ms();
	while ((error = wl_prompt_write_status(&pp->r->store, pr)) ==
		       WL_ENOSPACE &&
	       !*pp->r->stop) {
		if (!waited++)
			wl_err("worklet '%s': prompt %s: cannot write its "
			       "status, waiting for space: %s",
			       pp->id, pr->id, store_err());
		sleep(1);
	}
	if (error < 0)
		wl_err("worklet '%s': prompt %s: cannot write its status: %s",
		       pp->id, pr->id, store_err());
	else if (waited)
		wl_info("worklet '%s': prompt %s: status written after %d s",
			pp->id, pr->id, waited);
	return error;
}

/*
 * The BasePrompt condition: False while the base prompt failed, and then
 * its message is also the worklet's lastError (note_base_prompt), so
 * whoever looks at the running worklet sees that it runs without it;
 * Unknown while a retry waits or runs; True once applied.
 */
static const char *base_failure(const struct wl_status *st)
{
	const struct wl_condition *c = wl_status_condition(st, "BasePrompt");

	return c && c->status && !strcmp(c->status, "False") ? c->message
							     : NULL;
}

/* Set BasePrompt; lastError loses the old failure it held, if it did. */
static void set_base_cond(struct wl_prompt_pass *pp, const char *status,
			  const char *reason, const char *message)
{
	struct wl_status *st = &pp->wl->status;
	const char *old = base_failure(st);

	if (old && st->last_error && !strcmp(st->last_error, old))
		wl_str_set(&st->last_error, NULL);
	wl_status_set_condition(st, "BasePrompt", status, reason, message,
				pp->now);
	if (!strcmp(status, "False"))
		wl_str_set(&st->last_error, message);
}

/* A prompt is over: state, message, time; the worklet forgets it. */
static void finish(struct wl_prompt_pass *pp, struct wl_prompt *pr,
		   enum wl_prompt_state state, const char *error)
{
	pr->state = state;
	pr->stage = WL_STAGE_DONE;
	pr->finished_ms = wl_time_now_ms();
	wl_str_set(&pr->error, error);
	wl_str_set(&pr->fix_request, NULL);
	wl_str_set(&pr->runner, NULL);
	save_prompt(pp, pr);
	if (state == WL_PROMPT_COMPLETED) {
		wl_info("worklet '%s': prompt %s completed%s", pp->id, pr->id,
			pr->changed ? "" : " (no changes)");
		set_cond(pp, "True", pr->changed ? "Applied" : "NoChanges",
			 pr->id);
		if (pr->base)
			set_base_cond(pp, "True",
				      pr->changed ? "Applied" : "NoChanges",
				      pr->id);
	} else {
		wl_warn("worklet '%s': prompt %s failed: %s", pp->id, pr->id,
			error);
		set_cond(pp, "False", "PromptFailed", error);
		if (pr->base) {
			char msg[1024];

			snprintf(msg, sizeof(msg),
				 "the base prompt was not applied (prompt %s: "
				 "%s); the app runs the repository as it is; "
				 "retry it: workletctl retry %s %s",
				 pr->id, error, pp->id, pr->id);
			set_base_cond(pp, "False", "Failed", msg);
		}
	}
	if (pp->wl->status.active_prompt &&
	    !strcmp(pp->wl->status.active_prompt, pr->id))
		wl_str_set(&pp->wl->status.active_prompt, NULL);
}

/* Put the tree back to the last commit, saying so when it fails. */
static void restore(struct wl_prompt_pass *pp)
{
	if (wl_fs_exists(pp->clone_dir) && wl_git_restore(pp->clone_dir) < 0)
		wl_err("worklet '%s': cannot restore the working tree: %s",
		       pp->id, wl_error_last());
}

/* ---- the agent log ------------------------------------------------------ */

struct run_ctx {
	struct wl_prompt_pass *pp;
	int log_fd;
	char cancel_path[4096];
	char spec_path[4096];
	int64_t next_check_ms;
	int cancelled;
};

/* One line into agent.log: control characters become spaces. */
static void log_line(struct run_ctx *rc, const char *prefix, const char *text)
{
	struct wl_buf b;

	if (rc->log_fd < 0)
		return;
	wl_buf_init(&b, AGENT_LINE_MAX + 64);
	wl_buf_puts(&b, prefix);
	for (const char *s = text ? text : ""; *s; s++) {
		if (b.len >= AGENT_LINE_MAX) {
			wl_buf_puts(&b, " [...]");
			break;
		}
		wl_buf_putc(&b, (unsigned char)*s < 0x20 ? ' ' : *s);
	}
	wl_buf_putc(&b, '\n');
	if (b.ptr && write(rc->log_fd, b.ptr, b.len) < 0)
		wl_debug("worklet '%s': agent log: %s", rc->pp->id,
			 strerror(errno));
	wl_buf_release(&b);
}

static const char *str_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* What a tool call is about, for the log: a path, a pattern. */
static const char *tool_subject(const cJSON *input)
{
	static const char *const keys[] = { "file_path", "path", "pattern",
					    "command", "url" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		const char *v = str_of(input, keys[i]);

		if (v)
			return v;
	}
	return "";
}

static void on_event(void *ctx, const cJSON *ev)
{
	struct run_ctx *rc = ctx;
	const char *type = str_of(ev, "type");
	const cJSON *msg, *content, *block;
	char line[256];

	if (!type)
		return;
	if (!strcmp(type, "system") && str_of(ev, "subtype") &&
	    !strcmp(str_of(ev, "subtype"), "init")) {
		snprintf(line, sizeof(line), "session %.40s, model %.60s",
			 str_of(ev, "session_id") ? str_of(ev, "session_id")
						  : "?",
			 str_of(ev, "model") ? str_of(ev, "model") : "?");
		log_line(rc, "agent: ", line);
		return;
	}
	if (!strcmp(type, "result")) {
		const cJSON *turns = cJSON_GetObjectItem(ev, "num_turns");

		snprintf(line, sizeof(line), "%s after %d turns",
			 cJSON_IsTrue(cJSON_GetObjectItem(ev, "is_error"))
				 ? "error"
				 : "done",
			 cJSON_IsNumber(turns) ? turns->valueint : 0);
		log_line(rc, "result: ", line);
		return;
	}
	if (strcmp(type, "assistant") && strcmp(type, "user"))
		return;
	msg = cJSON_GetObjectItem(ev, "message");
	content = msg ? cJSON_GetObjectItem(msg, "content") : NULL;
	cJSON_ArrayForEach (block, content) {
		const char *bt = str_of(block, "type");

		if (!bt)
			continue;
		if (!strcmp(bt, "text") && !strcmp(type, "assistant")) {
			log_line(rc, "assistant: ", str_of(block, "text"));
		} else if (!strcmp(bt, "tool_use")) {
			snprintf(line, sizeof(line), "%.40s %.200s",
				 str_of(block, "name") ? str_of(block, "name")
						       : "?",
				 tool_subject(
					 cJSON_GetObjectItem(block, "input")));
			log_line(rc, "tool: ", line);
		} else if (!strcmp(bt, "tool_result") &&
			   cJSON_IsTrue(
				   cJSON_GetObjectItem(block, "is_error"))) {
			const cJSON *c = cJSON_GetObjectItem(block, "content");

			log_line(rc, "tool error: ",
				 cJSON_IsString(c) ? c->valuestring : "");
		}
	}
}

/* Polled by the runner: a cancel file, a deleted worklet, shutdown. */
static int is_cancelled(void *ctx)
{
	struct run_ctx *rc = ctx;
	int64_t now;

	if (*rc->pp->r->stop)
		return 1;
	now = wl_time_mono_ms();
	if (now < rc->next_check_ms)
		return 0;
	rc->next_check_ms = now + 200;
	if (wl_fs_exists(rc->cancel_path) || !wl_fs_exists(rc->spec_path)) {
		rc->cancelled = 1;
		return 1;
	}
	return 0;
}

static int open_agent_log(struct wl_prompt_pass *pp)
{
	char path[4096];
	struct stat st;
	int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW;

	if (wl_store_log_path(&pp->r->store, pp->id, "agent.log", path,
			      sizeof(path)) < 0)
		return -1;
	if (stat(path, &st) == 0 && st.st_size > AGENT_LOG_MAX)
		flags |= O_TRUNC;
	return open(path, flags, 0600);
}

/* ---- running one prompt ----------------------------------------------- */

/* An API error worth another try: overload, rate limit, 5xx. */
static int transient(const struct wl_agent_result *res)
{
	int s = res->api_error_status;

	if (res->timed_out || res->cancelled)
		return 0;
	if (s == 408 || s == 429 || s >= 500)
		return 1;
	return res->text && (strstr(res->text, "Overloaded") ||
			     strstr(res->text, "overloaded"));
}

/* The commit message: the prompt's first line, at most 72 bytes. */
static void commit_message(char *out, size_t n, const struct wl_prompt *pr)
{
	const char *text = pr->prompt;
	size_t len;

	while (*text == ' ' || *text == '\n' || *text == '\t')
		text++;
	len = strcspn(text, "\r\n");
	if (len > 72)
		len = 72;
	if (pr->stage == WL_STAGE_FIXING)
		snprintf(out, n,
			 "Fix the build after: %.*s\n\nworklet prompt %s\n",
			 (int)len, text, pr->id);
	else
		snprintf(out, n, "%.*s\n\nworklet prompt %s\n", (int)len, text,
			 pr->id);
}

/*
 * The CLI's config dir (CLAUDE_CONFIG_DIR: transcripts, settings). On the
 * host all worklets share <state>/claude; a sandbox gets its worklet's
 * own, <state>/agent-config/<id>, and sees no other.
 */
static void agent_config_dir(char *out, size_t n, const struct wl_reconciler *r,
			     const char *id)
{
	if (r->cfg->agent_sandboxed)
		snprintf(out, n, "%s/agent-config/%s", r->store.root, id);
	else
		snprintf(out, n, "%s/claude", r->store.root);
}

static int run_agent(struct wl_prompt_pass *pp, struct wl_prompt *pr,
		     const char *text, struct wl_agent_result *res)
{
	const struct wl_config *cfg = pp->r->cfg;
	struct wl_status *st = &pp->wl->status;
	struct wl_agent_opts o;
	struct wl_agent_sandbox sb;
	struct run_ctx rc;
	char config_dir[4096], run_dir[4096], retries[32];
	char key[8192], token[8192], base[4096];
	const char *env[5];
	size_t ne = 0;
	int error;

	memset(&rc, 0, sizeof(rc));
	rc.pp = pp;
	snprintf(rc.cancel_path, sizeof(rc.cancel_path), "%s/%s.%s.cancel",
		 pp->r->store.prompts_dir, pp->id, pr->id);
	snprintf(rc.spec_path, sizeof(rc.spec_path), "%s/%s.yaml",
		 pp->r->store.specs_dir, pp->id);
	agent_config_dir(config_dir, sizeof(config_dir), pp->r, pp->id);
	snprintf(run_dir, sizeof(run_dir), "%s/agent-runs/%s",
		 pp->r->store.root, pp->id);
	/* Each run starts with an empty HOME and TMPDIR. */
	wl_fs_remove_tree(run_dir);

	snprintf(retries, sizeof(retries), "CLAUDE_CODE_MAX_RETRIES=%d",
		 cfg->agent_cli_retries);
	env[ne++] = retries;
	if (cfg->anthropic_api_key) {
		snprintf(key, sizeof(key), "ANTHROPIC_API_KEY=%s",
			 cfg->anthropic_api_key);
		env[ne++] = key;
	}
	if (cfg->anthropic_auth_token) {
		snprintf(token, sizeof(token), "ANTHROPIC_AUTH_TOKEN=%s",
			 cfg->anthropic_auth_token);
		env[ne++] = token;
	}
	if (cfg->anthropic_base_url) {
		snprintf(base, sizeof(base), "ANTHROPIC_BASE_URL=%s",
			 cfg->anthropic_base_url);
		env[ne++] = base;
	}
	env[ne] = NULL;

	memset(&o, 0, sizeof(o));
	o.claude = cfg->claude_bin;
	o.cwd = pp->clone_dir;
	o.prompt = text;
	o.session_id = st->session_id;
	o.resume = wl_agent_session_exists(config_dir, pp->clone_dir,
					   st->session_id);
	o.model = cfg->agent_model;
	o.max_turns = cfg->agent_max_turns;
	o.allowed_tools = wl_config_agent_tools(cfg);
	o.system_prompt = cfg->agent_system_prompt;
	o.config_dir = config_dir;
	o.run_dir = run_dir;
	o.env = env;
	o.timeout_ms = cfg->agent_timeout_ms;
	o.on_event = on_event;
	o.cancelled = is_cancelled;
	o.ctx = &rc;
	if (cfg->agent_sandboxed) {
		memset(&sb, 0, sizeof(sb));
		sb.docker_host = cfg->docker_host;
		sb.image = cfg->agent_image;
		sb.network = cfg->agent_network;
		sb.memory_bytes = cfg->agent_memory;
		sb.nano_cpus = cfg->agent_nano_cpus;
		sb.pids_limit = cfg->agent_pids;
		sb.instance = cfg->instance;
		sb.worklet_id = pp->id;
		sb.runner = pp->r->runner;
		o.sandbox = &sb;
	}

	rc.log_fd = open_agent_log(pp);
	{
		char head[128];

		snprintf(head, sizeof(head), "== prompt %s%s, session %s (%s)",
			 pr->id,
			 pr->stage == WL_STAGE_FIXING ? " (fix-up)" : "",
			 st->session_id, o.resume ? "resumed" : "new");
		log_line(&rc, "", head);
	}
	wl_info("worklet '%s': prompt %s: agent running (%s session)", pp->id,
		pr->id, o.resume ? "resumed" : "new");
	error = wl_agent_run(&o, res);
	if (!error && !res->ok)
		log_line(&rc, "failed: ", res->error);
	if (rc.log_fd >= 0)
		close(rc.log_fd);
	wl_fs_remove_tree(run_dir);
	if (rc.cancelled && !*pp->r->stop)
		res->cancelled = 1;
	return error;
}

/* The fix-up text sent when the new version failed. */
static char *fix_text(struct wl_prompt_pass *pp, const char *message,
		      int build_failed)
{
	struct wl_buf b, tail;
	char path[4096];

	wl_buf_init(&b, 64 * 1024);
	wl_buf_printf(&b, "The change you just made does not work: %s\n\n%s\n",
		      build_failed ? "the Docker build failed"
				   : "the app did not start",
		      message ? message : "");
	if (build_failed) {
		wl_buf_init(&tail, 16 * 1024);
		snprintf(path, sizeof(path), "%s/%s/build.log",
			 pp->r->store.logs_dir, pp->id);
		if (wl_fs_read_tail(&tail, path, FIX_LOG_LINES) == 0 &&
		    tail.len)
			wl_buf_printf(&b,
				      "\nThe end of the build output:\n%s\n",
				      wl_buf_cstr(&tail));
		wl_buf_release(&tail);
	}
	wl_buf_puts(&b, "\nFix the code so that the project builds and the app "
			"starts and answers HTTP. Keep the change the user "
			"asked for.");
	return wl_buf_detach(&b, NULL);
}

/*
 * Run pr (queued or fixing) now. Returns 1 when it committed, 0 when it
 * ended otherwise or waits for a retry.
 */
static int run_prompt(struct wl_prompt_pass *pp, struct wl_prompt *pr,
		      int64_t *requeue_ms)
{
	const struct wl_config *cfg = pp->r->cfg;
	struct wl_status *st = &pp->wl->status;
	struct wl_agent_result res;
	int fixing = pr->stage == WL_STAGE_FIXING, changed = 0, error;
	char msg[512], sha[41];
	const char *text = fixing ? pr->fix_request : pr->prompt;

	memset(&res, 0, sizeof(res));
	if (!st->session_id) {
		char uuid[37];

		if (wl_agent_new_session_id(uuid) < 0) {
			finish(pp, pr, WL_PROMPT_ERROR, wl_error_last());
			return 0;
		}
		wl_str_set(&st->session_id, uuid);
	}
	if (!pr->started_ms)
		pr->started_ms = wl_time_now_ms();
	if (!fixing)
		pr->stage = WL_STAGE_RUNNING;
	wl_str_set(&pr->runner, pp->r->runner);
	/* The worklet first (session, active prompt), then the prompt: who
	 * sees the prompt running finds the session in the status. */
	wl_str_set(&st->active_prompt, pr->id);
	if (!fixing)
		wl_str_set(&st->last_prompt, pr->prompt);
	set_cond(pp, "Unknown", fixing ? "FixingBuild" : "Running", pr->id);
	pp->save(pp->ctx);
	save_prompt(pp, pr);

	error = run_agent(pp, pr, text ? text : pr->prompt, &res);
	pr->cost_usd += res.cost_usd;
	pr->num_turns += res.num_turns;
	pr->duration_ms += res.duration_ms;
	if (res.text)
		wl_str_set(&pr->response, res.text);
	if (error < 0) {
		/* The CLI is missing or the options are wrong: not retried. */
		restore(pp);
		finish(pp, pr, WL_PROMPT_ERROR, wl_error_last());
		goto out;
	}
	if (*pp->r->stop) {
		/* workletd stops: the next start sees "interrupted". */
		goto out;
	}
	if (!res.ok) {
		if (!res.cancelled && transient(&res) &&
		    pr->attempts < cfg->agent_retries) {
			int64_t delay = wl_backoff_ms(
				cfg->agent_retry_backoff_ms,
				cfg->agent_retry_backoff_ms * 8, pr->attempts);

			pr->attempts++;
			pr->next_attempt_ms = wl_time_now_ms() + delay;
			if (!fixing)
				pr->stage = WL_STAGE_QUEUED;
			snprintf(msg, sizeof(msg), "%s; retry %d in %llds",
				 res.error, pr->attempts,
				 (long long)(delay / 1000));
			wl_str_set(&pr->error, msg);
			wl_str_set(&pr->runner, NULL);
			save_prompt(pp, pr);
			set_cond(pp, "Unknown", "RetryingAfterAPIError", msg);
			wl_warn("worklet '%s': prompt %s: %s", pp->id, pr->id,
				msg);
			lower(requeue_ms, delay);
			goto out;
		}
		restore(pp);
		finish(pp, pr, WL_PROMPT_ERROR,
		       res.cancelled ? "cancelled" : res.error);
		goto out;
	}
	if (wl_git_changed(pp->clone_dir, &changed) < 0) {
		restore(pp);
		finish(pp, pr, WL_PROMPT_ERROR, wl_error_last());
		goto out;
	}
	if (!changed) {
		if (fixing) {
			finish(pp, pr, WL_PROMPT_ERROR,
			       "the fix-up changed nothing; the new version "
			       "still fails");
			goto out;
		}
		pr->changed = 0;
		finish(pp, pr, WL_PROMPT_COMPLETED, NULL);
		goto out;
	}
	commit_message(msg, sizeof(msg), pr);
	if (wl_git_commit_all(pp->clone_dir, msg, cfg->git_author_name,
			      cfg->git_author_email, sha) < 0) {
		restore(pp);
		finish(pp, pr, WL_PROMPT_ERROR, wl_error_last());
		goto out;
	}
	wl_info("worklet '%s': prompt %s committed %.12s", pp->id, pr->id, sha);
	pr->changed = 1;
	wl_str_set(&pr->commit, sha);
	wl_str_set(&pr->error, NULL);
	wl_str_set(&pr->fix_request, NULL);
	wl_str_set(&pr->runner, NULL);
	pr->stage = WL_STAGE_BUILDING;
	save_prompt(pp, pr);
	set_cond(pp, "Unknown", "Deploying", pr->id);
	wl_agent_result_release(&res);
	return 1;
out:
	wl_agent_result_release(&res);
	return 0;
}

/* ---- the queue --------------------------------------------------------- */

/*
 * workletd went away while pr ran. If it had already committed (HEAD is a
 * new commit naming the prompt, see commit_message), the prompt goes on to
 * its deploy like any committed one: it must not end as interrupted while
 * its change is in the branch and gets deployed. Returns 1 if adopted.
 */
static int adopt_commit(struct wl_prompt_pass *pp, struct wl_prompt *pr)
{
	char needle[64], sha[41];

	snprintf(needle, sizeof(needle), "\nworklet prompt %s\n", pr->id);
	if (wl_git_head_mentions(pp->clone_dir, needle) != 1 ||
	    wl_git_head(pp->clone_dir, sha) < 0 ||
	    (pr->commit && !strcmp(pr->commit, sha)))
		return 0;
	wl_info("worklet '%s': prompt %s had committed %.12s when workletd "
		"stopped; deploying it",
		pp->id, pr->id, sha);
	restore(pp);
	pr->changed = 1;
	wl_str_set(&pr->commit, sha);
	wl_str_set(&pr->error, NULL);
	wl_str_set(&pr->runner, NULL);
	pr->stage = WL_STAGE_BUILDING;
	save_prompt(pp, pr);
	return 1;
}

/*
 * A failed prompt whose retry was asked for after it ended (the .retry
 * file) goes back to the queue as it was first sent.
 */
static void requeue_retried(struct wl_prompt_pass *pp, struct wl_prompt *pr)
{
	if (pr->state != WL_PROMPT_ERROR || !pr->retry_ms ||
	    pr->retry_ms <= pr->finished_ms)
		return;
	wl_info("worklet '%s': prompt %s queued again (retry asked)", pp->id,
		pr->id);
	pr->state = WL_PROMPT_PROCESSING;
	pr->stage = WL_STAGE_QUEUED;
	pr->attempts = 0;
	pr->fixups = 0;
	pr->changed = 0;
	pr->next_attempt_ms = 0;
	pr->finished_ms = 0;
	pr->started_ms = 0;
	wl_str_set(&pr->error, NULL);
	wl_str_set(&pr->commit, NULL);
	wl_str_set(&pr->fix_request, NULL);
	wl_str_set(&pr->runner, NULL);
	save_prompt(pp, pr);
	if (pr->base)
		set_base_cond(pp, "Unknown", "Retrying", pr->id);
}

/* The base prompt is the first prompt, made by the controller once. */
static void ensure_base_prompt(struct wl_prompt_pass *pp)
{
	const struct wl_worklet *w = pp->wl;
	struct wl_prompt pr;
	char id[WL_PROMPT_ID_LEN + 1];
	int64_t created = w->meta.created_ms > 0 ? w->meta.created_ms : 0;

	if (!w->spec.base_prompt || !w->spec.base_prompt[0])
		return;
	/* Deterministic: the worklet's creation time and zeros. */
	snprintf(id, sizeof(id), "p%013lld000000", (long long)created);
	wl_prompt_init(&pr);
	pr.id = id;
	pr.worklet_id = (char *)pp->id;
	pr.user_id = w->meta.user_id;
	pr.prompt = w->spec.base_prompt;
	pr.base = 1;
	pr.created_ms = created;
	if (wl_prompt_create(&pp->r->store, &pr) == 0)
		wl_info("worklet '%s': base prompt queued as %s", pp->id, id);
}

int wl_prompts_step(struct wl_prompt_pass *pp, int *committed,
		    int64_t *requeue_ms)
{
	struct wl_status *st = &pp->wl->status;
	char **ids = NULL;
	size_t n = 0, queued = 0;
	struct wl_prompt next;
	int have_next = 0, error;

	*committed = 0;
	wl_prompt_init(&next);
	ensure_base_prompt(pp);
	if ((error = wl_prompt_list(&pp->r->store, pp->id, &ids, &n)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		struct wl_prompt pr;

		if (wl_prompt_read(&pp->r->store, pp->id, ids[i], &pr) < 0) {
			wl_warn("worklet '%s': skipping prompt %s: %s", pp->id,
				ids[i], wl_error_last());
			continue;
		}
		requeue_retried(pp, &pr);
		if (pr.state != WL_PROMPT_PROCESSING) {
			wl_prompt_release(&pr);
			continue;
		}
		if (pr.stage == WL_STAGE_RUNNING &&
		    (!pr.runner || strcmp(pr.runner, pp->r->runner))) {
			/* The agent was running when workletd went away;
			   in a sandbox (whatever the mode is now) it may
			   still be: nothing may write to the tree after
			   the restore. */
			if (wl_agent_sandbox_remove(pp->r->cfg->docker_host,
						    pp->r->cfg->instance,
						    pp->id) < 0)
				wl_warn("worklet '%s': %s", pp->id,
					wl_error_last());
			if (!adopt_commit(pp, &pr)) {
				restore(pp);
				finish(pp, &pr, WL_PROMPT_ERROR,
				       "interrupted: workletd stopped while "
				       "the agent was running");
				wl_prompt_release(&pr);
				continue;
			}
		}
		if (pr.cancel_requested && pr.stage != WL_STAGE_BUILDING) {
			if (pr.stage == WL_STAGE_RUNNING)
				restore(pp);
			finish(pp, &pr, WL_PROMPT_ERROR, "cancelled");
			wl_prompt_release(&pr);
			continue;
		}
		if (!have_next) {
			next = pr;
			have_next = 1;
		} else {
			queued++;
			wl_prompt_release(&pr);
		}
	}
	wl_store_free_ids(ids, n);

	st->queued_prompts = (int)queued;
	if (!have_next) {
		wl_str_set(&st->active_prompt, NULL);
		return 0;
	}
	wl_str_set(&st->active_prompt, next.id);
	if (next.stage == WL_STAGE_BUILDING) {
		/* Waits for the build and rollout; see wl_prompts_finish. */
		goto out;
	}
	if (pp->wl->spec.run_state == WL_RUN_STOPPED)
		goto out; /* prompts wait while the worklet is stopped */
	if (next.next_attempt_ms > pp->now) {
		lower(requeue_ms, next.next_attempt_ms - pp->now);
		goto out;
	}
	if (!slot_take(pp->r)) {
		lower(requeue_ms, SLOT_RETRY_MS);
		goto out;
	}
	*committed = run_prompt(pp, &next, requeue_ms);
	slot_give(pp->r);
	if (!*committed && next.state != WL_PROMPT_PROCESSING && queued)
		lower(requeue_ms, 0); /* the next one */
out:
	wl_prompt_release(&next);
	return 0;
}

static void finish_active(struct wl_prompt_pass *pp, const char *head,
			  int build_failed, int rollout_failed,
			  const char *message, int64_t *requeue_ms)
{
	const struct wl_status *st = &pp->wl->status;
	const struct wl_config *cfg = pp->r->cfg;
	struct wl_prompt pr;
	const char *id = st->active_prompt;

	if (!id || wl_prompt_read(&pp->r->store, pp->id, id, &pr) < 0)
		return;
	if (pr.state != WL_PROMPT_PROCESSING || pr.stage != WL_STAGE_BUILDING ||
	    !pr.commit)
		goto out;
	if (st->serving_commit && !strcmp(st->serving_commit, pr.commit)) {
		finish(pp, &pr, WL_PROMPT_COMPLETED, NULL);
		if (st->queued_prompts)
			lower(requeue_ms, 0);
		goto out;
	}
	if (!head || strcmp(head, pr.commit) ||
	    !(build_failed || rollout_failed))
		goto out; /* still building or starting */
	if (pr.fixups < cfg->agent_fix_attempts) {
		char *text = fix_text(pp, message, build_failed);

		pr.fixups++;
		pr.stage = WL_STAGE_FIXING;
		wl_str_set(&pr.fix_request, text);
		free(text);
		save_prompt(pp, &pr);
		set_cond(pp, "Unknown", "FixingBuild", message);
		wl_info("worklet '%s': prompt %s: the new version failed; "
			"asking the agent for a fix (%d of %d)",
			pp->id, pr.id, pr.fixups, cfg->agent_fix_attempts);
		lower(requeue_ms, 0);
		goto out;
	}
	{
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s: %s",
			 build_failed ? "the build failed"
				      : "the new version did not start",
			 message ? message : "");
		finish(pp, &pr, WL_PROMPT_ERROR, msg);
		if (st->queued_prompts)
			lower(requeue_ms, 0);
	}
out:
	wl_prompt_release(&pr);
}

/*
 * The pass may have cleared lastError (a rollout that serves clears it):
 * while the base prompt is not applied, the worklet says so.
 */
static void note_base_prompt(struct wl_prompt_pass *pp)
{
	struct wl_status *st = &pp->wl->status;

	if (base_failure(st) && !st->last_error)
		wl_str_set(&st->last_error, base_failure(st));
}

void wl_prompts_finish(struct wl_prompt_pass *pp, const char *head,
		       int build_failed, int rollout_failed,
		       const char *message, int64_t *requeue_ms)
{
	finish_active(pp, head, build_failed, rollout_failed, message,
		      requeue_ms);
	note_base_prompt(pp);
}

void wl_prompts_forget(struct wl_reconciler *r, const char *id,
		       const char *clone_dir)
{
	char path[4096];
	size_t len;

	if (wl_prompt_remove_all(&r->store, id) < 0)
		wl_warn("worklet '%s': %s", id, wl_error_last());
	snprintf(path, sizeof(path), "%s/agent-runs/%s", r->store.root, id);
	wl_fs_remove_tree(path);
	snprintf(path, sizeof(path), "%s/agent-config/%s", r->store.root, id);
	wl_fs_remove_tree(path);
	/* The CLI's transcripts: projects/<cwd, non-alphanumerics as '-'>. */
	len = (size_t)snprintf(path, sizeof(path), "%s/claude/projects/",
			       r->store.root);
	for (const char *c = clone_dir; *c && len + 1 < sizeof(path); c++)
		path[len++] = isalnum((unsigned char)*c) ? *c : '-';
	path[len] = '\0';
	wl_fs_remove_tree(path);
}
