#include "controller/config.h"

#include <stddef.h>
#include <stdio.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/hash.h"
#include "specs/core/log.h"
#include "specs/core/parse.h"
#include "specs/worklet.h"
#include "specs/core/banned.h"

enum kind { K_STR, K_BOOL, K_INT, K_SECONDS, K_SIZE, K_CPUS, K_LOGLEVEL };

/* One table drives the file keys and the environment variables. */
struct option {
	const char *key; /* in the config file, "a.b" for nested */
	const char *env; /* or NULL */
	enum kind kind;
	size_t offset;
	int64_t min, max; /* K_INT / K_SECONDS */
};

#define OFF(f) offsetof(struct wl_config, f)

static const struct option options[] = {
	{ "stateDir", "WORKLET_STATE_DIR", K_STR, OFF(state_dir), 0, 0 },
	{ "baseDir", "WORKLET_BASE_DIR", K_STR, OFF(base_dir), 0, 0 },
	{ "dockerHost", "DOCKER_HOST", K_STR, OFF(docker_host), 0, 0 },
	{ "allowLocalRepos", "WORKLET_ALLOW_LOCAL_REPOS", K_BOOL,
	  OFF(allow_local_repos), 0, 0 },
	{ "images.node", "WORKLET_IMAGE_NODE", K_STR, OFF(image_node), 0, 0 },
	{ "images.python", "WORKLET_IMAGE_PYTHON", K_STR, OFF(image_python), 0,
	  0 },
	{ "images.go", "WORKLET_IMAGE_GO", K_STR, OFF(image_go), 0, 0 },
	{ "images.goRuntime", "WORKLET_IMAGE_GO_RUNTIME", K_STR,
	  OFF(image_go_runtime), 0, 0 },
	{ "images.static", "WORKLET_IMAGE_STATIC", K_STR, OFF(image_static), 0,
	  0 },
	{ "workers", "WORKLET_WORKERS", K_INT, OFF(workers), 1, 64 },
	{ "resyncSeconds", "WORKLET_RESYNC_SECONDS", K_SECONDS, OFF(resync_ms),
	  1, 86400 },
	{ "gitPollSeconds", "WORKLET_GIT_POLL_SECONDS", K_SECONDS,
	  OFF(git_poll_ms), 1, 86400 },
	{ "healthTimeoutSeconds", "WORKLET_HEALTH_TIMEOUT_SECONDS", K_SECONDS,
	  OFF(health_timeout_ms), 1, 3600 },
	{ "restartBackoffSeconds", "WORKLET_RESTART_BACKOFF_SECONDS", K_SECONDS,
	  OFF(restart_backoff_ms), 1, 3600 },
	{ "restartBackoffMaxSeconds", "WORKLET_RESTART_BACKOFF_MAX_SECONDS",
	  K_SECONDS, OFF(restart_backoff_max_ms), 1, 86400 },
	{ "buildTimeoutSeconds", "WORKLET_BUILD_TIMEOUT_SECONDS", K_SECONDS,
	  OFF(build_timeout_ms), 1, 86400 },
	{ "buildContextMax", "WORKLET_BUILD_CONTEXT_MAX", K_SIZE,
	  OFF(build_context_max), 0, 0 },
	{ "ports.min", "WORKLET_PORT_MIN", K_INT, OFF(port_min), 1, 65535 },
	{ "ports.max", "WORKLET_PORT_MAX", K_INT, OFF(port_max), 1, 65535 },
	{ "limits.memory", NULL, K_SIZE, OFF(default_memory), 0, 0 },
	{ "limits.cpus", NULL, K_CPUS, OFF(default_nano_cpus), 0, 0 },
	{ "limits.pids", NULL, K_INT, OFF(default_pids), 1, 1000000 },
	{ "limits.maxMemory", "WORKLET_LIMIT_MEMORY_MAX", K_SIZE,
	  OFF(max_memory), 0, 0 },
	{ "limits.maxCpus", "WORKLET_LIMIT_CPUS_MAX", K_CPUS,
	  OFF(max_nano_cpus), 0, 0 },
	{ "limits.maxPids", "WORKLET_LIMIT_PIDS_MAX", K_INT, OFF(max_pids), 1,
	  1000000 },
	{ "buildOutputMax", "WORKLET_BUILD_OUTPUT_MAX", K_SIZE,
	  OFF(build_output_max), 0, 0 },
	{ "imageDiskBudget", "WORKLET_IMAGE_DISK_BUDGET", K_SIZE,
	  OFF(image_disk_budget), 0, 0 },
	{ "logLevel", "WORKLET_LOG_LEVEL", K_LOGLEVEL, OFF(log_level), 0, 0 },
	{ "listen", "WORKLET_LISTEN", K_STR, OFF(listen), 0, 0 },
	{ "publicUrl", "WORKLET_PUBLIC_URL", K_STR, OFF(public_url), 0, 0 },
	{ "baseDomain", "WORKLET_BASE_DOMAIN", K_STR, OFF(base_domain), 0, 0 },
	{ "hostRouting", "WORKLET_HOST_ROUTING", K_BOOL, OFF(host_routing), 0,
	  0 },
	{ "trustedProxies", "WORKLET_TRUSTED_PROXIES", K_STR,
	  OFF(trusted_proxies), 0, 0 },
	{ "previewLinkSeconds", "WORKLET_PREVIEW_LINK_SECONDS", K_SECONDS,
	  OFF(preview_link_ms), 1, 86400 },
	{ "tokensFile", "WORKLET_TOKENS_FILE", K_STR, OFF(tokens_file), 0, 0 },
	{ "trustUserHeader", "WORKLET_TRUST_USER_HEADER", K_BOOL,
	  OFF(trust_user_header), 0, 0 },
	{ "maxBody", "WORKLET_MAX_BODY", K_SIZE, OFF(max_body), 0, 0 },
	{ "agent.claude", "WORKLET_CLAUDE_BIN", K_STR, OFF(claude_bin), 0, 0 },
	{ "agent.model", "WORKLET_CLAUDE_MODEL", K_STR, OFF(agent_model), 0,
	  0 },
	{ "agent.maxTurns", "WORKLET_AGENT_MAX_TURNS", K_INT,
	  OFF(agent_max_turns), 1, 1000 },
	{ "agent.timeoutSeconds", "WORKLET_AGENT_TIMEOUT_SECONDS", K_SECONDS,
	  OFF(agent_timeout_ms), 1, 86400 },
	{ "agent.allowedTools", "WORKLET_AGENT_TOOLS", K_STR, OFF(agent_tools),
	  0, 0 },
	{ "agent.systemPrompt", "WORKLET_AGENT_SYSTEM_PROMPT", K_STR,
	  OFF(agent_system_prompt), 0, 0 },
	{ "agent.concurrency", "WORKLET_AGENT_CONCURRENCY", K_INT,
	  OFF(agent_concurrency), 1, 64 },
	{ "agent.retries", "WORKLET_AGENT_RETRIES", K_INT, OFF(agent_retries),
	  0, 10 },
	{ "agent.retryBackoffSeconds", "WORKLET_AGENT_RETRY_BACKOFF_SECONDS",
	  K_SECONDS, OFF(agent_retry_backoff_ms), 1, 3600 },
	{ "agent.fixAttempts", "WORKLET_AGENT_FIX_ATTEMPTS", K_INT,
	  OFF(agent_fix_attempts), 0, 10 },
	{ "agent.cliRetries", "WORKLET_AGENT_CLI_RETRIES", K_INT,
	  OFF(agent_cli_retries), 0, 20 },
	{ "agent.sandbox", "WORKLET_AGENT_SANDBOX", K_STR,
	  OFF(agent_sandbox_mode), 0, 0 },
	{ "agent.image", "WORKLET_AGENT_IMAGE", K_STR, OFF(agent_image), 0, 0 },
	{ "agent.network", "WORKLET_AGENT_NETWORK", K_STR, OFF(agent_network),
	  0, 0 },
	{ "buildNetwork", "WORKLET_BUILD_NETWORK", K_STR, OFF(build_network), 0,
	  0 },
	{ "agent.memory", "WORKLET_AGENT_MEMORY", K_SIZE, OFF(agent_memory), 0,
	  0 },
	{ "agent.cpus", "WORKLET_AGENT_CPUS", K_CPUS, OFF(agent_nano_cpus), 0,
	  0 },
	{ "agent.pids", "WORKLET_AGENT_PIDS", K_INT, OFF(agent_pids), 16,
	  1000000 },
	{ "github.apiUrl", "WORKLET_GITHUB_API_URL", K_STR, OFF(github_api_url),
	  0, 0 },
	{ "git.cacheTtlSeconds", "WORKLET_GIT_CACHE_TTL_SECONDS", K_SECONDS,
	  OFF(git_cache_ttl_ms), 1, 365 * 86400 },
	{ "git.userTokensFile", "WORKLET_USER_TOKENS_FILE", K_STR,
	  OFF(user_tokens_file), 0, 0 },
	{ "git.allowedHosts", "WORKLET_GIT_ALLOWED_HOSTS", K_STR,
	  OFF(git_allowed_hosts), 0, 0 },
	{ "git.tokenHosts", "WORKLET_GIT_TOKEN_HOSTS", K_STR,
	  OFF(git_token_hosts), 0, 0 },
	{ "git.caFile", "WORKLET_GIT_CA_FILE", K_STR, OFF(git_ca_file), 0, 0 },
	{ "git.authorName", "WORKLET_GIT_AUTHOR_NAME", K_STR,
	  OFF(git_author_name), 0, 0 },
	{ "git.authorEmail", "WORKLET_GIT_AUTHOR_EMAIL", K_STR,
	  OFF(git_author_email), 0, 0 },
};

