#ifndef WL_HTTP1_H
#define WL_HTTP1_H

/*
 * The HTTP/1.1 wire format, as both halves of the reverse proxy need it:
 * the front end (front.c) reads whole request heads off the socket, and
 * both it and the libwebsockets bridge (proxy.c) read the apps' responses
 * and speak chunked framing both ways. Pure functions over caller-owned
 * bytes: no I/O, no logging, no allocation except into the caller's
 * struct wl_buf. Any thread.
 *
 * Strictness follows RFC 9112 where a lenient reading would let two
 * parsers disagree on where a message ends (request smuggling): obsolete
 * line folding, a header name with bytes outside the token set, a bare CR
 * or another control byte in a value, a bad or repeated-but-different
 * Content-Length, and Content-Length together with Transfer-Encoding are
 * all errors.
 */

#include <stddef.h>
#include <stdint.h>

#include "specs/core/buf.h"

/* The largest request or response head either half accepts. */
#define WL_HTTP1_HEAD_MAX (64 * 1024)

enum wl_http1_framing {
	WL_HTTP1_NONE = 0, /* no body */
	WL_HTTP1_LENGTH,   /* Content-Length bytes */
	WL_HTTP1_CHUNKED,  /* Transfer-Encoding: chunked */
	WL_HTTP1_CLOSE,	   /* until the connection closes (responses only) */
};

/*
 * The length of the head at the start of s (through its blank line), or 0
 * while it is incomplete. Accepts LF and CRLF line ends.
 */
size_t wl_http1_head_end(const char *s, size_t len);

/* One header field; name and value point into the head, not terminated. */
struct wl_http1_field {
	const char *name;
	size_t nlen;
	const char *value; /* without surrounding blanks */
	size_t vlen;
};

/* Walks the header lines of a head, after its start line. */
struct wl_http1_iter {
	const char *pos, *end;
};

/*
 * The next field: 1 and *f filled, 0 at the blank line (or the end), -1
 * on a malformed line (see the strictness rules above).
 */
int wl_http1_next(struct wl_http1_iter *it, struct wl_http1_field *f);

/* 1 if the field's name is lname (lower case), ignoring case. */
int wl_http1_is(const struct wl_http1_field *f, const char *lname);

/*
 * The next element of a comma-separated list: 1 with *s and *slen set
 * (surrounding blanks trimmed, empty elements skipped), or 0 at the end.
 * *pos starts at the list and moves on; end is where the list ends.
 */
int wl_http1_list_next(const char **pos, const char *end, const char **s,
		       size_t *slen);

/* 1 if the comma-separated list contains token, ignoring case. */
int wl_http1_token_in_list(const char *list, size_t len, const char *token);

/* A decimal of at most 18 digits and nothing else; 0 or -1. */
int wl_http1_parse_u64(const char *s, size_t n, uint64_t *out);

/* 1 if the last coding of a Transfer-Encoding value is "chunked". */
int wl_http1_ends_with_chunked(const char *v, size_t n);

/* ---- requests ----------------------------------------------------------- */

/* The start line of a request; pointers into the head. */
struct wl_http1_request {
	const char *method;
	size_t method_len;
	const char *target; /* as sent: not decoded */
	size_t target_len;
	int minor;		   /* HTTP/1.<minor> */
	struct wl_http1_iter iter; /* over the header lines */
};

/*
 * Parse the request line of a complete head of len bytes (leading blank
 * lines are skipped, RFC 9112 2.2). Returns 0, or -1 when it is not an
 * HTTP/1.x request line (the method is a token, the target visible ASCII,
 * single spaces between).
 */
int wl_http1_parse_request(struct wl_http1_request *rq, const char *head,
			   size_t len);

/* ---- responses ---------------------------------------------------------- */

struct wl_http1_response {
	int status;
	int minor;
	const char *reason;
	size_t reason_len;
	struct wl_http1_iter iter; /* over the header lines */
	enum wl_http1_framing framing;
	uint64_t length; /* for WL_HTTP1_LENGTH */
	int has_length;	 /* a Content-Length header was present */
	int reusable;	 /* the connection may carry another request */
};

