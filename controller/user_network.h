#ifndef WL_USER_NETWORK_H
#define WL_USER_NETWORK_H

/*
 * One Docker bridge network per user: the worklets of different users
 * share no network, and inter-container traffic is off on each
 * (com.docker.network.bridge.enable_icc=false), so a worklet cannot reach
 * any other worklet's container, even one of the same user. Apps still
 * reach the outside through Docker's NAT and are published on 127.0.0.1.
 *
 * Names carry this service's instance: "worklet-<instance>-<hash of the
 * user>", and the bridge interface on the host is "wl-<12 hex>" (the API
 * server refuses connections from the subnets of "wl-*" bridges, see
 * apiserver/peer_guard.h). Networks carry worklet.managed, worklet.instance
 * and worklet.user labels. Thread-safe (state lives in Docker).
 */

#include <stddef.h>
#include <stdint.h>

#include "controller/config.h"
#include "controller/docker_client.h"

/* Host bridge interfaces of worklet networks start with this. */
#define WL_USER_NETWORK_BRIDGE_PREFIX "wl-"

/* The network name for user (NULL or "" means the anonymous user). */
void wl_user_network_name(const struct wl_config *cfg, const char *user,
			  char *out, size_t n);

/*
 * Create the user's network unless it exists; name receives its name.
 * Returns 0 or the Docker client's error.
 */
int wl_user_network_ensure(struct wl_docker *d, const struct wl_config *cfg,
			   const char *user, char *name, size_t n);

/*
 * The network image builds run on (cfg->build_network): into mode, what
 * POST /build takes as networkmode: "none", "default" (Docker's bridge),
 * or the id of a bridge network of that name, created if missing with
 * inter-container traffic off and a "wl-<12 hex>" host interface, so the
 * API's peer guard closes connections from builds like from worklets.
 * Labelled worklet.instance and worklet.role=build (not worklet.managed:
 * the collector below leaves it alone, a build may be about to use it).
 * Several services may share one by name (the tests do): when Docker holds
 * two of that name, the oldest is used.
 */
int wl_build_network_ensure(struct wl_docker *d, const struct wl_config *cfg,
			    char *mode, size_t n);

/*
 * Garbage collection: remove this instance's networks that have no
 * container attached and are older than min_age_ms (so a network created
 * for a container about to be created is left alone). Returns how many
 * were removed, or a negative code.
 */
int wl_user_network_collect(struct wl_docker *d, const struct wl_config *cfg,
			    int64_t min_age_ms);

#endif