static int set_str(char **dst, const char *v)
{
	char *copy = strdup(v);

	if (!copy) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

int wl_config_init(struct wl_config *c)
{
	memset(c, 0, sizeof(*c));
	if (set_str(&c->state_dir, "/var/lib/worklet") ||
	    set_str(&c->base_dir, "/tmp/worklet-repos") ||
	    set_str(&c->docker_host, "unix:///var/run/docker.sock") ||
	    set_str(&c->image_node, "node:24-alpine") ||
	    set_str(&c->image_node_major[18], "node:18-alpine") ||
	    set_str(&c->image_node_major[20], "node:20-alpine") ||
	    set_str(&c->image_node_major[22], "node:22-alpine") ||
	    set_str(&c->image_node_major[24], "node:24-alpine") ||
	    set_str(&c->image_python, "python:3.9-slim") ||
	    set_str(&c->image_go, "golang:1.21-alpine") ||
	    set_str(&c->image_go_runtime, "alpine:3.19") ||
	    set_str(&c->image_static, "nginx:alpine") ||
	    set_str(&c->listen, "127.0.0.1:8080") ||
	    set_str(&c->base_domain, "worklet.localhost") ||
	    set_str(&c->claude_bin, "claude") ||
	    set_str(&c->agent_sandbox_mode, "docker") ||
	    set_str(&c->agent_image, "worklet-local/node:18") ||
	    set_str(&c->git_author_name, "worklet") ||
	    set_str(&c->git_token_hosts, "github.com") ||
	    set_str(&c->github_api_url, "https://api.github.com") ||
	    set_str(&c->git_author_email, "worklet@localhost")) {
		wl_config_release(c);
		return WL_ERROR;
	}
	c->workers = 4;
	c->host_routing = 1;
	c->preview_link_ms = 300 * 1000;
	c->resync_ms = 30 * 1000;
	c->git_poll_ms = 60 * 1000;
	c->health_timeout_ms = 60 * 1000;
	c->restart_backoff_ms = 10 * 1000;
	c->restart_backoff_max_ms = 300 * 1000;
	c->build_timeout_ms = 15 * 60 * 1000;
	c->build_context_max = 512LL << 20;
	c->port_min = 20000;
	c->port_max = 29999;
	c->default_memory = 512LL << 20;
	c->default_nano_cpus = 1000000000;
	c->default_pids = 256;
	c->max_memory = 2LL << 30;
	c->max_nano_cpus = 2000000000;
	c->max_pids = 1024;
	c->build_output_max = 8LL << 20;
	c->log_level = WL_LOG_INFO;
	c->trust_user_header = -1;
	c->max_body = 1 << 20;
	c->git_cache_ttl_ms = 24 * 3600 * 1000LL;
	c->agent_max_turns = 30;
	c->agent_timeout_ms = 10 * 60 * 1000;
	c->agent_concurrency = 2;
	c->agent_retries = 2;
	c->agent_retry_backoff_ms = 5 * 1000;
	c->agent_fix_attempts = 2;
	c->agent_cli_retries = 2;
	c->agent_sandboxed = 1;
	c->agent_memory = 1LL << 30;
	c->agent_nano_cpus = 1000000000;
	c->agent_pids = 512;
	return 0;
}

void wl_config_release(struct wl_config *c)
{
	free(c->config_file);
	free(c->state_dir);
	free(c->base_dir);
	free(c->docker_host);
	free(c->github_token);
	free(c->image_node);
	for (size_t i = 0; i <= WL_NODE_MAJOR_MAX; i++)
		free(c->image_node_major[i]);
	free(c->image_python);
	free(c->image_go);
	for (size_t i = 0; i < c->image_python_line_count; i++)
		free(c->image_python_lines[i].image);
	for (size_t i = 0; i < c->image_go_line_count; i++)
		free(c->image_go_lines[i].image);
	free(c->image_go_runtime);
	free(c->image_static);
	free(c->listen);
	free(c->public_url);
	free(c->trusted_proxies);
	free(c->base_domain);
	free(c->claude_bin);
	free(c->agent_model);
	free(c->agent_tools);
	free(c->agent_sandbox_mode);
	free(c->agent_image);
	free(c->agent_network);
	free(c->build_network);
	free(c->agent_system_prompt);
	free(c->git_author_name);
	free(c->git_token_hosts);
	free(c->git_allowed_hosts);
	free(c->git_ca_file);
	free(c->user_tokens_file);
	free(c->github_api_url);
	free(c->git_author_email);
	free(c->anthropic_api_key);
	free(c->anthropic_auth_token);
	free(c->anthropic_base_url);
	free(c->tokens_file);
	memset(c, 0, sizeof(*c));
}

static int apply(struct wl_config *c, const struct option *o, const char *v)
{
	char *base = (char *)c + o->offset;
	int64_t n;
	int b, error;

	switch (o->kind) {
	case K_STR:
		if (!*v) {
			wl_error_set("must not be empty");
			return WL_EINVALID;
		}
		return set_str((char **)base, v);
	case K_BOOL:
		if ((error = wl_parse_bool(&b, v)) < 0)
			return error;
		*(int *)base = b;
		return 0;
	case K_INT:
		if ((error = wl_parse_int64(&n, v, o->min, o->max)) < 0)
			return error;
		if (o->offset == OFF(default_pids) ||
		    o->offset == OFF(max_pids))
			*(int64_t *)base = n;
		else
			*(int *)base = (int)n;
		return 0;
	case K_SECONDS:
		if ((error = wl_parse_int64(&n, v, o->min, o->max)) < 0)
			return error;
		*(int64_t *)base = n * 1000;
		return 0;
	case K_SIZE:
		return wl_parse_size((int64_t *)base, v);
	case K_CPUS:
		return wl_parse_cpus((int64_t *)base, v);
	case K_LOGLEVEL:
		if ((b = wl_log_level_parse(v)) < 0) {
			wl_error_set("'%s' is not a log level (debug, info, "
				     "warn, error)",
				     v);
			return WL_EINVALID;
		}
		*(int *)base = b;
		return 0;
	}
	return WL_ERROR;
}

/*
 * images.node<major> / WORKLET_IMAGE_NODE_<major>: name is what follows
 * the prefix. 1 and the major's image set (or removed: empty value) when
 * name is a major, 0 when it is not one.
 */
static int node_major_image(struct wl_config *c, const char *name,
			    const char *v)
{
	int64_t major;

	if (!*name || strspn(name, "0123456789") != strlen(name))
		return 0;
	if (wl_parse_int64(&major, name, 1, WL_NODE_MAJOR_MAX) < 0) {
		wl_error_set("Node.js major '%s' is not in 1..%d", name,
			     WL_NODE_MAJOR_MAX);
		return WL_EINVALID;
	}
	free(c->image_node_major[major]);
	c->image_node_major[major] = NULL;
	if (*v && set_str(&c->image_node_major[major], v) < 0)
		return WL_ERROR;
	return 1;
}

static const struct option *find_option(const char *key)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (!strcmp(options[i].key, key))
			return &options[i];
	return NULL;
}

