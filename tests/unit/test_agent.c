/*
 * Unit tests of controller/agent.c: the runner's process handling, with
 * small shell scripts written into a temp dir standing in for the Claude
 * Code CLI (they dump what they received and print canned stream-json).
 * The real CLI is exercised end to end elsewhere.
 */
#include "tests/unit/unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller/agent.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/timeutil.h"
#include "specs/core/banned.h"

#define SID "3f6c1b2a-9d4e-4c8a-b1f2-0a1b2c3d4e5f"
#define SECRET "sk-test-secret-0123456789"
#define NOT_FOUND_TAIL                                                         \
	"was not found: install it (hack/setup.sh does) or set "               \
	"WORKLET_CLAUDE_BIN"

static struct {
	char root[64];
	char bin[128];
	char work[128]; /* the working tree: a space and a dot in its name */
	char config[128];
	char run[128];
	char out[128];
	char out_env[160];
	char leak_env[32];
	const char *env[4];
	int leak_fd;
} fx;

/* Scripts standing in for the CLI. $WL_TEST_OUT is the dump dir. */

static const char dump_sh[] =
	"for a in \"$@\"; do printf '%s\\0' \"$a\"; done > "
	"\"$WL_TEST_OUT/argv\"\n"
	"env -0 > \"$WL_TEST_OUT/env\"\n"
	"pwd -P > \"$WL_TEST_OUT/cwd\"\n"
	"readlink /proc/$$/fd/0 > \"$WL_TEST_OUT/stdin\"\n"
	"cat > \"$WL_TEST_OUT/stdin_data\"\n"
	"if [ -e /proc/$$/fd/$LEAKFD ]; then echo open; else echo closed; fi"
	" > \"$WL_TEST_OUT/leak\"\n"
	"echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"
	"\"result\":\"done\",\"session_id\":\"" SID "\",\"num_turns\":1}'\n";

static const char stream_sh[] =
	"echo '{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"" SID
	"\"}'\n"
	"echo 'this is not json'\n"
	"echo '[1,2,3]'\n"
	"echo ''\n"
	"echo '{\"type\":\"user\"} trailing garbage'\n"
	"printf '{\"type\":\"assistant\",\"pad\":\"'\n"
	"head -c 300000 /dev/zero | tr '\\0' x\n"
	"printf '\"}\\n'\n"
	"echo 'some progress' >&2\n"
	"echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"
	"\"result\":\"all done\",\"session_id\":\"" SID "\",\"num_turns\":4,"
	"\"total_cost_usd\":0.25}'\n";

static const char oversized_sh[] =
	"printf '{\"type\":\"result\",\"result\":\"'\n"
	"head -c 9437184 /dev/zero | tr '\\0' a\n"
	"printf '\"}\\n'\n"
	"echo '{\"type\":\"assistant\"}'\n";

static const char api_error_sh[] =
	/* dash's echo would turn the JSON escape backslash-n into a newline */
	"printf '%s\\n' '{\"type\":\"result\",\"subtype\":\"success\","
	"\"is_error\":true,"
	"\"result\":\"API Error: 529 Overloaded\\nretry later\","
	"\"api_error_status\":529,\"num_turns\":1,\"total_cost_usd\":0}'\n"
	"exit 1\n";

static const char timeout_sh[] =
	"sleep 100 &\n"
	"echo $! > \"$WL_TEST_OUT/grandchild\"\n"
	"echo '{\"type\":\"system\",\"subtype\":\"init\"}'\n"
	"sleep 100\n";

static const char stubborn_sh[] = "trap '' TERM\n"
				  "sleep 100 &\n"
				  "echo $! > \"$WL_TEST_OUT/grandchild\"\n"
				  "sleep 100\n";

static const char background_sh[] =
	"sleep 100 &\n"
	"echo $! > \"$WL_TEST_OUT/grandchild\"\n"
	"echo '{\"type\":\"result\",\"is_error\":false,\"result\":\"ok\"}'\n";

static const char stderr_sh[] =
	"head -c 10000 /dev/zero | tr '\\0' e >&2\n"
	"echo >&2\n"
	"echo \"using key $ANTHROPIC_API_KEY\" >&2\n"
	"echo \"auth failed for $ANTHROPIC_API_KEY\" >&2\n"
	"exit 1\n";

/* wl_agent_check takes no env: the dump dir is written in (%s twice) */
static const char version_sh[] = "printf '%%s\\0' \"$@\" > '%s/version_argv'\n"
				 "env -0 > '%s/version_env'\n"
				 "echo '2.1.331 (Claude Code)'\n"
				 "echo 'second line'\n";

static void write_file(const char *path, const char *body, mode_t mode)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (!f)
		return;
	fputs(body, f);
	fclose(f);
	chmod(path, mode);
}

