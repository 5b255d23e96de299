/*
 * DESIGN: any thread may call any function here, several at once. Each
 * call owns its argv, environment, pipes, buffers and child; nothing is
 * static and mutable, and only thread-safe libc calls are used (strerror_r,
 * sigabbrev_np, realpath with a NULL buffer). Between fork() and exec the
 * child calls only async-signal-safe functions: everything it needs
 * (argv, envp, the absolute path of the binary) is built before fork().
 *
 * The child: its own process group, cwd = the working tree, stdin from
 * /dev/null, stdout and stderr to pipes, every other descriptor closed
 * (workletd holds sockets that must not leak into the agent), signal
 * dispositions and mask reset (an ignored SIGTERM or SIGPIPE in workletd
 * would otherwise survive exec). A CLOEXEC "failure pipe" tells the parent
 * whether exec succeeded (EOF) or which step failed and why (errno), so a
 * missing binary is not confused with a CLI that exits 127.
 *
 * The parent polls both pipes at most POLL_MS apart and checks the
 * deadline and the cancel callback on every turn. The child's exit is
 * noticed with waitid(WNOWAIT): the zombie keeps its pid (= the process
 * group id) reserved while the rest of the group is sent SIGKILL, so that
 * signal cannot reach an unrelated group that reused the id.
 */
#include "controller/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/hash.h"
#include "specs/core/timeutil.h"
#include "specs/core/banned.h"

#define DEFAULT_CLAUDE "claude"
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

#define LINE_BYTES_MAX (8 * 1024 * 1024) /* one stdout line (JSON event) */
#define STDERR_TAIL_MAX 4096
#define READ_CHUNK (64 * 1024)
#define POLL_MS 100
#define TERM_GRACE_MS 2000 /* SIGTERM, then SIGKILL after this */
#define DRAIN_MS 1000	   /* read what is left after the child exited */
#define CHECK_TIMEOUT_MS 20000
#define VERSION_MAX 4096
#define QUOTE_MAX 512	 /* of result text or stderr quoted in messages */
#define MESSAGE_MAX 4096 /* of res->error */
#define STRING_MAX (1024 * 1024)
#define ARG_BYTES_MAX (128 * 1024 - 1) /* Linux MAX_ARG_STRLEN minus NUL */
#define REDACT_MIN 8	    /* shorter env values are not worth redacting */
#define PROJECT_KEY_MAX 200 /* the CLI truncates project dir names here */
#define UUID_LEN 36

/* A NULL-terminated vector of owned strings (argv, envp). */
struct strv {
	char **v;
	size_t n;
	size_t cap;
};

/* A running child and the parent's ends of its pipes (-1 once closed). */
struct child {
	pid_t pid;
	int out;
	int err;
};

/* What the child reports through the failure pipe before it exits 127. */
struct child_failure {
	int stage;
	int err;
};

enum { STAGE_SETUP = 1, STAGE_PGID, STAGE_CHDIR, STAGE_EXEC };

/* One supervised run: inputs, then what happened. */
struct watch {
	int64_t deadline; /* monotonic ms; 0: none */
	int (*cancelled)(void *ctx);
	void *ctx;
	void (*on_line)(void *arg, const char *line, size_t len);
	void *arg;
	char *chunk; /* READ_CHUNK bytes, allocated before fork */

	struct wl_buf line; /* the stdout line being received */
	int skipping;	    /* the current line is over the limit */
	size_t skipped;	    /* lines dropped for being too long */
	struct wl_buf tail; /* the last STDERR_TAIL_MAX bytes of stderr */

	int reaped; /* status is valid */
	int status;
	int timed_out;
	int was_cancelled;
};

/* The result event, as far as the run has seen it. */
struct run_state {
	const struct wl_agent_opts *o;
	int seen_result;
	/* what the last result event said (wl_agent_take_result) */
	struct wl_agent_result r;
};

static const char *errstr(int err, char *buf, size_t n)
{
	/* _GNU_SOURCE: the GNU strerror_r, which returns the string */
	return strerror_r(err, buf, n);
}

static void set_errno_error(const char *what, const char *subject, int err)
{
	char eb[128];

	wl_error_set("%s '%s': %s", what, subject, errstr(err, eb, sizeof(eb)));
}

static void not_found_error(const char *claude)
{
	wl_error_set("the Claude Code CLI '%s' was not found: install it "
		     "(hack/setup.sh does) or set WORKLET_CLAUDE_BIN",
		     claude);
}

/* strv */

static void strv_release(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
	s->cap = 0;
}

/* Append an owned string (freed here on failure). */
static int strv_take(struct strv *s, char *str)
{
	if (!str)
		goto oom;
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			goto oom;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
	return 0;
oom:
	free(str);
	wl_error_set("out of memory");
	return WL_ERROR;
}

static int strv_add(struct strv *s, const char *str)
{
	return strv_take(s, strdup(str));
}

static int strv_addf(struct strv *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int strv_addf(struct strv *s, const char *fmt, ...)
{
	struct wl_buf b;
	va_list ap;
	int error;

	wl_buf_init(&b, STRING_MAX);
	va_start(ap, fmt);
	error = wl_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (error < 0) {
		wl_buf_release(&b);
		return error;
	}
	return strv_take(s, wl_buf_detach(&b, NULL));
}

/* Set NAME=VALUE in an environment, replacing an entry of the same name. */
static int env_put(struct strv *env, const char *entry)
{
	size_t name_len = strcspn(entry, "=");

	for (size_t i = 0; i < env->n; i++) {
		if (!strncmp(env->v[i], entry, name_len) &&
		    env->v[i][name_len] == '=') {
			char *copy = strdup(entry);

			if (!copy) {
				wl_error_set("out of memory");
				return WL_ERROR;
			}
			free(env->v[i]);
			env->v[i] = copy;
			return 0;
		}
	}
	return strv_add(env, entry);
}

static const char *env_get(const struct strv *env, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < env->n; i++)
		if (!strncmp(env->v[i], name, len) && env->v[i][len] == '=')
			return env->v[i] + len + 1;
	return NULL;
}