/*
 * The config file is a mapping of scalars, nested one level at most
 * ("images: {node: ...}"). Parse it with libyaml's event API and apply
 * each "a.b: value" as it comes.
 */
int wl_config_load_file(struct wl_config *c, const char *path)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct wl_buf data;
	char section[128] = "", key[128] = "";
	int depth = 0, have_key = 0, error = 0, done = 0;

	wl_buf_init(&data, 1 << 20);
	if ((error = wl_fs_read(&data, path)) < 0)
		goto out_buf;
	if (!yaml_parser_initialize(&parser)) {
		error = WL_ERROR;
		goto out_buf;
	}
	yaml_parser_set_input_string(
		&parser, (const unsigned char *)wl_buf_cstr(&data), data.len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			wl_error_set("%s: line %zu: %s", path,
				     parser.problem_mark.line + 1,
				     parser.problem ? parser.problem
						    : "invalid YAML");
			error = WL_EINVALID;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_MAPPING_START_EVENT:
			if (depth == 1 && have_key) {
				snprintf(section, sizeof(section), "%s", key);
				have_key = 0;
			} else if (depth != 0) {
				wl_error_set("%s: line %zu: nesting too deep",
					     path, ev.start_mark.line + 1);
				error = WL_EINVALID;
			}
			depth++;
			break;
		case YAML_MAPPING_END_EVENT:
			depth--;
			section[0] = '\0';
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;

			if (!have_key) {
				if (section[0])
					snprintf(key, sizeof(key), "%s.%s",
						 section, v);
				else
					snprintf(key, sizeof(key), "%s", v);
				have_key = 1;
				break;
			}
			have_key = 0;
			{
				const struct option *o = find_option(key);
				int node = 0;

				if (o) {
					if ((error = apply(c, o, v)) < 0)
						wl_error_prefix("%s: %s", path,
								key);
				} else if (!strncmp(key, "images.node", 11) &&
					   (node = node_major_image(c, key + 11,
								    v)) != 0) {
					/* images.node<major> */
					if (node < 0) {
						wl_error_prefix("%s: %s", path,
								key);
						error = node;
					}
				} else {
					wl_error_set("%s: %s: unknown setting",
						     path, key);
					error = WL_EINVALID;
				}
			}
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
		case YAML_ALIAS_EVENT:
			wl_error_set("%s: line %zu: %s: lists and aliases are "
				     "not supported here",
				     path, ev.start_mark.line + 1, key);
			error = WL_EINVALID;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (error < 0)
			break;
	}
	yaml_parser_delete(&parser);
	if (!error && set_str(&c->config_file, path) < 0)
		error = WL_ERROR;