/*
 * Parse one complete response head (len bytes). head_request: the request
 * was HEAD, so there is no body whatever the headers say. Framing per RFC
 * 9112 6.3; reusable only for an HTTP/1.1 answer without "Connection:
 * close" whose body has a known end. Bodiless answers (HEAD, 204, 304) are
 * not reusable on purpose: an app that wrongly sends a body there would
 * have it read as the next response. Returns 0 or -1 (malformed).
 */
int wl_http1_parse_response(struct wl_http1_response *rs, const char *head,
			    size_t len, int head_request);

/*
 * 1 if a response header must not be passed on to the client: hop-by-hop
 * ones (Connection, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade,
 * Proxy-*), those named by the response's Connection header (conn, may be
 * NULL), and Content-Length (the proxy frames the body itself).
 */
int wl_http1_response_drops(const struct wl_http1_field *f, const char *conn,
			    size_t conn_len);

/*
 * 1 if a client request header must not reach the app: hop-by-hop ones,
 * the framing ones the proxy writes itself, our own credentials
 * (Authorization, X-User-ID, Proxy-Authorization; the Cookie is filtered
 * separately) and the forwarding headers the proxy sets (a client's own
 * X-Forwarded-* would be believed by the app).
 */
int wl_http1_request_drops(const char *name, size_t nlen);

/* The session cookie of ours that never reaches an app. */
#define WL_HTTP1_SESSION_COOKIE "wl_session"

/*
 * A Cookie value without our session cookie, appended to out (which is
 * reset first); out is left empty when nothing else remains.
 */
int wl_http1_filter_cookie(const char *in, size_t len, struct wl_buf *out);

/*
 * The values of our session cookie in a Cookie header value, one per
 * call: start with *pos at the value's start; while one is left, set
 * *value and *vlen to it, advance *pos and return 1; then 0. Matches the
 * names wl_http1_filter_cookie() removes.
 */
int wl_http1_session_cookie_next(const char **pos, const char *end,
				 const char **value, size_t *vlen);

/*
 * Append a Location value to out, rewritten to go through the proxy when
 * it points at the app (a path, or http://127.0.0.1:<port> or
 * http://localhost:<port>): prefix + the path. Others are kept.
 */
int wl_http1_rewrite_location(const char *prefix, int port, const char *v,
			      size_t n, struct wl_buf *out);

/* Append path to b, %-escaping what may not appear in a request target. */
int wl_http1_add_target(struct wl_buf *b, const char *path);

/* ---- chunked framing --------------------------------------------------- */

/* A chunked-body decoder that survives any split of its input. */
struct wl_http1_chunked {
	int state;
	uint64_t size;
	int digits;
	size_t trailer_bytes;
};

/* Receives each run of payload bytes. Returns 0, or -1 to stop. */
typedef int (*wl_http1_sink_fn)(void *ctx, const char *data, size_t n);

/*
 * Feed len bytes of a chunked body; payload runs go to sink. Returns how
 * many bytes were consumed (fewer than len only once the body is complete:
 * the rest follows the message), or -1 on a malformed body or a sink
 * failure. Trailers are read and dropped (bounded by WL_HTTP1_HEAD_MAX).
 */
long wl_http1_chunked_feed(struct wl_http1_chunked *d, const char *in,
			   size_t len, wl_http1_sink_fn sink, void *ctx);

/* 1 once the terminating chunk and the trailers have been read. */
int wl_http1_chunked_done(const struct wl_http1_chunked *d);

/*
 * The line that starts a chunk of n bytes ("<hex>\r\n") into out, which
 * holds WL_HTTP1_CHUNK_HEAD_MAX bytes; returns its length. The payload and
 * "\r\n" follow; the body ends with "0\r\n\r\n".
 */
#define WL_HTTP1_CHUNK_HEAD_MAX 20
size_t wl_http1_chunk_head(char *out, size_t n);

#endif
