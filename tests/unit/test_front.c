/*
 * The front end against a real app, without Docker: a state directory with
 * hand-written spec and status files routes worklets to the Node echo
 * fixture (tests/fixtures/apps/echo) or to a port where nothing listens,
 * and the hand-off to libwebsockets is a stub that reads the connection
 * itself, so a test sees exactly what lws would have read, and answers
 * "lws" (libwebsockets itself is tested through server.c end to end).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apiserver/auth.h"
#include "apiserver/front.h"
#include "apiserver/http1.h"
#include "apiserver/metrics.h"
#include "apiserver/route.h"
#include "controller/config.h"
#include "specs/core/buf.h"
#include "specs/core/timeutil.h"
#include "specs/spec_store.h"
#include "echo_app.h"
#include "unit.h"

static struct wl_config cfg;
static struct wl_store store;
static struct wl_auth *auth;
static struct wl_route_cache *routes;
static struct wl_front *front;
static char state_dir[64];
static int front_port, app_port, dead_port;
static pid_t app_pid = -1;

/* What the stub "lws" read from the last connection handed to it. */
static pthread_mutex_t lws_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wl_buf lws_seen;
static atomic_int lws_handoffs;

/* ---- helpers ------------------------------------------------------------ */

/* Read until the peer closes, or until nothing came for wait_ms. */
static void read_all(int fd, struct wl_buf *out, int wait_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[65536];
	ssize_t n;

	while (poll(&pfd, 1, wait_ms) > 0 &&
	       (n = read(fd, buf, sizeof(buf))) > 0)
		wl_buf_add(out, buf, (size_t)n);
}

/* Send req on a new connection; what came back (until close or 3 s). */
static void exchange(const char *req, struct wl_buf *out)
{
	int fd = connect_port(front_port);

	wl_buf_reset(out);
	if (fd < 0)
		return;
	if (write(fd, req, strlen(req)) == (ssize_t)strlen(req))
		read_all(fd, out, 3000);
	close(fd);
}

/* How many times needle occurs in hay. */
static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static long app_number(const char *path)
{
	char req[256];
	struct wl_buf out;
	const char *body;
	long n = -1;

	wl_buf_init(&out, 1 << 20);
	snprintf(req, sizeof(req),
		 "GET /api/worklet/worklets/t1/proxy%s HTTP/1.1\r\nHost: "
		 "x\r\nX-User-ID: u1\r\nConnection: close\r\n\r\n",
		 path);
	exchange(req, &out);
	body = strstr(wl_buf_cstr(&out), "\r\n\r\n");
	if (!strncmp(wl_buf_cstr(&out), "HTTP/1.1 200", 12) && body)
		n = strtol(body + 4, NULL, 10);
	wl_buf_release(&out);
	return n;
}

/* ---- the stub lws ------------------------------------------------------- */

/* Front end thread: read the request as lws would, answer, close. */
static void stub_lws(void *arg, int fd)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: "
				     "3\r\nConnection: close\r\n\r\nlws";
	struct wl_buf got;
	const char *end;

	(void)arg;
	wl_buf_init(&got, 1 << 20);
	/* The head, and a body when it says Content-Length: 5. */
	for (int i = 0; i < 20; i++) {
		read_all(fd, &got, 100);
		end = strstr(wl_buf_cstr(&got), "\r\n\r\n");
		if (end && (!strstr(wl_buf_cstr(&got), "Content-Length: 5") ||
			    strlen(end + 4) >= 5))
			break;
	}
	pthread_mutex_lock(&lws_lock);
	wl_buf_reset(&lws_seen);
	wl_buf_add(&lws_seen, got.ptr, got.len);
	pthread_mutex_unlock(&lws_lock);
	atomic_fetch_add(&lws_handoffs, 1);
	if (write(fd, answer, sizeof(answer) - 1) < 0)
		fprintf(stderr, "stub lws: write failed\n");
	close(fd);
	wl_buf_release(&got);
}

static void lws_saw(struct wl_buf *out)
{
	pthread_mutex_lock(&lws_lock);
	wl_buf_reset(out);
	wl_buf_add(out, lws_seen.ptr, lws_seen.len);
	pthread_mutex_unlock(&lws_lock);
}

