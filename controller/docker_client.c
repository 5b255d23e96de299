#include "controller/docker_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "specs/core/error.h"
#include "specs/core/timeutil.h"
#include "specs/core/banned.h"

/*
 * DESIGN: a struct wl_docker belongs to one thread at a time (it owns one
 * curl easy handle, reused so that its connection to the socket is kept
 * alive between requests). Nothing here is shared between structs, so
 * different threads may each use their own without locking. cJSON objects
 * never leave this file: answers are converted to our structs at the edge.
 *
 * Every answer is read into a bounded buffer: whole JSON documents up to
 * JSON_MAX, streams (build output, events) one line at a time, each line
 * at most STREAM_LINE_MAX.
 */

#define API_BASE "http://localhost/v1.41"
#define DEFAULT_HOST "unix:///var/run/docker.sock"

#define JSON_MAX (8 * 1024 * 1024)
#define STREAM_LINE_MAX (1024 * 1024) /* one JSON message of a stream */
#define OUTPUT_LINE_MAX (64 * 1024)   /* one line of build output */
#define ERROR_BODY_MAX (64 * 1024)    /* an error answer on a stream */
#define WHAT_MAX 1024		      /* the subject of messages */
#define URL_MAX (256 * 1024)
#define INSTRUCTION_MAX 160 /* of "step 3/7 (RUN npm ci)" in messages */
#define TAIL_LINES 200	    /* of the current step's output, kept */
#define TAIL_LINE_MAX 240   /* bytes of one kept line */
#define CAUSE_LINES 8	    /* lines of output in a failure message */
#define CAUSE_MAX 1600	    /* bytes of them */

#define CONNECT_TIMEOUT_MS 10000L
#define REQUEST_TIMEOUT_MS 120000L

struct wl_docker {
	CURL *curl;
	char *socket_path;
	char errbuf[CURL_ERROR_SIZE];
};

enum sink {
	SINK_BODY,  /* collect the whole answer (JSON) */
	SINK_LINES, /* call on_line per line (JSON-lines streams) */
	SINK_LOGS,  /* decode the multiplexed log stream */
};

enum abort_reason {
	ABORT_NONE = 0,
	ABORT_CANCEL,
	ABORT_TIMEOUT,
};

enum log_mode {
	LOG_UNDECIDED = 0,
	LOG_MULTIPLEXED,
	LOG_RAW, /* a TTY container: the stream is plain text */
};

struct xfer;
typedef int (*line_fn)(struct xfer *x, char *line, size_t len);

/* The state of one request. */
struct xfer {
	struct wl_docker *d;
	enum sink sink;
	struct wl_buf what; /* "cannot inspect image 'x'": message prefix */
	long status;
	struct wl_buf body; /* SINK_BODY; the error answer of any sink */

	struct wl_buf line; /* SINK_LINES: the line being received */
	line_fn on_line;
	void *ctx;

	struct wl_buf *logs;	   /* SINK_LOGS */
	wl_docker_logs_cb logs_cb; /* SINK_LOGS when following */
	void *logs_ctx;
	struct wl_docker_log_decoder dec;
	unsigned char sniff[8];
	size_t sniff_len;
	enum log_mode log_mode;

	const volatile int *cancel;
	int (*stop)(void *ctx); /* polled like cancel; may be NULL */
	void *stop_ctx;
	int64_t deadline_ms; /* monotonic; 0 = none */
	enum abort_reason aborted;
	int error; /* a callback failed; its message is set */
};

static void xfer_init(struct xfer *x, struct wl_docker *d, enum sink sink,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void xfer_init(struct xfer *x, struct wl_docker *d, enum sink sink,
		      const char *fmt, ...)
{
	va_list ap;

	memset(x, 0, sizeof(*x));
	x->d = d;
	x->sink = sink;
	wl_buf_init(&x->what, WHAT_MAX);
	wl_buf_init(&x->body, sink == SINK_BODY ? JSON_MAX : ERROR_BODY_MAX);
	wl_buf_init(&x->line, STREAM_LINE_MAX);
	wl_docker_log_decoder_init(&x->dec);
	va_start(ap, fmt);
	if (wl_buf_vprintf(&x->what, fmt, ap) < 0)
		wl_buf_reset(&x->what); /* too long: better no subject */
	va_end(ap);
}

static void xfer_release(struct xfer *x)
{
	wl_buf_release(&x->what);
	wl_buf_release(&x->body);
	wl_buf_release(&x->line);
}

static const char *what(const struct xfer *x)
{
	return wl_buf_cstr(&x->what);
}

/* ---- the multiplexed log stream ---- */

/* Stream types 0-2 (stdin/out/err) and 3 (systemerr, newer daemons). */
static int log_header_valid(const unsigned char *h)
{
	return h[0] <= 3 && !h[1] && !h[2] && !h[3];
}

void wl_docker_log_decoder_init(struct wl_docker_log_decoder *dec)
{
	memset(dec, 0, sizeof(*dec));
}

int wl_docker_log_decode(struct wl_docker_log_decoder *dec, const char *data,
			 size_t len, struct wl_buf *out)
{
	size_t i = 0, n;
	int error;

	while (i < len) {
		if (dec->remaining) {
			n = len - i < dec->remaining ? len - i : dec->remaining;
			if ((error = wl_buf_add(out, data + i, n)) < 0)
				return error;
			i += n;
			dec->remaining -= n;
			continue;
		}
		/*
		 * A complete header is never kept: a valid one is consumed at
		 * once, so a full one here is the invalid one that stopped an
		 * earlier call. The error sticks.
		 */
		if (dec->hdr_len >= sizeof(dec->hdr))
			goto invalid;
		n = sizeof(dec->hdr) - dec->hdr_len;
		if (n > len - i)
			n = len - i;
		memcpy(dec->hdr + dec->hdr_len, data + i, n);
		dec->hdr_len += n;
		i += n;
		if (dec->hdr_len < sizeof(dec->hdr))
			break;
		if (!log_header_valid(dec->hdr))
			goto invalid;
		dec->remaining = (size_t)dec->hdr[4] << 24 |
				 (size_t)dec->hdr[5] << 16 |
				 (size_t)dec->hdr[6] << 8 | (size_t)dec->hdr[7];
		dec->hdr_len = 0;
	}
	return 0;
invalid:
	wl_error_set("invalid log stream: bad frame header "
		     "%02x %02x %02x %02x",
		     dec->hdr[0], dec->hdr[1], dec->hdr[2], dec->hdr[3]);
	return WL_EINVALID;
}

/*
 * Containers created with a TTY have a plain stream. The first 8 bytes
 * decide: a valid frame header means multiplexed, anything else is
 * passed through as it is.
 */
static int feed_logs(struct xfer *x, const char *data, size_t len)
{
	int error;

	if (x->log_mode == LOG_UNDECIDED) {
		size_t n = sizeof(x->sniff) - x->sniff_len;

		if (n > len)
			n = len;
		memcpy(x->sniff + x->sniff_len, data, n);
		x->sniff_len += n;
		data += n;
		len -= n;
		if (x->sniff_len < sizeof(x->sniff))
			return 0;
		x->log_mode =
			log_header_valid(x->sniff) ? LOG_MULTIPLEXED : LOG_RAW;
		if ((error = feed_logs(x, (const char *)x->sniff,
				       sizeof(x->sniff))) < 0)
			return error;
	}
	if (!len)
		return 0;
	if (x->log_mode == LOG_RAW)
		return wl_buf_add(x->logs, data, len);
	return wl_docker_log_decode(&x->dec, data, len, x->logs);
}

/* ---- transfers ---- */

static int finish_line(struct xfer *x)
{
	size_t len = x->line.len;
	int error = 0;

	while (len && x->line.ptr[len - 1] == '\r')
		len--;
	if (len) {
		x->line.ptr[len] = '\0';
		error = x->on_line(x, x->line.ptr, len);
	}
	wl_buf_reset(&x->line);
	return error;
}

static int feed_lines(struct xfer *x, const char *data, size_t len)
{
	int error;

	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t part = nl ? (size_t)(nl - data) : len;

		if (wl_buf_add(&x->line, data, part) < 0) {
			wl_error_set("%s: a line of Docker's answer exceeds "
				     "%zu bytes",
				     what(x), x->line.max);
			return WL_ETOOBIG;
		}
		if (!nl)
			break;
		if ((error = finish_line(x)) < 0)
			return error;
		data += part + 1;
		len -= part + 1;
	}
	return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *p)
{
	struct xfer *x = p;
	size_t len = size * nmemb;
	int error = 0;

	if (!x->status)
		curl_easy_getinfo(x->d->curl, CURLINFO_RESPONSE_CODE,
				  &x->status);
	if (x->status >= 300) {
		/* An error answer: its start is enough for the message. */
		size_t room = x->body.max - x->body.len;

		wl_buf_add(&x->body, data, len < room ? len : room);
		return len;
	}
	switch (x->sink) {
	case SINK_BODY:
		if (wl_buf_add(&x->body, data, len) < 0) {
			wl_error_set("%s: Docker's answer exceeds %zu bytes",
				     what(x), x->body.max);
			error = WL_ETOOBIG;
		}
		break;
	case SINK_LINES:
		error = feed_lines(x, data, len);
		break;
	case SINK_LOGS:
		error = feed_logs(x, data, len);
		if (!error && x->logs_cb && x->logs->len) {
			/* Following: hand the decoded text on, keep nothing. */
			x->logs_cb(x->logs_ctx, x->logs->ptr, x->logs->len);
			wl_buf_reset(x->logs);
		}
		if (error == WL_ETOOBIG)
			wl_error_set("%s: the logs exceed %zu bytes", what(x),
				     x->logs->max);
		else if (error < 0)
			wl_error_prefix("%s", what(x));
		break;
	}
	if (error < 0) {
		x->error = error;
		return 0; /* != len: curl aborts with CURLE_WRITE_ERROR */
	}
	return len;
}

