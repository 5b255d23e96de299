/*
 * DESIGN: runs on the worker holding the worklet's key, inside its pass,
 * after the prompts step (so every commit made so far is pushed). Push and
 * GitHub calls block the worker for a few seconds at most (libgit2's and
 * libcurl's timeouts); the API server waits on the status file, not on us.
 */
#include "controller/pulls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/git_repo.h"
#include "controller/github.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/log.h"
#include "specs/prompt.h"
#include "specs/core/banned.h"

#define BODY_MAX (60 * 1024) /* GitHub's limit is 65536 characters */

int wl_pull_due(const struct wl_worklet *w)
{
	const struct wl_pr_request *rq = &w->spec.pull_request;

	return rq->requested_ms > 0 && rq->title &&
	       rq->requested_ms > w->status.pull_request.handled_ms;
}

/* The description, the preview and one line per applied prompt. */
static void pr_body(struct wl_buf *b, struct wl_pull_pass *pp,
		    const char *web_url)
{
	const struct wl_pr_request *rq = &pp->wl->spec.pull_request;
	char **ids = NULL;
	size_t n = 0;
	int listed = 0;

	if (rq->description && rq->description[0])
		wl_buf_printf(b, "%s\n\n", rq->description);
	wl_buf_puts(b, "---\n");
	/*
	 * The app's own address asks a browser to sign in, which only the
	 * dashboard's link does: a reviewer starts there.
	 */
	if (web_url) {
		size_t len = strlen(pp->r->cfg->public_url);

		wl_buf_printf(
			b,
			"Preview: %s (open it from the dashboard: "
			"%.*s/#/w/%s)\n\n",
			web_url,
			(int)(len && pp->r->cfg->public_url[len - 1] == '/'
				      ? len - 1
				      : len),
			pp->r->cfg->public_url, pp->id);
	}
	if (wl_prompt_list(&pp->r->store, pp->id, &ids, &n) < 0)
		n = 0;
	for (size_t i = 0; i < n; i++) {
		struct wl_prompt pr;
		size_t len;

		if (wl_prompt_read(&pp->r->store, pp->id, ids[i], &pr) < 0)
			continue;
		if (pr.state == WL_PROMPT_COMPLETED && pr.commit) {
			if (!listed++)
				wl_buf_puts(b,
					    "Prompts applied with Claude Code "
					    "(one commit each):\n");
			len = strcspn(pr.prompt, "\r\n");
			wl_buf_printf(b, "%d. %.*s%s (%.7s)\n", listed,
				      (int)(len > 200 ? 200 : len), pr.prompt,
				      len > 200 ? "..." : "", pr.commit);
		}
		wl_prompt_release(&pr);
	}
	wl_store_free_ids(ids, n);
	if (!listed)
		wl_buf_puts(b, "No prompts were applied.\n");
	wl_buf_puts(b, "\nOpened by worklet.\n");
}

static const char *github_code(int error)
{
	switch (error) {
	case WL_EINVALID:
		return "github_auth";
	case WL_ENOTFOUND:
		return "github_not_found";
	case WL_ECONFLICT:
		return "github_validation";
	case WL_EUNAVAIL:
		return "github_unavailable";
	default:
		return "github_error";
	}
}

static void failed(struct wl_pull_pass *pp, const char *code)
{
	struct wl_pr_status *ps = &pp->wl->status.pull_request;

	wl_str_set(&ps->error, wl_error_last());
	wl_str_set(&ps->error_code, code);
	ps->handled_ms = pp->wl->spec.pull_request.requested_ms;
	wl_warn("worklet '%s': pull request: %s", pp->id, wl_error_last());
}

void wl_pull_step(struct wl_pull_pass *pp)
{
	const struct wl_config *cfg = pp->r->cfg;
	const struct wl_pr_request *rq = &pp->wl->spec.pull_request;
	struct wl_pr_status *ps = &pp->wl->status.pull_request;
	struct wl_git_push_opts po;
	char token[1024];
	const char *tok = wl_config_git_token(cfg, pp->wl->meta.user_id, token,
					      sizeof(token));
	struct wl_github g = { cfg->github_api_url, tok, 30000 };
	struct wl_github_pr pr;
	struct wl_buf body;
	char owner[256], name[256], branch[300], sha[41];
	const char *base = rq->base ? rq->base : wl_spec_branch(&pp->wl->spec);
	int error;

	memset(&pr, 0, sizeof(pr));
	wl_buf_init(&body, BODY_MAX);
	if (rq->branch)
		snprintf(branch, sizeof(branch), "%s", rq->branch);
	else
		snprintf(branch, sizeof(branch), "worklet/%s", pp->id);
	if (wl_github_parse_repo(pp->wl->spec.git_repo, owner, sizeof(owner),
				 name, sizeof(name)) < 0) {
		failed(pp, "invalid");
		goto out;
	}
	if (!wl_fs_exists(pp->clone_dir)) {
		wl_error_set("the worklet has no clone yet");
		failed(pp, "invalid");
		goto out;
	}

	memset(&po, 0, sizeof(po));
	po.dir = pp->clone_dir;
	po.url = pp->wl->spec.git_repo;
	po.branch = branch;
	po.token = tok;
	po.token_hosts = cfg->git_token_hosts;
	po.allow_local = cfg->allow_local_repos;
	po.allowed_hosts = cfg->git_allowed_hosts;
	po.cancel = pp->r->stop;
	if ((error = wl_git_push(&po, sha)) < 0) {
		failed(pp, error == WL_ECONFLICT ? "branch_conflict"
						 : "push_failed");
		goto out;
	}
	wl_info("worklet '%s': pushed %.12s to '%s'", pp->id, sha, branch);

	pr_body(&body, pp, pp->wl->status.web_url);
	error = wl_github_find_open_pr(&g, owner, name, branch, &pr);
	if (error == 0) {
		int number = pr.number;

		wl_github_pr_release(&pr);
		error = wl_github_update_pr(&g, owner, name, number, rq->title,
					    wl_buf_cstr(&body), &pr);
		ps->created = 0;
	} else if (error == WL_ENOTFOUND &&
		   strstr(wl_error_last(), "no open pull request")) {
		error = wl_github_create_pr(&g, owner, name, branch, base,
					    rq->title, wl_buf_cstr(&body), &pr);
		ps->created = 1;
	}
	if (error < 0) {
		failed(pp, strstr(wl_error_last(), "rate limit")
				   ? "github_rate_limited"
				   : github_code(error));
		goto out;
	}
	ps->handled_ms = rq->requested_ms;
	ps->number = pr.number;
	wl_str_set(&ps->url, pr.html_url);
	wl_str_set(&ps->branch, branch);
	wl_str_set(&ps->base, pr.base ? pr.base : base);
	wl_str_set(&ps->commit, sha);
	wl_str_set(&ps->error, NULL);
	wl_str_set(&ps->error_code, NULL);
	wl_info("worklet '%s': pull request #%d %s: %s", pp->id, pr.number,
		ps->created ? "opened" : "updated", pr.html_url);
out:
	wl_github_pr_release(&pr);
	wl_buf_release(&body);
}