/* ---- setup -------------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* A worklet of user, in phase, its app on port. */
static int add_worklet(const char *id, const char *user, const char *phase,
		       int port)
{
	char path[256], text[1024];

	snprintf(path, sizeof(path), "%s/specs/%s.yaml", state_dir, id);
	snprintf(text, sizeof(text),
		 "apiVersion: worklet.dev/v1\nkind: Worklet\nmetadata:\n"
		 "  name: %s\n  userId: %s\n  generation: 1\nspec:\n"
		 "  gitRepo: /nowhere\n",
		 id, user);
	if (write_file(path, text) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/status/%s.yaml", state_dir, id);
	snprintf(text, sizeof(text),
		 "apiVersion: worklet.dev/v1\nkind: WorkletStatus\nmetadata:\n"
		 "  id: %s\n  generation: 1\nstatus:\n  phase: %s\n"
		 "  port: %d\n  lastError: it crashed\n",
		 id, phase, port);
	return write_file(path, text);
}

static int start_front(void)
{
	struct wl_front_options fo;
	char listen[64];

	snprintf(state_dir, sizeof(state_dir), "/tmp/wl-test-front-XXXXXX");
	if (!mkdtemp(state_dir) || wl_config_init(&cfg) < 0 ||
	    wl_store_init(&store, state_dir) < 0)
		return -1;
	front_port = free_port();
	dead_port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", front_port);
	free(cfg.listen);
	cfg.listen = strdup(listen);
	if (add_worklet("t1", "u1", "running", app_port) < 0 ||
	    add_worklet("t2", "u2", "running", app_port) < 0 ||
	    add_worklet("t3", "u1", "stopped", app_port) < 0 ||
	    add_worklet("t4", "u1", "running", dead_port) < 0 ||
	    wl_auth_new(&auth, &cfg) < 0 ||
	    wl_route_cache_new(&routes, &store) < 0)
		return -1;
	memset(&fo, 0, sizeof(fo));
	fo.cfg = &cfg;
	fo.auth = auth;
	fo.routes = routes;
	fo.handoff = stub_lws;
	fo.threads = 2;
	if (wl_front_new(&front, &fo) < 0)
		return -1;
	return wl_front_start(front);
}

static void stop_all(void)
{
	char cmd[128];

	wl_front_free(front);
	wl_route_cache_free(routes);
	wl_auth_free(auth);
	wl_store_release(&store);
	wl_config_release(&cfg);
	echo_app_stop(app_pid);
	if (state_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", state_dir);
	}
}

/* ---- tests -------------------------------------------------------------- */

static void test_every_header_reaches_the_app(void)
{
	static const char req[] =
		"GET /api/worklet/worklets/t1/proxy/echo/a%20b?q=1 HTTP/1.1\r\n"
		"Host: front\r\nX-User-ID: u1\r\nX-My-App-Header: 1\r\n"
		"Sec-Foo: bar\r\nX-Repeat: one\r\nx_under: u\r\n"
		"X-Repeat: two\r\nCookie: a=1; wl_session=s3cr3t\r\n"
		"X-Forwarded-For: 6.6.6.6\r\nConnection: close, X-Hop\r\n"
		"X-Hop: dropped\r\n\r\n";
	struct wl_buf out;
	const char *b;

	wl_buf_init(&out, 1 << 20);
	exchange(req, &out);
	b = wl_buf_cstr(&out);
	CHECK(!strncmp(b, "HTTP/1.1 200", 12));
	CHECK_CONTAINS(b, "\"url\":\"/echo/a%20b?q=1\"");
	CHECK_CONTAINS(b, "\"X-My-App-Header\",\"1\",\"Sec-Foo\",\"bar\","
			  "\"X-Repeat\",\"one\",\"x_under\",\"u\","
			  "\"X-Repeat\",\"two\"");
	CHECK_CONTAINS(b, "\"Cookie\",\"a=1\"");
	CHECK_CONTAINS(b, "\"X-Forwarded-For\",\"127.0.0.1\"");
	CHECK_CONTAINS(b, "\"X-Forwarded-Prefix\",\"/api/worklet/worklets/t1/"
			  "proxy\"");
	CHECK_CONTAINS(b, "\"X-Forwarded-Host\",\"front\"");
	CHECK(!strstr(b, "s3cr3t") && !strstr(b, "X-User-ID") &&
	      !strstr(b, "6.6.6.6") && !strstr(b, "X-Hop"));
	CHECK_CONTAINS(b, "\r\nConnection: close\r\n");
	wl_buf_release(&out);
}

static void test_host_routing_and_location(void)
{
	static const char req[] =
		"GET /redirect HTTP/1.1\r\nHost: "
		"T1.worklet.localhost:8080\r\nX-User-ID: u1\r\n"
		"Connection: close\r\n\r\n";
	static const char path_req[] =
		"GET /api/worklet/worklets/t1/proxy/redirect HTTP/1.1\r\n"
		"Host: x\r\nX-User-ID: u1\r\nConnection: close\r\n\r\n";
	struct wl_buf out;

	wl_buf_init(&out, 1 << 20);
	exchange(req, &out);
	CHECK(!strncmp(wl_buf_cstr(&out), "HTTP/1.1 302", 12));
	CHECK_CONTAINS(wl_buf_cstr(&out), "Location: /login\r\n");
	exchange(path_req, &out);
	CHECK_CONTAINS(wl_buf_cstr(&out),
		       "Location: /api/worklet/worklets/t1/proxy/login\r\n");
	wl_buf_release(&out);
}

static void test_others_go_to_lws_untouched(void)
{
	static const struct {
		const char *req;
		const char *lws_sees; /* all of it */
	} cases[] = {
		{ "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		  "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" },
		{ "POST /api/worklet/worklets HTTP/1.1\r\nHost: x\r\n"
		  "Content-Length: 5\r\n\r\n{\"a\":",
		  "POST /api/worklet/worklets HTTP/1.1\r\nHost: x\r\n"
		  "Content-Length: 5\r\n\r\n{\"a\":" },
		/* a proxy request first: the connection moves on after it */
		{ "GET /api/worklet/worklets/t1/proxy/echo HTTP/1.1\r\nHost: "
		  "x\r\nX-User-ID: u1\r\n\r\nPOST /api/worklet/worklets "
		  "HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		  "POST /api/worklet/worklets HTTP/1.1\r\nHost: x\r\n"
		  "Content-Length: 5\r\n\r\nhello" },
		/* not an HTTP/1.x request line: lws judges it */
		{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" },
		/* the host of another domain */
		{ "GET / HTTP/1.1\r\nHost: t1.example.com\r\n\r\n",
		  "GET / HTTP/1.1\r\nHost: t1.example.com\r\n\r\n" },
	};
	struct wl_buf out, seen;

	wl_buf_init(&out, 1 << 20);
	wl_buf_init(&seen, 1 << 20);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before = atomic_load(&lws_handoffs);

		exchange(cases[i].req, &out);
		lws_saw(&seen);
		if (strcmp(wl_buf_cstr(&seen), cases[i].lws_sees))
			fprintf(stderr, "case %zu: lws saw '%s'\n", i,
				wl_buf_cstr(&seen));
		CHECK(atomic_load(&lws_handoffs) == before + 1);
		CHECK_STR(wl_buf_cstr(&seen), cases[i].lws_sees);
		/* the proxied one was answered before the hand-off */
		CHECK(count_of(wl_buf_cstr(&out), "HTTP/1.1 200") ==
		      (strstr(cases[i].req, "/proxy/") ? 2 : 1));
		CHECK(strstr(wl_buf_cstr(&out), "\r\n\r\nlws"));
	}
	wl_buf_release(&out);
	wl_buf_release(&seen);
}

static void test_answers_of_our_own(void)
{
	static const struct {
		const char *req;
		const char *status;
		const char *body;
	} cases[] = {
		{ "GET /api/worklet/worklets/t1/proxy/ HTTP/1.1\r\n"
		  "Connection: close\r\n\r\n",
		  "HTTP/1.1 401", "unauthorized" },
		{ "GET /api/worklet/worklets/t2/proxy/ HTTP/1.1\r\nX-User-ID: "
		  "u1\r\nConnection: close\r\n\r\n",
		  "HTTP/1.1 404", "worklet not found" },
		{ "GET / HTTP/1.1\r\nHost: "
		  "nope.worklet.localhost\r\nX-User-ID: "
		  "u1\r\nConnection: close\r\n\r\n",
		  "HTTP/1.1 404", "worklet not found" },
		{ "GET /api/worklet/worklets/t3/proxy/ HTTP/1.1\r\nX-User-ID: "
		  "u1\r\nConnection: close\r\n\r\n",
		  "HTTP/1.1 503", "it is stopped.\nlast error: it crashed" },
		{ "GET /api/worklet/worklets/t4/proxy/ HTTP/1.1\r\nX-User-ID: "
		  "u1\r\n\r\n",
		  "HTTP/1.1 502", "app not reachable" },
		{ "POST /api/worklet/worklets/t1/proxy/echo HTTP/1.1\r\n"
		  "X-User-ID: u1\r\nContent-Length: 3\r\nTransfer-Encoding: "
		  "chunked\r\n\r\n0\r\n\r\n",
		  "HTTP/1.1 400", "both Content-Length and Transfer-Encoding" },
		{ "POST /api/worklet/worklets/t1/proxy/echo HTTP/1.1\r\n"
		  "X-User-ID: u1\r\nTransfer-Encoding: gzip\r\n\r\n",
		  "HTTP/1.1 501", "transfer coding not supported" },
		{ "POST /api/worklet/worklets/t1/proxy/echo HTTP/1.1\r\n"
		  "X-User-ID: u1\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\nabcdefg\r\n",
		  "HTTP/1.1 400", "malformed chunked body" },
	};
	struct wl_buf out;
	uint64_t errors = atomic_load(&wl_metrics.proxy_errors);
	int64_t t0 = wl_time_mono_ms();

	wl_buf_init(&out, 1 << 20);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		exchange(cases[i].req, &out);
		if (strncmp(wl_buf_cstr(&out), cases[i].status, 12))
			fprintf(stderr, "case %zu: '%.200s'\n", i,
				wl_buf_cstr(&out));
		CHECK(!strncmp(wl_buf_cstr(&out), cases[i].status, 12));
		CHECK_CONTAINS(wl_buf_cstr(&out), cases[i].body);
	}
	CHECK(wl_time_mono_ms() - t0 < 10000);
	CHECK(atomic_load(&wl_metrics.proxy_errors) == errors + 3);
	wl_buf_release(&out);
}

/* Write a file the way the store does: a temporary file, then rename. */
static int replace_file(const char *path, const char *text)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (write_file(tmp, text) < 0)
		return -1;
	return rename(tmp, path);
}