/* Called often while data flows, and about once a second when idle. */
static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = p;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if ((x->cancel && *x->cancel) || (x->stop && x->stop(x->stop_ctx))) {
		x->aborted = ABORT_CANCEL;
		return 1;
	}
	if (x->deadline_ms && wl_time_mono_ms() >= x->deadline_ms) {
		x->aborted = ABORT_TIMEOUT;
		return 1;
	}
	return 0;
}

static int is_unreachable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return 1;
	default:
		return 0;
	}
}

/*
 * Run one request. path is everything after the API version ("/_ping",
 * "/containers/x/json?all=1"). Returns 0 when an answer arrived, whatever
 * its status (x->status), or a negative code with the message set when it
 * did not: WL_EUNAVAIL, WL_ETIMEOUT, WL_ECANCELED, a callback's error.
 */
static int perform(struct xfer *x, const char *method, const char *path,
		   const char *content_type, const void *body, size_t body_len,
		   long timeout_ms)
{
	struct wl_docker *d = x->d;
	CURL *c = d->curl;
	struct curl_slist *headers = NULL, *h;
	struct wl_buf url, ctype;
	CURLcode rc;
	int error = 0;

	wl_buf_init(&url, URL_MAX);
	wl_buf_init(&ctype, 256);
	if ((error = wl_buf_puts(&url, API_BASE)) < 0 ||
	    (error = wl_buf_puts(&url, path)) < 0) {
		wl_error_prefix("%s", what(x));
		goto done;
	}
	curl_easy_reset(c); /* keeps the connection */
	d->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, d->socket_path);
	curl_easy_setopt(c, CURLOPT_URL, wl_buf_cstr(&url));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, d->errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	if (timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	if (x->cancel || x->stop || x->deadline_ms) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? body_len : 0));
		/* No "Expect: 100-continue" round trip for large contexts. */
		if (!(h = curl_slist_append(headers, "Expect:")))
			goto oom;
		headers = h;
		if (wl_buf_printf(&ctype, "Content-Type:%s%s",
				  content_type ? " " : "",
				  content_type ? content_type : "") < 0 ||
		    !(h = curl_slist_append(headers, wl_buf_cstr(&ctype))))
			goto oom;
		headers = h;
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	} else if (strcmp(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}

	rc = curl_easy_perform(c);
	if (!x->status)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	if (rc == CURLE_OK) {
		if (x->status < 300 && x->sink == SINK_LINES && x->line.len)
			error = finish_line(x); /* no final newline */
		if (x->status < 300 && x->sink == SINK_LOGS &&
		    x->log_mode == LOG_UNDECIDED && x->sniff_len &&
		    (error = wl_buf_add(x->logs, x->sniff, x->sniff_len)) < 0)
			wl_error_set("%s: the logs exceed %zu bytes", what(x),
				     x->logs->max);
		goto done;
	}
	if (rc == CURLE_WRITE_ERROR && x->error) {
		error = x->error;
	} else if (rc == CURLE_ABORTED_BY_CALLBACK &&
		   x->aborted == ABORT_CANCEL) {
		wl_error_set("%s: canceled", what(x));
		error = WL_ECANCELED;
	} else if ((rc == CURLE_ABORTED_BY_CALLBACK &&
		    x->aborted == ABORT_TIMEOUT) ||
		   rc == CURLE_OPERATION_TIMEDOUT) {
		wl_error_set("%s: timed out", what(x));
		error = WL_ETIMEOUT;
	} else if (is_unreachable(rc)) {
		wl_error_set("cannot reach Docker at '%s': %s", d->socket_path,
			     d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc));
		error = WL_EUNAVAIL;
	} else {
		wl_error_set("%s: %s", what(x),
			     d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc));
		error = WL_ERROR;
	}
	goto done;
oom:
	wl_error_set("out of memory");
	error = WL_ERROR;
done:
	curl_slist_free_all(headers);
	/* The handle must not point at our stack after we return. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	wl_buf_release(&url);
	wl_buf_release(&ctype);
	return error;
}

/* Docker's own message from an error answer ({"message": "..."}). */
static int http_fail(struct xfer *x)
{
	cJSON *j = NULL;
	const cJSON *m;
	const char *msg = NULL;
	int len;

	if (x->body.len)
		j = cJSON_ParseWithLength(x->body.ptr, x->body.len);
	m = cJSON_GetObjectItemCaseSensitive(j, "message");
	if (cJSON_IsString(m) && m->valuestring[0])
		msg = m->valuestring;
	else if (x->body.len && !j)
		msg = wl_buf_cstr(&x->body); /* not JSON: show the text */
	if (msg) {
		len = (int)strcspn(msg, "\r\n");
		wl_error_set("%s: %.*s", what(x), len, msg);
	} else {
		wl_error_set("%s: Docker answered HTTP %ld", what(x),
			     x->status);
	}
	cJSON_Delete(j);
	return x->status == 404 ? WL_ENOTFOUND : WL_ERROR;
}

/* Parse a SINK_BODY answer. */
static int parse_body(cJSON **out, struct xfer *x)
{
	*out = cJSON_ParseWithLength(x->body.ptr ? x->body.ptr : "",
				     x->body.len);
	if (!*out) {
		wl_error_set("%s: Docker's answer is not valid JSON", what(x));
		return WL_ERROR;
	}
	return 0;
}

/* ---- small helpers ---- */

static int oom(void)
{
	wl_error_set("out of memory");
	return WL_ERROR;
}

/*
 * Ids, names and image references go into URL paths unescaped (as the
 * docker CLI sends them), so only their own alphabet is allowed; ".."
 * could otherwise walk to another endpoint.
 */
static int check_ref(const char *kind, const char *ref)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789._-:/@";
	size_t n = ref ? strlen(ref) : 0;

	if (!n || n > 512 || ref[strspn(ref, ok)] || strstr(ref, "..") ||
	    ref[0] == '/') {
		wl_error_set("invalid %s '%s'", kind, ref ? ref : "");
		return WL_EINVALID;
	}
	return 0;
}

static int add_escaped(struct wl_docker *d, struct wl_buf *b, const char *s)
{
	char *e = curl_easy_escape(d->curl, s, 0);
	int error;

	if (!e)
		return oom();
	error = wl_buf_puts(b, e);
	curl_free(e);
	return error;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t jint(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || v->valuedouble != v->valuedouble ||
	    v->valuedouble < -9e18 || v->valuedouble > 9e18)
		return 0;
	return (int64_t)v->valuedouble;
}

static int jbool(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int dup_str(char **dst, const char *s)
{
	*dst = NULL;
	if (s && !(*dst = strdup(s)))
		return oom();
	return 0;
}

/* RFC 3339 (nanoseconds allowed); Go's zero time means "never": 0. */
static int64_t parse_time(const char *s)
{
	int64_t ms;

	if (!s || !strncmp(s, "0001-01-01", 10) || wl_time_parse(&ms, s) < 0)
		return 0;
	return ms;
}

static int labels_from_json(struct wl_kvlist *l, const cJSON *obj)
{
	const cJSON *it;

	cJSON_ArrayForEach (it, obj) {
		if (cJSON_IsString(it) && it->string &&
		    wl_kvlist_set(l, it->string, it->valuestring) < 0)
			return oom();
	}
	return 0;
}

static cJSON *labels_to_json(const struct wl_kvlist *l)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; o && l && i < l->count; i++) {
		if (!cJSON_AddStringToObject(o, l->items[i].key,
					     l->items[i].value)) {
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

/* Append cJSON's rendering of j, URL-escaped. */
static int add_json_param(struct wl_docker *d, struct wl_buf *b, cJSON *j)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	int error;

	if (!s)
		return oom();
	error = add_escaped(d, b, s);
	cJSON_free(s);
	return error;
}

/* "&filters={"label":["k=v"]}" when label is set. */
/* "a=b,c=d": every label must match (Docker ANDs the list). */
static int add_label_filter(struct wl_docker *d, struct wl_buf *b,
			    const char *label)
{
	cJSON *f = NULL, *arr;
	const char *p = label;
	int error;

	if (!label || !*label)
		return 0;
	if (!(f = cJSON_CreateObject()) ||
	    !(arr = cJSON_AddArrayToObject(f, "label"))) {
		cJSON_Delete(f);
		return oom();
	}
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char one[512];

		if (n && n < sizeof(one)) {
			memcpy(one, p, n);
			one[n] = '\0';
			if (!cJSON_AddItemToArray(arr,
						  cJSON_CreateString(one))) {
				cJSON_Delete(f);
				return oom();
			}
		}
		p += n + (comma ? 1 : 0);
	}
	if ((error = wl_buf_puts(b, "&filters=")) == 0)
		error = add_json_param(d, b, f);
	cJSON_Delete(f);
	return error;
}

/*
 * GET path and parse the answer into *out (the caller deletes it, also on
 * failure). Any status but 200 fails with Docker's own message.
 */
static int get_json(cJSON **out, struct xfer *x, const char *path)
{
	int error;

	*out = NULL;
	if ((error = perform(x, "GET", path, NULL, NULL, 0,
			     REQUEST_TIMEOUT_MS)) < 0)
		return error;
	if (x->status != 200)
		return http_fail(x);
	return parse_body(out, x);
}

/*
 * get_json for a list endpoint: path is base plus the label filter, and
 * the answer must be an array.
 */
