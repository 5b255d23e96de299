/*
 * DESIGN: one lws client context per connection attempt, serviced by the
 * caller's thread in wl_cli_watch_run(); a sorted-usec timer wakes the loop
 * every tick_ms so on_tick runs even while no event comes. Fragments of a
 * message are joined in a bounded buffer before on_event sees them.
 */
#include "controller/cli_watch.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/banned.h"

#define EVENT_MAX (1 << 20)

struct watch {
	const struct wl_cli_watch_opts *o;
	struct lws_context *ctx;
	lws_sorted_usec_list_t sul;
	struct wl_buf msg;
	char auth[1024];
	int established, done, stopped, tick_due, failed;
	char why[512];
};

/* scheme://host[:port][/prefix] of the server URL. */
struct target {
	char host[256];
	char host_header[300];
	char prefix[1024];
	int port;
	int tls;
};

static int parse_server(struct target *t, const char *url)
{
	const char *p = url, *end, *slash;
	size_t hlen;

	memset(t, 0, sizeof(*t));
	if (!strncmp(p, "https://", 8)) {
		t->tls = 1;
		t->port = 443;
		p += 8;
	} else if (!strncmp(p, "http://", 7)) {
		t->port = 80;
		p += 7;
	} else {
		wl_error_set("cannot reach the worklet server at %s: not an "
			     "http:// or https:// URL",
			     url);
		return WL_EUNAVAIL;
	}
	slash = p + strcspn(p, "/");
	snprintf(t->prefix, sizeof(t->prefix), "%s", slash);
	if (*p == '[') { /* [v6]:port */
		end = memchr(p, ']', (size_t)(slash - p));
		if (!end)
			goto bad;
		hlen = (size_t)(end - p - 1);
		if (hlen >= sizeof(t->host))
			goto bad;
		memcpy(t->host, p + 1, hlen);
		end++;
	} else {
		end = p + strcspn(p, ":/");
		hlen = (size_t)(end - p);
		if (!hlen || hlen >= sizeof(t->host))
			goto bad;
		memcpy(t->host, p, hlen);
	}
	if (*end == ':') {
		char *e;
		long port = strtol(end + 1, &e, 10);

		if (e == end + 1 || e != slash || port < 1 || port > 65535)
			goto bad;
		t->port = (int)port;
	}
	snprintf(t->host_header, sizeof(t->host_header), "%.*s",
		 (int)(slash - p), p);
	return 0;
bad:
	wl_error_set("cannot reach the worklet server at %s: not a valid URL",
		     url);
	return WL_EUNAVAIL;
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct watch *w = lws_container_of(sul, struct watch, sul);

	w->tick_due = 1;
	lws_sul_schedule(w->ctx, 0, &w->sul, tick,
			 (lws_usec_t)w->o->tick_ms * LWS_US_PER_MS);
}

static int on_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		 void *in, size_t len)
{
	struct watch *w = lws_context_user(lws_get_context(wsi));

	(void)user;
	if (!w)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;

		if (w->auth[0] &&
		    lws_add_http_header_by_name(
			    wsi,
			    (const unsigned char *)(w->o->conn->token
							    ? "authorization:"
							    : "x-user-id:"),
			    (const unsigned char *)w->auth,
			    (int)strlen(w->auth), p, end))
			return -1;
		break;
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(w->why, sizeof(w->why), "%.*s",
			 in ? (int)strnlen(in, 400) : 0,
			 in ? (const char *)in : "");
		w->failed = 1;
		w->done = 1;
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		w->established = 1;
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len > 2)
			snprintf(w->why, sizeof(w->why), "%.*s",
				 (int)(len - 2 > 400 ? 400 : len - 2),
				 (const char *)in + 2);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (w->stopped)
			return -1;
		if (wl_buf_add(&w->msg, in, len) < 0) {
			snprintf(w->why, sizeof(w->why),
				 "an event larger than %d KiB",
				 EVENT_MAX / 1024);
			w->done = 1;
			return -1;
		}
		if (!lws_is_final_fragment(wsi) ||
		    lws_remaining_packet_payload(wsi))
			break;
		if (w->o->on_event(w->o->arg, wl_buf_cstr(&w->msg),
				   w->msg.len)) {
			w->stopped = 1;
			w->done = 1;
		}
		wl_buf_reset(&w->msg);
		if (w->stopped)
			return -1;
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		w->done = 1;
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "worklet-watch", on_ws, 0, 64 * 1024, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

