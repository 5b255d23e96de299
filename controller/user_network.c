#include "controller/user_network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specs/core/error.h"
#include "specs/core/hash.h"
#include "specs/core/timeutil.h"
#include "specs/core/banned.h"

static const char *user_or_anon(const char *user)
{
	return user && *user ? user : "-";
}

void wl_user_network_name(const struct wl_config *cfg, const char *user,
			  char *out, size_t n)
{
	char hex[65];
	const char *u = user_or_anon(user);

	wl_sha256_hex(hex, u, strlen(u));
	snprintf(out, n, "worklet-%s-%.12s", cfg->instance, hex);
}

/* The host interface name: at most 15 characters (IFNAMSIZ - 1). */
static void bridge_name(const char *network, char *out, size_t n)
{
	char hex[65];

	wl_sha256_hex(hex, network, strlen(network));
	snprintf(out, n, WL_USER_NETWORK_BRIDGE_PREFIX "%.12s", hex);
}

int wl_user_network_ensure(struct wl_docker *d, const struct wl_config *cfg,
			   const char *user, char *name, size_t n)
{
	struct wl_kvlist labels = { 0 }, opts = { 0 };
	struct wl_docker_network net;
	char bridge[16], *id = NULL;
	int error;

	memset(&net, 0, sizeof(net));
	wl_user_network_name(cfg, user, name, n);
	if ((error = wl_docker_network_inspect(d, name, &net)) != WL_ENOTFOUND)
		goto done; /* exists, or Docker failed */
	bridge_name(name, bridge, sizeof(bridge));
	if (wl_kvlist_set(&labels, "worklet.managed", "true") < 0 ||
	    wl_kvlist_set(&labels, "worklet.instance", cfg->instance) < 0 ||
	    wl_kvlist_set(&labels, "worklet.user", user_or_anon(user)) < 0 ||
	    wl_kvlist_set(&opts, "com.docker.network.bridge.enable_icc",
			  "false") < 0 ||
	    wl_kvlist_set(&opts, "com.docker.network.bridge.name", bridge) <
		    0) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto done;
	}
	error = wl_docker_network_create(d, name, &labels, &opts, &id);
done:
	free(id);
	wl_docker_network_release(&net);
	wl_kvlist_release(&labels);
	wl_kvlist_release(&opts);
	return error;
}

/* The oldest build network called name: its id into out; 0 or WL_ENOTFOUND. */
static int find_build_network(struct wl_docker *d, const char *name, char *out,
			      size_t n)
{
	struct wl_docker_network *nets = NULL, *best = NULL;
	size_t count = 0;
	int error;

	if ((error = wl_docker_networks_list(d, "worklet.role=build", &nets,
					     &count)) < 0)
		return error;
	for (size_t i = 0; i < count; i++)
		if (nets[i].name && !strcmp(nets[i].name, name) && nets[i].id &&
		    (!best || nets[i].created_ms < best->created_ms))
			best = &nets[i];
	if (best)
		snprintf(out, n, "%s", best->id);
	wl_docker_networks_free(nets, count);
	return best ? 0 : WL_ENOTFOUND;
}

int wl_build_network_ensure(struct wl_docker *d, const struct wl_config *cfg,
			    char *mode, size_t n)
{
	struct wl_kvlist labels = { 0 }, opts = { 0 };
	const char *name = cfg->build_network;
	char bridge[16], *id = NULL, msg[1024];
	int error;

	if (!strcmp(name, "none") || !strcmp(name, "default")) {
		snprintf(mode, n, "%s", name);
		return 0;
	}
	if ((error = find_build_network(d, name, mode, n)) != WL_ENOTFOUND)
		return error;
	bridge_name(name, bridge, sizeof(bridge));
	if (wl_kvlist_set(&labels, "worklet.instance", cfg->instance) < 0 ||
	    wl_kvlist_set(&labels, "worklet.role", "build") < 0 ||
	    wl_kvlist_set(&opts, "com.docker.network.bridge.enable_icc",
			  "false") < 0 ||
	    wl_kvlist_set(&opts, "com.docker.network.bridge.name", bridge) <
		    0) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto done;
	}
	error = wl_docker_network_create(d, name, &labels, &opts, &id);
	snprintf(msg, sizeof(msg), "%s", wl_error_last());
	/* Made here or by another service a moment ago: use the oldest. */
	if (find_build_network(d, name, mode, n) == 0)
		error = 0;
	else if (error >= 0) {
		wl_error_set("the build network '%s' vanished after it was "
			     "created",
			     name);
		error = WL_ERROR;
	} else {
		wl_error_set("cannot create the build network '%s' "
			     "(WORKLET_BUILD_NETWORK): %s",
			     name, msg);
	}
done:
	free(id);
	wl_kvlist_release(&labels);
	wl_kvlist_release(&opts);
	return error;
}

/* 1 if a container of ours (any state) names the network, or unsure. */
static int network_labelled(struct wl_docker *d, const struct wl_config *cfg,
			    const char *name)
{
	struct wl_docker_container *cs = NULL;
	char extra[192], filter[320];
	size_t n = 0;

	snprintf(extra, sizeof(extra), "worklet.network=%s", name);
	wl_config_label_filter(cfg, extra, filter, sizeof(filter));
	if (wl_docker_containers_list(d, filter, &cs, &n) < 0)
		return 1;
	wl_docker_containers_free(cs, n);
	return n > 0;
}

int wl_user_network_collect(struct wl_docker *d, const struct wl_config *cfg,
			    int64_t min_age_ms)
{
	struct wl_docker_network *nets = NULL;
	char filter[128];
	size_t count = 0;
	int64_t now = wl_time_now_ms();
	int error, removed = 0;

	wl_config_label_filter(cfg, "worklet.managed=true", filter,
			       sizeof(filter));
	if ((error = wl_docker_networks_list(d, filter, &nets, &count)) < 0)
		return error;
	for (size_t i = 0; i < count; i++) {
		struct wl_docker_network one;

		/*
		 * Docker lists only running containers as attached: a
		 * stopped or crashed worklet's container, to be started
		 * again, holds its network by its worklet.network label.
		 */
		if (network_labelled(d, cfg, nets[i].name) ||
		    wl_docker_network_inspect(d, nets[i].name, &one) < 0)
			continue;
		if (!one.containers && one.created_ms &&
		    now - one.created_ms >= min_age_ms &&
		    wl_docker_network_remove(d, one.name) == 0)
			removed++;
		wl_docker_network_release(&one);
	}
	wl_docker_networks_free(nets, count);
	return removed;
}
