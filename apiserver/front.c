/*
 * DESIGN
 *
 * Why this exists. libwebsockets 4.1.6 parses request heads itself and
 * gives back only the headers it knows, or custom ones asked for by name:
 * a proxy built on it cannot forward "any header". So the front end reads
 * request heads before lws does. A proxy request (path form
 * WL_ROUTE_WORKLETS<id>/proxy..., or host form <id>.<base domain>) is
 * served here, with the client's header list forwarded as it came; every
 * other request is handed to lws together with the bytes already read
 * (lws_adopt_socket_vhost_readbuf() on the lws thread, see server.c), and
 * lws serves it exactly as if it had accepted the connection itself.
 *
 * Threads. wl_front_start() runs one worker per two CPUs (at least one,
 * at most THREADS_MAX). Each worker has its own epoll set holding the shared
 * listening socket (EPOLLEXCLUSIVE: one worker wakes per new connection),
 * the stop eventfd, and the connections it accepted and opened to apps,
 * which it alone serves for their whole life: clients, upstream
 * connections, the idle upstream pool and the timers are per worker and
 * unlocked. Shared between workers are only the listening socket and the
 * eventfd (read-only after start), the connection count and the metrics
 * (atomics), the auth tables (read-only), the route cache (route.c, its
 * own lock), and the hand-off callback (server.c: a locked queue and
 * lws_cancel_service(); lws itself is only ever called on its thread).
 * Nothing here blocks: sockets are non-blocking, and the only file access
 * is the route cache's (a non-blocking read of its inotify descriptor per
 * request, and one YAML parse when a worklet's files changed).
 *
 * Ownership of a client connection. It starts as ours. After each
 * complete exchange it stays ours, and its next request head is read
 * here too: a proxy request is served here again; anything else hands the
 * connection to lws, which owns it from then on (lws has no way to give a
 * connection back). A proxy request arriving later on a connection lws
 * owns is served by lws's bridge (proxy.c), the one case where only the
 * headers lws knows plus proxy.c's fixed list reach the app. Browsers keep
 * an app's host-routed origin (<id>.localhost) on connections of its own,
 * and curl or scripts calling the path form open theirs, so in practice
 * that case is a browser that used the API or the web UI and then the
 * path form on the same connection.
 *
 * One exchange at a time per connection (HTTP/1.1 has no multiplexing):
 * request head -> route -> upstream (idle pool or connect) -> request
 * body streamed -> response head -> response body streamed -> next head.
 * Pipelined bytes wait in the client's input buffer until the response is
 * out. Data flows through bounded buffers: a side is read only while its
 * input buffer has room, and bytes move on to the other side's output
 * buffer only while that is under OUT_HIGH, so a slow reader stops the
 * writer instead of growing a buffer (back-pressure, both directions).
 *
 * Request heads are read without blocking anyone: a connection that sends
 * its head slowly (or never) only holds its own socket and buffer, and is
 * closed HEAD_TIMEOUT_MS after its first byte (or its accept); heads over
 * WL_HTTP1_HEAD_MAX get a 431. A request for lws also waits here, under the
 * same deadline, until its body (or BODY_HOLD of it) has arrived, and one
 * lws could not take (a head over HANDOFF_HEAD_MAX, a chunked body, %00 in
 * the path) is answered here: lws holds one of its few header tables per
 * request until the body is read, and drops such heads without a word. Framing
 * is checked before anything reaches an app: Content-Length together with
 * Transfer-Encoding, a coding other than chunked, differing Content-Lengths or
 * two Host headers are refused (400/501) and the connection is closed. Chunked
 * bodies are decoded and re-encoded in both directions, so what reaches either
 * side is well formed; responses without a length reach HTTP/1.1 clients
 * chunked, so the client connection stays reusable.
 *
 * WebSocket: the upgrade request goes to the app with its headers (our
 * bearer subprotocol removed); when the app answers 101 the connection
 * becomes a byte tunnel both ways (frames, extensions and close codes are
 * the two ends' business), with TCP keepalive instead of an idle timeout.
 *
 * Upstream keep-alive: a connection to an app goes back to its worker's
 * pool after a response with a known end (http1.c decides), when the
 * whole request was sent and nothing followed the response. Pooled ones
 * are dropped when the app closes them or after POOL_IDLE_MS. A request
 * without a body whose pooled connection fails before any byte of the
 * answer is sent again once on a fresh connection (the app may have closed
 * it just then); others get a 502.
 *
 * Closing: a struct is not freed while the epoll batch that may still
 * name it is being handled; it is marked dead and freed after the batch.
 */
#include "apiserver/front.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "apiserver/http1.h"
#include "apiserver/metrics.h"
#include "apiserver/peer_guard.h"
#include "apiserver/query.h"
#include "apiserver/session.h"
#include "specs/core/error.h"
#include "specs/core/log.h"
#include "specs/core/parse.h"
#include "specs/core/timeutil.h"
#include "specs/core/banned.h"

#define THREADS_MAX 4
#define NOFILE_WANT 65536 /* descriptors: see wl_front_new() */
#define URI_MAX 4096
#define EVENTS_MAX 128
#define DRIVE_STEPS 64 /* per connection and batch */

/* Buffers. Reads stop when an input buffer is full (back-pressure). */
#define IN_MAX (WL_HTTP1_HEAD_MAX + 16 * 1024)
#define OUT_MAX (256 * 1024)
#define OUT_HIGH (64 * 1024) /* stop moving bytes into an output above */
#define READ_MAX (64 * 1024) /* one recv(2) */
#define BUF_START 4096
/* Body bytes an API request must have sent before lws sees it. */
#define BODY_HOLD (16 * 1024)
/* Heads lws can take (server.c: max_http_header_data is 16 KiB). */
#define HANDOFF_HEAD_MAX (15 * 1024)

/* Deadlines. */
#define HEAD_TIMEOUT_MS (20 * 1000)   /* a whole head, from its first byte */
#define IDLE_TIMEOUT_MS (60 * 1000)   /* keep-alive: between requests */
#define CONNECT_TIMEOUT_MS (5 * 1000) /* to an app */
#define ANSWER_TIMEOUT_MS (60 * 1000) /* the app's response head */
#define STREAM_IDLE_MS (300 * 1000)   /* a body without progress */
#define LINGER_MS (30 * 1000)	      /* a tunnel with one end closed */
#define LINGER_CLOSE_MS (2 * 1000)    /* reading on after our FIN */
#define POOL_IDLE_MS (30 * 1000)      /* an idle upstream connection */
#define POOL_MAX_PER_PORT 32	      /* idle ones per app, per worker */
#define TICK_MS 100		      /* timer resolution */
#define ACCEPT_PAUSE_MS 100	      /* out of file descriptors */
/*
 * Connections taken per wake-up. One: while a worker is busy with the one
 * it took, the kernel wakes another for the next, which spreads clients
 * over the workers (a worker that drained the queue would get them all).
 */
#define ACCEPT_BATCH 1

enum kind {
	K_LISTEN = 1,
	K_WAKE,
	K_CLIENT,
	K_UP,
};

/*
 * What every epoll entry starts with. Sockets are edge-triggered and
 * registered once for everything: can_read and can_write say whether the
 * last edge may still have something for us (cleared when a call comes
 * back short or with EAGAIN), so nothing is ever re-registered.
 */
struct ep {
	enum kind kind;
	int fd;
	int can_read, can_write;
	int rdhup; /* the peer sent FIN: read until 0 */
	int dead;
	struct ep *next_dead;
};

/* A bounded byte queue: read at r, written at w. */
struct iobuf {
	char *p;
	size_t r, w, cap, max;
};

enum cstate {
	C_HEAD,	 /* waiting for a request head */
	C_PROXY, /* one exchange: proxied, or an answer of ours */
	C_TUNNEL,
	C_LINGER, /* closing after an answer */
};

enum timer {
	T_NONE = 0,
	T_HEAD,
	T_IDLE,
	T_CONNECT,
	T_ANSWER,
	T_STREAM,
	T_LINGER,
};

struct worker;
struct client;

struct upstream {
	struct ep ep;
	struct worker *w;
	struct client *c;		/* the owner; NULL while pooled */
	struct upstream *pprev, *pnext; /* the pool, while pooled */
	int pooled;
	int port;
	int connected;
	int eof, shut_wr;
	int64_t idle_since;
	struct iobuf in, out;
};

/* The exchange in progress on a client connection. */
struct exchange {
	int port;
	char prefix[sizeof(WL_ROUTE_WORKLETS) + WL_ID_MAX + 16 +
		    WL_AUTH_TICKET_MAX];
	int http10;
	int is_head;
	int idempotent;
	int upgrade;	    /* a WebSocket upgrade request */
	char *bearer_proto; /* our subprotocol, the only one offered */

	enum wl_http1_framing req_framing;
	uint64_t req_remain;
	struct wl_http1_chunked req_dec;
	int req_done;
	int reused;	     /* the upstream came from the pool */
	struct wl_buf retry; /* the request head, while a retry is possible */
	int got_bytes;	     /* any byte of the answer arrived */

	int head_done; /* the response head is queued for the client */
	int resp_done;
	enum wl_http1_framing resp_framing;
	uint64_t resp_remain;
	struct wl_http1_chunked resp_dec;
	int resp_reusable;
	int resp_surplus;
	int down_chunked;
};

struct client {
	struct ep ep;
	struct worker *w;
	struct client *prev, *next; /* the worker's clients */
	enum cstate state;
	struct iobuf in, out;
	enum timer timer;
	int64_t deadline;
	int eof, error, shut_wr;
	int close_after;
	int handed_off;
	int queued; /* on the worker's ready list */
	struct client *next_ready;
	size_t peeked;	   /* bytes of the head seen at the last peek */
	size_t need;	   /* bytes to wait for before the hand-off */
	int64_t peek_ms;   /* when */
	int peek_deferred; /* a slow head: peek again at the next tick */
	char peer[INET6_ADDRSTRLEN];
	struct upstream *up;
	struct exchange x;
};

