/*
 * Unit tests of apiserver/watch.c: a real libwebsockets server in this
 * process, serviced on its own thread like the API server's, and real
 * WebSocket clients (/usr/bin/python3 with Debian's python3-websockets)
 * as separate processes. The test's protocol callback stands in for
 * server.c: it takes the user and options from the query string.
 */
#include "tests/unit/unit.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "apiserver/events.h"
#include "apiserver/metrics.h"
#include "apiserver/session.h"
#include "apiserver/watch.h"
#include "specs/core/timeutil.h"
#include "specs/core/banned.h"

#define PYTHON "/usr/bin/python3"

/*
 * The client. Modes:
 *   read URL N        print the first N messages, one per line
 *   count URL N       after hello, N events with consecutive ids: "OK n"
 *   slow URL SECS     tiny buffers, read hello, stop reading for SECS,
 *                     then read to the end: "CLOSED code reason count"
 *   many URL M        M connections; "READY" once all have hello, then
 *                     "DONE ms got" once each has one more message
 *   ping URL          send {"type":"ping"}, print the next message
 */
static const char client_py[] =
	"import asyncio, json, socket, sys, time\n"
	"import websockets\n"
	"mode, url = sys.argv[1], sys.argv[2]\n"
	"arg = float(sys.argv[3]) if len(sys.argv) > 3 else 0\n"
	"def out(*a):\n"
	"    print(*a, flush=True)\n"
	"def conn(**kw):\n"
	"    return websockets.connect(url, compression=None, max_size=None,\n"
	"                              ping_interval=None, **kw)\n"
	"async def main():\n"
	"    if mode == 'read':\n"
	"        async with conn() as ws:\n"
	"            for _ in range(int(arg)):\n"
	"                out(await asyncio.wait_for(ws.recv(), 10))\n"
	"    elif mode == 'count':\n"
	"        async with conn() as ws:\n"
	"            json.loads(await asyncio.wait_for(ws.recv(), 10))\n"
	"            out('HELLO')\n"
	"            last, n = None, 0\n"
	"            while n < int(arg):\n"
	"                ev = json.loads(await asyncio.wait_for(ws.recv(), "
	"20))\n"
	"                if last is not None and ev['id'] != last + 1:\n"
	"                    out('GAP', last, ev['id']); return\n"
	"                last, n = ev['id'], n + 1\n"
	"            out('OK', n)\n"
	"    elif mode == 'slow':\n"
	"        port = int(url.split(':')[2].split('/')[0])\n"
	"        s = socket.socket()\n"
	"        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)\n"
	"        s.connect(('127.0.0.1', port))\n"
	"        async with conn(sock=s, max_queue=1, read_limit=1024) as ws:\n"
	"            await asyncio.wait_for(ws.recv(), 10)\n"
	"            out('HELLO')\n"
	"            await asyncio.sleep(arg)\n"
	"            n = 0\n"
	"            try:\n"
	"                while True:\n"
	"                    await asyncio.wait_for(ws.recv(), 20)\n"
	"                    n += 1\n"
	"            except websockets.ConnectionClosed as e:\n"
	"                out('CLOSED', e.code, e.reason or '-', n)\n"
	"    elif mode == 'many':\n"
	"        conns = await asyncio.gather(*[conn() for _ in "
	"range(int(arg))])\n"
	"        await asyncio.gather(*[asyncio.wait_for(c.recv(), 20) for c "
	"in "
	"conns])\n"
	"        out('READY')\n"
	"        t0 = time.monotonic()\n"
	"        got = await asyncio.gather(*[asyncio.wait_for(c.recv(), 20) "
	"for c in conns])\n"
	"        ms = (time.monotonic() - t0) * 1000\n"
	"        ok = sum(1 for m in got if json.loads(m).get('type') == "
	"'all')\n"
	"        out('DONE', '%.1f' % ms, ok)\n"
	"        await asyncio.gather(*[c.close() for c in conns])\n"
	"    elif mode == 'ping':\n"
	"        async with conn() as ws:\n"
	"            await asyncio.wait_for(ws.recv(), 10)\n"
	"            await ws.send('{\"type\":\"ping\"}')\n"
	"            out(await asyncio.wait_for(ws.recv(), 10))\n"
	"asyncio.run(main())\n";

static char script_path[64];
static struct lws_context *ctx;
static struct wl_events *events;
static pthread_t service_thread;
static atomic_int service_stop;
static int port;

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- the server --------------------------------------------------------- */

