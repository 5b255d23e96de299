#ifndef WL_PEER_GUARD_H
#define WL_PEER_GUARD_H

/*
 * Worklets must not reach the service's own API. When workletd listens on
 * loopback only they cannot (a container's 127.0.0.1 is its own); when it
 * listens on another address (WORKLET_LISTEN=0.0.0.0:PORT), a container
 * could connect to its network's gateway or to the host's address. The
 * guard refuses such connections at accept: a peer whose IPv4 address lies
 * in the subnet of a host bridge interface named "wl-*" (the bridges of
 * worklet networks, controller/user_network.h) is a worklet container.
 * The host's interfaces are read at each check (getifaddrs), so a network
 * created a moment ago is already covered; loopback peers are never
 * checked. Thread-safe.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IPv4 subnet, host byte order. */
struct wl_peer_net {
	uint32_t addr;
	uint32_t mask;
};

/* 1 if the IPv4 address (host byte order) lies in one of nets. Pure. */
int wl_peer_guard_match(uint32_t addr, const struct wl_peer_net *nets,
			size_t n);

/*
 * 1 if the peer is a worklet container (see above), 0 if not or if the
 * interfaces cannot be read (then the connection is served: the guard
 * closes a path, it does not decide who may use the API).
 */
int wl_peer_guard_refuses(const struct sockaddr *peer);

#endif
