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

/* 1 if X-User-ID is trusted. */
int wl_auth_trusts_header(const struct wl_auth *a);

/* 1 if user is a well-formed user id. */
int wl_auth_valid_user(const char *user);

#endif
