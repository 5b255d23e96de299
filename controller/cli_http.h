#ifndef WL_CLI_HTTP_H
#define WL_CLI_HTTP_H

/*
 * workletctl's HTTP client for the worklet API (libcurl). One request per
 * call, JSON in and out; the token goes in an Authorization header only
 * and never into a message. Errors the user sees are one line, set with
 * wl_error_set():
 *   cannot reach the worklet server at http://127.0.0.1:8080: connection
 *   refused
 *
 * Exit codes (the CLI's contract with scripts, see workletctl --help):
 * wl_cli_exit_for_status() maps an HTTP answer to one of them.
 *
 * Single-threaded: the CLI's main thread only. curl_global_init() is
 * called by main() before the first request.
 */

#include <stddef.h>

#include "specs/core/buf.h"

enum wl_cli_exit {
	WL_CLI_OK = 0,
	WL_CLI_USAGE = 1,    /* bad command line or local configuration */
	WL_CLI_NOTFOUND = 2, /* no such worklet (or prompt) */
	WL_CLI_SERVER = 3,   /* server error, busy, or unreachable */
	WL_CLI_INVALID = 4,  /* refused input: 400, 409, 413, 415, 422 */
	WL_CLI_AUTH = 5,     /* 401, 403 */
	WL_CLI_FAILED = 6,   /* it ran and failed (a prompt ended in error) */
};

/* Where the server is and who we are. Strings are borrowed. */
struct wl_cli_conn {
	const char *server; /* base URL, no trailing '/' */
	const char *token;  /* NULL: none */
	const char *user;   /* X-User-ID when there is no token; may be NULL */
};

struct wl_cli_response {
	long status; /* HTTP status */
	struct wl_buf body;
};

void wl_cli_response_init(struct wl_cli_response *r);
void wl_cli_response_release(struct wl_cli_response *r);

/*
 * method path (from the server root, with any query) with an optional JSON
 * body; waits at most timeout_s seconds. Returns 0 when the server answered
 * (any status: see r->status), WL_EUNAVAIL when it cannot be reached or did
 * not answer (message set).
 */
int wl_cli_http_request(struct wl_cli_response *r, const struct wl_cli_conn *c,
			const char *method, const char *path,
			const char *json_body, long timeout_s);

/*
 * GET path and hand the body to on_data as it arrives when the status is
 * 200 (a chunked stream such as logs?follow=1), until the server ends it.
 * Any other status: the body is kept in r->body and nothing is streamed.
 * Returns as wl_cli_http_request().
 */
typedef void (*wl_cli_data_fn)(void *arg, const char *data, size_t len);
int wl_cli_http_stream(struct wl_cli_response *r, const struct wl_cli_conn *c,
		       const char *path, wl_cli_data_fn on_data, void *arg);

/* The exit code for an HTTP status (2xx: WL_CLI_OK). */
enum wl_cli_exit wl_cli_exit_for_status(long status);

/*
 * The message of an error answer ({"error": {"message"}}), or a line made
 * from the status when the body has none, into out.
 */
void wl_cli_error_message(const struct wl_cli_response *r, char *out, size_t n);

/*
 * Percent-encode s for a URL path segment or query value into out (n
 * bytes, truncated). Ids need none, but ids come from the command line.
 */
void wl_cli_url_escape(char *out, size_t n, const char *s);

#endif
