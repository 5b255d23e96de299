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
 * Preview tickets. A browser frame cannot send a bearer header, and the
 * dashboard sandboxes the preview (an opaque origin, so no cookies reach
 * its subresources): the preview is reached at
 *   WL_ROUTE_WORKLETS "<id>/preview/<ticket>/..."
 * where ticket is "<expires>~<user>~<mac>", an HMAC-SHA256 (truncated to
 * 128 bits) of worklet id, user and expiry (unix seconds) under a key
 * drawn at start. It grants the proxy of that one worklet to that user
 * until it expires (or the server restarts), nothing of the API.
 */
#define WL_AUTH_TICKET_MAX 200

/* Write a ticket for (user, worklet_id) to out (n bytes); 0 or WL_ERROR. */
int wl_auth_preview_ticket(const struct wl_auth *a, const char *user,
			   const char *worklet_id, int64_t expires, char *out,
			   size_t n);

/*
 * Check ticket (len bytes, not NUL-terminated) for worklet_id at time now:
 * copies its user to user (n bytes) and returns 0; else WL_EINVALID with a
 * message for a 401 answer.
 */
int wl_auth_preview_check(const struct wl_auth *a, const char *ticket,
			  size_t len, const char *worklet_id, int64_t now,
			  char *user, size_t n);

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
