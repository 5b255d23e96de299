#ifndef WL_FUZZ_H
#define WL_FUZZ_H

/*
 * What every fuzz target (tests/fuzz/fuzz_<target>.c) provides: libFuzzer's
 * entry point. Built either with libFuzzer (clang -fsanitize=fuzzer, the
 * WL_FUZZ build) or with tests/fuzz/driver.c, which replays files through
 * it (the CTest replay of the committed corpus and regressions, any
 * compiler).
 *
 * A target aborts (FUZZ_CHECK) when a property it checks does not hold,
 * so a broken invariant is a crash like any other.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n",      \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
