/*
 * DESIGN: one request = one curl easy handle, JSON in and out with cJSON
 * (which stays in this file). Responses are read into a bounded buffer;
 * GitHub's error bodies ({"message", "errors": [{"message"|"code"}]}) are
 * turned into one line. Redirects are not followed: a token must never be
 * sent to whatever host a redirect names.
 */
#include "controller/github.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/banned.h"

#define RESPONSE_MAX (4 << 20)
#define FIELD_MAX 200

void wl_github_pr_release(struct wl_github_pr *pr)
{
	free(pr->html_url);
	free(pr->state);
	free(pr->head);
	free(pr->base);
	memset(pr, 0, sizeof(*pr));
}

/* A path segment of ours: letters, digits, '-', '_', '.'. */
static int segment_ok(const char *s, size_t len)
{
	if (len == 0 || len > FIELD_MAX || (len <= 2 && s[0] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

int wl_github_parse_repo(const char *url, char *owner, size_t owner_n,
			 char *name, size_t name_n)
{
	const char *p, *slash, *end;
	size_t olen, nlen;

	if (!strncmp(url, "https://", 8))
		p = url + 8;
	else if (!strncmp(url, "http://", 7))
		p = url + 7;
	else
		goto bad;
	if (!(p = strchr(p, '/')))
		goto bad;
	p++;
	if (!(slash = strchr(p, '/')))
		goto bad;
	olen = (size_t)(slash - p);
	end = slash + 1 + strcspn(slash + 1, "/");
	if (*end == '/' && end[1])
		goto bad; /* more path than owner/name */
	nlen = (size_t)(end - slash - 1);
	if (nlen > 4 && !strncmp(end - 4, ".git", 4))
		nlen -= 4;
	if (!segment_ok(p, olen) || !segment_ok(slash + 1, nlen) ||
	    olen >= owner_n || nlen >= name_n)
		goto bad;
	memcpy(owner, p, olen);
	owner[olen] = '\0';
	memcpy(name, slash + 1, nlen);
	name[nlen] = '\0';
	return 0;
bad:
	wl_error_set("'%s' is not a GitHub repository URL "
		     "(https://host/owner/name)",
		     url);
	return WL_EINVALID;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct wl_buf *b = ud;

	return wl_buf_add(b, ptr, size * nmemb) < 0 ? 0 : size * nmemb;
}

struct reply {
	long status;
	cJSON *json; /* NULL when the body is not JSON */
	long rate_remaining;
	long long rate_reset;
};

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct reply *r = ud;
	size_t len = size * nmemb;
	char line[256];

	if (len >= sizeof(line))
		return len;
	memcpy(line, ptr, len);
	line[len] = '\0';
	if (!strncasecmp(line, "x-ratelimit-remaining:", 22))
		r->rate_remaining = strtol(line + 22, NULL, 10);
	else if (!strncasecmp(line, "x-ratelimit-reset:", 18))
		r->rate_reset = strtoll(line + 18, NULL, 10);
	return len;
}

/* GitHub's error body as one line: message; errors[].message|code. */
static void github_message(struct wl_buf *out, const cJSON *json)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "message");
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(json, "errors");
	const cJSON *e;

	wl_buf_puts(out, cJSON_IsString(m) ? m->valuestring : "no message");
	cJSON_ArrayForEach (e, errs) {
		const cJSON *em =
			cJSON_GetObjectItemCaseSensitive(e, "message");
		const cJSON *ec = cJSON_GetObjectItemCaseSensitive(e, "code");

		if (cJSON_IsString(em))
			wl_buf_printf(out, "; %s", em->valuestring);
		else if (cJSON_IsString(ec))
			wl_buf_printf(out, "; %s", ec->valuestring);
	}
}