struct worker {
	struct wl_front *f;
	pthread_t thread;
	int started;
	int epfd;
	struct ep listen; /* the shared listening socket */
	struct ep wake;	  /* the shared stop eventfd */
	int64_t listen_resume;
	int64_t now;
	struct client *clients;
	struct client *ready;  /* to drive again after this batch */
	struct upstream *pool; /* idle, most recently used first */
	struct ep *dead;       /* to free after this batch */
	struct wl_buf head;    /* scratch: a head being built */
	struct wl_buf tmp;     /* scratch: one header value */
};

struct wl_front {
	struct wl_front_options o;
	int listen_fd;
	int wake_fd;
	atomic_int stop;
	atomic_int live; /* client connections we own */
	int max_live;
	int guard; /* not on loopback: refuse worklet containers */
	int nworkers;
	struct worker workers[THREADS_MAX];
};

/* ---- buffers ------------------------------------------------------------ */

static void iob_init(struct iobuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

static void iob_release(struct iobuf *b)
{
	free(b->p);
	iob_init(b, b->max);
}

static size_t iob_len(const struct iobuf *b)
{
	return b->w - b->r;
}

static char *iob_data(const struct iobuf *b)
{
	return b->p + b->r;
}

static size_t iob_room(const struct iobuf *b)
{
	return b->max > iob_len(b) ? b->max - iob_len(b) : 0;
}

/* Room for n more bytes at the end; the caller checked iob_room(). */
static int iob_reserve(struct iobuf *b, size_t n)
{
	size_t len = iob_len(b), cap;
	char *p;

	if (b->w + n <= b->cap)
		return 0;
	if (len && b->r)
		memmove(b->p, b->p + b->r, len);
	b->r = 0;
	b->w = len;
	if (len + n <= b->cap)
		return 0;
	cap = b->cap ? b->cap : BUF_START;
	while (cap < len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int iob_add(struct iobuf *b, const void *data, size_t n)
{
	if (n > iob_room(b) || iob_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->w, data, n);
	b->w += n;
	return 0;
}

static void iob_consume(struct iobuf *b, size_t n)
{
	b->r += n;
	if (b->r >= b->w)
		b->r = b->w = 0;
}

/* Move n bytes from the front of src to dst; all of it into an empty dst
 * by swapping the storage instead of copying. */
static int iob_move(struct iobuf *dst, struct iobuf *src, size_t n)
{
	if (!iob_len(dst) && n == iob_len(src) && n <= dst->max) {
		struct iobuf t = *dst;

		dst->p = src->p;
		dst->r = src->r;
		dst->w = src->w;
		dst->cap = src->cap;
		src->p = t.p;
		src->r = src->w = 0;
		src->cap = t.cap;
		return 0;
	}
	if (iob_add(dst, iob_data(src), n) < 0)
		return -1;
	iob_consume(src, n);
	return 0;
}

/* ---- small helpers ------------------------------------------------------ */

static int watch_fd(struct worker *w, struct ep *e, uint32_t ev)
{
	struct epoll_event ee;

	memset(&ee, 0, sizeof(ee));
	ee.events = ev;
	ee.data.ptr = e;
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, e->fd, &ee);
}

#define SOCKET_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static void set_timer(struct client *c, enum timer t, int64_t ms)
{
	c->timer = t;
	c->deadline = t == T_NONE ? 0 : c->w->now + ms;
}

/* Send what b holds; 0, or -1 when the connection is broken. */
static int flush(struct ep *e, struct iobuf *b, size_t *sent)
{
	size_t len = iob_len(b);
	ssize_t n;

	*sent = 0;
	if (!len || !e->can_write)
		return 0;
	n = send(e->fd, iob_data(b), len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		e->can_write = 0;
		return 0;
	}
	if ((size_t)n < len)
		e->can_write = 0;
	iob_consume(b, (size_t)n);
	*sent = (size_t)n;
	return 0;
}

/*
 * Receive at most max bytes into b (flags: 0 or MSG_PEEK, which leaves
 * them in the socket and b's length unchanged). Returns the count (0 when
 * nothing is there or there is no room), -1 at EOF, -2 on an error.
 */
static ssize_t fill(struct ep *e, struct iobuf *b, size_t max, int flags)
{
	size_t want = iob_room(b);
	ssize_t n;

	if (want > max)
		want = max;
	if (want > READ_MAX && !(flags & MSG_PEEK))
		want = READ_MAX;
	if (!want || !e->can_read)
		return 0;
	if (iob_reserve(b, want) < 0)
		return -2;
	n = recv(e->fd, b->p + b->w, want, MSG_DONTWAIT | flags);
	if (n > 0) {
		/* Short: the socket is drained until the next edge. */
		if ((size_t)n < want && !e->rdhup)
			e->can_read = 0;
		if (!(flags & MSG_PEEK))
			b->w += (size_t)n;
		return n;
	}
	if (n == 0)
		return -1;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		e->can_read = 0;
		return 0;
	}
	return -2;
}

static const char *reason_of(int status)
{
	switch (status) {
	case 302:
		return "Found";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 411:
		return "Length Required";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Error";
	}
}

/* ---- connection lifecycle ---------------------------------------------- */

static void bury(struct worker *w, struct ep *e)
{
	e->dead = 1;
	e->next_dead = w->dead;
	w->dead = e;
}

static void pool_unlink(struct upstream *u)
{
	struct worker *w = u->w;

	if (!u->pooled)
		return;
	if (u->pprev)
		u->pprev->pnext = u->pnext;
	else
		w->pool = u->pnext;
	if (u->pnext)
		u->pnext->pprev = u->pprev;
	u->pprev = u->pnext = NULL;
	u->pooled = 0;
}

static void up_close(struct upstream *u)
{
	if (u->ep.dead)
		return;
	pool_unlink(u);
	if (u->c && u->c->up == u)
		u->c->up = NULL;
	u->c = NULL;
	epoll_ctl(u->w->epfd, EPOLL_CTL_DEL, u->ep.fd, NULL);
	close(u->ep.fd);
	bury(u->w, &u->ep);
}

static void exchange_release(struct exchange *x)
{
	wl_buf_release(&x->retry);
	free(x->bearer_proto);
	memset(x, 0, sizeof(*x));
}

static void client_close(struct client *c)
{
	struct worker *w = c->w;

	if (c->ep.dead)
		return;
	if (c->up)
		up_close(c->up);
	if (c->queued)
		for (struct client **pp = &w->ready; *pp;
		     pp = &(*pp)->next_ready)
			if (*pp == c) {
				*pp = c->next_ready;
				break;
			}
	if (c->prev)
		c->prev->next = c->next;
	else
		w->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->ep.fd, NULL);
	if (!c->handed_off)
		close(c->ep.fd);
	atomic_fetch_sub(&w->f->live, 1);
	bury(w, &c->ep);
}

static void free_dead(struct worker *w)
{
	while (w->dead) {
		struct ep *e = w->dead;

		w->dead = e->next_dead;
		if (e->kind == K_CLIENT) {
			struct client *c = (struct client *)e;

			exchange_release(&c->x);
			iob_release(&c->in);
			iob_release(&c->out);
			free(c);
		} else if (e->kind == K_UP) {
			struct upstream *u = (struct upstream *)e;

			iob_release(&u->in);
			iob_release(&u->out);
			free(u);
		}
	}
}

/*
 * Give the connection to lws. Nothing of its request has been taken off
 * the socket (heads are peeked), so lws reads it as if it had accepted the
 * connection itself.
 */
static void hand_off(struct client *c)
{
	struct wl_front *f = c->w->f;

	epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, c->ep.fd, NULL);
	c->handed_off = 1;
	f->o.handoff(f->o.handoff_arg, c->ep.fd);
	client_close(c);
}

/* ---- answers of our own ------------------------------------------------ */

/*
 * Queue a whole response of ours for the client; the exchange is then
 * complete. close: the connection ends after it (always when the request
 * body has not been read).
 */
/*
 * An answer of our own (not the app's); extra is more header lines, each
 * ending in CRLF ("" for none).
 */
static void answer_with(struct client *c, int status, const char *ctype,
			const char *extra, const char *body, size_t len,
			int close)
{
	struct wl_buf *h = &c->w->head;
	struct exchange *x = &c->x;

	if (close || !x->req_done)
		c->close_after = 1;
	wl_buf_reset(h);
	wl_buf_printf(h,
		      "HTTP/1.1 %d %s\r\ncontent-type: %s\r\n"
		      "content-length: %zu\r\ncache-control: no-store\r\n"
		      "x-content-type-options: nosniff\r\n"
		      "x-frame-options: DENY\r\n"
		      "referrer-policy: no-referrer\r\n"
		      "content-security-policy: default-src 'none'; "
		      "style-src 'unsafe-inline'\r\n%s%s\r\n",
		      status, reason_of(status), ctype, len, extra,
		      c->close_after ? "connection: close\r\n" : "");
	if (iob_add(&c->out, h->ptr, h->len) < 0 ||
	    iob_add(&c->out, body, len) < 0)
		c->error = 1;
	atomic_fetch_add(&wl_metrics.http_requests, 1);
	atomic_fetch_add(&wl_metrics.http_errors, 1);
	if (status >= 500)
		atomic_fetch_add(&wl_metrics.proxy_errors, 1);
	x->head_done = x->resp_done = 1;
	c->state = C_PROXY;
	set_timer(c, T_STREAM, STREAM_IDLE_MS);
}

static void answer(struct client *c, int status, const char *ctype,
		   const char *body, size_t len, int close)
{
	answer_with(c, status, ctype, "", body, len, close);
}

static void answer_text(struct client *c, int status, const char *text,
			int close)
{
	char body[512];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, text);

	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	answer(c, status, "text/plain; charset=utf-8", body, (size_t)n, close);
}

