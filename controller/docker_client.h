#ifndef WL_DOCKER_CLIENT_H
#define WL_DOCKER_CLIENT_H

/*
 * A small client for the Docker Engine API (v1.41) over its unix socket,
 * on libcurl. One struct wl_docker per thread (it owns a curl handle);
 * curl_global_init() must have run in main() first. The client does not
 * log: failures set the error message and return a negative code:
 *   WL_EUNAVAIL  the daemon cannot be reached
 *   WL_ENOTFOUND 404 (no such container/image)
 *   WL_EEXISTS   409 on create (name in use)
 *   WL_ECANCELED *cancel became non-zero
 *   WL_ERROR     anything else; the message holds Docker's own message
 */

#include <stddef.h>
#include <stdint.h>

#include "specs/core/buf.h"
#include "specs/worklet.h"

struct wl_docker;

/*
 * host: "unix:///path/to.sock" or NULL for $DOCKER_HOST, falling back to
 * unix:///var/run/docker.sock. Other schemes are rejected (WL_EINVALID).
 */
int wl_docker_new(struct wl_docker **out, const char *host);
void wl_docker_free(struct wl_docker *d);

/* GET /_ping. */
int wl_docker_ping(struct wl_docker *d);

/* Called with each line of build output (without the newline). */
typedef void (*wl_docker_line_cb)(void *ctx, const char *line);

struct wl_docker_build_opts {
	const void *context; /* a tar archive */
	size_t context_len;
	const char *dockerfile; /* path inside the context */
	const char *tag;	/* "repo:tag" */
	const struct wl_kvlist *labels;
	wl_docker_line_cb on_line; /* may be NULL */
	void *ctx;
	const volatile int *cancel; /* may be NULL */
	int64_t timeout_ms;	    /* 0 = none */
	size_t output_max;   /* bytes of output before the build is stopped
				(WL_ETOOBIG); 0 = none */
	const char *network; /* networkmode: a network id or name, "none";
				NULL: Docker's default */
};

/*
 * POST /build, streaming the output to on_line. On success *image_id is
 * the new image's id ("sha256:..."; caller frees). A failing build returns
 * WL_ERROR with a message naming the step:
 *   build failed at step 3/7 (RUN npm ci): <Docker's error>
 */
int wl_docker_build(struct wl_docker *d, const struct wl_docker_build_opts *o,
		    char **image_id);

struct wl_docker_image {
	char *id;
	struct wl_kvlist labels;
	char **tags;
	size_t tag_count;
	int exposed_port; /* first exposed TCP port, 0 if none */
	int64_t created_ms;
	int64_t size;	 /* bytes, shared layers included ("Size") */
	char *parent_id; /* the image it was built on by the classic builder
			    ("ParentId"), NULL if none */
};
void wl_docker_image_release(struct wl_docker_image *img);

/* GET /images/{ref}/json. WL_ENOTFOUND if missing. */
int wl_docker_image_inspect(struct wl_docker *d, const char *ref,
			    struct wl_docker_image *out);

/*
 * GET /images/json filtered by label ("key" or "key=value"; several
 * separated by commas must all match).
 */
int wl_docker_images_list(struct wl_docker *d, const char *label,
			  struct wl_docker_image **out, size_t *count);

/*
 * The same with the intermediate images too (all=1): a build's cache of
 * each step, kept as the parents of its result or left by a failed build.
 */
int wl_docker_images_list_all(struct wl_docker *d, const char *label,
			      struct wl_docker_image **out, size_t *count);
void wl_docker_images_free(struct wl_docker_image *imgs, size_t count);

/* DELETE /images/{ref}?force=..; missing is success. */
int wl_docker_image_remove(struct wl_docker *d, const char *ref, int force);

/*
 * Which capabilities a container keeps (all others are dropped):
 *  WL_CAPS_ROOT_IMAGE  CHOWN, DAC_OVERRIDE, FOWNER, SETGID, SETUID: what an
 *                      image that starts as root needs to set up files and
 *                      drop to its own user (a repository's Dockerfile).
 *  WL_CAPS_NONE        none: images that run as a non-root user (the
 *                      generated ones; see dockerfile.c).
 */
enum wl_cap_profile { WL_CAPS_ROOT_IMAGE = 0, WL_CAPS_NONE };

