#include "specs/worklet.h"

#include <stdlib.h>
#include <string.h>

#include "specs/core/error.h"
#include "specs/core/banned.h"

static int oom(void)
{
	wl_error_set("out of memory");
	return WL_ERROR;
}

int wl_str_set(char **dst, const char *src)
{
	char *copy = NULL;

	/* Copy before freeing: src may point into *dst. */
	if (src && !(copy = strdup(src)))
		return oom();
	free(*dst);
	*dst = copy;
	return 0;
}

void wl_worklet_init(struct wl_worklet *w)
{
	memset(w, 0, sizeof(*w));
}

void wl_kvlist_release(struct wl_kvlist *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

void wl_metadata_release(struct wl_metadata *m)
{
	free(m->id);
	free(m->name);
	free(m->user_id);
	wl_kvlist_release(&m->labels);
	memset(m, 0, sizeof(*m));
}

void wl_spec_release(struct wl_spec *s)
{
	free(s->description);
	free(s->git_repo);
	free(s->branch);
	free(s->base_prompt);
	wl_kvlist_release(&s->env);
	free(s->dockerfile);
	free(s->start_command);
	free(s->runtime_version);
	free(s->path);
	free(s->pull_request.title);
	free(s->pull_request.description);
	free(s->pull_request.branch);
	free(s->pull_request.base);
	memset(s, 0, sizeof(*s));
}

static void condition_release(struct wl_condition *c)
{
	free(c->type);
	free(c->status);
	free(c->reason);
	free(c->message);
	memset(c, 0, sizeof(*c));
}

void wl_detection_release(struct wl_detection *d)
{
	free(d->framework);
	free(d->start_command);
	for (size_t i = 0; i < d->evidence_count; i++)
		free(d->evidence[i]);
	free(d->evidence);
	memset(d, 0, sizeof(*d));
}

void wl_status_release(struct wl_status *s)
{
	for (size_t i = 0; i < s->condition_count; i++)
		condition_release(&s->conditions[i]);
	free(s->conditions);
	free(s->web_url);
	free(s->container_id);
	free(s->image_id);
	free(s->session_id);
	free(s->last_prompt);
	free(s->last_error);
	free(s->build_logs);
	free(s->commit);
	wl_detection_release(&s->detection);
	free(s->failed_build);
	free(s->failed_run);
	free(s->serving_commit);
	free(s->active_prompt);
	free(s->pull_request.url);
	free(s->pull_request.branch);
	free(s->pull_request.base);
	free(s->pull_request.commit);
	free(s->pull_request.error);
	free(s->pull_request.error_code);
	memset(s, 0, sizeof(*s));
}

void wl_worklet_release(struct wl_worklet *w)
{
	wl_metadata_release(&w->meta);
	wl_spec_release(&w->spec);
	wl_status_release(&w->status);
}

const char *wl_spec_branch(const struct wl_spec *s)
{
	return s->branch && s->branch[0] ? s->branch : "main";
}

/* Enum names, indexed by value. */
static const char *const phase_names[] = {
	[WL_PHASE_NONE] = "",
	[WL_PHASE_CREATING] = "creating",
	[WL_PHASE_BUILDING] = "building",
	[WL_PHASE_DEPLOYING] = "deploying",
	[WL_PHASE_RUNNING] = "running",
	[WL_PHASE_STOPPED] = "stopped",
	[WL_PHASE_ERROR] = "error",
};

static const char *const run_state_names[] = {
	[WL_RUN_RUNNING] = "running",
	[WL_RUN_STOPPED] = "stopped",
};

static const char *const project_type_names[] = {
	[WL_PROJECT_AUTO] = "auto", [WL_PROJECT_DOCKERFILE] = "dockerfile",
	[WL_PROJECT_NODE] = "node", [WL_PROJECT_PYTHON] = "python",
	[WL_PROJECT_GO] = "go",	    [WL_PROJECT_STATIC] = "static",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? names[v] : "";
}

static int parse_name(const char *const *names, size_t n, const char *s)
{
	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return (int)i;
	return -1;
}

const char *wl_phase_name(enum wl_phase p)
{
	return name_of(phase_names, COUNT(phase_names), (int)p);
}

int wl_phase_parse(const char *s)
{
	return parse_name(phase_names, COUNT(phase_names), s);
}

const char *wl_run_state_name(enum wl_run_state r)
{
	return name_of(run_state_names, COUNT(run_state_names), (int)r);
}

int wl_run_state_parse(const char *s)
{
	return parse_name(run_state_names, COUNT(run_state_names), s);
}

const char *wl_project_type_name(enum wl_project_type t)
{
	return name_of(project_type_names, COUNT(project_type_names), (int)t);
}

int wl_project_type_parse(const char *s)
{
	return parse_name(project_type_names, COUNT(project_type_names), s);
}

int wl_kvlist_set(struct wl_kvlist *l, const char *key, const char *value)
{
	struct wl_kv *items;
	char *k = NULL, *v = NULL;

	if (!value)
		value = "";
	for (size_t i = 0; i < l->count; i++) {
		if (strcmp(l->items[i].key, key))
			continue;
		return wl_str_set(&l->items[i].value, value);
	}
	k = strdup(key);
	v = strdup(value);
	items = k && v ? realloc(l->items, (l->count + 1) * sizeof(*items))
		       : NULL;
	if (!items) {
		free(k);
		free(v);
		return oom();
	}
	items[l->count].key = k;
	items[l->count].value = v;
	l->items = items;
	l->count++;
	return 0;
}

const char *wl_kvlist_get(const struct wl_kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->count; i++)
		if (!strcmp(l->items[i].key, key))
			return l->items[i].value;
	return NULL;
}

