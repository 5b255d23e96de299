#ifndef WL_CONFIG_H
#define WL_CONFIG_H

/*
 * Service configuration. Precedence, lowest first: built-in defaults, the
 * YAML config file (--config FILE or $WORKLET_CONFIG; example in
 * manifests/workletd.example.yaml), environment variables, command-line
 * flags. Loaded once in main() before any thread starts, then read-only.
 *
 * Environment variables:
 *   WORKLET_STATE_DIR          state directory (default /var/lib/worklet)
 *   WORKLET_BASE_DIR           repository clones (default /tmp/worklet-repos)
 *   DOCKER_HOST                unix:///path (default /var/run/docker.sock)
 *   GITHUB_TOKEN               private repos and pull requests (never logged)
 *   WORKLET_ALLOW_LOCAL_REPOS  1: also allow file://, paths and http://
 *   WORKLET_IMAGE_NODE, WORKLET_IMAGE_PYTHON, WORKLET_IMAGE_GO,
 *   WORKLET_IMAGE_GO_RUNTIME, WORKLET_IMAGE_STATIC   base images;
 *                              WORKLET_IMAGE_NODE is for Node.js projects
 *                              that ask for no version
 *   WORKLET_IMAGE_NODE_<major> the image of one Node.js major (1..99;
 *                              file key images.node<major>): defaults
 *                              node:<major>-alpine for 18, 20, 22, 24; an
 *                              empty value removes that major
 *   WORKLET_IMAGE_PYTHON_<major>_<minor>, WORKLET_IMAGE_GO_<major>_<minor>
 *                              the image of one Python / Go minor line
 *                              (WORKLET_IMAGE_GO_1_22); none by default
 *   WORKLET_WORKERS, WORKLET_RESYNC_SECONDS, WORKLET_GIT_POLL_SECONDS,
 *   WORKLET_HEALTH_TIMEOUT_SECONDS, WORKLET_RESTART_BACKOFF_SECONDS,
 *   WORKLET_RESTART_BACKOFF_MAX_SECONDS, WORKLET_BUILD_TIMEOUT_SECONDS,
 *   WORKLET_PORT_MIN, WORKLET_PORT_MAX, WORKLET_LOG_LEVEL,
 *   WORKLET_BUILD_CONTEXT_MAX  largest build context (default 512Mi)
 * The API server:
 *   WORKLET_LISTEN             address:port (default 127.0.0.1:8080)
 *   WORKLET_PUBLIC_URL         how users reach it (default http://<listen>)
 *   WORKLET_BASE_DOMAIN        apps are served at <id>.<domain>, the
 *                              dashboard at <domain> (default
 *                              worklet.localhost: two labels, so that the
 *                              two are same-site in browsers)
 *   WORKLET_HOST_ROUTING       1 (default): web_url is the host form,
 *                              <public scheme>://<id>.<domain>[:port]/;
 *                              0: the path form .../<id>/proxy/
 *   WORKLET_PREVIEW_LINK_SECONDS  how long a preview sign-in link can be
 *                              opened (default 300)
 *   WORKLET_TRUSTED_PROXIES    proxies whose X-Forwarded-Proto/-Host are
 *                              believed (addresses or CIDRs, comma-
 *                              separated; default none)
 *   WORKLET_TOKENS_FILE        bearer tokens, one "<token> <user-id>" a line
 *   WORKLET_TRUST_USER_HEADER  1: trust X-User-ID (behind an auth proxy);
 *                              it is also trusted when listening on loopback
 *                              unless this is 0
 *   WORKLET_MAX_BODY           request body limit (default 1Mi)
 * The agent (Claude Code CLI):
 *   WORKLET_CLAUDE_BIN         the CLI (default "claude", found in PATH)
 *   WORKLET_CLAUDE_MODEL       --model (default: the CLI's)
 *   WORKLET_AGENT_MAX_TURNS    --max-turns (default 30)
 *   WORKLET_AGENT_TIMEOUT_SECONDS  wall clock per run (default 600)
 *   WORKLET_AGENT_TOOLS        allowed tools, comma-separated (default
 *                              Read,Write,Edit,MultiEdit,Glob,Grep,LS,
 *                              plus Bash in the sandbox; on the host no
 *                              Bash unless listed)
 *   WORKLET_AGENT_SYSTEM_PROMPT  appended to the CLI's system prompt
 *   WORKLET_AGENT_CONCURRENCY  agent runs at once, all worklets (default 2)
 *   WORKLET_AGENT_RETRIES      re-runs after a transient API error (2)
 *   WORKLET_AGENT_RETRY_BACKOFF_SECONDS  first retry delay, doubling (5)
 *   WORKLET_AGENT_FIX_ATTEMPTS fix-up prompts after a failed build or
 *                              start (default 2; 0 turns them off)
 *   WORKLET_AGENT_CLI_RETRIES  the CLI's own API retries (default 2)
 *   WORKLET_AGENT_SANDBOX      docker (default): the CLI runs in a
 *                              container per run (agent_sandbox.h); host:
 *                              on the host, as workletd's child
 *   WORKLET_AGENT_IMAGE        the sandbox's image (default
 *                              worklet-local/node:18)
 *   WORKLET_AGENT_NETWORK      the sandbox's network (default
 *                              <instance>-agent, created; none: none)
 *   WORKLET_AGENT_MEMORY, WORKLET_AGENT_CPUS, WORKLET_AGENT_PIDS  the
 *                              sandbox's limits (1Gi, 1, 512)
 *   WORKLET_GIT_AUTHOR_NAME, WORKLET_GIT_AUTHOR_EMAIL  commit author
 *   WORKLET_GITHUB_API_URL     GitHub's REST API (default
 *                              https://api.github.com; Enterprise:
 *                              https://host/api/v3)
 *   WORKLET_USER_TOKENS_FILE   per-user GitHub tokens, "<user-id> <token>"
 *                              a line, mode 600; a user's token is used
 *                              for their worklets instead of GITHUB_TOKEN
 *   WORKLET_GIT_CACHE_TTL_SECONDS  a repository mirror (<base dir>/.mirrors,
 *                              shared by the worklets of one repository)
 *                              unused this long is removed (default 86400)
 *   WORKLET_GIT_ALLOWED_HOSTS  if set, the only hosts repositories may
 *                              come from ("host" or "host:port", comma-
 *                              separated); listed hosts may have local
 *                              addresses (controller/git_policy.h)
 *   WORKLET_BUILD_NETWORK      the network image builds run on (default
 *                              "<instance>-build", a bridge workletd
 *                              creates, covered by the API's peer guard;
 *                              "none": no network; "default": Docker's)
 *   WORKLET_GIT_CA_FILE        PEM certificates libgit2 trusts besides
 *                              the system's (an internal git server's CA)
 *   WORKLET_GIT_TOKEN_HOSTS    hosts GITHUB_TOKEN is offered to when they
 *                              ask for credentials (default github.com;
 *                              "host" or "host:port", comma-separated)
 *   ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, ANTHROPIC_BASE_URL  passed to
 *                              the CLI (and nothing else of the environment)
 */