/* The variables every run of the CLI gets, whatever workletd has. */
static int env_base(struct strv *env)
{
	const char *path = getenv("PATH");

	if (strv_addf(env, "PATH=%s", path && *path ? path : DEFAULT_PATH) ||
	    strv_add(env, "LANG=C.UTF-8") ||
	    strv_add(env, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1") ||
	    strv_add(env, "DISABLE_AUTOUPDATER=1") ||
	    strv_add(env, "DISABLE_TELEMETRY=1") ||
	    strv_add(env, "DISABLE_ERROR_REPORTING=1"))
		return WL_ERROR;
	return 0;
}

/* Options */

static int is_uuid(const char *s)
{
	for (int i = 0; i < UUID_LEN; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F'))) {
			return 0;
		}
	}
	return s[UUID_LEN] == '\0';
}

static int require_string(const char *value, const char *name)
{
	if (!value || !*value) {
		wl_error_set("option '%s' is required", name);
		return WL_EINVALID;
	}
	return 0;
}

static int require_abs_path(const char *value, const char *name)
{
	int error;

	if ((error = require_string(value, name)) < 0)
		return error;
	if (value[0] != '/') {
		wl_error_set("option '%s' must be an absolute path", name);
		return WL_EINVALID;
	}
	return 0;
}

static int check_arg_len(const char *value, const char *name)
{
	if (value && strlen(value) > ARG_BYTES_MAX) {
		wl_error_set("option '%s' is longer than %d bytes", name,
			     ARG_BYTES_MAX);
		return WL_EINVALID;
	}
	return 0;
}

/* A value that the CLI's option parser would take for an option. */
static int check_not_option(const char *value, const char *name)
{
	if (value && (value[0] == '-' || !value[0])) {
		wl_error_set("option '%s' must not be empty or start with '-'",
			     name);
		return WL_EINVALID;
	}
	return 0;
}

/*
 * Messages about env entries name the entry by index or by name, never
 * quote the value: it is likely an API key.
 */
static int check_env_entry(const char *entry, size_t i)
{
	static const char *const reserved[][2] = {
		{ "HOME", "run_dir" },
		{ "TMPDIR", "run_dir" },
		{ "CLAUDE_CONFIG_DIR", "config_dir" },
	};
	size_t len = 0;

	while ((entry[len] >= 'A' && entry[len] <= 'Z') ||
	       (entry[len] >= 'a' && entry[len] <= 'z') || entry[len] == '_' ||
	       (len > 0 && entry[len] >= '0' && entry[len] <= '9'))
		len++;
	if (len == 0 || entry[len] != '=') {
		wl_error_set("option 'env': entry %zu is not NAME=VALUE", i);
		return WL_EINVALID;
	}
	for (size_t r = 0; r < sizeof(reserved) / sizeof(reserved[0]); r++) {
		if (strlen(reserved[r][0]) == len &&
		    !strncmp(entry, reserved[r][0], len)) {
			wl_error_set("option 'env': '%s' is set from option "
				     "'%s'",
				     reserved[r][0], reserved[r][1]);
			return WL_EINVALID;
		}
	}
	if (strlen(entry) > ARG_BYTES_MAX) {
		wl_error_set("option 'env': '%.*s' is longer than %d bytes",
			     (int)len, entry, ARG_BYTES_MAX);
		return WL_EINVALID;
	}
	return 0;
}