static int get_list(cJSON **out, struct xfer *x, const char *base,
		    const char *label)
{
	struct wl_buf path;
	int error;

	*out = NULL;
	wl_buf_init(&path, URL_MAX);
	if ((error = wl_buf_puts(&path, base)) < 0 ||
	    (error = add_label_filter(x->d, &path, label)) < 0 ||
	    (error = get_json(out, x, wl_buf_cstr(&path))) < 0)
		goto done;
	if (!cJSON_IsArray(*out)) {
		wl_error_set("%s: Docker's answer is not a list", what(x));
		error = WL_ERROR;
	}
done:
	wl_buf_release(&path);
	return error;
}

/* ---- the client ---- */

int wl_docker_new(struct wl_docker **out, const char *host)
{
	struct wl_docker *d = NULL;
	int error = 0;

	*out = NULL;
	if (!host || !*host)
		host = getenv("DOCKER_HOST");
	if (!host || !*host)
		host = DEFAULT_HOST;
	if (strncmp(host, "unix://", 7) || host[7] != '/') {
		wl_error_set("unsupported Docker host '%s': only "
			     "unix:///path/to.sock is supported",
			     host);
		return WL_EINVALID;
	}
	if (!(d = calloc(1, sizeof(*d))) ||
	    !(d->socket_path = strdup(host + 7))) {
		error = oom();
		goto fail;
	}
	if (!(d->curl = curl_easy_init())) {
		wl_error_set("cannot create a curl handle for Docker");
		error = WL_ERROR;
		goto fail;
	}
	*out = d;
	return 0;
fail:
	wl_docker_free(d);
	return error;
}

void wl_docker_free(struct wl_docker *d)
{
	if (!d)
		return;
	if (d->curl)
		curl_easy_cleanup(d->curl);
	free(d->socket_path);
	free(d);
}

int wl_docker_ping(struct wl_docker *d)
{
	struct xfer x;
	int error;

	xfer_init(&x, d, SINK_BODY, "cannot ping Docker at '%s'",
		  d->socket_path);
	if ((error = perform(&x, "GET", "/_ping", NULL, NULL, 0,
			     REQUEST_TIMEOUT_MS)) == 0 &&
	    x.status != 200)
		error = http_fail(&x);
	xfer_release(&x);
	return error;
}

/* ---- build ---- */

struct build {
	const struct wl_docker_build_opts *o;
	struct wl_buf out;   /* the output line being assembled */
	struct wl_buf step;  /* "3/7 (RUN npm ci)" of the last step line */
	struct wl_buf error; /* Docker's error message, if any */
	/*
	 * The current step's meaningful output lines (escapes stripped,
	 * noise dropped): a ring of the last TAIL_LINES, reset at each
	 * step. A failure message quotes the cause from it.
	 */
	char *tail[TAIL_LINES];
	size_t tail_count, tail_next;
	int in_error; /* the output being emitted is Docker's error */
	/*
	 * npm's EBADENGINE warnings of any step ("vite@8.4.1 requires Node.js
	 * ^20.19.0 || >=22.12.0, this is v18.20.4"): a build that fails
	 * later, on the wrong Node.js, is explained by them.
	 */
	struct wl_buf engines;
	int engine_count;
	char engine_pkg[128], engine_req[128], engine_cur[64];
	char *image_id;
	int oom;
	size_t output_bytes; /* build output seen so far */
	int too_much;	     /* output_bytes went over o->output_max */
};

static void tail_clear(struct build *b)
{
	for (size_t i = 0; i < TAIL_LINES; i++) {
		free(b->tail[i]);
		b->tail[i] = NULL;
	}
	b->tail_count = b->tail_next = 0;
}

int wl_docker_strip_escapes(struct wl_buf *out, const char *s)
{
	while (*s) {
		unsigned char c = (unsigned char)*s;

		if (c == 0x1b && s[1] == '[') {
			/* CSI: parameters and intermediates, a final byte */
			for (s += 2; *s && !(*s >= 0x40 && *s <= 0x7e); s++)
				;
			if (*s)
				s++;
		} else if (c == 0x1b && s[1] == ']') {
			/* OSC: up to BEL or ESC backslash */
			for (s += 2;
			     *s && *s != '\a' && !(*s == 0x1b && s[1] == '\\');
			     s++)
				;
			if (*s == 0x1b)
				s++;
			if (*s)
				s++;
		} else if (c == 0x1b) {
			s += s[1] ? 2 : 1;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			s++;
		} else {
			if (wl_buf_putc(out, (char)c) < 0)
				return WL_ETOOBIG;
			s++;
		}
	}
	return 0;
}

/*
 * A line of output as a person reads it: terminal escapes (colours, cursor
 * moves: CSI, OSC and two-byte sequences) and other control characters
 * removed, tabs as blanks, blanks trimmed, at most TAIL_LINE_MAX bytes.
 * NULL: nothing left.
 */
static char *plain_line(const char *s)
{
	struct wl_buf b;
	char *out;

	wl_buf_init(&b, OUTPUT_LINE_MAX);
	wl_docker_strip_escapes(&b, s);
	for (size_t i = 0; i < b.len; i++)
		if (b.ptr[i] == '\t')
			b.ptr[i] = ' ';
	out = wl_buf_detach(&b, NULL);
	if (out) {
		char *start = out, *end;
		size_t n;

		while (*start == ' ')
			start++;
		end = start + strlen(start);
		while (end > start && end[-1] == ' ')
			end--;
		n = (size_t)(end - start);
		if (n > TAIL_LINE_MAX) {
			n = TAIL_LINE_MAX;
			while (n && ((unsigned char)start[n] & 0xc0) == 0x80)
				n--; /* do not cut a UTF-8 sequence */
		}
		memmove(out, start, n);
		out[n] = '\0';
		if (!n) {
			free(out);
			out = NULL;
		}
	}
	return out;
}

/*
 * Lines that say nothing about why a step failed: the builder's own,
 * package managers' boilerplate around a failing script, stack frames.
 */
static int noise(const char *l)
{
	static const char *const prefixes[] = {
		"--->",
		"Removing intermediate container",
		"> ", /* npm echoing the script it runs */
		"at ",
		"npm notice",
		"npm error A complete log of this run",
		"npm ERR! A complete log of this run",
		"npm error path ",
		"npm ERR! path ",
		"npm error command failed",
		"npm ERR! command failed",
		"npm error command sh -c",
		"npm ERR! command sh -c",
		"npm error Lifecycle script",
		"npm ERR! Lifecycle script",
		"npm error workspace ",
		"npm error location ",
		"info Visit https://yarnpkg.com",
		"error Command failed with exit code",
		"ELIFECYCLE",
	};
	static const char *const codes[] = { "npm error code ",
					     "npm ERR! code " };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
		if (!strncmp(l, prefixes[i], strlen(prefixes[i])))
			return 1;
	/* "npm error code 1" (an exit status) but not "code ERESOLVE" */
	for (size_t i = 0; i < sizeof(codes) / sizeof(*codes); i++)
		if (!strncmp(l, codes[i], strlen(codes[i])) &&
		    l[strspn(l + strlen(codes[i]), "0123456789") +
		      strlen(codes[i])] == '\0')
			return 1;
	return !strcmp(l, "npm error") || !strcmp(l, "npm ERR!");
}

/* Keep a line of the current step's output for the failure message. */
static void tail_add(struct build *b, const char *line)
{
	char *l = plain_line(line);

	if (!l)
		return;
	if (noise(l)) {
		free(l);
		return;
	}
	free(b->tail[b->tail_next]);
	b->tail[b->tail_next] = l;
	b->tail_next = (b->tail_next + 1) % TAIL_LINES;
	if (b->tail_count < TAIL_LINES)
		b->tail_count++;
}

/* The i-th kept line, oldest first. */
static const char *tail_line(const struct build *b, size_t i)
{
	size_t first = (b->tail_next + TAIL_LINES - b->tail_count) % TAIL_LINES;

	return b->tail[(first + i) % TAIL_LINES];
}