/* What the query asked for, from the handshake to ESTABLISHED. */
struct plan {
	char user[WL_USER_MAX + 1];
	char worklet[WL_ID_MAX + 1];
	struct wl_watch_opts o;
};

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len)
{
	struct wl_session *s = user;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		wl_watch_wake_all(lws_get_context(wsi));
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		/* The query is readable here, as in server.c; keep it. */
		struct plan *p = calloc(1, sizeof(*p));
		char arg[WL_USER_MAX + 16];
		const char *v;

		if (!p)
			return -1;
		/* The value comes back as a pointer into arg. */
		v = lws_get_urlarg_by_name(wsi, "user=", arg, sizeof(arg));
		snprintf(p->user, sizeof(p->user), "%s", v ? v : "alice");
		if ((v = lws_get_urlarg_by_name(wsi, "worklet=", arg,
						sizeof(arg)))) {
			snprintf(p->worklet, sizeof(p->worklet), "%s", v);
			p->o.worklet_id = p->worklet;
		}
		if ((v = lws_get_urlarg_by_name(wsi, "since=", arg,
						sizeof(arg))))
			p->o.since = strtoull(v, NULL, 10);
		p->o.logs = lws_get_urlarg_by_name(wsi, "logs=", arg,
						   sizeof(arg)) != NULL;
		s->impl = p;
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED: {
		struct plan *p = s->impl;
		int error;

		s->impl = NULL;
		if (!p)
			return -1;
		snprintf(s->user, sizeof(s->user), "%s", p->user);
		error = wl_watch_begin(wsi, s, events, &p->o);
		free(p);
		return error < 0 ? -1 : 0;
	}
	default:
		break;
	}
	if (s && s->kind == WL_SESSION_WATCH)
		return wl_watch_callback(wsi, reason, s, in, len);
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ "worklet-http", callback, sizeof(struct wl_session), 4096, 0, NULL,
	  0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void *service_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&service_stop))
		lws_service(ctx, 0);
	return NULL;
}