static int check_opts(const struct wl_agent_opts *o)
{
	struct stat st;
	int error;

	if (!o) {
		wl_error_set("no options given");
		return WL_EINVALID;
	}
	if ((error = require_abs_path(o->cwd, "cwd")) < 0 ||
	    (error = require_string(o->prompt, "prompt")) < 0 ||
	    (error = check_arg_len(o->prompt, "prompt")) < 0 ||
	    (error = require_string(o->session_id, "session_id")) < 0 ||
	    (error = require_abs_path(o->config_dir, "config_dir")) < 0 ||
	    (error = require_abs_path(o->run_dir, "run_dir")) < 0 ||
	    (error = check_not_option(o->model, "model")) < 0 ||
	    (error = check_arg_len(o->model, "model")) < 0 ||
	    (error = check_not_option(o->allowed_tools, "allowed_tools")) < 0 ||
	    (error = check_arg_len(o->allowed_tools, "allowed_tools")) < 0 ||
	    (error = check_arg_len(o->system_prompt, "system_prompt")) < 0)
		return error;
	if (o->claude && !*o->claude) {
		wl_error_set("option 'claude' must not be empty");
		return WL_EINVALID;
	}
	if (!is_uuid(o->session_id)) {
		wl_error_set("option 'session_id': '%.64s' is not a UUID",
			     o->session_id);
		return WL_EINVALID;
	}
	if (o->max_turns <= 0) {
		wl_error_set("option 'max_turns' must be greater than 0");
		return WL_EINVALID;
	}
	if (o->timeout_ms < 0) {
		wl_error_set("option 'timeout_ms' must not be negative");
		return WL_EINVALID;
	}
	for (size_t i = 0; o->env && o->env[i]; i++)
		if ((error = check_env_entry(o->env[i], i)) < 0)
			return error;
	if (stat(o->cwd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		wl_error_set("option 'cwd': '%s' is not a directory", o->cwd);
		return WL_EINVALID;
	}
	return 0;
}

/*
 * Whether a tool list names Bash: "Read,Edit,Bash(git log:*)" does,
 * "Read BashOutput" does not. Entries are separated by commas or spaces;
 * a rule in parentheses may contain either.
 */
static int tools_allow_bash(const char *tools)
{
	const char *p = tools;

	while (p && *p) {
		const char *start;
		size_t len;

		p += strspn(p, ", ");
		start = p;
		while (*p && *p != ',' && *p != ' ') {
			const char *close;

			if (*p != '(') {
				p++;
				continue;
			}
			close = strchr(p, ')');
			p = close ? close + 1 : p + strlen(p);
		}
		len = (size_t)(p - start);
		if ((len == 4 && !strncmp(start, "Bash", 4)) ||
		    (len > 5 && !strncmp(start, "Bash(", 5)))
			return 1;
	}
	return 0;
}

/*
 * The model API key of a sandboxed run (ANTHROPIC_API_KEY, else
 * ANTHROPIC_AUTH_TOKEN, from o->env), or NULL: it reaches the CLI through
 * the container's stdin and the CLI's apiKeyHelper, never its environment.
 */
static const char *sandbox_secret(const struct wl_agent_opts *o)
{
	static const char *const names[] = { "ANTHROPIC_API_KEY=",
					     "ANTHROPIC_AUTH_TOKEN=" };

	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
		for (size_t i = 0; o->env && o->env[i]; i++)
			if (!strncmp(o->env[i], names[n], strlen(names[n])) &&
			    o->env[i][strlen(names[n])])
				return o->env[i] + strlen(names[n]);
	return NULL;
}

static int is_secret_entry(const char *entry)
{
	return !strncmp(entry, "ANTHROPIC_API_KEY=", 18) ||
	       !strncmp(entry, "ANTHROPIC_AUTH_TOKEN=", 21);
}

/* settings: a --settings JSON for the CLI, or NULL */
static int build_argv(struct strv *argv, const struct wl_agent_opts *o,
		      const char *claude, const char *settings)
{
	/*
	 * The prompt is a positional argument after the boolean -p. One
	 * that starts with '-' ("- fix the header") would be parsed as an
	 * option, so it goes after "--" at the end instead.
	 */
	int dashed = o->prompt[0] == '-';

	if (strv_add(argv, claude) || strv_add(argv, "-p") ||
	    (!dashed && strv_add(argv, o->prompt)) ||
	    strv_add(argv, "--output-format") ||
	    strv_add(argv, "stream-json") || strv_add(argv, "--verbose") ||
	    strv_add(argv, "--permission-mode") ||
	    strv_add(argv, "acceptEdits") ||
	    strv_add(argv, o->resume ? "--resume" : "--session-id") ||
	    strv_add(argv, o->session_id) || strv_add(argv, "--max-turns") ||
	    strv_addf(argv, "%d", o->max_turns))
		return WL_ERROR;
	if (o->model && (strv_add(argv, "--model") || strv_add(argv, o->model)))
		return WL_ERROR;
	if (o->system_prompt && *o->system_prompt &&
	    (strv_add(argv, "--append-system-prompt") ||
	     strv_add(argv, o->system_prompt)))
		return WL_ERROR;
	if (o->allowed_tools && (strv_add(argv, "--allowedTools") ||
				 strv_add(argv, o->allowed_tools)))
		return WL_ERROR;
	/* the product rule: no Bash unless configured */
	if (!tools_allow_bash(o->allowed_tools) &&
	    (strv_add(argv, "--disallowedTools") || strv_add(argv, "Bash")))
		return WL_ERROR;
	if (settings &&
	    (strv_add(argv, "--settings") || strv_add(argv, settings)))
		return WL_ERROR;
	if (dashed && (strv_add(argv, "--") || strv_add(argv, o->prompt)))
		return WL_ERROR;
	return 0;
}

static int build_env(struct strv *env, const struct wl_agent_opts *o)
{
	if (env_base(env) || strv_addf(env, "HOME=%s", o->run_dir) ||
	    strv_addf(env, "TMPDIR=%s/tmp", o->run_dir) ||
	    strv_addf(env, "CLAUDE_CONFIG_DIR=%s", o->config_dir))
		return WL_ERROR;
	for (size_t i = 0; o->env && o->env[i]; i++)
		if (env_put(env, o->env[i]) < 0)
			return WL_ERROR;
	return 0;
}

static int make_dirs(const struct wl_agent_opts *o)
{
	struct wl_buf tmp;
	int error;

	wl_buf_init(&tmp, PATH_MAX);
	if ((error = wl_fs_mkdir_p(o->config_dir, 0700)) < 0 ||
	    (error = wl_fs_mkdir_p(o->run_dir, 0700)) < 0)
		goto out;
	if (wl_buf_printf(&tmp, "%s/tmp", o->run_dir) < 0) {
		wl_error_set("option 'run_dir' is too long");
		error = WL_EINVALID;
		goto out;
	}
	error = wl_fs_mkdir_p(wl_buf_cstr(&tmp), 0700);
out:
	wl_buf_release(&tmp);
	return error;
}

/*
 * The absolute path to exec: the child changes directory first, and a
 * name is looked up in the PATH the child gets (execvp would use ours).
 * Relative PATH entries are skipped.
 */
static int resolve_binary(char **out, const char *claude, const char *path)
{
	struct wl_buf b;
	struct stat st;
	const char *p;
	int error = 0;

	*out = NULL;
	wl_buf_init(&b, PATH_MAX);
	if (strchr(claude, '/')) {
		char cwd[PATH_MAX];

		if (claude[0] != '/') {
			if (!getcwd(cwd, sizeof(cwd))) {
				set_errno_error("cannot resolve", claude,
						errno);
				error = WL_ERROR;
				goto out;
			}
			if (wl_buf_printf(&b, "%s/", cwd) < 0)
				goto too_long;
		}
		if (wl_buf_puts(&b, claude) < 0)
			goto too_long;
		goto found;
	}
	for (p = path ? path : ""; *p;) {
		size_t len = strcspn(p, ":");

		if (len > 0 && p[0] == '/') {
			wl_buf_reset(&b);
			if (wl_buf_printf(&b, "%.*s/%s", (int)len, p, claude) ==
				    0 &&
			    stat(wl_buf_cstr(&b), &st) == 0 &&
			    S_ISREG(st.st_mode) &&
			    access(wl_buf_cstr(&b), X_OK) == 0)
				goto found;
		}
		p += len;
		if (*p == ':')
			p++;
	}
	not_found_error(claude);
	error = WL_ENOTFOUND;
	goto out;
too_long:
	wl_error_set("the path of the Claude Code CLI '%s' is too long",
		     claude);
	error = WL_EINVALID;
	goto out;
found:
	if (!(*out = wl_buf_detach(&b, NULL))) {
		wl_error_set("out of memory");
		error = WL_ERROR;
	}
out:
	wl_buf_release(&b);
	return error;
}

/* The child, between fork() and exec: async-signal-safe calls only. */

static void child_fail(int fd, int stage) __attribute__((noreturn));

static void child_fail(int fd, int stage)
{
	struct child_failure f;
	ssize_t n;

	f.stage = stage;
	f.err = errno;
	do {
		n = write(fd, &f, sizeof(f));
	} while (n < 0 && errno == EINTR);
	_exit(127);
}

/* Move a descriptor off 0..2, so the dup2() calls below cannot clobber it. */
static int above_stdio(int fd)
{
	return fd > 2 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static void close_others(int keep, long max_fd)
{
#ifdef CLOSE_RANGE_CLOEXEC
	/* everything from 3 up closes at exec, the failure pipe included */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
#endif
	for (long fd = 3; fd < max_fd; fd++)
		if (fd != keep)
			close((int)fd);
}

static void child_exec(const char *exe, char **argv, char **envp,
		       const char *cwd, int in, int out, int err, int fail,
		       long max_fd, pid_t parent) __attribute__((noreturn));

static void child_exec(const char *exe, char **argv, char **envp,
		       const char *cwd, int in, int out, int err, int fail,
		       long max_fd, pid_t parent)
{
	struct sigaction sa;
	sigset_t none;

	if ((fail = above_stdio(fail)) < 0)
		_exit(127);
	if ((in = above_stdio(in)) < 0 || (out = above_stdio(out)) < 0 ||
	    (err = above_stdio(err)) < 0)
		child_fail(fail, STAGE_SETUP);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL); /* fails for KILL, STOP: fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setpgid(0, 0) < 0)
		child_fail(fail, STAGE_PGID);
	/*
	 * If workletd dies (kill -9), the agent dies with it rather than
	 * editing a tree the next workletd restores. The signal is tied to
	 * the forking thread: workers live as long as the process.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	if (chdir(cwd) < 0)
		child_fail(fail, STAGE_CHDIR);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		child_fail(fail, STAGE_SETUP);
	close_others(fail, max_fd);
	execve(exe, argv, envp);
	child_fail(fail, STAGE_EXEC);
}

/* The parent */

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int reap(pid_t pid, int *status)
{
	pid_t r;

	do {
		r = waitpid(pid, status, 0);
	} while (r < 0 && errno == EINTR);
	return r == pid ? 0 : -1;
}

static int spawn_failed(const struct child_failure *f, const char *claude,
			const char *cwd)
{
	char eb[128];

	switch (f->stage) {
	case STAGE_CHDIR:
		set_errno_error("cannot enter the working tree", cwd, f->err);
		return WL_ERROR;
	case STAGE_EXEC:
		switch (f->err) {
		case ENOENT:
		case ENOTDIR:
		case ELOOP:
		case ENAMETOOLONG:
			not_found_error(claude);
			return WL_ENOTFOUND;
		case EACCES:
		case EPERM:
		case ENOEXEC:
		case EISDIR:
		case ETXTBSY:
		case ELIBBAD:
			wl_error_set("the Claude Code CLI '%s' cannot be run: "
				     "%s",
				     claude, errstr(f->err, eb, sizeof(eb)));
			return WL_ENOTFOUND;
		default:
			break;
		}
		break;
	default:
		break;
	}
	set_errno_error("cannot start the Claude Code CLI", claude, f->err);
	return WL_ERROR;
}

static int spawn(struct child *c, const char *exe, const char *claude,
		 char **argv, char **envp, const char *cwd)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, failp[2] = { -1, -1 };
	int devnull = -1, error = WL_ERROR;
	struct child_failure f;
	long max_fd = sysconf(_SC_OPEN_MAX);
	pid_t pid, parent = getpid();
	ssize_t n;

	c->pid = -1;
	c->out = -1;
	c->err = -1;
	if (max_fd < 0 || max_fd > 65536)
		max_fd = 65536;
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
	    pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(failp, O_CLOEXEC) < 0) {
		set_errno_error("cannot start the Claude Code CLI", claude,
				errno);
		goto out;
	}
	if ((pid = fork()) < 0) {
		set_errno_error("cannot start the Claude Code CLI", claude,
				errno);
		goto out;
	}
	if (pid == 0)
		child_exec(exe, argv, envp, cwd, devnull, outp[1], errp[1],
			   failp[1], max_fd, parent);
	/* both sides set the group, so it exists whichever runs first */
	setpgid(pid, pid);
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	close_fd(&failp[1]);
	do {
		n = read(failp[0], &f, sizeof(f));
	} while (n < 0 && errno == EINTR);
	if (n != 0) {
		int status;

		if (n != (ssize_t)sizeof(f)) {
			f.stage = STAGE_SETUP;
			f.err = n < 0 ? errno : EIO;
		}
		/* exec may have succeeded and the pgid with it: be sure */
		if (n < 0)
			kill(-pid, SIGKILL);
		reap(pid, &status);
		error = spawn_failed(&f, claude, cwd);
		goto out;
	}
	if (fcntl(outp[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(errp[0], F_SETFL, O_NONBLOCK) < 0) {
		int status;

		set_errno_error("cannot read from the Claude Code CLI", claude,
				errno);
		kill(-pid, SIGKILL);
		reap(pid, &status);
		goto out;
	}
	c->pid = pid;
	c->out = outp[0];
	c->err = errp[0];
	outp[0] = -1;
	errp[0] = -1;
	error = 0;
out:
	close_fd(&devnull);
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&failp[0]);
	close_fd(&failp[1]);
	return error;
}

static void watch_init(struct watch *w)
{
	memset(w, 0, sizeof(*w));
	wl_buf_init(&w->line, LINE_BYTES_MAX);
	wl_buf_init(&w->tail, STDERR_TAIL_MAX);
}

static void watch_release(struct watch *w)
{
	wl_buf_release(&w->line);
	wl_buf_release(&w->tail);
	free(w->chunk);
	w->chunk = NULL;
}

static void feed_stdout(struct watch *w, const char *p, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;

		if (!w->skipping && wl_buf_add(&w->line, p, seg) < 0) {
			/* over the limit (or out of memory): drop the line */
			w->skipping = 1;
			w->skipped++;
			wl_buf_reset(&w->line);
		}
		if (nl) {
			if (!w->skipping && w->on_line)
				w->on_line(w->arg, wl_buf_cstr(&w->line),
					   w->line.len);
			w->skipping = 0;
			wl_buf_reset(&w->line);
			seg++;
		}
		p += seg;
		n -= seg;
	}
}

