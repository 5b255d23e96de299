/*
 * DESIGN: one container per run (create, start, follow, remove) rather
 * than a long-lived one reused with exec: nothing survives between runs
 * but the working tree and the CLI's config dir, and a dead workletd
 * leaves at most one container per worklet, found by its labels. Every
 * function owns its Docker client; any thread may call any of them.
 */
#include "controller/agent_sandbox.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "controller/docker_client.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/timeutil.h"
#include "specs/worklet.h"
#include "specs/core/banned.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define TMPFS_OPTS "rw,nosuid,nodev,size=512m,mode=1777"
#define KEY_TMPFS_OPTS                                                         \
	"rw,noexec,nosuid,nodev,size=64k,mode=0700,uid=1000,gid=1000"

/*
 * The container's command: sh -c SUPERVISOR worklet-agent <CLI argv>.
 * fd 3 is the lease (workletd's attach); the first line on it is the key,
 * written with the shell's own printf (no process sees it in its argv).
 * When fd 3 ends, the CLI gets SIGTERM, then SIGKILL; when the CLI ends,
 * so does the shell, and with it the container (docker-init exits with
 * its child).
 */
static const char supervisor[] =
	"exec 3<&0 0</dev/null\n"
	"IFS= read -r key <&3 || { echo 'worklet: the agent sandbox got no "
	"key line (workletd went away)' >&2; exit 125; }\n"
	"if [ -n \"$key\" ]; then\n"
	"  (umask 077 && printf '%s' \"$key\" > " WL_AGENT_SANDBOX_KEY_FILE
	") || exit 125\n"
	"fi\n"
	"key=\n"
	"\"$@\" 3<&- &\n"
	"child=$!\n"
	"{ cat <&3 >/dev/null; kill -TERM \"$child\" 2>/dev/null; "
	"sleep " STR(
		WL_AGENT_SANDBOX_LEASE_S) "; kill -KILL \"$child\" "
					  "2>/dev/null; } &\n"
					  "watcher=$!\n"
					  "exec 3<&-\n"
					  "wait \"$child\"\n"
					  "rc=$?\n"
					  "kill \"$watcher\" 2>/dev/null\n"
					  "rm -f " WL_AGENT_SANDBOX_KEY_FILE
					  "\n"
					  "exit \"$rc\"\n";
#define LOG_MAX_SIZE "50m"
#define STDERR_TAIL_LINES 50
#define EXIT_WAIT_MS 10000 /* the stream ended: the exit follows soon */
#define EXIT_POLL_MS 100
#define NAME_MAX_LEN 128

/* Names and specs */

int wl_agent_sandbox_name(char *out, size_t n, const char *instance,
			  const char *worklet_id)
{
	int len = snprintf(out, n, "%s-agent-%s", instance, worklet_id);

	if (len < 0 || (size_t)len >= n) {
		wl_error_set("agent container name for '%s' is too long",
			     worklet_id);
		return WL_EINVALID;
	}
	return 0;
}

static int add_strings(cJSON *obj, const char *key, const char *const *v)
{
	cJSON *a = cJSON_AddArrayToObject(obj, key);

	for (size_t i = 0; a && v && v[i]; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(v[i])))
			return -1;
	return a ? 0 : -1;
}

static int add_bind(cJSON *binds, const char *host, const char *inside,
		    const char *mode)
{
	struct wl_buf b;
	int ok;

	wl_buf_init(&b, 3 * PATH_MAX);
	ok = wl_buf_printf(&b, "%s:%s:%s", host, inside, mode) == 0 &&
	     cJSON_AddItemToArray(binds, cJSON_CreateString(wl_buf_cstr(&b)));
	wl_buf_release(&b);
	return ok ? 0 : -1;
}

/* A path that goes into a bind spec "host:inside:mode" as it is. */
static int check_mount_path(const char *path, const char *what)
{
	if (!path || path[0] != '/' || strchr(path, ':') || strchr(path, ',')) {
		wl_error_set("agent sandbox: the %s '%s' cannot be mounted "
			     "(an absolute path without ':' or ',' is needed)",
			     what, path ? path : "");
		return WL_EINVALID;
	}
	return 0;
}

