/*
 * The reverse proxy's HTTP/1 handling (apiserver/http1.c) and its routing
 * (apiserver/route.c): the first byte picks what the rest is:
 *   0  a client request head, as the front end reads it: head end,
 *      request line, every header through the filters the proxy applies
 *      (dropped headers, the Cookie filter, Host and path routing)
 *   1  an app's response head (bit 3 of the byte: to a HEAD request):
 *      framing, dropped headers, the Location rewrite
 *   2  a chunked body, fed in pieces whose sizes come from the input
 *   3  a path for wl_http1_add_target
 * Checked: lengths stay inside the input, a parsed request's pointers are
 * inside the head, a filtered Cookie never keeps our session cookie.
 */
#include <string.h>

#include "apiserver/http1.h"
#include "apiserver/route.h"
#include "specs/worklet.h"
#include "tests/fuzz/fuzz.h"

/* An empty span may have any pointer (NULL, say). */
#define INSIDE(p, n, base, len)                                                \
	((n) == 0 || ((const char *)(p) >= (base) &&                           \
		      (const char *)(p) + (n) <= (base) + (len)))

static void check_field(const struct wl_http1_field *f, const char *h,
			size_t len)
{
	FUZZ_CHECK(INSIDE(f->name, f->nlen, h, len));
	FUZZ_CHECK(INSIDE(f->value, f->vlen, h, len));
}

/*
 * 1 if a Cookie value has a cookie named like ours, as an app's lenient
 * parser would read the names: blanks around a name are not part of it.
 */
static int has_session_cookie(const char *v, size_t len)
{
	const char *p = v, *end = v + len;
	size_t sl = strlen(WL_HTTP1_SESSION_COOKIE);

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi ? semi : end, *eq, *ne;

		eq = memchr(p, '=', (size_t)(e - p));
		ne = eq ? eq : e;
		while (p < ne && (*p == ' ' || *p == '\t'))
			p++;
		while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
			ne--;
		if (eq && (size_t)(ne - p) == sl &&
		    !memcmp(p, WL_HTTP1_SESSION_COOKIE, sl))
			return 1;
		p = semi ? semi + 1 : end;
	}
	return 0;
}

static void request_head(const char *h, size_t len)
{
	struct wl_http1_request rq;
	struct wl_http1_field f;
	struct wl_buf b;
	char id[WL_ID_MAX + 1];
	size_t end = wl_http1_head_end(h, len), rest;
	int r;

	FUZZ_CHECK(end <= len);
	if (end)
		len = end;
	if (wl_http1_parse_request(&rq, h, len) < 0)
		return;
	FUZZ_CHECK(INSIDE(rq.method, rq.method_len, h, len));
	FUZZ_CHECK(INSIDE(rq.target, rq.target_len, h, len));
	if (wl_route_proxy_path(rq.target, rq.target_len, id, sizeof(id),
				&rest))
		FUZZ_CHECK(rest <= rq.target_len);
	wl_buf_init(&b, WL_HTTP1_HEAD_MAX);
	while ((r = wl_http1_next(&rq.iter, &f)) == 1) {
		uint64_t n;

		check_field(&f, h, len);
		(void)wl_http1_request_drops(f.name, f.nlen);
		if (wl_http1_is(&f, "host"))
			(void)wl_route_host_id("apps.example.com", f.value,
					       f.vlen, id, sizeof(id));
		if (wl_http1_is(&f, "content-length"))
			(void)wl_http1_parse_u64(f.value, f.vlen, &n);
		if (wl_http1_is(&f, "transfer-encoding"))
			(void)wl_http1_ends_with_chunked(f.value, f.vlen);
		if (wl_http1_is(&f, "connection"))
			(void)wl_http1_token_in_list(f.value, f.vlen,
						     "upgrade");
		if (wl_http1_is(&f, "cookie") &&
		    wl_http1_filter_cookie(f.value, f.vlen, &b) == 0)
			FUZZ_CHECK(!has_session_cookie(wl_buf_cstr(&b), b.len));
	}
	FUZZ_CHECK(r == 0 || r == -1);
	wl_buf_release(&b);
}

static void response_head(const char *h, size_t len, int head_request)
{
	struct wl_http1_response rs;
	struct wl_http1_field f;
	struct wl_buf b;
	const char *conn = NULL;
	size_t conn_len = 0;
	struct wl_http1_iter it;

	if (wl_http1_parse_response(&rs, h, len, head_request) < 0)
		return;
	FUZZ_CHECK(rs.status >= 100 && rs.status <= 999);
	FUZZ_CHECK(!head_request || rs.framing == WL_HTTP1_NONE);
	it = rs.iter;
	while (wl_http1_next(&it, &f) == 1)
		if (wl_http1_is(&f, "connection")) {
			conn = f.value;
			conn_len = f.vlen;
		}
	wl_buf_init(&b, WL_HTTP1_HEAD_MAX);
	it = rs.iter;
	while (wl_http1_next(&it, &f) == 1) {
		check_field(&f, h, len);
		(void)wl_http1_response_drops(&f, conn, conn_len);
		if (wl_http1_is(&f, "location")) {
			wl_buf_reset(&b);
			(void)wl_http1_rewrite_location(
				"/api/worklet/worklets/w/proxy", 8080, f.value,
				f.vlen, &b);
		}
	}
	wl_buf_release(&b);
}

static int count_sink(void *ctx, const char *data, size_t n)
{
	(void)data;
	*(size_t *)ctx += n;
	return 0;
}

/* The first bytes are piece sizes (1..16), then a 0xff, then the body. */
static void chunked_body(const char *s, size_t len)
{
	const char *sep = memchr(s, '\xff', len);
	const char *sizes = s, *body;
	size_t nsizes, blen, off = 0, total = 0, i = 0;
	struct wl_http1_chunked d;

	if (!sep)
		return;
	nsizes = (size_t)(sep - s);
	body = sep + 1;
	blen = len - nsizes - 1;
	memset(&d, 0, sizeof(d));
	while (off < blen) {
		size_t piece = nsizes ? (unsigned char)sizes[i++ % nsizes] : 7;
		long used;

		piece = piece % 16 + 1;
		if (piece > blen - off)
			piece = blen - off;
		used = wl_http1_chunked_feed(&d, body + off, piece, count_sink,
					     &total);
		if (used < 0)
			return;
		FUZZ_CHECK((size_t)used <= piece);
		off += (size_t)used;
		if ((size_t)used < piece) {
			FUZZ_CHECK(wl_http1_chunked_done(&d));
			break;
		}
		if (wl_http1_chunked_done(&d))
			break;
	}
	FUZZ_CHECK(total <= blen);
}

static void add_target(const char *s, size_t len)
{
	char path[512];
	struct wl_buf b;

	if (len >= sizeof(path))
		len = sizeof(path) - 1;
	memcpy(path, s, len);
	path[len] = '\0';
	wl_buf_init(&b, 4 * sizeof(path));
	if (wl_http1_add_target(&b, path) == 0)
		for (size_t i = 0; i < b.len; i++)
			FUZZ_CHECK(b.ptr[i] > ' ' && b.ptr[i] < 0x7f);
	wl_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;

	if (size < 1 || size > WL_HTTP1_HEAD_MAX)
		return 0;
	switch (data[0] & 3) {
	case 0:
		request_head(s, size - 1);
		break;
	case 1:
		response_head(s, size - 1, (data[0] >> 3) & 1);
		break;
	case 2:
		chunked_body(s, size - 1);
		break;
	default:
		add_target(s, size - 1);
		break;
	}
	return 0;
}