/*
 * A request made after a status or spec change is routed by the new
 * files, every time (the route cache must never answer from before).
 */
static void test_routing_follows_changes(void)
{
	static const char req[] =
		"GET /api/worklet/worklets/t5/proxy/count HTTP/1.1\r\n"
		"X-User-ID: u1\r\nConnection: close\r\n\r\n";
	char spec[256], status[256], text[512];
	struct wl_buf out;

	wl_buf_init(&out, 1 << 20);
	snprintf(spec, sizeof(spec), "%s/specs/t5.yaml", state_dir);
	snprintf(status, sizeof(status), "%s/status/t5.yaml", state_dir);
	CHECK(add_worklet("t5", "u1", "running", app_port) == 0);
	for (int i = 0; i < 20; i++) {
		const char *phase = i % 2 ? "stopped" : "running";

		snprintf(text, sizeof(text),
			 "apiVersion: worklet.dev/v1\nkind: WorkletStatus\n"
			 "metadata:\n  id: t5\n  generation: 1\nstatus:\n"
			 "  phase: %s\n  port: %d\n",
			 phase, app_port);
		CHECK(replace_file(status, text) == 0);
		exchange(req, &out);
		if (strncmp(wl_buf_cstr(&out),
			    i % 2 ? "HTTP/1.1 503" : "HTTP/1.1 200", 12))
			fprintf(stderr, "round %d (%s): %.60s\n", i, phase,
				wl_buf_cstr(&out));
		CHECK(!strncmp(wl_buf_cstr(&out),
			       i % 2 ? "HTTP/1.1 503" : "HTTP/1.1 200", 12));
	}
	/* A rollout: the old version stays Ready while the new one builds. */
	snprintf(text, sizeof(text),
		 "apiVersion: worklet.dev/v1\nkind: WorkletStatus\n"
		 "metadata:\n  id: t5\n  generation: 2\nstatus:\n"
		 "  phase: building\n  port: %d\n  containerId: c0ffee\n"
		 "  conditions:\n  - type: Ready\n    status: \"True\"\n"
		 "    reason: Serving\n",
		 app_port);
	CHECK(replace_file(status, text) == 0);
	exchange(req, &out);
	CHECK(!strncmp(wl_buf_cstr(&out), "HTTP/1.1 200", 12));
	snprintf(text, sizeof(text),
		 "apiVersion: worklet.dev/v1\nkind: WorkletStatus\n"
		 "metadata:\n  id: t5\n  generation: 2\nstatus:\n"
		 "  phase: building\n  port: %d\n",
		 app_port);
	CHECK(replace_file(status, text) == 0);
	exchange(req, &out);
	CHECK(!strncmp(wl_buf_cstr(&out), "HTTP/1.1 503", 12));
	CHECK_CONTAINS(wl_buf_cstr(&out), "it is building");
	/* Given to someone else, then deleted: 404 at once. */
	snprintf(text, sizeof(text),
		 "apiVersion: worklet.dev/v1\nkind: Worklet\nmetadata:\n"
		 "  name: t5\n  userId: u2\n  generation: 2\nspec:\n"
		 "  gitRepo: /nowhere\n");
	CHECK(replace_file(spec, text) == 0);
	exchange(req, &out);
	CHECK(!strncmp(wl_buf_cstr(&out), "HTTP/1.1 404", 12));
	CHECK(add_worklet("t5", "u1", "running", app_port) == 0);
	exchange(req, &out);
	CHECK(!strncmp(wl_buf_cstr(&out), "HTTP/1.1 200", 12));
	CHECK(unlink(spec) == 0);
	exchange(req, &out);
	CHECK(!strncmp(wl_buf_cstr(&out), "HTTP/1.1 404", 12));
	wl_buf_release(&out);
}