static int add_binds(cJSON *host, const struct wl_agent_sandbox_job *job)
{
	cJSON *binds = cJSON_AddArrayToObject(host, "Binds");
	struct wl_buf git;
	struct stat st;
	int error = 0;

	if (!binds)
		return -1;
	wl_buf_init(&git, PATH_MAX);
	if (add_bind(binds, job->cwd, job->cwd, "rw") < 0 ||
	    wl_buf_printf(&git, "%s/.git", job->cwd) < 0) {
		error = -1;
		goto out;
	}
	/* the host's git runs what .git holds (hooks, config): read-only */
	if (lstat(wl_buf_cstr(&git), &st) == 0 && S_ISDIR(st.st_mode) &&
	    add_bind(binds, wl_buf_cstr(&git), wl_buf_cstr(&git), "ro") < 0)
		error = -1;
	if (!error &&
	    (add_bind(binds, job->config_dir, job->config_dir, "rw") < 0 ||
	     add_bind(binds, job->cli_path, WL_AGENT_SANDBOX_CLI, "ro") < 0))
		error = -1;
out:
	wl_buf_release(&git);
	return error;
}

static cJSON *labels(const struct wl_agent_sandbox *sb)
{
	cJSON *l = cJSON_CreateObject();

	if (!l || !cJSON_AddStringToObject(l, "worklet.managed", "true") ||
	    !cJSON_AddStringToObject(l, "worklet.instance", sb->instance) ||
	    !cJSON_AddStringToObject(l, "worklet.role", "agent") ||
	    !cJSON_AddStringToObject(l, "worklet.agent-for", sb->worklet_id) ||
	    !cJSON_AddStringToObject(l, "worklet.runner",
				     sb->runner ? sb->runner : "")) {
		cJSON_Delete(l);
		return NULL;
	}
	return l;
}

static int no_network(const struct wl_agent_sandbox *sb)
{
	return !strcmp(sb->network, "none");
}

static int host_config(cJSON *root, const struct wl_agent_sandbox *sb,
		       const struct wl_agent_sandbox_job *job)
{
	static const char *const drop[] = { "ALL", NULL };
	static const char *const secopt[] = { "no-new-privileges", NULL };
	static const char *const extra_hosts[] = { WL_AGENT_SANDBOX_HOST_ALIAS
						   ":host-gateway",
						   NULL };
	cJSON *host = cJSON_AddObjectToObject(root, "HostConfig"), *o, *log;

	if (!host || add_binds(host, job) < 0 ||
	    add_strings(host, "CapDrop", drop) < 0 ||
	    add_strings(host, "SecurityOpt", secopt) < 0 ||
	    !cJSON_AddBoolToObject(host, "Init", 1) ||
	    !cJSON_AddBoolToObject(host, "ReadonlyRootfs", 1) ||
	    !cJSON_AddBoolToObject(host, "Privileged", 0) ||
	    !(o = cJSON_AddObjectToObject(host, "Tmpfs")) ||
	    !cJSON_AddStringToObject(o, "/tmp", TMPFS_OPTS) ||
	    !cJSON_AddStringToObject(o, WL_AGENT_SANDBOX_KEY_DIR,
				     KEY_TMPFS_OPTS) ||
	    !cJSON_AddStringToObject(host, "NetworkMode", sb->network) ||
	    !(log = cJSON_AddObjectToObject(host, "LogConfig")) ||
	    !cJSON_AddStringToObject(log, "Type", "json-file") ||
	    !(o = cJSON_AddObjectToObject(log, "Config")) ||
	    !cJSON_AddStringToObject(o, "max-size", LOG_MAX_SIZE) ||
	    !cJSON_AddStringToObject(o, "max-file", "1") ||
	    !(o = cJSON_AddObjectToObject(host, "RestartPolicy")) ||
	    !cJSON_AddStringToObject(o, "Name", "no"))
		return -1;
	if (!no_network(sb) && add_strings(host, "ExtraHosts", extra_hosts) < 0)
		return -1;
	if (sb->memory_bytes > 0 &&
	    (!cJSON_AddNumberToObject(host, "Memory",
				      (double)sb->memory_bytes) ||
	     !cJSON_AddNumberToObject(host, "MemorySwap",
				      (double)sb->memory_bytes)))
		return -1;
	if (sb->nano_cpus > 0 &&
	    !cJSON_AddNumberToObject(host, "NanoCpus", (double)sb->nano_cpus))
		return -1;
	if (sb->pids_limit > 0 &&
	    !cJSON_AddNumberToObject(host, "PidsLimit", (double)sb->pids_limit))
		return -1;
	return 0;
}