/* Write bin/<name> as a /bin/sh script; returns its path (static slot). */
static const char *script(const char *name, const char *body)
{
	static char paths[32][256];
	static int next;
	char *path = paths[next++ % 32];
	struct wl_buf b;

	snprintf(path, 256, "%s/%s", fx.bin, name);
	wl_buf_init(&b, 1 << 20);
	wl_buf_printf(&b, "#!/bin/sh\n%s", body);
	write_file(path, wl_buf_cstr(&b), 0755);
	wl_buf_release(&b);
	return path;
}

static void opts_init(struct wl_agent_opts *o, const char *claude)
{
	memset(o, 0, sizeof(*o));
	o->claude = claude;
	o->cwd = fx.work;
	o->prompt = "hello";
	o->session_id = SID;
	o->max_turns = 3;
	o->config_dir = fx.config;
	o->run_dir = fx.run;
	o->env = fx.env;
	o->timeout_ms = 10000;
}

/* Read a whole dump file; NULL when missing. Caller frees. */
static char *slurp(const char *name, size_t *len)
{
	char path[256];
	struct wl_buf b;
	char *s;

	snprintf(path, sizeof(path), "%s/%s", fx.out, name);
	wl_buf_init(&b, 1 << 20);
	if (wl_fs_read(&b, path) < 0) {
		wl_buf_release(&b);
		return NULL;
	}
	if (len)
		*len = b.len;
	s = wl_buf_detach(&b, NULL);
	wl_buf_release(&b);
	return s;
}

static void clear_out(void)
{
	static const char *const names[] = { "argv",	   "env",
					     "cwd",	   "stdin",
					     "stdin_data", "leak",
					     "grandchild", "version_argv",
					     "version_env" };
	char path[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fx.out, names[i]);
		unlink(path);
	}
}

/* Whether pid is a live process (a zombie awaiting init counts as gone). */
static int process_alive(pid_t pid)
{
	char path[64], buf[512];
	const char *paren;
	ssize_t n;
	int fd;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

/* The grandchild's pid from the dump, then wait up to 1 s for it to go. */
static void check_grandchild_gone(void)
{
	char *s = slurp("grandchild", NULL);
	long pid = s ? strtol(s, NULL, 10) : 0;
	int64_t until = wl_time_mono_ms() + 1000;

	CHECK(pid > 0);
	free(s);
	if (pid <= 0)
		return;
	while (process_alive((pid_t)pid) && wl_time_mono_ms() < until)
		usleep(10000);
	CHECK(!process_alive((pid_t)pid));
	if (process_alive((pid_t)pid))
		kill((pid_t)pid, SIGKILL);
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own descriptor */
}

/* Split a NUL-separated dump into a vector; returns the count. */
static size_t split_nul(char *s, size_t len, char **v, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n < max;) {
		v[n++] = s + i;
		i += strlen(s + i) + 1;
	}
	return n;
}

/* Events seen by on_event. */
struct events {
	int count;
	char types[8][32];
	size_t pad_len;
	int cancel_after_first; /* cancelled() says yes once an event came */
	int cancel_polls;
};

static void on_event(void *ctx, const cJSON *ev)
{
	struct events *e = ctx;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
	const cJSON *pad = cJSON_GetObjectItemCaseSensitive(ev, "pad");

	if (e->count < 8)
		snprintf(e->types[e->count], sizeof(e->types[0]), "%s",
			 cJSON_IsString(type) ? type->valuestring : "?");
	if (cJSON_IsString(pad))
		e->pad_len = strlen(pad->valuestring);
	e->count++;
}

static int cancelled(void *ctx)
{
	struct events *e = ctx;

	e->cancel_polls++;
	return e->cancel_after_first && e->count > 0;
}

/* Tests */

static void test_argv_as_received(void)
{
	static const struct {
		int resume;
		const char *model, *system_prompt, *tools, *prompt;
		const char *want[24];
	} cases[] = {
		{ 0,
		  NULL,
		  NULL,
		  NULL,
		  "fix the \"header\"\nand it's $HOME `id` \\n  ",
		  { "-p", "fix the \"header\"\nand it's $HOME `id` \\n  ",
		    "--output-format", "stream-json", "--verbose",
		    "--permission-mode", "acceptEdits", "--session-id", SID,
		    "--max-turns", "3", "--disallowedTools", "Bash", NULL } },
		{ 1,
		  "claude-test-model",
		  "be brief; say 'ok'",
		  "Read,Edit,Bash(git log:*)",
		  "continue",
		  { "-p", "continue", "--output-format", "stream-json",
		    "--verbose", "--permission-mode", "acceptEdits", "--resume",
		    SID, "--max-turns", "3", "--model", "claude-test-model",
		    "--append-system-prompt", "be brief; say 'ok'",
		    "--allowedTools", "Read,Edit,Bash(git log:*)", NULL } },
		{ 0,
		  NULL,
		  NULL,
		  "Read,Edit,BashOutput",
		  "- add a button\n- fix the header",
		  { "-p", "--output-format", "stream-json", "--verbose",
		    "--permission-mode", "acceptEdits", "--session-id", SID,
		    "--max-turns", "3", "--allowedTools",
		    "Read,Edit,BashOutput", "--disallowedTools", "Bash", "--",
		    "- add a button\n- fix the header", NULL } },
	};
	const char *claude = script("dump", dump_sh);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_agent_opts o;
		struct wl_agent_result res;
		char *argv, *v[32];
		size_t len = 0, n, want_n = 0;

		clear_out();
		opts_init(&o, claude);
		o.resume = cases[i].resume;
		o.model = cases[i].model;
		o.system_prompt = cases[i].system_prompt;
		o.allowed_tools = cases[i].tools;
		o.prompt = cases[i].prompt;
		CHECK(wl_agent_run(&o, &res) == 0);
		CHECK(res.ok);
		argv = slurp("argv", &len);
		CHECK(argv != NULL);
		if (!argv) {
			wl_agent_result_release(&res);
			continue;
		}
		n = split_nul(argv, len, v, 32);
		while (cases[i].want[want_n])
			want_n++;
		CHECK(n == want_n);
		for (size_t k = 0; k < n && k < want_n; k++)
			CHECK_STR(v[k], cases[i].want[k]);
		free(argv);
		wl_agent_result_release(&res);
	}
}

