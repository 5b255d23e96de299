/*
 * The HTTP/1.1 wire helpers shared by the front end and the lws bridge:
 * request lines, header fields, response framing, the hop-by-hop and
 * credential filters, Location rewriting and the chunked decoder (fed in
 * every possible split).
 */

#include <stdint.h>

#include "apiserver/http1.h"
#include "specs/core/buf.h"
#include "unit.h"

static void test_head_end(void)
{
	static const struct {
		const char *in;
		size_t end;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody", 27 },
		{ "GET / HTTP/1.1\nHost: x\n\nbody", 24 },
		{ "GET / HTTP/1.1\r\nHost: x\r\n", 0 },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r", 0 },
		{ "", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(wl_http1_head_end(cases[i].in, strlen(cases[i].in)) ==
		      cases[i].end);
}

static void test_request_line(void)
{
	static const struct {
		const char *head;
		int ok;
		const char *method, *target;
		int minor;
	} cases[] = {
		{ "GET /a?b=c HTTP/1.1\r\n\r\n", 1, "GET", "/a?b=c", 1 },
		{ "\r\nPOST /x HTTP/1.0\r\n\r\n", 1, "POST", "/x", 0 },
		{ "M-SEARCH * HTTP/1.1\r\n\r\n", 1, "M-SEARCH", "*", 1 },
		{ "GET  /a HTTP/1.1\r\n\r\n", 0, NULL, NULL, 0 },
		{ "GET /a b HTTP/1.1\r\n\r\n", 0, NULL, NULL, 0 },
		{ "GET /a HTTP/2.0\r\n\r\n", 0, NULL, NULL, 0 },
		{ "GET /\x01 HTTP/1.1\r\n\r\n", 0, NULL, NULL, 0 },
		{ "G(T / HTTP/1.1\r\n\r\n", 0, NULL, NULL, 0 },
		{ "GET /a HTTP/1.1", 0, NULL, NULL, 0 },
		{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, NULL, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_http1_request rq;
		int r = wl_http1_parse_request(&rq, cases[i].head,
					       strlen(cases[i].head));

		if ((r == 0) != cases[i].ok)
			fprintf(stderr, "case %zu: %d\n", i, r);
		CHECK((r == 0) == cases[i].ok);
		if (r || !cases[i].ok)
			continue;
		CHECK(rq.method_len == strlen(cases[i].method) &&
		      !strncmp(rq.method, cases[i].method, rq.method_len));
		CHECK(rq.target_len == strlen(cases[i].target) &&
		      !strncmp(rq.target, cases[i].target, rq.target_len));
		CHECK(rq.minor == cases[i].minor);
	}
}

/* Every field of a head, as "name=value;" pairs, or "ERROR". */
static void fields_of(const char *head, struct wl_buf *out)
{
	struct wl_http1_request rq;
	struct wl_http1_field f;
	int r;

	wl_buf_reset(out);
	if (wl_http1_parse_request(&rq, head, strlen(head)) < 0) {
		wl_buf_puts(out, "BAD REQUEST LINE");
		return;
	}
	while ((r = wl_http1_next(&rq.iter, &f)) > 0)
		wl_buf_printf(out, "%.*s=%.*s;", (int)f.nlen, f.name,
			      (int)f.vlen, f.value);
	if (r < 0)
		wl_buf_puts(out, "ERROR");
}

static void test_header_fields(void)
{
	static const struct {
		const char *head;
		const char *fields;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: x\r\nX-A:  1 \r\nX-A: 2\r\n\r\n",
		  "Host=x;X-A=1;X-A=2;" },
		{ "GET / HTTP/1.1\r\nX-Weird!#$%&'*+.^`|~: v\r\nA:\r\n\r\n",
		  "X-Weird!#$%&'*+.^`|~=v;A=;" },
		{ "GET / HTTP/1.1\r\nX-Tab:\ta\tb\t\r\n\r\n", "X-Tab=a\tb;" },
		/* obsolete folding, a space before the colon, bad bytes */
		{ "GET / HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n",
		  "X-A=1;ERROR" },
		{ "GET / HTTP/1.1\r\nX-A : 1\r\n\r\n", "ERROR" },
		{ "GET / HTTP/1.1\r\nX(A): 1\r\n\r\n", "ERROR" },
		{ "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", "ERROR" },
		{ "GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n", "ERROR" },
		{ "GET / HTTP/1.1\r\nno colon\r\n\r\n", "ERROR" },
		{ "GET / HTTP/1.1\r\n: empty name\r\n\r\n", "ERROR" },
	};
	struct wl_buf out;

	wl_buf_init(&out, 4096);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fields_of(cases[i].head, &out);
		CHECK_STR(wl_buf_cstr(&out), cases[i].fields);
	}
	wl_buf_release(&out);
}

static void test_response_framing(void)
{
	static const struct {
		const char *head;
		int head_request;
		int ok, status;
		enum wl_http1_framing framing;
		uint64_t length;
		int reusable;
	} cases[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, 1, 200,
		  WL_HTTP1_LENGTH, 5, 1 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 1,
		  200, WL_HTTP1_CHUNKED, 0, 1 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		  0, 1, 200, WL_HTTP1_CHUNKED, 0, 1 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 1,
		  200, WL_HTTP1_CLOSE, 0, 0 },
		{ "HTTP/1.1 200 OK\r\n\r\n", 0, 1, 200, WL_HTTP1_CLOSE, 0, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 1, 200,
		  WL_HTTP1_NONE, 0, 1 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", 1, 1, 200,
		  WL_HTTP1_NONE, 9, 0 },
		{ "HTTP/1.1 204 No Content\r\n\r\n", 0, 1, 204, WL_HTTP1_NONE,
		  0, 0 },
		{ "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", 0,
		  1, 304, WL_HTTP1_NONE, 7, 0 },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", 0, 1, 200,
		  WL_HTTP1_LENGTH, 5, 0 },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: "
		  "5\r\n\r\n",
		  0, 1, 200, WL_HTTP1_LENGTH, 5, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: "
		  "chunked\r\n\r\n",
		  0, 1, 200, WL_HTTP1_CHUNKED, 5, 0 },
		{ "HTTP/1.1 100 Continue\r\n\r\n", 0, 1, 100, WL_HTTP1_NONE, 0,
		  0 },
		{ "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", 0, 1, 200,
		  WL_HTTP1_LENGTH, 1, 1 },
		/* refused */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: "
		  "6\r\n\r\n",
		  0, 0, 0, WL_HTTP1_NONE, 0, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, 0, 0,
		  WL_HTTP1_NONE, 0, 0 },
		{ "HTTP/1.1 20 OK\r\n\r\n", 0, 0, 0, WL_HTTP1_NONE, 0, 0 },
		{ "HTTP/2 200 OK\r\n\r\n", 0, 0, 0, WL_HTTP1_NONE, 0, 0 },
		{ "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 0, 0, 0,
		  WL_HTTP1_NONE, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_http1_response rs;
		int r = wl_http1_parse_response(&rs, cases[i].head,
						strlen(cases[i].head),
						cases[i].head_request);

		if ((r == 0) != cases[i].ok ||
		    (!r && (rs.framing != cases[i].framing ||
			    rs.reusable != cases[i].reusable)))
			fprintf(stderr,
				"case %zu: r %d framing %d reusable %d\n", i, r,
				rs.framing, rs.reusable);
		CHECK((r == 0) == cases[i].ok);
		if (r)
			continue;
		CHECK(rs.status == cases[i].status);
		CHECK(rs.framing == cases[i].framing);
		CHECK(rs.length == cases[i].length);
		CHECK(rs.reusable == cases[i].reusable);
	}
}