/* sh -c SUPERVISOR worklet-agent argv... */
static int add_command(cJSON *root, char *const *argv)
{
	cJSON *cmd = cJSON_AddArrayToObject(root, "Cmd");
	static const char *const head[] = { "/bin/sh", "-c", supervisor,
					    "worklet-agent" };

	for (size_t i = 0; cmd && i < sizeof(head) / sizeof(head[0]); i++)
		if (!cJSON_AddItemToArray(cmd, cJSON_CreateString(head[i])))
			return -1;
	for (size_t i = 0; cmd && argv[i]; i++)
		if (!cJSON_AddItemToArray(cmd, cJSON_CreateString(argv[i])))
			return -1;
	return cmd ? 0 : -1;
}

int wl_agent_sandbox_spec(const struct wl_agent_sandbox *sb,
			  const struct wl_agent_sandbox_job *job, char **out)
{
	char user[32];
	cJSON *root = NULL, *l;
	int error;

	*out = NULL;
	if (!sb->image || !*sb->image || !sb->network || !*sb->network ||
	    !sb->instance || !sb->worklet_id || !job->argv || !job->argv[0]) {
		wl_error_set("agent sandbox: image, network, instance, worklet "
			     "and command are required");
		return WL_EINVALID;
	}
	/* one line on the container's stdin: the key */
	if (job->secret && strpbrk(job->secret, "\r\n")) {
		wl_error_set("agent sandbox: the model API key "
			     "(ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN) "
			     "contains a line break");
		return WL_EINVALID;
	}
	if ((error = check_mount_path(job->cwd, "working tree")) < 0 ||
	    (error = check_mount_path(job->config_dir, "config dir")) < 0 ||
	    (error = check_mount_path(job->cli_path, "CLI binary")) < 0)
		return error;
	snprintf(user, sizeof(user), "%d:%d", WL_AGENT_SANDBOX_UID,
		 WL_AGENT_SANDBOX_GID);
	if (!(root = cJSON_CreateObject()) ||
	    !cJSON_AddStringToObject(root, "Image", sb->image) ||
	    !cJSON_AddStringToObject(root, "User", user) ||
	    !cJSON_AddStringToObject(root, "Hostname",
				     WL_AGENT_SANDBOX_HOSTNAME) ||
	    !cJSON_AddStringToObject(root, "WorkingDir", job->cwd) ||
	    add_command(root, job->argv) < 0 ||
	    add_strings(root, "Env", (const char *const *)job->envp) < 0 ||
	    !cJSON_AddArrayToObject(root, "Entrypoint") ||
	    !cJSON_AddBoolToObject(root, "Tty", 0) ||
	    /* stdin: the key, then the lease (see the header) */
	    !cJSON_AddBoolToObject(root, "OpenStdin", 1) ||
	    !cJSON_AddBoolToObject(root, "StdinOnce", 1) ||
	    !cJSON_AddBoolToObject(root, "AttachStdin", 1) ||
	    !(l = labels(sb)) || !cJSON_AddItemToObject(root, "Labels", l) ||
	    host_config(root, sb, job) < 0 ||
	    !(*out = cJSON_PrintUnformatted(root))) {
		wl_error_set("out of memory");
		error = WL_ERROR;
	}
	cJSON_Delete(root);
	return error;
}

/* URLs */

static int is_loopback_host(const char *h, size_t len)
{
	int dots = 0;

	if ((len == 9 && !strncasecmp(h, "localhost", 9)) ||
	    (len == 5 && !strncmp(h, "[::1]", 5)))
		return 1;
	if (len < 4 || strncmp(h, "127.", 4))
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (h[i] == '.')
			dots++;
		else if (h[i] < '0' || h[i] > '9')
			return 0;
	}
	return dots == 3;
}

