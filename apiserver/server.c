/*
 * DESIGN: threads.
 *  - The front end threads (front.c) own the listening socket: they serve
 *    proxy requests themselves and hand every other connection to lws
 *    through `adopt_lock`'s queue and lws_cancel_service(); the service
 *    loop adopts them between two lws_service() rounds (adopt_pending).
 *    The route cache (route.c) is shared with them under its own lock.
 *  - The libwebsockets service thread runs every callback below, the REST
 *    handlers (api.c), the lws proxy bridge (proxy.c: proxy requests on
 *    connections lws already owns) and the watch streams (watch.c). It
 *    never waits on Docker, git or the network; the list of log followers
 *    is its own, unlocked.
 *  - One job thread runs the few blocking calls a request needs (the app's
 *    logs from Docker). Jobs and results pass through a list under
 *    `job_lock`; a finished job wakes the service thread with
 *    lws_cancel_service() and is picked up in EVENT_WAIT_CANCELLED (Redis
 *    bio.c's pattern). A job whose connection closed first is only freed.
 *  - A create or PUT whose repository host is a name (git_policy.h) waits
 *    for its addresses: a detached thread per lookup (at most LOOKUP_MAX)
 *    runs getaddrinfo and hands the job back through the same done list;
 *    the request is then handled again with the answer. The server waits
 *    for them (lookup_threads, under job_lock) like for the followers.
 *  - One thread per `logs?follow=1` stream fills that stream's bounded
 *    buffer (its own lock, refcounted with the connection); the server
 *    waits for them (follow_threads, under job_lock) before it destroys
 *    the context they wake.
 *  - The events watcher thread (events.c) and the app log followers
 *    (applogs.c) publish into the event ring and wake the service thread
 *    the same way.
 * `stop` is set by any thread and read by the service loop.
 */
#include "apiserver/server.h"

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "apiserver/api.h"
#include "apiserver/applogs.h"
#include "apiserver/auth.h"
#include "apiserver/events.h"
#include "apiserver/front.h"
#include "apiserver/http.h"
#include "apiserver/metrics.h"
#include "apiserver/proxy.h"
#include "apiserver/query.h"
#include "apiserver/route.h"
#include "apiserver/session.h"
#include "apiserver/watch.h"
#include "apiserver/webui.h"
#include "controller/ctl_metrics.h"
#include "controller/docker_client.h"
#include "specs/codec.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/log.h"
#include "specs/core/timeutil.h"
#include "specs/core/parse.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

#define API_PREFIX "/api/worklet/"
#define WORKLETS WL_ROUTE_WORKLETS
#define URI_MAX 4096
#define LOG_TAIL_DEFAULT 200
#define LOG_TAIL_MAX 10000

struct job;

/* A connection the front end hands to lws. */
struct adoption {
	struct adoption *next;
	int fd;
};

struct wl_apiserver {
	const struct wl_config *cfg;
	struct wl_store store;
	struct wl_auth *auth;
	struct wl_route_cache *routes;
	struct wl_events *events;
	struct wl_applogs *applogs;
	struct wl_front *front;
	char csp[512]; /* the dashboard's Content-Security-Policy */
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	volatile int stop;

	pthread_mutex_t adopt_lock; /* guards adopt_head, adopt_tail */
	struct adoption *adopt_head, *adopt_tail;

	struct follow *follows; /* live log streams (service thread's list) */
	int follow_count;
	int follow_threads; /* running; under job_lock, signalled on job_cond */
	int lookup_threads; /* the same, for address lookups */

	pthread_t job_thread;
	int job_started;
	pthread_mutex_t job_lock;
	pthread_cond_t job_cond;
	struct job *queued, *done;
};

/* A REST exchange in progress. */
struct api_state {
	char method[8];
	char path[URI_MAX];
	char query[URI_MAX];
	int has_query;
	struct wl_buf body;
	int body_too_big;
	struct wl_api_response rs;
	int responded; /* rs is final; write it when writeable */
	int headers_sent;
	size_t sent;
	int close_after;
	const struct wl_webui_asset *asset; /* a dashboard file, or NULL */
	char location[1024];		    /* a redirect's target, or "" */
	char set_cookie[WL_AUTH_TICKET_MAX + 128]; /* or "" */
	struct job *job;
	/* create, PUT: the repository host's addresses, once looked up */
	struct wl_git_lookup lookup;
	int looked_up;
	/* POST /pr: waiting for the controller (see pr_tick) */
	lws_sorted_usec_list_t pr_sul;
	struct lws_context *cx;
	struct lws *wsi;
	int pr_waiting;
	int64_t pr_deadline; /* monotonic ms */
	char user[WL_USER_MAX + 1];
};

/*
 * GET /logs?follow=1: a thread follows the container's output into a
 * bounded buffer; the service thread drains it to the client in chunks.
 * Shared by the two (refs under lock): whoever drops the last reference
 * frees it.
 */
#define PR_POLL_MS 100
#define PR_WAIT_MS (120 * 1000)
#define FOLLOW_MAX 64
#define LOOKUP_MAX 16
#define FOLLOW_BUFFER (1 << 20)

struct follow {
	struct follow *next; /* in the server's list, service thread only */
	struct wl_apiserver *server;
	struct lws *wsi; /* NULL once the client is gone */
	pthread_mutex_t lock;
	struct wl_buf pending;
	size_t dropped; /* bytes lost to a client slower than the app */
	int refs;
	int done; /* the follow thread has finished */
	int error;
	char message[256];
	volatile int cancel;
	char container_id[80];
	int tail;
	int headers_sent, finished;
};

/* The blocking part of GET /logs, or of an address lookup. */
enum job_kind { JOB_LOGS = 0, JOB_LOOKUP };

struct job {
	struct job *next;
	enum job_kind kind;
	struct wl_git_lookup lookup; /* JOB_LOOKUP */
	struct wl_apiserver *server;
	struct lws *wsi;
	struct api_state *owner; /* NULL once the connection closed */
	char container_id[80];
	int tail;
	struct wl_buf out;
	int error;
	char message[512];
	cJSON *answer; /* the build part, ready; the app's output is added */
};

static struct wl_apiserver *server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* ---- responses ---------------------------------------------------------- */

static struct api_state *api_state_new(void)
{
	struct api_state *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	wl_buf_init(&a->body, 0);
	wl_api_response_init(&a->rs);
	return a;
}

static void api_state_free(struct api_state *a)
{
	if (!a)
		return;
	if (a->job)
		a->job->owner = NULL; /* the job thread frees it later */
	if (a->pr_waiting)
		lws_sul_schedule(a->cx, 0, &a->pr_sul, NULL,
				 LWS_SET_TIMER_USEC_CANCEL);
	wl_buf_release(&a->body);
	wl_api_response_release(&a->rs);
	OPENSSL_cleanse(a->set_cookie, sizeof(a->set_cookie));
	free(a);
}

static int begin_api(struct lws *wsi, struct wl_session *s)
{
	struct api_state *a = api_state_new();

	if (!a)
		return -1;
	s->kind = WL_SESSION_API;
	s->impl = a;
	(void)wsi;
	return 0;
}

/* The response is ready: send it when the socket can take it. */
static void respond(struct lws *wsi, struct api_state *a)
{
	a->responded = 1;
	atomic_fetch_add(&wl_metrics.http_requests, 1);
	if (a->rs.status >= 400)
		atomic_fetch_add(&wl_metrics.http_errors, 1);
	lws_callback_on_writable(wsi);
}

/* A whole response without a session of its own (before routing). */
static int respond_now(struct lws *wsi, struct wl_session *s, int status,
		       const char *code, const char *message)
{
	struct api_state *a;

	if (!s->impl && begin_api(wsi, s) < 0)
		return -1;
	a = s->impl;
	wl_api_error(&a->rs, status, code, "%s", message);
	respond(wsi, a);
	return 0;
}

static int add_header(struct lws *wsi, const char *name, const char *value,
		      unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
					   (const unsigned char *)value,
					   (int)strlen(value), p, end);
}

/* A dashboard file (webui.h): cacheable, revalidated by its ETag. */
static int write_asset_headers(struct lws *wsi, struct api_state *a,
			       unsigned char *start, unsigned char **p,
			       unsigned char *end)
{
	struct wl_apiserver *srv = server_of(wsi);

	if (lws_add_http_common_headers(wsi, (unsigned)a->rs.status,
					a->asset->content_type, a->rs.body.len,
					p, end) ||
	    add_header(wsi, "etag:", a->asset->etag, p, end) ||
	    add_header(wsi, "cache-control:", "no-cache", p, end) ||
	    add_header(wsi, "x-content-type-options:", "nosniff", p, end) ||
	    add_header(wsi, "x-frame-options:", "DENY", p, end) ||
	    add_header(wsi, "referrer-policy:", "no-referrer", p, end) ||
	    add_header(wsi, "content-security-policy:", srv->csp, p, end) ||
	    lws_finalize_write_http_header(wsi, start, p, end))
		return -1;
	return 0;
}