out_buf:
	wl_buf_release(&data);
	return error;
}

/* WORKLET_AGENT_SANDBOX and the network's default (needs the instance). */
static int check_agent_sandbox(struct wl_config *c)
{
	char net[64];

	if (!strcmp(c->agent_sandbox_mode, "docker")) {
		c->agent_sandboxed = 1;
	} else if (!strcmp(c->agent_sandbox_mode, "host")) {
		c->agent_sandboxed = 0;
	} else {
		wl_error_set("WORKLET_AGENT_SANDBOX '%s': expected docker or "
			     "host",
			     c->agent_sandbox_mode);
		return WL_EINVALID;
	}
	if (!c->agent_network) {
		snprintf(net, sizeof(net), "%s-agent", c->instance);
		if (set_str(&c->agent_network, net) < 0)
			return WL_ERROR;
	}
	if (!c->build_network) {
		snprintf(net, sizeof(net), "%s-build", c->instance);
		if (set_str(&c->build_network, net) < 0)
			return WL_ERROR;
	}
	return 0;
}

const char *wl_config_agent_tools(const struct wl_config *c)
{
	if (c->agent_tools)
		return c->agent_tools;
	return c->agent_sandboxed
		       ? "Read,Write,Edit,MultiEdit,Glob,Grep,LS,Bash"
		       : "Read,Write,Edit,MultiEdit,Glob,Grep,LS";
}

