#include <pthread.h>
#include <unistd.h>

#include "controller/workqueue.h"
#include "specs/core/error.h"
#include "specs/core/timeutil.h"
#include "unit.h"

static void test_backoff_table(void)
{
	static const struct {
		int64_t base, max;
		int failures;
		int64_t expected;
	} cases[] = {
		{ 10000, 300000, 0, 10000 },  { 10000, 300000, 1, 20000 },
		{ 10000, 300000, 2, 40000 },  { 10000, 300000, 4, 160000 },
		{ 10000, 300000, 5, 300000 }, { 10000, 300000, 60, 300000 },
		{ 1000, 1000, 3, 1000 },      { 5, 1 << 30, 10, 5120 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(wl_backoff_ms(cases[i].base, cases[i].max,
				    cases[i].failures) == cases[i].expected);
}

static void test_duplicates_collapse(void)
{
	struct wl_workqueue *q;
	char key[64];

	CHECK(wl_workqueue_new(&q, 10, 1000) == 0);
	wl_workqueue_add(q, "a");
	wl_workqueue_add(q, "b");
	wl_workqueue_add(q, "a");
	wl_workqueue_add(q, "a");
	CHECK(wl_workqueue_len(q) == 2);
	CHECK(wl_workqueue_get(q, key, sizeof(key)) == 0);
	CHECK_STR(key, "a");
	CHECK(wl_workqueue_get(q, key, sizeof(key)) == 0);
	CHECK_STR(key, "b");
	CHECK(wl_workqueue_len(q) == 0);
	wl_workqueue_free(q);
}

/* A key being processed is never handed out twice; it comes back after. */
static void test_processing_key_is_exclusive(void)
{
	struct wl_workqueue *q;
	char key[64];

	CHECK(wl_workqueue_new(&q, 10, 1000) == 0);
	wl_workqueue_add(q, "a");
	CHECK(wl_workqueue_get(q, key, sizeof(key)) == 0);
	wl_workqueue_add(q, "a"); /* changed while processing */
	wl_workqueue_add(q, "b");
	CHECK(wl_workqueue_len(q) == 1); /* only b is ready */
	CHECK(wl_workqueue_get(q, key, sizeof(key)) == 0);
	CHECK_STR(key, "b");
	wl_workqueue_done(q, "b");
	CHECK(wl_workqueue_len(q) == 0);
	wl_workqueue_done(q, "a"); /* now a comes back, once */
	CHECK(wl_workqueue_len(q) == 1);
	CHECK(wl_workqueue_get(q, key, sizeof(key)) == 0);
	CHECK_STR(key, "a");
	wl_workqueue_done(q, "a");
	CHECK(wl_workqueue_len(q) == 0);
	wl_workqueue_free(q);
}

static void test_add_after_and_earliest_wins(void)
{
	struct wl_workqueue *q;
	char key[64];
	int64_t start;

	CHECK(wl_workqueue_new(&q, 10, 1000) == 0);
	start = wl_time_mono_ms();
	wl_workqueue_add_after(q, "late", 5000);
	wl_workqueue_add_after(q, "late", 50); /* earlier one wins */
	CHECK(wl_workqueue_len(q) == 0);
	CHECK(wl_workqueue_get(q, key, sizeof(key)) == 0);
	CHECK_STR(key, "late");
	CHECK(wl_time_mono_ms() - start >= 50);
	CHECK(wl_time_mono_ms() - start < 4000);
	wl_workqueue_free(q);
}

static void test_rate_limited_backoff_and_forget(void)
{
	struct wl_workqueue *q;

	CHECK(wl_workqueue_new(&q, 100, 800) == 0);
	CHECK(wl_workqueue_add_rate_limited(q, "k") == 100);
	CHECK(wl_workqueue_add_rate_limited(q, "k") == 200);
	CHECK(wl_workqueue_add_rate_limited(q, "k") == 400);
	CHECK(wl_workqueue_add_rate_limited(q, "k") == 800);
	CHECK(wl_workqueue_add_rate_limited(q, "k") == 800);
	CHECK(wl_workqueue_add_rate_limited(q, "other") == 100);
	CHECK(wl_workqueue_failures(q, "k") == 5);
	wl_workqueue_forget(q, "k");
	CHECK(wl_workqueue_failures(q, "k") == 0);
	CHECK(wl_workqueue_add_rate_limited(q, "k") == 100);
	wl_workqueue_free(q);
}

struct shared {
	struct wl_workqueue *q;
	pthread_mutex_t lock;
	int active[8];
	int overlap;
	int processed;
};

static void *worker(void *arg)
{
	struct shared *s = arg;
	char key[64];

	while (wl_workqueue_get(s->q, key, sizeof(key)) == 0) {
		int k = key[0] - '0';

		pthread_mutex_lock(&s->lock);
		if (s->active[k]++)
			s->overlap++;
		pthread_mutex_unlock(&s->lock);
		usleep(200);
		pthread_mutex_lock(&s->lock);
		s->active[k]--;
		s->processed++;
		pthread_mutex_unlock(&s->lock);
		wl_workqueue_done(s->q, key);
	}
	return NULL;
}

/* Four workers hammered with the same eight keys: never two on one key. */
static void test_concurrent_workers_never_share_a_key(void)
{
	struct shared s;
	pthread_t t[4];

	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.lock, NULL);
	CHECK(wl_workqueue_new(&s.q, 10, 1000) == 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, &s);
	for (int round = 0; round < 2000; round++) {
		char key[2] = { (char)('0' + round % 8), 0 };

		wl_workqueue_add(s.q, key);
	}
	usleep(300 * 1000);
	wl_workqueue_shutdown(s.q);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(s.overlap == 0);
	CHECK(s.processed > 0);
	CHECK(s.processed <= 2000);
	wl_workqueue_free(s.q);
	pthread_mutex_destroy(&s.lock);
}

static void test_shutdown_wakes_get(void)
{
	struct wl_workqueue *q;
	char key[64];

	CHECK(wl_workqueue_new(&q, 10, 1000) == 0);
	wl_workqueue_shutdown(q);
	CHECK(wl_workqueue_get(q, key, sizeof(key)) == WL_ECANCELED);
	wl_workqueue_free(q);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_backoff_table),
		UNIT(test_duplicates_collapse),
		UNIT(test_processing_key_is_exclusive),
		UNIT(test_add_after_and_earliest_wins),
		UNIT(test_rate_limited_backoff_and_forget),
		UNIT(test_concurrent_workers_never_share_a_key),
		UNIT(test_shutdown_wakes_get),
		{ 0 },
	};
	return wl_unit_run(tests);
}