static int write_api(struct lws *wsi, struct api_state *a)
{
	unsigned char buf[LWS_PRE + 16384];
	unsigned char *start = buf + LWS_PRE, *p = start,
		      *end = buf + sizeof(buf) - 1;
	size_t left, n;
	int final;

	if (!a->responded)
		return 0;
	if (!a->headers_sent && a->asset) {
		if (write_asset_headers(wsi, a, start, &p, end) < 0)
			return -1;
		a->headers_sent = 1;
		if (a->rs.body.len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	if (!a->headers_sent) {
		if (lws_add_http_common_headers(wsi, (unsigned)a->rs.status,
						a->rs.content_type,
						a->rs.body.len, &p, end) ||
		    lws_add_http_header_by_name(
			    wsi, (const unsigned char *)"cache-control:",
			    (const unsigned char *)"no-store", 8, &p, end) ||
		    lws_add_http_header_by_name(
			    wsi,
			    (const unsigned char *)"x-content-type-options:",
			    (const unsigned char *)"nosniff", 7, &p, end) ||
		    lws_add_http_header_by_name(
			    wsi, (const unsigned char *)"x-frame-options:",
			    (const unsigned char *)"DENY", 4, &p, end) ||
		    lws_add_http_header_by_name(
			    wsi,
			    (const unsigned char *)"content-security-policy:",
			    (const unsigned char *)"default-src 'none'", 18, &p,
			    end))
			return -1;
		if (a->location[0] &&
		    add_header(wsi, "location:", a->location, &p, end))
			return -1;
		if (a->set_cookie[0] &&
		    add_header(wsi, "set-cookie:", a->set_cookie, &p, end))
			return -1;
		if (a->rs.allow[0] &&
		    lws_add_http_header_by_name(
			    wsi, (const unsigned char *)"allow:",
			    (const unsigned char *)a->rs.allow,
			    (int)strlen(a->rs.allow), &p, end))
			return -1;
		if (a->close_after &&
		    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
						 (const unsigned char *)"close",
						 5, &p, end))
			return -1;
		if (lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		a->headers_sent = 1;
		if (a->rs.body.len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	left = a->rs.body.len - a->sent;
	n = left < sizeof(buf) - LWS_PRE - 1 ? left : sizeof(buf) - LWS_PRE - 1;
	final = n == left;
	if (n)
		memcpy(start, a->rs.body.ptr + a->sent, n);
	if (lws_write(wsi, start, n,
		      final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	a->sent += n;
	if (!final) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (a->close_after)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- request details ------------------------------------------------------
 */

/* A header's value, or NULL when absent (or too long for out). */
static const char *header(struct lws *wsi, enum lws_token_indexes token,
			  char *out, int n)
{
	if (lws_hdr_total_length(wsi, token) <= 0 ||
	    lws_hdr_copy(wsi, out, n, token) < 0)
		return NULL;
	return out;
}

static const char *custom_header(struct lws *wsi, const char *name, char *out,
				 int n)
{
	int len = lws_hdr_custom_length(wsi, name, (int)strlen(name));

	if (len <= 0 || len >= n ||
	    lws_hdr_custom_copy(wsi, out, n, name, (int)strlen(name)) < 0)
		return NULL;
	return out;
}

/* The raw query string: lws splits it into '&'-separated fragments. */
static int query_of(struct lws *wsi, char *out, size_t n)
{
	size_t used = 0;
	int count = 0;

	out[0] = '\0';
	for (int i = 0;; i++) {
		char frag[1024];
		int len = lws_hdr_copy_fragment(wsi, frag, sizeof(frag),
						WSI_TOKEN_HTTP_URI_ARGS, i);

		if (len < 0)
			break;
		if (used + (size_t)len + 2 > n)
			return -1;
		if (count++)
			out[used++] = '&';
		memcpy(out + used, frag, (size_t)len);
		used += (size_t)len;
		out[used] = '\0';
	}
	return count;
}

/*
 * 1 if the request's Origin is its own Host (http or https): a page of
 * ours, not another site's (browsers send Origin on every WebSocket).
 */
static int same_origin(struct lws *wsi)
{
	char origin[512], host[256];
	const char *o;

	if (!header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)) ||
	    !header(wsi, WSI_TOKEN_HOST, host, sizeof(host)))
		return 0;
	o = origin;
	if (!strncasecmp(o, "http://", 7))
		o += 7;
	else if (!strncasecmp(o, "https://", 8))
		o += 8;
	else
		return 0;
	return !strcasecmp(o, host);
}

/* Authenticate from the request headers; the message says why not. */
static int authenticate(struct lws *wsi, struct wl_session *s)
{
	struct wl_apiserver *srv = server_of(wsi);
	char authz[1024], user[WL_USER_MAX + 1], proto[1024];
	const char *a, *u, *p;

	a = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, authz, sizeof(authz));
	u = custom_header(wsi, "x-user-id:", user, sizeof(user));
	p = header(wsi, WSI_TOKEN_PROTOCOL, proto, sizeof(proto));
	if (!a && p && wl_auth_bearer_protocol(proto, authz, sizeof(authz)))
		a = authz;
	/* A browser's WebSocket cannot send X-User-ID (dashboard, dev mode). */
	if (!a && !u && p && wl_auth_trusts_header(srv->auth) &&
	    same_origin(wsi) &&
	    wl_auth_user_protocol(proto, user, sizeof(user)))
		u = user;
	return wl_auth_check(srv->auth, a, u, s->user, sizeof(s->user));
}

/* Where the client thinks it is (auth.h). */
static void request_origin(struct lws *wsi, struct wl_origin *o)
{
	struct wl_apiserver *srv = server_of(wsi);
	char peer[128], host[256], xfp[64], xfh[256];
	const char *pp = peer;

	peer[0] = '\0';
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	if (!strncmp(peer, "::ffff:", 7))
		pp = peer + 7;
	wl_auth_origin(
		srv->auth, pp, header(wsi, WSI_TOKEN_HOST, host, sizeof(host)),
		custom_header(wsi, "x-forwarded-proto:", xfp, sizeof(xfp)),
		custom_header(wsi, "x-forwarded-host:", xfh, sizeof(xfh)), o);
}

/*
 * A request for an app on its own host: its own credentials when it has
 * any, else the app's session cookie (auth.h).
 */
static int authenticate_app(struct lws *wsi, struct wl_session *s,
			    const char *id)
{
	struct wl_apiserver *srv = server_of(wsi);
	char tmp[1024], cookie[4096];
	const char *c;
	size_t len;

	if (header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, tmp, sizeof(tmp)) ||
	    custom_header(wsi, "x-user-id:", tmp, sizeof(tmp)) ||
	    (header(wsi, WSI_TOKEN_PROTOCOL, tmp, sizeof(tmp)) &&
	     strstr(tmp, "bearer.")))
		return authenticate(wsi, s);
	c = header(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof(cookie));
	len = c ? strlen(c) : 0;
	return wl_auth_session_check(srv->auth, &c, &len, c ? 1 : 0, id,
				     (int64_t)time(NULL), s->user,
				     sizeof(s->user));
}

/* ---- routing --------------------------------------------------------------
 */

enum route {
	ROUTE_NONE,
	ROUTE_API,
	ROUTE_PROXY,
	ROUTE_WATCH,
	ROUTE_LOGS,
	ROUTE_PREVIEW, /* POST: a preview ticket */
};

/*
 * Classify a path under /api/worklet/. For proxy routes *rest points at
 * what follows ".../proxy" ("" or "/..."), and id receives the worklet id.
 */
static enum route classify(const char *path, char *id, size_t n,
			   const char **rest)
{
	const char *p, *slash;
	size_t off;

	id[0] = '\0';
	if (!strcmp(path, "/api/worklet/watch"))
		return ROUTE_WATCH;
	if (wl_route_proxy_path(path, strlen(path), id, n, &off)) {
		*rest = path + off;
		return ROUTE_PROXY;
	}
	if (strncmp(path, WORKLETS, strlen(WORKLETS)))
		return ROUTE_API;
	p = path + strlen(WORKLETS);
	slash = strchr(p, '/');
	if (!slash || slash == p || (size_t)(slash - p) >= n)
		return ROUTE_API;
	memcpy(id, p, (size_t)(slash - p));
	id[slash - p] = '\0';
	if (!strcmp(slash, "/watch"))
		return ROUTE_WATCH;
	if (!strcmp(slash, "/logs"))
		return ROUTE_LOGS;
	if (!strcmp(slash, "/preview"))
		return ROUTE_PREVIEW;
	return ROUTE_API;
}

/* A friendly page for a worklet that is not serving right now. */
static int not_serving(struct lws *wsi, struct wl_session *s,
		       const struct wl_route *r)
{
	struct api_state *a;

	if (!s->impl && begin_api(wsi, s) < 0)
		return -1;
	a = s->impl;
	a->rs.status = 503;
	a->rs.content_type = "text/plain; charset=utf-8";
	wl_buf_reset(&a->rs.body);
	wl_route_not_serving_text(r, &a->rs.body);
	atomic_fetch_add(&wl_metrics.proxy_errors, 1);
	respond(wsi, a);
	return 0;
}

/*
 * Route to a worklet's app after the ownership check. path_rest is what
 * the app sees (with the query).
 */
static int route_proxy(struct lws *wsi, struct wl_session *s, const char *id,
		       const char *prefix, const char *path_rest, int is_ws)
{
	struct wl_apiserver *srv = server_of(wsi);
	struct wl_proxy_target t;
	struct wl_route r;

	if (wl_route_lookup(srv->routes, id, s->user, &r) < 0)
		return is_ws ? -1
			     : respond_now(wsi, s, 404, "not_found",
					   "worklet not found");
	if (!wl_route_serving(&r))
		return is_ws ? -1 : not_serving(wsi, s, &r);
	memset(&t, 0, sizeof(t));
	snprintf(t.worklet_id, sizeof(t.worklet_id), "%s", id);
	t.port = r.port;
	t.prefix = prefix;
	t.host_routed = prefix[0] == '\0';
	{
		struct wl_origin o;

		request_origin(wsi, &o);
		snprintf(t.proto, sizeof(t.proto), "%s", o.scheme);
	}
	snprintf(s->worklet_id, sizeof(s->worklet_id), "%s", id);
	atomic_fetch_add(&wl_metrics.proxy_requests, 1);
	if (wl_proxy_begin(wsi, s, &t, path_rest, is_ws) < 0) {
		atomic_fetch_add(&wl_metrics.proxy_errors, 1);
		return is_ws ? -1
			     : respond_now(wsi, s, 502, "bad_gateway",
					   wl_error_last());
	}
	return 0;
}

/* ---- /healthz and /metrics --------------------------------------------------
 */

static void metrics_text(struct wl_apiserver *srv, struct wl_buf *b)
{
	static const char *const phases[] = { "creating",  "building",
					      "deploying", "running",
					      "stopped",   "error" };
	size_t per_phase[6] = { 0 };
	char **ids = NULL;
	size_t n = 0;

	if (wl_store_list(&srv->store, 0, &ids, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct wl_worklet w;
			int ph;

			wl_worklet_init(&w);
			wl_store_read_status(&srv->store, ids[i], &w);
			ph = w.status.phase == WL_PHASE_NONE
				     ? WL_PHASE_CREATING
				     : (int)w.status.phase;
			per_phase[ph - 1]++;
			wl_worklet_release(&w);
		}
		wl_store_free_ids(ids, n);
	}
	wl_buf_puts(b, "# HELP worklet_worklets Worklets by phase.\n"
		       "# TYPE worklet_worklets gauge\n");
	for (int i = 0; i < 6; i++)
		wl_buf_printf(b, "worklet_worklets{phase=\"%s\"} %zu\n",
			      phases[i], per_phase[i]);
#define COUNTER(name, help, value)                                             \
	wl_buf_printf(b,                                                       \
		      "# HELP " name " " help "\n# TYPE " name                 \
		      " counter\n" name " %llu\n",                             \
		      (unsigned long long)(value))
	COUNTER("worklet_http_requests_total", "API requests answered.",
		atomic_load(&wl_metrics.http_requests));
	COUNTER("worklet_http_errors_total", "API answers with status >= 400.",
		atomic_load(&wl_metrics.http_errors));
	COUNTER("worklet_proxy_requests_total", "Requests proxied to apps.",
		atomic_load(&wl_metrics.proxy_requests));
	COUNTER("worklet_proxy_errors_total", "Proxy answers 502/503/504.",
		atomic_load(&wl_metrics.proxy_errors));
	COUNTER("worklet_proxy_bytes_in_total", "Bytes from clients to apps.",
		atomic_load(&wl_metrics.proxy_bytes_in));
	COUNTER("worklet_proxy_bytes_out_total", "Bytes from apps to clients.",
		atomic_load(&wl_metrics.proxy_bytes_out));
	COUNTER("worklet_proxy_websockets_total", "Proxied WebSocket sessions.",
		atomic_load(&wl_metrics.proxy_ws_sessions));
	COUNTER("worklet_events_total", "Status events published.",
		atomic_load(&wl_metrics.events_published));
	COUNTER("worklet_ws_slow_disconnects_total",
		"Watch clients closed for being too slow.",
		atomic_load(&wl_metrics.ws_slow_disconnects));
	wl_buf_printf(b,
		      "# HELP worklet_ws_clients Watch streams open.\n"
		      "# TYPE worklet_ws_clients gauge\nworklet_ws_clients "
		      "%lld\n",
		      (long long)atomic_load(&wl_metrics.ws_clients));
	if (atomic_load(&wl_ctl_metrics.running)) {
		COUNTER("worklet_reconciles_total", "Reconcile passes.",
			atomic_load(&wl_ctl_metrics.reconciles));
		COUNTER("worklet_reconcile_errors_total",
			"Reconcile passes that will be retried.",
			atomic_load(&wl_ctl_metrics.reconcile_errors));
		wl_buf_printf(
			b,
			"# HELP worklet_reconcile_seconds Time in reconcile.\n"
			"# TYPE worklet_reconcile_seconds summary\n"
			"worklet_reconcile_seconds_sum %.3f\n"
			"worklet_reconcile_seconds_count %llu\n",
			(double)atomic_load(&wl_ctl_metrics.reconcile_ms_sum) /
				1000.0,
			(unsigned long long)atomic_load(
				&wl_ctl_metrics.reconciles));
		COUNTER("worklet_builds_total", "Image builds started.",
			atomic_load(&wl_ctl_metrics.builds));
		COUNTER("worklet_build_failures_total", "Image builds failed.",
			atomic_load(&wl_ctl_metrics.build_failures));
		COUNTER("worklet_app_restarts_total", "Crashed apps restarted.",
			atomic_load(&wl_ctl_metrics.app_restarts));
		wl_buf_printf(
			b,
			"# HELP worklet_image_bytes Disk of this instance's "
			"images, build caches included (last resync).\n"
			"# TYPE worklet_image_bytes gauge\n"
			"worklet_image_bytes %lld\n"
			"# HELP worklet_images This instance's images, build "
			"step images included (last resync).\n"
			"# TYPE worklet_images gauge\nworklet_images %lld\n",
			(long long)atomic_load(&wl_ctl_metrics.image_bytes),
			(long long)atomic_load(&wl_ctl_metrics.images));
	}
#undef COUNTER
}

/* ---- the job thread (GET /logs) ------------------------------------------ */

static void *job_main(void *arg)
{
	struct wl_apiserver *srv = arg;
	struct wl_docker *d = NULL;

	if (wl_docker_new(&d, srv->cfg->docker_host) < 0)
		wl_err("api jobs: %s", wl_error_last());
	pthread_mutex_lock(&srv->job_lock);
	while (!srv->stop) {
		struct job *j = srv->queued;

		if (!j) {
			pthread_cond_wait(&srv->job_cond, &srv->job_lock);
			continue;
		}
		srv->queued = j->next;
		pthread_mutex_unlock(&srv->job_lock);

		j->error = 0;
		if (j->container_id[0] && d) {
			j->error = wl_docker_container_logs(d, j->container_id,
							    j->tail, &j->out);
			if (j->error < 0)
				snprintf(j->message, sizeof(j->message), "%s",
					 wl_error_last());
		}
		pthread_mutex_lock(&srv->job_lock);
		j->next = srv->done;
		srv->done = j;
		lws_cancel_service(srv->ctx);
	}
	pthread_mutex_unlock(&srv->job_lock);
	wl_docker_free(d);
	return NULL;
}

static void job_free(struct job *j)
{
	cJSON_Delete(j->answer);
	wl_buf_release(&j->out);
	free(j);
}

static void run_api(struct lws *wsi, struct api_state *a);

/* On the service thread: answer the requests whose jobs finished. */
static void jobs_collect(struct wl_apiserver *srv)
{
	struct job *list, *next;

	pthread_mutex_lock(&srv->job_lock);
	list = srv->done;
	srv->done = NULL;
	pthread_mutex_unlock(&srv->job_lock);
	for (struct job *j = list; j; j = next) {
		struct api_state *a = j->owner;
		cJSON *o;
		char *text;

		next = j->next;
		if (!a) {
			job_free(j);
			continue;
		}
		a->job = NULL;
		if (j->kind == JOB_LOOKUP) {
			a->lookup = j->lookup;
			a->looked_up = 1;
			run_api(j->wsi, a);
			job_free(j);
			continue;
		}
		o = j->answer;
		cJSON_AddStringToObject(o, "app_logs", wl_buf_cstr(&j->out));
		if (j->error < 0)
			cJSON_AddStringToObject(o, "app_logs_error",
						j->message);
		text = cJSON_PrintUnformatted(o);
		wl_buf_reset(&a->rs.body);
		if (!text || wl_buf_puts(&a->rs.body, text) < 0 ||
		    wl_buf_putc(&a->rs.body, '\n') < 0)
			wl_api_error(&a->rs, 500, "internal",
				     "cannot encode the response");
		free(text);
		respond(j->wsi, a);
		job_free(j);
	}
}

/* ---- GET /logs?follow=1 ------------------------------------------------- */

static void follow_unref(struct follow *f)
{
	int refs;

	pthread_mutex_lock(&f->lock);
	refs = --f->refs;
	pthread_mutex_unlock(&f->lock);
	if (refs)
		return;
	wl_buf_release(&f->pending);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static void on_follow_output(void *ctx, const char *data, size_t len)
{
	struct follow *f = ctx;

	pthread_mutex_lock(&f->lock);
	if (wl_buf_add(&f->pending, data, len) < 0)
		f->dropped +=
			len; /* the client reads slower than the app logs */
	pthread_mutex_unlock(&f->lock);
	lws_cancel_service(f->server->ctx);
}

static void *follow_main(void *arg)
{
	struct follow *f = arg;
	struct wl_docker *d = NULL;
	int error;

	if ((error = wl_docker_new(&d, f->server->cfg->docker_host)) == 0)
		error = wl_docker_container_logs_follow(
			d, f->container_id, f->tail, 0, on_follow_output, f,
			&f->cancel);
	pthread_mutex_lock(&f->lock);
	f->done = 1;
	f->error = error == WL_ECANCELED ? 0 : error;
	if (f->error < 0)
		snprintf(f->message, sizeof(f->message), "%s", wl_error_last());
	pthread_mutex_unlock(&f->lock);
	wl_docker_free(d);
	lws_cancel_service(f->server->ctx);
	{
		struct wl_apiserver *srv = f->server;

		follow_unref(f);
		/* Last: after this the server may destroy its context. */
		pthread_mutex_lock(&srv->job_lock);
		srv->follow_threads--;
		pthread_cond_broadcast(&srv->job_cond);
		pthread_mutex_unlock(&srv->job_lock);
	}
	return NULL;
}

/* Service thread: ask for a write where output or the end is waiting. */
static void follows_wake(struct wl_apiserver *srv)
{
	for (struct follow *f = srv->follows; f; f = f->next) {
		int ready;

		pthread_mutex_lock(&f->lock);
		ready = f->pending.len || f->done || f->dropped;
		pthread_mutex_unlock(&f->lock);
		if (ready && f->wsi)
			lws_callback_on_writable(f->wsi);
	}
}

static void follow_detach(struct wl_apiserver *srv, struct follow *f)
{
	for (struct follow **pp = &srv->follows; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			srv->follow_count--;
			break;
		}
	}
	f->wsi = NULL;
	f->cancel = 1;
	follow_unref(f);
}

/* Write one chunk of a chunked response body ("" ends it). */
static int write_chunk(struct lws *wsi, const char *data, size_t len)
{
	unsigned char buf[LWS_PRE + 16 + 16384 + 2];
	unsigned char *start = buf + LWS_PRE;
	int n = snprintf((char *)start, 16 + 1, "%zx\r\n", len);

	memcpy(start + n, data, len);
	memcpy(start + n + len, "\r\n", 2);
	n += (int)len + 2;
	return lws_write(wsi, start, (size_t)n, LWS_WRITE_HTTP) == n ? 0 : -1;
}

static int write_follow(struct lws *wsi, struct wl_session *s)
{
	struct follow *f = s->impl;
	char chunk[16384];
	size_t n = 0, dropped;
	int done;

	if (!f->headers_sent) {
		unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE,
						   *p = start,
						   *end = buf + sizeof(buf) - 1;

		if (lws_add_http_header_status(wsi, 200, &p, end) ||
		    lws_add_http_header_by_token(
			    wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
			    (const unsigned char *)"text/plain; charset=utf-8",
			    25, &p, end) ||
		    lws_add_http_header_by_token(
			    wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
			    (const unsigned char *)"chunked", 7, &p, end) ||
		    lws_add_http_header_by_name(
			    wsi, (const unsigned char *)"cache-control:",
			    (const unsigned char *)"no-store", 8, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		f->headers_sent = 1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	pthread_mutex_lock(&f->lock);
	dropped = f->dropped;
	f->dropped = 0;
	if (!dropped) {
		n = f->pending.len < sizeof(chunk) ? f->pending.len
						   : sizeof(chunk);
		if (n) {
			memcpy(chunk, f->pending.ptr, n);
			wl_buf_consume(&f->pending, n);
		}
	}
	done = f->done && !f->pending.len;
	pthread_mutex_unlock(&f->lock);
	if (dropped)
		n = (size_t)snprintf(chunk, sizeof(chunk),
				     "\n[worklet: %zu bytes of output skipped: "
				     "the client reads too slowly]\n",
				     dropped);
	if (n && write_chunk(wsi, chunk, n) < 0)
		return -1;
	if (done && !dropped) {
		if (f->error < 0) {
			n = (size_t)snprintf(chunk, sizeof(chunk),
					     "\n[worklet: %s]\n", f->message);
			if (write_chunk(wsi, chunk, n) < 0)
				return -1;
		}
		f->finished = 1;
		if (write_chunk(wsi, "", 0) < 0)
			return -1;
		return -1; /* the stream is over: close */
	}
	if (n || dropped)
		lws_callback_on_writable(wsi);
	return 0;
}

static int start_follow(struct lws *wsi, struct wl_session *s,
			const char *container_id, int tail)
{
	struct wl_apiserver *srv = server_of(wsi);
	struct follow *f;
	pthread_t t;

	if (srv->follow_count >= FOLLOW_MAX)
		return respond_now(wsi, s, 429, "too_many_followers",
				   "too many log streams are open; try later");
	if (!container_id || !*container_id)
		return respond_now(wsi, s, 409, "not_running",
				   "the app has no container to follow yet");
	f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	pthread_mutex_init(&f->lock, NULL);
	wl_buf_init(&f->pending, FOLLOW_BUFFER);
	f->server = srv;
	f->wsi = wsi;
	f->refs = 2; /* the session and the thread */
	f->tail = tail;
	snprintf(f->container_id, sizeof(f->container_id), "%s", container_id);
	pthread_mutex_lock(&srv->job_lock);
	srv->follow_threads++;
	pthread_mutex_unlock(&srv->job_lock);
	if (pthread_create(&t, NULL, follow_main, f)) {
		pthread_mutex_lock(&srv->job_lock);
		srv->follow_threads--;
		pthread_mutex_unlock(&srv->job_lock);
		wl_buf_release(&f->pending);
		pthread_mutex_destroy(&f->lock);
		free(f);
		return respond_now(wsi, s, 503, "unavailable",
				   "cannot start a log stream");
	}
	pthread_detach(t);
	/* The API state made for routing is not needed any more. */
	api_state_free(s->impl);
	s->kind = WL_SESSION_STREAM;
	s->impl = f;
	f->next = srv->follows;
	srv->follows = f;
	srv->follow_count++;
	lws_callback_on_writable(wsi);
	return 0;
}

static int handle_logs(struct lws *wsi, struct wl_session *s, const char *id,
		       const char *query)
{
	struct wl_apiserver *srv = server_of(wsi);
	struct api_state *a = s->impl;
	struct wl_worklet w;
	struct job *j;
	char tailstr[32];
	int64_t tail = LOG_TAIL_DEFAULT;
	int found;
	struct wl_buf logs;
	cJSON *o;
	char path[4096];

	if ((found = wl_query_param(query, "tail", tailstr, sizeof(tailstr))) <
		    0 ||
	    (found && wl_parse_int64(&tail, tailstr, 0, LOG_TAIL_MAX) < 0))
		return respond_now(wsi, s, 400, "invalid",
				   "tail: must be an integer from 0 to 10000");
	wl_worklet_init(&w);
	if (wl_api_load_owned(&srv->store, id, s->user, &w) < 0) {
		wl_worklet_release(&w);
		return respond_now(wsi, s, 404, "not_found",
				   "worklet not found");
	}
	if (wl_query_param(query, "follow", tailstr, sizeof(tailstr)) == 1 &&
	    !strcmp(tailstr, "1")) {
		int error =
			start_follow(wsi, s, w.status.container_id, (int)tail);

		wl_worklet_release(&w);
		return error;
	}
	o = cJSON_CreateObject();
	if (!o) {
		wl_worklet_release(&w);
		return -1;
	}
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "status",
				w.status.phase ? wl_phase_name(w.status.phase)
					       : "creating");
	wl_buf_init(&logs, 1 << 20);
	snprintf(path, sizeof(path), "%s/%s/build.log", srv->store.logs_dir,
		 id);
	if (wl_fs_read_tail(&logs, path, tail) == 0)
		cJSON_AddStringToObject(o, "build_logs", wl_buf_cstr(&logs));
	else
		cJSON_AddStringToObject(o, "build_logs", "");
	wl_buf_release(&logs);
	if (w.status.last_error)
		cJSON_AddStringToObject(o, "last_error", w.status.last_error);
	else
		cJSON_AddNullToObject(o, "last_error");
	/* The app's own output comes from Docker: a job, not this thread. */
	j = calloc(1, sizeof(*j));
	if (!j) {
		cJSON_Delete(o);
		wl_worklet_release(&w);
		return -1;
	}
	j->answer = o;
	j->server = srv;
	j->wsi = wsi;
	j->owner = a;
	j->tail = (int)tail;
	wl_buf_init(&j->out, 4 << 20);
	snprintf(j->container_id, sizeof(j->container_id), "%s",
		 w.status.container_id ? w.status.container_id : "");
	wl_worklet_release(&w);
	a->job = j;
	pthread_mutex_lock(&srv->job_lock);
	j->next = srv->queued;
	srv->queued = j;
	pthread_cond_signal(&srv->job_cond);
	pthread_mutex_unlock(&srv->job_lock);
	return 0;
}

/* ---- HTTP -------------------------------------------------------------------
 */

static int needs_body(const char *method)
{
	return !strcmp(method, "POST") || !strcmp(method, "PUT") ||
	       !strcmp(method, "PATCH");
}

/*
 * POST /pr, on the service thread: look at the status file every
 * PR_POLL_MS until the controller handled the request (or PR_WAIT_MS
 * passed: the 202 "pending" already in rs goes out).
 */
static void pr_tick(lws_sorted_usec_list_t *sul)
{
	struct api_state *a = lws_container_of(sul, struct api_state, pr_sul);
	struct wl_apiserver *srv = lws_context_user(a->cx);

	if (!wl_api_pr_result(&srv->store, a->rs.wait_id, a->user,
			      a->rs.wait_ms, &a->rs) &&
	    wl_time_mono_ms() < a->pr_deadline) {
		lws_sul_schedule(a->cx, 0, &a->pr_sul, pr_tick,
				 PR_POLL_MS * LWS_US_PER_MS);
		return;
	}
	a->pr_waiting = 0;
	respond(a->wsi, a);
}

static void *lookup_main(void *arg)
{
	struct job *j = arg;
	struct wl_apiserver *srv = j->server;

	wl_git_lookup_run(&j->lookup);
	pthread_mutex_lock(&srv->job_lock);
	j->next = srv->done;
	srv->done = j;
	/* before the count drops: the server then may destroy ctx */
	lws_cancel_service(srv->ctx);
	srv->lookup_threads--;
	pthread_cond_broadcast(&srv->job_cond);
	pthread_mutex_unlock(&srv->job_lock);
	return NULL;
}

/* The handler needs the addresses of a repository host: look them up. */
static void start_lookup(struct lws *wsi, struct api_state *a)
{
	struct wl_apiserver *srv = server_of(wsi);
	struct job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	int started = 0;

	if (j) {
		j->kind = JOB_LOOKUP;
		j->server = srv;
		j->wsi = wsi;
		j->owner = a;
		j->lookup = a->rs.lookup;
		pthread_mutex_lock(&srv->job_lock);
		if (srv->lookup_threads < LOOKUP_MAX) {
			srv->lookup_threads++;
			started = 1;
		}
		pthread_mutex_unlock(&srv->job_lock);
	}
	if (started) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, lookup_main, j)) {
			pthread_mutex_lock(&srv->job_lock);
			srv->lookup_threads--;
			pthread_mutex_unlock(&srv->job_lock);
			started = 0;
		}
		pthread_attr_destroy(&attr);
	}
	if (!started) {
		free(j);
		wl_api_response_release(&a->rs);
		wl_api_response_init(&a->rs);
		wl_api_error(&a->rs, 503, "unavailable",
			     "too many repository addresses are being looked "
			     "up; retry");
		respond(wsi, a);
		return;
	}
	a->job = j;
}

/*
 * Handle a's request (again, once the lookup it asked for answered), then
 * answer, wait for the controller (POST /pr) or look up an address.
 */
static void run_api(struct lws *wsi, struct api_state *a)
{
	struct wl_apiserver *srv = server_of(wsi);
	struct wl_api_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.method = a->method;
	rq.path = a->path;
	rq.query = a->has_query ? a->query : NULL;
	rq.user = a->user;
	rq.body = a->body.ptr;
	rq.body_len = a->body.len;
	rq.lookup = a->looked_up ? &a->lookup : NULL;
	wl_api_response_release(&a->rs);
	wl_api_response_init(&a->rs);
	wl_api_handle(srv->cfg, &srv->store, &rq, &a->rs);
	if (a->rs.lookup_needed && !a->looked_up) {
		start_lookup(wsi, a);
		return;
	}
	if (a->rs.lookup_needed) {
		/* the answer was for another host: not expected */
		wl_api_error(&a->rs, 503, "unavailable",
			     "cannot check the repository's address; retry");
	} else if (a->rs.wait_ms) {
		/* The controller pushes and opens it: answer when it did. */
		a->cx = lws_get_context(wsi);
		a->wsi = wsi;
		a->pr_waiting = 1;
		a->pr_deadline = wl_time_mono_ms() + PR_WAIT_MS;
		lws_sul_schedule(a->cx, 0, &a->pr_sul, pr_tick,
				 PR_POLL_MS * LWS_US_PER_MS);
		return;
	}
	respond(wsi, a);
}

static int dispatch_api(struct lws *wsi, struct wl_session *s)
{
	struct api_state *a = s->impl;

	snprintf(a->user, sizeof(a->user), "%s", s->user);
	run_api(wsi, a);
	return 0;
}

/* ---- the dashboard and its preview ---------------------------------------
 */

/*
 * Where the dashboard must be opened instead of at host (a Host header
 * value), or NULL. Previews are frames of another origin that need their
 * own cookie, which browsers send to a frame only when it is same-site with
 * the page: the dashboard belongs on the base domain, its apps on its
 * subdomains. On a laptop (a *.localhost base domain, the dashboard opened
 * at 127.0.0.1 or localhost) go there; on a server the operator chose the
 * names.
 */
static const char *dashboard_home(const struct wl_config *cfg, const char *host,
				  char *out, size_t n)
{
	static const char *const loopback[] = { "127.0.0.1", "localhost",
						"[::1]" };
	size_t dl = strlen(cfg->base_domain), hl;
	const char *port;

	if (!cfg->host_routing || !host ||
	    (strcmp(cfg->base_domain, "localhost") &&
	     (dl < 10 || strcmp(cfg->base_domain + dl - 10, ".localhost"))))
		return NULL;
	port = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
	if (port && host[0] == '[')
		port++;
	hl = port ? (size_t)(port - host) : strlen(host);
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
		if (hl == strlen(loopback[i]) &&
		    !strncmp(host, loopback[i], hl)) {
			snprintf(out, n, "http://%s%s/", cfg->base_domain,
				 port ? port : "");
			return out;
		}
	return NULL;
}

/* GET /, /app.js, ...: a file of the dashboard (webui.h). */
static int serve_asset(struct lws *wsi, struct wl_session *s,
		       const struct wl_webui_asset *asset, const char *method)
{
	char inm[256], host[256], home[320];
	struct api_state *a;

	if (strcmp(method, "GET")) {
		if (respond_now(wsi, s, 405, "method_not_allowed",
				"method not allowed; use GET") < 0)
			return -1;
		a = s->impl;
		snprintf(a->rs.allow, sizeof(a->rs.allow), "GET");
		return 0;
	}
	if (begin_api(wsi, s) < 0)
		return -1;
	a = s->impl;
	if (!strcmp(asset->path, "/index.html") &&
	    dashboard_home(server_of(wsi)->cfg,
			   header(wsi, WSI_TOKEN_HOST, host, sizeof(host)),
			   home, sizeof(home))) {
		a->rs.status = 302;
		a->rs.content_type = "text/plain; charset=utf-8";
		snprintf(a->location, sizeof(a->location), "%s", home);
		respond(wsi, a);
		return 0;
	}
	a->asset = asset;
	wl_buf_reset(&a->rs.body);
	if (wl_webui_not_modified(asset,
				  header(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH, inm,
					 sizeof(inm)))) {
		a->rs.status = 304;
	} else if (wl_buf_add(&a->rs.body, asset->data, asset->len) < 0) {
		return -1;
	}
	respond(wsi, a);
	return 0;
}

/*
 * POST .../{id}/preview: a URL a browser opens with no other credentials
 * to see the caller's own worklet (auth.h). With host routing, a sign-in
 * link on the app's own origin, which sets that host's session cookie;
 * without, the path form with a ticket in the path.
 */
static int mint_preview(struct lws *wsi, struct wl_session *s, const char *id)
{
	struct wl_apiserver *srv = server_of(wsi);
	const struct wl_config *cfg = srv->cfg;
	char ticket[WL_AUTH_TICKET_MAX], url[URI_MAX + 512];
	int host = cfg->host_routing;
	int life = host ? (int)(cfg->preview_link_ms / 1000)
			: WL_AUTH_SESSION_SECONDS;
	struct api_state *a = s->impl;
	struct wl_origin o;
	struct wl_worklet w;
	cJSON *obj = NULL;
	char *text = NULL;
	int error;

	if (strcmp(a->method, "POST")) {
		wl_api_error(&a->rs, 405, "method_not_allowed",
			     "method not allowed; use POST");
		snprintf(a->rs.allow, sizeof(a->rs.allow), "POST");
		goto out;
	}
	wl_worklet_init(&w);
	error = wl_api_load_owned(&srv->store, id, s->user, &w);
	wl_worklet_release(&w);
	if (error < 0) {
		wl_api_error(&a->rs, 404, "not_found", "worklet not found");
		goto out;
	}
	if (wl_auth_ticket(srv->auth,
			   host ? WL_TICKET_LOGIN : WL_TICKET_PREVIEW, s->user,
			   id, (int64_t)time(NULL) + life, ticket,
			   sizeof(ticket)) < 0) {
		wl_api_error(&a->rs, 500, "internal", "%s", wl_error_last());
		goto out;
	}
	request_origin(wsi, &o);
	if (host)
		snprintf(url, sizeof(url),
			 "%s://%s.%s%s" WL_AUTH_LOGIN_PATH "?ticket=%s",
			 o.scheme, id, cfg->base_domain, wl_origin_port(&o),
			 ticket);
	else
		snprintf(url, sizeof(url), "%s://%s" WORKLETS "%s/preview/%s/",
			 o.scheme, o.host, id, ticket);
	obj = cJSON_CreateObject();
	if (obj) {
		cJSON_AddStringToObject(obj, "url", url);
		cJSON_AddNumberToObject(obj, "expires_in", life);
		text = cJSON_PrintUnformatted(obj);
	}
	if (!text) {
		wl_api_error(&a->rs, 500, "internal", "out of memory");
		goto out;
	}
	a->rs.status = 200;
	a->rs.content_type = "application/json";
	wl_buf_reset(&a->rs.body);
	wl_buf_puts(&a->rs.body, text);
out:
	if (text)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
	cJSON_Delete(obj);
	OPENSSL_cleanse(ticket, sizeof(ticket));
	OPENSSL_cleanse(url, sizeof(url));
	respond(wsi, a);
	return 0;
}

/*
 * The preview form of the proxy: the ticket in the path authenticates,
 * instead of the request's credentials. 1 if path is one (then *user,
 * prefix and rest are set, or *refused says why not), else 0.
 */
static int preview_route(struct wl_apiserver *srv, const char *path, char *id,
			 size_t idn, char *user, size_t usern, char *prefix,
			 size_t prefixn, const char **rest, int *refused)
{
	size_t toff, tlen, roff;

	*refused = 0;
	if (!wl_route_preview_path(path, strlen(path), id, idn, &toff, &tlen,
				   &roff))
		return 0;
	if (roff >= prefixn ||
	    wl_auth_ticket_check(srv->auth, WL_TICKET_PREVIEW, path + toff,
				 tlen, id, (int64_t)time(NULL), user,
				 usern) < 0) {
		*refused = 1;
		return 1;
	}
	snprintf(prefix, prefixn, "%.*s", (int)roff, path);
	*rest = path + roff;
	return 1;
}

/* The sign-in link of an app's host (auth.h). */
static int serve_login(struct lws *wsi, struct wl_session *s, const char *id,
		       const char *method)
{
	struct wl_auth_login login;
	char query[URI_MAX];
	struct wl_origin o;
	struct api_state *a;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return respond_now(
			wsi, s, 405, "method_not_allowed",
			"method not allowed; open the link with GET");
	if (query_of(wsi, query, sizeof(query)) <= 0)
		query[0] = '\0';
	request_origin(wsi, &o);
	if (wl_auth_login(server_of(wsi)->auth, id, query, o.secure,
			  (int64_t)time(NULL), &login) < 0) {
		OPENSSL_cleanse(query, sizeof(query));
		return respond_now(wsi, s, 401, "unauthorized",
				   wl_error_last());
	}
	if (begin_api(wsi, s) < 0)
		return -1;
	a = s->impl;
	a->rs.status = 302;
	a->rs.content_type = "text/plain; charset=utf-8";
	snprintf(a->location, sizeof(a->location), "%s", login.location);
	snprintf(a->set_cookie, sizeof(a->set_cookie), "%s", login.set_cookie);
	OPENSSL_cleanse(&login, sizeof(login));
	OPENSSL_cleanse(query, sizeof(query));
	respond(wsi, a);
	return 0;
}

static int on_http(struct lws *wsi, struct wl_session *s, const char *uri)
{
	struct wl_apiserver *srv = server_of(wsi);
	char host[256], id[WL_ID_MAX + 1], ctype[256], clen[32], te[64];
	const char *method = wl_http_method(wsi), *rest = NULL;
	struct api_state *a;
	enum route r;
	int has_query;

	memset(s, 0, sizeof(*s));
	s->server = srv;
	if (!method)
		return respond_now(wsi, s, 405, "method_not_allowed",
				   "unsupported method");
	if (strlen(uri) >= URI_MAX)
		return respond_now(wsi, s, 414, "uri_too_long",
				   "the request URI is too long");

	/* <id>.<base domain>: the whole host is the app. */
	if (header(wsi, WSI_TOKEN_HOST, host, sizeof(host)) &&
	    wl_route_host_id(srv->cfg->base_domain, host, strlen(host), id,
			     sizeof(id))) {
		char path[URI_MAX + URI_MAX + 2], query[URI_MAX];

		/* As front.c does, on a connection lws owns (a proxy's). */
		if (!strcmp(uri, WL_AUTH_LOGIN_PATH))
			return serve_login(wsi, s, id, method);
		if (authenticate_app(wsi, s, id) < 0)
			return respond_now(wsi, s, 401, "unauthorized",
					   wl_error_last());
		has_query = query_of(wsi, query, sizeof(query));
		snprintf(path, sizeof(path), "%s%s%s", uri,
			 has_query > 0 ? "?" : "", has_query > 0 ? query : "");
		return route_proxy(wsi, s, id, "", path, 0);
	}

	{
		const struct wl_webui_asset *asset = wl_webui_find(uri);

		if (asset)
			return serve_asset(wsi, s, asset, method);
	}
	{
		char prefix[URI_MAX], path[URI_MAX + URI_MAX + 2],
			query[URI_MAX];
		int refused;

		if (preview_route(srv, uri, id, sizeof(id), s->user,
				  sizeof(s->user), prefix, sizeof(prefix),
				  &rest, &refused)) {
			if (refused)
				return respond_now(wsi, s, 401, "unauthorized",
						   wl_error_last());
			has_query = query_of(wsi, query, sizeof(query));
			snprintf(path, sizeof(path), "%s%s%s",
				 rest[0] ? rest : "/", has_query > 0 ? "?" : "",
				 has_query > 0 ? query : "");
			return route_proxy(wsi, s, id, prefix, path, 0);
		}
	}
	if (!strcmp(uri, "/healthz")) {
		if (begin_api(wsi, s) < 0)
			return -1;
		a = s->impl;
		a->rs.content_type = "text/plain; charset=utf-8";
		wl_buf_puts(&a->rs.body, "ok\n");
		respond(wsi, a);
		return 0;
	}
	if (!strcmp(uri, "/metrics")) {
		if (begin_api(wsi, s) < 0)
			return -1;
		a = s->impl;
		a->rs.content_type = "text/plain; version=0.0.4";
		metrics_text(srv, &a->rs.body);
		respond(wsi, a);
		return 0;
	}
	if (strncmp(uri, API_PREFIX, strlen(API_PREFIX)))
		return respond_now(wsi, s, 404, "not_found",
				   "no such endpoint");

	if (authenticate(wsi, s) < 0)
		return respond_now(wsi, s, 401, "unauthorized",
				   wl_error_last());
	r = classify(uri, id, sizeof(id), &rest);
	if (r == ROUTE_PROXY) {
		char prefix[URI_MAX], path[URI_MAX + URI_MAX + 2],
			query[URI_MAX];

		snprintf(prefix, sizeof(prefix), WORKLETS "%s/proxy", id);
		has_query = query_of(wsi, query, sizeof(query));
		snprintf(path, sizeof(path), "%s%s%s", rest[0] ? rest : "/",
			 has_query > 0 ? "?" : "", has_query > 0 ? query : "");
		return route_proxy(wsi, s, id, prefix, path, 0);
	}
	if (r == ROUTE_WATCH)
		return respond_now(wsi, s, 400, "websocket_required",
				   "this endpoint speaks WebSocket: send an "
				   "Upgrade request");

	if (begin_api(wsi, s) < 0)
		return -1;
	a = s->impl;
	snprintf(a->method, sizeof(a->method), "%s", method);
	snprintf(a->path, sizeof(a->path), "%s", uri);
	a->has_query = query_of(wsi, a->query, sizeof(a->query)) > 0;
	wl_buf_init(&a->body, (size_t)srv->cfg->max_body);

	if (r == ROUTE_PREVIEW)
		return mint_preview(wsi, s, id);
	if (r == ROUTE_LOGS) {
		if (strcmp(method, "GET")) {
			wl_api_error(&a->rs, 405, "method_not_allowed",
				     "method not allowed; use GET");
			snprintf(a->rs.allow, sizeof(a->rs.allow), "GET");
			respond(wsi, a);
			return 0;
		}
		return handle_logs(wsi, s, id, a->has_query ? a->query : "");
	}

	if (needs_body(method)) {
		int64_t len = 0;
		int chunked = header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, te,
				     sizeof(te)) != NULL;

		if (header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, clen,
			   sizeof(clen)) &&
		    wl_parse_int64(&len, clen, 0, INT64_MAX) < 0) {
			a->close_after = 1;
			return respond_now(wsi, s, 400, "invalid",
					   "bad Content-Length");
		}
		if (len > srv->cfg->max_body) {
			a->close_after = 1;
			wl_api_error(&a->rs, 413, "too_large",
				     "the body is over the limit of %lld bytes",
				     (long long)srv->cfg->max_body);
			respond(wsi, a);
			return 0;
		}
		if (len > 0 || chunked) {
			if (!header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, ctype,
				    sizeof(ctype)) ||
			    strncasecmp(ctype, "application/json", 16)) {
				a->close_after = 1;
				wl_api_error(
					&a->rs, 415, "unsupported_media_type",
					"send the body as application/json");
				respond(wsi, a);
				return 0;
			}
			return 0; /* the body comes in HTTP_BODY callbacks */
		}
	}
	return dispatch_api(wsi, s);
}

