#include "specs/validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "specs/core/error.h"
#include "specs/node_version.h"
#include "specs/core/banned.h"

/* Limits worklet.h leaves open. */
#define USER_ID_MAX 256
#define LABEL_KEY_MAX 253
#define LABEL_VALUE_MAX 256
#define ENV_NAME_MAX 256
#define PATH_FIELD_MAX 1024 /* dockerfile */
#define COMMAND_MAX 4096    /* startCommand */

__attribute__((format(printf, 1, 2))) static int invalid(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wl_error_vset(fmt, ap);
	va_end(ap);
	return WL_EINVALID;
}

/* Show user text in a message: printable ASCII only, bounded. */
static const char *shown(char *out, size_t n, const char *s)
{
	size_t i = 0;

	for (; *s && i + 1 < n; s++, i++) {
		unsigned char c = (unsigned char)*s;

		out[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	out[i] = '\0';
	return out;
}

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_scheme_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '+' || c == '.' || c == '-';
}

/* 1 if s holds a C0 control character or DEL. */
static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* Free text (names, descriptions, prompts): tabs and newlines are fine. */
static int has_bad_control(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t' &&
		     *s != '\r') ||
		    *s == 0x7f)
			return 1;
	return 0;
}

int wl_validate_id(const char *id)
{
	static const char msg[] = "metadata.id: must be a DNS label (a-z, 0-9, "
				  "'-'), at most 63 characters";
	size_t len;

	if (!id || !id[0])
		return invalid("metadata.id: required");
	len = strlen(id);
	if (len > WL_ID_MAX || !is_lower_alnum(id[0]) ||
	    !is_lower_alnum(id[len - 1]))
		return invalid("%s", msg);
	for (const char *p = id; *p; p++)
		if (!is_lower_alnum(*p) && *p != '-')
			return invalid("%s", msg);
	return 0;
}

/*
 * The host[:port] of an http(s) URL: a DNS name or an IPv4 address, or an
 * IPv6 literal in brackets; an optional numeric port. No user info.
 */
static int check_authority(const char *auth, size_t len)
{
	size_t i = 0;

	if (memchr(auth, '@', len))
		return invalid("spec.gitRepo: credentials in the URL are not "
			       "allowed; use GITHUB_TOKEN");
	if (!len)
		return invalid("spec.gitRepo: the URL has no host");
	if (auth[0] == '[') {
		for (i = 1; i < len && auth[i] != ']'; i++)
			if (!strchr("0123456789abcdefABCDEF:.", auth[i]))
				return invalid("spec.gitRepo: invalid host");
		if (i == len || i == 1)
			return invalid("spec.gitRepo: invalid host");
		i++;
	} else {
		if (auth[0] == '-' || auth[0] == '.')
			return invalid("spec.gitRepo: invalid host");
		for (; i < len && auth[i] != ':'; i++)
			if (!is_alpha(auth[i]) && !is_digit(auth[i]) &&
			    auth[i] != '-' && auth[i] != '.')
				return invalid("spec.gitRepo: invalid host");
		if (!i)
			return invalid("spec.gitRepo: the URL has no host");
	}
	if (i < len) {
		size_t digits = 0;

		if (auth[i++] != ':')
			return invalid("spec.gitRepo: invalid host");
		for (; i < len; i++, digits++)
			if (!is_digit(auth[i]))
				return invalid("spec.gitRepo: invalid port");
		if (!digits || digits > 5)
			return invalid("spec.gitRepo: invalid port");
	}
	return 0;
}

