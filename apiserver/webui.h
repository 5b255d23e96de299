#ifndef WL_WEBUI_H
#define WL_WEBUI_H

/*
 * The web dashboard: index.html, app.js, app.css and favicon.svg from
 * apiserver/web/, embedded into the binary at build time
 * (cmake/webui_embed.cmake writes webui_assets.c). server.c serves them at
 * "/" and "/<name>" with the headers below; every other path is left to
 * the routes that were there before.
 *
 * Read-only data: any thread.
 */

#include <stddef.h>

#include "controller/config.h"

struct wl_webui_asset {
	const char *path;	  /* "/app.js" */
	const char *content_type; /* "text/javascript; charset=utf-8" */
	const unsigned char *data;
	size_t len;
	const char *etag; /* quoted: "\"0123456789abcdef\"" */
};

/* Generated: the assets and how many there are. */
extern const struct wl_webui_asset wl_webui_assets[];
extern const size_t wl_webui_asset_count;

/* The asset served at path ("/" is "/index.html"), or NULL. */
const struct wl_webui_asset *wl_webui_find(const char *path);

/*
 * 1 if if_none_match (an If-None-Match value, NULL when absent) names the
 * asset's ETag (or is "*"): the answer is 304 without a body.
 */
int wl_webui_not_modified(const struct wl_webui_asset *a,
			  const char *if_none_match);

/*
 * The dashboard's Content-Security-Policy into out (n bytes): only its own
 * scripts and styles, fetch and WebSocket to itself, frames of its own
 * origin (the path-routed preview) and, with host routing, of
 * *.<base domain>; nobody may frame the dashboard. 0, or -1 if n is short.
 */
int wl_webui_csp(const struct wl_config *cfg, char *out, size_t n);

#endif