static int says_error(const char *l)
{
	static const char *const words[] = {
		"error",
		"err!",
		"failed",
		"fatal",
		"cannot",
		"can't",
		"unable",
		"not found",
		"requires",
		"exception",
		"denied",
		"eacces",
		"invalid",
		/* pnpm's codes; yarn 2+'s YN0028 "...explicitly forbidden" */
		"err_pnpm",
		"forbidden",
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
		if (strcasestr(l, words[i]))
			return 1;
	return 0;
}

/* "Warning: Error while requesting resource" reads like an error. */
static int is_warning(const char *l)
{
	return !strncasecmp(l, "warn", 4) || !strncasecmp(l, "npm warn", 8);
}

/*
 * The cause as the failing step's output gives it: from its first line
 * that reads like an error (one that is not a warning, if there is one),
 * up to CAUSE_LINES lines; with none, its last CAUSE_LINES lines.
 * Appended to msg, one per line.
 */
static void tail_cause(const struct build *b, struct wl_buf *msg)
{
	size_t from =
		b->tail_count > CAUSE_LINES ? b->tail_count - CAUSE_LINES : 0;
	int found = 0;

	for (int pass = 0; pass < 2 && !found; pass++)
		for (size_t i = 0; i < b->tail_count && !found; i++) {
			const char *l = tail_line(b, i);

			if (says_error(l) && (pass || !is_warning(l))) {
				from = i;
				found = 1;
			}
		}
	for (size_t i = from; i < b->tail_count && i < from + CAUSE_LINES; i++)
		if (wl_buf_printf(msg, "\n%s", tail_line(b, i)) < 0)
			break; /* msg is full: whole lines only */
}

/* The text between "<key>'" and the next quote, into out (bounded). */
static void quoted_after(char *out, size_t n, const char *line, const char *key)
{
	const char *s = strstr(line, key), *end;

	if (!s)
		return;
	s += strlen(key);
	if (!(end = strchr(s, '\'')))
		return;
	snprintf(out, n, "%.*s", (int)(end - s), s);
}

/*
 * npm's EBADENGINE block, one line each (npm 9: "npm WARN", later "npm
 * warn"): "Unsupported engine {", "package: 'vite@8.4.1',", "required: {
 * node: '^20.19.0 || >=22.12.0' },", "current: { node: 'v18.20.4', ... }",
 * "}". Summarised per package that requires a Node.js version.
 */
static void engine_track(struct build *b, const char *line)
{
	static const char prefix[] = "npm warn ebadengine";
	const char *s;
	char *l = plain_line(line);

	if (!l)
		return;
	if (strncasecmp(l, prefix, sizeof(prefix) - 1))
		goto out;
	s = l + sizeof(prefix) - 1;
	s += strspn(s, " ");
	if (!strncmp(s, "Unsupported engine", 18)) {
		b->engine_pkg[0] = b->engine_req[0] = b->engine_cur[0] = '\0';
	} else if (!strncmp(s, "package:", 8)) {
		quoted_after(b->engine_pkg, sizeof(b->engine_pkg), s, "'");
	} else if (!strncmp(s, "required:", 9)) {
		quoted_after(b->engine_req, sizeof(b->engine_req), s,
			     "node: '");
	} else if (!strncmp(s, "current:", 8)) {
		quoted_after(b->engine_cur, sizeof(b->engine_cur), s,
			     "node: '");
	} else if (!strcmp(s, "}") && b->engine_pkg[0] && b->engine_req[0]) {
		if (b->engine_count < 2)
			wl_buf_printf(&b->engines,
				      "%s%s requires Node.js %s%s%s",
				      b->engine_count ? "; " : "",
				      b->engine_pkg, b->engine_req,
				      b->engine_cur[0] ? ", this is " : "",
				      b->engine_cur);
		b->engine_count++;
		b->engine_pkg[0] = '\0';
	}
out:
	free(l);
}

/* A "Step 3/7 : RUN npm ci" line: remember it for the failure message. */
static void track_step(struct build *b, const char *line)
{
	const char *p = line + 5, *instr;
	size_t num, den, len;

	if (strncmp(line, "Step ", 5)) {
		if (!b->in_error) {
			tail_add(b, line);
			engine_track(b, line);
		}
		return;
	}
	tail_clear(b);
	num = strspn(p, "0123456789");
	if (!num || p[num] != '/')
		return;
	den = strspn(p + num + 1, "0123456789");
	if (!den || strncmp(p + num + 1 + den, " : ", 3))
		return;
	instr = p + num + 1 + den + 3;
	len = strcspn(instr, "\r\n");
	wl_buf_reset(&b->step);
	/* Bounded by step.max: a long RUN line is cut, with a marker. */
	if (len > INSTRUCTION_MAX) {
		len = INSTRUCTION_MAX;
		while (len && ((unsigned char)instr[len] & 0xc0) == 0x80)
			len--; /* do not cut a UTF-8 sequence */
		if (wl_buf_printf(&b->step, "%.*s (%.*s...)",
				  (int)(num + 1 + den), p, (int)len, instr) < 0)
			wl_buf_reset(&b->step);
	} else if (wl_buf_printf(&b->step, "%.*s (%.*s)", (int)(num + 1 + den),
				 p, (int)len, instr) < 0) {
		wl_buf_reset(&b->step);
	}
}

static void emit_output(struct build *b)
{
	size_t len = b->out.len;

	while (len && b->out.ptr[len - 1] == '\r')
		len--;
	if (b->out.ptr)
		b->out.ptr[len] = '\0';
	track_step(b, wl_buf_cstr(&b->out));
	if (b->o->on_line)
		b->o->on_line(b->o->ctx, wl_buf_cstr(&b->out));
	wl_buf_reset(&b->out);
}

/*
 * Build output arrives in arbitrary pieces; lines go to on_line whole
 * (a line longer than OUTPUT_LINE_MAX goes in pieces of that size).
 */
static void output_text(struct build *b, const char *s, size_t n)
{
	while (n) {
		const char *nl = memchr(s, '\n', n);
		size_t part = nl ? (size_t)(nl - s) : n;

		while (part) {
			size_t room = b->out.max - b->out.len;
			size_t take = part < room ? part : room;

			if (wl_buf_add(&b->out, s, take) < 0) {
				b->oom = 1;
				return;
			}
			s += take;
			n -= take;
			part -= take;
			if (b->out.len == b->out.max)
				emit_output(b);
		}
		if (nl) {
			emit_output(b);
			s++;
			n--;
		}
	}
}

static void output_flush(struct build *b)
{
	if (b->out.len)
		emit_output(b);
}

static int build_line(struct xfer *x, char *line, size_t len)
{
	struct build *b = x->ctx;
	const cJSON *aux, *detail;
	const char *s, *id;
	cJSON *j;

	/*
	 * The output limit counts what Docker sends (JSON framing included):
	 * a build that floods it is stopped by dropping the connection,
	 * which makes the daemon cancel the build.
	 */
	b->output_bytes += len + 1;
	if (b->o->output_max > 0 && b->output_bytes > b->o->output_max) {
		b->too_much = 1;
		wl_error_set("build of '%s' stopped: its output exceeds %zu "
			     "bytes",
			     b->o->tag ? b->o->tag : "image", b->o->output_max);
		x->error = WL_ETOOBIG;
		return WL_ETOOBIG;
	}
	j = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(j)) {
		/* Not the JSON we expect: still the build's output. */
		output_flush(b);
		output_text(b, line, len);
		output_flush(b);
		goto done;
	}
	if ((s = jstr(j, "stream")))
		output_text(b, s, strlen(s));
	if ((s = jstr(j, "status")) &&
	    !cJSON_GetObjectItemCaseSensitive(j, "progress")) {
		/* Pull progress of a base image ("<layer>: Pull complete"). */
		output_flush(b);
		if ((id = jstr(j, "id"))) {
			output_text(b, id, strlen(id));
			output_text(b, ": ", 2);
		}
		output_text(b, s, strlen(s));
		output_flush(b);
	}
	detail = cJSON_GetObjectItemCaseSensitive(j, "errorDetail");
	if (!(s = jstr(j, "error")))
		s = jstr(detail, "message");
	if (s) {
		output_flush(b);
		b->in_error = 1;
		output_text(b, s, strlen(s));
		output_flush(b);
		b->in_error = 0;
		if (!b->error.len) {
			size_t n = strcspn(s, "\r\n");

			/* The first line; a very long one is cut. */
			wl_buf_add(&b->error, s,
				   n < b->error.max ? n : b->error.max);
		}
	}
	aux = cJSON_GetObjectItemCaseSensitive(j, "aux");
	if ((s = jstr(aux, "ID")) && !b->image_id && !(b->image_id = strdup(s)))
		b->oom = 1;
done:
	cJSON_Delete(j);
	if (b->oom) {
		x->error = oom();
		return WL_ERROR;
	}
	return 0;
}

static int build_url(struct wl_docker *d, struct wl_buf *u,
		     const struct wl_docker_build_opts *o)
{
	cJSON *labels = NULL;
	int error;

	if ((error = wl_buf_puts(u, "/build?version=1&rm=1&forcerm=1")) < 0)
		return error;
	if (o->tag && ((error = wl_buf_puts(u, "&t=")) < 0 ||
		       (error = add_escaped(d, u, o->tag)) < 0))
		return error;
	if (o->dockerfile && ((error = wl_buf_puts(u, "&dockerfile=")) < 0 ||
			      (error = add_escaped(d, u, o->dockerfile)) < 0))
		return error;
	if (o->network && ((error = wl_buf_puts(u, "&networkmode=")) < 0 ||
			   (error = add_escaped(d, u, o->network)) < 0))
		return error;
	if (o->labels && o->labels->count) {
		if (!(labels = labels_to_json(o->labels)))
			return oom();
		if ((error = wl_buf_puts(u, "&labels=")) == 0)
			error = add_json_param(d, u, labels);
		cJSON_Delete(labels);
	}
	return error;
}