int wl_agent_sandbox_url(const char *url, char *out, size_t n)
{
	const char *host = strstr(url, "://"), *end, *at;
	size_t len;
	int w;

	if (host) {
		host += 3;
		end = host + strcspn(host, "/?#");
		/* userinfo@ */
		at = memchr(host, '@', (size_t)(end - host));
		if (at)
			host = at + 1;
		if (*host == '[') {
			const char *close =
				memchr(host, ']', (size_t)(end - host));

			len = close ? (size_t)(close + 1 - host) : 0;
		} else {
			len = strcspn(host, ":/?#");
		}
		if (len && is_loopback_host(host, len)) {
			w = snprintf(out, n, "%.*s%s%s", (int)(host - url), url,
				     WL_AGENT_SANDBOX_HOST_ALIAS, host + len);
			if (w < 0 || (size_t)w >= n)
				goto too_long;
			return 1;
		}
	}
	w = snprintf(out, n, "%s", url);
	if (w < 0 || (size_t)w >= n)
		goto too_long;
	return 0;
too_long:
	wl_error_set("ANTHROPIC_BASE_URL is too long");
	return WL_EINVALID;
}

/* Ownership */

static __thread const char *skip_dir; /* nftw has no context argument */
static __thread int chown_errno;

static int chown_entry(const char *path, const struct stat *st, int type,
		       struct FTW *ftw)
{
	(void)st;
	if (ftw->level == 0)
		return FTW_CONTINUE; /* the top: see wl_agent_sandbox_prepare */
	if (type == FTW_D && skip_dir && !strcmp(path, skip_dir))
		return FTW_SKIP_SUBTREE;
	if (lchown(path, WL_AGENT_SANDBOX_UID, WL_AGENT_SANDBOX_GID) < 0 &&
	    !chown_errno)
		chown_errno = errno;
	return FTW_CONTINUE;
}

static int chown_tree(const char *root, const char *skip)
{
	char eb[128];
	int rc;

	skip_dir = skip;
	chown_errno = 0;
	rc = nftw(root, chown_entry, 32, FTW_PHYS | FTW_ACTIONRETVAL);
	skip_dir = NULL;
	if (rc < 0 || chown_errno) {
		wl_error_set("agent sandbox: cannot hand '%s' to uid %d: %s",
			     root, WL_AGENT_SANDBOX_UID,
			     strerror_r(rc < 0 ? errno : chown_errno, eb,
					sizeof(eb)));
		return WL_ERROR;
	}
	return 0;
}

int wl_agent_sandbox_prepare(const char *cwd, const char *config_dir)
{
	char git[PATH_MAX], eb[128];
	int error;

	if (snprintf(git, sizeof(git), "%s/.git", cwd) >= (int)sizeof(git)) {
		wl_error_set("agent sandbox: path too long");
		return WL_EINVALID;
	}
	/* the top stays root's (libgit2 checks its owner), group-writable */
	if (chown(cwd, 0, WL_AGENT_SANDBOX_GID) < 0 || chmod(cwd, 02775) < 0 ||
	    chown(config_dir, WL_AGENT_SANDBOX_UID, WL_AGENT_SANDBOX_GID) < 0) {
		wl_error_set("agent sandbox: cannot prepare '%s': %s", cwd,
			     strerror_r(errno, eb, sizeof(eb)));
		return WL_ERROR;
	}
	if ((error = chown_tree(cwd, git)) < 0 ||
	    (error = chown_tree(config_dir, NULL)) < 0)
		return error;
	return 0;
}

/*
 * Force-remove and wait until it is gone: another thread (the resync, a
 * recovery) may be removing it already ("removal ... in progress"), and
 * the caller restores the tree only once nothing can write to it.
 */
static int remove_and_wait(struct wl_docker *d, const char *ref)
{
	int64_t until = wl_time_mono_ms() + EXIT_WAIT_MS;
	struct wl_docker_container c;
	int error = wl_docker_container_remove(d, ref), found;

	for (;;) {
		memset(&c, 0, sizeof(c));
		found = wl_docker_container_inspect(d, ref, &c);
		wl_docker_container_release(&c);
		if (found == WL_ENOTFOUND)
			return 0;
		if (wl_time_mono_ms() >= until)
			break;
		usleep(EXIT_POLL_MS * 1000);
	}
	if (error == 0) {
		wl_error_set("agent container '%s' is still there", ref);
		error = WL_ERROR;
	}
	return error;
}