static void test_env_cwd_stdin_fds(void)
{
	static const char *const shell_added[] = { "PWD=", "OLDPWD=", "SHLVL=",
						   "_=" };
	struct wl_agent_opts o;
	struct wl_agent_result res;
	char *env, *cwd, *in, *data, *leak, *v[64], want[256];
	const char *path = getenv("PATH");
	size_t len = 0, n;
	struct stat st;
	char tmp[160];
	int found;

	clear_out();
	wl_fs_remove_tree(fx.run);
	wl_fs_remove_tree(fx.config);
	opts_init(&o, script("dump", dump_sh));
	CHECK(wl_agent_run(&o, &res) == 0);
	CHECK(res.ok);
	CHECK(res.exit_code == 0);

	/* the directories were created, private */
	snprintf(tmp, sizeof(tmp), "%s/tmp", fx.run);
	CHECK(stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) &&
	      (st.st_mode & 0777) == 0700);
	CHECK(stat(fx.config, &st) == 0 && (st.st_mode & 0777) == 0700);

	env = slurp("env", &len);
	CHECK(env != NULL);
	n = env ? split_nul(env, len, v, 64) : 0;
	{
		char e_path[4096], e_home[256], e_tmp[256], e_cfg[256];
		const char *expected[] = {
			e_path,
			"LANG=C.UTF-8",
			e_home,
			e_tmp,
			e_cfg,
			"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
			"DISABLE_AUTOUPDATER=1",
			"DISABLE_TELEMETRY=1",
			"DISABLE_ERROR_REPORTING=1",
			"ANTHROPIC_API_KEY=" SECRET,
			fx.out_env,
			fx.leak_env,
		};
		size_t ne = sizeof(expected) / sizeof(expected[0]);

		snprintf(e_path, sizeof(e_path), "PATH=%s", path);
		snprintf(e_home, sizeof(e_home), "HOME=%s", fx.run);
		snprintf(e_tmp, sizeof(e_tmp), "TMPDIR=%s/tmp", fx.run);
		snprintf(e_cfg, sizeof(e_cfg), "CLAUDE_CONFIG_DIR=%s",
			 fx.config);
		for (size_t k = 0; k < ne; k++) {
			found = 0;
			for (size_t j = 0; j < n; j++)
				found |= !strcmp(v[j], expected[k]);
			if (!found)
				fprintf(stderr, "missing in env: %s\n",
					expected[k]);
			CHECK(found);
		}
		/* nothing else, apart from what the shell itself adds */
		for (size_t j = 0; j < n; j++) {
			found = 0;
			for (size_t k = 0; k < ne; k++)
				found |= !strcmp(v[j], expected[k]);
			for (size_t k = 0; k < 4; k++)
				found |= !strncmp(v[j], shell_added[k],
						  strlen(shell_added[k]));
			if (!found)
				fprintf(stderr, "unexpected in env: %.60s\n",
					v[j]);
			CHECK(found);
			CHECK(strncmp(v[j], "GITHUB_TOKEN=", 13) != 0);
		}
	}
	free(env);

	cwd = slurp("cwd", NULL);
	snprintf(want, sizeof(want), "%s\n", fx.work);
	CHECK_STR(cwd, want);
	free(cwd);
	in = slurp("stdin", NULL);
	CHECK_STR(in, "/dev/null\n");
	free(in);
	data = slurp("stdin_data", &len);
	CHECK(data != NULL && len == 0);
	free(data);
	leak = slurp("leak", NULL);
	CHECK_STR(leak, "closed\n");
	free(leak);
	wl_agent_result_release(&res);
}

