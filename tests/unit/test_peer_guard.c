#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "apiserver/peer_guard.h"
#include "unit.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return ntohl(a.s_addr);
}

static void test_match(void)
{
	struct wl_peer_net nets[2];
	static const struct {
		const char *addr;
		int want;
	} cases[] = {
		{ "172.18.0.1", 1 },   { "172.18.255.254", 1 },
		{ "172.19.0.2", 0 },   { "192.168.16.7", 1 },
		{ "192.168.32.7", 0 }, { "10.0.0.1", 0 },
	};

	nets[0].addr = ip("172.18.0.1");
	nets[0].mask = ip("255.255.0.0");
	nets[1].addr = ip("192.168.16.1");
	nets[1].mask = ip("255.255.240.0");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = wl_peer_guard_match(ip(cases[i].addr), nets, 2);

		if (got != cases[i].want)
			fprintf(stderr, "%s: %d, want %d\n", cases[i].addr, got,
				cases[i].want);
		CHECK(got == cases[i].want);
	}
	CHECK(!wl_peer_guard_match(ip("172.18.0.1"), nets, 0));
}

/* Loopback and IPv6 peers are never refused (no "wl-" bridge needed). */
static void test_loopback_passes(void)
{
	struct sockaddr_in sa;
	struct sockaddr_in6 sa6;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(ip("127.0.0.1"));
	CHECK(!wl_peer_guard_refuses((struct sockaddr *)&sa));
	memset(&sa6, 0, sizeof(sa6));
	sa6.sin6_family = AF_INET6;
	sa6.sin6_addr = in6addr_loopback;
	CHECK(!wl_peer_guard_refuses((struct sockaddr *)&sa6));
}

int main(void)
{
	static const struct wl_unit_test tests[] = { UNIT(test_match),
						     UNIT(test_loopback_passes),
						     { 0 } };

	return wl_unit_run(tests);
}
