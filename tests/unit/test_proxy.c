/*
 * The reverse proxy against a real app: a libwebsockets server in this
 * process routes every request under /p to wl_proxy_begin() (prefix "/p"),
 * and the app is the Node echo fixture (tests/fixtures/apps/echo), the same
 * one the end-to-end tests run in Docker. Clients are libcurl, a raw socket
 * for requests curl will not send, and python3-websockets for WebSocket.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "apiserver/metrics.h"
#include "apiserver/proxy.h"
#include "apiserver/session.h"
#include "specs/core/buf.h"
#include "specs/core/timeutil.h"
#include "echo_app.h"
#include "unit.h"

static struct lws_context *cx;
static pthread_t service_thread;
static atomic_int stopping;
static int proxy_port; /* our server */
static int app_port;   /* the echo app */
static int dead_port;  /* nothing listens here */
static pid_t app_pid = -1;

/* ---- the server under test -------------------------------------------- */

static int route(struct lws *wsi, struct wl_session *s, const char *uri,
		 int is_ws)
{
	struct wl_proxy_target t;
	char path[2048], args[1024];
	int n, have_args = 0;

	memset(&t, 0, sizeof(t));
	snprintf(t.worklet_id, sizeof(t.worklet_id), "test");
	t.port = strncmp(uri, "/p/down", 7) ? app_port : dead_port;
	t.prefix = "/p";
	args[0] = '\0';
	for (int i = 0; i < 16; i++) {
		char frag[256];

		n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag),
					  WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n <= 0)
			break;
		snprintf(args + strlen(args), sizeof(args) - strlen(args),
			 "%s%s", have_args ? "&" : "", frag);
		have_args = 1;
	}
	snprintf(path, sizeof(path), "%s%s%s", uri[2] ? uri + 2 : "/",
		 have_args ? "?" : "", args);
	if (wl_proxy_begin(wsi, s, &t, path, is_ws) < 0)
		return -1;
	return 0;
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason,
			 void *user, void *in, size_t len)
{
	struct wl_session *s = user;
	char uri[1024];

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (strncmp(in, "/p/", 3)) {
			lws_return_http_status(wsi, 404, NULL);
			return -1;
		}
		return route(wsi, s, in, 0) < 0 ? -1 : 0;
	case LWS_CALLBACK_ESTABLISHED:
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <
			    0 ||
		    strncmp(uri, "/p/", 3))
			return -1;
		return route(wsi, s, uri, 1);
	default:
		break;
	}
	if (s && s->kind == WL_SESSION_PROXY)
		return wl_proxy_callback(wsi, reason, s, in, len);
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static struct lws_protocols protocols[3] = {
	{ "worklet-http", callback_http, sizeof(struct wl_session), 16384, 0,
	  NULL, 0 },
};

static void *service_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stopping))
		if (lws_service(cx, 0) < 0)
			break;
	return NULL;
}

/* ---- helpers
 * ----------------------------------------------------------------- */

struct reply {
	long status;
	struct wl_buf body;
	struct wl_buf headers;
	size_t body_bytes; /* all of it, also past the buffer's max */
	long rss_max_kb;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;

	if (r->body.len + len <= r->body.max)
		wl_buf_add(&r->body, ptr, len);
	r->body_bytes += len;
	if ((r->body_bytes & ((1 << 22) - 1)) < len) {
		long kb = rss_kb();

		if (kb > r->rss_max_kb)
			r->rss_max_kb = kb;
	}
	return len;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;

	wl_buf_add(&r->headers, ptr, size * n);
	return size * n;
}

struct upload {
	const char *data;
	size_t len, pos;
};

static size_t on_read(char *ptr, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t len = size * n;

	if (len > 7)
		len = 7; /* several small chunks */
	if (len > u->len - u->pos)
		len = u->len - u->pos;
	memcpy(ptr, u->data + u->pos, len);
	u->pos += len;
	return len;
}

struct request {
	const char *method;
	const char *path;
	const char *headers[6];
	const char *body;    /* sent with Content-Length */
	const char *chunked; /* sent with Transfer-Encoding: chunked */
	long max_recv_speed; /* bytes/s, 0: unlimited */
	long timeout_ms;     /* 0: 60 s */
};