#include <stddef.h>
#include <stdint.h>

#include "controller/dockerfile.h"

#define WL_NODE_MAJOR_MAX 99 /* WORKLET_IMAGE_NODE_<major>: 1..99 */

struct wl_config {
	char *config_file;
	char *state_dir;
	char *base_dir;
	char *docker_host;
	char *github_token;
	int allow_local_repos;
	char *image_node; /* projects that ask for no Node.js version */
	char *image_node_major[WL_NODE_MAJOR_MAX + 1]; /* NULL: none */
	char *image_python;
	char *image_go;
	/* WORKLET_IMAGE_PYTHON_<major>_<minor>, WORKLET_IMAGE_GO_<...> */
	struct wl_config_lang_image {
		int major, minor;
		char *image;
	} image_python_lines[WL_LANG_IMAGES_MAX],
		image_go_lines[WL_LANG_IMAGES_MAX];
	size_t image_python_line_count, image_go_line_count;
	char *image_go_runtime;
	char *image_static;
	int workers;
	int64_t resync_ms;
	int64_t git_poll_ms;
	int64_t health_timeout_ms;
	int64_t restart_backoff_ms;
	int64_t restart_backoff_max_ms;
	int64_t build_timeout_ms;
	int64_t build_context_max;
	int port_min;
	int port_max;
	int64_t default_memory;
	int64_t default_nano_cpus;
	int64_t default_pids;
	/* Ceilings of spec.resources: a spec above one is invalid. */
	int64_t max_memory;
	int64_t max_nano_cpus;
	int64_t max_pids;
	int64_t build_output_max; /* bytes of one build's output; 0: none */
	/*
	 * Bytes of images this instance may keep (0: no cache: a worklet's
	 * old images go as soon as its new version serves). Above it, images
	 * no container uses and no worklet serves are removed, least
	 * recently used first (controller/image_gc.h).
	 */
	int64_t image_disk_budget;
	int log_level;
	/* API server */
	char *listen;
	char *public_url;
	char *base_domain;
	int host_routing; /* web_url in the host form (default) */
	/*
	 * Addresses and networks ("10.0.0.1", "10.0.0.0/8", "::1", comma-
	 * separated) whose X-Forwarded-Proto and X-Forwarded-Host are believed
	 * (apiserver/forwarded.h); NULL: nobody's.
	 */
	char *trusted_proxies;
	int64_t preview_link_ms; /* how long a preview sign-in link works */
	char *tokens_file;
	int trust_user_header; /* -1: only on loopback (default), 0, 1 */
	int64_t max_body;
	/* The agent */
	char *claude_bin;
	char *agent_model;
	int agent_max_turns;
	int64_t agent_timeout_ms;
	char *agent_tools;
	char *agent_system_prompt;
	int agent_concurrency;
	int agent_retries;
	int64_t agent_retry_backoff_ms;
	int agent_fix_attempts;
	int agent_cli_retries;
	int agent_sandboxed; /* from agent_sandbox_mode: 1 docker, 0 host */
	char *agent_sandbox_mode; /* "docker" | "host" */
	char *agent_image;
	char *agent_network; /* default "<instance>-agent" */
	char *build_network; /* default "<instance>-build" */
	int64_t agent_memory;
	int64_t agent_nano_cpus;
	int agent_pids;
	char *git_token_hosts;	  /* hosts GITHUB_TOKEN is offered to */
	char *git_allowed_hosts;  /* NULL: any host; else the only ones */
	char *git_ca_file;	  /* extra CA certificates for git, or NULL */
	int64_t git_cache_ttl_ms; /* unused mirrors are removed after it */
	char *user_tokens_file;	  /* "<user> <github token>" per line */
	char *github_api_url;	  /* REST API for pull requests */
	char *git_author_name;
	char *git_author_email;
	char *anthropic_api_key; /* secrets: never logged */
	char *anthropic_auth_token;
	char *anthropic_base_url;
	/*
	 * This service's name on the Docker daemon: everything it creates is
	 * labelled worklet.instance=<instance>, and it only ever lists, adopts
	 * or garbage-collects what carries its own. Default: derived from the
	 * state directory, so two services sharing a daemon never touch each
	 * other's containers. WORKLET_INSTANCE overrides.
	 */
	char instance[33];
};