static int on_http_body(struct lws *wsi, struct wl_session *s, const void *in,
			size_t len)
{
	struct api_state *a = s->impl;

	if (!a || a->responded || a->body_too_big)
		return 0;
	if (wl_buf_add(&a->body, in, len) < 0) {
		struct wl_apiserver *srv = server_of(wsi);

		a->body_too_big = 1;
		a->close_after = 1;
		wl_api_error(&a->rs, 413, "too_large",
			     "the body is over the limit of %lld bytes",
			     (long long)srv->cfg->max_body);
		respond(wsi, a);
	}
	return 0;
}

/* ---- WebSocket upgrades: watch streams and proxied sockets -------------- */

/*
 * Decide at the upgrade whether to accept: authenticated, an endpoint
 * that speaks WebSocket, a worklet the caller owns. What to do is kept in
 * the session for ESTABLISHED.
 */
struct ws_plan {
	enum route route;
	char id[WL_ID_MAX + 1];
	char prefix[URI_MAX];
	char path[URI_MAX + URI_MAX + 2];
	struct wl_watch_opts opts;
	char worklet[WL_ID_MAX + 1];
	char user[WL_USER_MAX + 1];
};

/*
 * Refuse an upgrade with a real HTTP/1.1 answer (lws's own helper says
 * HTTP/1.0 at this stage, which WebSocket clients reject).
 */