static void feed_stderr(struct watch *w, const char *p, size_t n)
{
	if (n > STDERR_TAIL_MAX) {
		p += n - STDERR_TAIL_MAX;
		n = STDERR_TAIL_MAX;
	}
	if (w->tail.len + n > STDERR_TAIL_MAX)
		wl_buf_consume(&w->tail, w->tail.len + n - STDERR_TAIL_MAX);
	wl_buf_add(&w->tail, p, n); /* cannot exceed the max; OOM: lost */
}

static void read_ready(struct watch *w, int *fd, int is_stdout)
{
	ssize_t n = read(*fd, w->chunk, READ_CHUNK);

	if (n > 0) {
		if (is_stdout)
			feed_stdout(w, w->chunk, (size_t)n);
		else
			feed_stderr(w, w->chunk, (size_t)n);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close_fd(fd);
	}
}

/* Whether the child has exited, leaving it a zombie (not reaped). */
static int child_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno != EINTR; /* ECHILD: reaped behind our back */
	return si.si_pid == pid;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/*
 * Read the child's output until it has exited and its pipes are closed
 * (or DRAIN_MS after it exited: something outside its group may hold
 * them), enforcing the deadline and the cancel callback. Always reaps.
 */
static void supervise(struct child *c, struct watch *w)
{
	int64_t now, kill_at = 0, exited_at = 0, timeout;
	int exited = 0, killing = 0, sigkilled = 0;
	struct pollfd pfd[2];
	int *fds[2];
	nfds_t nfds;

	for (;;) {
		now = wl_time_mono_ms();
		if (!exited && !killing) {
			if (w->deadline && now >= w->deadline)
				w->timed_out = 1;
			else if (w->cancelled && w->cancelled(w->ctx))
				w->was_cancelled = 1;
			if (w->timed_out || w->was_cancelled) {
				kill(-c->pid, SIGTERM);
				killing = 1;
				kill_at = now + TERM_GRACE_MS;
			}
		}
		if (killing && !sigkilled && !exited && now >= kill_at) {
			kill(-c->pid, SIGKILL);
			sigkilled = 1;
		}
		if (!exited && child_exited(c->pid)) {
			/* grandchildren left in the group go with it */
			kill(-c->pid, SIGKILL);
			exited = 1;
			exited_at = now;
		}
		if (exited &&
		    ((c->out < 0 && c->err < 0) || now - exited_at >= DRAIN_MS))
			break;

		timeout = POLL_MS;
		if (!exited && !killing && w->deadline)
			timeout = min64(timeout, w->deadline - now);
		if (killing && !sigkilled && !exited)
			timeout = min64(timeout, kill_at - now);
		if (exited)
			timeout = min64(timeout, exited_at + DRAIN_MS - now);
		if (c->out < 0 && c->err < 0)
			timeout =
				min64(timeout, 10); /* only the exit is left */
		if (timeout < 0)
			timeout = 0;

		nfds = 0;
		if (c->out >= 0) {
			pfd[nfds].fd = c->out;
			pfd[nfds].events = POLLIN;
			fds[nfds++] = &c->out;
		}
		if (c->err >= 0) {
			pfd[nfds].fd = c->err;
			pfd[nfds].events = POLLIN;
			fds[nfds++] = &c->err;
		}
		if (poll(pfd, nfds, (int)timeout) <= 0)
			continue; /* timeout, EINTR; the checks above run */
		for (nfds_t i = 0; i < nfds; i++)
			if (pfd[i].revents)
				read_ready(w, fds[i], fds[i] == &c->out);
	}
	close_fd(&c->out);
	close_fd(&c->err);
	w->reaped = reap(c->pid, &w->status) == 0;
	c->pid = -1;
	/* a last line without a newline still counts */
	if (!w->skipping && w->line.len && w->on_line)
		w->on_line(w->arg, wl_buf_cstr(&w->line), w->line.len);
	wl_buf_reset(&w->line);
}