static void test_stream_and_result(void)
{
	struct wl_agent_opts o;
	struct wl_agent_result res;
	struct events ev;

	memset(&ev, 0, sizeof(ev));
	opts_init(&o, script("stream", stream_sh));
	o.on_event = on_event;
	o.ctx = &ev;
	CHECK(wl_agent_run(&o, &res) == 0);
	CHECK(res.ok);
	CHECK(res.error == NULL);
	CHECK(res.exit_code == 0 && res.term_signal == 0);
	CHECK(!res.is_error && !res.timed_out && !res.cancelled);
	CHECK_STR(res.text, "all done");
	CHECK_STR(res.session_id, SID);
	CHECK(res.num_turns == 4);
	CHECK(res.cost_usd > 0.2499 && res.cost_usd < 0.2501);
	CHECK(res.api_error_status == 0);
	/* init, the 300 KB assistant line (read in pieces), result */
	CHECK(ev.count == 3);
	CHECK_STR(ev.types[0], "system");
	CHECK_STR(ev.types[1], "assistant");
	CHECK_STR(ev.types[2], "result");
	CHECK(ev.pad_len == 300000);
	CHECK_STR(res.stderr_tail, "some progress\n");
	CHECK(res.duration_ms >= 0 && res.duration_ms < 5000);
	wl_agent_result_release(&res);
}

static void test_oversized_line_is_skipped(void)
{
	struct wl_agent_opts o;
	struct wl_agent_result res;
	struct events ev;

	memset(&ev, 0, sizeof(ev));
	opts_init(&o, script("oversized", oversized_sh));
	o.on_event = on_event;
	o.ctx = &ev;
	CHECK(wl_agent_run(&o, &res) == 0);
	CHECK(!res.ok);
	CHECK(ev.count == 1);
	CHECK_STR(ev.types[0], "assistant");
	CHECK(res.text == NULL);
	CHECK_CONTAINS(res.error, "exited with code 0 without a result");
	CHECK_CONTAINS(res.error, "over 8 MiB skipped");
	wl_agent_result_release(&res);
}

static void test_reported_error(void)
{
	struct wl_agent_opts o;
	struct wl_agent_result res;

	opts_init(&o, script("api_error", api_error_sh));
	CHECK(wl_agent_run(&o, &res) == 0);
	CHECK(!res.ok);
	CHECK(res.is_error);
	CHECK(res.exit_code == 1);
	CHECK(res.api_error_status == 529);
	CHECK_STR(res.text, "API Error: 529 Overloaded\nretry later");
	CHECK_STR(res.error, "the agent reported an error: API Error: 529 "
			     "Overloaded retry later (API error status 529)");
	wl_agent_result_release(&res);
}

