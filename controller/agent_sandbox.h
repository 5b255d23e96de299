#ifndef WL_AGENT_SANDBOX_H
#define WL_AGENT_SANDBOX_H

/*
 * The agent sandbox: one Docker container per agent run, in which the
 * Claude Code CLI edits a worklet's working tree (WORKLET_AGENT_SANDBOX=
 * docker, the default). agent.c builds the CLI's argv and environment as
 * for a host run and hands them here.
 *
 * The container (created, started, followed, removed by
 * wl_agent_sandbox_run):
 *   name    <instance>-agent-<worklet id>
 *   labels  worklet.managed=true, worklet.instance, worklet.role=agent,
 *           worklet.agent-for=<worklet id>, worklet.runner=<runner>
 *           (no worklet.id: the reconciler must not take it for the app)
 *   user    1000:1000; root fs read-only; tmpfs /tmp (HOME and TMPDIR)
 *           and /run/worklet (0700, the sandbox user's: the key file)
 *   command a small sh supervisor, then the CLI's argv: it reads one line
 *           from stdin, the model API key, writes it to
 *           WL_AGENT_SANDBOX_KEY_FILE (the CLI's apiKeyHelper reads it),
 *           runs the CLI with stdin from /dev/null, and kills it when
 *           stdin ends. workletd holds stdin (an attach made before the
 *           start, StdinOnce) for as long as the run lasts, so the key is
 *           in no part of the container's configuration (Env, Cmd,
 *           mounts), and the container stops by itself within
 *           WL_AGENT_SANDBOX_LEASE_S seconds of workletd's death (the
 *           kernel closes its end, Docker closes the container's stdin).
 *   binds   exactly: the working tree (rw) at its host path, its .git
 *           read-only on top (hooks and config the host's git would run),
 *           the CLI's config dir for this worklet (rw, at its host path:
 *           the CLI keys transcripts by cwd, so --resume keeps working),
 *           the CLI binary read-only at WL_AGENT_SANDBOX_CLI
 *   limits  CapDrop ALL, no-new-privileges, the default seccomp profile,
 *           an init process, memory (no swap), CPUs, pids
 *   network the configured one ("none": no network at all), with
 *           host.docker.internal resolving to the host (host-gateway);
 *           created if missing as a bridge without inter-container
 *           traffic (enable_icc=false)
 * Never the Docker socket, never another host path.
 */

#include <stddef.h>
#include <stdint.h>

#define WL_AGENT_SANDBOX_UID 1000
#define WL_AGENT_SANDBOX_GID 1000
#define WL_AGENT_SANDBOX_CLI "/usr/local/bin/claude"
#define WL_AGENT_SANDBOX_HOME "/tmp"
#define WL_AGENT_SANDBOX_HOSTNAME "worklet-agent"
#define WL_AGENT_SANDBOX_HOST_ALIAS "host.docker.internal"
#define WL_AGENT_SANDBOX_KEY_DIR "/run/worklet"
#define WL_AGENT_SANDBOX_KEY_FILE WL_AGENT_SANDBOX_KEY_DIR "/api-key"
/* stdin ended: SIGTERM to the CLI, SIGKILL this much later */
#define WL_AGENT_SANDBOX_LEASE_S 3

struct wl_agent_sandbox {
	const char *docker_host; /* unix://...; NULL: the default socket */
	const char *image;
	const char *network; /* "none", or a network (created if missing) */
	int64_t memory_bytes;
	int64_t nano_cpus;
	int64_t pids_limit;
	const char *instance;	/* worklet.instance */
	const char *worklet_id; /* worklet.agent-for */
	const char *runner;	/* worklet.runner: this workletd process */
};

/* What one run needs besides the sandbox: filled by agent.c. */
struct wl_agent_sandbox_job {
	char *const *argv; /* argv[0] = WL_AGENT_SANDBOX_CLI */
	char *const *envp; /* NAME=VALUE, NULL-ended */
	/*
	 * The model API key (or token), or NULL: written to the container's
	 * stdin, never to its configuration. No newline.
	 */
	const char *secret;
	const char *cwd;	     /* the working tree, absolute */
	const char *config_dir;	     /* CLAUDE_CONFIG_DIR, absolute */
	const char *cli_path;	     /* the CLI binary on the host, absolute */
	int64_t deadline_ms;	     /* monotonic; 0: none */
	int (*cancelled)(void *ctx); /* may be NULL */
	void (*on_stdout)(void *ctx, const char *data, size_t len);
	void (*on_stderr)(void *ctx, const char *data, size_t len);
	void *ctx;
};

struct wl_agent_sandbox_exit {
	int exit_code; /* -1: unknown */
	int oom_killed;
	int timed_out;
	int cancelled;
};

/*
 * The container's name for a worklet: "<instance>-agent-<id>" (into out,
 * WL_EINVALID if it does not fit).
 */
int wl_agent_sandbox_name(char *out, size_t n, const char *instance,
			  const char *worklet_id);

/*
 * The body of POST /containers/create for a job (pure: no Docker, no
 * file system except whether cwd/.git is a directory). *out: cJSON's
 * rendering, freed with free().
 */
int wl_agent_sandbox_spec(const struct wl_agent_sandbox *sb,
			  const struct wl_agent_sandbox_job *job, char **out);

/*
 * An ANTHROPIC_BASE_URL as seen from inside the sandbox: a loopback host
 * (localhost, 127.x.y.z, [::1]) becomes host.docker.internal, the rest of
 * the URL unchanged. Returns 1 when rewritten, 0 when copied as it is,
 * WL_EINVALID when it does not fit in out.
 */
int wl_agent_sandbox_url(const char *url, char *out, size_t n);

/*
 * Give the sandbox user the working tree (everything but .git, which
 * stays root's and is mounted read-only; the tree's top directory stays
 * root's, group-writable for the sandbox group, so the host's libgit2
 * still sees a repository owned by its user) and the config dir.
 */
int wl_agent_sandbox_prepare(const char *cwd, const char *config_dir);

/*
 * Run the job in a new container and remove it afterwards, whatever
 * happened: stdout and stderr go to the callbacks as they come; the
 * deadline and cancelled() (polled about every second) kill it. 0 when it
 * ran (ex says how it ended), else a negative code with the message set
 * ("agent sandbox: ...": no such image, Docker unreachable, ...).
 */
int wl_agent_sandbox_run(const struct wl_agent_sandbox *sb,
			 const struct wl_agent_sandbox_job *job,
			 struct wl_agent_sandbox_exit *ex);

/*
 * Remove this instance's agent containers left by another runner (a
 * workletd killed mid-run): all of them when keep_runner is NULL. Returns
 * how many were removed, or a negative code.
 */
int wl_agent_sandbox_gc(const char *docker_host, const char *instance,
			const char *keep_runner);

/* Remove the agent container of one worklet, if any. */
int wl_agent_sandbox_remove(const char *docker_host, const char *instance,
			    const char *worklet_id);

#endif
