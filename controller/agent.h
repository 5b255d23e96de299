#ifndef WL_AGENT_H
#define WL_AGENT_H

/*
 * The agent runner: one run of the Claude Code CLI over a worklet's working
 * tree (facts about the CLI: ../shared/notes/claude-cli.md).
 *
 *   claude -p PROMPT --output-format stream-json --verbose
 *          --permission-mode acceptEdits
 *          (--session-id UUID | --resume UUID) --max-turns N
 *          [--model M] [--append-system-prompt TEXT]
 *          [--allowedTools LIST] [--disallowedTools Bash] [-- PROMPT]
 *
 * Bash is disallowed unless allowed_tools names it ("Bash" or a
 * "Bash(...)" rule): no Bash unless configured. A prompt that starts with
 * '-' would be taken for an option, so it goes last, after "--".
 *
 * The child runs with cwd = the working tree, stdin from /dev/null, no
 * shell, in its own process group, with a clean environment built here
 * (PATH, LANG, HOME and TMPDIR pointing into the run's own directory,
 * CLAUDE_CONFIG_DIR, the CLI's "no non-essential traffic" switches, and
 * only the pass-through variables the caller names): nothing else of
 * workletd's environment (GITHUB_TOKEN, say) reaches it.
 *
 * Each stdout line is a JSON event, handed to on_event as it comes (lines
 * that are not a JSON object, or longer than 8 MiB, are skipped); the
 * last one, type "result", fills the result. A wall-clock limit and a
 * cancel callback (polled every 100 ms) kill the whole process group
 * (SIGTERM, then SIGKILL after 2 s). Success is decided from the exit
 * status and is_error, never from subtype.
 *
 * Thread-safe: every call owns its own state. Does not log.
 */

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "controller/agent_sandbox.h"

struct wl_agent_opts {
	/* the binary: a path, or a name looked up in the child's PATH;
	   NULL: "claude" */
	const char *claude;
	const char *cwd;	/* the working tree; absolute */
	const char *prompt;	/* passed as one argv element */
	const char *session_id; /* a UUID */
	int resume;		/* 1: --resume, 0: --session-id */
	const char *model;	/* NULL: the CLI's default */
	int max_turns;		/* > 0 */
	/* comma-separated; NULL: the default set (without Bash either way
	   unless the list names it) */
	const char *allowed_tools;
	const char *system_prompt; /* appended; NULL: none */
	/* CLAUDE_CONFIG_DIR; absolute, created (0700) if missing */
	const char *config_dir;
	/* absolute; HOME, and TMPDIR = run_dir/tmp (both created, 0700) */
	const char *run_dir;
	/*
	 * NAME=VALUE pairs passed on, NULL-ended (ANTHROPIC_API_KEY, ...).
	 * An entry replaces a built-in variable of the same name (PATH, say)
	 * except HOME, TMPDIR and CLAUDE_CONFIG_DIR, which are refused.
	 * Values of 8 bytes or more are replaced by "[redacted]" wherever
	 * they appear in error and stderr_tail; messages never quote them.
	 */
	const char *const *env;
	int64_t timeout_ms; /* wall clock; 0: none */
	/*
	 * Called on the calling thread for each event; the event is freed
	 * when the callback returns. NULL: not called.
	 */
	void (*on_event)(void *ctx, const cJSON *event);
	int (*cancelled)(void *ctx); /* non-zero: kill the run; may be NULL */
	void *ctx;
	/*
	 * NULL: run the CLI on the host (as above). Else run it in a sandbox
	 * container (agent_sandbox.h): the binary found as above is mounted
	 * read-only, cwd and config_dir are mounted at their own paths and
	 * handed to the sandbox user, HOME and TMPDIR are the container's
	 * tmpfs (run_dir is not used), IS_SANDBOX=1 is set, and a loopback
	 * ANTHROPIC_BASE_URL in env is rewritten to reach the host. The
	 * wall-clock limit and cancel remove the container (cancel is polled
	 * about every second).
	 */
	const struct wl_agent_sandbox *sandbox;
};

struct wl_agent_result {
	int ok;		      /* exit 0, a result event, is_error false */
	int exit_code;	      /* -1 when ended by a signal */
	int term_signal;      /* the signal, or 0 */
	int timed_out;	      /* killed by the wall-clock limit */
	int cancelled;	      /* killed because cancelled() said so */
	int is_error;	      /* from the result event */
	int api_error_status; /* HTTP status of an API error, or 0 */
	int num_turns;
	double cost_usd;
	int64_t duration_ms; /* wall clock, measured here */
	char *text;	     /* the result event's "result" text, or NULL */
	char *session_id;    /* as the CLI reported it, or NULL */
	char *error;	     /* when !ok: one line saying why, never NULL */
	char *stderr_tail;   /* the last 4 KiB of stderr, or NULL */
};

/*
 * Run the CLI once. Returns 0 when it ran (res says how it ended; res->ok
 * may be 0), WL_ENOTFOUND when the binary cannot be found or executed
 * ("the Claude Code CLI 'claude' was not found: install ..."), WL_EINVALID
 * for bad options, WL_ERROR otherwise. res is filled in every case and
 * must be released.
 */
int wl_agent_run(const struct wl_agent_opts *o, struct wl_agent_result *res);
void wl_agent_result_release(struct wl_agent_result *res);

/*
 * Whether the CLI already has a transcript for session_id run in cwd:
 * $config_dir/projects/<key>/<id>.jsonl, where key is cwd with each UTF-16
 * code unit outside [a-zA-Z0-9] replaced by '-' (the CLI is JavaScript),
 * and a key over 200 units is cut to 200 plus "-<base-36 hash of cwd>".
 * Both cwd as given and its realpath (what the CLI's getcwd sees) are
 * tried. The caller resumes when it does and starts the session when not,
 * so a run that died before the CLI wrote anything can start again.
 */
int wl_agent_session_exists(const char *config_dir, const char *cwd,
			    const char *session_id);

/*
 * The runner's reading of one stdout line of the CLI (stream-json): the
 * event when the line is a JSON object and nothing else but blanks, or
 * NULL for a line that is skipped. Free with cJSON_Delete(). Pure; the
 * fuzz target tests/fuzz/fuzz_agent_stream.c drives it.
 */
cJSON *wl_agent_parse_event(const char *line, size_t len);

/*
 * When ev is a "result" event, take what it says into res (is_error,
 * api_error_status, num_turns, cost_usd, and text and session_id, which
 * replace earlier ones) and return 1; else 0, res untouched. Pure.
 */
int wl_agent_take_result(struct wl_agent_result *res, const cJSON *ev);

/* A fresh random (version 4) UUID, lower case, NUL-terminated. */
int wl_agent_new_session_id(char out[37]);

/*
 * Check that the binary runs: `claude --version`, with a 20 s limit.
 * 0 and the version line in out, or WL_ENOTFOUND / WL_ERROR with a message.
 */
int wl_agent_check(const char *claude, char *out, size_t n);

#endif