int wl_kvlist_copy(struct wl_kvlist *dst, const struct wl_kvlist *src)
{
	struct wl_kvlist tmp = { 0 };

	for (size_t i = 0; i < src->count; i++) {
		if (wl_kvlist_set(&tmp, src->items[i].key,
				  src->items[i].value) < 0) {
			wl_kvlist_release(&tmp);
			return WL_ERROR;
		}
	}
	wl_kvlist_release(dst);
	*dst = tmp;
	return 0;
}

/* Strings of a struct, for the copy helpers. */
#define COPY_STR(dst, src, field)                                              \
	do {                                                                   \
		if (wl_str_set(&(dst)->field, (src)->field) < 0)               \
			goto fail;                                             \
	} while (0)

int wl_metadata_copy(struct wl_metadata *dst, const struct wl_metadata *src)
{
	struct wl_metadata tmp = { 0 };

	tmp.generation = src->generation;
	tmp.created_ms = src->created_ms;
	tmp.updated_ms = src->updated_ms;
	tmp.deletion_ms = src->deletion_ms;
	COPY_STR(&tmp, src, id);
	COPY_STR(&tmp, src, name);
	COPY_STR(&tmp, src, user_id);
	if (wl_kvlist_copy(&tmp.labels, &src->labels) < 0)
		goto fail;
	wl_metadata_release(dst);
	*dst = tmp;
	return 0;
fail:
	wl_metadata_release(&tmp);
	return WL_ERROR;
}

int wl_spec_copy(struct wl_spec *dst, const struct wl_spec *src)
{
	struct wl_spec tmp = { 0 };

	tmp.run_state = src->run_state;
	tmp.project_type = src->project_type;
	tmp.container_port = src->container_port;
	tmp.resources = src->resources;
	tmp.restarted_ms = src->restarted_ms;
	COPY_STR(&tmp, src, description);
	COPY_STR(&tmp, src, git_repo);
	COPY_STR(&tmp, src, branch);
	COPY_STR(&tmp, src, base_prompt);
	COPY_STR(&tmp, src, dockerfile);
	COPY_STR(&tmp, src, start_command);
	COPY_STR(&tmp, src, runtime_version);
	COPY_STR(&tmp, src, path);
	tmp.pull_request.requested_ms = src->pull_request.requested_ms;
	COPY_STR(&tmp.pull_request, &src->pull_request, title);
	COPY_STR(&tmp.pull_request, &src->pull_request, description);
	COPY_STR(&tmp.pull_request, &src->pull_request, branch);
	COPY_STR(&tmp.pull_request, &src->pull_request, base);
	if (wl_kvlist_copy(&tmp.env, &src->env) < 0)
		goto fail;
	wl_spec_release(dst);
	*dst = tmp;
	return 0;
fail:
	wl_spec_release(&tmp);
	return WL_ERROR;
}

static int detection_copy(struct wl_detection *dst,
			  const struct wl_detection *src)
{
	dst->type = src->type;
	dst->port = src->port;
	COPY_STR(dst, src, framework);
	COPY_STR(dst, src, start_command);
	if (src->evidence_count) {
		dst->evidence = calloc(src->evidence_count, sizeof(char *));
		if (!dst->evidence)
			return oom();
		for (size_t i = 0; i < src->evidence_count; i++) {
			if (wl_str_set(&dst->evidence[i], src->evidence[i]) < 0)
				return WL_ERROR;
			dst->evidence_count++;
		}
	}
	return 0;
fail:
	return WL_ERROR;
}