/* Runs */

struct follow_ctx {
	const struct wl_agent_sandbox_job *job;
	int cancelled;
};

static void on_output(void *arg, const char *data, size_t len)
{
	struct follow_ctx *f = arg;

	if (f->job->on_stdout)
		f->job->on_stdout(f->job->ctx, data, len);
}

static int should_stop(void *arg)
{
	struct follow_ctx *f = arg;

	if (f->job->cancelled && f->job->cancelled(f->job->ctx))
		f->cancelled = 1;
	return f->cancelled;
}

static int ensure_network(struct wl_docker *d,
			  const struct wl_agent_sandbox *sb)
{
	struct wl_kvlist l = { 0 }, opts = { 0 };
	int error = WL_ERROR;

	/* Docker's own networks exist already and cannot be created */
	if (no_network(sb) || !strcmp(sb->network, "bridge") ||
	    !strcmp(sb->network, "host") || !strcmp(sb->network, "default"))
		return 0;
	/* the agents of different worklets share it but cannot talk */
	if (wl_kvlist_set(&l, "worklet.managed", "true") == 0 &&
	    wl_kvlist_set(&l, "worklet.instance", sb->instance) == 0 &&
	    wl_kvlist_set(&l, "worklet.role", "agent") == 0 &&
	    wl_kvlist_set(&opts, "com.docker.network.bridge.enable_icc",
			  "false") == 0)
		error = wl_docker_network_ensure(d, sb->network, &l, &opts);
	wl_kvlist_release(&l);
	wl_kvlist_release(&opts);
	return error;
}

/* The exit code once the container has stopped (the stream ended). */
static void wait_exit(struct wl_docker *d, const char *id,
		      struct wl_agent_sandbox_exit *ex)
{
	int64_t until = wl_time_mono_ms() + EXIT_WAIT_MS;
	struct wl_docker_container c;

	for (;;) {
		memset(&c, 0, sizeof(c));
		if (wl_docker_container_inspect(d, id, &c) < 0)
			return;
		if (!c.running) {
			ex->exit_code = c.exit_code;
			ex->oom_killed = c.oom_killed;
			wl_docker_container_release(&c);
			return;
		}
		wl_docker_container_release(&c);
		if (wl_time_mono_ms() >= until)
			return;
		usleep(EXIT_POLL_MS * 1000);
	}
}

static void stderr_tail(struct wl_docker *d, const char *id,
			const struct wl_agent_sandbox_job *job)
{
	struct wl_buf b;

	wl_buf_init(&b, 1 << 20);
	if (wl_docker_container_logs_stream(d, id, WL_DOCKER_STDERR,
					    STDERR_TAIL_LINES, &b) == 0 &&
	    b.len && job->on_stderr)
		job->on_stderr(job->ctx, b.ptr, b.len);
	wl_buf_release(&b);
}

static int create(struct wl_docker *d, const struct wl_agent_sandbox *sb,
		  const char *name, const char *body, char **id)
{
	int error = wl_docker_container_create_json(d, name, body, id);

	if (error == WL_EEXISTS) {
		/* left by an earlier run that could not remove it */
		remove_and_wait(d, name);
		error = wl_docker_container_create_json(d, name, body, id);
	}
	if (error == WL_ENOTFOUND)
		wl_error_set("the image '%s' does not exist: build it "
			     "(hack/setup.sh builds worklet-local/node:18) or "
			     "set WORKLET_AGENT_IMAGE",
			     sb->image);
	return error;
}

/*
 * The first line of the container's stdin: the key (or nothing). It waits
 * in the attach stream until the supervisor reads it.
 */