static CURLcode do_request(CURL *c, const struct request *rq, struct reply *r)
{
	struct curl_slist *hl = NULL;
	struct upload up = { 0 };
	char url[2048];
	CURLcode rc;

	wl_buf_init(&r->body, 1 << 20);
	wl_buf_init(&r->headers, 1 << 16);
	r->body_bytes = 0;
	r->rss_max_kb = 0;
	r->status = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", proxy_port,
		 rq->path);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
			 rq->timeout_ms ? rq->timeout_ms : 60000L);
	for (int i = 0; i < 6 && rq->headers[i]; i++)
		hl = curl_slist_append(hl, rq->headers[i]);
	if (rq->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
	} else if (rq->chunked) {
		up.data = rq->chunked;
		up.len = strlen(rq->chunked);
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
		hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
		hl = curl_slist_append(hl, "Expect:");
	}
	if (rq->method && !strcmp(rq->method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (rq->method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	if (rq->max_recv_speed)
		curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE,
				 (curl_off_t)rq->max_recv_speed);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hl);
	return rc;
}

static void reply_release(struct reply *r)
{
	wl_buf_release(&r->body);
	wl_buf_release(&r->headers);
}

/* Send a raw request, return what came back until close (or 5 s). */
static void raw_request(const char *req, struct wl_buf *out)
{
	int fd = connect_port(proxy_port);
	char buf[4096];
	ssize_t n;
	struct pollfd pfd;

	if (fd < 0)
		return;
	if (write(fd, req, strlen(req)) < 0) {
		close(fd);
		return;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, 5000) > 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		wl_buf_add(out, buf, (size_t)n);
	close(fd);
}

/* A number the app answers at path (/p/count, /p/conns). */
static long app_number(CURL *c, const char *path)
{
	struct request rq = { .method = NULL, .path = path };
	struct reply r;
	long n = -1;

	if (do_request(c, &rq, &r) == CURLE_OK && r.status == 200)
		n = strtol(wl_buf_cstr(&r.body), NULL, 10);
	reply_release(&r);
	return n;
}

static long app_count(CURL *c)
{
	return app_number(c, "/p/count");
}

/* The app's number of the upstream connection an echo came on, or -1. */
static long echo_conn(const struct reply *r)
{
	const char *c =
		strstr(wl_buf_cstr((struct wl_buf *)&r->body), "\"conn\":");

	return c ? strtol(c + 7, NULL, 10) : -1;
}

/* ---- setup -----------------------------------------------------------------
 */

static int start_server(void)
{
	struct lws_context_creation_info info;

	protocols[1] = wl_proxy_upstream_protocol;
	memset(&info, 0, sizeof(info));
	proxy_port = free_port();
	dead_port = free_port();
	info.port = proxy_port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	lws_set_log_level(LLL_ERR, NULL);
	cx = lws_create_context(&info);
	if (!cx)
		return -1;
	return pthread_create(&service_thread, NULL, service_main, NULL);
}

static void stop_all(void)
{
	if (cx) {
		atomic_store(&stopping, 1);
		lws_cancel_service(cx);
		pthread_join(service_thread, NULL);
		lws_context_destroy(cx);
		cx = NULL;
	}
	echo_app_stop(app_pid);
}

/* ---- tests
 * ------------------------------------------------------------------- */