static void test_exit_without_result(void)
{
	static const struct {
		const char *body;
		int exit_code, term_signal;
		const char *error;
	} cases[] = {
		{ "echo 'starting' >&2\n"
		  "echo 'Error: Session ID " SID " is already in use.' >&2\n",
		  0, 0,
		  "the agent exited with code 0 without a result: Error: "
		  "Session ID " SID " is already in use." },
		{ "echo '{\"type\":\"system\"}'\nexit 3\n", 3, 0,
		  "the agent exited with code 3 without a result" },
		{ "kill -9 $$\n", -1, 9,
		  "the agent was killed by signal 9 (SIGKILL) without a "
		  "result" },
		{ "exit 127\n", 127, 0,
		  "the agent exited with code 127 without a result" },
		{ "echo '{\"type\":\"result\",\"is_error\":false}'\n"
		  "echo 'crashed on exit' >&2\nexit 2\n",
		  2, 0, "the agent exited with code 2: crashed on exit" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_agent_opts o;
		struct wl_agent_result res;

		opts_init(&o, script("noresult", cases[i].body));
		CHECK(wl_agent_run(&o, &res) == 0);
		CHECK(!res.ok);
		CHECK(res.exit_code == cases[i].exit_code);
		CHECK(res.term_signal == cases[i].term_signal);
		CHECK_STR(res.error, cases[i].error);
		wl_agent_result_release(&res);
	}
}

static void test_stderr_tail_redacted(void)
{
	struct wl_agent_opts o;
	struct wl_agent_result res;
	size_t len;

	opts_init(&o, script("stderr", stderr_sh));
	CHECK(wl_agent_run(&o, &res) == 0);
	CHECK(!res.ok);
	CHECK(res.stderr_tail != NULL);
	len = res.stderr_tail ? strlen(res.stderr_tail) : 0;
	CHECK(len > 1000 && len <= 4096);
	CHECK(res.stderr_tail && !strstr(res.stderr_tail, SECRET));
	CHECK(len > 27 && !strcmp(res.stderr_tail + len - 27,
				  "auth failed for [redacted]\n"));
	CHECK_CONTAINS(res.stderr_tail, "using key [redacted]\n");
	CHECK_STR(res.error, "the agent exited with code 1 without a result: "
			     "auth failed for [redacted]");
	wl_agent_result_release(&res);
}

static void test_timeout_kills_the_group(void)
{
	struct wl_agent_opts o;
	struct wl_agent_result res;
	int64_t t0 = wl_time_mono_ms(), took;

	clear_out();
	opts_init(&o, script("timeout", timeout_sh));
	o.timeout_ms = 700;
	CHECK(wl_agent_run(&o, &res) == 0);
	took = wl_time_mono_ms() - t0;
	CHECK(took >= 700 && took < 3000);
	CHECK(res.duration_ms >= 700 && res.duration_ms < 3000);
	CHECK(!res.ok);
	CHECK(res.timed_out && !res.cancelled);
	CHECK(res.term_signal == SIGTERM);
	CHECK_STR(res.error, "the agent did not finish within 0.7s");
	check_grandchild_gone();
	wl_agent_result_release(&res);
}

static void test_sigterm_ignored_then_sigkill(void)
{
	struct wl_agent_opts o;
	struct wl_agent_result res;

	clear_out();
	opts_init(&o, script("stubborn", stubborn_sh));
	o.timeout_ms = 300;
	CHECK(wl_agent_run(&o, &res) == 0);
	/* SIGTERM ignored by all of the group, SIGKILL 2 s later */
	CHECK(res.duration_ms >= 2250 && res.duration_ms < 3500);
	CHECK(res.timed_out);
	CHECK(res.term_signal == SIGKILL);
	CHECK_STR(res.error, "the agent did not finish within 0.3s");
	check_grandchild_gone();
	wl_agent_result_release(&res);
}

static void test_background_process_is_killed_on_exit(void)
{
	struct wl_agent_opts o;
	struct wl_agent_result res;

	clear_out();
	opts_init(&o, script("background", background_sh));
	CHECK(wl_agent_run(&o, &res) == 0);
	CHECK(res.ok);
	/* the sleep held stdout open: it must not hold up the run */
	CHECK(res.duration_ms < 2000);
	check_grandchild_gone();
	wl_agent_result_release(&res);
}

static void test_cancel(void)
{
	struct wl_agent_opts o;
	struct wl_agent_result res;
	struct events ev;

	memset(&ev, 0, sizeof(ev));
	ev.cancel_after_first = 1;
	clear_out();
	opts_init(&o, script("timeout", timeout_sh));
	o.on_event = on_event;
	o.cancelled = cancelled;
	o.ctx = &ev;
	CHECK(wl_agent_run(&o, &res) == 0);
	CHECK(!res.ok);
	CHECK(res.cancelled && !res.timed_out);
	CHECK(ev.count == 1 && ev.cancel_polls >= 1);
	CHECK(res.duration_ms < 2000);
	CHECK_STR(res.error, "cancelled");
	check_grandchild_gone();
	wl_agent_result_release(&res);
}

static void test_binary_not_runnable(void)
{
	char noexec[256], badinterp[256], want[512];
	const char *path_env[] = { "PATH=/nonexistent", NULL };
	struct {
		const char *claude;
		const char *const *env;
		int rc;
		const char *error;
	} cases[] = {
		{ "wl-no-such-claude", NULL, WL_ENOTFOUND, NULL },
		{ "/nonexistent/claude", NULL, WL_ENOTFOUND, NULL },
		{ badinterp, NULL, WL_ENOTFOUND, NULL },
		{ noexec, NULL, WL_ENOTFOUND,
		  "cannot be run: Permission denied" },
		/* a name is looked up in the child's PATH, not ours */
		{ "sh", path_env, WL_ENOTFOUND, NULL },
	};

	snprintf(noexec, sizeof(noexec), "%s/noexec", fx.bin);
	write_file(noexec, "#!/bin/sh\nexit 0\n", 0644);
	snprintf(badinterp, sizeof(badinterp), "%s/badinterp", fx.bin);
	write_file(badinterp, "#!/nonexistent/interpreter\n", 0755);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_agent_opts o;
		struct wl_agent_result res;

		opts_init(&o, cases[i].claude);
		if (cases[i].env)
			o.env = cases[i].env;
		snprintf(want, sizeof(want), "the Claude Code CLI '%s' %s",
			 cases[i].claude,
			 cases[i].error ? cases[i].error : NOT_FOUND_TAIL);
		CHECK(wl_agent_run(&o, &res) == cases[i].rc);
		CHECK(!res.ok);
		CHECK_STR(res.error, want);
		CHECK_STR(wl_error_last(), want);
		wl_agent_result_release(&res);
	}
}

static void test_name_found_in_childs_path(void)
{
	char path_entry[256];
	const char *env[] = { path_entry, fx.out_env, NULL };
	struct wl_agent_opts o;
	struct wl_agent_result res;

	script("fakeclaude", stream_sh);
	snprintf(path_entry, sizeof(path_entry), "PATH=/nonexistent:%s:%s",
		 fx.bin, "/usr/bin:/bin");
	opts_init(&o, "fakeclaude");
	o.env = env;
	CHECK(wl_agent_run(&o, &res) == 0);
	CHECK(res.ok);
	CHECK_STR(res.text, "all done");
	wl_agent_result_release(&res);
}

enum field {
	F_NONE,
	F_CWD,
	F_PROMPT,
	F_SESSION,
	F_CONFIG,
	F_RUN,
	F_TURNS,
	F_ENV,
	F_MODEL,
	F_TIMEOUT,
	F_CLAUDE,
};