/* The sandbox (agent_sandbox.h): the same argv, a container's env */

static int put_sandbox_entry(struct strv *env, const struct wl_agent_opts *o,
			     const char *entry)
{
	static const char base[] = "ANTHROPIC_BASE_URL=";
	size_t n = strlen(entry) + 64;
	char *url;
	int error;

	if (strncmp(entry, base, sizeof(base) - 1) ||
	    !strcmp(o->sandbox->network, "none"))
		return env_put(env, entry);
	/* the host's loopback is not the container's */
	if (!(url = malloc(n))) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	memcpy(url, base, sizeof(base) - 1);
	error = wl_agent_sandbox_url(entry + sizeof(base) - 1,
				     url + sizeof(base) - 1,
				     n - (sizeof(base) - 1));
	if (error >= 0)
		error = env_put(env, url);
	free(url);
	return error < 0 ? error : 0;
}

static int build_env_sandbox(struct strv *env, const struct wl_agent_opts *o)
{
	if (env_base(env) || env_put(env, "PATH=" DEFAULT_PATH) ||
	    strv_add(env, "HOME=" WL_AGENT_SANDBOX_HOME) ||
	    strv_add(env, "TMPDIR=" WL_AGENT_SANDBOX_HOME) ||
	    strv_addf(env, "CLAUDE_CONFIG_DIR=%s", o->config_dir) ||
	    strv_add(env, "IS_SANDBOX=1"))
		return WL_ERROR;
	for (size_t i = 0; o->env && o->env[i]; i++)
		if (!is_secret_entry(o->env[i]) &&
		    put_sandbox_entry(env, o, o->env[i]) < 0)
			return WL_ERROR;
	return 0;
}

struct sandbox_ctx {
	struct watch *w;
	const struct wl_agent_opts *o;
};

static void sandbox_stdout(void *arg, const char *data, size_t len)
{
	feed_stdout(((struct sandbox_ctx *)arg)->w, data, len);
}

static void sandbox_stderr(void *arg, const char *data, size_t len)
{
	feed_stderr(((struct sandbox_ctx *)arg)->w, data, len);
}

static int sandbox_cancelled(void *arg)
{
	const struct wl_agent_opts *o = ((struct sandbox_ctx *)arg)->o;

	return o->cancelled && o->cancelled(o->ctx);
}

static void sandbox_put_text(struct watch *w, const char *text)
{
	feed_stderr(w, text, strlen(text));
}