static void test_forwarding_table(void)
{
	static const struct {
		struct request rq;
		long status;
		const char *has[6];
		const char *hasnt[4];
		const char *header; /* in the response head */
	} cases[] = {
		{ .rq = { .method = "GET",
			  .path = "/p/echo/a%20b?x=1&y=two",
			  .headers = { "Authorization: Bearer secret-token-123",
				       "Cookie: keep=1; wl_session=s3cr3t; "
				       "other=2",
				       "X-Requested-With: XMLHttpRequest",
				       "Proxy-Authorization: Basic eA==",
				       "User-Agent: unit" } },
		  .status = 200,
		  .has = { "\"method\":\"GET\"",
			   "\"url\":\"/echo/a%20b?x=1&y=two\"",
			   "\"cookie\":\"keep=1; other=2\"",
			   "\"x-requested-with\":\"XMLHttpRequest\"",
			   "\"x-forwarded-prefix\":\"/p\"",
			   "\"x-forwarded-for\":\"127.0.0.1\"" },
		  .hasnt = { "authorization", "s3cr3t", "proxy-",
			     "keep-alive" },
		  .header = "x-echo-custom: yes" },
		{ .rq = { .method = "POST",
			  .path = "/p/echo",
			  .headers = { "Content-Type: text/plain" },
			  .body = "hello world" },
		  .status = 200,
		  .has = { "\"method\":\"POST\"", "\"body\":\"hello world\"",
			   "\"content-length\":\"11\"",
			   "\"x-forwarded-proto\":\"http\"",
			   "\"x-forwarded-host\":\"127.0.0.1:" },
		  .hasnt = { "transfer-encoding" },
		  .header = "set-cookie: b=2" },
		{ .rq = { .method = "PUT",
			  .path = "/p/echo/up",
			  .chunked = "a chunked upload in several small "
				     "pieces" },
		  .status = 200,
		  .has = { "\"method\":\"PUT\"",
			   "\"body\":\"a chunked upload in several small "
			   "pieces\"",
			   "\"transfer-encoding\":\"chunked\"" },
		  .hasnt = { "content-length" },
		  .header = "connection: close" },
		{ .rq = { .method = "DELETE", .path = "/p/echo/7" },
		  .status = 200,
		  .has = { "\"method\":\"DELETE\"", "\"url\":\"/echo/7\"" } },
		{ .rq = { .method = "GET", .path = "/p/redirect" },
		  .status = 302,
		  .header = "location: /p/login\r\n" },
		{ .rq = { .method = "GET", .path = "/p/chunked" },
		  .status = 200,
		  .has = { "one two three" },
		  .header = "transfer-encoding: chunked" },
		{ .rq = { .method = "HEAD", .path = "/p/big?mb=1" },
		  .status = 200,
		  .header = "content-length: 1048576" },
	};
	CURL *c = curl_easy_init();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reply r;
		CURLcode rc = do_request(c, &cases[i].rq, &r);
		struct wl_buf lower;

		wl_buf_init(&lower, 1 << 16);
		for (size_t k = 0; k < r.headers.len; k++)
			wl_buf_putc(
				&lower,
				(char)tolower((unsigned char)r.headers.ptr[k]));
		if (rc != CURLE_OK || r.status != cases[i].status)
			fprintf(stderr, "case %zu (%s): rc %d status %ld\n", i,
				cases[i].rq.path, rc, r.status);
		CHECK(rc == CURLE_OK);
		CHECK(r.status == cases[i].status);
		for (int k = 0; k < 6 && cases[i].has[k]; k++)
			CHECK_CONTAINS(wl_buf_cstr(&r.body), cases[i].has[k]);
		for (int k = 0; k < 4 && cases[i].hasnt[k]; k++) {
			if (strstr(wl_buf_cstr(&r.body), cases[i].hasnt[k]))
				fprintf(stderr, "case %zu: '%s' leaked: %s\n",
					i, cases[i].hasnt[k],
					wl_buf_cstr(&r.body));
			CHECK(!strstr(wl_buf_cstr(&r.body), cases[i].hasnt[k]));
		}
		if (cases[i].header)
			CHECK_CONTAINS(wl_buf_cstr(&lower), cases[i].header);
		wl_buf_release(&lower);
		reply_release(&r);
	}
	curl_easy_cleanup(c);
}

static void test_keepalive_reuses_connection(void)
{
	CURL *c = curl_easy_init();
	struct request rq = { .path = "/p/echo/1" };
	struct reply r;
	long connects = -1;

	/* curl_easy_reset keeps the connection cache. */
	CHECK(do_request(c, &rq, &r) == CURLE_OK && r.status == 200);
	reply_release(&r);
	rq.path = "/p/chunked";
	CHECK(do_request(c, &rq, &r) == CURLE_OK && r.status == 200);
	CHECK_STR(wl_buf_cstr(&r.body), "one two three");
	reply_release(&r);
	rq.path = "/p/echo/2";
	CHECK(do_request(c, &rq, &r) == CURLE_OK && r.status == 200);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	CHECK(connects == 0);
	CHECK_CONTAINS(wl_buf_cstr(&r.body), "\"url\":\"/echo/2\"");
	reply_release(&r);
	curl_easy_cleanup(c);
}

