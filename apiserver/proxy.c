/*
 * DESIGN
 *
 * Scope: most proxy requests never come here. The front end (front.c)
 * reads request heads before libwebsockets and serves proxy requests
 * itself, with every header the client sent. This bridge serves the proxy
 * requests that arrive on a connection lws already owns (one that carried
 * an API, watch or health request before): a browser that used the API and
 * then the path form on the same connection. There, what reaches the app
 * is limited to what lws can tell us (see "request headers" below).
 *
 * Threads: everything in this file runs on the libwebsockets service
 * thread (the server's protocols[0] callback forwards to us, and the
 * upstream connections are lws wsis of the same context), so there are no
 * locks. Two file-statics: the write scratch buffer, used inside one
 * callback at a time, and the pool of idle upstream connections (keyed by
 * context and port). Neither is locked, so all contexts that proxy must be
 * serviced by one thread (workletd has a single context).
 *
 * One struct proxy per proxied request (HTTP) or WebSocket session. It
 * links the client connection ("down", the server's wsi) and the connection
 * to the app ("up"). Either side may go away first; each side's close
 * callback detaches it, and the struct is freed when both are gone.
 *
 * HTTP: the upstream is a RAW client socket (lws_client_connect_via_info
 * with method "RAW") and this file speaks HTTP/1.1 to the app itself, with
 * a bounded response-head parser and its own Content-Length / chunked /
 * until-close body framing. Why not lws's HTTP client: in 4.1.6 there is
 * no way to enumerate response headers lws does not know (custom headers
 * are reachable only by name, and lws_hdr_custom_name_foreach arrived in
 * 4.2), so X-* headers from the app would be lost, and its client follows
 * redirects and keeps state we would have to undo. With our own framing the
 * app's response head is passed through line by line (minus hop-by-hop
 * headers, Location rewritten under the prefix).
 *
 * On the client side lws 4.1.6 has two gaps we work around:
 *  - it does not decode chunked request bodies: a POST/PUT/PATCH without
 *    Content-Length gets the raw chunked stream as HTTP_BODY (lws waits
 *    for up to 100 MB). We decode it here and re-frame it for the app; the
 *    connection is closed after such a response, since lws's idea of where
 *    the request ends is wrong.
 *  - it does not chunk a response of unknown length (without stream
 *    compression it just sends "connection: close"). We add
 *    "transfer-encoding: chunked" and write the chunk framing ourselves, so
 *    the connection stays reusable and a truncated body is detectable.
 *  - request headers it does not know are likewise only reachable by name,
 *    so besides every header lws knows we forward a fixed list of common
 *    custom ones (custom_headers[] below). Others do not reach the app:
 *    this is the one path where that limit still applies.
 *
 * Back-pressure: bytes for the other side go into a bounded wl_buf; above
 * BUF_HIGH the producing side's rx is paused with lws_rx_flow_control() and
 * resumed when the buffer drains below BUF_LOW. Nothing is held whole.
 *
 * WebSocket: the server has already accepted the browser's upgrade; the
 * upstream is an lws WebSocket client to the same path. Messages are
 * bridged fragment by fragment (type, first/final flags preserved) through
 * bounded queues with the same flow control; close codes go both ways.
 *
 * Deadlines (one lws_sul per proxy): connect (502 / close 1014), response
 * head (504), idle while streaming (close both).
 *
 * Upstream keep-alive: every upstream wsi carries a struct upconn as its
 * opaque user data (owned by a proxy while it carries a request, by the
 * pool while idle, by nobody while lws closes it; freed in the wsi's close
 * callback). When a response has been read completely (its Content-Length
 * consumed or the terminating chunk seen), the whole request was written,
 * no surplus byte followed the response and the app did not say
 * "Connection: close" (nor answered HTTP/1.0), the connection goes into a
 * per-(context, port) pool of idle connections (POOL_MAX_PER_PORT, closed
 * after POOL_IDLE_SECS) instead of being closed. Never pooled: responses
 * delimited by close, bodiless responses (HEAD, 204, 304: an app that
 * wrongly sends a body there would have it read as the next response),
 * WebSocket upgrades, errors, timeouts and partial transfers. A pooled
 * connection that becomes readable or closes while idle is dropped, and one
 * is checked with a non-blocking peek before it is used again.
 * The pool is a MRU list scanned linearly: it holds at most
 * POOL_MAX_PER_PORT entries per running app.
 *
 * The app may close an idle connection just as we reuse it. A request sent
 * on a reused connection that fails before any response byte arrived is
 * retried once on a fresh connection if it is idempotent and has no body
 * (GET, HEAD, OPTIONS, DELETE without body); anything else gets a 502, as
 * the app may have acted on it.
 */

#include "apiserver/proxy.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <errno.h>

#include "apiserver/http.h"
#include "apiserver/http1.h"
#include "apiserver/metrics.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/log.h"
#include "specs/core/banned.h"

#define UPSTREAM_PROTOCOL "worklet-proxy-upstream"

/* Sizes. A producer ignoring the pause hits BUF_MAX and the transfer fails. */
#define HEAD_MAX WL_HTTP1_HEAD_MAX /* request or response head */
#define BUF_HIGH (64 * 1024)	   /* pause the producer above this */
#define BUF_LOW (16 * 1024)	   /* resume it below this */
#define BUF_MAX (4 * 1024 * 1024)
#define WRITE_MAX (16 * 1024)	   /* bytes per lws_write */
#define WS_QUEUE_HIGH (256 * 1024) /* queued WebSocket bytes per direction */
#define WS_QUEUE_LOW (64 * 1024)

#define CONNECT_TIMEOUT_US (5 * LWS_USEC_PER_SEC)
#define HEAD_TIMEOUT_US (60 * LWS_USEC_PER_SEC)
#define IDLE_TIMEOUT_US (300 * LWS_USEC_PER_SEC)

/* Idle upstream connections kept per app port, and for how long. */
#define POOL_MAX_PER_PORT 32
#define POOL_IDLE_SECS 30

#define WS_CLOSE_BAD_GATEWAY 1014 /* RFC 6455 registry: "Bad Gateway" */

enum timer_kind {
	TIMER_NONE = 0,
	TIMER_CONNECT,
	TIMER_HEAD,
	TIMER_IDLE,
};

/* One piece of a WebSocket message waiting to be written. */
struct frag {
	struct frag *next;
	size_t len;
	int binary, first, final;
	unsigned char data[]; /* LWS_PRE + len */
};

struct frag_queue {
	struct frag *head, *tail;
	size_t bytes;
};

struct proxy;

/* One upstream connection; see "Upstream keep-alive" above. */
struct upconn {
	struct upconn *next; /* in the pool */
	struct lws *wsi;
	struct proxy *p; /* the owner, NULL while pooled or closing */
	struct lws_context *cx;
	int port;
	int pooled;
};