static int status_error(const struct reply *r, const char *what)
{
	struct wl_buf msg;
	int code;

	wl_buf_init(&msg, 2048);
	github_message(&msg, r->json);
	if ((r->status == 403 || r->status == 429) && r->rate_remaining == 0) {
		char when[64] = "later";
		time_t t = (time_t)r->rate_reset;
		struct tm tm;

		if (t > 0 && gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		wl_error_set("cannot %s: GitHub rate limit exceeded (%ld); it "
			     "resets at %s",
			     what, r->status, when);
		code = WL_EUNAVAIL;
	} else if (r->status == 401) {
		wl_error_set("cannot %s: GitHub refused the token (401 %s)",
			     what, wl_buf_cstr(&msg));
		code = WL_EINVALID;
	} else if (r->status == 403) {
		wl_error_set("cannot %s: GitHub forbids it (403 %s)", what,
			     wl_buf_cstr(&msg));
		code = WL_EINVALID;
	} else if (r->status == 404) {
		wl_error_set("cannot %s: not found on GitHub, or the token "
			     "cannot see it (404 %s)",
			     what, wl_buf_cstr(&msg));
		code = WL_ENOTFOUND;
	} else if (r->status == 422) {
		wl_error_set("cannot %s: GitHub rejected it (422 %s)", what,
			     wl_buf_cstr(&msg));
		code = WL_ECONFLICT;
	} else {
		wl_error_set("cannot %s: GitHub answered %ld (%s)", what,
			     r->status, wl_buf_cstr(&msg));
		code = r->status >= 500 ? WL_EUNAVAIL : WL_ERROR;
	}
	wl_buf_release(&msg);
	return code;
}

/*
 * One request: method path [json body]. On 2xx, r->json holds the parsed
 * answer (the caller deletes it); otherwise an error naming what.
 */
static int request(const struct wl_github *g, const char *method,
		   const char *path, const cJSON *body, const char *what,
		   struct reply *r)
{
	struct curl_slist *headers = NULL;
	struct wl_buf url, resp, auth;
	char errbuf[CURL_ERROR_SIZE] = "", *text = NULL;
	CURL *c = NULL;
	CURLcode rc;
	int error = WL_ERROR;

	memset(r, 0, sizeof(*r));
	r->rate_remaining = -1;
	wl_buf_init(&url, 8192);
	wl_buf_init(&resp, RESPONSE_MAX);
	wl_buf_init(&auth, 8192);
	if (!(c = curl_easy_init())) {
		wl_error_set("cannot %s: no HTTP client", what);
		goto out;
	}
	wl_buf_printf(&url, "%s%s", g->api_url, path);
	headers = curl_slist_append(headers,
				    "Accept: application/vnd.github+json");
	headers =
		curl_slist_append(headers, "X-GitHub-Api-Version: 2022-11-28");
	headers = curl_slist_append(headers, "User-Agent: worklet");
	if (g->token && *g->token) {
		wl_buf_printf(&auth, "Authorization: Bearer %s", g->token);
		headers = curl_slist_append(headers, wl_buf_cstr(&auth));
	}
	if (body) {
		if (!(text = cJSON_PrintUnformatted(body))) {
			wl_error_set("cannot %s: out of memory", what);
			goto out;
		}
		headers = curl_slist_append(headers,
					    "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	}
	curl_easy_setopt(c, CURLOPT_URL, wl_buf_cstr(&url));
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
			 g->timeout_ms > 0 ? g->timeout_ms : 30000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		wl_error_set("cannot %s: cannot reach GitHub at '%s': %s", what,
			     g->api_url,
			     errbuf[0] ? errbuf : curl_easy_strerror(rc));
		error = WL_EUNAVAIL;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	r->json = cJSON_ParseWithLength(resp.ptr ? resp.ptr : "", resp.len);
	if (r->status >= 300 && r->status < 400) {
		wl_error_set("cannot %s: GitHub answered a redirect (%ld), "
			     "which is not followed",
			     what, r->status);
		error = WL_ERROR;
	} else if (r->status < 200 || r->status >= 300) {
		error = status_error(r, what);
	} else if (!r->json) {
		wl_error_set("cannot %s: GitHub's answer is not JSON", what);
		error = WL_ERROR;
	} else {
		error = 0;
	}
	if (error < 0) {
		cJSON_Delete(r->json);
		r->json = NULL;
	}
out:
	/* The header held the token: wipe it before it is freed. */
	if (auth.ptr)
		memset(auth.ptr, 0, auth.len);
	curl_slist_free_all(headers);
	if (c)
		curl_easy_cleanup(c);
	free(text);
	wl_buf_release(&url);
	wl_buf_release(&resp);
	wl_buf_release(&auth);
	return error;
}

static char *dup_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static int pr_from_json(struct wl_github_pr *out, const cJSON *o)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "number");
	const cJSON *head = cJSON_GetObjectItemCaseSensitive(o, "head");
	const cJSON *base = cJSON_GetObjectItemCaseSensitive(o, "base");

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsNumber(n) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "html_url"))) {
		wl_error_set("GitHub's pull request has no number or URL");
		return WL_ERROR;
	}
	out->number = n->valueint;
	out->html_url = dup_str(o, "html_url");
	out->state = dup_str(o, "state");
	out->head = head ? dup_str(head, "ref") : NULL;
	out->base = base ? dup_str(base, "ref") : NULL;
	return 0;
}