/*
 * Upstream keep-alive: 100 requests, each from a new client connection,
 * travel over a handful of upstream connections (before: one each).
 */
static void test_upstream_connections_reused(void)
{
	CURL *c = curl_easy_init();
	long before = app_number(c, "/p/conns"), after, first = -1;
	int ok = 0, same = 0;

	for (int i = 0; i < 100; i++) {
		struct request rq = { .path = "/p/echo/reuse" };
		struct reply r;
		CURL *fresh = curl_easy_init(); /* a new client connection */

		if (do_request(fresh, &rq, &r) == CURLE_OK && r.status == 200)
			ok++;
		curl_easy_cleanup(fresh);
		if (first < 0)
			first = echo_conn(&r);
		else if (echo_conn(&r) == first)
			same++;
		reply_release(&r);
	}
	after = app_number(c, "/p/conns");
	fprintf(stderr, "  100 requests: %ld upstream connections\n",
		after - before);
	CHECK(ok == 100);
	CHECK(before > 0);
	CHECK(after - before <= 3);
	CHECK(same == 99); /* sequential: always the one idle connection */
	curl_easy_cleanup(c);
}

/* After "Connection: close" from the app the connection is not reused. */
static void test_app_connection_close_not_reused(void)
{
	CURL *c = curl_easy_init();
	struct request rq = { .path = "/p/said-close" };
	struct reply r;

	for (int i = 0; i < 3; i++) {
		rq.path = "/p/said-close";
		CHECK(do_request(c, &rq, &r) == CURLE_OK);
		CHECK(r.status == 200);
		CHECK_STR(wl_buf_cstr(&r.body), "bye");
		reply_release(&r);
		/* The app keeps that socket open and answers 409 on it. */
		rq.path = "/p/echo/after-close";
		CHECK(do_request(c, &rq, &r) == CURLE_OK);
		CHECK(r.status == 200);
		reply_release(&r);
	}
	curl_easy_cleanup(c);
}

/* The app closes an idle pooled connection: the next request still works. */
static void test_app_closes_idle_connection(void)
{
	CURL *c = curl_easy_init();
	struct request rq;
	struct reply r;
	long conn = -1;

	for (int i = 0; i < 3; i++) {
		rq = (struct request){ .path = "/p/echo/before" };
		CHECK(do_request(c, &rq, &r) == CURLE_OK && r.status == 200);
		conn = echo_conn(&r);
		reply_release(&r);
		rq.path = "/p/drop-idle";
		CHECK(do_request(c, &rq, &r) == CURLE_OK && r.status == 200);
		reply_release(&r);
		usleep(300 * 1000); /* the app closes it while it is pooled */
		rq.path = "/p/echo/after";
		CHECK(do_request(c, &rq, &r) == CURLE_OK);
		CHECK(r.status == 200);
		CHECK(echo_conn(&r) > conn);
		reply_release(&r);
	}
	curl_easy_cleanup(c);
}

/*
 * The app drops a reused connection on receiving the request (the race
 * with its idle timeout): a GET is retried on a fresh connection, a POST
 * is not (the app may have acted on it) and gets a 502.
 */
static void test_reused_connection_dropped(void)
{
	CURL *c = curl_easy_init();
	struct request rq = { .path = "/p/poison" };
	struct reply r;

	CHECK(do_request(c, &rq, &r) == CURLE_OK && r.status == 200);
	reply_release(&r);
	rq.path = "/p/echo/retried";
	CHECK(do_request(c, &rq, &r) == CURLE_OK);
	CHECK(r.status == 200);
	CHECK_CONTAINS(wl_buf_cstr(&r.body), "\"url\":\"/echo/retried\"");
	reply_release(&r);

	rq.path = "/p/poison";
	CHECK(do_request(c, &rq, &r) == CURLE_OK && r.status == 200);
	reply_release(&r);
	rq = (struct request){ .method = "POST",
			       .path = "/p/echo/once",
			       .body = "x" };
	CHECK(do_request(c, &rq, &r) == CURLE_OK);
	CHECK(r.status == 502);
	CHECK_CONTAINS(wl_buf_cstr(&r.body), "without answering");
	reply_release(&r);
	curl_easy_cleanup(c);
}