int wl_docker_build(struct wl_docker *d, const struct wl_docker_build_opts *o,
		    char **image_id)
{
	struct wl_docker_image img = { 0 };
	struct build b = { 0 };
	struct wl_buf url;
	struct xfer x;
	int error;

	*image_id = NULL;
	b.o = o;
	wl_buf_init(&b.out, OUTPUT_LINE_MAX);
	wl_buf_init(&b.step, INSTRUCTION_MAX + 64);
	wl_buf_init(&b.error, 4096);
	wl_buf_init(&b.engines, 1024);
	wl_buf_init(&url, URL_MAX);
	xfer_init(&x, d, SINK_LINES, "cannot build '%s'",
		  o->tag ? o->tag : "image");
	x.on_line = build_line;
	x.ctx = &b;
	x.cancel = o->cancel;
	if (o->timeout_ms > 0)
		x.deadline_ms = wl_time_mono_ms() + o->timeout_ms;
	if ((error = build_url(d, &url, o)) < 0) {
		wl_error_prefix("%s", what(&x));
		goto done;
	}
	error = perform(&x, "POST", wl_buf_cstr(&url), "application/x-tar",
			o->context, o->context_len, 0);
	output_flush(&b);
	if (b.too_much) {
		wl_error_set("build of '%s' stopped: its output exceeds %zu "
			     "bytes",
			     o->tag ? o->tag : "image", o->output_max);
		error = WL_ETOOBIG;
		goto done;
	}
	if (error == WL_ETIMEOUT) {
		wl_error_set("build of '%s' timed out after %lld ms",
			     o->tag ? o->tag : "image",
			     (long long)o->timeout_ms);
		goto done;
	}
	if (error == WL_ECANCELED) {
		wl_error_set("build of '%s' canceled",
			     o->tag ? o->tag : "image");
		goto done;
	}
	if (error < 0)
		goto done;
	if (x.status >= 300) {
		/* Refused before it started (bad tag, bad context...). */
		error = http_fail(&x);
		goto done;
	}
	if (b.error.len) {
		struct wl_buf cause;

		/* What the step printed says why; Docker's line only that
		 * it failed ("returned a non-zero code: 1"). */
		wl_buf_init(&cause, CAUSE_MAX);
		tail_cause(&b, &cause);
		if (b.engine_count)
			wl_buf_printf(&cause, "\nnpm warned (EBADENGINE): %s%s",
				      wl_buf_cstr(&b.engines),
				      b.engine_count > 2 ? "; and more" : "");
		if (b.step.len)
			wl_error_set("build failed at step %s: %s%s",
				     wl_buf_cstr(&b.step),
				     wl_buf_cstr(&b.error),
				     wl_buf_cstr(&cause));
		else
			wl_error_set("build failed: %s%s",
				     wl_buf_cstr(&b.error),
				     wl_buf_cstr(&cause));
		wl_buf_release(&cause);
		error = WL_ERROR;
		goto done;
	}
	if (!b.image_id && o->tag) {
		/* Daemons that send no aux ID: the tag names the result. */
		if ((error = wl_docker_image_inspect(d, o->tag, &img)) < 0)
			goto done;
		b.image_id = img.id;
		img.id = NULL;
	}
	if (!b.image_id) {
		wl_error_set("build failed: Docker did not report an image id");
		error = WL_ERROR;
		goto done;
	}
	*image_id = b.image_id;
	b.image_id = NULL;
done:
	wl_docker_image_release(&img);
	free(b.image_id);
	wl_buf_release(&b.out);
	wl_buf_release(&b.step);
	wl_buf_release(&b.error);
	wl_buf_release(&b.engines);
	tail_clear(&b);
	wl_buf_release(&url);
	xfer_release(&x);
	return error;
}

/* ---- images ---- */

void wl_docker_image_release(struct wl_docker_image *img)
{
	if (!img)
		return;
	free(img->id);
	free(img->parent_id);
	wl_kvlist_release(&img->labels);
	for (size_t i = 0; i < img->tag_count; i++)
		free(img->tags[i]);
	free(img->tags);
	memset(img, 0, sizeof(*img));
}

void wl_docker_images_free(struct wl_docker_image *imgs, size_t count)
{
	for (size_t i = 0; imgs && i < count; i++)
		wl_docker_image_release(&imgs[i]);
	free(imgs);
}

/* The lowest exposed TCP port ("3000/tcp"), 0 if none. */
static int lowest_tcp_port(const cJSON *ports)
{
	const cJSON *it;
	int best = 0;

	cJSON_ArrayForEach (it, ports) {
		const char *k = it->string;
		size_t n = k ? strspn(k, "0123456789") : 0;
		long port;

		if (!n || n > 5 || strcmp(k + n, "/tcp"))
			continue;
		port = strtol(k, NULL, 10);
		if (port > 0 && port <= 65535 && (!best || port < best))
			best = (int)port;
	}
	return best;
}

/* from_list: an entry of /images/json rather than /images/{}/json. */
static int image_from_json(struct wl_docker_image *img, const cJSON *j,
			   int from_list)
{
	const cJSON *tags, *it, *config;
	size_t n = 0;

	memset(img, 0, sizeof(*img));
	if (dup_str(&img->id, jstr(j, "Id")) < 0)
		goto fail;
	{
		const char *parent = jstr(j, from_list ? "ParentId" : "Parent");

		if (parent && *parent && dup_str(&img->parent_id, parent) < 0)
			goto fail;
	}
	tags = cJSON_GetObjectItemCaseSensitive(j, "RepoTags");
	if (cJSON_IsArray(tags) && cJSON_GetArraySize(tags) > 0) {
		img->tags = calloc((size_t)cJSON_GetArraySize(tags),
				   sizeof(*img->tags));
		if (!img->tags)
			goto fail;
		cJSON_ArrayForEach (it, tags) {
			if (!cJSON_IsString(it) ||
			    !strcmp(it->valuestring, "<none>:<none>"))
				continue;
			if (!(img->tags[n] = strdup(it->valuestring)))
				goto fail;
			img->tag_count = ++n;
		}
	}
	if (from_list) {
		if (labels_from_json(
			    &img->labels,
			    cJSON_GetObjectItemCaseSensitive(j, "Labels")) < 0)
			goto fail;
		img->created_ms = jint(j, "Created") * 1000;
		img->size = jint(j, "Size");
	} else {
		config = cJSON_GetObjectItemCaseSensitive(j, "Config");
		if (labels_from_json(&img->labels,
				     cJSON_GetObjectItemCaseSensitive(
					     config, "Labels")) < 0)
			goto fail;
		img->exposed_port =
			lowest_tcp_port(cJSON_GetObjectItemCaseSensitive(
				config, "ExposedPorts"));
		img->created_ms = parse_time(jstr(j, "Created"));
		img->size = jint(j, "Size");
	}
	return 0;
fail:
	wl_docker_image_release(img);
	return oom();
}

int wl_docker_image_inspect(struct wl_docker *d, const char *ref,
			    struct wl_docker_image *out)
{
	struct wl_buf path;
	struct xfer x;
	cJSON *j = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = check_ref("image reference", ref)) < 0)
		return error;
	wl_buf_init(&path, URL_MAX);
	xfer_init(&x, d, SINK_BODY, "cannot inspect image '%s'", ref);
	if ((error = wl_buf_printf(&path, "/images/%s/json", ref)) < 0 ||
	    (error = get_json(&j, &x, wl_buf_cstr(&path))) < 0)
		goto done;
	error = image_from_json(out, j, 0);
done:
	cJSON_Delete(j);
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

static int images_list(struct wl_docker *d, const char *label, int all,
		       struct wl_docker_image **out, size_t *count)
{
	struct wl_docker_image *imgs = NULL;
	struct xfer x;
	const cJSON *it;
	cJSON *j = NULL;
	size_t n = 0;
	int error;

	*out = NULL;
	*count = 0;
	xfer_init(&x, d, SINK_BODY, "cannot list images labelled '%s'",
		  label ? label : "");
	if ((error = get_list(&j, &x,
			      all ? "/images/json?all=1" : "/images/json?all=0",
			      label)) < 0)
		goto done;
	if (cJSON_GetArraySize(j) > 0 &&
	    !(imgs = calloc((size_t)cJSON_GetArraySize(j), sizeof(*imgs)))) {
		error = oom();
		goto done;
	}
	cJSON_ArrayForEach (it, j) {
		if ((error = image_from_json(&imgs[n], it, 1)) < 0)
			goto done;
		n++;
	}
	*out = imgs;
	*count = n;
	imgs = NULL;
	n = 0;
done:
	wl_docker_images_free(imgs, n);
	cJSON_Delete(j);
	xfer_release(&x);
	return error;
}

int wl_docker_images_list(struct wl_docker *d, const char *label,
			  struct wl_docker_image **out, size_t *count)
{
	return images_list(d, label, 0, out, count);
}

int wl_docker_images_list_all(struct wl_docker *d, const char *label,
			      struct wl_docker_image **out, size_t *count)
{
	return images_list(d, label, 1, out, count);
}