struct proxy {
	struct lws *down;  /* the client's connection (server side) */
	struct lws *up;	   /* our connection to the app */
	struct upconn *uc; /* up's state, NULL once we let go of it */
	struct wl_session *s;
	struct lws_context *cx;
	int is_ws;
	int port;
	char *prefix;  /* "" when host routed */
	char proto[8]; /* X-Forwarded-Proto */
	int up_connected;
	int reused;	     /* up came from the pool */
	int idempotent;	     /* retrying is safe (and there is no body) */
	struct wl_buf retry; /* the request head, kept while retrying is ok */
	int resp_reusable;   /* the response leaves up reusable */
	int resp_surplus;    /* bytes followed the response: do not reuse */

	lws_sorted_usec_list_t sul;
	enum timer_kind timer;

	/* HTTP, client -> app */
	int is_head_request;
	enum wl_http1_framing req_framing;
	struct wl_http1_chunked req_dec;
	int req_done;
	int down_paused;
	int close_after; /* lws cannot reuse this connection afterwards */
	struct wl_buf to_up;

	/* HTTP, app -> client */
	struct wl_buf head; /* the app's response head, then only that */
	int head_done;
	int status;
	enum wl_http1_framing resp_framing;
	uint64_t resp_remain;
	uint64_t resp_length; /* Content-Length for WL_HTTP1_LENGTH */
	struct wl_http1_chunked resp_dec;
	int resp_done;
	int up_paused;
	int down_chunked;
	int head_sent;
	int abort_down; /* the body cannot be completed: close */
	int err_status;
	const char *err_text;
	struct wl_buf to_down;

	/* WebSocket */
	char *ws_protocol; /* Sec-WebSocket-Protocol from the browser */
	char *ws_origin;
	struct wl_buf ws_hdrs; /* extra handshake lines for the app */
	struct frag_queue q_up, q_down;
	int up_rx_paused;
	int close_up, close_down; /* send a close frame when the queue drains */
	int close_up_code, close_down_code;
	unsigned char close_up_reason[123], close_down_reason[123];
	size_t close_up_reason_len, close_down_reason_len;
	int up_close_code; /* from the app's close frame, 0 if none */
	unsigned char up_close_reason[123];
	size_t up_close_reason_len;
};

static unsigned char scratch[LWS_PRE + WRITE_MAX + 64];

/* Idle upstream connections, most recently used first. */
static struct upconn *pool;

/*
 * Request headers lws does not know but that apps commonly use; lws 4.1.6
 * can only look these up by name.
 */
static const char *const custom_headers[] = {
	"x-requested-with:",
	"x-csrf-token:",
	"x-xsrf-token:",
	"x-api-key:",
	"x-request-id:",
	"x-correlation-id:",
	"x-http-method-override:",
	"traceparent:",
	"tracestate:",
	"dnt:",
	"upgrade-insecure-requests:",
	"sec-fetch-site:",
	"sec-fetch-mode:",
	"sec-fetch-dest:",
	"sec-fetch-user:",
	"sec-ch-ua:",
	"sec-ch-ua-mobile:",
	"sec-ch-ua-platform:",
	"priority:",
	"access-control-request-method:",
};

/* ---- small helpers --------------------------------------------------------
 */

static void timer_cb(lws_sorted_usec_list_t *sul);

static void timer_set(struct proxy *p, enum timer_kind kind, lws_usec_t us)
{
	p->timer = kind;
	if (kind == TIMER_NONE)
		lws_sul_schedule(p->cx, 0, &p->sul, timer_cb,
				 LWS_SET_TIMER_USEC_CANCEL);
	else
		lws_sul_schedule(p->cx, 0, &p->sul, timer_cb, us);
}

static void queue_clear(struct frag_queue *q)
{
	struct frag *f = q->head, *next;

	for (; f; f = next) {
		next = f->next;
		free(f);
	}
	q->head = q->tail = NULL;
	q->bytes = 0;
}

static int queue_push(struct frag_queue *q, const void *data, size_t len,
		      int binary, int first, int final)
{
	struct frag *f = malloc(sizeof(*f) + LWS_PRE + len);

	if (!f)
		return -1;
	f->next = NULL;
	f->len = len;
	f->binary = binary;
	f->first = first;
	f->final = final;
	if (len)
		memcpy(f->data + LWS_PRE, data, len);
	if (q->tail)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	q->bytes += len;
	return 0;
}

static void proxy_free(struct proxy *p)
{
	if (!p)
		return;
	timer_set(p, TIMER_NONE, 0);
	wl_buf_release(&p->to_up);
	wl_buf_release(&p->to_down);
	wl_buf_release(&p->head);
	wl_buf_release(&p->ws_hdrs);
	wl_buf_release(&p->retry);
	queue_clear(&p->q_up);
	queue_clear(&p->q_down);
	free(p->prefix);
	free(p->ws_protocol);
	free(p->ws_origin);
	free(p);
}