/* Like spawn() + supervise(), in a container; fills w the same way. */
static int run_sandboxed(const struct wl_agent_opts *o, char **argv,
			 char **envp, const char *exe, struct watch *w)
{
	struct sandbox_ctx sc = { w, o };
	struct wl_agent_sandbox_job job;
	struct wl_agent_sandbox_exit ex;
	char *cli = realpath(exe, NULL); /* a bind source is not a link */
	int error;

	if (!cli) {
		not_found_error(exe);
		return WL_ENOTFOUND;
	}
	if ((error = wl_agent_sandbox_prepare(o->cwd, o->config_dir)) < 0)
		goto out;
	memset(&job, 0, sizeof(job));
	job.argv = argv;
	job.envp = envp;
	job.secret = sandbox_secret(o);
	job.cwd = o->cwd;
	job.config_dir = o->config_dir;
	job.cli_path = cli;
	job.deadline_ms = w->deadline;
	job.cancelled = sandbox_cancelled;
	job.on_stdout = sandbox_stdout;
	job.on_stderr = sandbox_stderr;
	job.ctx = &sc;
	if ((error = wl_agent_sandbox_run(o->sandbox, &job, &ex)) < 0)
		goto out;
	w->timed_out = ex.timed_out;
	w->was_cancelled = ex.cancelled;
	if (ex.exit_code >= 0) {
		w->reaped = 1;
		w->status = (ex.exit_code & 0xff) << 8; /* as waitpid's */
	}
	if (ex.oom_killed)
		sandbox_put_text(w, "\nthe agent sandbox ran out of memory "
				    "(WORKLET_AGENT_MEMORY)\n");
	/* a last line without a newline still counts */
	if (!w->skipping && w->line.len && w->on_line)
		w->on_line(w->arg, wl_buf_cstr(&w->line), w->line.len);
	wl_buf_reset(&w->line);
out:
	free(cli);
	return error;
}

/* Messages */

/* Append s as one line: control characters become spaces, capped. */
static void put_one_line(struct wl_buf *b, const char *s, size_t max)
{
	size_t len = strlen(s), full;

	while (len && (unsigned char)s[len - 1] <= ' ')
		len--;
	while (len && (unsigned char)*s <= ' ') {
		s++;
		len--;
	}
	full = len;
	if (len > max) {
		len = max;
		/* do not cut a UTF-8 sequence */
		while (len && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (wl_buf_putc(b, ch < ' ' || ch == 0x7f ? ' ' : (char)ch) < 0)
			return;
	}
	if (len < full)
		wl_buf_puts(b, "...");
}

/* The last non-empty line of the stderr tail, into b (": line"). */
static void put_last_stderr_line(struct wl_buf *b, const struct wl_buf *tail)
{
	const char *s = wl_buf_cstr(tail);
	size_t end = tail->len, start;
	char *line;

	while (end && (unsigned char)s[end - 1] <= ' ')
		end--;
	if (!end)
		return;
	start = end;
	while (start && s[start - 1] != '\n')
		start--;
	line = strndup(s + start, end - start);
	if (!line)
		return;
	wl_buf_puts(b, ": ");
	put_one_line(b, line, QUOTE_MAX);
	free(line);
}

static void put_duration(struct wl_buf *b, int64_t ms)
{
	if (ms % 1000 == 0)
		wl_buf_printf(b, "%llds", (long long)(ms / 1000));
	else
		wl_buf_printf(b, "%.1fs", (double)ms / 1000.0);
}

static void put_exit(struct wl_buf *b, const struct watch *w)
{
	if (!w->reaped) {
		wl_buf_puts(b, "the agent ended with an unknown status");
	} else if (WIFSIGNALED(w->status)) {
		int sig = WTERMSIG(w->status);
		const char *abbrev = sigabbrev_np(sig);

		wl_buf_printf(b, "the agent was killed by signal %d", sig);
		if (abbrev)
			wl_buf_printf(b, " (SIG%s)", abbrev);
	} else {
		wl_buf_printf(b, "the agent exited with code %d",
			      WEXITSTATUS(w->status));
	}
}

/*
 * Replace every value of o->env (API keys and the like) found in s; a
 * message or stderr line must not carry them into logs and status.
 */
static char *redact(const char *s, const char *const *env)
{
	struct wl_buf b;
	char *cur = strdup(s);

	for (size_t i = 0; cur && env && env[i]; i++) {
		const char *value = strchr(env[i], '=') + 1;
		size_t vlen = strlen(value);
		const char *p = cur, *hit;

		if (vlen < REDACT_MIN || !strstr(cur, value))
			continue;
		/* "[redacted]" is at most 2 bytes longer than a value */
		wl_buf_init(&b, strlen(cur) * 2 + 64);
		while ((hit = strstr(p, value))) {
			wl_buf_add(&b, p, (size_t)(hit - p));
			wl_buf_puts(&b, "[redacted]");
			p = hit + vlen;
		}
		wl_buf_puts(&b, p);
		free(cur);
		cur = wl_buf_detach(&b, NULL);
		wl_buf_release(&b);
	}
	return cur;
}

static char *failure_message(const struct wl_agent_opts *o,
			     const struct run_state *st, const struct watch *w)
{
	struct wl_buf b;
	char *msg;

	wl_buf_init(&b, MESSAGE_MAX);
	if (w->timed_out) {
		wl_buf_puts(&b, "the agent did not finish within ");
		put_duration(&b, o->timeout_ms);
	} else if (w->was_cancelled) {
		wl_buf_puts(&b, "cancelled");
	} else if (st->seen_result && st->r.is_error) {
		wl_buf_puts(&b, "the agent reported an error: ");
		put_one_line(&b,
			     st->r.text && *st->r.text ? st->r.text
						       : "(no text)",
			     QUOTE_MAX);
		if (st->r.api_error_status)
			wl_buf_printf(&b, " (API error status %d)",
				      st->r.api_error_status);
	} else {
		put_exit(&b, w);
		if (!st->seen_result)
			wl_buf_puts(&b, " without a result");
		if (st->r.api_error_status)
			wl_buf_printf(&b, " (API error status %d)",
				      st->r.api_error_status);
		if (w->skipped)
			wl_buf_printf(&b,
				      " (%zu output lines over %d MiB "
				      "skipped)",
				      w->skipped, LINE_BYTES_MAX >> 20);
		put_last_stderr_line(&b, &w->tail);
	}
	if (!w->timed_out && !w->was_cancelled && o->sandbox &&
	    !strcmp(o->sandbox->network, "none"))
		wl_buf_puts(&b, " (the agent sandbox has no network, "
				"WORKLET_AGENT_NETWORK=none: the CLI cannot "
				"reach the model API)");
	msg = redact(wl_buf_cstr(&b), o->env);
	wl_buf_release(&b);
	return msg;
}

/* wl_agent_run */

static char *json_string(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring)
						   : NULL;
}