/* WORKLET_IMAGE_NODE_<major>=image, for every major in the environment. */
static int load_node_majors(struct wl_config *c)
{
	static const char prefix[] = "WORKLET_IMAGE_NODE_";
	size_t count = 0;

	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		char name[16];
		size_t n;
		int r;

		if (strncmp(*e, prefix, sizeof(prefix) - 1) || !eq)
			continue;
		n = (size_t)(eq - *e) - (sizeof(prefix) - 1);
		if (n >= sizeof(name)) {
			wl_error_set("environment variable %.*s: not a "
				     "Node.js major",
				     (int)(eq - *e), *e);
			return WL_EINVALID;
		}
		memcpy(name, *e + sizeof(prefix) - 1, n);
		name[n] = '\0';
		if ((r = node_major_image(c, name, eq + 1)) < 0) {
			wl_error_prefix("environment variable %s%s", prefix,
					name);
			return r;
		}
		if (!r) {
			wl_error_set("environment variable %s%s: not a "
				     "Node.js major (WORKLET_IMAGE_NODE_22)",
				     prefix, name);
			return WL_EINVALID;
		}
	}
	for (size_t i = 0; i <= WL_NODE_MAJOR_MAX; i++)
		count += c->image_node_major[i] != NULL;
	if (count > WL_NODE_IMAGES_MAX) {
		wl_error_set(
			"images: %zu Node.js majors have an image; at most "
			"%d can",
			count, WL_NODE_IMAGES_MAX);
		return WL_EINVALID;
	}
	return 0;
}