/* Fill c with the built-in defaults. */
int wl_config_init(struct wl_config *c);
void wl_config_release(struct wl_config *c);

/*
 * Apply a YAML config file. Unknown keys and bad values are errors that
 * name the key: "workletd.yaml: limits.memory: '5x' is not a size".
 */
int wl_config_load_file(struct wl_config *c, const char *path);

/* Apply the environment variables listed above. */
int wl_config_load_env(struct wl_config *c);

/*
 * The URL users open for worklet id: http://<id>.<domain>:<port>/ with host
 * routing, else <public url>/api/worklet/worklets/<id>/proxy/.
 */
int wl_config_web_url(const struct wl_config *c, const char *id, char *out,
		      size_t n);

/*
 * The GitHub token for user's worklets: theirs from WORKLET_USER_TOKENS_FILE
 * (copied into buf), else GITHUB_TOKEN, else NULL. Re-read at each call.
 */
const char *wl_config_git_token(const struct wl_config *c, const char *user,
				char *buf, size_t n);

/* "worklet.instance=<instance>[,<extra>]" for Docker label filters. */
void wl_config_label_filter(const struct wl_config *c, const char *extra,
			    char *out, size_t n);

/*
 * 0 if r is within the configured ceilings, else WL_EINVALID with a
 * message naming the field ("spec.resources.memory: ... ceiling ...").
 */
struct wl_resources;
int wl_config_check_resources(const struct wl_config *c,
			      const struct wl_resources *r);

/*
 * The agent's allowed tools: as configured, else the mode's default (Bash
 * only in the sandbox).
 */
const char *wl_config_agent_tools(const struct wl_config *c);

/* 1 if the listen address is a loopback address. */
int wl_config_listen_is_loopback(const struct wl_config *c);

/*
 * The base images as the Dockerfile generator wants them (strings
 * borrowed from c).
 */
void wl_config_base_images(const struct wl_config *c,
			   struct wl_base_images *out);

#endif
