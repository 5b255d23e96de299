#include "controller/image_gc.h"
#include "unit.h"

#define MAXI 8

/* Table: images (size, last used, keep), a budget, the expected victims. */
static void test_select(void)
{
	static const struct {
		const char *name;
		struct wl_image_use imgs[MAXI];
		size_t n;
		int64_t budget;
		size_t victims[MAXI];
		size_t nv;
	} cases[] = {
		{ "fits: nothing goes",
		  { { 100, 1, 0 }, { 100, 2, 0 } },
		  2,
		  200,
		  { 0 },
		  0 },
		{ "least recently used first, only as many as needed",
		  { { 100, 30, 0 },
		    { 100, 10, 0 },
		    { 100, 20, 0 },
		    { 100, 40, 1 } },
		  4,
		  250,
		  { 1, 2 },
		  2 },
		{ "kept images never go, even far over the budget",
		  { { 500, 1, 1 }, { 100, 2, 0 }, { 500, 3, 1 } },
		  3,
		  10,
		  { 1 },
		  1 },
		{ "ties: the larger first",
		  { { 50, 5, 0 }, { 300, 5, 0 }, { 100, 9, 1 } },
		  3,
		  200,
		  { 1 },
		  1 },
		{ "zero budget: everything removable goes",
		  { { 1, 3, 0 }, { 1, 1, 0 }, { 1, 2, 1 } },
		  3,
		  0,
		  { 1, 0 },
		  2 },
		{ "empty", { { 0, 0, 0 } }, 0, 0, { 0 }, 0 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t victims[MAXI], nv;

		nv = wl_image_gc_select(cases[c].imgs, cases[c].n,
					cases[c].budget, victims);
		if (nv != cases[c].nv)
			fprintf(stderr, "case '%s': %zu victims, want %zu\n",
				cases[c].name, nv, cases[c].nv);
		CHECK(nv == cases[c].nv);
		for (size_t k = 0; k < nv && k < cases[c].nv; k++)
			CHECK(victims[k] == cases[c].victims[k]);
	}
}

int main(void)
{
	static const struct wl_unit_test tests[] = { UNIT(test_select), { 0 } };

	return wl_unit_run(tests);
}
