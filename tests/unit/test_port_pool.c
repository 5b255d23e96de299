#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "controller/port_pool.h"
#include "specs/core/error.h"
#include "unit.h"

/* Occupy 127.0.0.1:port from outside the pool; returns the fd. */
static int hold_port(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_claim_is_stable_and_unique(void)
{
	struct wl_port_pool *p;
	int a, b, again;

	CHECK(wl_port_pool_new(&p, 39100, 39109) == 0);
	CHECK(wl_port_pool_claim(p, "a", &a) == 0);
	CHECK(wl_port_pool_claim(p, "b", &b) == 0);
	CHECK(a != b);
	CHECK(wl_port_pool_claim(p, "a", &again) == 0);
	CHECK(again == a);
	CHECK(wl_port_pool_lookup(p, "b") == b);
	wl_port_pool_release(p, "a");
	CHECK(wl_port_pool_lookup(p, "a") == 0);
	wl_port_pool_free(p);
}

static void test_reserve_after_restart(void)
{
	struct wl_port_pool *p;
	int port;

	CHECK(wl_port_pool_new(&p, 39110, 39119) == 0);
	CHECK(wl_port_pool_reserve(p, "old", 39110) == 0);
	CHECK(wl_port_pool_reserve(p, "other", 39110) == WL_ECONFLICT);
	CHECK(wl_port_pool_reserve(p, "x", 1) == WL_EINVALID);
	CHECK(wl_port_pool_claim(p, "new", &port) == 0);
	CHECK(port != 39110);
	CHECK(wl_port_pool_claim(p, "old", &port) == 0);
	CHECK(port == 39110);
	wl_port_pool_free(p);
}

static void test_skips_ports_held_by_others_and_exhausts(void)
{
	struct wl_port_pool *p;
	int fd = hold_port(39120), port = 0;

	CHECK(fd >= 0);
	CHECK(wl_port_pool_new(&p, 39120, 39121) == 0);
	CHECK(wl_port_pool_claim(p, "a", &port) == 0);
	CHECK(port == 39121);
	CHECK(wl_port_pool_claim(p, "b", &port) == WL_ERROR);
	CHECK_CONTAINS(wl_error_last(), "no free port in 39120-39121");
	wl_port_pool_free(p);
	close(fd);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_claim_is_stable_and_unique),
		UNIT(test_reserve_after_restart),
		UNIT(test_skips_ports_held_by_others_and_exhausts),
		{ 0 },
	};
	return wl_unit_run(tests);
}
