#ifndef WL_PROXY_H
#define WL_PROXY_H

/*
 * The reverse proxy over libwebsockets: HTTP and WebSocket, from a client
 * connection lws owns to a worklet's app on 127.0.0.1:<port>. (Proxy
 * requests on connections the front end still owns, the usual case, are
 * served by front.c instead, which forwards every request header; this
 * bridge forwards the headers lws knows plus a fixed list.) libwebsockets in
 * Debian 12 has no HTTP proxy module, so this bridges the two sides itself,
 * with back-pressure (a side that cannot write stops reading from the
 * other: nothing is ever buffered whole) and timeouts.
 *
 * Behaviour: any method; request and response bodies streamed (chunked
 * both ways); the prefix stripped (path routing) or not (host routing);
 * Location headers pointing at the app rewritten back under the prefix;
 * hop-by-hop headers (Connection, Keep-Alive, Proxy-*, TE, Trailer,
 * Transfer-Encoding, Upgrade) and our own credentials (Authorization, the
 * worklet session cookie) removed before the app sees them;
 * X-Forwarded-For/-Proto/-Host/-Prefix added; a request with both
 * Content-Length and Transfer-Encoding rejected (400) as a smuggling shape;
 * an unreachable app answered with 502, a slow one with 504.
 *
 * Threads: everything here runs on the libwebsockets service thread.
 */

#include <libwebsockets.h>

#include "apiserver/session.h"

/*
 * The protocol of the upstream (client) connections; server.c lists it in
 * the vhost's protocols after its own.
 */
extern const struct lws_protocols wl_proxy_upstream_protocol;

/*
 * Take over the request on wsi: called by server.c from LWS_CALLBACK_HTTP
 * (is_ws 0; method, URI and headers are readable with lws_hdr_*) or from
 * LWS_CALLBACK_ESTABLISHED of a WebSocket upgrade (is_ws 1). path is what
 * the app sees: the request path after the prefix, with the query string.
 * On 0, s->kind is WL_SESSION_PROXY and s->impl the proxy's state; on
 * failure the caller answers with an error.
 */
int wl_proxy_begin(struct lws *wsi, struct wl_session *s,
		   const struct wl_proxy_target *t, const char *path,
		   int is_ws);

/*
 * Every later callback of a WL_SESSION_PROXY session goes here (HTTP body,
 * writeable, receive, closed, ...). Returns what the lws callback returns.
 */
int wl_proxy_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      struct wl_session *s, void *in, size_t len);

#endif
