#include "apiserver/webui.h"

#include <stdio.h>
#include <string.h>

#include "specs/core/banned.h"

const struct wl_webui_asset *wl_webui_find(const char *path)
{
	if (!strcmp(path, "/"))
		path = "/index.html";
	for (size_t i = 0; i < wl_webui_asset_count; i++)
		if (!strcmp(wl_webui_assets[i].path, path))
			return &wl_webui_assets[i];
	return NULL;
}

int wl_webui_not_modified(const struct wl_webui_asset *a,
			  const char *if_none_match)
{
	size_t n = strlen(a->etag);
	const char *p = if_none_match;

	if (!p)
		return 0;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!strncmp(p, "W/", 2))
			p += 2; /* weak comparison, as RFC 9110 asks for GET */
		if (*p == '*' || !strncmp(p, a->etag, n))
			return 1;
		while (*p && *p != ',')
			p++;
	}
	return 0;
}

int wl_webui_csp(const struct wl_config *cfg, char *out, size_t n)
{
	int len;

	len = snprintf(out, n,
		       "default-src 'self'; script-src 'self'; "
		       "style-src 'self'; img-src 'self' data:; "
		       "connect-src 'self' ws: wss:; frame-src 'self'%s%s%s; "
		       "frame-ancestors 'none'; object-src 'none'; "
		       "base-uri 'none'; form-action 'self'",
		       cfg->host_routing ? " *." : "",
		       cfg->host_routing ? cfg->base_domain : "",
		       cfg->host_routing ? ":*" : "");
	return len < 0 || (size_t)len >= n ? -1 : 0;
}
