/*
 * The dashboard's serving pieces: the embedded assets (webui.c), their
 * revalidation and policy, and the preview tickets (auth.c) and paths
 * (route.c) that let a sandboxed frame show a worklet.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver/auth.h"
#include "apiserver/route.h"
#include "apiserver/webui.h"
#include "controller/config.h"
#include "specs/core/error.h"
#include "unit.h"

static void test_assets(void)
{
	static const struct {
		const char *path, *type; /* type NULL: not an asset */
	} cases[] = {
		{ "/", "text/html; charset=utf-8" },
		{ "/index.html", "text/html; charset=utf-8" },
		{ "/app.js", "text/javascript; charset=utf-8" },
		{ "/app.css", "text/css; charset=utf-8" },
		{ "/favicon.svg", "image/svg+xml" },
		{ "/nope", NULL },
		{ "/app.js/", NULL },
		{ "/APP.JS", NULL },
		{ "/api/worklet/worklets", NULL },
		{ "/healthz", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct wl_webui_asset *a = wl_webui_find(cases[i].path);

		if (!cases[i].type) {
			CHECK(a == NULL);
			continue;
		}
		CHECK(a != NULL);
		if (!a)
			continue;
		CHECK_STR(a->content_type, cases[i].type);
		CHECK(a->len > 100);
		CHECK(a->data[a->len] == '\0');
		CHECK(strlen(a->etag) == 18 && a->etag[0] == '"');
	}
	/* The page loads its script as a module and the style sheet. */
	CHECK_CONTAINS((const char *)wl_webui_find("/")->data,
		       "<script type=\"module\" src=\"/app.js\">");
	CHECK_CONTAINS((const char *)wl_webui_find("/")->data, "/app.css");
	/* Different files, different tags. */
	CHECK(strcmp(wl_webui_find("/app.js")->etag,
		     wl_webui_find("/app.css")->etag));
}