static void answer_json(struct client *c, int status, const char *code,
			const char *message)
{
	cJSON *o = cJSON_CreateObject(), *err = NULL;
	char *text = NULL;
	struct wl_buf *b = &c->w->tmp;

	if (o && (err = cJSON_AddObjectToObject(o, "error")) &&
	    cJSON_AddStringToObject(err, "code", code) &&
	    cJSON_AddStringToObject(err, "message", message))
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	wl_buf_reset(b);
	wl_buf_printf(b, "%s\n", text ? text : "{}");
	free(text);
	answer(c, status, "application/json", b->ptr, b->len, 0);
}

/* The exchange failed: an error answer if the client has none yet. */
static void fail(struct client *c, int status, const char *text)
{
	if (c->up)
		up_close(c->up);
	if (c->x.head_done) {
		client_close(c); /* part of a response is out: break it */
		return;
	}
	answer_text(c, status, text, 1);
}

/* ---- upstream connections ---------------------------------------------- */

static struct upstream *up_connect(struct worker *w, int port)
{
	struct upstream *u = calloc(1, sizeof(*u));
	struct sockaddr_in sa;
	int one = 1, fd;

	if (!u)
		return NULL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		free(u);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	u->ep.kind = K_UP;
	u->ep.fd = fd;
	u->w = w;
	u->port = port;
	iob_init(&u->in, IN_MAX);
	iob_init(&u->out, OUT_MAX);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		u->connected = u->ep.can_write = 1;
	else if (errno != EINPROGRESS)
		goto fail;
	if (watch_fd(w, &u->ep, SOCKET_EVENTS) < 0)
		goto fail;
	return u;
fail:
	close(fd);
	free(u);
	return NULL;
}

/*
 * An idle connection to port, or NULL. check: make sure the app has not
 * closed it since the last epoll batch (one more syscall); without, a
 * connection closed just then fails the request, which is then retried
 * on a fresh one (see up_gone()).
 */
static struct upstream *pool_take(struct worker *w, int port, int check)
{
	struct upstream *u, *next;

