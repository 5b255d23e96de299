#include "apiserver/auth.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/log.h"
#include "specs/core/banned.h"

#define TOKEN_MIN 16
#define TOKEN_MAX 512

struct token {
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char user[129];
};

struct wl_auth {
	struct token *tokens;
	size_t count;
	int trust_header;
	unsigned char preview_key[32]; /* signs preview tickets; per process */
};

int wl_auth_valid_user(const char *user)
{
	size_t len = strlen(user);

	if (len == 0 || len > 128)
		return 0;
	for (const char *p = user; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._@-", *p))
			return 0;
	return 1;
}

static int load_tokens(struct wl_auth *a, const char *path)
{
	struct wl_buf data;
	struct stat st;
	char *line, *save = NULL;
	int error, lineno = 0;

	wl_buf_init(&data, 4 << 20);
	if ((error = wl_fs_read(&data, path)) < 0)
		goto out;
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		wl_warn("tokens file '%s' is readable by others; chmod 600 it",
			path);
	for (line = strtok_r(data.ptr ? data.ptr : (char *)"", "\n", &save);
	     line; line = strtok_r(NULL, "\n", &save)) {
		char token[TOKEN_MAX + 1], user[129], extra;
		struct token *t;
		int n;

		lineno++;
		while (isspace((unsigned char)*line))
			line++;
		if (!*line || *line == '#')
			continue;
		n = sscanf(line, "%512s %128s %c", token, user, &extra);
		if (n != 2 || strlen(token) < TOKEN_MIN ||
		    !wl_auth_valid_user(user)) {
			wl_error_set("tokens file '%s', line %d: expected "
				     "'<token of %d+ characters> <user-id>'",
				     path, lineno, TOKEN_MIN);
			error = WL_EINVALID;
			goto out;
		}
		t = realloc(a->tokens, (a->count + 1) * sizeof(*t));
		if (!t) {
			error = WL_ERROR;
			goto out;
		}
		a->tokens = t;
		t = &a->tokens[a->count++];
		SHA256((const unsigned char *)token, strlen(token), t->digest);
		snprintf(t->user, sizeof(t->user), "%s", user);
		OPENSSL_cleanse(token, sizeof(token));
	}
out:
	if (data.ptr)
		OPENSSL_cleanse(data.ptr, data.len);
	wl_buf_release(&data);
	return error;
}

int wl_auth_new(struct wl_auth **out, const struct wl_config *cfg)
{
	struct wl_auth *a = calloc(1, sizeof(*a));
	int error;

	if (!a) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	a->trust_header = cfg->trust_user_header >= 0
				  ? cfg->trust_user_header
				  : wl_config_listen_is_loopback(cfg);
	if (cfg->tokens_file &&
	    (error = load_tokens(a, cfg->tokens_file)) < 0) {
		wl_auth_free(a);
		return error;
	}
	if (RAND_bytes(a->preview_key, sizeof(a->preview_key)) != 1) {
		wl_auth_free(a);
		wl_error_set("cannot draw a random key for preview tickets");
		return WL_ERROR;
	}
	if (!a->count && !a->trust_header) {
		wl_auth_free(a);
		wl_error_set(
			"no way to authenticate anyone: set "
			"WORKLET_TOKENS_FILE, or WORKLET_TRUST_USER_HEADER=1 "
			"behind an authenticating proxy");
		return WL_EINVALID;
	}
	*out = a;
	return 0;
}

void wl_auth_free(struct wl_auth *a)
{
	if (!a)
		return;
	if (a->tokens)
		OPENSSL_cleanse(a->tokens, a->count * sizeof(*a->tokens));
	free(a->tokens);
	OPENSSL_cleanse(a->preview_key, sizeof(a->preview_key));
	free(a);
}

int wl_auth_bearer_protocol(const char *protocols, char *out, size_t n)
{
	const char *b = strstr(protocols, "bearer."), *end;

	if (!b)
		return 0;
	b += 7;
	end = strpbrk(b, ", ");
	snprintf(out, n, "Bearer %.*s", (int)(end ? end - b : (long)strlen(b)),
		 b);
	return 1;
}

int wl_auth_user_protocol(const char *protocols, char *out, size_t n)
{
	const char *p = protocols;

	while (*p) {
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ", ");
		if (len > 5 && !strncmp(p, "user.", 5) && len - 5 < n) {
			memcpy(out, p + 5, len - 5);
			out[len - 5] = '\0';
			return 1;
		}
		p += len;
	}
	return 0;
}

int wl_auth_trusts_header(const struct wl_auth *a)
{
	return a->trust_header;
}