static void test_smuggling_shapes_rejected(void)
{
	static const struct {
		const char *req;
		const char *status_line;
	} cases[] = {
		{ "POST /p/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /p/count "
		  "HTTP/1.1\r\nHost: x\r\n\r\n",
		  "HTTP/1.1 400" },
		{ "GET /p/echo HTTP/1.1\r\nHost: x\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		  "HTTP/1.1 400" },
		{ "POST /p/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n"
		  "\r\nx",
		  "HTTP/1.1 400" },
	};
	CURL *c = curl_easy_init();
	long before = app_count(c), after;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_buf out;

		wl_buf_init(&out, 1 << 16);
		raw_request(cases[i].req, &out);
		if (strncmp(wl_buf_cstr(&out), cases[i].status_line,
			    strlen(cases[i].status_line)))
			fprintf(stderr, "case %zu: got '%.60s'\n", i,
				wl_buf_cstr(&out));
		CHECK(!strncmp(wl_buf_cstr(&out), cases[i].status_line,
			       strlen(cases[i].status_line)));
		wl_buf_release(&out);
	}
	after = app_count(c);
	CHECK(before > 0);
	CHECK(after == before + 1); /* only our own /count reached the app */
	curl_easy_cleanup(c);
}

static void test_app_down_is_502_quickly(void)
{
	CURL *c = curl_easy_init();
	struct request rq = { .path = "/p/down/x" };
	struct reply r;
	uint64_t errors = atomic_load(&wl_metrics.proxy_errors);
	int64_t t0 = wl_time_mono_ms();

	CHECK(do_request(c, &rq, &r) == CURLE_OK);
	CHECK(r.status == 502);
	CHECK_CONTAINS(wl_buf_cstr(&r.body), "app not reachable");
	CHECK(wl_time_mono_ms() - t0 < 2000);
	CHECK(atomic_load(&wl_metrics.proxy_errors) == errors + 1);
	reply_release(&r);
	curl_easy_cleanup(c);
}

/*
 * 50 MiB through the proxy to a client reading at 25 MB/s: without
 * back-pressure the proxy would have to hold most of it (and fails once
 * its buffer cap is hit); with it, RSS stays flat.
 */
static void test_large_download_bounded_memory(void)
{
	static const char *const paths[] = { "/p/big?mb=50",
					     "/p/stream?mb=50" };
	CURL *c = curl_easy_init();

	for (size_t i = 0; i < 2; i++) {
		struct request rq = { .path = paths[i],
				      .max_recv_speed = 25 * 1000 * 1000 };
		struct reply r;
		long before = rss_kb();
		uint64_t out0 = atomic_load(&wl_metrics.proxy_bytes_out);
		int64_t t0 = wl_time_mono_ms();

		CHECK(do_request(c, &rq, &r) == CURLE_OK);
		CHECK(r.status == 200);
		CHECK(r.body_bytes == 50u * 1024 * 1024);
		fprintf(stderr,
			"  %s: %zu bytes in %lld ms, rss %ld kB -> max %ld "
			"kB\n",
			paths[i], r.body_bytes,
			(long long)(wl_time_mono_ms() - t0), before,
			r.rss_max_kb);
		CHECK(r.rss_max_kb - before < 16 * 1024);
		CHECK(atomic_load(&wl_metrics.proxy_bytes_out) - out0 ==
		      50u * 1024 * 1024);
		reply_release(&r);
	}
	curl_easy_cleanup(c);
}