static int refuse_upgrade(struct lws *wsi, unsigned status, const char *why)
{
	unsigned char buf[LWS_PRE + 2048];
	char body[1024];
	cJSON *o = cJSON_CreateObject(), *err;
	char *text;
	int n;

	err = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(err, "code",
				status == 401	? "unauthorized"
				: status == 404 ? "not_found"
						: "invalid");
	cJSON_AddStringToObject(err, "message", why);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	snprintf(body, sizeof(body), "%s\n", text ? text : "{}");
	free(text);
	n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
		     "HTTP/1.1 %u %s\r\ncontent-type: application/json\r\n"
		     "content-length: %zu\r\nconnection: close\r\n\r\n%s",
		     status,
		     status == 401   ? "Unauthorized"
		     : status == 404 ? "Not Found"
				     : "Bad Request",
		     strlen(body), body);
	atomic_fetch_add(&wl_metrics.http_errors, 1);
	/*
	 * A few hundred bytes into a fresh socket's empty send buffer: written
	 * whole, then the connection is hung up (the answer says close).
	 */
	if (n > 0 && (size_t)n < sizeof(buf) - LWS_PRE &&
	    send(lws_get_socket_fd(wsi), buf + LWS_PRE, (size_t)n,
		 MSG_NOSIGNAL) != n)
		wl_debug("refusing an upgrade: short write");
	return -1;
}

