/* apiserver/query.c: parameters and percent-decoding. */
#include <stdio.h>
#include <string.h>

#include "apiserver/query.h"
#include "unit.h"

static void test_param(void)
{
	static const struct {
		const char *query, *name;
		size_t n;
		int want;
		const char *value;
	} cases[] = {
		{ "a=1&b=two", "b", 16, 1, "two" },
		{ "a=1&b=two", "c", 16, 0, "" },
		{ "ab=1&b=2", "b", 16, 1, "2" },
		{ "b=toolong", "b", 4, -1, "" },
		{ "b=", "b", 4, 1, "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64] = "x";

		CHECK(wl_query_param(cases[i].query, cases[i].name, out,
				     cases[i].n) == cases[i].want);
		CHECK_STR(out, cases[i].value);
	}
}

static void test_decode(void)
{
	static const struct {
		const char *in, *out; /* out NULL: refused */
	} cases[] = {
		{ "/about%3Fx%3D1", "/about?x=1" },
		{ "%2F%2fevil", "//evil" },
		{ "plain+text", "plain+text" },
		{ "", "" },
		{ "%", NULL },
		{ "%4", NULL },
		{ "%zz", NULL },
		{ "a%0D%0Ab", NULL },
		{ "a%00b", NULL },
		{ "a\tb", NULL },
		{ "%7f", NULL },
		{ "caf%C3%A9", "caf\xc3\xa9" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char s[64];

		snprintf(s, sizeof(s), "%s", cases[i].in);
		if (!cases[i].out) {
			CHECK(wl_query_decode(s) < 0);
			continue;
		}
		CHECK(wl_query_decode(s) == 0);
		CHECK_STR(s, cases[i].out);
	}
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_param),
		UNIT(test_decode),
		{ 0 },
	};
	return wl_unit_run(tests);
}
