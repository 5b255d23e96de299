#include "apiserver/peer_guard.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

#include "controller/user_network.h"
#include "specs/core/banned.h"

#define NETS_MAX 64

int wl_peer_guard_match(uint32_t addr, const struct wl_peer_net *nets, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((addr & nets[i].mask) == (nets[i].addr & nets[i].mask))
			return 1;
	return 0;
}

/* The peer's IPv4 address (also when v4-mapped in v6); 0 if none. */
static int peer_ipv4(const struct sockaddr *sa, uint32_t *out)
{
	if (sa->sa_family == AF_INET) {
		*out = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		return 1;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;
		uint32_t v;

		if (!IN6_IS_ADDR_V4MAPPED(a))
			return 0;
		memcpy(&v, &a->s6_addr[12], sizeof(v));
		*out = ntohl(v);
		return 1;
	}
	return 0;
}

/* The subnets of the host's worklet bridges. */
static size_t worklet_bridges(struct wl_peer_net *nets, size_t max)
{
	static const char prefix[] = WL_USER_NETWORK_BRIDGE_PREFIX;
	struct ifaddrs *ifs = NULL, *it;
	size_t n = 0;

	if (getifaddrs(&ifs) < 0)
		return 0;
	for (it = ifs; it && n < max; it = it->ifa_next) {
		if (!it->ifa_addr || !it->ifa_netmask ||
		    it->ifa_addr->sa_family != AF_INET || !it->ifa_name ||
		    strncmp(it->ifa_name, prefix, sizeof(prefix) - 1))
			continue;
		nets[n].addr = ntohl(
			((struct sockaddr_in *)it->ifa_addr)->sin_addr.s_addr);
		nets[n].mask = ntohl(((struct sockaddr_in *)it->ifa_netmask)
					     ->sin_addr.s_addr);
		n++;
	}
	freeifaddrs(ifs);
	return n;
}

int wl_peer_guard_refuses(const struct sockaddr *peer)
{
	struct wl_peer_net nets[NETS_MAX];
	uint32_t addr;

	if (!peer_ipv4(peer, &addr) || (addr >> 24) == 127)
		return 0;
	return wl_peer_guard_match(addr, nets, worklet_bridges(nets, NETS_MAX));
}