static void test_oversized_head(void)
{
	struct wl_buf req, out;
	int handoffs = atomic_load(&lws_handoffs);

	wl_buf_init(&req, 1 << 20);
	wl_buf_init(&out, 1 << 20);
	wl_buf_puts(&req, "GET /api/worklet/worklets/t1/proxy/ HTTP/1.1\r\n"
			  "X-User-ID: u1\r\nX-Big: ");
	for (int i = 0; i < 70 * 1024; i++)
		wl_buf_putc(&req, 'a');
	wl_buf_puts(&req, "\r\n\r\n");
	exchange(req.ptr, &out);
	CHECK(!strncmp(wl_buf_cstr(&out), "HTTP/1.1 431", 12));
	CHECK(atomic_load(&lws_handoffs) == handoffs);
	wl_buf_release(&req);
	wl_buf_release(&out);
}

static int to_buf(void *ctx, const char *data, size_t n)
{
	return wl_buf_add(ctx, data, n);
}

/* One response from a keep-alive connection: its head and body into out. */
static int read_response(int fd, struct wl_buf *out)
{
	struct wl_buf in;
	struct wl_http1_response rs;
	struct wl_http1_chunked dec;
	size_t end = 0, used = 0;
	int error = -1;

	memset(&dec, 0, sizeof(dec));
	wl_buf_init(&in, 1 << 20);
	wl_buf_reset(out);
	for (;;) {
		char buf[16384];
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (!end && (end = wl_http1_head_end(in.ptr, in.len))) {
			if (wl_http1_parse_response(&rs, in.ptr, end, 0) < 0)
				goto done;
			wl_buf_add(out, in.ptr, end); /* the head, then */
			used = end;
		}
		if (end && rs.framing == WL_HTTP1_LENGTH &&
		    in.len - end >= rs.length) {
			wl_buf_add(out, in.ptr + end, (size_t)rs.length);
			error = 0;
			goto done;
		}
		if (end && rs.framing == WL_HTTP1_CHUNKED) {
			long k = wl_http1_chunked_feed(&dec, in.ptr + used,
						       in.len - used, to_buf,
						       out);

			if (k < 0)
				goto done;
			used += (size_t)k;
			if (wl_http1_chunked_done(&dec)) {
				error = 0;
				goto done;
			}
		}
		if (end && rs.framing == WL_HTTP1_NONE) {
			error = 0;
			goto done;
		}
		if (poll(&pfd, 1, 5000) <= 0 ||
		    (n = read(fd, buf, sizeof(buf))) <= 0)
			goto done;
		wl_buf_add(&in, buf, (size_t)n);
	}
done:
	wl_buf_release(&in);
	return error;
}