/* A 5 MiB upload streams through (the proxy buffers at most BUF_MAX). */
static void test_large_upload(void)
{
	size_t n = 5u << 20;
	char *body = malloc(n + 1);
	CURL *c = curl_easy_init();
	struct request rq = { .method = "POST", .path = "/p/echo/upload" };
	struct reply r;

	memset(body, 'u', n);
	body[n] = '\0';
	rq.body = body;
	CHECK(do_request(c, &rq, &r) == CURLE_OK);
	CHECK(r.status == 200);
	CHECK_CONTAINS(wl_buf_cstr(&r.body), "\"bodyLength\":5242880");
	reply_release(&r);
	free(body);
	curl_easy_cleanup(c);
}

/* A client that gives up mid-download leaves nothing behind. */
static void test_client_abort_mid_body(void)
{
	CURL *c = curl_easy_init();
	struct request rq = { .path = "/p/big?mb=50",
			      .max_recv_speed = 1000 * 1000,
			      .timeout_ms = 300 };
	struct reply r;

	CHECK(do_request(c, &rq, &r) != CURLE_OK);
	reply_release(&r);
	rq.path = "/p/echo/after";
	rq.max_recv_speed = 0;
	rq.timeout_ms = 0;
	CHECK(do_request(c, &rq, &r) == CURLE_OK);
	CHECK(r.status == 200);
	reply_release(&r);
	curl_easy_cleanup(c);
}

static void test_websocket_echo_and_close(void)
{
	static const char script[] =
		"import asyncio, sys, websockets\n"
		"async def main():\n"
		"    url = sys.argv[1]\n"
		"    async with websockets.connect(url, max_size=None) as ws:\n"
		"        await ws.send('hello')\n"
		"        assert await ws.recv() == 'hello', 'text'\n"
		"        blob = bytes(range(256)) * 4096\n"
		"        await ws.send(blob)\n"
		"        assert await ws.recv() == blob, 'binary'\n"
		"        await ws.send(['frag', 'mented'])\n"
		"        assert await ws.recv() == 'fragmented', 'fragments'\n"
		"        await ws.send('close:4001')\n"
		"        try:\n"
		"            await asyncio.wait_for(ws.recv(), 5)\n"
		"            print('no close'); sys.exit(1)\n"
		"        except websockets.ConnectionClosed as e:\n"
		"            print('closed', e.code, e.reason)\n"
		"            sys.exit(0 if e.code == 4001 else 2)\n"
		"asyncio.run(main())\n";
	char url[128];
	uint64_t sessions = atomic_load(&wl_metrics.proxy_ws_sessions);

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/p/ws", proxy_port);
	CHECK(run_python(script, url) == 0);
	CHECK(atomic_load(&wl_metrics.proxy_ws_sessions) == sessions + 1);
}

static void test_websocket_app_down_closes(void)
{
	static const char script[] =
		"import asyncio, sys, websockets\n"
		"async def main():\n"
		"    async with websockets.connect(sys.argv[1]) as ws:\n"
		"        try:\n"
		"            await asyncio.wait_for(ws.recv(), 10)\n"
		"            sys.exit(1)\n"
		"        except websockets.ConnectionClosed as e:\n"
		"            print('closed', e.code, e.reason)\n"
		"            sys.exit(0 if e.code == 1014 else 2)\n"
		"asyncio.run(main())\n";
	char url[128];

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/p/down/ws", proxy_port);
	CHECK(run_python(script, url) == 0);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_forwarding_table),
		UNIT(test_keepalive_reuses_connection),
		UNIT(test_upstream_connections_reused),
		UNIT(test_app_connection_close_not_reused),
		UNIT(test_app_closes_idle_connection),
		UNIT(test_reused_connection_dropped),
		UNIT(test_smuggling_shapes_rejected),
		UNIT(test_app_down_is_502_quickly),
		UNIT(test_large_download_bounded_memory),
		UNIT(test_large_upload),
		UNIT(test_client_abort_mid_body),
		UNIT(test_websocket_echo_and_close),
		UNIT(test_websocket_app_down_closes),
		{ 0 },
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (echo_app_start(&app_port, &app_pid) < 0 || start_server() < 0) {
		fprintf(stderr, "cannot start the echo app or the server\n");
		stop_all();
		return 1;
	}
	rc = wl_unit_run(tests);
	stop_all();
	curl_global_cleanup();
	return rc;
}