static int json_int(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	double d;

	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	return d > INT_MAX ? INT_MAX : d < INT_MIN ? INT_MIN : (int)d;
}

int wl_agent_take_result(struct wl_agent_result *res, const cJSON *ev)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
	const cJSON *cost =
		cJSON_GetObjectItemCaseSensitive(ev, "total_cost_usd");

	if (!cJSON_IsString(type) || strcmp(type->valuestring, "result"))
		return 0;
	res->is_error =
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "is_error"));
	free(res->text);
	res->text = json_string(ev, "result");
	free(res->session_id);
	res->session_id = json_string(ev, "session_id");
	res->num_turns = json_int(ev, "num_turns");
	res->cost_usd = cJSON_IsNumber(cost) ? cost->valuedouble : 0.0;
	res->api_error_status = json_int(ev, "api_error_status");
	return 1;
}

cJSON *wl_agent_parse_event(const char *line, size_t len)
{
	const char *end = NULL;
	cJSON *ev;

	ev = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (!ev)
		return NULL;
	/* cJSON stops after the value: anything but blanks is not JSON */
	while (end && end < line + len && (unsigned char)*end <= ' ')
		end++;
	if (!cJSON_IsObject(ev) || end != line + len) {
		cJSON_Delete(ev);
		return NULL;
	}
	return ev;
}

static void on_run_line(void *arg, const char *line, size_t len)
{
	struct run_state *st = arg;
	cJSON *ev = wl_agent_parse_event(line, len);

	if (!ev)
		return;
	if (st->o->on_event)
		st->o->on_event(st->o->ctx, ev);
	if (wl_agent_take_result(&st->r, ev))
		st->seen_result = 1;
	cJSON_Delete(ev);
}

int wl_agent_run(const struct wl_agent_opts *o, struct wl_agent_result *res)
{
	struct strv argv = { 0 }, envp = { 0 };
	struct run_state st;
	struct watch w;
	struct child c;
	const char *claude;
	char *exe = NULL;
	int64_t start = wl_time_mono_ms();
	int error;

	memset(res, 0, sizeof(*res));
	memset(&st, 0, sizeof(st));
	res->exit_code = -1;
	st.o = o;
	watch_init(&w);
	if ((error = check_opts(o)) < 0)
		goto out;
	claude = o->claude ? o->claude : DEFAULT_CLAUDE;
	if (o->sandbox) {
		const char *path = getenv("PATH"); /* found on the host */

		if ((error = build_env_sandbox(&envp, o)) < 0 ||
		    (error = build_argv(
			     &argv, o, WL_AGENT_SANDBOX_CLI,
			     sandbox_secret(o)
				     ? "{\"apiKeyHelper\":"
				       "\"cat " WL_AGENT_SANDBOX_KEY_FILE "\"}"
				     : NULL)) < 0 ||
		    (error = resolve_binary(&exe, claude,
					    path && *path ? path
							  : DEFAULT_PATH)) < 0)
			goto out;
	} else if ((error = build_env(&envp, o)) < 0 ||
		   (error = build_argv(&argv, o, claude, NULL)) < 0 ||
		   (error = resolve_binary(&exe, claude,
					   env_get(&envp, "PATH"))) < 0) {
		goto out;
	}
	if ((error = make_dirs(o)) < 0)
		goto out;
	if (!(w.chunk = malloc(READ_CHUNK))) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto out;
	}
	w.deadline = o->timeout_ms > 0 ? start + o->timeout_ms : 0;
	w.cancelled = o->cancelled;
	w.ctx = o->ctx;
	w.on_line = on_run_line;
	w.arg = &st;
	if (o->sandbox) {
		if ((error = run_sandboxed(o, argv.v, envp.v, exe, &w)) < 0)
			goto out;
	} else {
		if ((error = spawn(&c, exe, claude, argv.v, envp.v, o->cwd)) <
		    0)
			goto out;
		supervise(&c, &w);
	}

	if (w.reaped && WIFEXITED(w.status)) {
		res->exit_code = WEXITSTATUS(w.status);
	} else if (w.reaped && WIFSIGNALED(w.status)) {
		res->term_signal = WTERMSIG(w.status);
	}
	res->timed_out = w.timed_out;
	res->cancelled = w.was_cancelled;
	res->is_error = st.r.is_error;
	res->api_error_status = st.r.api_error_status;
	res->num_turns = st.r.num_turns;
	res->cost_usd = st.r.cost_usd;
	if (w.tail.len) {
		const char *s = wl_buf_cstr(&w.tail);

		/* the cut may have split a UTF-8 sequence */
		while (((unsigned char)*s & 0xc0) == 0x80)
			s++;
		res->stderr_tail = redact(s, o->env);
	}
	res->ok = res->exit_code == 0 && st.seen_result && !st.r.is_error &&
		  !w.timed_out && !w.was_cancelled;
	if (!res->ok)
		res->error = failure_message(o, &st, &w);
	res->text = st.r.text;
	res->session_id = st.r.session_id;
	st.r.text = NULL;
	st.r.session_id = NULL;
	error = 0;
out:
	res->duration_ms = wl_time_mono_ms() - start;
	if (error < 0) {
		res->ok = 0;
		free(res->error);
		res->error = strdup(wl_error_last());
	}
	free(st.r.text);
	free(st.r.session_id);
	free(exe);
	strv_release(&argv);
	strv_release(&envp);
	watch_release(&w);
	return error;
}

void wl_agent_result_release(struct wl_agent_result *res)
{
	if (!res)
		return;
	free(res->text);
	free(res->session_id);
	free(res->error);
	free(res->stderr_tail);
	memset(res, 0, sizeof(*res));
}

/* Sessions */