int wl_docker_image_remove(struct wl_docker *d, const char *ref, int force)
{
	struct wl_buf path;
	struct xfer x;
	int error;

	if ((error = check_ref("image reference", ref)) < 0)
		return error;
	wl_buf_init(&path, URL_MAX);
	xfer_init(&x, d, SINK_BODY, "cannot remove image '%s'", ref);
	if ((error = wl_buf_printf(&path, "/images/%s?force=%d", ref,
				   force ? 1 : 0)) < 0 ||
	    (error = perform(&x, "DELETE", wl_buf_cstr(&path), NULL, NULL, 0,
			     REQUEST_TIMEOUT_MS)) < 0)
		goto done;
	if (x.status >= 300 && x.status != 404)
		error = http_fail(&x);
done:
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

/* ---- containers ---- */

static cJSON *string_array(const char *const *items, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < n; i++) {
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(items[i]))) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static int create_body(const struct wl_container_config *c, char **out)
{
	static const char *const no_new_privs[] = { "no-new-privileges" };
	static const char *const drop[] = { "ALL" };
	/* What an image that starts as root needs to drop to its user. */
	static const char *const root_image[] = { "CHOWN", "DAC_OVERRIDE",
						  "FOWNER", "SETGID",
						  "SETUID" };
	size_t nadd = c->caps == WL_CAPS_NONE
			      ? 0
			      : sizeof(root_image) / sizeof(root_image[0]);
	cJSON *root = NULL, *host, *env, *log, *o, *bindings, *b;
	struct wl_buf kv, port;
	size_t argc = 0;
	int error = WL_ERROR;

	*out = NULL;
	wl_buf_init(&kv, 2 * 1024 * 1024);
	wl_buf_init(&port, 32);
	if (!(root = cJSON_CreateObject()) ||
	    !cJSON_AddStringToObject(root, "Image", c->image) ||
	    !(env = cJSON_AddArrayToObject(root, "Env")))
		goto oom;
	for (size_t i = 0; c->env && i < c->env->count; i++) {
		const char *k = c->env->items[i].key;

		if (!*k || strchr(k, '=')) {
			wl_error_set("invalid environment variable name '%s'",
				     k);
			error = WL_EINVALID;
			goto fail;
		}
		wl_buf_reset(&kv);
		if ((error = wl_buf_printf(&kv, "%s=%s", k,
					   c->env->items[i].value)) < 0)
			goto fail;
		if (!cJSON_AddItemToArray(env,
					  cJSON_CreateString(wl_buf_cstr(&kv))))
			goto oom;
	}
	if (!(o = labels_to_json(c->labels)))
		goto oom;
	cJSON_AddItemToObject(root, "Labels", o);
	if (c->cmd) {
		while (c->cmd[argc])
			argc++;
		if (!(o = string_array(c->cmd, argc)))
			goto oom;
		cJSON_AddItemToObject(root, "Cmd", o);
	}

	if (!(host = cJSON_AddObjectToObject(root, "HostConfig")) ||
	    !(o = string_array(no_new_privs, 1)) ||
	    !cJSON_AddItemToObject(host, "SecurityOpt", o) ||
	    !(o = string_array(drop, 1)) ||
	    !cJSON_AddItemToObject(host, "CapDrop", o) ||
	    !(o = string_array(root_image, nadd)) ||
	    !cJSON_AddItemToObject(host, "CapAdd", o) ||
	    !cJSON_AddBoolToObject(host, "Init", 1) ||
	    !(log = cJSON_AddObjectToObject(host, "LogConfig")) ||
	    !cJSON_AddStringToObject(log, "Type", "json-file") ||
	    !(o = cJSON_AddObjectToObject(log, "Config")) ||
	    !cJSON_AddStringToObject(o, "max-size", "1m") ||
	    !cJSON_AddStringToObject(o, "max-file", "2") ||
	    !(o = cJSON_AddObjectToObject(host, "RestartPolicy")) ||
	    !cJSON_AddStringToObject(o, "Name", "no"))
		goto oom;
	/*
	 * Memory and swap alike: MemorySwap equal to Memory means no swap
	 * on top of the limit.
	 */
	if ((c->network &&
	     !cJSON_AddStringToObject(host, "NetworkMode", c->network)) ||
	    (c->memory_bytes > 0 &&
	     !cJSON_AddNumberToObject(host, "MemorySwap",
				      (double)c->memory_bytes)) ||
	    (c->memory_bytes > 0 &&
	     !cJSON_AddNumberToObject(host, "Memory",
				      (double)c->memory_bytes)) ||
	    (c->nano_cpus > 0 &&
	     !cJSON_AddNumberToObject(host, "NanoCpus",
				      (double)c->nano_cpus)) ||
	    (c->pids_limit > 0 &&
	     !cJSON_AddNumberToObject(host, "PidsLimit",
				      (double)c->pids_limit)))
		goto oom;
	if (c->container_port > 0) {
		if (wl_buf_printf(&port, "%d/tcp", c->container_port) < 0)
			goto fail;
		if (!(o = cJSON_AddObjectToObject(root, "ExposedPorts")) ||
		    !cJSON_AddObjectToObject(o, wl_buf_cstr(&port)) ||
		    !(o = cJSON_AddObjectToObject(host, "PortBindings")) ||
		    !(bindings =
			      cJSON_AddArrayToObject(o, wl_buf_cstr(&port))) ||
		    !(b = cJSON_CreateObject()) ||
		    !cJSON_AddItemToArray(bindings, b) ||
		    !cJSON_AddStringToObject(
			    b, "HostIp", c->host_ip ? c->host_ip : "127.0.0.1"))
			goto oom;
		wl_buf_reset(&port);
		/* "" lets Docker pick a free port. */
		if ((c->host_port > 0 &&
		     wl_buf_printf(&port, "%d", c->host_port) < 0) ||
		    !cJSON_AddStringToObject(b, "HostPort", wl_buf_cstr(&port)))
			goto oom;
	}
	if (!(*out = cJSON_PrintUnformatted(root)))
		goto oom;
	error = 0;
	goto fail;
oom:
	error = oom();
fail:
	cJSON_Delete(root);
	wl_buf_release(&kv);
	wl_buf_release(&port);
	return error;
}