/* Let go of the upstream connection and have lws close it. */
static void up_kill(struct proxy *p)
{
	if (p->uc) {
		p->uc->p = NULL;
		p->uc = NULL;
	}
	if (!p->up)
		return;
	lws_set_timeout(p->up, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	p->up = NULL;
}

/* ---- the pool of idle upstream connections ---------------------------- */

static void pool_unlink(struct upconn *uc)
{
	for (struct upconn **pp = &pool; *pp; pp = &(*pp)->next)
		if (*pp == uc) {
			*pp = uc->next;
			break;
		}
	uc->next = NULL;
	uc->pooled = 0;
}

/* The wsi is closing: forget its upconn (and the owner's link to it). */
static void upconn_closed(struct lws *wsi, struct upconn *uc)
{
	lws_set_opaque_user_data(wsi, NULL);
	if (uc->pooled)
		pool_unlink(uc);
	if (uc->p && uc->p->uc == uc)
		uc->p->uc = NULL;
	free(uc);
}

/* Nothing arrived on an idle connection, and the app has not closed it. */
static int still_idle(struct lws *wsi)
{
	char c;
	ssize_t n =
		recv(lws_get_socket_fd(wsi), &c, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Take an idle connection to port for p, or NULL if there is none. */
static struct upconn *pool_take(struct proxy *p)
{
	struct upconn *uc = pool, *next;

	for (; uc; uc = next) {
		next = uc->next;
		if (uc->cx != p->cx || uc->port != p->port)
			continue;
		pool_unlink(uc);
		if (!still_idle(uc->wsi)) {
			/* Closed or sent something while idle: drop it. */
			lws_set_timeout(uc->wsi, PENDING_TIMEOUT_USER_OK,
					LWS_TO_KILL_ASYNC);
			continue;
		}
		lws_set_timeout(uc->wsi, NO_PENDING_TIMEOUT, 0);
		uc->p = p;
		return uc;
	}
	return NULL;
}

/* The response is complete: pool p's upstream connection, or close it. */
static void up_release(struct proxy *p)
{
	struct upconn *uc = p->uc;
	int n = 0;

	if (!uc || !p->up || !p->up_connected || !p->resp_reusable ||
	    p->resp_surplus || !p->req_done || p->to_up.len || p->is_ws) {
		up_kill(p);
		return;
	}
	for (struct upconn *i = pool; i; i = i->next)
		if (i->cx == uc->cx && i->port == uc->port)
			n++;
	if (n >= POOL_MAX_PER_PORT) {
		up_kill(p);
		return;
	}
	if (p->up_paused) {
		lws_rx_flow_control(p->up, 1);
		p->up_paused = 0;
	}
	uc->p = NULL;
	uc->pooled = 1;
	uc->next = pool;
	pool = uc;
	lws_set_timeout(uc->wsi, PENDING_TIMEOUT_USER_OK, POOL_IDLE_SECS);
	p->uc = NULL;
	p->up = NULL;
	wl_buf_release(&p->retry);
}

/* The client side is done with this proxy: the session forgets it. */
static void down_detach(struct proxy *p)
{
	if (p->s) {
		p->s->impl = NULL;
		p->s->kind = WL_SESSION_NONE;
		p->s = NULL;
	}
	p->down = NULL;
}

/* Free p if neither side refers to it any more. */
static void maybe_free(struct proxy *p)
{
	if (!p->down && !p->up)
		proxy_free(p);
}

/* ---- chunked decoding ------------------------------------------------------
 */

/* ---- HTTP: client -> app ----------------------------------------------------
 */

static void up_want_write(struct proxy *p)
{
	if (p->up && p->up_connected)
		lws_callback_on_writable(p->up);
}

static void down_want_write(struct proxy *p)
{
	if (p->down)
		lws_callback_on_writable(p->down);
}

/* Append request body bytes for the app, framed as the app expects. */
static int sink_to_up(void *ctx, const char *data, size_t n)
{
	struct proxy *p = ctx;

	if (!n)
		return 0;
	if (p->req_framing == WL_HTTP1_CHUNKED &&
	    wl_buf_printf(&p->to_up, "%zx\r\n", n) < 0)
		return -1;
	if (wl_buf_add(&p->to_up, data, n) < 0)
		return -1;
	if (p->req_framing == WL_HTTP1_CHUNKED &&
	    wl_buf_puts(&p->to_up, "\r\n") < 0)
		return -1;
	atomic_fetch_add(&wl_metrics.proxy_bytes_in, n);
	return 0;
}

/* Answer the client with an error of our own (before any response head). */
static void fail_http(struct proxy *p, int status, const char *text)
{
	up_kill(p);
	if (!p->head_sent && !p->err_status) {
		p->err_status = status;
		p->err_text = text;
		if (status >= 500)
			atomic_fetch_add(&wl_metrics.proxy_errors, 1);
	} else if (p->head_sent) {
		p->abort_down = 1;
	}
	timer_set(p, TIMER_NONE, 0);
	down_want_write(p);
}

static int on_body(struct proxy *p, const unsigned char *in, size_t len)
{
	if (p->req_done || p->err_status)
		return 0; /* past the end of the body we forward: ignore */
	if (p->req_framing == WL_HTTP1_CHUNKED) {
		long n = wl_http1_chunked_feed(&p->req_dec, (const char *)in,
					       len, sink_to_up, p);

		if (n < 0) {
			fail_http(p, 400,
				  "bad request: malformed chunked body");
			return 0;
		}
		if (wl_http1_chunked_done(&p->req_dec)) {
			p->req_done = 1;
			if (wl_buf_puts(&p->to_up, "0\r\n\r\n") < 0)
				return -1;
		}
	} else if (p->req_framing == WL_HTTP1_LENGTH) {
		if (sink_to_up(p, (const char *)in, len) < 0) {
			fail_http(p, 502, "bad gateway: request body too fast");
			return 0;
		}
	}
	if (p->to_up.len > BUF_HIGH && !p->down_paused && p->down) {
		lws_rx_flow_control(p->down, 0);
		p->down_paused = 1;
	}
	up_want_write(p);
	return 0;
}

static int up_writeable(struct proxy *p)
{
	size_t n = p->to_up.len;

	if (n > WRITE_MAX)
		n = WRITE_MAX;
	if (n) {
		memcpy(scratch + LWS_PRE, p->to_up.ptr, n);
		if (lws_write(p->up, scratch + LWS_PRE, n, LWS_WRITE_RAW) <
		    (int)n)
			return -1;
		wl_buf_consume(&p->to_up, n);
		if (!p->head_done)
			timer_set(p, TIMER_HEAD, HEAD_TIMEOUT_US);
	}
	if (p->down_paused && p->to_up.len < BUF_LOW && p->down) {
		lws_rx_flow_control(p->down, 1);
		p->down_paused = 0;
	}
	if (p->to_up.len)
		lws_callback_on_writable(p->up);
	return 0;
}

/* ---- HTTP: app -> client
 * ------------------------------------------------------ */

static int sink_to_down(void *ctx, const char *data, size_t n)
{
	struct proxy *p = ctx;

	if (!n)
		return 0;
	if (p->down_chunked && wl_buf_printf(&p->to_down, "%zx\r\n", n) < 0)
		return -1;
	if (wl_buf_add(&p->to_down, data, n) < 0)
		return -1;
	if (p->down_chunked && wl_buf_puts(&p->to_down, "\r\n") < 0)
		return -1;
	atomic_fetch_add(&wl_metrics.proxy_bytes_out, n);
	return 0;
}

static void resp_complete(struct proxy *p)
{
	if (p->resp_done)
		return;
	p->resp_done = 1;
	if (p->down_chunked)
		wl_buf_puts(&p->to_down, "0\r\n\r\n");
	timer_set(p, TIMER_NONE, 0);
	up_release(p);
	down_want_write(p);
}

/*
 * Parse the status line and the framing of the response head in p->head
 * (exactly one head). Returns 0, or -1 if the app's answer is malformed.
 */
static int parse_response_head(struct proxy *p)
{
	struct wl_http1_response rs;

	if (wl_http1_parse_response(&rs, p->head.ptr, p->head.len,
				    p->is_head_request) < 0)
		return -1;
	p->status = rs.status;
	p->resp_framing = rs.framing;
	p->resp_remain = p->resp_length = rs.length;
	p->resp_reusable = rs.reusable;
	/* h1 gets chunk framing from us; h2 frames the stream itself. */
	p->down_chunked = (p->resp_framing == WL_HTTP1_CHUNKED ||
			   p->resp_framing == WL_HTTP1_CLOSE) &&
			  lws_get_network_wsi(p->down) == p->down;
	return 0;
}

/* Feed response body bytes; stops quietly once the body is complete. */
static int body_feed(struct proxy *p, const unsigned char *in, size_t len)
{
	switch (p->resp_framing) {
	case WL_HTTP1_NONE:
		if (len)
			p->resp_surplus = 1;
		resp_complete(p);
		return 0;
	case WL_HTTP1_LENGTH: {
		size_t n = len;

		if (n > p->resp_remain)
			n = (size_t)p->resp_remain;
		if (sink_to_down(p, (const char *)in, n) < 0)
			return -1;
		p->resp_remain -= n;
		if (n < len)
			p->resp_surplus = 1;
		if (!p->resp_remain)
			resp_complete(p);
		return 0;
	}
	case WL_HTTP1_CHUNKED: {
		long n = wl_http1_chunked_feed(&p->resp_dec, (const char *)in,
					       len, sink_to_down, p);

		if (n < 0)
			return -1;
		if ((size_t)n < len)
			p->resp_surplus = 1;
		if (wl_http1_chunked_done(&p->resp_dec))
			resp_complete(p);
		return 0;
	}
	case WL_HTTP1_CLOSE:
		return sink_to_down(p, (const char *)in, len);
	}
	return 0;
}

static int up_rx(struct proxy *p, const unsigned char *in, size_t len)
{
	size_t end;

	if (p->head_done) {
		if (p->resp_done)
			return 0;
		if (body_feed(p, in, len) < 0) {
			fail_http(p, 502,
				  "bad gateway: malformed response "
				  "body from the app");
			return 0;
		}
		goto flow;
	}

	if (wl_buf_add(&p->head, in, len) < 0) {
		fail_http(p, 502, "bad gateway: response head too large");
		return 0;
	}
	for (;;) {
		end = wl_http1_head_end(p->head.ptr, p->head.len);
		if (!end) {
			if (p->head.len > HEAD_MAX)
				fail_http(p, 502,
					  "bad gateway: response head "
					  "too large");
			return 0;
		}
		if (end > HEAD_MAX) {
			fail_http(p, 502,
				  "bad gateway: response head too large");
			return 0;
		}
		{
			/* Parse just this head. */
			size_t total = p->head.len;
			char saved = p->head.ptr[end];

			p->head.len = end;
			p->head.ptr[end] = '\0';
			if (parse_response_head(p) < 0) {
				p->head.len = total;
				fail_http(p, 502,
					  "bad gateway: malformed "
					  "response from the app");
				return 0;
			}
			p->head.ptr[end] = saved;
			p->head.len = total;
		}
		if (p->status == 101) {
			fail_http(p, 502,
				  "bad gateway: unexpected protocol "
				  "switch from the app");
			return 0;
		}
		if (p->status >= 200)
			break;
		wl_buf_consume(&p->head, end); /* 1xx: skip it */
	}

	p->head_done = 1;
	timer_set(p, TIMER_IDLE, IDLE_TIMEOUT_US);
	if (p->head.len > end) {
		if (body_feed(p, (const unsigned char *)p->head.ptr + end,
			      p->head.len - end) < 0) {
			fail_http(p, 502,
				  "bad gateway: malformed response "
				  "body from the app");
			return 0;
		}
	} else if (p->resp_framing == WL_HTTP1_NONE) {
		resp_complete(p);
	}
	p->head.len = end;
	p->head.ptr[end] = '\0';
	down_want_write(p);
flow:
	if (!p->resp_done)
		timer_set(p, TIMER_IDLE, IDLE_TIMEOUT_US);
	if (p->to_down.len > BUF_HIGH && !p->up_paused && p->up) {
		lws_rx_flow_control(p->up, 0);
		p->up_paused = 1;
	}
	if (p->to_down.len)
		down_want_write(p);
	return 0;
}

static int write_head(struct proxy *p)
{
	size_t cap = LWS_PRE + p->head.len + 1024;
	struct wl_http1_response rs;
	struct wl_http1_field f;
	struct wl_http1_iter it;
	struct wl_buf tmp;
	unsigned char *buf = NULL, *start, *pos, *end;
	const char *conn = NULL;
	size_t conn_len = 0;
	int ret = -1, has_caching = 0;

	wl_buf_init(&tmp, HEAD_MAX + 4096);
	buf = malloc(cap);
	if (!buf || wl_http1_parse_response(&rs, p->head.ptr, p->head.len,
					    p->is_head_request) < 0)
		goto done;
	start = pos = buf + LWS_PRE;
	end = buf + cap - 1;

	if (lws_add_http_header_status(p->down, (unsigned int)p->status, &pos,
				       end))
		goto done;

	/* Connection names more hop-by-hop headers: find it first. */
	it = rs.iter;
	while (wl_http1_next(&it, &f) > 0)
		if (wl_http1_is(&f, "connection")) {
			conn = f.value;
			conn_len = f.vlen;
		}

	it = rs.iter;
	while (wl_http1_next(&it, &f) > 0) {
		char lname[256];

		if (f.nlen >= sizeof(lname) - 1 ||
		    wl_http1_response_drops(&f, conn, conn_len))
			continue;
		has_caching |= wl_http1_is(&f, "cache-control") ||
			       wl_http1_is(&f, "expires");
		for (size_t i = 0; i < f.nlen; i++)
			lname[i] = (char)tolower((unsigned char)f.name[i]);
		lname[f.nlen] = ':';
		lname[f.nlen + 1] = '\0';
		wl_buf_reset(&tmp);
		if (wl_http1_is(&f, "location")) {
			if (wl_http1_rewrite_location(p->prefix, p->port,
						      f.value, f.vlen,
						      &tmp) < 0)
				goto done;
		} else if (wl_buf_add(&tmp, f.value, f.vlen) < 0) {
			goto done;
		}
		if (lws_add_http_header_by_name(
			    p->down, (const unsigned char *)lname,
			    (const unsigned char *)wl_buf_cstr(&tmp),
			    (int)tmp.len, &pos, end))
			goto done;
	}

	if (p->resp_framing == WL_HTTP1_LENGTH) {
		if (lws_add_http_header_content_length(p->down, p->resp_length,
						       &pos, end))
			goto done;
	} else if (p->resp_framing == WL_HTTP1_NONE) {
		/* HEAD and 304 keep the app's Content-Length as information. */
		char v[24];

		snprintf(v, sizeof(v), "%llu", (unsigned long long)rs.length);
		if (rs.has_length && p->status != 204 &&
		    lws_add_http_header_by_name(
			    p->down, (const unsigned char *)"content-length:",
			    (const unsigned char *)v, (int)strlen(v), &pos,
			    end))
			goto done;
	} else if (p->down_chunked) {
		if (lws_add_http_header_by_token(
			    p->down, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
			    (const unsigned char *)"chunked", 7, &pos, end))
			goto done;
	}
	/* As front.c: no heuristic caching of a changing prototype. */
	if (!has_caching &&
	    lws_add_http_header_by_name(
		    p->down, (const unsigned char *)"cache-control:",
		    (const unsigned char *)"no-cache", 8, &pos, end))
		goto done;
	if (p->close_after &&
	    lws_add_http_header_by_token(p->down, WSI_TOKEN_CONNECTION,
					 (const unsigned char *)"close", 5,
					 &pos, end))
		goto done;
	if (lws_finalize_write_http_header(p->down, start, &pos, end))
		goto done;
	ret = 0;
done:
	free(buf);
	wl_buf_release(&tmp);
	return ret;
}

/* The response is complete on the client side: hand the connection back. */
static int finish_http(struct proxy *p)
{
	struct lws *down = p->down;
	int close_after = p->close_after;

	up_kill(p);
	down_detach(p);
	proxy_free(p);
	if (close_after)
		return -1;
	return lws_http_transaction_completed(down) ? -1 : 0;
}

static int write_error(struct proxy *p)
{
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *pos = start,
					  *end = hdr + sizeof(hdr) - 1;
	char body[256];
	int n = snprintf(body, sizeof(body), "%d %s\n", p->err_status,
			 p->err_text);

	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	p->close_after = 1; /* the request body may be half read */
	if (lws_add_http_common_headers(p->down, (unsigned int)p->err_status,
					"text/plain; charset=utf-8",
					(lws_filepos_t)n, &pos, end) ||
	    lws_add_http_header_by_token(p->down, WSI_TOKEN_CONNECTION,
					 (const unsigned char *)"close", 5,
					 &pos, end) ||
	    lws_finalize_write_http_header(p->down, start, &pos, end))
		return -1;
	memcpy(scratch + LWS_PRE, body, (size_t)n);
	if (lws_write(p->down, scratch + LWS_PRE, (size_t)n,
		      LWS_WRITE_HTTP_FINAL) < n)
		return -1;
	return finish_http(p);
}

static int down_writeable(struct proxy *p)
{
	size_t n;
	int last;

	if (p->abort_down)
		return -1;
	if (!p->head_sent) {
		if (p->err_status)
			return write_error(p);
		if (!p->head_done)
			return 0;
		if (write_head(p) < 0)
			return -1;
		p->head_sent = 1;
		if (p->resp_framing == WL_HTTP1_NONE)
			return finish_http(p);
		if (p->to_down.len || p->resp_done)
			lws_callback_on_writable(p->down);
		return 0;
	}
	n = p->to_down.len;
	if (n > WRITE_MAX)
		n = WRITE_MAX;
	last = p->resp_done && n == p->to_down.len;
	if (!n && !last)
		return 0;
	if (n)
		memcpy(scratch + LWS_PRE, p->to_down.ptr, n);
	if (lws_write(p->down, scratch + LWS_PRE, n,
		      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
		return -1;
	wl_buf_consume(&p->to_down, n);
	if (last)
		return finish_http(p);
	timer_set(p, TIMER_IDLE, IDLE_TIMEOUT_US);
	if (p->up_paused && p->to_down.len < BUF_LOW && p->up) {
		lws_rx_flow_control(p->up, 1);
		p->up_paused = 0;
	}
	if (p->to_down.len)
		lws_callback_on_writable(p->down);
	return 0;
}

static int connect_up(struct proxy *p, const char *path);

/*
 * A reused connection failed before any response byte: send the request
 * again on a fresh one. Returns 0 if a new connection is under way.
 */
static int retry_fresh(struct proxy *p)
{
	if (!p->reused || !p->idempotent || !p->retry.len || p->head.len ||
	    p->head_done || p->err_status)
		return -1;
	p->reused = 0;
	p->up_connected = 0;
	wl_buf_reset(&p->to_up);
	if (wl_buf_add(&p->to_up, p->retry.ptr, p->retry.len) < 0)
		return -1;
	wl_buf_release(&p->retry);
	return connect_up(p, NULL);
}

/* The app's connection is gone (closed, failed, or timed out). */
static void up_gone_http(struct proxy *p, int connect_failed)
{
	p->up = NULL;
	p->uc = NULL;
	if (!p->down)
		return;
	if (p->resp_done)
		return;
	if (!connect_failed && retry_fresh(p) == 0)
		return;
	if (p->err_status)
		return; /* the retry failed and said so */
	if (!p->head_done) {
		if (connect_failed)
			fail_http(p, 502, "bad gateway: app not reachable");
		else
			fail_http(p, 502,
				  "bad gateway: the app closed the "
				  "connection without answering");
		return;
	}
	if (p->resp_framing == WL_HTTP1_CLOSE) {
		resp_complete(p);
		return;
	}
	/* Truncated body: the client must see a broken response. */
	p->abort_down = 1;
	down_want_write(p);
}

/* ---- request head -------------------------------------------------------- */

static int copy_token(struct lws *wsi, enum lws_token_indexes t,
		      struct wl_buf *out)
{
	int n = lws_hdr_total_length(wsi, t);
	char *tmp;

	wl_buf_reset(out);
	if (n <= 0)
		return 0;
	tmp = malloc((size_t)n + 1);
	if (!tmp)
		return -1;
	if (lws_hdr_copy(wsi, tmp, n + 1, t) < 0) {
		free(tmp);
		return -1;
	}
	n = wl_buf_puts(out, tmp);
	free(tmp);
	return n < 0 ? -1 : 1;
}

/* Append "Name: value\r\n" lines every proxied request carries. */
static int add_forwarded(struct lws *wsi, struct proxy *p, struct wl_buf *h,
			 struct wl_buf *tmp)
{
	char peer[128];

	peer[0] = '\0';
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	/* An IPv4 client on a dual-stack listener: say it as IPv4. */
	if (peer[0] &&
	    wl_buf_printf(h, "X-Forwarded-For: %s\r\n",
			  strncmp(peer, "::ffff:", 7) ? peer : peer + 7) < 0)
		return -1;
	if (wl_buf_printf(h, "X-Forwarded-Proto: %s\r\n", p->proto) < 0)
		return -1;
	if (copy_token(wsi, WSI_TOKEN_HOST, tmp) < 0)
		return -1;
	if (tmp->len &&
	    wl_buf_printf(h, "X-Forwarded-Host: %s\r\n", wl_buf_cstr(tmp)) < 0)
		return -1;
	if (p->prefix[0] &&
	    wl_buf_printf(h, "X-Forwarded-Prefix: %s\r\n", p->prefix) < 0)
		return -1;
	if (copy_token(wsi, WSI_TOKEN_HTTP_COOKIE, tmp) < 0)
		return -1;
	if (tmp->len) {
		struct wl_buf c;
		int r;

		wl_buf_init(&c, HEAD_MAX);
		r = wl_http1_filter_cookie(tmp->ptr, tmp->len, &c);
		if (!r && c.len)
			r = wl_buf_printf(h, "Cookie: %s\r\n", wl_buf_cstr(&c));
		wl_buf_release(&c);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int add_header_line(struct wl_buf *h, const char *name_colon,
			   const char *value)
{
	size_t n = strlen(name_colon) - 1;

	if (strpbrk(value, "\r\n"))
		return 0;
	if (wl_buf_add(h, name_colon, n) < 0 || wl_buf_puts(h, ": ") < 0 ||
	    wl_buf_puts(h, value) < 0 || wl_buf_puts(h, "\r\n") < 0)
		return -1;
	return 0;
}

/* Forward the client's end-to-end headers; skip is_ws handshake ones. */
static int add_client_headers(struct lws *wsi, struct wl_buf *h,
			      struct wl_buf *tmp, int is_ws)
{
	for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
		const char *name = (const char *)lws_token_to_string(
			(enum lws_token_indexes)t);
		size_t n;
		int r;

		if (!name || !*name || name[0] == ':')
			continue;
		n = strlen(name);
		if (name[n - 1] != ':')
			continue; /* the method and version pseudo tokens */
		if (!strncmp(name, "sec-websocket-", 14) ||
		    wl_http1_request_drops(name, n - 1))
			continue;
		if (is_ws &&
		    (!strcmp(name, "origin:") || !strcmp(name, "pragma:") ||
		     !strcmp(name, "cache-control:")))
			continue; /* the upstream client sends its own */
		r = copy_token(wsi, (enum lws_token_indexes)t, tmp);
		if (r < 0)
			return -1;
		if (r > 0 && add_header_line(h, name, wl_buf_cstr(tmp)) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(custom_headers) / sizeof(*custom_headers);
	     i++) {
		const char *name = custom_headers[i];
		int nlen = (int)strlen(name), n;
		char *v;

		n = lws_hdr_custom_length(wsi, name, nlen);
		if (n < 0)
			continue;
		v = malloc((size_t)n + 1);
		if (!v)
			return -1;
		if (lws_hdr_custom_copy(wsi, v, n + 1, name, nlen) < 0) {
			free(v);
			continue;
		}
		n = add_header_line(h, name, v);
		free(v);
		if (n < 0)
			return -1;
	}
	return 0;
}

/*
 * Build the request head for the app into p->to_up. Returns 0, or an HTTP
 * status (400, 405, 501) with *why set when the request must be refused.
 */
static int build_request(struct lws *wsi, struct proxy *p, const char *path,
			 const char **why)
{
	struct wl_buf tmp;
	const char *method = NULL;
	int has_cl, has_te, ret = 500;
	uint64_t cl = 0;

	*why = "internal error";
	wl_buf_init(&tmp, HEAD_MAX);
	if (!(method = wl_http_method(wsi))) {
		*why = "method not supported by the proxy";
		ret = 405;
		goto done;
	}
	p->is_head_request = !strcmp(method, "HEAD");
	p->idempotent = !strcmp(method, "GET") || !strcmp(method, "HEAD") ||
			!strcmp(method, "OPTIONS") || !strcmp(method, "DELETE");

	has_cl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
	has_te =
		lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
	if (has_cl && has_te) {
		*why = "bad request: both Content-Length and Transfer-Encoding";
		ret = 400;
		goto done;
	}
	if (has_te) {
		if (copy_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, &tmp) < 0)
			goto done;
		if (strcasecmp(wl_buf_cstr(&tmp), "chunked")) {
			*why = "transfer coding not supported";
			ret = 501;
			goto done;
		}
		/* lws reads a body only for these; others would desync. */
		if (strcmp(method, "POST") && strcmp(method, "PUT") &&
		    strcmp(method, "PATCH")) {
			*why = "bad request: chunked body on a method without "
			       "one";
			ret = 400;
			goto done;
		}
		p->req_framing = WL_HTTP1_CHUNKED;
		p->close_after = 1;
	} else if (has_cl) {
		if (copy_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, &tmp) < 0)
			goto done;
		if (wl_http1_parse_u64(tmp.ptr, tmp.len, &cl) < 0) {
			*why = "bad request: invalid Content-Length";
			ret = 400;
			goto done;
		}
		p->req_framing = cl ? WL_HTTP1_LENGTH : WL_HTTP1_NONE;
	} else if (!strcmp(method, "POST") || !strcmp(method, "PUT") ||
		   !strcmp(method, "PATCH")) {
		/* lws expects a body until the connection closes. */
		p->close_after = 1;
	}
	if (p->req_framing == WL_HTTP1_NONE)
		p->req_done = 1;
	else
		p->idempotent = 0; /* the body is not kept for a retry */

	if (wl_buf_printf(&p->to_up, "%s ", method) < 0 ||
	    wl_http1_add_target(&p->to_up, path) < 0 ||
	    wl_buf_printf(&p->to_up, " HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n",
			  p->port) < 0 ||
	    add_client_headers(wsi, &p->to_up, &tmp, 0) < 0 ||
	    add_forwarded(wsi, p, &p->to_up, &tmp) < 0)
		goto done;
	if (p->req_framing == WL_HTTP1_LENGTH &&
	    wl_buf_printf(&p->to_up, "Content-Length: %" PRIu64 "\r\n", cl) < 0)
		goto done;
	if (p->req_framing == WL_HTTP1_CHUNKED &&
	    wl_buf_puts(&p->to_up, "Transfer-Encoding: chunked\r\n") < 0)
		goto done;
	if (p->req_framing == WL_HTTP1_NONE && !strcmp(method, "POST") &&
	    wl_buf_puts(&p->to_up, "Content-Length: 0\r\n") < 0)
		goto done;
	/* HTTP/1.1 is persistent by default: no Connection header. */
	if (wl_buf_puts(&p->to_up, "\r\n") < 0)
		goto done;
	ret = 0;
done:
	if (ret == 500 && p->to_up.len >= HEAD_MAX) {
		*why = "request head too large";
		ret = 431;
	}
	wl_buf_release(&tmp);
	return ret;
}

/* ---- upstream connections
 * ------------------------------------------------------ */

static int connect_up(struct proxy *p, const char *path)
{
	struct lws_client_connect_info i;
	char host[32];
	struct wl_buf target;
	struct lws *wsi;
	struct upconn *uc = calloc(1, sizeof(*uc));

	if (!uc)
		return -1;
	uc->p = p;
	uc->cx = p->cx;
	uc->port = p->port;
	p->uc = uc;

	memset(&i, 0, sizeof(i));
	snprintf(host, sizeof(host), "127.0.0.1:%d", p->port);
	wl_buf_init(&target, HEAD_MAX);
	i.context = p->cx;
	i.vhost = lws_get_vhost(p->down);
	i.address = "127.0.0.1";
	i.port = p->port;
	i.host = host;
	i.local_protocol_name = UPSTREAM_PROTOCOL;
	i.opaque_user_data = uc;
	if (p->is_ws) {
		if (wl_http1_add_target(&target, path) < 0)
			goto fail;
		i.path = wl_buf_cstr(&target);
		i.origin = p->ws_origin;
		i.protocol = p->ws_protocol;
	} else {
		i.path = "";
		i.method = "RAW";
	}
	timer_set(p, TIMER_CONNECT, CONNECT_TIMEOUT_US);
	wsi = lws_client_connect_via_info(&i);
	wl_buf_release(&target);
	if (p->uc != uc)
		return -1; /* failed and reported through the callback */
	if (!wsi)
		goto fail;
	uc->wsi = wsi;
	p->up = wsi;
	return 0;
fail:
	wl_buf_release(&target);
	p->uc = NULL;
	p->up = NULL;
	free(uc);
	return -1;
}

/* ---- WebSocket
 * ---------------------------------------------------------------- */

static void ws_close_down(struct proxy *p, int code, const void *reason,
			  size_t len)
{
	if (p->close_down)
		return;
	p->close_down = 1;
	p->close_down_code = code;
	if (len > sizeof(p->close_down_reason))
		len = sizeof(p->close_down_reason);
	if (len)
		memcpy(p->close_down_reason, reason, len);
	p->close_down_reason_len = len;
	down_want_write(p);
}

static void ws_up_gone(struct proxy *p, int connect_failed)
{
	if (p->uc) {
		p->uc->p = NULL;
		p->uc = NULL;
	}
	p->up = NULL;
	timer_set(p, TIMER_NONE, 0);
	if (!p->down)
		return;
	if (connect_failed) {
		atomic_fetch_add(&wl_metrics.proxy_errors, 1);
		ws_close_down(p, WS_CLOSE_BAD_GATEWAY, "app not reachable", 17);
	} else if (p->up_close_code) {
		ws_close_down(p, p->up_close_code, p->up_close_reason,
			      p->up_close_reason_len);
	} else {
		ws_close_down(p, LWS_CLOSE_STATUS_GOINGAWAY, "app went away",
			      13);
	}
}

/* A message piece arrived from src; queue it for the other side. */
static int ws_rx(struct lws *src, struct frag_queue *q, const void *in,
		 size_t len, int *paused)
{
	if (queue_push(q, in, len, lws_frame_is_binary(src),
		       lws_is_first_fragment(src),
		       lws_is_final_fragment(src)) < 0)
		return -1;
	if (q->bytes > WS_QUEUE_HIGH && !*paused) {
		lws_rx_flow_control(src, 0);
		*paused = 1;
	}
	return 0;
}

/*
 * Write one queued piece to dst. Returns -1 to close dst (after a close
 * frame when one is pending), else 0.
 */
static int ws_write(struct proxy *p, struct lws *dst, struct frag_queue *q,
		    struct lws *src, int *paused, int close, int code,
		    unsigned char *reason, size_t rlen)
{
	struct frag *f = q->head;

	if (f) {
		int flags = lws_write_ws_flags(f->binary ? LWS_WRITE_BINARY
							 : LWS_WRITE_TEXT,
					       f->first, f->final);

		if (lws_write(dst, f->data + LWS_PRE, f->len,
			      (enum lws_write_protocol)flags) < (int)f->len)
			return -1;
		q->head = f->next;
		if (!q->head)
			q->tail = NULL;
		q->bytes -= f->len;
		if (dst == p->down)
			atomic_fetch_add(&wl_metrics.proxy_bytes_out, f->len);
		else
			atomic_fetch_add(&wl_metrics.proxy_bytes_in, f->len);
		free(f);
		if (*paused && q->bytes < WS_QUEUE_LOW && src) {
			lws_rx_flow_control(src, 1);
			*paused = 0;
		}
		if (q->head || close)
			lws_callback_on_writable(dst);
		return 0;
	}
	if (close) {
		lws_close_reason(dst, (enum lws_close_status)code, reason,
				 rlen);
		return -1;
	}
	return 0;
}

/*
 * The subprotocols the browser offered, for the app: without our
 * "bearer.<token>" (a credential). *out stays NULL when none remain.
 */
static int app_protocols(const struct wl_buf *offered, char **out)
{
	const char *pos = wl_buf_cstr(offered), *end = pos + offered->len, *s;
	struct wl_buf kept;
	size_t n;
	int error = 0;

	wl_buf_init(&kept, HEAD_MAX);
	while (!error && wl_http1_list_next(&pos, end, &s, &n))
		if (!(n >= 7 && !strncmp(s, "bearer.", 7)))
			error = (kept.len && wl_buf_puts(&kept, ", ") < 0) ||
				wl_buf_add(&kept, s, n) < 0;
	if (!error && kept.len && !(*out = strdup(wl_buf_cstr(&kept))))
		error = 1;
	wl_buf_release(&kept);
	return error ? -1 : 0;
}

/* ---- begin
 * ---------------------------------------------------------------------- */

int wl_proxy_begin(struct lws *wsi, struct wl_session *s,
		   const struct wl_proxy_target *t, const char *path, int is_ws)
{
	struct proxy *p = NULL;
	struct wl_buf tmp;
	const char *why = NULL;
	int status, error = WL_ERROR;

	wl_buf_init(&tmp, HEAD_MAX);
	if (t->port <= 0 || t->port > 65535) {
		wl_error_set("cannot proxy to worklet '%s': invalid port %d",
			     t->worklet_id, t->port);
		error = WL_EINVALID;
		goto fail;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto oom;
	p->down = wsi;
	p->s = s;
	p->cx = lws_get_context(wsi);
	p->is_ws = is_ws;
	p->port = t->port;
	wl_buf_init(&p->to_up, BUF_MAX);
	wl_buf_init(&p->to_down, BUF_MAX);
	wl_buf_init(&p->head, HEAD_MAX + 128 * 1024);
	wl_buf_init(&p->ws_hdrs, HEAD_MAX);
	wl_buf_init(&p->retry, HEAD_MAX);
	p->prefix = strdup(t->prefix ? t->prefix : "");
	snprintf(p->proto, sizeof(p->proto), "%s",
		 t->proto[0] ? t->proto : "http");
	if (!p->prefix)
		goto oom;

	if (is_ws) {
		if (copy_token(wsi, WSI_TOKEN_PROTOCOL, &tmp) < 0 ||
		    app_protocols(&tmp, &p->ws_protocol) < 0)
			goto oom;
		if (copy_token(wsi, WSI_TOKEN_ORIGIN, &tmp) < 0)
			goto oom;
		if (tmp.len && !(p->ws_origin = strdup(wl_buf_cstr(&tmp))))
			goto oom;
		if (add_client_headers(wsi, &p->ws_hdrs, &tmp, 1) < 0 ||
		    add_forwarded(wsi, p, &p->ws_hdrs, &tmp) < 0)
			goto oom;
		atomic_fetch_add(&wl_metrics.proxy_ws_sessions, 1);
	} else {
		status = build_request(wsi, p, path, &why);
		if (status) {
			/* Refuse it ourselves; the app never sees it. */
			p->err_status = status;
			p->err_text = why;
			p->req_done = 1;
		}
	}

	s->kind = WL_SESSION_PROXY;
	s->impl = p;
	wl_buf_release(&tmp);
	if (p->err_status) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (!is_ws && (p->uc = pool_take(p))) {
		p->up = p->uc->wsi;
		p->up_connected = 1;
		p->reused = 1;
		if (p->idempotent &&
		    wl_buf_add(&p->retry, p->to_up.ptr, p->to_up.len) < 0)
			wl_buf_release(&p->retry); /* then no retry */
		timer_set(p, TIMER_HEAD, HEAD_TIMEOUT_US);
		lws_callback_on_writable(p->up);
		return 0;
	}
	if (connect_up(p, path) < 0 && !p->err_status && !p->close_down) {
		if (is_ws)
			ws_up_gone(p, 1);
		else
			up_gone_http(p, 1);
	}
	return 0;

oom:
	wl_error_set("cannot proxy to worklet '%s': out of memory",
		     t->worklet_id);
	error = WL_ERROR;
fail:
	wl_buf_release(&tmp);
	proxy_free(p);
	return error;
}

/* ---- callbacks
 * ------------------------------------------------------------------- */

static void timer_cb(lws_sorted_usec_list_t *sul)
{
	struct proxy *p = lws_container_of(sul, struct proxy, sul);
	enum timer_kind kind = p->timer;

	p->timer = TIMER_NONE;
	if (p->is_ws) {
		up_kill(p);
		ws_up_gone(p, 1);
		maybe_free(p);
		return;
	}
	switch (kind) {
	case TIMER_CONNECT:
		fail_http(p, 502, "bad gateway: app not reachable");
		break;
	case TIMER_HEAD:
		fail_http(p, 504, "gateway timeout: the app did not answer");
		break;
	case TIMER_IDLE:
		up_kill(p);
		p->abort_down = 1;
		down_want_write(p);
		break;
	case TIMER_NONE:
		break;
	}
	maybe_free(p);
}

int wl_proxy_callback(struct lws *wsi, enum lws_callback_reasons reason,
		      struct wl_session *s, void *in, size_t len)
{
	struct proxy *p = s ? s->impl : NULL;

	if (!p)
		return lws_callback_http_dummy(wsi, reason, s, in, len);

	switch (reason) {
	case LWS_CALLBACK_HTTP_BODY:
		return on_body(p, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (p->req_framing == WL_HTTP1_LENGTH)
			p->req_done = 1;
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return down_writeable(p);

	case LWS_CALLBACK_RECEIVE:
		if (ws_rx(wsi, &p->q_up, in, len, &p->down_paused) < 0)
			return -1;
		up_want_write(p);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return ws_write(p, wsi, &p->q_down, p->up, &p->up_rx_paused,
				p->close_down, p->close_down_code,
				p->close_down_reason, p->close_down_reason_len);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* The browser closes: tell the app with the same code. */
		if (!p->close_up) {
			const unsigned char *c = in;

			p->close_up = 1;
			p->close_up_code = len >= 2 ? (c[0] << 8) | c[1]
						    : LWS_CLOSE_STATUS_NORMAL;
			if (len > 2) {
				p->close_up_reason_len =
					len - 2 > sizeof(p->close_up_reason)
						? sizeof(p->close_up_reason)
						: len - 2;
				memcpy(p->close_up_reason, c + 2,
				       p->close_up_reason_len);
			}
			up_want_write(p);
		}
		return 0;

	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_CLOSED:
		down_detach(p);
		if (p->is_ws && p->up && p->up_connected) {
			/* Let the app hear the close code, then drop it. */
			if (!p->close_up) {
				p->close_up = 1;
				p->close_up_code = LWS_CLOSE_STATUS_GOINGAWAY;
			}
			lws_callback_on_writable(p->up);
			lws_set_timeout(p->up, PENDING_TIMEOUT_CLOSE_SEND, 5);
		} else {
			up_kill(p);
		}
		maybe_free(p);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, s, in, len);
}

static int callback_upstream(struct lws *wsi, enum lws_callback_reasons reason,
			     void *user, void *in, size_t len)
{
	struct upconn *uc = lws_get_opaque_user_data(wsi);
	struct proxy *p = uc ? uc->p : NULL;

	(void)user;
	if (!p) {
		switch (reason) {
		case LWS_CALLBACK_RAW_WRITEABLE:
			if (uc && uc->pooled)
				return 0; /* asked for by the last owner */
			return -1;
		case LWS_CALLBACK_RAW_RX:
		case LWS_CALLBACK_CLIENT_RECEIVE:
		case LWS_CALLBACK_CLIENT_WRITEABLE:
			/* orphaned, or an idle connection talking: drop it */
			return -1;
		case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		case LWS_CALLBACK_RAW_CLOSE:
		case LWS_CALLBACK_CLIENT_CLOSED:
			if (uc)
				upconn_closed(wsi, uc);
			return 0;
		default:
			return 0;
		}
	}

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		upconn_closed(wsi, uc);
		if (p->is_ws)
			ws_up_gone(p, 1);
		else
			up_gone_http(p, 1);
		maybe_free(p);
		return 0;

	/* HTTP over a raw socket */
	case LWS_CALLBACK_RAW_CONNECTED:
		uc->wsi = wsi;
		p->up = wsi;
		p->up_connected = 1;
		timer_set(p, TIMER_HEAD, HEAD_TIMEOUT_US);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return up_writeable(p);
	case LWS_CALLBACK_RAW_RX:
		return up_rx(p, in, len);
	case LWS_CALLBACK_RAW_CLOSE:
		upconn_closed(wsi, uc);
		up_gone_http(p, !p->up_connected);
		maybe_free(p);
		return 0;

	/* WebSocket */
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **pos = in;

		if (p->ws_hdrs.len + 1 > len)
			return -1;
		memcpy(*pos, p->ws_hdrs.ptr, p->ws_hdrs.len);
		*pos += p->ws_hdrs.len;
		return 0;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		uc->wsi = wsi;
		p->up = wsi;
		p->up_connected = 1;
		timer_set(p, TIMER_NONE, 0);
		if (p->q_up.head || p->close_up)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (ws_rx(wsi, &p->q_down, in, len, &p->up_rx_paused) < 0)
			return -1;
		down_want_write(p);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return ws_write(p, wsi, &p->q_up, p->down, &p->down_paused,
				p->close_up, p->close_up_code,
				p->close_up_reason, p->close_up_reason_len);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
		const unsigned char *c = in;

		if (len >= 2) {
			p->up_close_code = (c[0] << 8) | c[1];
			p->up_close_reason_len =
				len - 2 > sizeof(p->up_close_reason)
					? sizeof(p->up_close_reason)
					: len - 2;
			memcpy(p->up_close_reason, c + 2,
			       p->up_close_reason_len);
		} else {
			p->up_close_code = LWS_CLOSE_STATUS_NORMAL;
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_CLOSED:
		upconn_closed(wsi, uc);
		ws_up_gone(p, 0);
		maybe_free(p);
		return 0;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols wl_proxy_upstream_protocol = {
	UPSTREAM_PROTOCOL, callback_upstream, 0, WRITE_MAX, 0, NULL, WRITE_MAX,
};