/*
 * WORKLET_IMAGE_PYTHON_<major>_<minor> and WORKLET_IMAGE_GO_<major>_<minor>
 * (WORKLET_IMAGE_PYTHON_3_11=python:3.11-slim): the image of one minor
 * line. Other names after the prefix (WORKLET_IMAGE_GO_RUNTIME) are not
 * ours; an empty value removes the line.
 */
static int load_lang_lines(struct wl_config *c, int go)
{
	const char *prefix = go ? "WORKLET_IMAGE_GO_" : "WORKLET_IMAGE_PYTHON_";
	struct wl_config_lang_image *t =
		go ? c->image_go_lines : c->image_python_lines;
	size_t *count =
		go ? &c->image_go_line_count : &c->image_python_line_count;
	size_t plen = strlen(prefix);

	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '='), *s = *e + plen;
		char *end;
		long major, minor;
		size_t i;

		if (strncmp(*e, prefix, plen) || !eq ||
		    !isdigit((unsigned char)*s))
			continue;
		errno = 0;
		major = strtol(s, &end, 10);
		if (*end != '_' || !isdigit((unsigned char)end[1]))
			goto bad;
		minor = strtol(end + 1, &end, 10);
		if (end != eq || errno || major < 1 || major > 99 ||
		    minor < 0 || minor > 999)
			goto bad;
		for (i = 0; i < *count; i++)
			if (t[i].major == major && t[i].minor == minor)
				break;
		if (i == *count) {
			if (!eq[1])
				continue;
			if (*count == WL_LANG_IMAGES_MAX) {
				wl_error_set("environment variable %.*s: at "
					     "most %d %s lines can have an "
					     "image",
					     (int)(eq - *e), *e,
					     WL_LANG_IMAGES_MAX,
					     go ? "Go" : "Python");
				return WL_EINVALID;
			}
			t[i].major = (int)major;
			t[i].minor = (int)minor;
			t[i].image = NULL;
			(*count)++;
		}
		if (set_str(&t[i].image, eq + 1) < 0)
			return WL_ERROR;
		continue;
	bad:
		wl_error_set("environment variable %.*s: not a %s version "
			     "(%s%s)",
			     (int)(eq - *e), *e, go ? "Go" : "Python", prefix,
			     go ? "1_22" : "3_11");
		return WL_EINVALID;
	}
	return 0;
}