int wl_docker_container_create(struct wl_docker *d,
			       const struct wl_container_config *c, char **id)
{
	struct wl_buf path;
	struct xfer x;
	char *body = NULL;
	cJSON *j = NULL;
	int error;

	*id = NULL;
	wl_buf_init(&path, URL_MAX);
	xfer_init(&x, d, SINK_BODY, "cannot create container '%s'",
		  c->name ? c->name : "");
	if (!c->image || !*c->image) {
		wl_error_set("%s: no image given", what(&x));
		error = WL_EINVALID;
		goto done;
	}
	if ((error = create_body(c, &body)) < 0 ||
	    (error = wl_buf_puts(&path, "/containers/create")) < 0 ||
	    (c->name && ((error = wl_buf_puts(&path, "?name=")) < 0 ||
			 (error = add_escaped(d, &path, c->name)) < 0)) ||
	    (error = perform(&x, "POST", wl_buf_cstr(&path), "application/json",
			     body, strlen(body), REQUEST_TIMEOUT_MS)) < 0)
		goto done;
	if (x.status != 201 && x.status != 200) {
		error = http_fail(&x);
		if (x.status == 409)
			error = WL_EEXISTS;
		goto done;
	}
	if ((error = parse_body(&j, &x)) < 0)
		goto done;
	if (!jstr(j, "Id")) {
		wl_error_set("%s: Docker's answer has no Id", what(&x));
		error = WL_ERROR;
		goto done;
	}
	error = dup_str(id, jstr(j, "Id"));
done:
	cJSON_Delete(j);
	cJSON_free(body);
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

/* POST/DELETE on a container where 304 (nothing to do) is success. */
static int container_action(struct wl_docker *d, const char *id,
			    const char *method, const char *suffix,
			    long timeout_ms, int missing_ok, const char *verb)
{
	struct wl_buf path;
	struct xfer x;
	int error;

	if ((error = check_ref("container id", id)) < 0)
		return error;
	wl_buf_init(&path, URL_MAX);
	xfer_init(&x, d, SINK_BODY, "cannot %s container '%s'", verb, id);
	if ((error = wl_buf_printf(&path, "/containers/%s%s", id, suffix)) <
		    0 ||
	    (error = perform(&x, method, wl_buf_cstr(&path), NULL, NULL, 0,
			     timeout_ms)) < 0)
		goto done;
	if (x.status >= 300 && x.status != 304 &&
	    !(missing_ok && x.status == 404))
		error = http_fail(&x);
done:
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

int wl_docker_container_start(struct wl_docker *d, const char *id)
{
	return container_action(d, id, "POST", "/start", REQUEST_TIMEOUT_MS, 0,
				"start");
}

int wl_docker_container_stop(struct wl_docker *d, const char *id, int timeout_s)
{
	char suffix[32];

	if (timeout_s < 0)
		timeout_s = 0;
	if (timeout_s > 3600)
		timeout_s = 3600;
	snprintf(suffix, sizeof(suffix), "/stop?t=%d", timeout_s);
	/* Docker waits up to timeout_s before it kills: so do we, and more. */
	return container_action(d, id, "POST", suffix,
				REQUEST_TIMEOUT_MS + timeout_s * 1000L, 0,
				"stop");
}

int wl_docker_container_remove(struct wl_docker *d, const char *id)
{
	return container_action(d, id, "DELETE", "?force=1&v=1",
				REQUEST_TIMEOUT_MS, 1, "remove");
}

void wl_docker_container_release(struct wl_docker_container *c)
{
	if (!c)
		return;
	free(c->id);
	free(c->name);
	free(c->image_id);
	free(c->state);
	wl_kvlist_release(&c->labels);
	memset(c, 0, sizeof(*c));
}

void wl_docker_containers_free(struct wl_docker_container *c, size_t count)
{
	for (size_t i = 0; c && i < count; i++)
		wl_docker_container_release(&c[i]);
	free(c);
}

static const char *strip_slash(const char *name)
{
	return name && name[0] == '/' ? name + 1 : name;
}

static int container_from_inspect(struct wl_docker_container *c, const cJSON *j)
{
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(j, "State");
	const cJSON *config = cJSON_GetObjectItemCaseSensitive(j, "Config");

	memset(c, 0, sizeof(*c));
	if (dup_str(&c->id, jstr(j, "Id")) < 0 ||
	    dup_str(&c->name, strip_slash(jstr(j, "Name"))) < 0 ||
	    dup_str(&c->image_id, jstr(j, "Image")) < 0 ||
	    dup_str(&c->state, jstr(state, "Status")) < 0 ||
	    labels_from_json(&c->labels, cJSON_GetObjectItemCaseSensitive(
						 config, "Labels")) < 0) {
		wl_docker_container_release(c);
		return oom();
	}
	c->running = jbool(state, "Running");
	c->exit_code = (int)jint(state, "ExitCode");
	c->oom_killed = jbool(state, "OOMKilled");
	c->pid = (int)jint(state, "Pid");
	c->started_ms = parse_time(jstr(state, "StartedAt"));
	c->finished_ms = parse_time(jstr(state, "FinishedAt"));
	return 0;
}

static int container_from_list(struct wl_docker_container *c, const cJSON *j)
{
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(j, "Names");
	const cJSON *first = cJSON_GetArrayItem(names, 0);

	memset(c, 0, sizeof(*c));
	if (dup_str(&c->id, jstr(j, "Id")) < 0 ||
	    dup_str(&c->name, cJSON_IsString(first)
				      ? strip_slash(first->valuestring)
				      : NULL) < 0 ||
	    dup_str(&c->image_id, jstr(j, "ImageID")) < 0 ||
	    dup_str(&c->state, jstr(j, "State")) < 0 ||
	    labels_from_json(&c->labels, cJSON_GetObjectItemCaseSensitive(
						 j, "Labels")) < 0) {
		wl_docker_container_release(c);
		return oom();
	}
	c->running = c->state && !strcmp(c->state, "running");
	return 0;
}

int wl_docker_container_inspect(struct wl_docker *d, const char *id,
				struct wl_docker_container *out)
{
	struct wl_buf path;
	struct xfer x;
	cJSON *j = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = check_ref("container id", id)) < 0)
		return error;
	wl_buf_init(&path, URL_MAX);
	xfer_init(&x, d, SINK_BODY, "cannot inspect container '%s'", id);
	if ((error = wl_buf_printf(&path, "/containers/%s/json", id)) < 0 ||
	    (error = get_json(&j, &x, wl_buf_cstr(&path))) < 0)
		goto done;
	error = container_from_inspect(out, j);
done:
	cJSON_Delete(j);
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

int wl_docker_containers_list(struct wl_docker *d, const char *label,
			      struct wl_docker_container **out, size_t *count)
{
	struct wl_docker_container *list = NULL;
	struct xfer x;
	const cJSON *it;
	cJSON *j = NULL;
	size_t n = 0;
	int error;

	*out = NULL;
	*count = 0;
	xfer_init(&x, d, SINK_BODY, "cannot list containers labelled '%s'",
		  label ? label : "");
	if ((error = get_list(&j, &x, "/containers/json?all=1", label)) < 0)
		goto done;
	if (cJSON_GetArraySize(j) > 0 &&
	    !(list = calloc((size_t)cJSON_GetArraySize(j), sizeof(*list)))) {
		error = oom();
		goto done;
	}
	cJSON_ArrayForEach (it, j) {
		if ((error = container_from_list(&list[n], it)) < 0)
			goto done;
		n++;
	}
	*out = list;
	*count = n;
	list = NULL;
	n = 0;
done:
	wl_docker_containers_free(list, n);
	cJSON_Delete(j);
	xfer_release(&x);
	return error;
}

int wl_docker_container_logs(struct wl_docker *d, const char *id, int tail,
			     struct wl_buf *out)
{
	struct wl_buf path;
	struct xfer x;
	int error;

	if ((error = check_ref("container id", id)) < 0)
		return error;
	wl_buf_init(&path, URL_MAX);
	xfer_init(&x, d, SINK_LOGS, "cannot read logs of container '%s'", id);
	x.logs = out;
	if ((error = wl_buf_printf(
		     &path, "/containers/%s/logs?stdout=1&stderr=1", id)) < 0 ||
	    (tail >= 0 &&
	     (error = wl_buf_printf(&path, "&tail=%d", tail)) < 0) ||
	    (error = perform(&x, "GET", wl_buf_cstr(&path), NULL, NULL, 0,
			     REQUEST_TIMEOUT_MS)) < 0)
		goto done;
	if (x.status != 200)
		error = http_fail(&x);
done:
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

int wl_docker_container_logs_follow(struct wl_docker *d, const char *id,
				    int tail, int64_t since_s,
				    wl_docker_logs_cb cb, void *ctx,
				    const volatile int *cancel)
{
	struct wl_buf path, pending;
	struct xfer x;
	int error;

	if ((error = check_ref("container id", id)) < 0)
		return error;
	wl_buf_init(&path, URL_MAX);
	wl_buf_init(&pending, 1 << 20);
	xfer_init(&x, d, SINK_LOGS, "cannot follow logs of container '%s'", id);
	x.logs = &pending;
	x.logs_cb = cb;
	x.logs_ctx = ctx;
	x.cancel = cancel;
	if ((error = wl_buf_printf(&path,
				   "/containers/%s/logs?stdout=1&stderr=1"
				   "&follow=1",
				   id)) < 0 ||
	    (error = since_s > 0 ? wl_buf_printf(&path, "&since=%lld",
						 (long long)since_s)
				 : wl_buf_printf(&path, "&tail=%d",
						 tail < 0 ? 0 : tail)) < 0 ||
	    (error = perform(&x, "GET", wl_buf_cstr(&path), NULL, NULL, 0, 0)) <
		    0)
		goto done;
	if (x.status != 200)
		error = http_fail(&x);
done:
	wl_buf_release(&pending);
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

/* ---- events ---- */

struct events {
	wl_docker_event_cb cb;
	void *ctx;
};

static int event_line(struct xfer *x, char *line, size_t len)
{
	struct events *e = x->ctx;
	const cJSON *actor, *attrs;
	const char *action, *id, *wid;
	cJSON *j = cJSON_ParseWithLength(line, len);

	if (!cJSON_IsObject(j))
		goto done; /* not an event: nothing to report */
	actor = cJSON_GetObjectItemCaseSensitive(j, "Actor");
	attrs = cJSON_GetObjectItemCaseSensitive(actor, "Attributes");
	if (!(action = jstr(j, "Action")))
		action = jstr(j, "status");
	if (!(id = jstr(actor, "ID")))
		id = jstr(j, "id");
	wid = jstr(attrs, "worklet.id");
	if (action && id)
		e->cb(e->ctx, action, id, wid ? wid : "");
done:
	cJSON_Delete(j);
	return 0;
}

int wl_docker_events(struct wl_docker *d, const char *label,
		     wl_docker_event_cb cb, void *ctx, const volatile int *stop)
{
	struct events e = { cb, ctx };
	cJSON *f = NULL, *arr;
	struct wl_buf path;
	struct xfer x;
	int error;

	wl_buf_init(&path, URL_MAX);
	xfer_init(&x, d, SINK_LINES, "cannot watch Docker events");
	x.on_line = event_line;
	x.ctx = &e;
	x.cancel = stop;
	if (stop && *stop) {
		error = 0;
		goto done;
	}
	if (!(f = cJSON_CreateObject()) ||
	    !(arr = cJSON_AddArrayToObject(f, "type")) ||
	    !cJSON_AddItemToArray(arr, cJSON_CreateString("container")) ||
	    (label && *label &&
	     (!(arr = cJSON_AddArrayToObject(f, "label")) ||
	      !cJSON_AddItemToArray(arr, cJSON_CreateString(label))))) {
		error = oom();
		goto done;
	}
	if ((error = wl_buf_puts(&path, "/events?filters=")) < 0 ||
	    (error = add_json_param(d, &path, f)) < 0)
		goto done;
	error = perform(&x, "GET", wl_buf_cstr(&path), NULL, NULL, 0, 0);
	if (error == WL_ECANCELED) {
		error = 0; /* *stop: the way out */
		goto done;
	}
	if (error < 0)
		goto done;
	if (x.status != 200) {
		error = http_fail(&x);
		goto done;
	}
	/* The daemon closed the stream (restart, shutdown): reconnect. */
	wl_error_set("Docker at '%s' ended the event stream", d->socket_path);
	error = WL_EUNAVAIL;
done:
	cJSON_Delete(f);
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

/* ---- networks ---- */

void wl_docker_network_release(struct wl_docker_network *n)
{
	if (!n)
		return;
	free(n->id);
	free(n->name);
	free(n->subnet);
	wl_kvlist_release(&n->labels);
	memset(n, 0, sizeof(*n));
}

void wl_docker_networks_free(struct wl_docker_network *n, size_t count)
{
	for (size_t i = 0; n && i < count; i++)
		wl_docker_network_release(&n[i]);
	free(n);
}

static int network_from_json(struct wl_docker_network *n, const cJSON *j)
{
	const cJSON *config, *first, *cs;

	memset(n, 0, sizeof(*n));
	config = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "IPAM"), "Config");
	first = cJSON_IsArray(config) ? cJSON_GetArrayItem(config, 0) : NULL;
	cs = cJSON_GetObjectItemCaseSensitive(j, "Containers");
	if (dup_str(&n->id, jstr(j, "Id")) < 0 ||
	    dup_str(&n->name, jstr(j, "Name")) < 0 ||
	    dup_str(&n->subnet, jstr(first, "Subnet")) < 0 ||
	    labels_from_json(&n->labels, cJSON_GetObjectItemCaseSensitive(
						 j, "Labels")) < 0) {
		wl_docker_network_release(n);
		return oom();
	}
	n->containers = cJSON_IsObject(cs) ? (size_t)cJSON_GetArraySize(cs) : 0;
	n->created_ms = parse_time(jstr(j, "Created"));
	return 0;
}

int wl_docker_network_inspect(struct wl_docker *d, const char *name,
			      struct wl_docker_network *out)
{
	struct wl_buf path;
	struct xfer x;
	cJSON *j = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = check_ref("network name", name)) < 0)
		return error;
	wl_buf_init(&path, URL_MAX);
	xfer_init(&x, d, SINK_BODY, "cannot inspect network '%s'", name);
	if ((error = wl_buf_printf(&path, "/networks/%s", name)) < 0 ||
	    (error = get_json(&j, &x, wl_buf_cstr(&path))) < 0)
		goto done;
	error = network_from_json(out, j);
done:
	cJSON_Delete(j);
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

int wl_docker_networks_list(struct wl_docker *d, const char *label,
			    struct wl_docker_network **out, size_t *count)
{
	struct wl_docker_network *nets = NULL;
	struct xfer x;
	const cJSON *it;
	cJSON *j = NULL;
	size_t n = 0;
	int error;

	*out = NULL;
	*count = 0;
	xfer_init(&x, d, SINK_BODY, "cannot list networks labelled '%s'",
		  label ? label : "");
	if ((error = get_list(&j, &x, "/networks?", label)) < 0)
		goto done;
	if (cJSON_GetArraySize(j) > 0 &&
	    !(nets = calloc((size_t)cJSON_GetArraySize(j), sizeof(*nets)))) {
		error = oom();
		goto done;
	}
	cJSON_ArrayForEach (it, j) {
		if ((error = network_from_json(&nets[n], it)) < 0)
			goto done;
		n++;
	}
	*out = nets;
	*count = n;
	nets = NULL;
	n = 0;
done:
	wl_docker_networks_free(nets, n);
	cJSON_Delete(j);
	xfer_release(&x);
	return error;
}

static int network_body(const char *name, const struct wl_kvlist *labels,
			const struct wl_kvlist *opts, char **out)
{
	cJSON *root = NULL, *o;
	int error = 0;

	*out = NULL;
	if (!(root = cJSON_CreateObject()) ||
	    !cJSON_AddStringToObject(root, "Name", name) ||
	    !cJSON_AddStringToObject(root, "Driver", "bridge") ||
	    !cJSON_AddBoolToObject(root, "CheckDuplicate", 1) ||
	    !(o = labels_to_json(labels)) ||
	    !cJSON_AddItemToObject(root, "Labels", o) ||
	    !(o = labels_to_json(opts)) ||
	    !cJSON_AddItemToObject(root, "Options", o) ||
	    !(*out = cJSON_PrintUnformatted(root)))
		error = oom();
	cJSON_Delete(root);
	return error;
}

int wl_docker_network_create(struct wl_docker *d, const char *name,
			     const struct wl_kvlist *labels,
			     const struct wl_kvlist *opts, char **id)
{
	struct wl_docker_network n;
	struct xfer x;
	char *body = NULL;
	cJSON *j = NULL;
	int error;

	*id = NULL;
	memset(&n, 0, sizeof(n));
	if ((error = check_ref("network name", name)) < 0)
		return error;
	xfer_init(&x, d, SINK_BODY, "cannot create network '%s'", name);
	if ((error = network_body(name, labels, opts, &body)) < 0 ||
	    (error = perform(&x, "POST", "/networks/create", "application/json",
			     body, strlen(body), REQUEST_TIMEOUT_MS)) < 0)
		goto done;
	if (x.status == 409) {
		/* Created meanwhile (another worker): use that one. */
		if ((error = wl_docker_network_inspect(d, name, &n)) == 0) {
			*id = n.id;
			n.id = NULL;
		}
		goto done;
	}
	if (x.status != 201 && x.status != 200) {
		error = http_fail(&x);
		goto done;
	}
	if ((error = parse_body(&j, &x)) < 0)
		goto done;
	error = dup_str(id, jstr(j, "Id"));
done:
	wl_docker_network_release(&n);
	cJSON_Delete(j);
	cJSON_free(body);
	xfer_release(&x);
	return error;
}

int wl_docker_network_remove(struct wl_docker *d, const char *name)
{
	struct wl_buf path;
	struct xfer x;
	int error;

	if ((error = check_ref("network name", name)) < 0)
		return error;
	wl_buf_init(&path, URL_MAX);
	xfer_init(&x, d, SINK_BODY, "cannot remove network '%s'", name);
	if ((error = wl_buf_printf(&path, "/networks/%s", name)) < 0 ||
	    (error = perform(&x, "DELETE", wl_buf_cstr(&path), NULL, NULL, 0,
			     REQUEST_TIMEOUT_MS)) < 0)
		goto done;
	if (x.status >= 300 && x.status != 404) {
		error = http_fail(&x);
		/* "has active endpoints" */
		if (x.status == 403 || x.status == 409)
			error = WL_EEXISTS;
	}
done:
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}
/* ---- raw create, selected log streams, networks (the agent sandbox) ---- */

int wl_docker_container_create_json(struct wl_docker *d, const char *name,
				    const char *body, char **id)
{
	struct wl_buf path;
	struct xfer x;
	cJSON *j = NULL;
	int error;

	*id = NULL;
	if (name && (error = check_ref("container name", name)) < 0)
		return error;
	wl_buf_init(&path, URL_MAX);
	xfer_init(&x, d, SINK_BODY, "cannot create container '%s'",
		  name ? name : "");
	if ((error = wl_buf_puts(&path, "/containers/create")) < 0 ||
	    (name && (error = wl_buf_printf(&path, "?name=%s", name)) < 0) ||
	    (error = perform(&x, "POST", wl_buf_cstr(&path), "application/json",
			     body, strlen(body), REQUEST_TIMEOUT_MS)) < 0)
		goto done;
	if (x.status != 201 && x.status != 200) {
		error = http_fail(&x);
		if (x.status == 409)
			error = WL_EEXISTS;
		goto done;
	}
	if ((error = parse_body(&j, &x)) < 0)
		goto done;
	if (!jstr(j, "Id")) {
		wl_error_set("%s: Docker's answer has no Id", what(&x));
		error = WL_ERROR;
		goto done;
	}
	error = dup_str(id, jstr(j, "Id"));
done:
	cJSON_Delete(j);
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

static const char *stream_params(int streams)
{
	switch (streams) {
	case WL_DOCKER_STDOUT:
		return "stdout=1&stderr=0";
	case WL_DOCKER_STDERR:
		return "stdout=0&stderr=1";
	default:
		return "stdout=1&stderr=1";
	}
}

int wl_docker_container_logs_stream(struct wl_docker *d, const char *id,
				    int streams, int tail, struct wl_buf *out)
{
	struct wl_buf path;
	struct xfer x;
	int error;

	if ((error = check_ref("container id", id)) < 0)
		return error;
	wl_buf_init(&path, URL_MAX);
	xfer_init(&x, d, SINK_LOGS, "cannot read logs of container '%s'", id);
	x.logs = out;
	if ((error = wl_buf_printf(&path, "/containers/%s/logs?%s", id,
				   stream_params(streams))) < 0 ||
	    (tail >= 0 &&
	     (error = wl_buf_printf(&path, "&tail=%d", tail)) < 0) ||
	    (error = perform(&x, "GET", wl_buf_cstr(&path), NULL, NULL, 0,
			     REQUEST_TIMEOUT_MS)) < 0)
		goto done;
	if (x.status != 200)
		error = http_fail(&x);
done:
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

int wl_docker_container_follow(struct wl_docker *d, const char *id,
			       const struct wl_docker_follow *f)
{
	struct wl_buf path, pending;
	struct xfer x;
	int error;

	if ((error = check_ref("container id", id)) < 0)
		return error;
	wl_buf_init(&path, URL_MAX);
	wl_buf_init(&pending, 1 << 20);
	xfer_init(&x, d, SINK_LOGS, "cannot follow logs of container '%s'", id);
	x.logs = &pending;
	x.logs_cb = f->cb;
	x.logs_ctx = f->ctx;
	x.stop = f->stop;
	x.stop_ctx = f->ctx;
	x.deadline_ms = f->deadline_ms;
	if ((error = wl_buf_printf(&path, "/containers/%s/logs?%s&follow=1", id,
				   stream_params(f->streams))) < 0 ||
	    (error = perform(&x, "GET", wl_buf_cstr(&path), NULL, NULL, 0, 0)) <
		    0)
		goto done;
	if (x.status != 200)
		error = http_fail(&x);
done:
	wl_buf_release(&pending);
	wl_buf_release(&path);
	xfer_release(&x);
	return error;
}

int wl_docker_network_ensure(struct wl_docker *d, const char *name,
			     const struct wl_kvlist *labels,
			     const struct wl_kvlist *options)
{
	char *id = NULL;
	int error = wl_docker_network_create(d, name, labels, options, &id);

	free(id);
	return error;
}

/* Send all of buf on a socket; 0 or -1 (errno set). */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int wl_docker_container_attach_stdin(struct wl_docker *d, const char *id,
				     int *fd)
{
	struct sockaddr_un sa;
	struct timeval tv = { CONNECT_TIMEOUT_MS / 1000, 0 }, none = { 0, 0 };
	char req[512], head[4096], eb[128];
	size_t len = 0;
	int s = -1, error, status = 0;

	*fd = -1;
	if ((error = check_ref("container id", id)) < 0)
		return error;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(d->socket_path) >= sizeof(sa.sun_path)) {
		wl_error_set("cannot attach to container '%s': the socket path "
			     "'%s' is too long",
			     id, d->socket_path);
		return WL_EINVALID;
	}
	memcpy(sa.sun_path, d->socket_path, strlen(d->socket_path) + 1);
	snprintf(
		req, sizeof(req),
		"POST /v1.41/containers/%s/attach?stream=1&stdin=1 HTTP/1.1\r\n"
		"Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
		"Content-Length: 0\r\n\r\n",
		id);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		wl_error_set("cannot reach Docker at '%s': %s", d->socket_path,
			     strerror_r(errno, eb, sizeof(eb)));
		error = WL_EUNAVAIL;
		goto fail;
	}
	/* The answer's head, bounded in size and time. */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send_all(s, req, strlen(req)) < 0) {
		wl_error_set("cannot attach to container '%s': %s", id,
			     strerror_r(errno, eb, sizeof(eb)));
		error = WL_EUNAVAIL;
		goto fail;
	}
	while (!memmem(head, len, "\r\n\r\n", 4)) {
		ssize_t n =
			len < sizeof(head) - 1
				? recv(s, head + len, sizeof(head) - 1 - len, 0)
				: 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			wl_error_set("cannot attach to container '%s': Docker "
				     "gave no complete answer",
				     id);
			error = WL_ERROR;
			goto fail;
		}
		len += (size_t)n;
	}
	head[len] = '\0';
	if (sscanf(head, "HTTP/1.%*d %d", &status) != 1)
		status = 0;
	if (status == 404) {
		wl_error_set("cannot attach to container '%s': no such "
			     "container",
			     id);
		error = WL_ENOTFOUND;
		goto fail;
	}
	/* 101 Upgraded; an old daemon answers 200 and streams as well */
	if (status != 101 && status != 200) {
		char *body = strstr(head, "\r\n\r\n") + 4;

		wl_error_set("cannot attach to container '%s': Docker answered "
			     "%d %.200s",
			     id, status, body);
		error = WL_ERROR;
		goto fail;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	*fd = s;
	return 0;
fail:
	if (s >= 0)
		close(s);
	return error;
}