struct wl_container_config {
	const char *name;
	const char *image;
	const struct wl_kvlist *env;
	const struct wl_kvlist *labels;
	int container_port;  /* published as host_ip:host_port */
	const char *host_ip; /* "127.0.0.1" */
	int host_port;
	int64_t memory_bytes; /* 0 = unlimited */
	int64_t nano_cpus;
	int64_t pids_limit;
	const char *const *cmd; /* NULL-terminated argv, or NULL for image's */
	enum wl_cap_profile caps;
	const char *network; /* NetworkMode: a network name, NULL = default */
};

/*
 * POST /containers/create, hardened: no-new-privileges, Docker's default
 * seccomp profile (never "unconfined"), every capability dropped except
 * those of c->caps, an init process, json-file logs capped at 2 x 1 MiB,
 * no restart policy (the controller restarts with its own backoff), no
 * mounts or binds of any kind (so no Docker socket), ports published on
 * c->host_ip only.
 */
int wl_docker_container_create(struct wl_docker *d,
			       const struct wl_container_config *c, char **id);

int wl_docker_container_start(struct wl_docker *d, const char *id);
/* POST /containers/{id}/stop?t=timeout_s; already stopped is success. */
int wl_docker_container_stop(struct wl_docker *d, const char *id,
			     int timeout_s);
/* DELETE /containers/{id}?force=1&v=1; missing is success. */
int wl_docker_container_remove(struct wl_docker *d, const char *id);

struct wl_docker_container {
	char *id;
	char *name; /* without the leading '/' */
	char *image_id;
	char *state; /* created, running, exited, ... */
	struct wl_kvlist labels;
	int running;
	int exit_code;
	int oom_killed;
	int pid;
	int64_t started_ms;  /* 0 if never */
	int64_t finished_ms; /* 0 if never */
};
void wl_docker_container_release(struct wl_docker_container *c);

/* GET /containers/{id}/json. WL_ENOTFOUND if missing. */
int wl_docker_container_inspect(struct wl_docker *d, const char *id,
				struct wl_docker_container *out);

/*
 * GET /containers/json?all=1 filtered by label ("key" or "key=value";
 * several separated by commas must all match).
 * List entries fill id, name, image_id, state, labels, running.
 */
int wl_docker_containers_list(struct wl_docker *d, const char *label,
			      struct wl_docker_container **out, size_t *count);
void wl_docker_containers_free(struct wl_docker_container *c, size_t count);

/*
 * GET /containers/{id}/logs?stdout=1&stderr=1&tail=N, with Docker's
 * multiplexed stream decoded into plain text appended to out.
 */
int wl_docker_container_logs(struct wl_docker *d, const char *id, int tail,
			     struct wl_buf *out);

/* Called with each piece of decoded log output (not NUL-terminated). */
typedef void (*wl_docker_logs_cb)(void *ctx, const char *data, size_t len);

/*
 * Follow a container's output: the last `tail` lines (or, when since_s is
 * not 0, everything written since that Unix time), then everything it
 * writes, decoded, to cb; blocks until the container stops, the
 * connection fails, or *cancel becomes non-zero (checked at least every
 * second; then WL_ECANCELED).
 */
int wl_docker_container_logs_follow(struct wl_docker *d, const char *id,
				    int tail, int64_t since_s,
				    wl_docker_logs_cb cb, void *ctx,
				    const volatile int *cancel);

/*
 * Incremental decoder of Docker's multiplexed log stream (8-byte header:
 * stream type, 3 zero bytes, big-endian length; then the payload). Feed it
 * any chunking; complete payloads are appended to out. Pure; used by the
 * client and by fuzz tests.
 */
struct wl_docker_log_decoder {
	unsigned char hdr[8];
	size_t hdr_len;
	size_t remaining; /* payload bytes left in the current frame */
};
void wl_docker_log_decoder_init(struct wl_docker_log_decoder *dec);
int wl_docker_log_decode(struct wl_docker_log_decoder *dec, const char *data,
			 size_t len, struct wl_buf *out);