int wl_auth_check(const struct wl_auth *a, const char *authorization,
		  const char *user_header, char *user, size_t n)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	const char *token;
	const struct token *match = NULL;

	if (authorization && *authorization) {
		if (strncasecmp(authorization, "Bearer ", 7)) {
			wl_error_set("unsupported Authorization scheme; use "
				     "'Bearer <token>'");
			return WL_EINVALID;
		}
		token = authorization + 7;
		while (*token == ' ')
			token++;
		SHA256((const unsigned char *)token, strlen(token), digest);
		/* Look at every entry so timing says nothing of position. */
		for (size_t i = 0; i < a->count; i++)
			if (!CRYPTO_memcmp(digest, a->tokens[i].digest,
					   sizeof(digest)))
				match = &a->tokens[i];
		if (!match) {
			wl_error_set("invalid token");
			return WL_EINVALID;
		}
		snprintf(user, n, "%s", match->user);
		return 0;
	}
	if (user_header && *user_header) {
		if (!a->trust_header) {
			wl_error_set("X-User-ID is not trusted by this server; "
				     "send 'Authorization: Bearer <token>'");
			return WL_EINVALID;
		}
		if (!wl_auth_valid_user(user_header)) {
			wl_error_set("X-User-ID: must be 1-128 characters of "
				     "A-Z a-z 0-9 . _ @ -");
			return WL_EINVALID;
		}
		snprintf(user, n, "%s", user_header);
		return 0;
	}
	wl_error_set(a->trust_header ? "authentication required: send "
				       "'Authorization: Bearer <token>' or "
				       "X-User-ID"
				     : "authentication required: send "
				       "'Authorization: Bearer <token>'");
	return WL_EINVALID;
}

/* ---- preview tickets ------------------------------------------------------
 */

#define TICKET_MAC_BYTES 16

/* The MAC of (id, user, expires) as lower-case hex into out (33 bytes). */
static int ticket_mac(const struct wl_auth *a, const char *worklet_id,
		      const char *user, int64_t expires, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char msg[512];
	int len;

	len = snprintf(msg, sizeof(msg), "preview.v1\n%s\n%s\n%" PRId64,
		       worklet_id, user, expires);
	if (len < 0 || (size_t)len >= sizeof(msg) ||
	    !HMAC(EVP_sha256(), a->preview_key, sizeof(a->preview_key),
		  (const unsigned char *)msg, (size_t)len, mac, &mac_len) ||
	    mac_len < TICKET_MAC_BYTES)
		return -1;
	for (int i = 0; i < TICKET_MAC_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

int wl_auth_preview_ticket(const struct wl_auth *a, const char *user,
			   const char *worklet_id, int64_t expires, char *out,
			   size_t n)
{
	char mac[2 * TICKET_MAC_BYTES + 1];
	int len;

	if (!wl_auth_valid_user(user) ||
	    ticket_mac(a, worklet_id, user, expires, mac) < 0) {
		wl_error_set("cannot make a preview ticket for '%s'",
			     worklet_id);
		return WL_ERROR;
	}
	len = snprintf(out, n, "%" PRId64 "~%s~%s", expires, user, mac);
	if (len < 0 || (size_t)len >= n) {
		wl_error_set("preview ticket too long");
		return WL_ERROR;
	}
	return 0;
}

int wl_auth_preview_check(const struct wl_auth *a, const char *ticket,
			  size_t len, const char *worklet_id, int64_t now,
			  char *user, size_t n)
{
	char copy[WL_AUTH_TICKET_MAX], mac[2 * TICKET_MAC_BYTES + 1];
	char *u, *m, *end;
	long long expires;

	if (len == 0 || len >= sizeof(copy))
		goto invalid;
	memcpy(copy, ticket, len);
	copy[len] = '\0';
	u = strchr(copy, '~');
	m = u ? strchr(u + 1, '~') : NULL;
	if (!u || !m)
		goto invalid;
	*u++ = '\0';
	*m++ = '\0';
	expires = strtoll(copy, &end, 10);
	if (end == copy || *end || !wl_auth_valid_user(u) ||
	    strlen(m) != 2 * TICKET_MAC_BYTES ||
	    ticket_mac(a, worklet_id, u, (int64_t)expires, mac) < 0 ||
	    CRYPTO_memcmp(mac, m, sizeof(mac) - 1))
		goto invalid;
	if ((int64_t)expires < now) {
		wl_error_set("preview ticket expired: reload the preview");
		return WL_EINVALID;
	}
	snprintf(user, n, "%s", u);
	return 0;
invalid:
	wl_error_set("invalid preview ticket");
	return WL_EINVALID;
}
