#ifndef WL_HTTP_H
#define WL_HTTP_H

/* Small helpers over libwebsockets' parsed request, for server and proxy. */

#include <libwebsockets.h>

/*
 * The request's method ("GET", "POST", "PUT", "PATCH", "DELETE",
 * "OPTIONS", "HEAD"), or NULL for one lws does not parse. Service thread.
 */
const char *wl_http_method(struct lws *wsi);

#endif
