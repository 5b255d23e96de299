#ifndef WL_WORKLET_H
#define WL_WORKLET_H

/*
 * The Worklet resource, Kubernetes-shaped:
 *
 *   apiVersion: worklet.dev/v1
 *   kind: Worklet
 *   metadata: { id, name, userId, generation, createdAt, updatedAt,
 *               labels, deletionTimestamp }
 *   spec:     what the user wants (written by people and the API server)
 *   status:   what the controller observed (written by the controller only)
 *
 * Desired and observed state live in separate files (see spec_store.h) so
 * the two writers never race on one file; in memory a struct wl_worklet
 * holds both. Every string is owned by the struct (malloc'd, NULL when
 * unset) and freed by wl_worklet_release(). Not thread-safe: one thread
 * owns a struct at a time.
 *
 * Every field of the requirements' Worklet model maps here:
 *   ID -> metadata.id, Name -> metadata.name, UserID -> metadata.userId,
 *   CreatedAt/UpdatedAt -> metadata.createdAt/updatedAt,
 *   Description, GitRepo, Branch, BasePrompt, Environment -> spec.*,
 *   Status -> status.phase, WebURL -> status.webUrl, Port -> status.port,
 *   ContainerID, SessionID, LastPrompt, LastError -> status.*,
 *   BuildLogs -> status.buildLogs (path of the build log file).
 */

#include <stddef.h>
#include <stdint.h>

#define WL_API_VERSION "worklet.dev/v1"
#define WL_KIND "Worklet"

/* Size limits, enforced by the codecs and validation. */
#define WL_SPEC_FILE_MAX (256 * 1024) /* one spec or status file */
#define WL_ID_MAX 63		      /* a DNS label: used as <id>.host */
#define WL_NAME_MAX 200
#define WL_DESCRIPTION_MAX 4096
#define WL_URL_MAX 2048
#define WL_BRANCH_MAX 255
#define WL_PROMPT_MAX (64 * 1024)
#define WL_ENV_MAX 128 /* entries */
#define WL_ENV_VALUE_MAX 8192
#define WL_LABELS_MAX 64
#define WL_CONDITIONS_MAX 16
#define WL_EVIDENCE_MAX 32
#define WL_PR_TITLE_MAX 256

enum wl_phase {
	WL_PHASE_NONE = 0, /* not yet observed */
	WL_PHASE_CREATING,
	WL_PHASE_BUILDING,
	WL_PHASE_DEPLOYING,
	WL_PHASE_RUNNING,
	WL_PHASE_STOPPED,
	WL_PHASE_ERROR,
};

enum wl_run_state {
	WL_RUN_RUNNING = 0, /* default */
	WL_RUN_STOPPED,
};

enum wl_project_type {
	WL_PROJECT_AUTO = 0, /* detect (spec) / not yet detected (status) */
	WL_PROJECT_DOCKERFILE,
	WL_PROJECT_NODE,
	WL_PROJECT_PYTHON,
	WL_PROJECT_GO,
	WL_PROJECT_STATIC,
};

/* One key/value pair of a string map (environment, labels). */
struct wl_kv {
	char *key;
	char *value;
};

/* An ordered string map; keys unique. */
struct wl_kvlist {
	struct wl_kv *items;
	size_t count;
};

struct wl_condition {
	char *type;    /* e.g. "SpecValid", "Cloned", "Built", "Ready" */
	char *status;  /* "True", "False" or "Unknown" */
	char *reason;  /* CamelCase, e.g. "BuildFailed" */
	char *message; /* human text */
	int64_t last_transition_ms; /* epoch ms; 0 if unset */
};

struct wl_resources {
	int64_t memory_bytes; /* 0 = configured default */
	int64_t nano_cpus;    /* 1e9 = one CPU; 0 = default */
	int64_t pids;	      /* 0 = default */
};

struct wl_metadata {
	char *id;
	char *name;
	char *user_id;
	int64_t generation; /* bumped by writers on each spec change; >= 1 */
	int64_t created_ms;
	int64_t updated_ms;
	struct wl_kvlist labels;
	int64_t deletion_ms; /* non-zero: delete requested (finalizer) */
};

/*
 * A pull request asked for (spec.pullRequest): each request has its own
 * time, so asking again (after more prompts) is a new request.
 */
struct wl_pr_request {
	char *title;
	char *description;
	char *branch; /* NULL: worklet/<id> */
	char *base;   /* NULL: the worklet's branch */
	int64_t requested_ms;
};

/* What the controller did about it (status.pullRequest). */
struct wl_pr_status {
	int64_t handled_ms; /* requested_ms of the request handled */
	int number;	    /* 0: none */
	char *url;
	char *branch;
	char *base;
	char *commit;	  /* pushed */
	int created;	  /* 1: this request opened it; 0: updated it */
	char *error;	  /* the last request failed: why */
	char *error_code; /* push_failed, github_auth, github_not_found,
			     github_validation, github_rate_limited,
			     github_unavailable, branch_conflict, invalid */
};