static void test_invalid_options(void)
{
	static const char *const env_noeq[] = { "NOEQUALS", NULL };
	static const char *const env_digit[] = { "1BAD=x", NULL };
	static const char *const env_space[] = { "BAD NAME=sk-secret-value-xyz",
						 NULL };
	static const char *const env_home[] = { "HOME=/tmp", NULL };
	static const char *const env_empty[] = { "=sk-secret-value-xyz", NULL };
	static const struct {
		enum field field;
		const char *s;
		int n;
		const char *const *env;
		const char *want;
	} cases[] = {
		{ F_CWD, NULL, 0, NULL, "option 'cwd' is required" },
		{ F_CWD, "relative/dir", 0, NULL,
		  "option 'cwd' must be an abs" },
		{ F_CWD, "/nonexistent/tree", 0, NULL,
		  "option 'cwd': '/nonexistent/tree' is not a directory" },
		{ F_PROMPT, NULL, 0, NULL, "option 'prompt' is required" },
		{ F_PROMPT, "", 0, NULL, "option 'prompt' is required" },
		{ F_SESSION, NULL, 0, NULL, "option 'session_id' is required" },
		{ F_SESSION, "not-a-uuid", 0, NULL,
		  "option 'session_id': 'not-a-uuid' is not a UUID" },
		{ F_SESSION, "3f6c1b2a-9d4e-4c8a-b1f2-0a1b2c3d4e5g", 0, NULL,
		  "is not a UUID" },
		{ F_SESSION, "3f6c1b2a-9d4e-4c8a-b1f2-0a1b2c3d4e5", 0, NULL,
		  "is not a UUID" },
		{ F_SESSION, "3f6c1b2a-9d4e-4c8a-b1f2-0a1b2c3d4e5ff", 0, NULL,
		  "is not a UUID" },
		{ F_SESSION, "../../../../etc/passwd-0000000000000", 0, NULL,
		  "is not a UUID" },
		{ F_CONFIG, NULL, 0, NULL, "option 'config_dir' is required" },
		{ F_CONFIG, "cfg", 0, NULL, "option 'config_dir' must be" },
		{ F_RUN, NULL, 0, NULL, "option 'run_dir' is required" },
		{ F_TURNS, NULL, 0, NULL,
		  "option 'max_turns' must be greater" },
		{ F_TURNS, NULL, -1, NULL,
		  "option 'max_turns' must be greater" },
		{ F_ENV, NULL, 0, env_noeq,
		  "option 'env': entry 0 is not NAME=VALUE" },
		{ F_ENV, NULL, 0, env_digit,
		  "option 'env': entry 0 is not NAME=VALUE" },
		{ F_ENV, NULL, 0, env_space,
		  "option 'env': entry 0 is not NAME=VALUE" },
		{ F_ENV, NULL, 0, env_empty,
		  "option 'env': entry 0 is not NAME=VALUE" },
		{ F_ENV, NULL, 0, env_home,
		  "option 'env': 'HOME' is set from option 'run_dir'" },
		{ F_MODEL, "--evil", 0, NULL, "option 'model' must not be" },
		{ F_TIMEOUT, NULL, -5, NULL, "option 'timeout_ms' must not" },
		{ F_CLAUDE, "", 0, NULL, "option 'claude' must not be empty" },
	};
	struct wl_agent_result res;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_agent_opts o;

		/* a binary that cannot run: validation must come first */
		opts_init(&o, "/nonexistent/claude");
		switch (cases[i].field) {
		case F_CWD:
			o.cwd = cases[i].s;
			break;
		case F_PROMPT:
			o.prompt = cases[i].s;
			break;
		case F_SESSION:
			o.session_id = cases[i].s;
			break;
		case F_CONFIG:
			o.config_dir = cases[i].s;
			break;
		case F_RUN:
			o.run_dir = cases[i].s;
			break;
		case F_TURNS:
			o.max_turns = cases[i].n;
			break;
		case F_ENV:
			o.env = cases[i].env;
			break;
		case F_MODEL:
			o.model = cases[i].s;
			break;
		case F_TIMEOUT:
			o.timeout_ms = cases[i].n;
			break;
		case F_CLAUDE:
			o.claude = cases[i].s;
			break;
		case F_NONE:
			break;
		}
		CHECK(wl_agent_run(&o, &res) == WL_EINVALID);
		CHECK(!res.ok);
		CHECK_CONTAINS(res.error, cases[i].want);
		CHECK_CONTAINS(wl_error_last(), cases[i].want);
		CHECK(res.error && !strstr(res.error, "sk-secret"));
		wl_agent_result_release(&res);
	}
	CHECK(wl_agent_run(NULL, &res) == WL_EINVALID);
	CHECK(res.error != NULL);
	wl_agent_result_release(&res);
}

struct thread_run {
	pthread_t t;
	const char *claude;
	int rc, ok, events;
	char text[32];
};