struct wl_docker_network {
	char *id;
	char *name;
	struct wl_kvlist labels;
	char *subnet;	   /* first IPAM subnet ("172.18.0.0/16"), or NULL */
	size_t containers; /* attached containers (inspect only) */
	int64_t created_ms;
};
void wl_docker_network_release(struct wl_docker_network *n);
void wl_docker_networks_free(struct wl_docker_network *n, size_t count);

/*
 * POST /networks/create: a bridge network named name with the given
 * labels and driver options ("key=value" pairs in opts, e.g.
 * com.docker.network.bridge.enable_icc=false). A network of that name
 * that exists already is success (*id is then the existing one's).
 */
int wl_docker_network_create(struct wl_docker *d, const char *name,
			     const struct wl_kvlist *labels,
			     const struct wl_kvlist *opts, char **id);

/* GET /networks/{name}. WL_ENOTFOUND if missing. */
int wl_docker_network_inspect(struct wl_docker *d, const char *name,
			      struct wl_docker_network *out);

/* GET /networks filtered by label (as wl_docker_containers_list). */
int wl_docker_networks_list(struct wl_docker *d, const char *label,
			    struct wl_docker_network **out, size_t *count);

/* DELETE /networks/{name}; missing is success, in use is WL_EEXISTS. */
int wl_docker_network_remove(struct wl_docker *d, const char *name);

/* Called with each event's container id, action and worklet.id label. */
typedef void (*wl_docker_event_cb)(void *ctx, const char *action,
				   const char *container_id,
				   const char *worklet_id);

/*
 * GET /events filtered to containers with the given label; blocks, calling
 * cb per event, until *stop becomes non-zero (checked at least every
 * second) or the connection fails.
 */
int wl_docker_events(struct wl_docker *d, const char *label,
		     wl_docker_event_cb cb, void *ctx,
		     const volatile int *stop);

/* ---- for the agent sandbox (controller/agent_sandbox.c) ---- */

/*
 * POST /containers/create?name=NAME with a body the caller built (JSON),
 * for containers whose shape the generic config cannot express (mounts,
 * tmpfs, a user). WL_EEXISTS when the name is in use.
 */
int wl_docker_container_create_json(struct wl_docker *d, const char *name,
				    const char *body, char **id);

enum { WL_DOCKER_STDOUT = 1, WL_DOCKER_STDERR = 2 };

/* wl_docker_container_logs, of the selected streams only. */
int wl_docker_container_logs_stream(struct wl_docker *d, const char *id,
				    int streams, int tail, struct wl_buf *out);

struct wl_docker_follow {
	int streams; /* WL_DOCKER_STDOUT and/or WL_DOCKER_STDERR */
	wl_docker_logs_cb cb;
	void *ctx;
	/* polled about every second; non-zero ends it with WL_ECANCELED */
	int (*stop)(void *ctx);
	int64_t deadline_ms; /* monotonic; 0: none; then WL_ETIMEOUT */
};

/*
 * Follow a container's output from its start (all of it), decoded, to
 * f->cb, until the container stops (0), f->stop says so, the deadline
 * passes, or the connection fails.
 */
int wl_docker_container_follow(struct wl_docker *d, const char *id,
			       const struct wl_docker_follow *f);

/*
 * POST /containers/{id}/attach?stream=1&stdin=1, upgraded to a raw stream
 * on a connection of its own (the curl handle stays free): *fd (close-on-
 * exec, owned by the caller) writes to the container's stdin until it is
 * closed. A container created with OpenStdin and StdinOnce sees its stdin
 * end when this connection does, also when the process holding it dies
 * (the agent sandbox's lease, agent_sandbox.h). Attach before start so
 * that nothing can start without it. WL_ENOTFOUND: no such container.
 */
int wl_docker_container_attach_stdin(struct wl_docker *d, const char *id,
				     int *fd);

/*
 * A bridge network of that name, created (with labels and driver options,
 * either may be NULL) if missing; an existing one is used as it is.
 */
int wl_docker_network_ensure(struct wl_docker *d, const char *name,
			     const struct wl_kvlist *labels,
			     const struct wl_kvlist *options);

/*
 * Append s to out without terminal escapes (CSI, OSC and two-byte
 * sequences) or control characters other than tabs: build output as a
 * person reads it. 0, or WL_ETOOBIG when out is full (what fit is kept).
 */
int wl_docker_strip_escapes(struct wl_buf *out, const char *s);

#endif