int wl_config_load_env(struct wl_config *c)
{
	const char *v;
	int error;

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if (!options[i].env || !(v = getenv(options[i].env)) || !*v)
			continue;
		if ((error = apply(c, &options[i], v)) < 0) {
			wl_error_prefix("environment variable %s",
					options[i].env);
			return error;
		}
	}
	if ((error = load_node_majors(c)) < 0 ||
	    (error = load_lang_lines(c, 0)) < 0 ||
	    (error = load_lang_lines(c, 1)) < 0)
		return error;
	if ((v = getenv("GITHUB_TOKEN")) && *v &&
	    set_str(&c->github_token, v) < 0)
		return WL_ERROR;
	/* Passed to the agent only; never logged. */
	if ((v = getenv("ANTHROPIC_API_KEY")) && *v &&
	    set_str(&c->anthropic_api_key, v) < 0)
		return WL_ERROR;
	if ((v = getenv("ANTHROPIC_AUTH_TOKEN")) && *v &&
	    set_str(&c->anthropic_auth_token, v) < 0)
		return WL_ERROR;
	if ((v = getenv("ANTHROPIC_BASE_URL")) && *v &&
	    set_str(&c->anthropic_base_url, v) < 0)
		return WL_ERROR;
	if ((v = getenv("WORKLET_INSTANCE")) && *v) {
		for (const char *q = v; *q; q++)
			if (!isalnum((unsigned char)*q) && *q != '-') {
				wl_error_set(
					"WORKLET_INSTANCE '%s': use letters, "
					"digits and '-'",
					v);
				return WL_EINVALID;
			}
		snprintf(c->instance, sizeof(c->instance), "%s", v);
	} else {
		char real[PATH_MAX], hex[65];
		const char *dir =
			realpath(c->state_dir, real) ? real : c->state_dir;

		wl_sha256_hex(hex, dir, strlen(dir));
		snprintf(c->instance, sizeof(c->instance), "%.12s", hex);
	}
	if (!strchr(c->listen, ':')) {
		wl_error_set("listen address '%s': expected host:port",
			     c->listen);
		return WL_EINVALID;
	}
	if (!c->public_url) {
		char url[300];

		snprintf(url, sizeof(url), "http://%s", c->listen);
		if (set_str(&c->public_url, url) < 0)
			return WL_ERROR;
	}
	if (strncmp(c->public_url, "http://", 7) &&
	    strncmp(c->public_url, "https://", 8)) {
		wl_error_set("public URL '%s': expected http://... or "
			     "https://...",
			     c->public_url);
		return WL_EINVALID;
	}
	if (!c->base_domain[0] || c->base_domain[0] == '.' ||
	    c->base_domain[strlen(c->base_domain) - 1] == '.' ||
	    strspn(c->base_domain, "abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
		    strlen(c->base_domain)) {
		wl_error_set("base domain '%s': expected a DNS name such as "
			     "worklet.example.com",
			     c->base_domain);
		return WL_EINVALID;
	}
	if (c->default_memory > c->max_memory ||
	    c->default_nano_cpus > c->max_nano_cpus ||
	    c->default_pids > c->max_pids) {
		wl_error_set("limits: a default (memory, cpus, pids) is above "
			     "its ceiling (limits.maxMemory, maxCpus, "
			     "maxPids)");
		return WL_EINVALID;
	}
	if (c->port_min > c->port_max) {
		wl_error_set("ports.min (%d) is above ports.max (%d)",
			     c->port_min, c->port_max);
		return WL_EINVALID;
	}
	if ((error = check_agent_sandbox(c)) < 0)
		return error;
	if (strncmp(c->docker_host, "unix://", 7)) {
		wl_error_set("DOCKER_HOST '%s': only unix:// sockets are "
			     "supported",
			     c->docker_host);
		return WL_EINVALID;
	}
	return 0;
}

void wl_config_base_images(const struct wl_config *c,
			   struct wl_base_images *out)
{
	memset(out, 0, sizeof(*out));
	out->node = c->image_node;
	for (int m = 1; m <= WL_NODE_MAJOR_MAX; m++)
		if (c->image_node_major[m] &&
		    out->node_image_count < WL_NODE_IMAGES_MAX)
			out->node_images[out->node_image_count++] =
				(struct wl_node_image){
					m, c->image_node_major[m]
				};
	out->python = c->image_python;
	out->go = c->image_go;
	for (size_t i = 0; i < c->image_python_line_count; i++)
		if (c->image_python_lines[i].image &&
		    *c->image_python_lines[i].image)
			out->python_images[out->python_image_count++] =
				(struct wl_lang_image){
					c->image_python_lines[i].major,
					c->image_python_lines[i].minor,
					c->image_python_lines[i].image
				};
	for (size_t i = 0; i < c->image_go_line_count; i++)
		if (c->image_go_lines[i].image && *c->image_go_lines[i].image)
			out->go_images[out->go_image_count++] =
				(struct wl_lang_image){
					c->image_go_lines[i].major,
					c->image_go_lines[i].minor,
					c->image_go_lines[i].image
				};
	out->go_runtime = c->image_go_runtime;
	out->static_web = c->image_static;
}