static void test_header_filters(void)
{
	static const struct {
		const char *name;
		int dropped;
	} request[] = {
		{ "Authorization", 1 },
		{ "x-user-id", 1 },
		{ "Cookie", 1 },
		{ "Connection", 1 },
		{ "Transfer-Encoding", 1 },
		{ "X-Forwarded-For", 1 },
		{ "x-forwarded-prefix", 1 },
		{ "Forwarded", 1 },
		{ "Proxy-Authorization", 1 },
		{ "Host", 1 },
		{ "X-My-App-Header", 0 },
		{ "Sec-Foo", 0 },
		{ "Accept", 0 },
		{ "Authorization2", 0 },
		{ "Sec-WebSocket-Key", 0 },
	};
	static const struct {
		const char *name;
		const char *conn;
		int dropped;
	} response[] = {
		{ "Connection", NULL, 1 },
		{ "Keep-Alive", NULL, 1 },
		{ "Transfer-Encoding", NULL, 1 },
		{ "Proxy-Authenticate", NULL, 1 },
		{ "Content-Length", NULL, 1 },
		{ "X-Secret", "close, X-Secret", 1 },
		{ "X-Kept", "close, X-Secret", 0 },
		{ "Set-Cookie", NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(request) / sizeof(request[0]); i++)
		CHECK(wl_http1_request_drops(request[i].name,
					     strlen(request[i].name)) ==
		      request[i].dropped);
	for (size_t i = 0; i < sizeof(response) / sizeof(response[0]); i++) {
		struct wl_http1_field f = { response[i].name,
					    strlen(response[i].name), "v", 1 };
		const char *conn = response[i].conn;

		CHECK(wl_http1_response_drops(&f, conn,
					      conn ? strlen(conn) : 0) ==
		      response[i].dropped);
	}
}

static void test_cookie_and_location(void)
{
	static const struct {
		const char *in, *out;
	} cookies[] = {
		{ "a=1; wl_session=s; b=2", "a=1; b=2" },
		{ "wl_session=s", "" },
		{ "wl_session_x=1;wl_session=2", "wl_session_x=1" },
		{ " a=1 ;  b=2", "a=1 ; b=2" },
	};
	static const struct {
		const char *prefix, *in, *out;
	} locations[] = {
		{ "/p", "/login", "/p/login" },
		{ "/p", "http://127.0.0.1:3000/x?y", "/p/x?y" },
		{ "/p", "http://localhost:3000", "/p/" },
		{ "/p", "http://localhost:3000?q", "/p/?q" },
		{ "/p", "http://127.0.0.1:30001/x",
		  "http://127.0.0.1:30001/x" },
		{ "/p", "//evil.example/x", "//evil.example/x" },
		{ "/p", "https://example.com/", "https://example.com/" },
		{ "", "http://127.0.0.1:3000/x", "/x" },
	};
	struct wl_buf b;

	wl_buf_init(&b, 4096);
	for (size_t i = 0; i < sizeof(cookies) / sizeof(cookies[0]); i++) {
		CHECK(wl_http1_filter_cookie(cookies[i].in,
					     strlen(cookies[i].in), &b) == 0);
		CHECK_STR(wl_buf_cstr(&b), cookies[i].out);
	}
	for (size_t i = 0; i < sizeof(locations) / sizeof(locations[0]); i++) {
		wl_buf_reset(&b);
		CHECK(wl_http1_rewrite_location(
			      locations[i].prefix, 3000, locations[i].in,
			      strlen(locations[i].in), &b) == 0);
		CHECK_STR(wl_buf_cstr(&b), locations[i].out);
	}
	wl_buf_release(&b);
}

static int collect(void *ctx, const char *data, size_t n)
{
	return wl_buf_add(ctx, data, n);
}

/* Decode in in pieces of step bytes; the payload, or "ERROR". */
static void decode(const char *in, size_t len, size_t step, struct wl_buf *out,
		   size_t *consumed)
{
	struct wl_http1_chunked d;

	memset(&d, 0, sizeof(d));
	wl_buf_reset(out);
	*consumed = 0;
	for (size_t off = 0; off < len && !wl_http1_chunked_done(&d);) {
		size_t n = len - off < step ? len - off : step;
		long used =
			wl_http1_chunked_feed(&d, in + off, n, collect, out);

		if (used < 0) {
			wl_buf_reset(out);
			wl_buf_puts(out, "ERROR");
			return;
		}
		off += (size_t)used;
		*consumed = off;
	}
	if (!wl_http1_chunked_done(&d))
		wl_buf_puts(out, "|INCOMPLETE");
}

static void test_chunked_decoder(void)
{
	static const struct {
		const char *in;
		const char *payload;
		size_t consumed; /* 0: all of it */
	} cases[] = {
		{ "5\r\nhello\r\n0\r\n\r\n", "hello", 0 },
		{ "3;ext=1\r\nabc\r\n4 ; x\r\ndefg\r\n0\r\n\r\n", "abcdefg",
		  0 },
		{ "A\r\n0123456789\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n",
		  "0123456789", 0 },
		{ "1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", "x", 11 },
		{ "5\r\nhello\r\n", "hello|INCOMPLETE", 0 },
		/* malformed */
		{ "zz\r\nhello\r\n0\r\n\r\n", "ERROR", 0 },
		{ "5\r\nhelloX\r\n0\r\n\r\n", "ERROR", 0 },
		{ "5\nhello\r\n0\r\n\r\n", "ERROR", 0 },
		{ "1234567890123456\r\n", "ERROR", 0 },
		{ "\r\n", "ERROR", 0 },
	};
	struct wl_buf out;

	wl_buf_init(&out, 4096);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);

		/* Every split, from one byte at a time to all at once. */
		for (size_t step = 1; step <= len; step++) {
			size_t consumed;

			decode(cases[i].in, len, step, &out, &consumed);
			if (strcmp(wl_buf_cstr(&out), cases[i].payload))
				fprintf(stderr, "case %zu step %zu: '%s'\n", i,
					step, wl_buf_cstr(&out));
			CHECK_STR(wl_buf_cstr(&out), cases[i].payload);
			if (strcmp(cases[i].payload, "ERROR") &&
			    !strstr(cases[i].payload, "INCOMPLETE"))
				CHECK(consumed == (cases[i].consumed
							   ? cases[i].consumed
							   : len));
		}
	}
	wl_buf_release(&out);
}

