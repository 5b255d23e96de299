#ifndef WL_AUTH_H
#define WL_AUTH_H

/*
 * Who is calling. Two ways, chosen explicitly by configuration:
 *
 *  - Bearer tokens: "Authorization: Bearer <token>", looked up in the
 *    tokens file (WORKLET_TOKENS_FILE; one "<token> <user-id>" per line,
 *    '#' comments; tokens at least 16 characters). Tokens are kept only as
 *    SHA-256 digests and compared in constant time.
 *  - The X-User-ID header of the requirements, trusted only when configured
 *    (WORKLET_TRUST_USER_HEADER=1: behind an authenticating proxy) or, by
 *    default, when the server listens on loopback (local use).
 *
 * A request that presents a token is judged by the token alone. User ids
 * are 1-128 characters of [A-Za-z0-9._@-].
 *
 * Loaded once before the service starts, then read-only: any thread.
 */

#include <stddef.h>
#include <stdint.h>

#include "controller/config.h"

struct wl_auth;

int wl_auth_new(struct wl_auth **out, const struct wl_config *cfg);
void wl_auth_free(struct wl_auth *a);

/*
 * Authenticate. authorization and user_header may be NULL (absent).
 * On success copies the user id into user (n bytes) and returns 0;
 * otherwise WL_EINVALID with a message for a 401 answer.
 */
int wl_auth_check(const struct wl_auth *a, const char *authorization,
		  const char *user_header, char *user, size_t n);

/*
 * Browsers cannot set headers on a WebSocket: they may offer the token as
 * the subprotocol "bearer.<token>" instead (Kubernetes does the same).
 * When protocols (a Sec-WebSocket-Protocol value) holds one, write
 * "Bearer <token>" to out (n bytes) and return 1; else 0.
 */
int wl_auth_bearer_protocol(const char *protocols, char *out, size_t n);

/*
 * Tickets: "<expires>~<user>~<mac>", an HMAC-SHA256 (truncated to 128
 * bits) of kind, worklet id, user and expiry (unix seconds) under a key
 * drawn at start (so they end with the process). A ticket of one kind is
 * worthless as another, and for another worklet. None grants anything of
 * the API.
 *
 *  - WL_TICKET_LOGIN: the one-time-use-ish sign-in link of an app's own
 *    origin, "<scheme>://<id>.<base domain>[:port]" WL_AUTH_LOGIN_PATH
 *    "?ticket=<ticket>", short-lived (WORKLET_PREVIEW_LINK_SECONDS, 300).
 * Opening it sets the session cookie below and redirects to the app.
 *  - WL_TICKET_SESSION: the value of the WL_HTTP1_SESSION_COOKIE cookie
 *    of one app's host (host-only, HttpOnly, SameSite=Lax), which admits
 *    that user to that app only (WL_AUTH_SESSION_SECONDS). The proxy
 *    strips it before the app sees the request.
 *  - WL_TICKET_PREVIEW: the path-form preview, for servers without host
 *    routing: WL_ROUTE_WORKLETS "<id>/preview/<ticket>/..." admits the
 *    user to that worklet's proxy (same lifetime as a session).
 */
#define WL_AUTH_TICKET_MAX 200
#define WL_AUTH_LOGIN_PATH "/__worklet/login"
#define WL_AUTH_SESSION_SECONDS (12 * 3600)

enum wl_ticket_kind { WL_TICKET_PREVIEW, WL_TICKET_LOGIN, WL_TICKET_SESSION };

/* Write a ticket for (user, worklet_id) to out (n bytes); 0 or WL_ERROR. */
int wl_auth_ticket(const struct wl_auth *a, enum wl_ticket_kind kind,
		   const char *user, const char *worklet_id, int64_t expires,
		   char *out, size_t n);

/*
 * Check ticket (len bytes, not NUL-terminated) of that kind for worklet_id
 * at time now: copies its user to user (n bytes) and returns 0; else
 * WL_EINVALID with a message for a 401 answer (expired or invalid).
 */
int wl_auth_ticket_check(const struct wl_auth *a, enum wl_ticket_kind kind,
			 const char *ticket, size_t len, const char *worklet_id,
			 int64_t now, char *user, size_t n);

/*
 * A host-form request without other credentials: the session cookie in
 * the request's Cookie header values (count of them, cookies[i] of
 * lens[i] bytes). 0 with the user copied to user, or WL_EINVALID with a
 * message for a 401 answer.
 */
int wl_auth_session_check(const struct wl_auth *a, const char *const *cookies,
			  const size_t *lens, size_t count,
			  const char *worklet_id, int64_t now, char *user,
			  size_t n);

/*
 * The sign-in link (WL_AUTH_LOGIN_PATH) of worklet_id's host opened with
 * query (its query string, no '?'): checks the login ticket and fills out
 * with the session cookie to set (Secure when secure) and where to go, a
 * path of the app's own origin ("next=", else "/"). 0, or WL_EINVALID with
 * a message for a 401 page. out holds a secret: cleanse it after use.
 */
struct wl_auth_login {
	char set_cookie[WL_AUTH_TICKET_MAX + 128]; /* a Set-Cookie value */
	char location[1024];
};

int wl_auth_login(const struct wl_auth *a, const char *worklet_id,
		  const char *query, int secure, int64_t now,
		  struct wl_auth_login *out);

/*
 * Where the client thinks it is: scheme and host (with any port) from the
 * Host header, or from X-Forwarded-Proto and X-Forwarded-Host when the
 * peer (an address as text) is one of WORKLET_TRUSTED_PROXIES. Any of
 * host, xf_proto, xf_host may be NULL.
 */
struct wl_origin {
	char scheme[8]; /* "http" or "https" */
	char host[256];
	int secure; /* https: cookies get Secure */
};

void wl_auth_origin(const struct wl_auth *a, const char *peer, const char *host,
		    const char *xf_proto, const char *xf_host,
		    struct wl_origin *out);

/* ":port" of the origin's host, or "". */
const char *wl_origin_port(const struct wl_origin *o);

/* 1 if peer (an address as text) is a trusted proxy. */
int wl_auth_trusts_proxy(const struct wl_auth *a, const char *peer);

/*
 * The X-User-ID of a browser's WebSocket, where the header is trusted: the
 * subprotocol "user.<id>" (the caller also checks that the request is
 * same-origin, as a page's own fetch with X-User-ID would be). When
 * protocols holds one, copy the id to out (n bytes) and return 1; else 0.
 * The id is not validated (wl_auth_check does that).
 */
int wl_auth_user_protocol(const char *protocols, char *out, size_t n);

/* 1 if X-User-ID is trusted. */
int wl_auth_trusts_header(const struct wl_auth *a);

/* 1 if user is a well-formed user id. */
int wl_auth_valid_user(const char *user);

#endif