static int ka_request(int fd, const char *req, struct wl_buf *out)
{
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return -1;
	return read_response(fd, out);
}

/*
 * Upstream keep-alive: fresh client connections share a few connections
 * to the app; a pooled one the app drops as it is reused is retried once
 * for a GET, and answered 502 for a POST (the app may have acted on it).
 */
static void test_upstream_keepalive(void)
{
	static const char get[] =
		"GET /api/worklet/worklets/t1/proxy/echo/r HTTP/1.1\r\n"
		"Host: x\r\nX-User-ID: u1\r\n\r\n";
	static const char poison[] =
		"GET /api/worklet/worklets/t1/proxy/poison HTTP/1.1\r\n"
		"Host: x\r\nX-User-ID: u1\r\n\r\n";
	static const char post[] =
		"POST /api/worklet/worklets/t1/proxy/echo/once HTTP/1.1\r\n"
		"Host: x\r\nX-User-ID: u1\r\nContent-Length: 1\r\n\r\nx";
	long before = app_number("/conns"), after;
	struct wl_buf out;
	int fd;

	wl_buf_init(&out, 1 << 20);
	for (int i = 0; i < 30; i++) {
		fd = connect_port(front_port);
		CHECK(ka_request(fd, get, &out) == 0);
		CHECK(!strncmp(wl_buf_cstr(&out), "HTTP/1.1 200", 12));
		close(fd);
	}
	after = app_number("/conns");
	fprintf(stderr, "  30 client connections: %ld upstream ones\n",
		after - before);
	CHECK(before > 0 && after - before <= 3);

	fd = connect_port(front_port); /* one connection: one worker */
	CHECK(ka_request(fd, poison, &out) == 0);
	CHECK(ka_request(fd, get, &out) == 0);
	CHECK(!strncmp(wl_buf_cstr(&out), "HTTP/1.1 200", 12));
	CHECK_CONTAINS(wl_buf_cstr(&out), "\"url\":\"/echo/r\"");
	CHECK(ka_request(fd, poison, &out) == 0);
	CHECK(ka_request(fd, post, &out) == 0);
	CHECK(!strncmp(wl_buf_cstr(&out), "HTTP/1.1 502", 12));
	CHECK_CONTAINS(wl_buf_cstr(&out), "without answering");
	close(fd);
	wl_buf_release(&out);
}