/* One code point from UTF-8; an invalid byte counts as U+FFFD. */
static unsigned long utf8_next(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	unsigned long cp, min;
	int extra;

	if (p[0] < 0x80) {
		*pp = p + 1;
		return p[0];
	}
	if ((p[0] & 0xe0) == 0xc0) {
		cp = p[0] & 0x1f;
		extra = 1;
		min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		cp = p[0] & 0x0f;
		extra = 2;
		min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		cp = p[0] & 0x07;
		extra = 3;
		min = 0x10000;
	} else {
		goto invalid;
	}
	for (int i = 1; i <= extra; i++) {
		if ((p[i] & 0xc0) != 0x80)
			goto invalid;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		goto invalid;
	*pp = p + 1 + extra;
	return cp;
invalid:
	*pp = p + 1;
	return 0xfffd;
}

static void key_unit(struct wl_buf *key, uint32_t *hash, size_t *units,
		     unsigned long unit)
{
	int alnum = (unit >= '0' && unit <= '9') ||
		    (unit >= 'a' && unit <= 'z') ||
		    (unit >= 'A' && unit <= 'Z');

	*hash = *hash * 31u + (uint32_t)unit;
	if (*units < PROJECT_KEY_MAX)
		wl_buf_putc(key, alnum ? (char)unit : '-');
	(*units)++;
}

/*
 * The CLI's project directory name for a cwd (its JavaScript, v2.1.x):
 * every UTF-16 code unit outside [a-zA-Z0-9] becomes '-'; a name longer
 * than 200 units is cut to 200 plus "-" and the base-36 absolute value
 * of the 32-bit hash h = h * 31 + unit over the cwd's UTF-16 units.
 */
static int project_key(struct wl_buf *out, const char *cwd)
{
	static const char digits36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	const unsigned char *p = (const unsigned char *)cwd;
	struct wl_buf key;
	uint32_t hash = 0;
	size_t units = 0;
	int error;

	wl_buf_init(&key, PROJECT_KEY_MAX + 16);
	while (*p) {
		unsigned long cp = utf8_next(&p);

		if (cp >= 0x10000) {
			cp -= 0x10000;
			key_unit(&key, &hash, &units, 0xd800 + (cp >> 10));
			key_unit(&key, &hash, &units, 0xdc00 + (cp & 0x3ff));
		} else {
			key_unit(&key, &hash, &units, cp);
		}
	}
	if (units > PROJECT_KEY_MAX) {
		int64_t v = (int32_t)hash;
		char digits[16];
		int n = 0;

		if (v < 0)
			v = -v;
		do {
			digits[n++] = digits36[v % 36];
			v /= 36;
		} while (v);
		wl_buf_putc(&key, '-');
		while (n)
			wl_buf_putc(&key, digits[--n]);
	}
	error = wl_buf_add(out, wl_buf_cstr(&key), key.len);
	wl_buf_release(&key);
	return error;
}

static int transcript_exists(const char *config_dir, const char *cwd,
			     const char *session_id)
{
	struct wl_buf path;
	struct stat st;
	int found = 0;

	wl_buf_init(&path, PATH_MAX);
	if (wl_buf_printf(&path, "%s/projects/", config_dir) == 0 &&
	    project_key(&path, cwd) == 0 &&
	    wl_buf_printf(&path, "/%s.jsonl", session_id) == 0)
		found = stat(wl_buf_cstr(&path), &st) == 0 &&
			S_ISREG(st.st_mode);
	wl_buf_release(&path);
	return found;
}

int wl_agent_session_exists(const char *config_dir, const char *cwd,
			    const char *session_id)
{
	char *real;
	int found;

	if (!config_dir || !*config_dir || !cwd || !*cwd || !session_id ||
	    !is_uuid(session_id))
		return 0;
	if (transcript_exists(config_dir, cwd, session_id))
		return 1;
	/* the CLI sees the physical directory (getcwd) */
	real = realpath(cwd, NULL);
	found = real && strcmp(real, cwd) &&
		transcript_exists(config_dir, real, session_id);
	free(real);
	return found;
}

int wl_agent_new_session_id(char out[37])
{
	wl_uuid_v4(out); /* getrandom(2), version and variant bits set */
	return 0;
}

/* wl_agent_check */

static void on_version_line(void *arg, const char *line, size_t len)
{
	struct wl_buf *first = arg;

	if (first->len == 0 && len > 0)
		wl_buf_add(first, line, len < VERSION_MAX ? len : VERSION_MAX);
}

int wl_agent_check(const char *claude, char *out, size_t n)
{
	struct strv argv = { 0 }, envp = { 0 };
	struct wl_buf first, msg;
	struct watch w;
	struct child c;
	char *exe = NULL;
	int error;

	wl_buf_init(&first, VERSION_MAX);
	wl_buf_init(&msg, MESSAGE_MAX);
	watch_init(&w);
	if (out && n)
		out[0] = '\0';
	if (!claude || !*claude)
		claude = DEFAULT_CLAUDE;
	if ((error = env_base(&envp)) < 0 ||
	    (error = strv_add(&argv, claude)) < 0 ||
	    (error = strv_add(&argv, "--version")) < 0 ||
	    (error = resolve_binary(&exe, claude, env_get(&envp, "PATH"))) < 0)
		goto out;
	if (!(w.chunk = malloc(READ_CHUNK))) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto out;
	}
	w.deadline = wl_time_mono_ms() + CHECK_TIMEOUT_MS;
	w.on_line = on_version_line;
	w.arg = &first;
	if ((error = spawn(&c, exe, claude, argv.v, envp.v, "/")) < 0)
		goto out;
	supervise(&c, &w);

	error = WL_ERROR;
	if (w.timed_out) {
		wl_error_set("'%s --version' did not finish within %ds", claude,
			     CHECK_TIMEOUT_MS / 1000);
		goto out;
	}
	if (!w.reaped || !WIFEXITED(w.status) || WEXITSTATUS(w.status)) {
		wl_buf_printf(&msg, "'%s --version' failed: ", claude);
		put_exit(&msg, &w);
		put_last_stderr_line(&msg, &w.tail);
		wl_error_set("%s", wl_buf_cstr(&msg));
		goto out;
	}
	wl_buf_reset(&msg);
	put_one_line(&msg, wl_buf_cstr(&first), QUOTE_MAX);
	if (!msg.len) {
		wl_error_set("'%s --version' printed nothing", claude);
		goto out;
	}
	if (out && n)
		snprintf(out, n, "%s", wl_buf_cstr(&msg));
	error = 0;
out:
	free(exe);
	strv_release(&argv);
	strv_release(&envp);
	watch_release(&w);
	wl_buf_release(&first);
	wl_buf_release(&msg);
	return error;
}