int wl_config_listen_is_loopback(const struct wl_config *c)
{
	return !strncmp(c->listen, "127.", 4) ||
	       !strncmp(c->listen, "localhost:", 10) ||
	       !strncmp(c->listen, "[::1]:", 6);
}

int wl_config_web_url(const struct wl_config *c, const char *id, char *out,
		      size_t n)
{
	const char *url = c->public_url, *host, *port, *end;
	size_t len = strlen(url);
	int w;

	if (len && url[len - 1] == '/')
		len--;
	if (c->host_routing) {
		/* The public URL's scheme and port, the app's own host. */
		host = strstr(url, "://");
		host = host ? host + 3 : url;
		end = host + strcspn(host, "/");
		port = NULL;
		if (*host == '[') {
			const char *close =
				memchr(host, ']', (size_t)(end - host));

			if (close && close + 1 < end && close[1] == ':')
				port = close + 1;
		} else {
			port = memchr(host, ':', (size_t)(end - host));
		}
		w = snprintf(out, n, "%.*s%s.%s%.*s/", (int)(host - url), url,
			     id, c->base_domain, port ? (int)(end - port) : 0,
			     port ? port : "");
	} else {
		w = snprintf(out, n, "%.*s/api/worklet/worklets/%s/proxy/",
			     (int)len, url, id);
	}
	if (w < 0 || (size_t)w >= n) {
		wl_error_set("web URL for '%s' is too long", id);
		return WL_ETOOBIG;
	}
	return 0;
}

void wl_config_label_filter(const struct wl_config *c, const char *extra,
			    char *out, size_t n)
{
	snprintf(out, n, "worklet.instance=%s%s%s", c->instance,
		 extra ? "," : "", extra ? extra : "");
}

const char *wl_config_git_token(const struct wl_config *c, const char *user,
				char *buf, size_t n)
{
	char line[8192];
	struct stat st;
	FILE *f;

	if (!c->user_tokens_file || !user || !*user)
		return c->github_token;
	if (!(f = fopen(c->user_tokens_file, "re")))
		return c->github_token;
	/* Secrets: refuse a file others can read, as ssh does. */
	if (fstat(fileno(f), &st) < 0 || (st.st_mode & 077)) {
		wl_warn("'%s' is readable by others; per-user tokens ignored",
			c->user_tokens_file);
		fclose(f);
		return c->github_token;
	}
	while (fgets(line, sizeof(line), f)) {
		char *u = line, *t, *end;

		u += strspn(u, " \t");
		if (*u == '#' || *u == '\n' || !*u)
			continue;
		t = u + strcspn(u, " \t");
		if (!*t)
			continue;
		*t++ = '\0';
		t += strspn(t, " \t");
		end = t + strcspn(t, " \t\r\n");
		*end = '\0';
		if (strcmp(u, user) || !*t || strlen(t) >= n)
			continue;
		snprintf(buf, n, "%s", t);
		fclose(f);
		return buf;
	}
	fclose(f);
	return c->github_token;
}

int wl_config_check_resources(const struct wl_config *c,
			      const struct wl_resources *r)
{
	if (r->memory_bytes > c->max_memory) {
		wl_error_set("spec.resources.memory: %lld bytes is above the "
			     "ceiling of %lld (limits.maxMemory)",
			     (long long)r->memory_bytes,
			     (long long)c->max_memory);
		return WL_EINVALID;
	}
	if (r->nano_cpus > c->max_nano_cpus) {
		wl_error_set("spec.resources.cpus: %g is above the ceiling of "
			     "%g (limits.maxCpus)",
			     (double)r->nano_cpus / 1e9,
			     (double)c->max_nano_cpus / 1e9);
		return WL_EINVALID;
	}
	if (r->pids > c->max_pids) {
		wl_error_set("spec.resources.pids: %lld is above the ceiling "
			     "of %lld (limits.maxPids)",
			     (long long)r->pids, (long long)c->max_pids);
		return WL_EINVALID;
	}
	return 0;
}