int wl_github_default_branch(const struct wl_github *g, const char *owner,
			     const char *repo, char **out)
{
	struct reply r;
	char path[512];
	int error;

	*out = NULL;
	snprintf(path, sizeof(path), "/repos/%s/%s", owner, repo);
	if ((error = request(g, "GET", path, NULL,
			     "read the repository on GitHub", &r)) < 0)
		return error;
	*out = dup_str(r.json, "default_branch");
	cJSON_Delete(r.json);
	if (!*out) {
		wl_error_set("GitHub's repository has no default branch");
		return WL_ERROR;
	}
	return 0;
}

int wl_github_find_open_pr(const struct wl_github *g, const char *owner,
			   const char *repo, const char *branch,
			   struct wl_github_pr *out)
{
	struct reply r;
	char path[1024];
	char *esc = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if (!(esc = curl_easy_escape(NULL, branch, 0)))
		return WL_ERROR;
	snprintf(path, sizeof(path), "/repos/%s/%s/pulls?state=open&head=%s:%s",
		 owner, repo, owner, esc);
	curl_free(esc);
	if ((error = request(g, "GET", path, NULL,
			     "look for an open pull request", &r)) < 0)
		return error;
	if (!cJSON_IsArray(r.json) || cJSON_GetArraySize(r.json) == 0) {
		cJSON_Delete(r.json);
		wl_error_set("no open pull request from '%s'", branch);
		return WL_ENOTFOUND;
	}
	error = pr_from_json(out, cJSON_GetArrayItem(r.json, 0));
	cJSON_Delete(r.json);
	return error;
}

int wl_github_create_pr(const struct wl_github *g, const char *owner,
			const char *repo, const char *head, const char *base,
			const char *title, const char *body,
			struct wl_github_pr *out)
{
	struct reply r;
	char path[512];
	cJSON *req = cJSON_CreateObject();
	int error;

	memset(out, 0, sizeof(*out));
	if (!req || !cJSON_AddStringToObject(req, "title", title) ||
	    !cJSON_AddStringToObject(req, "head", head) ||
	    !cJSON_AddStringToObject(req, "base", base) ||
	    !cJSON_AddStringToObject(req, "body", body ? body : "")) {
		cJSON_Delete(req);
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	snprintf(path, sizeof(path), "/repos/%s/%s/pulls", owner, repo);
	error = request(g, "POST", path, req, "open the pull request", &r);
	cJSON_Delete(req);
	if (error < 0)
		return error;
	error = pr_from_json(out, r.json);
	cJSON_Delete(r.json);
	return error;
}

int wl_github_update_pr(const struct wl_github *g, const char *owner,
			const char *repo, int number, const char *title,
			const char *body, struct wl_github_pr *out)
{
	struct reply r;
	char path[512];
	cJSON *req = cJSON_CreateObject();
	int error;

	memset(out, 0, sizeof(*out));
	if (!req || !cJSON_AddStringToObject(req, "title", title) ||
	    !cJSON_AddStringToObject(req, "body", body ? body : "")) {
		cJSON_Delete(req);
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	snprintf(path, sizeof(path), "/repos/%s/%s/pulls/%d", owner, repo,
		 number);
	error = request(g, "PATCH", path, req, "update the pull request", &r);
	cJSON_Delete(req);
	if (error < 0)
		return error;
	error = pr_from_json(out, r.json);
	cJSON_Delete(r.json);
	return error;
}