/*
 * 50 MiB to a client reading at about 25 MB/s, with and without a length:
 * back-pressure keeps the front end's memory flat, and HTTP/1.1 gets the
 * unknown length chunked. Then as fast as it goes: a transfer that keeps
 * both sockets busy must not stall when the worker turns to others.
 */
static void test_downloads_bounded_memory(void)
{
	static const char *const paths[] = { "/big?mb=50", "/stream?mb=50",
					     "/big?mb=50", "/stream?mb=50" };

	for (size_t i = 0; i < 4; i++) {
		char req[256], buf[65536];
		size_t total = 0;
		long before = rss_kb(), max = before;
		int fd = connect_port(front_port), chunked = 0;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		snprintf(
			req, sizeof(req),
			"GET /api/worklet/worklets/t1/proxy%s HTTP/1.1\r\n"
			"Host: x\r\nX-User-ID: u1\r\nConnection: close\r\n\r\n",
			paths[i]);
		CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
		while (poll(&pfd, 1, 5000) > 0 &&
		       (n = read(fd, buf, sizeof(buf))) > 0) {
			if (!total && memmem(buf, (size_t)n,
					     "Transfer-Encoding: chunked", 26))
				chunked = 1;
			total += (size_t)n;
			if ((total >> 22) != ((total - (size_t)n) >> 22)) {
				long kb = rss_kb();

				max = kb > max ? kb : max;
			}
			if (i < 2)
				usleep(2500); /* 64 KiB per 2.5 ms at most */
		}
		close(fd);
		fprintf(stderr, "  %s: %zu bytes, rss %ld kB -> max %ld kB\n",
			paths[i], total, before, max);
		CHECK(total > 50u * 1024 * 1024);
		CHECK(max - before < 16 * 1024);
		CHECK(chunked == (i % 2 == 1));
	}
}