static int on_ws_confirm(struct lws *wsi, struct wl_session *s)
{
	struct wl_apiserver *srv = server_of(wsi);
	char uri[URI_MAX], host[256], query[URI_MAX], v[32];
	struct ws_plan *plan;
	const char *rest = NULL;
	int has_query, refused, found;
	int64_t since = 0;

	memset(s, 0, sizeof(*s));
	s->server = srv;
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0)
		return refuse_upgrade(wsi, 414, "the request URI is too long");
	plan = calloc(1, sizeof(*plan));
	if (!plan)
		return -1;
	has_query = query_of(wsi, query, sizeof(query));
	if (preview_route(srv, uri, plan->id, sizeof(plan->id), s->user,
			  sizeof(s->user), plan->prefix, sizeof(plan->prefix),
			  &rest, &refused)) {
		if (refused) {
			free(plan);
			return refuse_upgrade(wsi, 401, wl_error_last());
		}
		plan->route = ROUTE_PROXY;
		snprintf(plan->path, sizeof(plan->path), "%s%s%s",
			 rest[0] ? rest : "/", has_query > 0 ? "?" : "",
			 has_query > 0 ? query : "");
		snprintf(plan->user, sizeof(plan->user), "%s", s->user);
		lws_set_opaque_user_data(wsi, plan);
		return 0;
	}
	if (header(wsi, WSI_TOKEN_HOST, host, sizeof(host)) &&
	    wl_route_host_id(srv->cfg->base_domain, host, strlen(host),
			     plan->id, sizeof(plan->id))) {
		if (authenticate_app(wsi, s, plan->id) < 0) {
			free(plan);
			return refuse_upgrade(wsi, 401, wl_error_last());
		}
		plan->route = ROUTE_PROXY;
		snprintf(plan->path, sizeof(plan->path), "%s%s%s", uri,
			 has_query > 0 ? "?" : "", has_query > 0 ? query : "");
	} else {
		if (authenticate(wsi, s) < 0) {
			free(plan);
			return refuse_upgrade(wsi, 401, wl_error_last());
		}
		plan->route = classify(uri, plan->id, sizeof(plan->id), &rest);
		if (plan->route == ROUTE_PROXY) {
			snprintf(plan->prefix, sizeof(plan->prefix),
				 WORKLETS "%s/proxy", plan->id);
			snprintf(plan->path, sizeof(plan->path), "%s%s%s",
				 rest[0] ? rest : "/", has_query > 0 ? "?" : "",
				 has_query > 0 ? query : "");
		} else if (plan->route == ROUTE_WATCH) {
			if ((found = wl_query_param(query, "since", v,
						    sizeof(v))) < 0 ||
			    (found &&
			     wl_parse_int64(&since, v, 0, INT64_MAX) < 0)) {
				free(plan);
				return refuse_upgrade(
					wsi, 400, "since: must be an event id");
			}
			plan->opts.since = (uint64_t)since;
			plan->opts.logs = wl_query_param(query, "logs", v,
							 sizeof(v)) == 1 &&
					  !strcmp(v, "1");
			if (plan->id[0]) {
				snprintf(plan->worklet, sizeof(plan->worklet),
					 "%s", plan->id);
				plan->opts.worklet_id = plan->worklet;
			}
		} else {
			free(plan);
			return refuse_upgrade(wsi, 404,
					      "no WebSocket endpoint here");
		}
	}
	snprintf(plan->user, sizeof(plan->user), "%s", s->user);
	/* Ownership now, so a foreign id gets the same 404 as a missing one. */
	if (plan->id[0]) {
		struct wl_worklet w;
		int error;

		wl_worklet_init(&w);
		error = wl_api_load_owned(&srv->store, plan->id, s->user, &w);
		wl_worklet_release(&w);
		if (error < 0) {
			free(plan);
			return refuse_upgrade(wsi, 404, "worklet not found");
		}
	}
	/*
	 * The per-session data is allocated anew for the WebSocket role; the
	 * wsi's opaque pointer lasts until ESTABLISHED (or WSI_DESTROY).
	 */
	lws_set_opaque_user_data(wsi, plan);
	return 0;
}

