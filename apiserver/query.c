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