int wl_cli_watch_run(const struct wl_cli_watch_opts *o)
{
	struct lws_context_creation_info info;
	struct lws_client_connect_info cc;
	struct target t;
	struct watch w;
	struct wl_buf path;
	char id[256];
	int error = WL_ERROR;

	memset(&w, 0, sizeof(w));
	w.o = o;
	wl_buf_init(&w.msg, EVENT_MAX);
	wl_buf_init(&path, 4096);
	if ((error = parse_server(&t, o->conn->server)) < 0)
		goto out;
	if (o->conn->token)
		snprintf(w.auth, sizeof(w.auth), "Bearer %s", o->conn->token);
	else if (o->conn->user)
		snprintf(w.auth, sizeof(w.auth), "%s", o->conn->user);
	if (o->worklet_id) {
		wl_cli_url_escape(id, sizeof(id), o->worklet_id);
		wl_buf_printf(&path, "%s/api/worklet/worklets/%s/watch?",
			      t.prefix, id);
	} else {
		wl_buf_printf(&path, "%s/api/worklet/watch?", t.prefix);
	}
	if (o->logs)
		wl_buf_puts(&path, "logs=1&");
	if (o->since)
		wl_buf_printf(&path, "since=%llu&",
			      (unsigned long long)o->since);
	path.ptr[--path.len] = '\0'; /* the last '?' or '&' */

	lws_set_log_level(0, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = &w;
	info.gid = -1;
	info.uid = -1;
	if (t.tls)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	if (!(w.ctx = lws_create_context(&info))) {
		wl_error_set("cannot start a WebSocket client");
		error = WL_ERROR;
		goto out;
	}
	memset(&cc, 0, sizeof(cc));
	cc.context = w.ctx;
	cc.address = t.host;
	cc.port = t.port;
	cc.ssl_connection = t.tls ? LCCSCF_USE_SSL : 0;
	cc.path = wl_buf_cstr(&path);
	cc.host = t.host_header;
	cc.origin = t.host_header;
	cc.ietf_version_or_minus_one = -1;
	if (!lws_client_connect_via_info(&cc) && !w.failed) {
		w.failed = 1;
		snprintf(w.why, sizeof(w.why), "cannot connect");
	}
	if (o->on_tick && o->tick_ms > 0)
		lws_sul_schedule(w.ctx, 0, &w.sul, tick,
				 (lws_usec_t)o->tick_ms * LWS_US_PER_MS);
	while (!w.done) {
		if (lws_service(w.ctx, 0) < 0)
			break;
		if (w.tick_due && !w.done) {
			w.tick_due = 0;
			if (o->on_tick(o->arg)) {
				w.stopped = 1;
				break;
			}
		}
	}
	if (w.stopped) {
		error = 0;
	} else if (w.failed || !w.established) {
		wl_error_set("cannot open the watch stream at %s: %s",
			     o->conn->server,
			     w.why[0] ? w.why : "connection failed");
		error = WL_EUNAVAIL;
	} else {
		wl_error_set("the watch stream closed%s%s",
			     w.why[0] ? ": " : "", w.why);
		error = WL_ERROR;
	}
out:
	if (w.ctx) {
		lws_sul_cancel(&w.sul);
		lws_context_destroy(w.ctx);
	}
	memset(w.auth, 0, sizeof(w.auth));
	wl_buf_release(&w.msg);
	wl_buf_release(&path);
	return error;
}
