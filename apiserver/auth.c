#include "apiserver/auth.h"

#include <arpa/inet.h>
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

#include "apiserver/http1.h"
#include "apiserver/query.h"
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
	struct wl_auth_net *proxies;   /* trusted proxies */
	size_t nproxies;
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

static int load_proxies(struct wl_auth *a, const char *list);

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
	if (cfg->trusted_proxies &&
	    (error = load_proxies(a, cfg->trusted_proxies)) < 0) {
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
	free(a->proxies);
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

/* ---- tickets ---------------------------------------------------------------
 */

#define TICKET_MAC_BYTES 16

static const char *const ticket_domain[] = {
	[WL_TICKET_PREVIEW] = "preview.v1",
	[WL_TICKET_LOGIN] = "login.v1",
	[WL_TICKET_SESSION] = "session.v1",
};

/* The MAC of (kind, id, user, expires) as lower-case hex into out (33). */
static int ticket_mac(const struct wl_auth *a, enum wl_ticket_kind kind,
		      const char *worklet_id, const char *user, int64_t expires,
		      char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char msg[512];
	int len;

	len = snprintf(msg, sizeof(msg), "%s\n%s\n%s\n%" PRId64,
		       ticket_domain[kind], worklet_id, user, expires);
	if (len < 0 || (size_t)len >= sizeof(msg) ||
	    !HMAC(EVP_sha256(), a->preview_key, sizeof(a->preview_key),
		  (const unsigned char *)msg, (size_t)len, mac, &mac_len) ||
	    mac_len < TICKET_MAC_BYTES)
		return -1;
	for (int i = 0; i < TICKET_MAC_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

int wl_auth_ticket(const struct wl_auth *a, enum wl_ticket_kind kind,
		   const char *user, const char *worklet_id, int64_t expires,
		   char *out, size_t n)
{
	char mac[2 * TICKET_MAC_BYTES + 1];
	int len;

	if (!wl_auth_valid_user(user) ||
	    ticket_mac(a, kind, worklet_id, user, expires, mac) < 0) {
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

int wl_auth_ticket_check(const struct wl_auth *a, enum wl_ticket_kind kind,
			 const char *ticket, size_t len, const char *worklet_id,
			 int64_t now, char *user, size_t n)
{
	static const char *const expired[] = {
		[WL_TICKET_PREVIEW] = "preview ticket expired: reload the "
				      "preview",
		[WL_TICKET_LOGIN] = "this preview link has expired: open the "
				    "preview again from the dashboard (or "
				    "POST .../preview for a new link)",
		[WL_TICKET_SESSION] = "the preview's sign-in has expired: "
				      "open the preview again from the "
				      "dashboard",
	};
	static const char *const invalid[] = {
		[WL_TICKET_PREVIEW] = "invalid preview ticket",
		[WL_TICKET_LOGIN] = "invalid preview link: open the preview "
				    "from the dashboard (or POST .../preview "
				    "for a link)",
		[WL_TICKET_SESSION] = "invalid preview sign-in: open the "
				      "preview again from the dashboard",
	};
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
	    ticket_mac(a, kind, worklet_id, u, (int64_t)expires, mac) < 0 ||
	    CRYPTO_memcmp(mac, m, sizeof(mac) - 1))
		goto invalid;
	if ((int64_t)expires < now) {
		wl_error_set("%s", expired[kind]);
		return WL_EINVALID;
	}
	snprintf(user, n, "%s", u);
	return 0;
invalid:
	wl_error_set("%s", invalid[kind]);
	return WL_EINVALID;
}

int wl_auth_session_check(const struct wl_auth *a, const char *const *cookies,
			  const size_t *lens, size_t count,
			  const char *worklet_id, int64_t now, char *user,
			  size_t n)
{
	int error = WL_EINVALID, seen = 0;

	/*
	 * Every value of our cookie counts: another app of the same domain
	 * may set one of that name for the whole domain, which must not
	 * lock this app's user out.
	 */
	for (size_t i = 0; i < count; i++) {
		const char *pos = cookies[i], *end = cookies[i] + lens[i], *v;
		size_t vlen;

		while (wl_http1_session_cookie_next(&pos, end, &v, &vlen)) {
			seen = 1;
			error = wl_auth_ticket_check(a, WL_TICKET_SESSION, v,
						     vlen, worklet_id, now,
						     user, n);
			if (!error)
				return 0;
		}
	}
	if (!seen)
		wl_error_set("sign in first: open this preview from the "
			     "dashboard (POST .../preview gives a link), or "
			     "send 'Authorization: Bearer <token>'");
	return error;
}

int wl_auth_login(const struct wl_auth *a, const char *worklet_id,
		  const char *query, int secure, int64_t now,
		  struct wl_auth_login *out)
{
	char ticket[WL_AUTH_TICKET_MAX], session[WL_AUTH_TICKET_MAX];
	char user[129], *next = out->location;
	int error = WL_EINVALID;

	if (wl_query_param(query, "ticket", ticket, sizeof(ticket)) != 1 ||
	    !ticket[0]) {
		wl_error_set("this link has no valid ticket: open the preview "
			     "from the dashboard (or POST .../preview for a "
			     "link)");
		goto out;
	}
	if ((error = wl_auth_ticket_check(a, WL_TICKET_LOGIN, ticket,
					  strlen(ticket), worklet_id, now, user,
					  sizeof(user))) < 0 ||
	    (error = wl_auth_ticket(a, WL_TICKET_SESSION, user, worklet_id,
				    now + WL_AUTH_SESSION_SECONDS, session,
				    sizeof(session))) < 0)
		goto out;
	/* Only a path of this origin: never a redirect elsewhere. */
	if (wl_query_param(query, "next", next, sizeof(out->location)) != 1 ||
	    wl_query_decode(next) < 0 || next[0] != '/' || next[1] == '/' ||
	    next[1] == '\\')
		snprintf(out->location, sizeof(out->location), "/");
	snprintf(out->set_cookie, sizeof(out->set_cookie),
		 WL_HTTP1_SESSION_COOKIE
		 "=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s",
		 session, WL_AUTH_SESSION_SECONDS, secure ? "; Secure" : "");
out:
	OPENSSL_cleanse(ticket, sizeof(ticket));
	OPENSSL_cleanse(session, sizeof(session));
	return error;
}

/* ---- trusted proxies ---------------------------------------------------- */

struct wl_auth_net {
	int family;
	unsigned char addr[16];
	int bits;
};

/* Parse "addr" or "addr/bits" (IPv4 or IPv6) into net; 0 or -1. */
static int parse_net(const char *s, size_t len, struct wl_auth_net *net)
{
	char text[INET6_ADDRSTRLEN + 8], *slash, *end;
	int max;

	if (!len || len >= sizeof(text))
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	slash = strchr(text, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, text, net->addr) == 1) {
		net->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, net->addr) == 1) {
		net->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	net->bits = max;
	if (slash) {
		long b = strtol(slash, &end, 10);

		if (end == slash || *end || b < 0 || b > max)
			return -1;
		net->bits = (int)b;
	}
	return 0;
}

static int load_proxies(struct wl_auth *a, const char *list)
{
	const char *p = list;

	while (*p) {
		size_t len;
		struct wl_auth_net *nets;

		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ", ");
		if (!len)
			break;
		nets = realloc(a->proxies, (a->nproxies + 1) * sizeof(*nets));
		if (!nets) {
			wl_error_set("out of memory");
			return WL_ERROR;
		}
		a->proxies = nets;
		if (parse_net(p, len, &a->proxies[a->nproxies]) < 0) {
			wl_error_set("trusted proxies: '%.*s' is not an "
				     "address or CIDR network",
				     (int)len, p);
			return WL_EINVALID;
		}
		a->nproxies++;
		p += len;
	}
	return 0;
}

static int net_has(const struct wl_auth_net *net, int family,
		   const unsigned char *addr)
{
	int bits = net->bits, i;

	if (family != net->family)
		return 0;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (addr[i] != net->addr[i])
			return 0;
	if (bits) {
		unsigned char mask = (unsigned char)(0xff << (8 - bits));

		if ((addr[i] & mask) != (net->addr[i] & mask))
			return 0;
	}
	return 1;
}

int wl_auth_trusts_proxy(const struct wl_auth *a, const char *peer)
{
	unsigned char addr[16];
	int family = AF_INET6;

	if (!peer || !a->nproxies)
		return 0;
	if (inet_pton(AF_INET6, peer, addr) == 1) {
		/* A v4-mapped peer is judged as the IPv4 address it is. */
		static const unsigned char mapped[12] = {
			[10] = 0xff, [11] = 0xff
		};

		if (!memcmp(addr, mapped, sizeof(mapped))) {
			memmove(addr, addr + 12, 4);
			family = AF_INET;
		}
	} else if (inet_pton(AF_INET, peer, addr) == 1) {
		family = AF_INET;
	} else {
		return 0;
	}
	for (size_t i = 0; i < a->nproxies; i++)
		if (net_has(&a->proxies[i], family, addr))
			return 1;
	return 0;
}

void wl_auth_origin(const struct wl_auth *a, const char *peer, const char *host,
		    const char *xf_proto, const char *xf_host,
		    struct wl_origin *out)
{
	int trusted = wl_auth_trusts_proxy(a, peer);
	const char *h = host;

	snprintf(out->scheme, sizeof(out->scheme), "http");
	if (trusted && xf_proto) {
		size_t len = strcspn(xf_proto, ", ");

		/* The first (the client's) hop, as nginx and others send. */
		if (len == 5 && !strncasecmp(xf_proto, "https", 5))
			snprintf(out->scheme, sizeof(out->scheme), "https");
	}
	if (trusted && xf_host && *xf_host)
		h = xf_host;
	snprintf(out->host, sizeof(out->host), "%.*s",
		 h ? (int)strcspn(h, ", ") : 0, h ? h : "");
	out->secure = !strcmp(out->scheme, "https");
}

const char *wl_origin_port(const struct wl_origin *o)
{
	const char *h = o->host, *colon;

	if (*h == '[') {
		const char *close = strchr(h, ']');

		return close && close[1] == ':' ? close + 1 : "";
	}
	colon = strrchr(h, ':');
	return colon ? colon : "";
}