int wl_status_copy(struct wl_status *dst, const struct wl_status *src)
{
	struct wl_status tmp = { 0 };

	tmp.phase = src->phase;
	tmp.observed_generation = src->observed_generation;
	tmp.port = src->port;
	tmp.restart_count = src->restart_count;
	tmp.last_exit_code = src->last_exit_code;
	tmp.last_finished_ms = src->last_finished_ms;
	tmp.next_restart_ms = src->next_restart_ms;
	tmp.deploy_started_ms = src->deploy_started_ms;
	tmp.queued_prompts = src->queued_prompts;
	tmp.updated_ms = src->updated_ms;
	if (src->condition_count) {
		tmp.conditions =
			calloc(src->condition_count, sizeof(*tmp.conditions));
		if (!tmp.conditions) {
			oom();
			goto fail;
		}
		for (size_t i = 0; i < src->condition_count; i++) {
			struct wl_condition *d = &tmp.conditions[i];
			const struct wl_condition *c = &src->conditions[i];

			tmp.condition_count++;
			d->last_transition_ms = c->last_transition_ms;
			COPY_STR(d, c, type);
			COPY_STR(d, c, status);
			COPY_STR(d, c, reason);
			COPY_STR(d, c, message);
		}
	}
	COPY_STR(&tmp, src, web_url);
	COPY_STR(&tmp, src, container_id);
	COPY_STR(&tmp, src, image_id);
	COPY_STR(&tmp, src, session_id);
	COPY_STR(&tmp, src, last_prompt);
	COPY_STR(&tmp, src, last_error);
	COPY_STR(&tmp, src, build_logs);
	COPY_STR(&tmp, src, commit);
	COPY_STR(&tmp, src, failed_build);
	COPY_STR(&tmp, src, failed_run);
	COPY_STR(&tmp, src, serving_commit);
	COPY_STR(&tmp, src, active_prompt);
	tmp.pull_request.handled_ms = src->pull_request.handled_ms;
	tmp.pull_request.number = src->pull_request.number;
	tmp.pull_request.created = src->pull_request.created;
	COPY_STR(&tmp.pull_request, &src->pull_request, url);
	COPY_STR(&tmp.pull_request, &src->pull_request, branch);
	COPY_STR(&tmp.pull_request, &src->pull_request, base);
	COPY_STR(&tmp.pull_request, &src->pull_request, commit);
	COPY_STR(&tmp.pull_request, &src->pull_request, error);
	COPY_STR(&tmp.pull_request, &src->pull_request, error_code);
	if (detection_copy(&tmp.detection, &src->detection) < 0)
		goto fail;
	wl_status_release(dst);
	*dst = tmp;
	return 0;
fail:
	wl_status_release(&tmp);
	return WL_ERROR;
}

static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

const struct wl_condition *wl_status_condition(const struct wl_status *s,
					       const char *type)
{
	for (size_t i = 0; i < s->condition_count; i++)
		if (str_eq(s->conditions[i].type, type))
			return &s->conditions[i];
	return NULL;
}

int wl_status_set_condition(struct wl_status *s, const char *type,
			    const char *status, const char *reason,
			    const char *message, int64_t now_ms)
{
	struct wl_condition tmp = { 0 }, *c;
	int changed;

	c = (struct wl_condition *)wl_status_condition(s, type);
	if (!c && s->condition_count >= WL_CONDITIONS_MAX) {
		wl_error_set("cannot set condition '%s': at most %d conditions",
			     type, WL_CONDITIONS_MAX);
		return WL_ETOOBIG;
	}
	/* Build the new value aside so a failure leaves s unchanged. */
	if (wl_str_set(&tmp.type, type) < 0 ||
	    wl_str_set(&tmp.status, status) < 0 ||
	    wl_str_set(&tmp.reason, reason) < 0 ||
	    wl_str_set(&tmp.message, message) < 0)
		goto fail;
	changed = !c || !str_eq(c->status, status);
	tmp.last_transition_ms = changed ? now_ms : c->last_transition_ms;
	if (!c) {
		struct wl_condition *items;

		items = realloc(s->conditions,
				(s->condition_count + 1) * sizeof(*items));
		if (!items) {
			oom();
			goto fail;
		}
		s->conditions = items;
		c = &items[s->condition_count++];
	} else {
		condition_release(c);
	}
	*c = tmp;
	return 0;
fail:
	condition_release(&tmp);
	return WL_ERROR;
}
