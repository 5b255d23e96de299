/*
 * Query-string parameters (query.h).
 */
#include "apiserver/query.h"

#include <string.h>

#include "specs/core/banned.h"

int wl_query_param(const char *query, const char *name, char *out, size_t n)
{
	size_t len = strlen(name);

	if (n)
		out[0] = '\0';
	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t seg = amp ? (size_t)(amp - p) : strlen(p);

		if (seg > len && !strncmp(p, name, len) && p[len] == '=') {
			size_t v = seg - len - 1;

			if (v >= n)
				return -1;
			memcpy(out, p + len + 1, v);
			out[v] = '\0';
			return 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int wl_query_decode(char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++) {
		int c = (unsigned char)*r;

		if (c == '%') {
			int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);

			if (lo < 0)
				return -1;
			c = hi * 16 + lo;
			r += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		*w++ = (char)c;
	}
	*w = '\0';
	return 0;
}