struct wl_spec {
	char *description;
	char *git_repo;
	char *branch; /* NULL means "main" */
	char *base_prompt;
	struct wl_kvlist env;
	enum wl_run_state run_state;
	/* Optional overrides. */
	enum wl_project_type project_type; /* AUTO = detect */
	char *dockerfile;		   /* path inside the repo */
	char *start_command;   /* shell-free argv string, split on spaces */
	int container_port;    /* 0 = from detection (3000) */
	char *runtime_version; /* Node.js version range (node_version.h);
				  NULL = from the repository */
	char *path; /* the app's folder in the repository (a monorepo's
		       "apps/web"); NULL = the root */
	struct wl_resources resources;
	int64_t restarted_ms; /* restart marker: changing it recreates */
	struct wl_pr_request pull_request;
};

struct wl_detection {
	enum wl_project_type type;
	char *framework;     /* "next", "vite", "flask", ... or NULL */
	char *start_command; /* human-readable */
	int port;	     /* container port */
	char **evidence;     /* e.g. "package.json has scripts.start" */
	size_t evidence_count;
};

struct wl_status {
	enum wl_phase phase;
	int64_t observed_generation;
	struct wl_condition *conditions;
	size_t condition_count;
	char *web_url;
	int port; /* host port on 127.0.0.1; 0 = none */
	char *container_id;
	char *image_id;
	char *session_id;
	char *last_prompt;
	char *last_error;
	char *build_logs; /* path of the build log file */
	char *commit;	  /* git commit being served/built */
	struct wl_detection detection;
	int restart_count;
	int last_exit_code;
	int64_t last_finished_ms;  /* the exit that was last counted */
	int64_t next_restart_ms;   /* crash backoff: restart not before */
	int64_t deploy_started_ms; /* health-check deadline base */
	char *failed_build;	   /* build key that failed; not retried */
	char *failed_run;	   /* run key whose start failed while an
				      older version kept serving */
	char *serving_commit;	   /* commit of the version being served */
	char *active_prompt;	   /* id of the prompt being worked on */
	int queued_prompts;	   /* prompts waiting behind it */
	struct wl_pr_status pull_request;
	int64_t updated_ms;
};

struct wl_worklet {
	struct wl_metadata meta;
	struct wl_spec spec;
	struct wl_status status;
};

/* Fill a caller's struct with an empty worklet (all NULL/0). */
void wl_worklet_init(struct wl_worklet *w);

/* Free everything the struct owns; it is empty afterwards. */
void wl_worklet_release(struct wl_worklet *w);
void wl_spec_release(struct wl_spec *s);
void wl_status_release(struct wl_status *s);
void wl_metadata_release(struct wl_metadata *m);

/* Free a detection summary's contents. */
void wl_detection_release(struct wl_detection *d);

/* Deep copies; 0 or WL_ERROR (out of memory). dst must be initialised. */
int wl_spec_copy(struct wl_spec *dst, const struct wl_spec *src);
int wl_status_copy(struct wl_status *dst, const struct wl_status *src);
int wl_metadata_copy(struct wl_metadata *dst, const struct wl_metadata *src);

/* Effective branch: spec.branch or "main". */
const char *wl_spec_branch(const struct wl_spec *s);

/* Enum <-> string. Parsers return -1 for unknown names. */
const char *wl_phase_name(enum wl_phase p); /* "" for NONE */
int wl_phase_parse(const char *s);
const char *wl_run_state_name(enum wl_run_state r); /* running|stopped */
int wl_run_state_parse(const char *s);
const char *wl_project_type_name(
	enum wl_project_type t); /* auto|dockerfile|node|python|go|static */
int wl_project_type_parse(const char *s);

/* String maps. set replaces an existing key. */
int wl_kvlist_set(struct wl_kvlist *l, const char *key, const char *value);
const char *wl_kvlist_get(const struct wl_kvlist *l, const char *key);
void wl_kvlist_release(struct wl_kvlist *l);
int wl_kvlist_copy(struct wl_kvlist *dst, const struct wl_kvlist *src);

/*
 * Set a status condition (copying the strings). The transition time
 * changes only when status (True/False/Unknown) changes, as in Kubernetes.
 * message may be NULL.
 */
int wl_status_set_condition(struct wl_status *s, const char *type,
			    const char *status, const char *reason,
			    const char *message, int64_t now_ms);
const struct wl_condition *wl_status_condition(const struct wl_status *s,
					       const char *type);

/* Replace *dst with a copy of src (NULL allowed). 0 or WL_ERROR. */
int wl_str_set(char **dst, const char *src);

#endif
