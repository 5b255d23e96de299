#include "apiserver/http1.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "specs/core/banned.h"

/* RFC 9110 tchar, as a table: header names are checked byte by byte. */
static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
	['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
	['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,
	['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
	['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1,
	['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1,
	['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,
	['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
	['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
	['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static int is_tchar(int c)
{
	return tchar[(unsigned char)c];
}

size_t wl_http1_head_end(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\n')
			continue;
		if (i + 1 < len && s[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

int wl_http1_next(struct wl_http1_iter *it, struct wl_http1_field *f)
{
	const char *line = it->pos, *eol, *colon, *v, *ve;

	if (line >= it->end)
		return 0;
	eol = memchr(line, '\n', (size_t)(it->end - line));
	if (!eol)
		return -1;
	it->pos = eol + 1;
	ve = eol;
	if (ve > line && ve[-1] == '\r')
		ve--;
	if (ve == line)
		return 0; /* the blank line */
	if (*line == ' ' || *line == '\t')
		return -1; /* obsolete line folding */
	colon = memchr(line, ':', (size_t)(ve - line));
	if (!colon || colon == line)
		return -1;
	for (const char *c = line; c < colon; c++)
		if (!is_tchar((unsigned char)*c))
			return -1;
	v = colon + 1;
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	for (const char *c = v; c < ve; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return -1;
	f->name = line;
	f->nlen = (size_t)(colon - line);
	f->value = v;
	f->vlen = (size_t)(ve - v);
	return 1;
}

int wl_http1_is(const struct wl_http1_field *f, const char *lname)
{
	return strlen(lname) == f->nlen &&
	       !strncasecmp(f->name, lname, f->nlen);
}

int wl_http1_list_next(const char **pos, const char *end, const char **s,
		       size_t *slen)
{
	while (*pos < end) {
		const char *p = *pos,
			   *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;

		*pos = comma ? comma + 1 : end;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > p) {
			*s = p;
			*slen = (size_t)(e - p);
			return 1;
		}
	}
	return 0;
}

int wl_http1_token_in_list(const char *list, size_t len, const char *token)
{
	size_t tl = strlen(token), n;
	const char *pos = list, *s;

	while (wl_http1_list_next(&pos, list + len, &s, &n))
		if (n == tl && !strncasecmp(s, token, tl))
			return 1;
	return 0;
}

int wl_http1_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (!n || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int wl_http1_ends_with_chunked(const char *v, size_t n)
{
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return n >= 7 && !strncasecmp(v + n - 7, "chunked", 7) &&
	       (n == 7 || v[n - 8] == ',' || v[n - 8] == ' ');
}

/* ---- requests ----------------------------------------------------------- */

int wl_http1_parse_request(struct wl_http1_request *rq, const char *head,
			   size_t len)
{
	const char *p = head, *end = head + len, *eol, *sp1, *sp2, *le;

	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	eol = memchr(p, '\n', (size_t)(end - p));
	if (!eol)
		return -1;
	le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
	sp1 = memchr(p, ' ', (size_t)(le - p));
	if (!sp1 || sp1 == p)
		return -1;
	for (const char *c = p; c < sp1; c++)
		if (!is_tchar((unsigned char)*c))
			return -1;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1)
		return -1;
	for (const char *c = sp1 + 1; c < sp2; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return -1;
	if (le - sp2 - 1 != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) ||
	    !isdigit((unsigned char)sp2[8]))
		return -1;
	rq->method = p;
	rq->method_len = (size_t)(sp1 - p);
	rq->target = sp1 + 1;
	rq->target_len = (size_t)(sp2 - sp1 - 1);
	rq->minor = sp2[8] - '0';
	rq->iter.pos = eol + 1;
	rq->iter.end = end;
	return 0;
}

/* ---- responses ---------------------------------------------------------- */

int wl_http1_parse_response(struct wl_http1_response *rs, const char *s,
			    size_t len, int head_request)
{
	const char *eol, *le;
	struct wl_http1_field f;
	int have_te = 0, te_chunked = 0, conn_close = 0, r;

	memset(rs, 0, sizeof(*rs));
	eol = memchr(s, '\n', len);
	if (!eol || len < 12 || strncmp(s, "HTTP/1.", 7) ||
	    !isdigit((unsigned char)s[7]) || s[8] != ' ' ||
	    !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
	    !isdigit((unsigned char)s[11]) ||
	    (s[12] != ' ' && s[12] != '\r' && s[12] != '\n'))
		return -1;
	rs->minor = s[7] - '0';
	rs->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (rs->status < 100)
		return -1;
	le = eol > s && eol[-1] == '\r' ? eol - 1 : eol;
	rs->reason = s[12] == ' ' ? s + 13 : s + 12;
	rs->reason_len = le > rs->reason ? (size_t)(le - rs->reason) : 0;
	for (size_t i = 0; i < rs->reason_len; i++)
		if ((unsigned char)rs->reason[i] < 0x20 &&
		    rs->reason[i] != '\t')
			return -1;
	rs->iter.pos = eol + 1;
	rs->iter.end = s + len;
	{
		struct wl_http1_iter it = rs->iter;

		while ((r = wl_http1_next(&it, &f)) > 0) {
			if (wl_http1_is(&f, "content-length")) {
				uint64_t v;

				if (wl_http1_parse_u64(f.value, f.vlen, &v) <
					    0 ||
				    (rs->has_length && v != rs->length))
					return -1;
				rs->has_length = 1;
				rs->length = v;
			} else if (wl_http1_is(&f, "transfer-encoding")) {
				have_te = 1;
				te_chunked = wl_http1_ends_with_chunked(f.value,
									f.vlen);
			} else if (wl_http1_is(&f, "connection") &&
				   wl_http1_token_in_list(f.value, f.vlen,
							  "close")) {
				conn_close = 1;
			}
		}
		if (r < 0)
			return -1;
	}
	if (rs->status < 200)
		return 0; /* interim: no body, the caller skips it */
	if (head_request || rs->status == 204 || rs->status == 304)
		rs->framing = WL_HTTP1_NONE;
	else if (have_te)
		rs->framing = te_chunked ? WL_HTTP1_CHUNKED : WL_HTTP1_CLOSE;
	else if (rs->has_length)
		rs->framing = rs->length ? WL_HTTP1_LENGTH : WL_HTTP1_NONE;
	else
		rs->framing = WL_HTTP1_CLOSE;
	rs->reusable = rs->minor == 1 && !conn_close &&
		       !(have_te && rs->has_length) &&
		       (rs->framing == WL_HTTP1_LENGTH ||
			rs->framing == WL_HTTP1_CHUNKED ||
			(rs->framing == WL_HTTP1_NONE && rs->has_length &&
			 !rs->length && !head_request && rs->status != 204 &&
			 rs->status != 304));
	return 0;
}

static int name_in(const char *name, size_t n, const char *const *list,
		   size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(list[i]) == n && !strncasecmp(name, list[i], n))
			return 1;
	return 0;
}

int wl_http1_response_drops(const struct wl_http1_field *f, const char *conn,
			    size_t conn_len)
{
	static const char *const drop[] = {
		"connection",	  "keep-alive", "te",
		"trailer",	  "upgrade",	"transfer-encoding",
		"content-length",
	};
	char lname[128];

	if (name_in(f->name, f->nlen, drop, sizeof(drop) / sizeof(drop[0])) ||
	    (f->nlen >= 6 && !strncasecmp(f->name, "proxy-", 6)))
		return 1;
	if (!conn || f->nlen >= sizeof(lname))
		return 0;
	memcpy(lname, f->name, f->nlen);
	lname[f->nlen] = '\0';
	return wl_http1_token_in_list(conn, conn_len, lname);
}

int wl_http1_request_drops(const char *name, size_t nlen)
{
	static const char *const drop[] = {
		"host",
		"connection",
		"upgrade",
		"keep-alive",
		"te",
		"trailer",
		"transfer-encoding",
		"content-length",
		"expect",
		"authorization",
		"proxy-authorization",
		"proxy-connection",
		"x-user-id",
		"x-forwarded-for",
		"x-forwarded-proto",
		"x-forwarded-host",
		"x-forwarded-prefix",
		"x-real-ip",
		"forwarded",
		"http2-settings",
		"cookie",
	};

	return name_in(name, nlen, drop, sizeof(drop) / sizeof(drop[0]));
}

/* The name=value pair at s..e: 1 if its name is our session cookie's. */
static int is_session_pair(const char *s, const char *e)
{
	size_t sl = strlen(WL_HTTP1_SESSION_COOKIE);

	return (size_t)(e - s) > sl &&
	       !strncmp(s, WL_HTTP1_SESSION_COOKIE, sl) &&
	       (s[sl] == '=' || s[sl] == ' ' || s[sl] == '\t');
}

int wl_http1_filter_cookie(const char *in, size_t len, struct wl_buf *out)
{
	const char *p = in, *end = in + len;

	wl_buf_reset(out);
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi ? semi : end, *s = p;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (!is_session_pair(s, e) && e > s) {
			if (out->len && wl_buf_puts(out, "; ") < 0)
				return -1;
			if (wl_buf_add(out, s, (size_t)(e - s)) < 0)
				return -1;
		}
		p = semi ? semi + 1 : end;
	}
	return 0;
}

int wl_http1_session_cookie_next(const char **pos, const char *end,
				 const char **value, size_t *vlen)
{
	const char *p = *pos;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi ? semi : end, *s = p, *v;

		p = semi ? semi + 1 : end;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (!is_session_pair(s, e))
			continue;
		v = memchr(s, '=', (size_t)(e - s));
		if (!v)
			continue;
		v++;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*value = v;
		*vlen = (size_t)(e - v);
		*pos = p;
		return 1;
	}
	*pos = end;
	return 0;
}

int wl_http1_rewrite_location(const char *prefix, int port, const char *v,
			      size_t n, struct wl_buf *out)
{
	char app1[64], app2[64];
	const char *rest = NULL;
	size_t rlen = 0;

	snprintf(app1, sizeof(app1), "http://127.0.0.1:%d", port);
	snprintf(app2, sizeof(app2), "http://localhost:%d", port);
	if (n && v[0] == '/' && !(n > 1 && v[1] == '/')) {
		rest = v;
		rlen = n;
	} else {
		const char *bases[] = { app1, app2 };

		for (size_t i = 0; i < 2 && !rest; i++) {
			size_t bl = strlen(bases[i]);

			if (n >= bl && !strncasecmp(v, bases[i], bl) &&
			    (n == bl || v[bl] == '/' || v[bl] == '?')) {
				rest = v + bl;
				rlen = n - bl;
			}
		}
		if (!rest)
			return wl_buf_add(out, v, n);
		if (!rlen || rest[0] != '/') {
			if (wl_buf_puts(out, prefix) < 0 ||
			    wl_buf_putc(out, '/') < 0)
				return -1;
			return wl_buf_add(out, rest, rlen);
		}
	}
	if (wl_buf_puts(out, prefix) < 0)
		return -1;
	return wl_buf_add(out, rest, rlen);
}

int wl_http1_add_target(struct wl_buf *b, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";

	if (path[0] != '/' && wl_buf_putc(b, '/') < 0)
		return -1;
	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		if (*c <= 0x20 || *c >= 0x7f || strchr("\"<>\\^`{|}", *c)) {
			char e[3] = { '%', hex[*c >> 4], hex[*c & 15] };

			if (wl_buf_add(b, e, 3) < 0)
				return -1;
		} else if (wl_buf_putc(b, (char)*c) < 0) {
			return -1;
		}
	}
	return 0;
}

/* ---- chunked framing --------------------------------------------------- */

enum chunk_state {
	CH_SIZE = 0,
	CH_EXT,
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,	 /* at the start of a trailer line */
	CH_TRAILER_LINE, /* inside a trailer line */
	CH_TRAILER_LF,
	CH_DONE,
};

long wl_http1_chunked_feed(struct wl_http1_chunked *d, const char *in,
			   size_t len, wl_http1_sink_fn sink, void *ctx)
{
	size_t i = 0;

	while (i < len && d->state != CH_DONE) {
		unsigned char c = (unsigned char)in[i];

		switch (d->state) {
		case CH_SIZE:
			if (isxdigit(c)) {
				if (++d->digits > 15)
					return -1;
				d->size = d->size * 16 +
					  (uint64_t)(isdigit(c) ? c - '0'
								: (tolower(c) -
								   'a' + 10));
				i++;
				break;
			}
			if (!d->digits)
				return -1;
			if (c == ';' || c == ' ' || c == '\t') {
				d->state = CH_EXT;
				i++;
				break;
			}
			if (c == '\r') {
				d->state = CH_SIZE_LF;
				i++;
				break;
			}
			return -1;
		case CH_EXT:
			if (c == '\r')
				d->state = CH_SIZE_LF;
			else if (c == '\n' || (c < 0x20 && c != '\t'))
				return -1;
			i++;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return -1;
			i++;
			d->digits = 0;
			d->state = d->size ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA: {
			size_t n = len - i;

			if (n > d->size)
				n = (size_t)d->size;
			if (sink(ctx, in + i, n) < 0)
				return -1;
			i += n;
			d->size -= n;
			if (!d->size)
				d->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (c != '\r')
				return -1;
			d->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				return -1;
			d->state = CH_SIZE;
			i++;
			break;
		case CH_TRAILER:
			if (c == '\r') {
				d->state = CH_TRAILER_LF;
				i++;
				break;
			}
			d->state = CH_TRAILER_LINE;
			break;
		case CH_TRAILER_LINE:
			if (++d->trailer_bytes > WL_HTTP1_HEAD_MAX)
				return -1;
			if (c == '\n')
				d->state = CH_TRAILER;
			i++;
			break;
		case CH_TRAILER_LF:
			if (c != '\n')
				return -1;
			d->state = CH_DONE;
			i++;
			break;
		}
	}
	return (long)i;
}

int wl_http1_chunked_done(const struct wl_http1_chunked *d)
{
	return d->state == CH_DONE;
}

size_t wl_http1_chunk_head(char *out, size_t n)
{
	int len = snprintf(out, WL_HTTP1_CHUNK_HEAD_MAX, "%zx\r\n", n);

	return len > 0 ? (size_t)len : 0;
}