static void test_chunk_head_and_tokens(void)
{
	char h[WL_HTTP1_CHUNK_HEAD_MAX];
	uint64_t v = 0;

	CHECK(wl_http1_chunk_head(h, 255) == 4 && !strncmp(h, "ff\r\n", 4));
	CHECK(wl_http1_chunk_head(h, 0) == 3 && !strncmp(h, "0\r\n", 3));
	CHECK(wl_http1_token_in_list("keep-alive, Upgrade", 19, "upgrade"));
	CHECK(!wl_http1_token_in_list("keep-alive, Upgraded", 20, "upgrade"));
	CHECK(wl_http1_ends_with_chunked("gzip, chunked", 13));
	CHECK(!wl_http1_ends_with_chunked("chunked, gzip", 13));
	CHECK(!wl_http1_ends_with_chunked("xchunked", 8));
	CHECK(wl_http1_parse_u64("0042", 4, &v) == 0 && v == 42);
	CHECK(wl_http1_parse_u64("4 2", 3, &v) < 0);
	CHECK(wl_http1_parse_u64("+42", 3, &v) < 0);
	CHECK(wl_http1_parse_u64("1234567890123456789", 19, &v) < 0);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_head_end),
		UNIT(test_request_line),
		UNIT(test_header_fields),
		UNIT(test_response_framing),
		UNIT(test_header_filters),
		UNIT(test_cookie_and_location),
		UNIT(test_chunked_decoder),
		UNIT(test_chunk_head_and_tokens),
		{ 0 },
	};

	return wl_unit_run(tests);
}