static void *run_thread(void *arg)
{
	struct thread_run *tr = arg;
	struct wl_agent_opts o;
	struct wl_agent_result res;
	struct events ev;

	memset(&ev, 0, sizeof(ev));
	opts_init(&o, tr->claude);
	o.on_event = on_event;
	o.ctx = &ev;
	tr->rc = wl_agent_run(&o, &res);
	tr->ok = res.ok;
	tr->events = ev.count;
	snprintf(tr->text, sizeof(tr->text), "%s", res.text ? res.text : "");
	wl_agent_result_release(&res);
	return NULL;
}

static void test_concurrent_runs_leak_no_fds(void)
{
	struct thread_run tr[6];
	const char *claude = script("stream", stream_sh);
	int before = count_open_fds();
	struct wl_agent_opts o;
	struct wl_agent_result res;

	for (int i = 0; i < 6; i++) {
		memset(&tr[i], 0, sizeof(tr[i]));
		tr[i].claude = claude;
		CHECK(pthread_create(&tr[i].t, NULL, run_thread, &tr[i]) == 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(tr[i].t, NULL);
		CHECK(tr[i].rc == 0 && tr[i].ok && tr[i].events == 3);
		CHECK_STR(tr[i].text, "all done");
	}
	/* the failure paths close what they opened too */
	opts_init(&o, "/nonexistent/claude");
	CHECK(wl_agent_run(&o, &res) == WL_ENOTFOUND);
	wl_agent_result_release(&res);
	opts_init(&o, script("noresult", "exit 3\n"));
	CHECK(wl_agent_run(&o, &res) == 0);
	wl_agent_result_release(&res);
	CHECK(before > 0 && count_open_fds() == before);
}

static void test_session_exists(void)
{
	static const struct {
		const char *cwd, *key;
	} keys[] = {
		/* reference keys computed with the CLI's JavaScript rule */
		{ "/tmp/\xc3\xa9\xf0\x9f\x98\x80 x", "-tmp-----x" },
		{ "/srv/worklet/deep-directory_name.deep-directory_name.deep-"
		  "directory_name.deep-directory_name.deep-directory_name."
		  "deep-directory_name.deep-directory_name.deep-directory_"
		  "name.deep-directory_name.deep-directory_name.deep-"
		  "directory_name.deep-directory_name.src",
		  "-srv-worklet-deep-directory-name-deep-directory-name-deep-"
		  "directory-name-deep-directory-name-deep-directory-name-"
		  "deep-directory-name-deep-directory-name-deep-directory-"
		  "name-deep-directory-name-deep-di-jmsb88" },
	};
	const char *other = "0e5a7a30-2b7c-4f59-9a34-6c0d7f1e2b3a";
	char cfg[256], dir[1024], file[1200], key[256], link[256];
	size_t k = 0;

	snprintf(cfg, sizeof(cfg), "%s/sessions", fx.root);
	/* the working tree: "/tmp/wl-agent-X/work tree.v2" */
	for (const char *p = fx.work; *p && k < sizeof(key) - 1; p++)
		key[k++] =
			((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			 (*p >= '0' && *p <= '9'))
				? *p
				: '-';
	key[k] = '\0';
	CHECK(strstr(key, "-work-tree-v2") != NULL);
	snprintf(dir, sizeof(dir), "%s/projects/%s", cfg, key);
	CHECK(wl_fs_mkdir_p(dir, 0700) == 0);
	CHECK(!wl_agent_session_exists(cfg, fx.work, SID));
	snprintf(file, sizeof(file), "%s/%s.jsonl", dir, SID);
	write_file(file, "{}\n", 0600);
	CHECK(wl_agent_session_exists(cfg, fx.work, SID));
	CHECK(!wl_agent_session_exists(cfg, fx.work, other));
	CHECK(!wl_agent_session_exists(cfg, fx.root, SID));
	CHECK(!wl_agent_session_exists(fx.config, fx.work, SID));
	CHECK(!wl_agent_session_exists(cfg, fx.work, "../x"));
	CHECK(!wl_agent_session_exists(cfg, fx.work, NULL));

	/* a symlinked cwd: the CLI records the physical directory */
	snprintf(link, sizeof(link), "%s/link", fx.root);
	CHECK(symlink(fx.work, link) == 0);
	CHECK(wl_agent_session_exists(cfg, link, SID));

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/projects/%s", cfg, keys[i].key);
		CHECK(wl_fs_mkdir_p(dir, 0700) == 0);
		CHECK(!wl_agent_session_exists(cfg, keys[i].cwd, other));
		snprintf(file, sizeof(file), "%s/%s.jsonl", dir, other);
		write_file(file, "{}\n", 0600);
		CHECK(wl_agent_session_exists(cfg, keys[i].cwd, other));
	}
}

static void test_new_session_id(void)
{
	char ids[64][37];

	for (int i = 0; i < 64; i++) {
		const char *s = ids[i];

		CHECK(wl_agent_new_session_id(ids[i]) == 0);
		CHECK(strlen(s) == 36);
		for (int k = 0; k < 36; k++) {
			if (k == 8 || k == 13 || k == 18 || k == 23)
				CHECK(s[k] == '-');
			else
				CHECK((s[k] >= '0' && s[k] <= '9') ||
				      (s[k] >= 'a' && s[k] <= 'f'));
		}
		CHECK(s[14] == '4');
		CHECK(strchr("89ab", s[19]) != NULL);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(ids[i], ids[j]) != 0);
	}
}