/*
 * A client that reads as fast as it can: the worker turns to others after
 * a number of steps with this one (fairness), and must come back to it by
 * itself: its sockets are edge-triggered, and once the app has written the
 * rest of the body no new event would come for it.
 */
static void test_fast_reader_gets_everything(void)
{
	static const int mbs[] = { 16, 32, 48, 16, 32, 48 };
	char *buf = malloc(1 << 20);

	for (size_t k = 0; k < sizeof(mbs) / sizeof(mbs[0]); k++) {
		char req[256];
		int fd = connect_port(front_port);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		size_t total = 0, want = (size_t)mbs[k] << 20;
		ssize_t n;

		snprintf(req, sizeof(req),
			 "GET /api/worklet/worklets/t1/proxy/big?mb=%d "
			 "HTTP/1.1\r\nHost: x\r\nX-User-ID: u1\r\n"
			 "Connection: close\r\n\r\n",
			 mbs[k]);
		CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
		while (poll(&pfd, 1, 3000) > 0 &&
		       (n = read(fd, buf, 1 << 20)) > 0)
			total += (size_t)n;
		close(fd);
		if (total <= want)
			fprintf(stderr, "  %d MiB: stalled after %zu bytes\n",
				mbs[k], total);
		CHECK(total > want);
	}
	free(buf);
}

static void test_websocket_tunnel(void)
{
	static const char script[] =
		"import asyncio, json, sys, websockets\n"
		"async def main():\n"
		"    h = {'X-User-ID': 'u1', 'X-My-App-Header': 'ws'}\n"
		"    async with websockets.connect(sys.argv[1], "
		"max_size=None,\n"
		"                                  extra_headers=h) as ws:\n"
		"        await ws.send('headers?')\n"
		"        raw = json.loads(await ws.recv())\n"
		"        assert 'X-My-App-Header' in raw, raw\n"
		"        assert 'X-User-ID' not in raw, raw\n"
		"        blob = bytes(range(256)) * 4096\n"
		"        await ws.send(blob)\n"
		"        assert await ws.recv() == blob, 'binary'\n"
		"        await ws.send(['frag', 'mented'])\n"
		"        assert await ws.recv() == 'fragmented', 'fragments'\n"
		"        await ws.send('close:4001')\n"
		"        try:\n"
		"            await asyncio.wait_for(ws.recv(), 5)\n"
		"            sys.exit(1)\n"
		"        except websockets.ConnectionClosed as e:\n"
		"            sys.exit(0 if e.code == 4001 else 2)\n"
		"asyncio.run(main())\n";
	char url[128];
	uint64_t sessions = atomic_load(&wl_metrics.proxy_ws_sessions);

	snprintf(url, sizeof(url),
		 "ws://127.0.0.1:%d/api/worklet/worklets/t1/proxy/ws",
		 front_port);
	CHECK(run_python(script, url) == 0);
	CHECK(atomic_load(&wl_metrics.proxy_ws_sessions) == sessions + 1);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_every_header_reaches_the_app),
		UNIT(test_host_routing_and_location),
		UNIT(test_others_go_to_lws_untouched),
		UNIT(test_answers_of_our_own),
		UNIT(test_oversized_head),
		UNIT(test_routing_follows_changes),
		UNIT(test_upstream_keepalive),
		UNIT(test_downloads_bounded_memory),
		UNIT(test_fast_reader_gets_everything),
		UNIT(test_websocket_tunnel),
		{ 0 },
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	wl_buf_init(&lws_seen, 1 << 20);
	if (echo_app_start(&app_port, &app_pid) < 0 || start_front() < 0) {
		fprintf(stderr, "cannot start the echo app or the front end\n");
		stop_all();
		return 1;
	}
	rc = wl_unit_run(tests);
	stop_all();
	wl_buf_release(&lws_seen);
	return rc;
}