	for (u = w->pool; u; u = next) {
		char ch;
		ssize_t n;

		next = u->pnext;
		if (u->port != port)
			continue;
		pool_unlink(u);
		if (!check)
			return u;
		n = recv(u->ep.fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return u;
		up_close(u);
	}
	return NULL;
}

/* The exchange is over with u: keep it for the next request, or close. */
static void up_release(struct client *c)
{
	struct upstream *u = c->up, *i;
	struct exchange *x = &c->x;
	int n = 0;

	if (!u)
		return;
	c->up = NULL;
	u->c = NULL;
	if (!u->connected || u->eof || !x->resp_reusable || x->resp_surplus ||
	    !x->req_done || iob_len(&u->out) || iob_len(&u->in) || x->upgrade) {
		up_close(u);
		return;
	}
	for (i = c->w->pool; i; i = i->pnext)
		if (i->port == u->port && ++n >= POOL_MAX_PER_PORT) {
			up_close(u);
			return;
		}
	u->pooled = 1;
	u->pnext = c->w->pool;
	if (u->pnext)
		u->pnext->pprev = u;
	c->w->pool = u;
	u->idle_since = c->w->now;
}

/*
 * Attach an upstream connection (an idle one unless fresh) to the
 * exchange and queue the head for it.
 */
static int up_attach(struct client *c, const char *head, size_t len, int fresh)
{
	struct exchange *x = &c->x;
	struct upstream *u =
		fresh ? NULL : pool_take(c->w, x->port, !x->idempotent);

	x->reused = u != NULL;
	if (!u && !(u = up_connect(c->w, x->port)))
		return -1;
	u->c = c;
	c->up = u;
	if (iob_add(&u->out, head, len) < 0)
		return -1;
	if (x->reused && x->idempotent && wl_buf_add(&x->retry, head, len) < 0)
		wl_buf_release(&x->retry); /* then no retry */
	if (u->connected)
		set_timer(c, T_ANSWER, ANSWER_TIMEOUT_MS);
	else
		set_timer(c, T_CONNECT, CONNECT_TIMEOUT_MS);
	return 0;
}

/*
 * The app's connection ended or failed before the response was complete.
 */
static void up_gone(struct client *c, int connect_failed)
{
	struct exchange *x = &c->x;

	if (c->up)
		up_close(c->up);
	if (x->head_done) {
		/* A body that ends at close is complete; others are cut. */
		if (x->resp_framing == WL_HTTP1_CLOSE && !x->resp_done) {
			if (x->down_chunked)
				iob_add(&c->out, "0\r\n\r\n", 5);
			x->resp_done = 1;
			x->resp_reusable = 0;
			return;
		}
		if (!x->resp_done)
			client_close(c);
		return;
	}
	if (!connect_failed && x->reused && x->idempotent && x->retry.len &&
	    !x->got_bytes) {
		struct wl_buf head = x->retry;

		/* The app closed a pooled connection as we reused it. */
		wl_buf_init(&x->retry, 0);
		x->reused = 0;
		x->idempotent = 0;
		if (up_attach(c, head.ptr, head.len, 1) == 0) {
			wl_buf_release(&head);
			return;
		}
		wl_buf_release(&head);
		connect_failed = 1;
	}
	fail(c, 502,
	     connect_failed ? "bad gateway: app not reachable"
			    : "bad gateway: the app closed the connection "
			      "without answering");
}

/* ---- the request ------------------------------------------------------- */

/* What the router needs from a request head, in one pass over it. */
struct req_facts {
	const char *host;
	size_t host_len;
	int hosts;
	const char *authz, *user, *wsproto, *xf_proto, *xf_host, *accept;
	size_t authz_len, user_len, wsproto_len, xf_proto_len, xf_host_len,
		accept_len;
	const char *cookie[4]; /* Cookie header values */
	size_t cookie_len[4];
	size_t ncookie;
	const char *conn[4]; /* Connection header values */
	size_t conn_len[4];
	int nconn;
	int conn_close, conn_upgrade;
	int upgrade_ws;
	int expect_continue;
	int te_count, te_chunked_only;
	int cl_count, cl_bad;
	uint64_t cl;
};

/* Keep the first value of a header that counts once. */
static void first(const struct wl_http1_field *f, const char **v, size_t *len)
{
	if (!*v) {
		*v = f->value;
		*len = f->vlen;
	}
}

static int facts_of(struct wl_http1_iter it, struct req_facts *rf)
{
	struct wl_http1_field f;
	int r;

	memset(rf, 0, sizeof(*rf));
	while ((r = wl_http1_next(&it, &f)) > 0) {
		if (wl_http1_is(&f, "host")) {
			if (!rf->hosts++) {
				rf->host = f.value;
				rf->host_len = f.vlen;
			}
		} else if (wl_http1_is(&f, "authorization")) {
			first(&f, &rf->authz, &rf->authz_len);
		} else if (wl_http1_is(&f, "x-user-id")) {
			first(&f, &rf->user, &rf->user_len);
		} else if (wl_http1_is(&f, "cookie")) {
			if (rf->ncookie < 4) {
				rf->cookie[rf->ncookie] = f.value;
				rf->cookie_len[rf->ncookie++] = f.vlen;
			}
		} else if (wl_http1_is(&f, "x-forwarded-proto")) {
			first(&f, &rf->xf_proto, &rf->xf_proto_len);
		} else if (wl_http1_is(&f, "x-forwarded-host")) {
			first(&f, &rf->xf_host, &rf->xf_host_len);
		} else if (wl_http1_is(&f, "accept")) {
			first(&f, &rf->accept, &rf->accept_len);
		} else if (wl_http1_is(&f, "sec-websocket-protocol")) {
			first(&f, &rf->wsproto, &rf->wsproto_len);
		} else if (wl_http1_is(&f, "connection")) {
			if (rf->nconn < 4) {
				rf->conn[rf->nconn] = f.value;
				rf->conn_len[rf->nconn++] = f.vlen;
			}
			rf->conn_close |= wl_http1_token_in_list(
				f.value, f.vlen, "close");
			rf->conn_upgrade |= wl_http1_token_in_list(
				f.value, f.vlen, "upgrade");
		} else if (wl_http1_is(&f, "upgrade")) {
			rf->upgrade_ws |= wl_http1_token_in_list(
				f.value, f.vlen, "websocket");
		} else if (wl_http1_is(&f, "expect")) {
			rf->expect_continue |=
				f.vlen == 12 &&
				!strncasecmp(f.value, "100-continue", 12);
		} else if (wl_http1_is(&f, "transfer-encoding")) {
			rf->te_count++;
			rf->te_chunked_only =
				f.vlen == 7 &&
				!strncasecmp(f.value, "chunked", 7);
		} else if (wl_http1_is(&f, "content-length")) {
			uint64_t v;

			if (wl_http1_parse_u64(f.value, f.vlen, &v) < 0 ||
			    (rf->cl_count && v != rf->cl))
				rf->cl_bad = 1;
			rf->cl_count++;
			rf->cl = v;
		}
	}
	return r;
}

/* 1 if the header is named in one of the request's Connection headers. */
static int conn_named(const struct req_facts *rf,
		      const struct wl_http1_field *f)
{
	char name[128];

	if (!rf->nconn || f->nlen >= sizeof(name))
		return 0;
	memcpy(name, f->name, f->nlen);
	name[f->nlen] = '\0';
	for (int i = 0; i < rf->nconn; i++)
		if (wl_http1_token_in_list(rf->conn[i], rf->conn_len[i], name))
			return 1;
	return 0;
}

/* A copy of (s, n) as a C string into out (size m); NULL if too long. */
static const char *cstr(const char *s, size_t n, char *out, size_t m)
{
	if (!s || n >= m)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

/* The user from the request's credentials; 0, or -1 (message set). */
static int authenticate(struct client *c, const struct req_facts *rf,
			char *user, size_t n)
{
	char authz[1024], uid[WL_USER_MAX + 1], proto[1024];
	const char *a = cstr(rf->authz, rf->authz_len, authz, sizeof(authz));
	const char *u = cstr(rf->user, rf->user_len, uid, sizeof(uid));

	if (!a && cstr(rf->wsproto, rf->wsproto_len, proto, sizeof(proto)) &&
	    wl_auth_bearer_protocol(proto, authz, sizeof(authz)))
		a = authz;
	return wl_auth_check(c->w->f->o.auth, a, u, user, n);
}

static int method_is(const struct wl_http1_request *rq, const char *m);

/* Where the client thinks it is (auth.h). */
static void origin_of(struct client *c, const struct req_facts *rf,
		      struct wl_origin *o)
{
	char host[256], xfp[64], xfh[256];

	wl_auth_origin(c->w->f->o.auth, c->peer,
		       cstr(rf->host, rf->host_len, host, sizeof(host)),
		       cstr(rf->xf_proto, rf->xf_proto_len, xfp, sizeof(xfp)),
		       cstr(rf->xf_host, rf->xf_host_len, xfh, sizeof(xfh)), o);
}

/*
 * A request for an app on its own host: the request's own credentials
 * when it has any (API clients), else the app's session cookie.
 */
static int authenticate_app(struct client *c, const struct req_facts *rf,
			    const char *id, char *user, size_t n)
{
	char proto[1024];

	if (rf->authz || rf->user ||
	    (cstr(rf->wsproto, rf->wsproto_len, proto, sizeof(proto)) &&
	     strstr(proto, "bearer.")))
		return authenticate(c, rf, user, n);
	return wl_auth_session_check(c->w->f->o.auth, rf->cookie,
				     rf->cookie_len, rf->ncookie, id,
				     (int64_t)time(NULL), user, n);
}

/* Append text to b with HTML's special characters escaped. */
static void html_escape(struct wl_buf *b, const char *text)
{
	for (const char *p = text; *p; p++) {
		switch (*p) {
		case '<':
			wl_buf_puts(b, "&lt;");
			break;
		case '>':
			wl_buf_puts(b, "&gt;");
			break;
		case '&':
			wl_buf_puts(b, "&amp;");
			break;
		case '"':
			wl_buf_puts(b, "&quot;");
			break;
		case '\'':
			wl_buf_puts(b, "&#39;");
			break;
		default:
			wl_buf_putc(b, *p);
		}
	}
}

/*
 * 401 for an app's host: a page a person can read when a browser asked
 * for one (a navigation), else the API's JSON error.
 */
static void refuse_app(struct client *c, const struct req_facts *rf,
		       const char *message)
{
	struct wl_buf *b = &c->w->tmp;

	if (!rf->accept ||
	    !memmem(rf->accept, rf->accept_len, "text/html", 9)) {
		answer_json(c, 401, "unauthorized", message);
		return;
	}
	wl_buf_reset(b);
	wl_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head>"
		       "<meta charset=\"utf-8\"><meta name=\"viewport\" "
		       "content=\"width=device-width\"><title>Sign-in "
		       "needed</title><style>body{font:16px/1.5 system-ui,"
		       "sans-serif;max-width:36em;margin:4em auto;padding:0 "
		       "1em;color:#222}</style></head><body><h1>Sign-in "
		       "needed</h1><p>");
	html_escape(b, message);
	wl_buf_puts(b, "</p></body></html>\n");
	answer(c, 401, "text/html; charset=utf-8", b->ptr, b->len, 0);
}

/*
 * GET WL_AUTH_LOGIN_PATH?ticket=<login ticket>[&next=/path] on an app's
 * host: swap the short-lived link for the app's session cookie and
 * redirect to the app. The ticket never reaches the app or a log.
 */
static void serve_login(struct client *c, const struct wl_http1_request *rq,
			const struct req_facts *rf, size_t path_len,
			const char *id)
{
	struct wl_auth_login login;
	char query[1024], extra[sizeof(login) + 64];
	struct wl_origin o;

	if (!method_is(rq, "GET") && !method_is(rq, "HEAD")) {
		answer_json(c, 405, "method_not_allowed",
			    "method not allowed; open the link with GET");
		return;
	}
	origin_of(c, rf, &o);
	if (!cstr(path_len < rq->target_len ? rq->target + path_len + 1 : "",
		  path_len < rq->target_len ? rq->target_len - path_len - 1 : 0,
		  query, sizeof(query)))
		query[0] = '\0';
	if (wl_auth_login(c->w->f->o.auth, id, query, o.secure,
			  (int64_t)time(NULL), &login) < 0) {
		refuse_app(c, rf, wl_error_last());
	} else {
		snprintf(extra, sizeof(extra),
			 "location: %s\r\nset-cookie: %s\r\n", login.location,
			 login.set_cookie);
		answer_with(c, 302, "text/plain; charset=utf-8", extra, "", 0,
			    0);
	}
	OPENSSL_cleanse(&login, sizeof(login));
	OPENSSL_cleanse(extra, sizeof(extra));
	OPENSSL_cleanse(query, sizeof(query));
}

/* Append "Name: value\r\n". */
static int put_field(struct wl_buf *b, const char *name, size_t nlen,
		     const char *value, size_t vlen)
{
	if (wl_buf_add(b, name, nlen) < 0 || wl_buf_add(b, ": ", 2) < 0 ||
	    wl_buf_add(b, value, vlen) < 0 || wl_buf_add(b, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/*
 * Sec-WebSocket-Protocol for the app: the offered list without our
 * "bearer.<token>" entries. When those were all there was, remember the
 * first so that the answer to the browser can name it.
 */
static int put_ws_protocols(struct client *c, struct wl_buf *h, const char *v,
			    size_t n)
{
	struct wl_buf *list = &c->w->tmp;
	const char *pos = v, *s;
	size_t len;

	wl_buf_reset(list);
	while (wl_http1_list_next(&pos, v + n, &s, &len)) {
		if (len >= 7 && !strncmp(s, "bearer.", 7)) {
			if (!c->x.bearer_proto)
				c->x.bearer_proto = strndup(s, len);
		} else if ((list->len && wl_buf_puts(list, ", ") < 0) ||
			   wl_buf_add(list, s, len) < 0) {
			return -1;
		}
	}
	if (!list->len)
		return 0;
	free(c->x.bearer_proto);
	c->x.bearer_proto = NULL;
	return put_field(h, "Sec-WebSocket-Protocol", 22, list->ptr, list->len);
}

/* The request head for the app into h. */
static int build_request(struct client *c, const struct wl_http1_request *rq,
			 const struct req_facts *rf, const char *target,
			 size_t target_len, struct wl_buf *h)
{
	struct exchange *x = &c->x;
	struct wl_http1_iter it = rq->iter;
	struct wl_http1_field f;
	struct wl_buf cookies;
	struct wl_origin o;
	int error = -1;

	wl_buf_init(&cookies, WL_HTTP1_HEAD_MAX);
	wl_buf_reset(h);
	if (wl_buf_add(h, rq->method, rq->method_len) < 0 ||
	    wl_buf_putc(h, ' ') < 0 ||
	    (target_len == 0 || target[0] == '?' ? wl_buf_putc(h, '/') : 0) <
		    0 ||
	    wl_buf_add(h, target, target_len) < 0 ||
	    wl_buf_printf(h, " HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", x->port) <
		    0)
		goto done;
	while (wl_http1_next(&it, &f) > 0) {
		if (wl_http1_is(&f, "cookie")) {
			if ((cookies.len && wl_buf_puts(&cookies, "; ") < 0) ||
			    wl_buf_add(&cookies, f.value, f.vlen) < 0)
				goto done;
			continue;
		}
		if (wl_http1_request_drops(f.name, f.nlen) ||
		    conn_named(rf, &f))
			continue;
		if (wl_http1_is(&f, "sec-websocket-protocol")) {
			if (put_ws_protocols(c, h, f.value, f.vlen) < 0)
				goto done;
			continue;
		}
		if (put_field(h, f.name, f.nlen, f.value, f.vlen) < 0)
			goto done;
	}
	origin_of(c, rf, &o);
	if (wl_buf_printf(h, "X-Forwarded-For: %s\r\nX-Forwarded-Proto: %s\r\n",
			  c->peer, o.scheme) < 0 ||
	    (rf->host && put_field(h, "X-Forwarded-Host", 16, rf->host,
				   rf->host_len) < 0) ||
	    (x->prefix[0] && put_field(h, "X-Forwarded-Prefix", 18, x->prefix,
				       strlen(x->prefix)) < 0))
		goto done;
	if (cookies.len) {
		struct wl_buf *kept = &c->w->tmp;

		if (wl_http1_filter_cookie(cookies.ptr, cookies.len, kept) <
			    0 ||
		    (kept->len &&
		     put_field(h, "Cookie", 6, kept->ptr, kept->len) < 0))
			goto done;
	}
	if (x->req_framing == WL_HTTP1_CHUNKED &&
	    wl_buf_puts(h, "Transfer-Encoding: chunked\r\n") < 0)
		goto done;
	if (rf->cl_count && wl_buf_printf(h, "Content-Length: %llu\r\n",
					  (unsigned long long)rf->cl) < 0)
		goto done;
	if (x->upgrade &&
	    wl_buf_puts(h, "Connection: Upgrade\r\nUpgrade: websocket\r\n") < 0)
		goto done;
	if (wl_buf_puts(h, "\r\n") < 0)
		goto done;
	error = 0;
done:
	wl_buf_release(&cookies);
	return error;
}

static int method_is(const struct wl_http1_request *rq, const char *m)
{
	return rq->method_len == strlen(m) &&
	       !strncmp(rq->method, m, rq->method_len);
}

/*
 * A complete head of hlen bytes, peeked, is at the front of c->in: route
 * it. Not a proxy request: the connection goes to lws.
 */
/*
 * A request for lws (the API, the web UI, watch streams) is handed to it
 * only once its body is here too, or its first BODY_HOLD bytes: lws holds
 * one of its few header tables for a request until its body is read, so a
 * client trickling a body (slowloris's slow-body variant) would otherwise
 * lock everyone else out of the API. Waiting here costs only the
 * connection's own socket, and the head timeout bounds it. Returns 1 to
 * wait on (c->need set), 0 to hand off now: no body, a length lws refuses
 * at once (413), or Expect: 100-continue (the client waits for lws's 100).
 * Chunked bodies do not get here (lws_can_take).
 */
static int body_pending(struct client *c, const struct req_facts *rf,
			size_t hlen)
{
	c->need = 0;
	if (rf->expect_continue || c->ep.rdhup)
		return 0;
	if (!rf->cl_count || rf->cl_bad || !rf->cl ||
	    rf->cl > (uint64_t)c->w->f->o.cfg->max_body)
		return 0;
	c->need = hlen + (size_t)(rf->cl < BODY_HOLD ? rf->cl : BODY_HOLD);
	if (iob_len(&c->in) >= c->need) {
		c->need = 0;
		return 0;
	}
	return 1;
}

/*
 * Whether lws can take this request. It closes the connection without a
 * word on a head it cannot parse (more than its max_http_header_data,
 * server.c, or "%00" in the path)
 * and never ends a chunked body: answer those here, with a status that
 * says why. Returns 0 after answering.
 */
static int lws_can_take(struct client *c, const struct wl_http1_request *rq,
			const struct req_facts *rf, size_t hlen)
{
	c->x.req_done = 0;
	if (hlen > HANDOFF_HEAD_MAX) {
		answer_json(c, 431, "header_too_large",
			    "the request head is too large (at most 15 KiB for "
			    "the API)");
		return 0;
	}
	if (rf->te_count) {
		/*
		 * lws 4.1.6 never completes a chunked request body: the request
		 * would hang for its 60 s timeout, holding a header table.
		 */
		answer_json(c, 411, "length_required",
			    "send the body with a Content-Length: the API does "
			    "not take chunked request bodies");
		return 0;
	}
	for (size_t i = 0; i + 2 < rq->target_len; i++)
		if (rq->target[i] == '%' && rq->target[i + 1] == '0' &&
		    rq->target[i + 2] == '0') {
			answer_json(c, 400, "bad_request",
				    "the request URI holds %00");
			return 0;
		}
	return 1;
}

static void route_request(struct client *c, size_t hlen)
{
	struct wl_front *f = c->w->f;
	struct exchange *x = &c->x;
	struct wl_http1_request rq;
	struct req_facts rf;
	struct wl_route route;
	char id[WL_ID_MAX + 1], user[WL_USER_MAX + 1];
	const char *target;
	size_t path_len, rest = 0, target_len, ticket = 0, ticket_len = 0;
	int error, has_ticket = 0, by_host = 0;

	if (wl_http1_parse_request(&rq, iob_data(&c->in), hlen) < 0) {
		hand_off(c); /* not ours to judge: lws answers as before */
		return;
	}
	/*
	 * A header field with a bare CR or another control character, a
	 * folded line, a name that is not a token: lws would take some of
	 * them and its bridge would forward them to the app (RFC 9112: a
	 * server must refuse them).
	 */
	if (facts_of(rq.iter, &rf) < 0) {
		c->x.req_done = 0;
		answer_text(c, 400, "bad request: malformed header field", 1);
		return;
	}
	path_len = rq.target_len;
	for (size_t i = 0; i < rq.target_len; i++)
		if (rq.target[i] == '?') {
			path_len = i;
			break;
		}
	exchange_release(x);
	wl_buf_init(&x->retry, WL_HTTP1_HEAD_MAX * 2);
	if (rf.host && wl_route_host_id(f->o.cfg->base_domain, rf.host,
					rf.host_len, id, sizeof(id))) {
		target = rq.target;
		target_len = rq.target_len;
		by_host = 1;
	} else if (rq.target[0] == '/' &&
		   wl_route_proxy_path(rq.target, path_len, id, sizeof(id),
				       &rest)) {
		snprintf(x->prefix, sizeof(x->prefix), "%.*s", (int)rest,
			 rq.target);
		target = rq.target + rest;
		target_len = rq.target_len - rest;
	} else if (rq.target[0] == '/' &&
		   wl_route_preview_path(rq.target, path_len, id, sizeof(id),
					 &ticket, &ticket_len, &rest) &&
		   rest < sizeof(x->prefix)) {
		snprintf(x->prefix, sizeof(x->prefix), "%.*s", (int)rest,
			 rq.target);
		target = rq.target + rest;
		target_len = rq.target_len - rest;
		has_ticket = 1;
	} else {
		if (!lws_can_take(c, &rq, &rf, hlen) ||
		    body_pending(c, &rf, hlen))
			return;
		hand_off(c);
		return;
	}

	/* Ours from here on. */
	x->http10 = rq.minor == 0;
	x->is_head = method_is(&rq, "HEAD");
	x->upgrade = !x->http10 && method_is(&rq, "GET") && rf.upgrade_ws &&
		     rf.conn_upgrade;
	x->idempotent = !x->upgrade &&
			(method_is(&rq, "GET") || x->is_head ||
			 method_is(&rq, "OPTIONS") || method_is(&rq, "DELETE"));
	c->close_after = x->http10 || rf.conn_close;
	if (rf.te_count) {
		x->req_framing = WL_HTTP1_CHUNKED;
	} else if (rf.cl_count && rf.cl) {
		x->req_framing = WL_HTTP1_LENGTH;
		x->req_remain = rf.cl;
	}
	x->req_done = x->req_framing == WL_HTTP1_NONE;
	if (x->req_framing != WL_HTTP1_NONE)
		x->idempotent = 0; /* the body is not kept for a retry */
	/* Take the head off the socket (the same bytes over the peeked). */
	if (recv(c->ep.fd, iob_data(&c->in), hlen, MSG_DONTWAIT) !=
	    (ssize_t)hlen) {
		client_close(c);
		return;
	}
	if (iob_len(&c->in) > hlen)
		c->ep.can_read = 1; /* the peek saw the body's start too */

	/* Framing first: without it the connection cannot be read on. */
	if (rf.te_count && rf.cl_count) {
		answer_text(c, 400,
			    "bad request: both Content-Length and "
			    "Transfer-Encoding",
			    1);
		return;
	}
	if (rf.te_count > 1 || (rf.te_count && x->http10) || rf.cl_bad ||
	    rf.hosts > 1) {
		answer_text(c, 400, "bad request: malformed message framing",
			    1);
		return;
	}
	if (rf.te_count && !rf.te_chunked_only) {
		answer_text(c, 501, "transfer coding not supported", 1);
		return;
	}
	if (rq.target_len >= URI_MAX) {
		answer_json(c, 414, "uri_too_long",
			    "the request URI is too long");
		return;
	}
	if (by_host && path_len == strlen(WL_AUTH_LOGIN_PATH) &&
	    !memcmp(rq.target, WL_AUTH_LOGIN_PATH, path_len)) {
		serve_login(c, &rq, &rf, path_len, id);
		return;
	}
	if (by_host) {
		if (authenticate_app(c, &rf, id, user, sizeof(user)) < 0) {
			refuse_app(c, &rf, wl_error_last());
			return;
		}
	} else if (has_ticket ? wl_auth_ticket_check(
					f->o.auth, WL_TICKET_PREVIEW,
					rq.target + ticket, ticket_len, id,
					time(NULL), user, sizeof(user)) < 0
			      : authenticate(c, &rf, user, sizeof(user)) < 0) {
		answer_json(c, 401, "unauthorized", wl_error_last());
		return;
	}
	if (wl_route_lookup(f->o.routes, id, user, &route) < 0) {
		answer_json(c, 404, "not_found", "worklet not found");
		return;
	}
	if (!wl_route_serving(&route)) {
		struct wl_buf *b = &c->w->tmp;

		wl_buf_reset(b);
		wl_route_not_serving_text(&route, b);
		answer(c, 503, "text/plain; charset=utf-8", b->ptr, b->len, 0);
		return;
	}
	x->port = route.port;
	atomic_fetch_add(&wl_metrics.proxy_requests, 1);
	if (x->upgrade)
		atomic_fetch_add(&wl_metrics.proxy_ws_sessions, 1);

	if (build_request(c, &rq, &rf, target, target_len, &c->w->head) < 0) {
		answer_text(c, 431, "request head too large", 1);
		return;
	}
	error = up_attach(c, c->w->head.ptr, c->w->head.len, 0);
	c->state = C_PROXY;
	if (error < 0) {
		up_gone(c, 1);
		return;
	}
	/* We read the body only once we know where it goes. */
	if (rf.expect_continue && !x->req_done && !x->http10)
		iob_add(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

static void on_request(struct client *c, size_t hlen)
{
	route_request(c, hlen);
	if (!c->ep.dead) {
		c->in.r = c->in.w = 0; /* the rest was only peeked */
		c->peeked = 0;
	}
}

/* ---- the response ------------------------------------------------------ */

static int sink_up(void *ctx, const char *data, size_t n)
{
	struct client *c = ctx;
	struct iobuf *o = &c->up->out;
	char h[WL_HTTP1_CHUNK_HEAD_MAX];
	size_t hl;

	if (!n)
		return 0;
	hl = wl_http1_chunk_head(h, n);
	if (iob_add(o, h, hl) < 0 || iob_add(o, data, n) < 0 ||
	    iob_add(o, "\r\n", 2) < 0)
		return -1;
	atomic_fetch_add(&wl_metrics.proxy_bytes_in, n);
	return 0;
}

static int sink_down(void *ctx, const char *data, size_t n)
{
	struct client *c = ctx;
	char h[WL_HTTP1_CHUNK_HEAD_MAX];
	size_t hl;

	if (!n)
		return 0;
	if (c->x.down_chunked) {
		hl = wl_http1_chunk_head(h, n);
		if (iob_add(&c->out, h, hl) < 0)
			return -1;
	}
	if (iob_add(&c->out, data, n) < 0 ||
	    (c->x.down_chunked && iob_add(&c->out, "\r\n", 2) < 0))
		return -1;
	atomic_fetch_add(&wl_metrics.proxy_bytes_out, n);
	return 0;
}

/*
 * Client -> app: request body bytes, framed for the app. Only the body is
 * taken off the socket, never a byte past it: what follows is the next
 * request, which may be one for lws (see hand_off()).
 */
static int pump_request(struct client *c)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	ssize_t n;
	long used;

	if (x->req_done || !u || iob_len(&u->out) >= OUT_HIGH)
		return 0;
	if (x->req_framing == WL_HTTP1_LENGTH) {
		n = fill(&c->ep, &c->in, x->req_remain - iob_len(&c->in), 0);
		if (n < 0) {
			c->error = 1;
			return 0;
		}
		n = (ssize_t)iob_len(&c->in);
		if (!n)
			return 0;
		if (iob_move(&u->out, &c->in, (size_t)n) < 0) {
			fail(c, 502, "bad gateway: request body too fast");
			return 0;
		}
		atomic_fetch_add(&wl_metrics.proxy_bytes_in, (uint64_t)n);
		x->req_remain -= (uint64_t)n;
		x->req_done = !x->req_remain;
		return 1;
	}
	/* Chunked: peek, decode, then take exactly what was decoded. */
	c->in.r = c->in.w = 0;
	n = fill(&c->ep, &c->in, OUT_HIGH, MSG_PEEK);
	if (n < 0) {
		c->error = 1;
		return 0;
	}
	if (!n)
		return 0;
	used = wl_http1_chunked_feed(&x->req_dec, c->in.p, (size_t)n, sink_up,
				     c);
	if (used < 0) {
		fail(c, 400, "bad request: malformed chunked body");
		return 0;
	}
	if (used && recv(c->ep.fd, c->in.p, (size_t)used, MSG_DONTWAIT) !=
			    (ssize_t)used) {
		c->error = 1;
		return 0;
	}
	if ((size_t)used < (size_t)n)
		c->ep.can_read = 1; /* the next request is already there */
	if (wl_http1_chunked_done(&x->req_dec)) {
		x->req_done = 1;
		if (iob_add(&u->out, "0\r\n\r\n", 5) < 0) {
			fail(c, 502, "bad gateway: request body too fast");
			return 0;
		}
	}
	return used > 0;
}

/* The response head for the client, from the app's (rs, in u->in). */
static int put_response_head(struct client *c,
			     const struct wl_http1_response *rs)
{
	struct exchange *x = &c->x;
	struct wl_buf *h = &c->w->head, *v = &c->w->tmp;
	struct wl_http1_iter it = rs->iter;
	struct wl_http1_field f;
	const char *conn = NULL;
	size_t conn_len = 0;
	int has_proto = 0, has_caching = 0;

	while (wl_http1_next(&it, &f) > 0)
		if (wl_http1_is(&f, "connection")) {
			conn = f.value;
			conn_len = f.vlen;
		}
	wl_buf_reset(h);
	if (wl_buf_printf(h, "HTTP/1.1 %d %.*s\r\n", rs->status,
			  (int)rs->reason_len, rs->reason) < 0)
		return -1;
	it = rs->iter;
	while (wl_http1_next(&it, &f) > 0) {
		if (wl_http1_response_drops(&f, conn, conn_len))
			continue;
		has_proto |= wl_http1_is(&f, "sec-websocket-protocol");
		has_caching |= wl_http1_is(&f, "cache-control") ||
			       wl_http1_is(&f, "expires");
		if (wl_http1_is(&f, "location")) {
			wl_buf_reset(v);
			if (wl_http1_rewrite_location(x->prefix, x->port,
						      f.value, f.vlen, v) < 0 ||
			    put_field(h, f.name, f.nlen, v->ptr, v->len) < 0)
				return -1;
		} else if (put_field(h, f.name, f.nlen, f.value, f.vlen) < 0) {
			return -1;
		}
	}
	if (rs->status == 101) {
		if (wl_buf_puts(h, "Connection: Upgrade\r\nUpgrade: "
				   "websocket\r\n") < 0 ||
		    (!has_proto && x->bearer_proto &&
		     put_field(h, "Sec-WebSocket-Protocol", 22, x->bearer_proto,
			       strlen(x->bearer_proto)) < 0))
			return -1;
	} else if (x->resp_framing == WL_HTTP1_LENGTH) {
		if (wl_buf_printf(h, "Content-Length: %llu\r\n",
				  (unsigned long long)rs->length) < 0)
			return -1;
	} else if (x->resp_framing == WL_HTTP1_NONE) {
		/* HEAD and 304 keep the app's length as information. */
		if (rs->has_length && rs->status != 204 &&
		    wl_buf_printf(h, "Content-Length: %llu\r\n",
				  (unsigned long long)rs->length) < 0)
			return -1;
	} else if (x->down_chunked &&
		   wl_buf_puts(h, "Transfer-Encoding: chunked\r\n") < 0) {
		return -1;
	}
	/*
	 * A prototype changes with every prompt: a response that says nothing
	 * of caching (a plain static server's) is revalidated rather than
	 * reused on heuristics, or a reloaded preview shows the old version.
	 */
	if (!has_caching && rs->status != 101 &&
	    wl_buf_puts(h, "Cache-Control: no-cache\r\n") < 0)
		return -1;
	if (c->close_after && rs->status != 101 &&
	    wl_buf_puts(h, "Connection: close\r\n") < 0)
		return -1;
	if (wl_buf_puts(h, "\r\n") < 0 || iob_add(&c->out, h->ptr, h->len) < 0)
		return -1;
	return 0;
}

static void resp_complete(struct client *c)
{
	struct exchange *x = &c->x;

	if (x->resp_done)
		return;
	x->resp_done = 1;
	if (x->down_chunked && iob_add(&c->out, "0\r\n\r\n", 5) < 0)
		c->error = 1;
	if (c->up && iob_len(&c->up->in))
		x->resp_surplus = 1;
	if (!x->req_done)
		c->close_after = 1; /* the rest of the body is not read */
}

/*
 * A tunnel may rightly stay silent for hours (a dev server's reload
 * socket): no idle timeout, but TCP keepalive finds a peer that vanished
 * within two minutes or so.
 */
static void keepalive(int fd)
{
	int one = 1, idle = 60, interval = 10, count = 6;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

/* App -> client: the response head. */
static int pump_response_head(struct client *c)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	struct wl_http1_response rs;
	size_t len = iob_len(&u->in), end;

	if (!len)
		return 0;
	end = wl_http1_head_end(iob_data(&u->in), len);
	if (!end || end > WL_HTTP1_HEAD_MAX) {
		if (len > WL_HTTP1_HEAD_MAX || end > WL_HTTP1_HEAD_MAX)
			fail(c, 502, "bad gateway: response head too large");
		return 0;
	}
	if (wl_http1_parse_response(&rs, iob_data(&u->in), end, x->is_head) <
	    0) {
		fail(c, 502, "bad gateway: malformed response from the app");
		return 0;
	}
	if (rs.status == 101 && !x->upgrade) {
		fail(c, 502,
		     "bad gateway: unexpected protocol switch from the app");
		return 0;
	}
	if (rs.status < 200 && rs.status != 101) {
		iob_consume(&u->in, end); /* interim: skip it */
		return 1;
	}
	x->resp_framing = rs.status == 101 ? WL_HTTP1_NONE : rs.framing;
	x->resp_reusable = rs.reusable && !x->upgrade;
	x->resp_remain = rs.length;
	x->down_chunked = !x->http10 &&
			  (rs.framing == WL_HTTP1_CHUNKED ||
			   rs.framing == WL_HTTP1_CLOSE) &&
			  rs.status != 101;
	if (x->http10)
		c->close_after = 1;
	if (put_response_head(c, &rs) < 0) {
		fail(c, 502, "bad gateway: response head too large");
		return 0;
	}
	iob_consume(&u->in, end);
	x->head_done = 1;
	if (rs.status == 101) {
		c->state = C_TUNNEL;
		set_timer(c, T_NONE, 0);
		keepalive(c->ep.fd);
		keepalive(u->ep.fd);
		return 1;
	}
	set_timer(c, T_STREAM, STREAM_IDLE_MS);
	if (x->resp_framing == WL_HTTP1_NONE)
		resp_complete(c);
	return 1;
}

/* App -> client: body bytes, framed for the client. */
static int pump_response_body(struct client *c)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	size_t len = iob_len(&u->in), n;
	long used;

	if (x->resp_done || !len || iob_len(&c->out) >= OUT_HIGH)
		return 0;
	if (len > OUT_HIGH)
		len = OUT_HIGH;
	switch (x->resp_framing) {
	case WL_HTTP1_LENGTH:
		n = len < x->resp_remain ? len : (size_t)x->resp_remain;
		if (iob_move(&c->out, &u->in, n) < 0)
			return -1;
		atomic_fetch_add(&wl_metrics.proxy_bytes_out, n);
		x->resp_remain -= n;
		if (!x->resp_remain)
			resp_complete(c);
		return 1;
	case WL_HTTP1_CHUNKED:
		used = wl_http1_chunked_feed(&x->resp_dec, iob_data(&u->in),
					     len, sink_down, c);
		if (used < 0)
			return -1;
		iob_consume(&u->in, (size_t)used);
		if (wl_http1_chunked_done(&x->resp_dec))
			resp_complete(c);
		return used > 0;
	case WL_HTTP1_CLOSE:
		if (x->down_chunked) {
			if (sink_down(c, iob_data(&u->in), len) < 0)
				return -1;
			iob_consume(&u->in, len);
		} else {
			if (iob_move(&c->out, &u->in, len) < 0)
				return -1;
			atomic_fetch_add(&wl_metrics.proxy_bytes_out, len);
		}
		return 1;
	case WL_HTTP1_NONE:
		break;
	}
	return 0;
}

/*
 * Close after our answer, the polite way: a close with unread bytes in the
 * socket makes the kernel send a reset, which can destroy the answer
 * before the client reads it. So: FIN first, then read and drop what the
 * client still sends until it closes too (or LINGER_CLOSE_MS).
 */
static void linger_close(struct client *c)
{
	if (c->up)
		up_close(c->up);
	if (c->error || c->eof || shutdown(c->ep.fd, SHUT_WR) < 0) {
		client_close(c);
		return;
	}
	c->state = C_LINGER;
	set_timer(c, T_LINGER, LINGER_CLOSE_MS);
}

/* The exchange is complete and flushed: next request, or close. */
static void exchange_end(struct client *c)
{
	up_release(c);
	if (c->close_after || !c->x.req_done || c->eof || c->error) {
		linger_close(c);
		return;
	}
	exchange_release(&c->x);
	c->state = C_HEAD;
	set_timer(c, T_IDLE, IDLE_TIMEOUT_MS);
}

/* ---- driving a connection ---------------------------------------------- */

/*
 * Whether a head that is still incomplete is worth peeking at again now.
 * Each peek copies the whole head so far: for a client sending it in tiny
 * pieces that would cost quadratic time, so peeks are spaced out (at the
 * next tick) unless what is waiting has grown well.
 */
static int worth_peeking(struct client *c)
{
	int avail = 0;

	if (c->peek_deferred == 2 || c->w->now - c->peek_ms >= TICK_MS ||
	    ioctl(c->ep.fd, FIONREAD, &avail) < 0 ||
	    (size_t)avail > WL_HTTP1_HEAD_MAX ||
	    (size_t)avail >= 2 * c->peeked ||
	    (size_t)avail >= c->peeked + 4096) {
		c->peek_deferred = 0;
		return 1;
	}
	c->peek_deferred = 1;
	return 0;
}

/*
 * Waiting for a request head: peek at it (nothing is taken off the socket
 * until the head is known to be ours).
 */
static int step_head(struct client *c)
{
	size_t want = BUF_START, lead, end;
	ssize_t n;

	if (c->error) {
		client_close(c);
		return 0;
	}
	if (!c->ep.can_read || (c->peeked && !worth_peeking(c)))
		return 0;
	for (;;) {
		while (want <= c->peeked && want <= WL_HTTP1_HEAD_MAX)
			want *= 2;
		if (want > WL_HTTP1_HEAD_MAX + 1)
			want = WL_HTTP1_HEAD_MAX + 1;
		if (c->need >= want) /* a body to wait for (body_pending) */
			want = c->need < IN_MAX ? c->need + 1 : IN_MAX;
		c->in.r = c->in.w = 0;
		n = fill(&c->ep, &c->in, want, MSG_PEEK);
		if (n < 0) {
			client_close(c); /* closed, maybe mid-head */
			return 0;
		}
		if (!n)
			return 0;
		c->in.w = (size_t)n;
		if (c->timer == T_IDLE)
			set_timer(c, T_HEAD, HEAD_TIMEOUT_MS);
		for (lead = 0; lead < (size_t)n &&
			       (c->in.p[lead] == '\r' || c->in.p[lead] == '\n');
		     lead++)
			;
		end = wl_http1_head_end(c->in.p + lead, (size_t)n - lead);
		if (end) {
			end += lead;
			break;
		}
		c->peeked = (size_t)n;
		c->peek_ms = c->w->now;
		if ((size_t)n > WL_HTTP1_HEAD_MAX) {
			c->x.req_done = 0;
			answer_text(c, 431, "request head too large", 1);
			return 1;
		}
		if ((size_t)n < want) {
			if (c->ep.rdhup)
				client_close(c); /* it will never complete */
			return 0;
		}
		/* The buffer was full: there may be more. */
	}
	if (end - lead > WL_HTTP1_HEAD_MAX) {
		c->x.req_done = 0;
		answer_text(c, 431, "request head too large", 1);
		return 1;
	}
	on_request(c, end);
	return 1;
}

/* The app's side of an exchange: read, then parse and move. */
static int step_upstream(struct client *c)
{
	struct exchange *x = &c->x;
	struct upstream *u = c->up;
	size_t sent;
	ssize_t n;
	int progress = 0, r;

	if (!u || !u->connected)
		return 0;
	if (iob_len(&u->out)) {
		if (flush(&u->ep, &u->out, &sent) < 0) {
			up_gone(c, 0);
			return 1;
		}
		if (sent) {
			progress = 1;
			if (!x->head_done)
				set_timer(c, T_ANSWER, ANSWER_TIMEOUT_MS);
		}
	}
	if (x->resp_done)
		return progress;
	n = fill(&u->ep, &u->in, SIZE_MAX, 0);
	if (n > 0) {
		x->got_bytes = 1;
		progress = 1;
	} else if (n < 0) {
		u->eof = 1;
	}
	if (!x->head_done) {
		progress |= pump_response_head(c);
		if (c->ep.dead || c->state != C_PROXY || !c->up)
			return 1;
	}
	if (x->head_done && !x->resp_done) {
		r = pump_response_body(c);
		if (r < 0) {
			fail(c, 502,
			     "bad gateway: malformed response body from the "
			     "app");
			return 1;
		}
		if (r)
			set_timer(c, T_STREAM, STREAM_IDLE_MS);
		progress |= r;
	}
	if (u->eof && !iob_len(&u->in) && !x->resp_done) {
		up_gone(c, 0);
		return 1;
	}
	return progress;
}

static int step_proxy(struct client *c)
{
	struct exchange *x = &c->x;
	size_t sent;
	int progress = 0;

	if (c->error) {
		client_close(c);
		return 0;
	}
	progress |= pump_request(c);
	if (c->ep.dead)
		return 0;
	progress |= step_upstream(c);
	if (c->ep.dead)
		return 0;
	if (iob_len(&c->out)) {
		if (flush(&c->ep, &c->out, &sent) < 0) {
			client_close(c);
			return 0;
		}
		if (sent) {
			progress = 1;
			if (x->head_done)
				set_timer(c, T_STREAM, STREAM_IDLE_MS);
		}
	}
	if (x->resp_done && !iob_len(&c->out)) {
		exchange_end(c);
		return !c->ep.dead;
	}
	if (c->error || (c->eof && !x->req_done)) {
		client_close(c); /* gone in the middle of its request */
		return 0;
	}
	return progress;
}

static int step_tunnel(struct client *c)
{
	struct upstream *u = c->up;
	size_t sent;
	ssize_t n;
	int progress = 0;

	if (!u || c->error) {
		client_close(c);
		return 0;
	}
	if (!c->eof && iob_len(&u->out) < OUT_HIGH) {
		n = fill(&c->ep, &c->in, SIZE_MAX, 0);
		if (n == -1)
			c->eof = 1;
		else if (n < 0)
			c->error = 1;
	}
	if (!u->eof && iob_len(&c->out) < OUT_HIGH) {
		n = fill(&u->ep, &u->in, SIZE_MAX, 0);
		if (n < 0)
			u->eof = 1;
	}
	if (c->error) {
		client_close(c);
		return 0;
	}
	n = (ssize_t)iob_len(&c->in);
	if (n && iob_move(&u->out, &c->in, (size_t)n) == 0) {
		atomic_fetch_add(&wl_metrics.proxy_bytes_in, (uint64_t)n);
		progress = 1;
	}
	n = (ssize_t)iob_len(&u->in);
	if (n && iob_move(&c->out, &u->in, (size_t)n) == 0) {
		atomic_fetch_add(&wl_metrics.proxy_bytes_out, (uint64_t)n);
		progress = 1;
	}
	if (flush(&u->ep, &u->out, &sent) < 0) {
		client_close(c);
		return 0;
	}
	progress |= sent > 0;
	if (flush(&c->ep, &c->out, &sent) < 0) {
		client_close(c);
		return 0;
	}
	progress |= sent > 0;
	/* An end that closed: pass the close on once its bytes are out. */
	if (c->eof && !u->shut_wr && !iob_len(&c->in) && !iob_len(&u->out)) {
		shutdown(u->ep.fd, SHUT_WR);
		u->shut_wr = 1;
		set_timer(c, T_LINGER, LINGER_MS);
	}
	if (u->eof && !c->shut_wr && !iob_len(&u->in) && !iob_len(&c->out)) {
		shutdown(c->ep.fd, SHUT_WR);
		c->shut_wr = 1;
		set_timer(c, T_LINGER, LINGER_MS);
	}
	if (c->shut_wr && u->shut_wr)
		client_close(c);
	return progress;
}

/* After our FIN: drop what the client still sends until it closes. */
static int step_linger(struct client *c)
{
	ssize_t n;

	c->in.r = c->in.w = 0;
	n = fill(&c->ep, &c->in, SIZE_MAX, 0);
	c->in.r = c->in.w = 0;
	if (n < 0)
		client_close(c);
	return n > 0;
}

/*
 * Move the connection on as far as it goes now. At most DRIVE_STEPS steps
 * at a time, so that one busy transfer cannot starve the others; one that
 * could go on is queued to be driven again after the batch (its sockets
 * are edge-triggered: no new event would come for what is already there).
 */
static void drive(struct client *c)
{
	int i;

	for (i = 0; i < DRIVE_STEPS && !c->ep.dead; i++) {
		int progress = 0;

		switch (c->state) {
		case C_HEAD:
			progress = step_head(c);
			break;
		case C_PROXY:
			progress = step_proxy(c);
			break;
		case C_TUNNEL:
			progress = step_tunnel(c);
			break;
		case C_LINGER:
			progress = step_linger(c);
			break;
		}
		if (!progress)
			break;
	}
	if (i == DRIVE_STEPS && !c->ep.dead && !c->queued) {
		c->queued = 1;
		c->next_ready = c->w->ready;
		c->w->ready = c;
	}
}

static void ep_events(struct ep *e, uint32_t ev)
{
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		e->can_read = 1;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		e->can_write = 1;
	if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		e->rdhup = 1;
}

static void on_client(struct client *c, uint32_t ev)
{
	ep_events(&c->ep, ev);
	if (ev & EPOLLERR)
		c->error = 1;
	drive(c);
}

static void on_upstream(struct upstream *u, uint32_t ev)
{
	struct client *c = u->c;

	if (!c) {
		/* Idle: the app closed it or spoke out of turn. */
		if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			up_close(u);
		return;
	}
	ep_events(&u->ep, ev);
	if (!u->connected) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(u->ep.fd, SOL_SOCKET, SO_ERROR, &err, &len) <
			    0 ||
		    err) {
			up_gone(c, 1);
			drive(c);
			return;
		}
		u->connected = 1;
		set_timer(c, T_ANSWER, ANSWER_TIMEOUT_MS);
	}
	drive(c);
}

/* ---- accepting ---------------------------------------------------------- */

static void client_new(struct worker *w, int fd, const struct sockaddr *sa)
{
	struct client *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->ep.kind = K_CLIENT;
	c->ep.fd = fd;
	c->w = w;
	iob_init(&c->in, IN_MAX);
	iob_init(&c->out, OUT_MAX);
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  c->peer, sizeof(c->peer));
	else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		/* An IPv4 client on a dual-stack socket: say it as IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], c->peer,
				  sizeof(c->peer));
		else
			inet_ntop(AF_INET6, a, c->peer, sizeof(c->peer));
	}
	c->ep.can_write = 1;
	if (watch_fd(w, &c->ep, SOCKET_EVENTS) < 0) {
		close(fd);
		iob_release(&c->in);
		iob_release(&c->out);
		free(c);
		return;
	}
	atomic_fetch_add(&w->f->live, 1);
	c->next = w->clients;
	if (c->next)
		c->next->prev = c;
	w->clients = c;
	set_timer(c, T_HEAD, HEAD_TIMEOUT_MS);
}

static void listen_pause(struct worker *w)
{
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen.fd, NULL);
	w->listen_resume = w->now + ACCEPT_PAUSE_MS;
}

static void on_accept(struct worker *w)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(w->listen.fd, (struct sockaddr *)&sa, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == ECONNABORTED || errno == EINTR ||
			    errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				wl_warn("apiserver: cannot accept: %s; "
					"pausing for %d ms",
					strerror(errno), ACCEPT_PAUSE_MS);
				listen_pause(w);
			}
			return;
		}
		if (atomic_load(&w->f->live) >= w->f->max_live) {
			close(fd); /* at capacity: shed load at once */
			continue;
		}
		if (w->f->guard &&
		    wl_peer_guard_refuses((const struct sockaddr *)&sa)) {
			close(fd); /* a worklet container: see peer_guard.h */
			continue;
		}
		client_new(w, fd, (struct sockaddr *)&sa);
	}
}

