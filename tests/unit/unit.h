#ifndef WL_UNIT_H
#define WL_UNIT_H

/*
 * A minimal unit-test harness: each test file defines test functions,
 * lists them in a table and calls wl_unit_run(). Table-driven tests loop
 * over arrays of input/expected inside one test function (curl's style).
 *
 *   static void test_roundtrip(void) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(void) { static const struct wl_unit_test t[] = {
 *       UNIT(test_roundtrip), { 0 } }; return wl_unit_run(t); }
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wl_unit_test {
	const char *name;
	void (*fn)(void);
};

/* clang-format off */
#define UNIT(f) { #f, f }
/* clang-format on */

static int wl_unit_failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			wl_unit_failures++;                                    \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *a_ = (a), *b_ = (b);                               \
		if (!a_ || !b_ || strcmp(a_, b_)) {                            \
			fprintf(stderr, "%s:%d: '%s' != '%s' (%s vs %s)\n",    \
				__FILE__, __LINE__, a_ ? a_ : "(null)",        \
				b_ ? b_ : "(null)", #a, #b);                   \
			wl_unit_failures++;                                    \
		}                                                              \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                            \
	do {                                                                   \
		const char *h_ = (hay), *n_ = (needle);                        \
		if (!h_ || !strstr(h_, n_)) {                                  \
			fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", \
				__FILE__, __LINE__, h_ ? h_ : "(null)", n_);   \
			wl_unit_failures++;                                    \
		}                                                              \
	} while (0)

static inline int wl_unit_run(const struct wl_unit_test *tests)
{
	int failed_tests = 0, count = 0;

	for (const struct wl_unit_test *t = tests; t->name; t++) {
		int before = wl_unit_failures;

		t->fn();
		count++;
		if (wl_unit_failures != before) {
			failed_tests++;
			fprintf(stderr, "FAIL %s\n", t->name);
		} else {
			fprintf(stderr, "ok   %s\n", t->name);
		}
	}
	fprintf(stderr, "%d of %d tests failed\n", failed_tests, count);
	return failed_tests ? 1 : 0;
}

#endif