static void test_not_modified(void)
{
	const struct wl_webui_asset *a = wl_webui_find("/app.js");
	char exact[64], weak[64], listed[128];

	snprintf(exact, sizeof(exact), "%s", a->etag);
	snprintf(weak, sizeof(weak), "W/%s", a->etag);
	snprintf(listed, sizeof(listed), "\"0000000000000000\", %s", a->etag);
	const struct {
		const char *inm;
		int want;
	} cases[] = {
		{ NULL, 0 },   { "", 0 },  { exact, 1 },   { weak, 1 },
		{ listed, 1 }, { "*", 1 }, { "\"0\"", 0 }, { "W/\"abc\"", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(wl_webui_not_modified(a, cases[i].inm) == cases[i].want);
}

static void test_csp(void)
{
	struct wl_config c;
	char csp[512];

	CHECK(wl_config_init(&c) == 0);
	c.host_routing = 0;
	CHECK(wl_webui_csp(&c, csp, sizeof(csp)) == 0);
	CHECK_CONTAINS(csp, "default-src 'self'");
	CHECK_CONTAINS(csp, "connect-src 'self' ws: wss:");
	CHECK_CONTAINS(csp, "frame-src 'self';");
	CHECK_CONTAINS(csp, "frame-ancestors 'none'");
	CHECK(!strstr(csp, "unsafe"));
	c.host_routing = 1;
	CHECK(wl_webui_csp(&c, csp, sizeof(csp)) == 0);
	CHECK_CONTAINS(csp, "frame-src 'self' *.worklet.localhost:*;");
	CHECK(wl_webui_csp(&c, csp, 40) < 0);
	wl_config_release(&c);
}

static void test_preview_path(void)
{
	static const struct {
		const char *path, *id, *ticket, *rest; /* id NULL: no match */
	} cases[] = {
		{ "/api/worklet/worklets/w1/preview/T/", "w1", "T", "/" },
		{ "/api/worklet/worklets/w1/preview/T", "w1", "T", "" },
		{ "/api/worklet/worklets/w1/preview/1~a~f/x/y.css", "w1",
		  "1~a~f", "/x/y.css" },
		{ "/api/worklet/worklets/w1/preview/", NULL, NULL, NULL },
		{ "/api/worklet/worklets/w1/preview", NULL, NULL, NULL },
		{ "/api/worklet/worklets/w1/proxy/", NULL, NULL, NULL },
		{ "/api/worklet/worklets//preview/T/", NULL, NULL, NULL },
		{ "/api/worklet/worklets/w1/previews/T/", NULL, NULL, NULL },
		{ "/other/w1/preview/T/", NULL, NULL, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = cases[i].path;
		char id[64];
		size_t t = 0, tl = 0, rest = 0;
		int m = wl_route_preview_path(p, strlen(p), id, sizeof(id), &t,
					      &tl, &rest);

		CHECK(m == (cases[i].id != NULL));
		if (!m || !cases[i].id)
			continue;
		CHECK_STR(id, cases[i].id);
		CHECK(tl == strlen(cases[i].ticket) &&
		      !strncmp(p + t, cases[i].ticket, tl));
		CHECK_STR(p + rest, cases[i].rest);
	}
}

static void test_preview_ticket(void)
{
	struct wl_config c;
	struct wl_auth *a = NULL, *other = NULL;
	char t[WL_AUTH_TICKET_MAX], bad[WL_AUTH_TICKET_MAX], user[129];
	int64_t now = 1800000000;

	CHECK(wl_config_init(&c) == 0);
	c.trust_user_header = 1;
	CHECK(wl_auth_new(&a, &c) == 0);
	CHECK(wl_auth_new(&other, &c) == 0);
	CHECK(wl_auth_ticket(a, WL_TICKET_PREVIEW, "alice@x.org", "w1",
			     now + 60, t, sizeof(t)) == 0);
	CHECK(wl_auth_ticket_check(a, WL_TICKET_PREVIEW, t, strlen(t), "w1",
				   now, user, sizeof(user)) == 0);
	CHECK_STR(user, "alice@x.org");
	/* Another worklet, a later time, another server's key: refused. */
	CHECK(wl_auth_ticket_check(a, WL_TICKET_PREVIEW, t, strlen(t), "w2",
				   now, user, sizeof(user)) < 0);
	CHECK(wl_auth_ticket_check(a, WL_TICKET_PREVIEW, t, strlen(t), "w1",
				   now + 61, user, sizeof(user)) < 0);
	CHECK_CONTAINS(wl_error_last(), "expired");
	CHECK(wl_auth_ticket_check(other, WL_TICKET_PREVIEW, t, strlen(t), "w1",
				   now, user, sizeof(user)) < 0);
	/* Tampered: the user, the expiry, the MAC; truncated; garbage. */
	snprintf(bad, sizeof(bad), "%lld~bob~%s", (long long)(now + 60),
		 strrchr(t, '~') + 1);
	CHECK(wl_auth_ticket_check(a, WL_TICKET_PREVIEW, bad, strlen(bad), "w1",
				   now, user, sizeof(user)) < 0);
	snprintf(bad, sizeof(bad), "9%s", t);
	CHECK(wl_auth_ticket_check(a, WL_TICKET_PREVIEW, bad, strlen(bad), "w1",
				   now, user, sizeof(user)) < 0);
	snprintf(bad, sizeof(bad), "%s", t);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	CHECK(wl_auth_ticket_check(a, WL_TICKET_PREVIEW, bad, strlen(bad), "w1",
				   now, user, sizeof(user)) < 0);
	CHECK(wl_auth_ticket_check(a, WL_TICKET_PREVIEW, t, strlen(t) - 1, "w1",
				   now, user, sizeof(user)) < 0);
	CHECK(wl_auth_ticket_check(a, WL_TICKET_PREVIEW, "x", 1, "w1", now,
				   user, sizeof(user)) < 0);
	CHECK(wl_auth_ticket_check(a, WL_TICKET_PREVIEW, "", 0, "w1", now, user,
				   sizeof(user)) < 0);
	/* Only well-formed users get one. */
	CHECK(wl_auth_ticket(a, WL_TICKET_PREVIEW, "a b", "w1", now, t,
			     sizeof(t)) < 0);
	wl_auth_free(a);
	wl_auth_free(other);
	wl_config_release(&c);
}

/* A ticket is worth nothing as another kind; the session cookie. */
static void test_ticket_kinds_and_session(void)
{
	struct wl_config c;
	struct wl_auth *a = NULL;
	char login[WL_AUTH_TICKET_MAX], session[WL_AUTH_TICKET_MAX];
	char cookie[1024], user[129];
	const char *cookies[2];
	size_t lens[2];
	int64_t now = 1800000000;

	CHECK(wl_config_init(&c) == 0);
	c.trust_user_header = 1;
	CHECK(wl_auth_new(&a, &c) == 0);
	CHECK(wl_auth_ticket(a, WL_TICKET_LOGIN, "alice", "w1", now + 60, login,
			     sizeof(login)) == 0);
	CHECK(wl_auth_ticket(a, WL_TICKET_SESSION, "alice", "w1", now + 60,
			     session, sizeof(session)) == 0);
	CHECK(wl_auth_ticket_check(a, WL_TICKET_LOGIN, login, strlen(login),
				   "w1", now, user, sizeof(user)) == 0);
	CHECK(wl_auth_ticket_check(a, WL_TICKET_SESSION, login, strlen(login),
				   "w1", now, user, sizeof(user)) < 0);
	CHECK(wl_auth_ticket_check(a, WL_TICKET_PREVIEW, session,
				   strlen(session), "w1", now, user,
				   sizeof(user)) < 0);
	CHECK(wl_auth_ticket_check(a, WL_TICKET_LOGIN, login, strlen(login),
				   "w1", now + 61, user, sizeof(user)) < 0);
	CHECK_CONTAINS(wl_error_last(), "expired");

	/* The cookie among others, in the second Cookie header. */
	snprintf(cookie, sizeof(cookie), "theme=dark; wl_session=%s; x=1",
		 session);
	cookies[0] = "a=b";
	lens[0] = 3;
	cookies[1] = cookie;
	lens[1] = strlen(cookie);
	user[0] = '\0';
	CHECK(wl_auth_session_check(a, cookies, lens, 2, "w1", now, user,
				    sizeof(user)) == 0);
	CHECK_STR(user, "alice");
	/* Not another worklet's host. */
	CHECK(wl_auth_session_check(a, cookies, lens, 2, "w2", now, user,
				    sizeof(user)) < 0);
	/* A bogus domain-wide one next to the good one does not lock out. */
	snprintf(cookie, sizeof(cookie), "wl_session=forged; wl_session=%s",
		 session);
	lens[1] = strlen(cookie);
	CHECK(wl_auth_session_check(a, cookies + 1, lens + 1, 1, "w1", now,
				    user, sizeof(user)) == 0);
	/* None at all, or only forged: a message that says what to do. */
	CHECK(wl_auth_session_check(a, cookies, lens, 1, "w1", now, user,
				    sizeof(user)) < 0);
	CHECK_CONTAINS(wl_error_last(), "dashboard");
	snprintf(cookie, sizeof(cookie), "wl_session=forged");
	lens[1] = strlen(cookie);
	CHECK(wl_auth_session_check(a, cookies + 1, lens + 1, 1, "w1", now,
				    user, sizeof(user)) < 0);
	CHECK_CONTAINS(wl_error_last(), "invalid");
	wl_auth_free(a);
	wl_config_release(&c);
}

/* X-Forwarded-* are believed only from the configured proxies. */
static void test_origin(void)
{
	static const struct {
		const char *peer, *host, *xfp, *xfh;
		const char *scheme, *ohost, *port;
	} cases[] = {
		{ "127.0.0.1", "worklet.localhost:8080", NULL, NULL, "http",
		  "worklet.localhost:8080", ":8080" },
		/* an untrusted peer's claims are ignored */
		{ "192.0.2.7", "a.test:80", "https", "evil.test", "http",
		  "a.test:80", ":80" },
		{ "10.1.2.3", "up:8080", "https", "worklet.example.com",
		  "https", "worklet.example.com", "" },
		{ "10.1.2.3", "up:8080", "https, http", "w.test:8443, x",
		  "https", "w.test:8443", ":8443" },
		{ "::1", "up", "https", NULL, "https", "up", "" },
		{ "::ffff:10.9.9.9", "up", "https", NULL, "https", "up", "" },
		{ "11.0.0.1", "up", "https", NULL, "http", "up", "" },
		{ "10.1.2.3", "[::1]:9", "http", NULL, "http", "[::1]:9",
		  ":9" },
		{ "10.1.2.3", NULL, NULL, NULL, "http", "", "" },
	};
	struct wl_config c;
	struct wl_auth *a = NULL;

	CHECK(wl_config_init(&c) == 0);
	c.trust_user_header = 1;
	c.trusted_proxies = strdup("10.0.0.0/8, ::1");
	CHECK(wl_auth_new(&a, &c) == 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_origin o;

		wl_auth_origin(a, cases[i].peer, cases[i].host, cases[i].xfp,
			       cases[i].xfh, &o);
		CHECK_STR(o.scheme, cases[i].scheme);
		CHECK_STR(o.host, cases[i].ohost);
		CHECK_STR(wl_origin_port(&o), cases[i].port);
		CHECK(o.secure == !strcmp(cases[i].scheme, "https"));
	}
	wl_auth_free(a);
	free(c.trusted_proxies);
	c.trusted_proxies = strdup("10.0.0.0/33");
	CHECK(wl_auth_new(&a, &c) < 0);
	CHECK_CONTAINS(wl_error_last(), "10.0.0.0/33");
	wl_config_release(&c);
}

/* The default web_url is the host form, with the public URL's scheme and
 * port. */
static void test_web_url(void)
{
	static const struct {
		const char *public_url;
		int host_routing;
		const char *want;
	} cases[] = {
		{ "http://127.0.0.1:8080", 1,
		  "http://w1.worklet.localhost:8080/" },
		{ "https://worklet.example.com/", 1,
		  "https://w1.worklet.localhost/" },
		{ "https://[::1]:8443", 1,
		  "https://w1.worklet.localhost:8443/" },
		{ "http://127.0.0.1:8080/", 0,
		  "http://127.0.0.1:8080/api/worklet/worklets/w1/proxy/" },
	};
	struct wl_config c;

	CHECK(wl_config_init(&c) == 0);
	CHECK(c.host_routing == 1);
	CHECK_STR(c.base_domain, "worklet.localhost");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char url[512];

		free(c.public_url);
		c.public_url = strdup(cases[i].public_url);
		c.host_routing = cases[i].host_routing;
		CHECK(wl_config_web_url(&c, "w1", url, sizeof(url)) == 0);
		CHECK_STR(url, cases[i].want);
	}
	wl_config_release(&c);
}

static void test_user_protocol(void)
{
	static const struct {
		const char *protocols, *user; /* user NULL: none */
	} cases[] = {
		{ "worklet, user.carol", "carol" },
		{ "user.carol", "carol" },
		{ "worklet,user.a.b-c", "a.b-c" },
		{ "worklet", NULL },
		{ "worklet, user.", NULL },
		{ "worklet, bearer.xuser.evil", NULL },
		{ "worklet, xuser.evil", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char user[129] = "";
		int got = wl_auth_user_protocol(cases[i].protocols, user,
						sizeof(user));

		CHECK(got == (cases[i].user != NULL));
		if (got && cases[i].user)
			CHECK_STR(user, cases[i].user);
	}
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_assets),
		UNIT(test_not_modified),
		UNIT(test_csp),
		UNIT(test_preview_path),
		UNIT(test_preview_ticket),
		UNIT(test_ticket_kinds_and_session),
		UNIT(test_origin),
		UNIT(test_web_url),
		UNIT(test_user_protocol),
		{ 0 },
	};
	return wl_unit_run(tests);
}