/* ---- the worker loop ---------------------------------------------------- */

static void on_timeout(struct client *c)
{
	enum timer t = c->timer;

	set_timer(c, T_NONE, 0);
	switch (t) {
	case T_CONNECT:
		fail(c, 502, "bad gateway: app not reachable");
		break;
	case T_ANSWER:
		fail(c, 504, "gateway timeout: the app did not answer");
		break;
	default:
		client_close(c);
		return;
	}
	drive(c);
}

static void sweep(struct worker *w)
{
	struct client *c, *cnext;
	struct upstream *u, *unext;

	for (c = w->clients; c; c = cnext) {
		cnext = c->next;
		if (c->deadline && w->now >= c->deadline) {
			on_timeout(c);
		} else if (c->peek_deferred) {
			c->peek_deferred = 2;
			drive(c);
		}
	}
	for (u = w->pool; u; u = unext) {
		unext = u->pnext;
		if (w->now - u->idle_since >= POOL_IDLE_MS)
			up_close(u);
	}
	if (w->listen_resume && w->now >= w->listen_resume) {
		w->listen_resume = 0;
		if (watch_fd(w, &w->listen, EPOLLIN | EPOLLEXCLUSIVE) < 0)
			w->listen_resume = w->now + ACCEPT_PAUSE_MS;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[EVENTS_MAX];
	int64_t next_tick;

	w->now = wl_time_mono_ms();
	next_tick = w->now + TICK_MS;
	while (!atomic_load(&w->f->stop)) {
		int timeout = w->ready ? 0 : (int)(next_tick - w->now), n;
		struct client *ready;

		n = epoll_wait(w->epfd, evs, EVENTS_MAX,
			       timeout > 0 ? timeout : 0);
		w->now = wl_time_mono_ms();
		for (int i = 0; i < n; i++) {
			struct ep *e = evs[i].data.ptr;

			if (e->dead)
				continue;
			switch (e->kind) {
			case K_LISTEN:
				on_accept(w);
				break;
			case K_WAKE:
				break; /* stop is set */
			case K_CLIENT:
				on_client((struct client *)e, evs[i].events);
				break;
			case K_UP:
				on_upstream((struct upstream *)e,
					    evs[i].events);
				break;
			}
		}
		ready = w->ready;
		w->ready = NULL;
		while (ready) {
			struct client *c = ready;

			ready = c->next_ready;
			c->queued = 0;
			drive(c);
		}
		if (w->now >= next_tick) {
			sweep(w);
			next_tick = w->now + TICK_MS;
		}
		free_dead(w);
	}
	while (w->clients)
		client_close(w->clients);
	while (w->pool)
		up_close(w->pool);
	free_dead(w);
	return NULL;
}

/* ---- setup -------------------------------------------------------------- */

static int open_listener(const struct wl_config *cfg, int *out)
{
	const char *colon = strrchr(cfg->listen, ':');
	struct addrinfo hints, *res = NULL;
	char host[256], port[16];
	int64_t p;
	int fd = -1, one = 1, r;

	if (!colon || wl_parse_int64(&p, colon + 1, 0, 65535) < 0) {
		wl_error_set("listen address '%s': expected host:port",
			     cfg->listen);
		return WL_EINVALID;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - cfg->listen),
		 cfg->listen);
	snprintf(port, sizeof(port), "%lld", (long long)p);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	r = getaddrinfo(host[0] && strcmp(host, "0.0.0.0") ? host : NULL, port,
			&hints, &res);
	if (r) {
		wl_error_set("cannot listen on '%s': %s", cfg->listen,
			     gai_strerror(r));
		return WL_EINVALID;
	}
	fd = socket(res->ai_family,
		    res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		wl_error_set("cannot listen on '%s': %s", cfg->listen,
			     strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return WL_ERROR;
	}
	freeaddrinfo(res);
	*out = fd;
	return 0;
}

int wl_front_new(struct wl_front **out, const struct wl_front_options *opts)
{
	struct wl_front *f = calloc(1, sizeof(*f));
	struct rlimit rl;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int error;

	if (!f) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	f->o = *opts;
	f->listen_fd = f->wake_fd = -1;
	for (int i = 0; i < THREADS_MAX; i++)
		f->workers[i].epfd = -1;
	/*
	 * One worker per two CPUs: the apps, their clients and lws share the
	 * machine, and a worker with more connections batches more events
	 * per epoll_wait (measured on 2 CPUs: one worker served ~25% more
	 * requests per second than two, at a lower p99).
	 */
	f->nworkers = opts->threads > 0 ? opts->threads : (int)(cpus / 2);
	if (f->nworkers < 1)
		f->nworkers = 1;
	if (f->nworkers > THREADS_MAX)
		f->nworkers = THREADS_MAX;
	/*
	 * Connections that never finish their head are closed after
	 * HEAD_TIMEOUT_MS, but until then each holds a descriptor: the usual
	 * soft limit of 1024 would let a few hundred of them lock everyone
	 * out. Raise it (lws sizes its tables by it, hence the cap). Each
	 * client may need a second descriptor for its app; keep some for
	 * lws, files and Docker.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < NOFILE_WANT &&
	    rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur =
			rl.rlim_max < NOFILE_WANT ? rl.rlim_max : NOFILE_WANT;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	f->max_live = 4096;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		f->max_live = rl.rlim_cur > 512 ? (int)((rl.rlim_cur - 256) / 2)
						: 128;
	if ((error = open_listener(opts->cfg, &f->listen_fd)) < 0)
		goto fail;
	f->guard = !wl_config_listen_is_loopback(opts->cfg);
	f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->wake_fd < 0)
		goto sys_fail;
	for (int i = 0; i < f->nworkers; i++) {
		struct worker *w = &f->workers[i];

		w->f = f;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w->epfd < 0)
			goto sys_fail;
		wl_buf_init(&w->head, 2 * WL_HTTP1_HEAD_MAX + 4096);
		wl_buf_init(&w->tmp, 2 * WL_HTTP1_HEAD_MAX);
		w->listen.kind = K_LISTEN;
		w->listen.fd = f->listen_fd;
		w->wake.kind = K_WAKE;
		w->wake.fd = f->wake_fd;
		if (watch_fd(w, &w->listen, EPOLLIN | EPOLLEXCLUSIVE) < 0 ||
		    watch_fd(w, &w->wake, EPOLLIN) < 0)
			goto sys_fail;
	}
	*out = f;
	return 0;
sys_fail:
	wl_error_set("cannot start the front end: %s", strerror(errno));
	error = WL_ERROR;
fail:
	wl_front_free(f);
	return error;
}

int wl_front_start(struct wl_front *f)
{
	for (int i = 0; i < f->nworkers; i++) {
		if (pthread_create(&f->workers[i].thread, NULL, worker_main,
				   &f->workers[i])) {
			wl_error_set("cannot start a front end thread");
			return WL_ERROR;
		}
		f->workers[i].started = 1;
	}
	return 0;
}

void wl_front_free(struct wl_front *f)
{
	uint64_t one = 1;

	if (!f)
		return;
	atomic_store(&f->stop, 1);
	if (f->wake_fd >= 0 && write(f->wake_fd, &one, sizeof(one)) < 0)
		wl_debug("front end: cannot wake the workers");
	for (int i = 0; i < THREADS_MAX; i++) {
		struct worker *w = &f->workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		if (w->epfd >= 0)
			close(w->epfd);
		wl_buf_release(&w->head);
		wl_buf_release(&w->tmp);
	}
	if (f->listen_fd >= 0)
		close(f->listen_fd);
	if (f->wake_fd >= 0)
		close(f->wake_fd);
	free(f);
}
