#ifndef WL_GITHUB_H
#define WL_GITHUB_H

/*
 * A small GitHub REST client (libcurl): just what opening and updating a
 * pull request needs. The API URL is configurable (GitHub Enterprise:
 * https://host/api/v3). The token goes in an Authorization header only,
 * never in a URL, and is never part of an error message. Each call makes
 * its own easy handle: any thread may call. Does not log.
 *
 * Errors say what GitHub said, with the status:
 *   WL_EINVALID  401 bad credentials, 403 forbidden ("GitHub refused ...")
 *   WL_ENOTFOUND 404 (repository not found, or the token cannot see it)
 *   WL_ECONFLICT 422 validation failed (GitHub's message and errors)
 *   WL_EUNAVAIL  network failure, 5xx, rate limit (with its reset time)
 */

#include <stddef.h>

struct wl_github {
	const char *api_url; /* e.g. https://api.github.com, no trailing / */
	const char *token;   /* may be NULL: anonymous */
	long timeout_ms;     /* per request; 0: 30 s */
};

struct wl_github_pr {
	int number;
	char *html_url;
	char *state; /* "open", "closed" */
	char *head;  /* branch name */
	char *base;
};

void wl_github_pr_release(struct wl_github_pr *pr);

/*
 * owner and name of a GitHub repository URL: https://host/owner/name(.git)
 * (also http:// and a trailing slash). WL_EINVALID for anything else.
 */
int wl_github_parse_repo(const char *url, char *owner, size_t owner_n,
			 char *name, size_t name_n);

/* The repository's default branch (malloc'd into *out). */
int wl_github_default_branch(const struct wl_github *g, const char *owner,
			     const char *repo, char **out);

/* The open PR whose head is owner:branch; WL_ENOTFOUND when none. */
int wl_github_find_open_pr(const struct wl_github *g, const char *owner,
			   const char *repo, const char *branch,
			   struct wl_github_pr *out);

int wl_github_create_pr(const struct wl_github *g, const char *owner,
			const char *repo, const char *head, const char *base,
			const char *title, const char *body,
			struct wl_github_pr *out);

int wl_github_update_pr(const struct wl_github *g, const char *owner,
			const char *repo, int number, const char *title,
			const char *body, struct wl_github_pr *out);

#endif