static void test_check(void)
{
	char out[128], small[6], want[512], body[1024];
	const char *claude, *failing;
	char *argv, *env, *v[32];
	size_t len = 0, n;

	snprintf(body, sizeof(body), version_sh, fx.out, fx.out);
	claude = script("version", body);
	failing = script("version_fails", "echo 'boom: no node' >&2\nexit 1\n");
	clear_out();
	CHECK(wl_agent_check(claude, out, sizeof(out)) == 0);
	CHECK_STR(out, "2.1.331 (Claude Code)");
	argv = slurp("version_argv", &len);
	CHECK(argv && len == strlen("--version") + 1 &&
	      !strcmp(argv, "--version"));
	free(argv);
	/* the same clean environment, without a run's directories */
	env = slurp("version_env", &len);
	CHECK(env != NULL);
	n = env ? split_nul(env, len, v, 32) : 0;
	for (size_t i = 0; i < n; i++)
		CHECK(!strncmp(v[i], "PATH=", 5) ||
		      !strncmp(v[i], "LANG=", 5) ||
		      !strncmp(v[i], "DISABLE_", 8) ||
		      !strncmp(v[i], "CLAUDE_CODE_DISABLE_", 20) ||
		      !strncmp(v[i], "PWD=", 4));
	CHECK(n >= 6);
	free(env);

	CHECK(wl_agent_check(claude, small, sizeof(small)) == 0);
	CHECK_STR(small, "2.1.3");

	CHECK(wl_agent_check("wl-no-such-claude", out, sizeof(out)) ==
	      WL_ENOTFOUND);
	snprintf(want, sizeof(want),
		 "the Claude Code CLI 'wl-no-such-claude' %s", NOT_FOUND_TAIL);
	CHECK_STR(wl_error_last(), want);
	CHECK(wl_agent_check(failing, out, sizeof(out)) == WL_ERROR);
	CHECK_CONTAINS(wl_error_last(), "exited with code 1: boom: no node");
}

static void setup(void)
{
	int fd;

	snprintf(fx.root, sizeof(fx.root), "/tmp/wl-agent-XXXXXX");
	if (!mkdtemp(fx.root)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(fx.bin, sizeof(fx.bin), "%s/bin", fx.root);
	snprintf(fx.work, sizeof(fx.work), "%s/work tree.v2", fx.root);
	snprintf(fx.config, sizeof(fx.config), "%s/claude-config", fx.root);
	snprintf(fx.run, sizeof(fx.run), "%s/run", fx.root);
	snprintf(fx.out, sizeof(fx.out), "%s/out", fx.root);
	mkdir(fx.bin, 0755);
	mkdir(fx.work, 0755);
	mkdir(fx.out, 0755);
	snprintf(fx.out_env, sizeof(fx.out_env), "WL_TEST_OUT=%s", fx.out);
	/* a descriptor without CLOEXEC, as other code in workletd may hold */
	fd = open("/dev/null", O_RDONLY);
	fx.leak_fd = fcntl(fd, F_DUPFD, 50);
	close(fd);
	snprintf(fx.leak_env, sizeof(fx.leak_env), "LEAKFD=%d", fx.leak_fd);
	fx.env[0] = "ANTHROPIC_API_KEY=" SECRET;
	fx.env[1] = fx.out_env;
	fx.env[2] = fx.leak_env;
	fx.env[3] = NULL;
	/* must not reach the child */
	setenv("GITHUB_TOKEN", "ghp_must_not_leak", 1);
	/* a SIGTERM ignored here must not be inherited by the agent */
	signal(SIGTERM, SIG_IGN);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_argv_as_received),
		UNIT(test_env_cwd_stdin_fds),
		UNIT(test_stream_and_result),
		UNIT(test_oversized_line_is_skipped),
		UNIT(test_reported_error),
		UNIT(test_exit_without_result),
		UNIT(test_stderr_tail_redacted),
		UNIT(test_timeout_kills_the_group),
		UNIT(test_sigterm_ignored_then_sigkill),
		UNIT(test_background_process_is_killed_on_exit),
		UNIT(test_cancel),
		UNIT(test_binary_not_runnable),
		UNIT(test_name_found_in_childs_path),
		UNIT(test_invalid_options),
		UNIT(test_concurrent_runs_leak_no_fds),
		UNIT(test_session_exists),
		UNIT(test_new_session_id),
		UNIT(test_check),
		{ 0 },
	};
	int rc;

	setup();
	rc = wl_unit_run(tests);
	close(fx.leak_fd);
	wl_fs_remove_tree(fx.root);
	return rc;
}
