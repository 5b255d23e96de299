/*
 * Query-string parameters (apiserver/query.c, wl_query_param): what the
 * API reads ?tail=, ?follow=, ?since=, ?logs= and ?format= with. The input
 * is "<name>\n<query>"; the first byte's low bits pick the output size.
 * Checked against a reference built on a different split (every
 * '&'-separated segment, in order): the same verdict and value, out always
 * NUL-terminated inside its size, a value that does not fit never cut.
 */
#include <stdlib.h>
#include <string.h>

#include "apiserver/query.h"
#include "specs/core/parse.h"
#include "tests/fuzz/fuzz.h"

#define INPUT_MAX 4096

static int reference(char *query, const char *name, const char **value)
{
	size_t len = strlen(name);

	for (char *seg = strtok(query, "&"); seg; seg = strtok(NULL, "&"))
		if (len && !strncmp(seg, name, len) && seg[len] == '=') {
			*value = seg + len + 1;
			return 1;
		}
	return 0;
}

/* "<name>\n<query>" with a usable name, or 0. */
static int split(char *in, size_t len, char **query)
{
	char *nl;

	if (strlen(in) != len || !(nl = strchr(in, '\n')) || nl == in ||
	    memchr(in, '&', (size_t)(nl - in)) ||
	    memchr(in, '=', (size_t)(nl - in)))
		return 0;
	*nl = '\0';
	*query = nl + 1;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 1, 2, 8, 16, 32, 64, 256, 1024 };
	char *in, *query, *copy = NULL, out[1024];
	const char *want = NULL;
	size_t n;
	int got, ref;
	int64_t v;

	if (size < 1 || size > INPUT_MAX)
		return 0;
	n = sizes[data[0] & 7];
	FUZZ_CHECK((in = malloc(size)) != NULL);
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	if (!split(in, size - 1, &query))
		goto done;
	FUZZ_CHECK((copy = strdup(query)) != NULL);
	memset(out, 'x', sizeof(out));
	got = wl_query_param(query, in, out, n);
	ref = reference(copy, in, &want);
	FUZZ_CHECK(memchr(out, '\0', n) != NULL);
	FUZZ_CHECK(ref == (got != 0));
	if (got == 1) {
		FUZZ_CHECK(!strcmp(out, want));
		/* What the callers do with a value next. */
		(void)wl_parse_int64(&v, out, 0, INT64_MAX);
	}
	if (got == -1)
		FUZZ_CHECK(strlen(want) >= n && !out[0]);
done:
	free(copy);
	free(in);
	return 0;
}
