#ifndef WL_GIT_POLICY_H
#define WL_GIT_POLICY_H

/*
 * Where repositories may come from, checked in one place for the API (at
 * request time) and for every connection the controller's libgit2 makes
 * (clone, fetch, push, each redirect), so that a repository URL cannot be
 * used to probe workletd's own network.
 *
 * The rule, for a host (and port) under a policy:
 *  - WORKLET_GIT_ALLOWED_HOSTS set: the host (or host:port) must be in it;
 *    a listed host is trusted whatever its addresses (deployments that
 *    need an internal git server list it there).
 *  - WORKLET_ALLOW_LOCAL_REPOS=1: nothing more (local repositories,
 *    http:// and local addresses are allowed; the tests run so).
 *  - otherwise: the host, and every address it resolves to, must be public:
 *    not loopback, private, link-local, unique-local, carrier-grade NAT,
 *    multicast, documentation, benchmarking or otherwise reserved (IPv4
 *    mapped and NAT64/6to4 IPv6 addresses are judged by the IPv4 address
 *    they carry). One non-public address is enough to refuse the host.
 *
 * At connection time the controller resolves the name itself and connects
 * only to the addresses it checked (a libgit2 stream registered here, used
 * under every TLS connection too), so a name that resolves elsewhere later
 * and a redirect to another host are checked like the first connection.
 * Through a proxy of the environment (https_proxy, HTTPS_PROXY, http_proxy,
 * HTTP_PROXY) the proxy host is trusted and the server's name is checked
 * by resolving it here when its TLS certificate is checked (the proxy
 * resolves it again on its side).
 *
 * Messages name the rule:
 *   'localhost' resolves to 127.0.0.1, a loopback address: repositories
 *   must be on public addresses (WORKLET_ALLOW_LOCAL_REPOS or
 *   WORKLET_GIT_ALLOWED_HOSTS allows internal ones)
 *
 * Thread-safe. Does not log.
 */

#include <stddef.h>
#include <sys/socket.h>

#include <git2.h>

struct wl_git_policy {
	int allow_local;	   /* WORKLET_ALLOW_LOCAL_REPOS */
	const char *allowed_hosts; /* WORKLET_GIT_ALLOWED_HOSTS, or NULL */
};

/*
 * What a non-public address is ("loopback", "private", "link-local",
 * "unique-local", ...), or NULL for a public one. Pure.
 */
const char *wl_git_policy_addr_class(const struct sockaddr *sa);

/*
 * 1 when host (without brackets) or "host:port" is in the comma-separated
 * list (case-insensitive; an IPv6 host is written "[::1]" or "[::1]:443"
 * in the list), else 0. port may be NULL.
 */
int wl_git_policy_host_listed(const char *host, const char *port,
			      const char *list);

#define WL_GIT_LOOKUP_MAX 16

/* The addresses of one name, looked up away from the caller's thread. */
struct wl_git_lookup {
	char host[256]; /* without brackets */
	char port[8];
	int error; /* getaddrinfo's code; 0: addrs holds the answer */
	size_t count;
	struct sockaddr_storage addrs[WL_GIT_LOOKUP_MAX];
};

/* getaddrinfo(l->host, l->port): blocks (for a helper thread). */
void wl_git_lookup_run(struct wl_git_lookup *l);

/*
 * The request-time check of a repository URL (already accepted by
 * wl_validate_git_url). URLs without a host (local paths) pass. A host
 * that is an address literal is judged at once; a name needs its
 * addresses: when done holds them (the same host), they are judged
 * (a name that does not resolve passes: the controller checks again when
 * it connects); otherwise need is filled with the host and port to look
 * up and 1 is returned, so the caller can look it up off its thread and
 * call again. Returns 0 (allowed), 1 (look up need first) or WL_EINVALID
 * with the rule named ("git_repo: ..." is the caller's to add).
 */
int wl_git_policy_check_url(const struct wl_git_policy *p, const char *url,
			    const struct wl_git_lookup *done,
			    struct wl_git_lookup *need);

/*
 * Register the checking stream with libgit2 (after git_libgit2_init();
 * once per process, later calls do nothing). 0 or WL_ERROR.
 */
int wl_git_policy_install(void);

/*
 * The calling thread's policy for the libgit2 network calls that follow,
 * and the repository URL they are for (whose host is the one a redirect
 * leaves); leave() forgets both. Without a policy the strict default
 * applies (no local addresses, any public host). Neither is copied: they
 * must live until leave().
 */
void wl_git_policy_enter(const struct wl_git_policy *p, const char *url);
void wl_git_policy_leave(void);

/*
 * Why the calling thread's last connection was refused by the policy
 * (since enter()), or NULL when none was.
 */
const char *wl_git_policy_refusal(void);

/*
 * A libgit2 certificate_check callback: checks the server's host under
 * the thread's policy when the connection went through a proxy (else the
 * stream checked it already), then leaves the certificate's validity to
 * libgit2 (GIT_PASSTHROUGH).
 */
int wl_git_policy_certificate_check(git_cert *cert, int valid, const char *host,
				    void *payload);

#endif