static int on_ws_established(struct lws *wsi, struct wl_session *s)
{
	struct wl_apiserver *srv = server_of(wsi);
	struct ws_plan *plan = lws_get_opaque_user_data(wsi);
	int error;

	lws_set_opaque_user_data(wsi, NULL);
	if (!plan || !s)
		return -1;
	memset(s, 0, sizeof(*s));
	s->server = srv;
	snprintf(s->user, sizeof(s->user), "%s", plan->user);
	if (plan->route == ROUTE_WATCH) {
		error = wl_watch_begin(wsi, s, srv->events, &plan->opts);
		/* The app's own lines come from a follower while anyone asks.
		 */
		if (!error && plan->opts.logs && plan->opts.worklet_id &&
		    wl_applogs_acquire(srv->applogs, plan->opts.worklet_id,
				       s->user) == 0) {
			snprintf(s->worklet_id, sizeof(s->worklet_id), "%s",
				 plan->opts.worklet_id);
			s->app_logs = 1;
		}
	} else
		error = route_proxy(wsi, s, plan->id, plan->prefix, plan->path,
				    1);
	free(plan);
	return error;
}

/* ---- the protocol callback ----------------------------------------------- */

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason,
			 void *user, void *in, size_t len)
{
	struct wl_session *s = user;
	struct wl_apiserver *srv;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		srv = lws_context_user(lws_get_context(wsi));
		if (srv) {
			jobs_collect(srv);
			follows_wake(srv);
			wl_watch_wake_all(srv->ctx);
		}
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
		/* No per-session data exists yet at this point. */
		struct wl_session tmp;

		return on_ws_confirm(wsi, &tmp);
	}
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Decided at CONFIRM_UPGRADE; nothing planned, no socket. */
		return lws_get_opaque_user_data(wsi) ? 0 : -1;
	case LWS_CALLBACK_WSI_DESTROY:
		/* An upgrade confirmed but never established. */
		if ((!s || s->kind == WL_SESSION_NONE) &&
		    lws_get_opaque_user_data(wsi)) {
			free(lws_get_opaque_user_data(wsi));
			lws_set_opaque_user_data(wsi, NULL);
		}
		break;
	case LWS_CALLBACK_ESTABLISHED:
		return on_ws_established(wsi, s);
	default:
		break;
	}
	if (!s)
		return lws_callback_http_dummy(wsi, reason, user, in, len);

	if (s->kind == WL_SESSION_PROXY)
		return wl_proxy_callback(wsi, reason, s, in, len);
	if (s->kind == WL_SESSION_WATCH) {
		if (reason == LWS_CALLBACK_CLOSED && s->app_logs) {
			wl_applogs_release(server_of(wsi)->applogs,
					   s->worklet_id);
			s->app_logs = 0;
		}
		return wl_watch_callback(wsi, reason, s, in, len);
	}

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(wsi, s, in);
	case LWS_CALLBACK_HTTP_BODY:
		return on_http_body(wsi, s, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
		struct api_state *a = s->impl;

		if (!a || a->responded)
			return 0;
		return dispatch_api(wsi, s);
	}
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (s->kind == WL_SESSION_API && s->impl)
			return write_api(wsi, s->impl);
		if (s->kind == WL_SESSION_STREAM && s->impl)
			return write_follow(wsi, s);
		return 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_CLOSED:
		if (s->kind == WL_SESSION_API)
			api_state_free(s->impl);
		else if (s->kind == WL_SESSION_STREAM && s->impl)
			follow_detach(server_of(wsi), s->impl);
		s->impl = NULL;
		s->kind = WL_SESSION_NONE;
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static struct lws_protocols protocols[] = {
	{ "worklet", callback_http, sizeof(struct wl_session), 16384, 0, NULL,
	  0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }, /* the proxy's upstream protocol */
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ---- lifecycle ------------------------------------------------------------
 */

static void lws_log_bridge(int level, const char *line)
{
	char msg[1024];
	size_t n;

	snprintf(msg, sizeof(msg), "%s", line);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	wl_log(level == LLL_ERR ? WL_LOG_ERROR : WL_LOG_WARN, "lws: %s", msg);
}

/* Front end thread: queue a connection for lws and wake its thread. */
static void hand_to_lws(void *arg, int fd)
{
	struct wl_apiserver *srv = arg;
	struct adoption *a = malloc(sizeof(*a));

	if (!a) {
		close(fd);
		return;
	}
	a->next = NULL;
	a->fd = fd;
	pthread_mutex_lock(&srv->adopt_lock);
	if (srv->adopt_tail)
		srv->adopt_tail->next = a;
	else
		srv->adopt_head = a;
	srv->adopt_tail = a;
	pthread_mutex_unlock(&srv->adopt_lock);
	lws_cancel_service(srv->ctx);
}

/*
 * Service thread, between two lws_service() rounds. lws owns each fd from
 * here on (it closes one it cannot take) and reads the request itself:
 * the front end only peeked at it. (Handing over bytes already read with
 * lws_adopt_socket_vhost_readbuf() is not an option in lws 4.1.6: when
 * they hold a request with a body, lws_http_action() feeds its own
 * buflist, head included, to the body parser again and again without
 * end.)
 */
static void adopt_pending(struct wl_apiserver *srv)
{
	struct adoption *list, *next;

	pthread_mutex_lock(&srv->adopt_lock);
	list = srv->adopt_head;
	srv->adopt_head = srv->adopt_tail = NULL;
	pthread_mutex_unlock(&srv->adopt_lock);
	for (struct adoption *a = list; a; a = next) {
		next = a->next;
		if (!lws_adopt_socket_vhost(srv->vhost, a->fd))
			wl_debug("apiserver: lws did not take a connection");
		free(a);
	}
}

int wl_apiserver_new(struct wl_apiserver **out, const struct wl_config *cfg)
{
	struct wl_apiserver *srv = calloc(1, sizeof(*srv));
	struct lws_context_creation_info info;
	struct wl_front_options fo;
	int error;

	if (!srv) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	srv->cfg = cfg;
	pthread_mutex_init(&srv->job_lock, NULL);
	pthread_cond_init(&srv->job_cond, NULL);
	pthread_mutex_init(&srv->adopt_lock, NULL);
	if (wl_webui_csp(cfg, srv->csp, sizeof(srv->csp)) < 0) {
		wl_error_set("the dashboard's policy is too long for base "
			     "domain '%s'",
			     cfg->base_domain);
		error = WL_EINVALID;
		goto fail;
	}
	if ((error = wl_store_init(&srv->store, cfg->state_dir)) < 0 ||
	    (error = wl_auth_new(&srv->auth, cfg)) < 0 ||
	    (error = wl_route_cache_new(&srv->routes, &srv->store)) < 0 ||
	    (error = wl_events_new(&srv->events, 4096)) < 0 ||
	    (error = wl_applogs_new(&srv->applogs, cfg, &srv->store,
				    srv->events)) < 0)
		goto fail;
	/* We listen; lws serves what the front end hands it. */
	memset(&fo, 0, sizeof(fo));
	fo.cfg = cfg;
	fo.auth = srv->auth;
	fo.routes = srv->routes;
	fo.handoff = hand_to_lws;
	fo.handoff_arg = srv;
	if ((error = wl_front_new(&srv->front, &fo)) < 0)
		goto fail;

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_bridge);
	protocols[1] = wl_proxy_upstream_protocol;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.user = srv;
	/*
	 * Not HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE: lws would stamp
	 * its strict policy on every response, the proxied apps' too, and
	 * break them. API responses set their own headers (write_api).
	 */
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 |
		       LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.timeout_secs = 60;
	info.max_http_header_data = 16384;
	info.max_http_header_pool = 256;
	info.pt_serv_buf_size = 65536;
	srv->ctx = lws_create_context(&info);
	if (!srv->ctx ||
	    !(srv->vhost = lws_get_vhost_by_name(srv->ctx, "default"))) {
		wl_error_set("cannot start libwebsockets");
		error = WL_ERROR;
		goto fail;
	}
	wl_events_set_context(srv->events, srv->ctx);
	if ((error = wl_events_watch_start(srv->events, cfg->state_dir)) < 0)
		goto fail;
	if (pthread_create(&srv->job_thread, NULL, job_main, srv)) {
		wl_error_set("cannot start the job thread");
		error = WL_ERROR;
		goto fail;
	}
	srv->job_started = 1;
	if ((error = wl_front_start(srv->front)) < 0)
		goto fail;
	wl_info("apiserver: listening on http://%s (X-User-ID %s, %s)",
		cfg->listen,
		wl_auth_trusts_header(srv->auth) ? "trusted" : "not trusted",
		cfg->tokens_file ? "bearer tokens enabled" : "no tokens file");
	if (cfg->host_routing) {
		char home[320];

		wl_info("apiserver: the dashboard is at %s; apps at "
			"<id>.%s",
			dashboard_home(cfg, cfg->listen, home, sizeof(home))
				? home
				: cfg->public_url,
			cfg->base_domain);
	}
	*out = srv;
	return 0;
fail:
	wl_apiserver_free(srv);
	return error;
}

