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
	CHECK(wl_webui_csp(&c, csp, sizeof(csp)) == 0);
	CHECK_CONTAINS(csp, "default-src 'self'");
	CHECK_CONTAINS(csp, "connect-src 'self' ws: wss:");
	CHECK_CONTAINS(csp, "frame-src 'self';");
	CHECK_CONTAINS(csp, "frame-ancestors 'none'");
	CHECK(!strstr(csp, "unsafe"));
	c.host_routing = 1;
	CHECK(wl_webui_csp(&c, csp, sizeof(csp)) == 0);
	CHECK_CONTAINS(csp, "frame-src 'self' *.localhost:*;");
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
	CHECK(wl_auth_preview_ticket(a, "alice@x.org", "w1", now + 60, t,
				     sizeof(t)) == 0);
	CHECK(wl_auth_preview_check(a, t, strlen(t), "w1", now, user,
				    sizeof(user)) == 0);
	CHECK_STR(user, "alice@x.org");
	/* Another worklet, a later time, another server's key: refused. */
	CHECK(wl_auth_preview_check(a, t, strlen(t), "w2", now, user,
				    sizeof(user)) < 0);
	CHECK(wl_auth_preview_check(a, t, strlen(t), "w1", now + 61, user,
				    sizeof(user)) < 0);
	CHECK_CONTAINS(wl_error_last(), "expired");
	CHECK(wl_auth_preview_check(other, t, strlen(t), "w1", now, user,
				    sizeof(user)) < 0);
	/* Tampered: the user, the expiry, the MAC; truncated; garbage. */
	snprintf(bad, sizeof(bad), "%lld~bob~%s", (long long)(now + 60),
		 strrchr(t, '~') + 1);
	CHECK(wl_auth_preview_check(a, bad, strlen(bad), "w1", now, user,
				    sizeof(user)) < 0);
	snprintf(bad, sizeof(bad), "9%s", t);
	CHECK(wl_auth_preview_check(a, bad, strlen(bad), "w1", now, user,
				    sizeof(user)) < 0);
	snprintf(bad, sizeof(bad), "%s", t);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	CHECK(wl_auth_preview_check(a, bad, strlen(bad), "w1", now, user,
				    sizeof(user)) < 0);
	CHECK(wl_auth_preview_check(a, t, strlen(t) - 1, "w1", now, user,
				    sizeof(user)) < 0);
	CHECK(wl_auth_preview_check(a, "x", 1, "w1", now, user, sizeof(user)) <
	      0);
	CHECK(wl_auth_preview_check(a, "", 0, "w1", now, user, sizeof(user)) <
	      0);
	/* Only well-formed users get one. */
	CHECK(wl_auth_preview_ticket(a, "a b", "w1", now, t, sizeof(t)) < 0);
	wl_auth_free(a);
	wl_auth_free(other);
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
		UNIT(test_user_protocol),
		{ 0 },
	};
	return wl_unit_run(tests);
}