int wl_validate_git_url(const char *url, int allow_local)
{
	const char *p, *rest, *auth_end;
	size_t scheme_len;

	if (!url || !url[0])
		return invalid("spec.gitRepo: required");
	if (strlen(url) > WL_URL_MAX)
		return invalid("spec.gitRepo: longer than %d characters",
			       WL_URL_MAX);
	/* git would take it as an option ("--upload-pack=..."). */
	if (url[0] == '-')
		return invalid("spec.gitRepo: must not start with '-'");
	/*
	 * "<transport>::<address>" runs a remote helper (git-remote-ext runs
	 * any command). git recognises it when the URL starts with URL
	 * scheme characters followed by "::", so refuse exactly that.
	 */
	for (p = url; is_scheme_char(*p); p++)
		;
	if (p > url && p[0] == ':' && p[1] == ':')
		return invalid("spec.gitRepo: the '%.*s::' transport syntax is "
			       "not allowed",
			       (int)(p - url > 32 ? 32 : p - url), url);
	for (p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return invalid("spec.gitRepo: must not contain "
				       "whitespace or control characters");
		else if ((unsigned char)*p >= 0x80)
			return invalid("spec.gitRepo: must be ASCII "
				       "(percent-encode other characters)");
		else if (*p == '\\')
			return invalid("spec.gitRepo: must not contain '\\'");

	if (url[0] == '/')
		return allow_local ? 0
				   : invalid("spec.gitRepo: must be an https "
					     "URL");
	/* A scheme: [A-Za-z][A-Za-z0-9+.-]* "://". */
	for (p = url; is_alpha(*p) || (p > url && is_scheme_char(*p)); p++)
		;
	scheme_len = (size_t)(p - url);
	if (!scheme_len || strncmp(p, "://", 3))
		/* scp-like "host:path" is ssh; a relative path is local. */
		return invalid("spec.gitRepo: must be an https URL");
	rest = p + 3;
	if (scheme_len == 4 && !strncasecmp(url, "file", 4)) {
		if (!allow_local)
			return invalid("spec.gitRepo: must be an https URL");
		if (rest[0] != '/')
			return invalid("spec.gitRepo: a file URL must be "
				       "file:///absolute/path");
		return 0;
	}
	if (!(scheme_len == 5 && !strncasecmp(url, "https", 5)) &&
	    !(allow_local && scheme_len == 4 && !strncasecmp(url, "http", 4)))
		return invalid("spec.gitRepo: must be an https URL");
	auth_end = rest + strcspn(rest, "/?#");
	return check_authority(rest, (size_t)(auth_end - rest));
}

static int check_branch(const char *field, const char *branch)
{
	char show[80];
	size_t len;
	const char *why = NULL;

	if (!branch || !branch[0])
		return invalid("%s: must not be empty", field);
	len = strlen(branch);
	if (len > WL_BRANCH_MAX)
		return invalid("%s: longer than %d characters", field,
			       WL_BRANCH_MAX);
	if (branch[0] == '-')
		why = "must not start with '-'";
	else if (has_control(branch) || strpbrk(branch, " ~^:?*[\\"))
		why = "must not contain spaces, control characters or any of "
		      "~ ^ : ? * [ \\";
	else if (strstr(branch, ".."))
		why = "must not contain '..'";
	else if (strstr(branch, "@{") || !strcmp(branch, "@"))
		why = "must not contain '@{' or be '@'";
	else if (branch[0] == '/' || branch[len - 1] == '/' ||
		 strstr(branch, "//"))
		why = "must not start or end with '/' or contain '//'";
	else if (branch[len - 1] == '.')
		why = "must not end with '.'";
	else if (!strcmp(branch, "HEAD"))
		why = "must not be HEAD";
	if (!why) {
		/* Per component: no leading '.', no ".lock" suffix. */
		for (const char *c = branch; *c;) {
			size_t clen = strcspn(c, "/");

			if (c[0] == '.')
				why = "no part may start with '.'";
			else if (clen >= 5 &&
				 !strncmp(c + clen - 5, ".lock", 5))
				why = "no part may end with '.lock'";
			c += clen;
			if (*c)
				c++;
		}
	}
	if (why)
		return invalid("%s: '%s' is not a valid branch name: %s", field,
			       shown(show, sizeof(show), branch), why);
	return 0;
}

int wl_validate_branch(const char *branch)
{
	return check_branch("spec.branch", branch);
}

static int check_text(const char *field, const char *s, size_t max,
		      int multiline)
{
	if (!s)
		return 0;
	if (strlen(s) > max)
		return invalid("%s: longer than %zu bytes", field, max);
	if (multiline ? has_bad_control(s) : has_control(s))
		return invalid("%s: must not contain control characters",
			       field);
	return 0;
}

static int check_pull_request(const struct wl_pr_request *pr)
{
	int error;

	if (!pr->requested_ms && !pr->title && !pr->description &&
	    !pr->branch && !pr->base)
		return 0;
	if (pr->requested_ms <= 0)
		return invalid("spec.pullRequest.requestedAt: is required");
	if (!pr->title || !pr->title[strspn(pr->title, " ")])
		return invalid("spec.pullRequest.title: is required");
	if ((error = check_text("spec.pullRequest.title", pr->title,
				WL_PR_TITLE_MAX, 0)) < 0 ||
	    (error = check_text("spec.pullRequest.description", pr->description,
				WL_PROMPT_MAX, 1)) < 0)
		return error;
	if (pr->branch &&
	    (error = check_branch("spec.pullRequest.branch", pr->branch)) < 0)
		return error;
	if (pr->base &&
	    (error = check_branch("spec.pullRequest.base", pr->base)) < 0)
		return error;
	return 0;
}

static int check_labels(const struct wl_kvlist *l)
{
	char show[80];

	if (l->count > WL_LABELS_MAX)
		return invalid("metadata.labels: at most %d labels",
			       WL_LABELS_MAX);
	for (size_t i = 0; i < l->count; i++) {
		const char *k = l->items[i].key;
		size_t len = strlen(k);
		int ok = len > 0 && len <= LABEL_KEY_MAX;

		for (const char *p = k; ok && *p; p++)
			ok = is_alpha(*p) || is_digit(*p) || strchr("-_./", *p);
		if (!ok)
			return invalid("metadata.labels: key '%s' must be 1 to "
				       "%d characters of A-Z, a-z, 0-9, '-', "
				       "'_', '.', '/'",
				       shown(show, sizeof(show), k),
				       LABEL_KEY_MAX);
		if (strlen(l->items[i].value) > LABEL_VALUE_MAX ||
		    has_control(l->items[i].value))
			return invalid("metadata.labels.%s: at most %d "
				       "characters, no control characters",
				       shown(show, sizeof(show), k),
				       LABEL_VALUE_MAX);
	}
	return 0;
}

static int check_env(const struct wl_kvlist *env)
{
	char show[80];

	if (env->count > WL_ENV_MAX)
		return invalid("spec.env: at most %d variables", WL_ENV_MAX);
	for (size_t i = 0; i < env->count; i++) {
		const char *k = env->items[i].key;
		int ok = (is_alpha(k[0]) || k[0] == '_') &&
			 strlen(k) <= ENV_NAME_MAX;

		for (const char *p = k; ok && *p; p++)
			ok = is_alpha(*p) || is_digit(*p) || *p == '_';
		if (!ok)
			return invalid("spec.env: '%s' is not a valid variable "
				       "name ([A-Za-z_][A-Za-z0-9_]*)",
				       shown(show, sizeof(show), k));
		if (strlen(env->items[i].value) > WL_ENV_VALUE_MAX)
			return invalid("spec.env.%s: longer than %d bytes", k,
				       WL_ENV_VALUE_MAX);
	}
	return 0;
}

/* A relative path inside the repository: no "/..." and no ".." part. */
static int check_repo_path(const char *field, const char *path)
{
	if (!path)
		return 0;
	if (!path[0])
		return invalid("%s: must not be empty", field);
	if (strlen(path) > PATH_FIELD_MAX || has_control(path))
		return invalid("%s: at most %d characters, no control "
			       "characters",
			       field, PATH_FIELD_MAX);
	if (path[0] == '/' || path[0] == '-')
		return invalid("%s: must be a relative path inside the "
			       "repository",
			       field);
	for (const char *c = path; *c;) {
		size_t clen = strcspn(c, "/");

		if (clen == 2 && !strncmp(c, "..", 2))
			return invalid("%s: must not contain '..'", field);
		c += clen;
		if (*c)
			c++;
	}
	return 0;
}

int wl_validate_worklet(const struct wl_worklet *w, int allow_local)
{
	const struct wl_metadata *m = &w->meta;
	const struct wl_spec *s = &w->spec;
	int error;

	if ((error = wl_validate_id(m->id)) < 0 ||
	    (error = check_text("metadata.name", m->name, WL_NAME_MAX, 0)) <
		    0 ||
	    (error = check_text("metadata.userId", m->user_id, USER_ID_MAX,
				0)) < 0 ||
	    (error = check_labels(&m->labels)) < 0)
		return error;
	if (m->generation < 0)
		return invalid("metadata.generation: must not be negative");
	if (m->created_ms < 0 || m->updated_ms < 0 || m->deletion_ms < 0)
		return invalid("metadata: times must not be before 1970");

	if ((error = check_text("spec.description", s->description,
				WL_DESCRIPTION_MAX, 1)) < 0 ||
	    (error = wl_validate_git_url(s->git_repo, allow_local)) < 0)
		return error;
	if (s->branch && (error = wl_validate_branch(s->branch)) < 0)
		return error;
	if ((error = check_text("spec.basePrompt", s->base_prompt,
				WL_PROMPT_MAX, 1)) < 0 ||
	    (error = check_env(&s->env)) < 0)
		return error;
	if (s->run_state != WL_RUN_RUNNING && s->run_state != WL_RUN_STOPPED)
		return invalid("spec.runState: must be running or stopped");
	if (!wl_project_type_name(s->project_type)[0])
		return invalid("spec.projectType: invalid value");
	/* detect.c builds a named Dockerfile only for these two types. */
	if (s->dockerfile && s->project_type != WL_PROJECT_AUTO &&
	    s->project_type != WL_PROJECT_DOCKERFILE)
		return invalid("spec.dockerfile: needs projectType dockerfile "
			       "(or auto), not %s",
			       wl_project_type_name(s->project_type));
	if ((error = check_repo_path("spec.dockerfile", s->dockerfile)) < 0 ||
	    (error = check_repo_path("spec.path", s->path)) < 0 ||
	    (error = check_text("spec.startCommand", s->start_command,
				COMMAND_MAX, 0)) < 0)
		return error;
	if (s->start_command &&
	    !s->start_command[strspn(s->start_command, " ")])
		return invalid("spec.startCommand: must not be empty");
	if (s->runtime_version &&
	    wl_node_version_check(s->runtime_version) < 0) {
		wl_error_prefix("spec.runtimeVersion");
		return WL_EINVALID;
	}
	if (s->container_port < 0 || s->container_port > 65535)
		return invalid("spec.containerPort: must be between 1 and "
			       "65535");
	if (s->resources.memory_bytes < 0)
		return invalid("spec.resources.memory: must not be negative");
	if (s->resources.nano_cpus < 0)
		return invalid("spec.resources.cpus: must not be negative");
	if (s->resources.pids < 0)
		return invalid("spec.resources.pids: must not be negative");
	if (s->restarted_ms < 0)
		return invalid("spec.restartedAt: must not be before 1970");
	return check_pull_request(&s->pull_request);
}