static int hand_key(int fd, const char *secret)
{
	size_t len = secret ? strlen(secret) : 0, off = 0;
	char *line = NULL, eb[128];
	int error = 0;

	if (!(line = malloc(len + 1))) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	memcpy(line, secret ? secret : "", len);
	line[len++] = '\n';
	while (off < len) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			wl_error_set("cannot hand the key to the container: %s",
				     strerror_r(errno, eb, sizeof(eb)));
			error = WL_EUNAVAIL;
			break;
		}
		off += (size_t)n;
	}
	explicit_bzero(line, len);
	free(line);
	return error;
}

int wl_agent_sandbox_run(const struct wl_agent_sandbox *sb,
			 const struct wl_agent_sandbox_job *job,
			 struct wl_agent_sandbox_exit *ex)
{
	struct follow_ctx fc = { job, 0 };
	struct wl_docker_follow f;
	struct wl_docker *d = NULL;
	char name[NAME_MAX_LEN], *body = NULL, *id = NULL;
	int error, lease = -1;

	memset(ex, 0, sizeof(*ex));
	ex->exit_code = -1;
	if ((error = wl_agent_sandbox_name(name, sizeof(name), sb->instance,
					   sb->worklet_id)) < 0 ||
	    (error = wl_agent_sandbox_spec(sb, job, &body)) < 0 ||
	    (error = wl_docker_new(&d, sb->docker_host)) < 0 ||
	    (error = ensure_network(d, sb)) < 0 ||
	    (error = create(d, sb, name, body, &id)) < 0 ||
	    /* the lease first: a container never runs without it */
	    (error = wl_docker_container_attach_stdin(d, id, &lease)) < 0 ||
	    (error = hand_key(lease, job->secret)) < 0 ||
	    (error = wl_docker_container_start(d, id)) < 0)
		goto out;

	memset(&f, 0, sizeof(f));
	f.streams = WL_DOCKER_STDOUT;
	f.cb = on_output;
	f.ctx = &fc;
	f.stop = should_stop;
	f.deadline_ms = job->deadline_ms;
	error = wl_docker_container_follow(d, id, &f);
	if (error == WL_ETIMEOUT) {
		ex->timed_out = 1;
	} else if (error == WL_ECANCELED) {
		ex->cancelled = 1;
	} else {
		/* the stream ended: the container stopped (or the socket
		   failed: then the exit code stays unknown) */
		wait_exit(d, id, ex);
		stderr_tail(d, id, job);
	}
	error = 0;
out:
	if (error < 0)
		wl_error_prefix("agent sandbox");
	if (lease >= 0)
		close(lease); /* the supervisor stops the CLI, if still going */
	if (d && id) {
		/* force: kills a run that is still going (timeout, cancel) */
		if (wl_docker_container_remove(d, id) < 0 && error == 0) {
			wl_error_set("agent sandbox: %s", wl_error_last());
			error = WL_ERROR;
		}
	}
	free(id);
	free(body);
	wl_docker_free(d);
	return error;
}

/* Clean-up */

int wl_agent_sandbox_gc(const char *docker_host, const char *instance,
			const char *keep_runner)
{
	struct wl_docker_container *cs = NULL;
	struct wl_docker *d = NULL;
	char filter[128];
	size_t n = 0;
	int error, removed = 0;

	snprintf(filter, sizeof(filter),
		 "worklet.instance=%s,worklet.role=agent", instance);
	if ((error = wl_docker_new(&d, docker_host)) < 0 ||
	    (error = wl_docker_containers_list(d, filter, &cs, &n)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *runner =
			wl_kvlist_get(&cs[i].labels, "worklet.runner");

		if (keep_runner && runner && !strcmp(runner, keep_runner))
			continue;
		if (remove_and_wait(d, cs[i].id) == 0)
			removed++;
	}
	error = removed;
out:
	wl_docker_containers_free(cs, n);
	wl_docker_free(d);
	return error;
}

int wl_agent_sandbox_remove(const char *docker_host, const char *instance,
			    const char *worklet_id)
{
	struct wl_docker *d = NULL;
	char name[NAME_MAX_LEN];
	int error;

	if ((error = wl_agent_sandbox_name(name, sizeof(name), instance,
					   worklet_id)) < 0 ||
	    (error = wl_docker_new(&d, docker_host)) < 0)
		goto out;
	error = remove_and_wait(d, name);
out:
	wl_docker_free(d);
	return error;
}