static int server_start(void)
{
	struct lws_context_creation_info info;
	int fd;

	lws_set_log_level(LLL_ERR, NULL);
	snprintf(script_path, sizeof(script_path), "/tmp/wl-watch-XXXXXX");
	if ((fd = mkstemp(script_path)) < 0 ||
	    write(fd, client_py, sizeof(client_py) - 1) !=
		    (ssize_t)(sizeof(client_py) - 1)) {
		perror("client script");
		return -1;
	}
	close(fd);
	if (wl_events_new(&events, 4096) < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	info.port = 0; /* any free port */
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.options =
		LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	if (!(ctx = lws_create_context(&info)))
		return -1;
	port = lws_get_vhost_listen_port(lws_get_vhost_by_name(ctx, "default"));
	wl_events_set_context(events, ctx);
	return pthread_create(&service_thread, NULL, service_main, NULL) ? -1
									 : 0;
}

static void server_stop(void)
{
	atomic_store(&service_stop, 1);
	lws_cancel_service(ctx);
	pthread_join(service_thread, NULL);
	wl_events_set_context(events, NULL);
	lws_context_destroy(ctx);
	wl_events_free(events);
	unlink(script_path);
}

/* ---- clients ------------------------------------------------------------ */

struct client {
	FILE *f;
	pid_t pid;
};

/* Start the client script; its stdout is read line by line. */
static int client_start(struct client *c, const char *mode, const char *query,
			const char *arg)
{
	char url[256];
	int fds[2];

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/watch%s%s", port,
		 query && query[0] ? "?" : "", query ? query : "");
	if (pipe(fds) < 0)
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(PYTHON, PYTHON, script_path, mode, url, arg,
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	c->f = fdopen(fds[0], "r");
	return c->f ? 0 : -1;
}

/* The client's next line without its newline, or "" at its end. */
static const char *client_line(struct client *c, char *buf, size_t n)
{
	size_t len;

	if (!fgets(buf, (int)n, c->f))
		buf[0] = '\0';
	len = strlen(buf);
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return buf;
}

static int client_end(struct client *c)
{
	int status = 0;

	fclose(c->f);
	waitpid(c->pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static uint64_t publish(const char *worklet, const char *user, const char *type,
			int is_log)
{
	return wl_events_publish(events, worklet, user, type, "\"x\":1",
				 is_log);
}

/* Wait until the server counts n watch clients (handshakes are async). */
static int wait_clients(int64_t n)
{
	for (int i = 0; i < 500; i++) {
		if (atomic_load(&wl_metrics.ws_clients) == n)
			return 1;
		sleep_ms(10);
	}
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_events_in_order(void)
{
	static const struct {
		const char *query;
		const char *want[4]; /* types of the events after hello */
		size_t nwant;
	} cases[] = {
		{ "", { "a1", "a2", "a4" }, 3 },
		{ "logs=1", { "a1", "a2", "a3", "a4" }, 4 },
		{ "worklet=w2&logs=1", { "a2", "a3" }, 2 },
		{ "user=bob", { "b1" }, 1 },
	};
	struct client c[4];
	char line[4096], n[8];
	uint64_t base = wl_events_last_id(events);

	for (size_t i = 0; i < 4; i++) {
		snprintf(n, sizeof(n), "%zu", cases[i].nwant + 1);
		CHECK(client_start(&c[i], "read", cases[i].query, n) == 0);
	}
	CHECK(wait_clients(4));
	publish("w1", "alice", "a1", 0);
	publish("w1", "bob", "b1", 0);
	publish("w2", "alice", "a2", 0);
	publish("w2", "alice", "a3", 1);
	publish("w3", "alice", "a4", 0);
	for (size_t i = 0; i < 4; i++) {
		char hello[64];

		snprintf(hello, sizeof(hello),
			 "{\"type\":\"hello\",\"last_id\":%" PRIu64 "}", base);
		CHECK_STR(client_line(&c[i], line, sizeof(line)), hello);
		for (size_t k = 0; k < cases[i].nwant; k++) {
			char want[64];

			snprintf(want, sizeof(want), "\"type\":\"%s\"",
				 cases[i].want[k]);
			CHECK_CONTAINS(client_line(&c[i], line, sizeof(line)),
				       want);
		}
		CHECK(client_end(&c[i]) == 0);
	}
	CHECK(wait_clients(0));
}

static void test_reconnect_since(void)
{
	struct client c;
	char line[4096], query[64], want[64];
	uint64_t seen, missed[5];

	/* Read hello and two events, then go away. */
	CHECK(client_start(&c, "read", "", "3") == 0);
	CHECK(wait_clients(1));
	publish("w1", "alice", "r1", 0);
	seen = publish("w1", "alice", "r2", 0);
	client_line(&c, line, sizeof(line));
	client_line(&c, line, sizeof(line));
	CHECK_CONTAINS(client_line(&c, line, sizeof(line)), "\"type\":\"r2\"");
	CHECK(client_end(&c) == 0);
	CHECK(wait_clients(0));

	/* What it missed, with someone else's in between. */
	for (int i = 0; i < 5; i++) {
		char type[8];

		snprintf(type, sizeof(type), "m%d", i);
		missed[i] = publish("w1", "alice", type, 0);
		publish("w1", "bob", "other", 0);
	}
	snprintf(query, sizeof(query), "since=%" PRIu64, seen);
	CHECK(client_start(&c, "read", query, "6") == 0);
	snprintf(want, sizeof(want), "{\"type\":\"hello\",\"last_id\":%" PRIu64,
		 wl_events_last_id(events));
	CHECK_CONTAINS(client_line(&c, line, sizeof(line)), want);
	for (int i = 0; i < 5; i++) {
		snprintf(want, sizeof(want),
			 "{\"id\":%" PRIu64 ",\"type\":\"m%d\"", missed[i], i);
		CHECK_CONTAINS(client_line(&c, line, sizeof(line)), want);
	}
	CHECK(client_end(&c) == 0);
	CHECK(wait_clients(0));
}

static void test_since_too_old(void)
{
	static const char *const queries[] = {
		"since=1",	  /* fell out of the history */
		"since=99999999", /* from before a server restart */
	};
	char line[4096], want[64];

	/* More than the history (4096) since id 1. */
	for (int i = 0; i < 4200; i++)
		publish("w9", "carol", "filler", 0);
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		struct client c;
		uint64_t last = wl_events_last_id(events), id;

		CHECK(client_start(&c, "read", queries[i], "3") == 0);
		CHECK(wait_clients(1));
		id = publish("w1", "alice", "fresh", 0);
		snprintf(want, sizeof(want),
			 "{\"type\":\"hello\",\"last_id\":%" PRIu64 "}", last);
		CHECK_STR(client_line(&c, line, sizeof(line)), want);
		snprintf(want, sizeof(want),
			 "{\"type\":\"resync\",\"last_id\":%" PRIu64 "}", last);
		CHECK_STR(client_line(&c, line, sizeof(line)), want);
		snprintf(want, sizeof(want),
			 "{\"id\":%" PRIu64 ",\"type\":\"fresh\"", id);
		CHECK_CONTAINS(client_line(&c, line, sizeof(line)), want);
		CHECK(client_end(&c) == 0);
		CHECK(wait_clients(0));
	}
}

static void test_ping(void)
{
	struct client c;
	char line[256];

	CHECK(client_start(&c, "ping", "", NULL) == 0);
	CHECK_STR(client_line(&c, line, sizeof(line)), "{\"type\":\"pong\"}");
	CHECK(client_end(&c) == 0);
	CHECK(wait_clients(0));
}

static void test_slow_client(void)
{
	enum { EVENTS = 3000 };
	struct client slow, fast;
	char line[256], count[16], *pad, *fields;
	uint64_t slow_before = atomic_load(&wl_metrics.ws_slow_disconnects);
	int64_t t0;

	CHECK(client_start(&slow, "slow", "", "3") == 0);
	snprintf(count, sizeof(count), "%d", EVENTS);
	CHECK(client_start(&fast, "count", "", count) == 0);
	CHECK_STR(client_line(&slow, line, sizeof(line)), "HELLO");
	CHECK_STR(client_line(&fast, line, sizeof(line)), "HELLO");
	CHECK(wait_clients(2));

	/* 2 KiB events, paced so that a client that reads keeps up. */
	pad = malloc(2048);
	fields = malloc(2100);
	memset(pad, 'p', 2047);
	pad[2047] = '\0';
	snprintf(fields, 2100, "\"pad\":\"%s\"", pad);
	t0 = wl_time_mono_ms();
	for (int i = 0; i < EVENTS; i++) {
		CHECK(wl_events_publish(events, "w1", "alice", "big", fields,
					0) != 0);
		if (i % 20 == 19)
			sleep_ms(2);
	}
	fprintf(stderr, "published %d events of 2 KiB in %" PRId64 " ms\n",
		EVENTS, wl_time_mono_ms() - t0);
	CHECK_STR(client_line(&fast, line, sizeof(line)), "OK 3000");
	CHECK(client_end(&fast) == 0);
	/* The slow one drains what was on the wire, then the close frame. */
	CHECK_CONTAINS(client_line(&slow, line, sizeof(line)),
		       "CLOSED 1008 too slow");
	fprintf(stderr, "slow client: %s\n", line);
	CHECK(client_end(&slow) == 0);
	CHECK(atomic_load(&wl_metrics.ws_slow_disconnects) == slow_before + 1);
	CHECK(wait_clients(0));
	free(pad);
	free(fields);
}

static void test_many_clients(void)
{
	enum { CLIENTS = 200 };
	struct client c;
	char line[256], n[8];
	int64_t t0, t1;

	snprintf(n, sizeof(n), "%d", CLIENTS);
	t0 = wl_time_mono_ms();
	CHECK(client_start(&c, "many", "", n) == 0);
	CHECK_STR(client_line(&c, line, sizeof(line)), "READY");
	t1 = wl_time_mono_ms();
	CHECK(atomic_load(&wl_metrics.ws_clients) == CLIENTS);
	fprintf(stderr, "%d clients connected in %" PRId64 " ms\n", CLIENTS,
		t1 - t0);
	t0 = wl_time_mono_ms();
	publish("w1", "alice", "all", 0);
	client_line(&c, line, sizeof(line));
	t1 = wl_time_mono_ms();
	fprintf(stderr,
		"one event to %d clients: %" PRId64
		" ms publish to last receipt (client says: %s)\n",
		CLIENTS, t1 - t0, line);
	{
		char want[32];

		snprintf(want, sizeof(want), " %d", CLIENTS);
		CHECK(!strncmp(line, "DONE ", 5));
		CHECK(strlen(line) > strlen(want) &&
		      !strcmp(line + strlen(line) - strlen(want), want));
	}
	CHECK(client_end(&c) == 0);
	CHECK(wait_clients(0));
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_events_in_order),
		UNIT(test_reconnect_since),
		UNIT(test_since_too_old),
		UNIT(test_ping),
		UNIT(test_slow_client),
		UNIT(test_many_clients),
		{ 0 },
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (access(PYTHON, X_OK) < 0) {
		fprintf(stderr, "%s: %s\n", PYTHON, strerror(errno));
		return 1;
	}
	if (server_start() < 0) {
		fprintf(stderr, "cannot start the test server\n");
		return 1;
	}
	rc = wl_unit_run(tests);
	server_stop();
	return rc;
}