int wl_apiserver_run(struct wl_apiserver *srv)
{
	while (!srv->stop) {
		if (lws_service(srv->ctx, 0) < 0)
			break;
		adopt_pending(srv);
	}
	return 0;
}

void wl_apiserver_request_stop(struct wl_apiserver *srv)
{
	srv->stop = 1;
	pthread_mutex_lock(&srv->job_lock);
	pthread_cond_broadcast(&srv->job_cond);
	pthread_mutex_unlock(&srv->job_lock);
	if (srv->ctx)
		lws_cancel_service(srv->ctx);
}

void wl_apiserver_free(struct wl_apiserver *srv)
{
	struct job *j, *next;

	if (!srv)
		return;
	srv->stop = 1;
	/* No more hand-offs after this; lws never took the queued ones. */
	wl_front_free(srv->front);
	srv->front = NULL;
	while (srv->adopt_head) {
		struct adoption *a = srv->adopt_head;

		srv->adopt_head = a->next;
		close(a->fd);
		free(a);
	}
	srv->adopt_head = srv->adopt_tail = NULL;
	if (srv->job_started) {
		pthread_mutex_lock(&srv->job_lock);
		pthread_cond_broadcast(&srv->job_cond);
		pthread_mutex_unlock(&srv->job_lock);
		pthread_join(srv->job_thread, NULL);
	}
	if (srv->events)
		wl_events_watch_stop(srv->events);
	/* Log followers use the context: end them before it goes. */
	wl_applogs_free(srv->applogs);
	srv->applogs = NULL;
	for (struct follow *f = srv->follows; f; f = f->next)
		f->cancel = 1;
	pthread_mutex_lock(&srv->job_lock);
	while (srv->follow_threads > 0 || srv->lookup_threads > 0)
		pthread_cond_wait(&srv->job_cond, &srv->job_lock);
	pthread_mutex_unlock(&srv->job_lock);
	if (srv->ctx)
		lws_context_destroy(srv->ctx);
	for (j = srv->queued; j; j = next) {
		next = j->next;
		job_free(j);
	}
	for (j = srv->done; j; j = next) {
		next = j->next;
		job_free(j);
	}
	wl_events_free(srv->events);
	wl_route_cache_free(srv->routes);
	wl_auth_free(srv->auth);
	wl_store_release(&srv->store);
	pthread_mutex_destroy(&srv->adopt_lock);
	pthread_mutex_destroy(&srv->job_lock);
	pthread_cond_destroy(&srv->job_cond);
	free(srv);
}
