/*
 * DESIGN: wl_reconcile() runs on worker threads; the work queue hands a
 * worklet id to one worker at a time, so everything keyed by that id (its
 * files, clone, containers, cache entry) has a single writer. The cache
 * list itself is guarded by r->cache_lock; an entry's fields are touched
 * only by the worker that holds the entry's key.
 */
#include "controller/reconcile.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/asset_origin.h"
#include "controller/build_context.h"
#include "controller/ctl_metrics.h"
#include "controller/detect.h"
#include "controller/dockerfile.h"
#include "controller/git_repo.h"
#include "controller/image_gc.h"
#include "controller/prompts.h"
#include "controller/pulls.h"
#include "controller/user_network.h"
#include "controller/workqueue.h"
#include "specs/codec.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/hash.h"
#include "specs/core/log.h"
#include "specs/core/timeutil.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

#define BUILD_LOG_MAX (4 << 20)
#define PROBE_INTERVAL_MS 300
#define LOG_TAIL_LINES 20
#define DRAIN_MS 1500 /* an old version's grace after traffic left it */

/* What we remember between passes; a cache only, never the truth. */
struct wl_cache_entry {
	struct wl_cache_entry *next;
	char id[WL_ID_MAX + 1];
	struct wl_worklet good; /* last valid spec (meta + spec) */
	int has_good;
	int64_t last_fetch_mono; /* when the clone was last synced */
	char fetched[WL_URL_MAX + WL_BRANCH_MAX + 2]; /* "url\nbranch" */
	char *status_yaml; /* last status written, to skip no-op writes */
};

/* Everything one pass works with. */
struct pass {
	struct wl_worker_ctx *w;
	struct wl_reconciler *r;
	const struct wl_config *cfg;
	struct wl_cache_entry *cache;
	const char *id;
	struct wl_worklet wl; /* meta + spec from the file, status from ours */
	int64_t now;
	char clone_dir[4096];
	char sha[41];	    /* the commit this pass builds */
	int build_failed;   /* the image for sha could not be built */
	int rollout_failed; /* it was built but did not start */
};

int wl_reconciler_init(struct wl_reconciler *r, const struct wl_config *cfg,
		       const volatile int *stop)
{
	int error;

	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->stop = stop;
	if ((error = wl_store_init(&r->store, cfg->state_dir)) < 0)
		return error;
	if ((error = wl_fs_mkdir_p(cfg->base_dir, 0700)) < 0)
		goto fail;
	snprintf(r->mirrors_dir, sizeof(r->mirrors_dir), "%s/.mirrors",
		 cfg->base_dir);
	if ((error = wl_port_pool_new(&r->ports, cfg->port_min,
				      cfg->port_max)) < 0)
		goto fail;
	pthread_mutex_init(&r->cache_lock, NULL);
	pthread_mutex_init(&r->agent_lock, NULL);
	wl_random_hex(r->runner, 8);
	return 0;
fail:
	wl_store_release(&r->store);
	return error;
}

static void cache_entry_free(struct wl_cache_entry *e)
{
	wl_worklet_release(&e->good);
	free(e->status_yaml);
	free(e);
}

void wl_reconciler_release(struct wl_reconciler *r)
{
	struct wl_cache_entry *e, *next;

	for (e = r->cache; e; e = next) {
		next = e->next;
		cache_entry_free(e);
	}
	wl_port_pool_free(r->ports);
	wl_store_release(&r->store);
	pthread_mutex_destroy(&r->cache_lock);
	pthread_mutex_destroy(&r->agent_lock);
}

static struct wl_cache_entry *cache_get(struct wl_reconciler *r, const char *id)
{
	struct wl_cache_entry *e;

	pthread_mutex_lock(&r->cache_lock);
	for (e = r->cache; e; e = e->next)
		if (!strcmp(e->id, id))
			goto out;
	e = calloc(1, sizeof(*e));
	if (e) {
		snprintf(e->id, sizeof(e->id), "%s", id);
		wl_worklet_init(&e->good);
		e->next = r->cache;
		r->cache = e;
	}
out:
	pthread_mutex_unlock(&r->cache_lock);
	return e;
}

static void cache_drop(struct wl_reconciler *r, const char *id)
{
	struct wl_cache_entry **pp, *e;

	pthread_mutex_lock(&r->cache_lock);
	for (pp = &r->cache; (e = *pp); pp = &e->next) {
		if (strcmp(e->id, id))
			continue;
		*pp = e->next;
		cache_entry_free(e);
		break;
	}
	pthread_mutex_unlock(&r->cache_lock);
}

int wl_worker_ctx_init(struct wl_worker_ctx *w, struct wl_reconciler *r)
{
	int error;

	memset(w, 0, sizeof(*w));
	w->r = r;
	if ((error = wl_docker_new(&w->docker, r->cfg->docker_host)) < 0)
		return error;
	w->probe = curl_easy_init();
	if (!w->probe) {
		wl_docker_free(w->docker);
		wl_error_set("cannot create an HTTP client");
		return WL_ERROR;
	}
	return 0;
}

void wl_worker_ctx_release(struct wl_worker_ctx *w)
{
	if (w->probe)
		curl_easy_cleanup(w->probe);
	wl_docker_free(w->docker);
	memset(w, 0, sizeof(*w));
}

static void label_filter(const struct wl_config *cfg, char *out, size_t n,
			 const char *id)
{
	char extra[WL_ID_MAX + 16];

	snprintf(extra, sizeof(extra), "worklet.id=%s", id);
	wl_config_label_filter(cfg, extra, out, n);
}
int wl_reconciler_adopt_ports(struct wl_reconciler *r, struct wl_docker *d)
{
	struct wl_docker_container *cs = NULL;
	char **ids = NULL, filter[128];
	size_t count = 0, ncs = 0;
	int error;

	if ((error = wl_store_list(&r->store, 1, &ids, &count)) < 0)
		return error;
	for (size_t i = 0; i < count; i++) {
		struct wl_worklet w;

		wl_worklet_init(&w);
		if (wl_store_read_status(&r->store, ids[i], &w) == 0 &&
		    w.status.port &&
		    wl_port_pool_reserve(r->ports, ids[i], w.status.port) < 0)
			wl_warn("worklet '%s': %s", ids[i], wl_error_last());
		wl_worklet_release(&w);
	}
	wl_store_free_ids(ids, count);

	/* Containers are the truth when a status file was lost. */
	wl_config_label_filter(r->cfg, NULL, filter, sizeof(filter));
	if (wl_docker_containers_list(d, filter, &cs, &ncs) < 0) {
		wl_warn("cannot list containers to adopt ports: %s",
			wl_error_last());
		return 0;
	}
	for (size_t i = 0; i < ncs; i++) {
		const char *id = wl_kvlist_get(&cs[i].labels, "worklet.id");
		const char *port = wl_kvlist_get(&cs[i].labels, "worklet.port");
		char *end;
		long p;

		if (!id || !port || wl_port_pool_lookup(r->ports, id))
			continue;
		p = strtol(port, &end, 10);
		if (*end || p <= 0 || p > 65535)
			continue;
		if (wl_port_pool_reserve(r->ports, id, (int)p) < 0)
			wl_warn("worklet '%s': %s", id, wl_error_last());
	}
	wl_docker_containers_free(cs, ncs);
	return 0;
}

/* ---- status ---------------------------------------------------------- */

static void set_condition(struct pass *p, const char *type, const char *st,
			  const char *reason, const char *message)
{
	/*
	 * Now, not the pass's start: a Built condition set after a build
	 * of a minute says when the build ended.
	 */
	wl_status_set_condition(&p->wl.status, type, st, reason, message,
				wl_time_now_ms());
}

/*
 * Write the status file if it changed. updatedAt moves only when
 * something else did, so an idle worklet's file is not rewritten.
 */
static int save_status(struct pass *p)
{
	struct wl_buf out;
	int64_t prev = p->wl.status.updated_ms;
	int error;

	/* Compare without the timestamp, which is the one thing that moves. */
	wl_buf_init(&out, WL_SPEC_FILE_MAX);
	p->wl.status.updated_ms = 0;
	error = wl_yaml_encode_status(&out, &p->wl);
	p->wl.status.updated_ms = prev;
	if (error < 0)
		goto done;
	if (p->cache->status_yaml &&
	    !strcmp(p->cache->status_yaml, wl_buf_cstr(&out)))
		goto done;
	free(p->cache->status_yaml);
	p->cache->status_yaml = wl_buf_detach(&out, NULL);
	p->wl.status.updated_ms = p->now;
	if ((error = wl_store_write_status(&p->r->store, &p->wl)) < 0) {
		wl_err("worklet '%s': cannot write status: %s", p->id,
		       wl_error_last());
		free(p->cache->status_yaml);
		p->cache->status_yaml = NULL;
		p->wl.status.updated_ms = prev;
	}
done:
	wl_buf_release(&out);
	return error;
}

static void set_phase(struct pass *p, enum wl_phase phase)
{
	if (p->wl.status.phase != phase)
		wl_info("worklet '%s': phase %s -> %s", p->id,
			wl_phase_name(p->wl.status.phase)[0]
				? wl_phase_name(p->wl.status.phase)
				: "(new)",
			wl_phase_name(phase));
	p->wl.status.phase = phase;
}

/* A permanent failure: phase error, message in lastError and a condition. */
static int fail(struct pass *p, const char *cond, const char *reason,
		const char *message)
{
	const char *old = p->wl.status.last_error;

	/* Passes repeat; say it once. */
	if (p->wl.status.phase != WL_PHASE_ERROR || !old ||
	    strcmp(old, message))
		wl_warn("worklet '%s': %s", p->id, message);
	set_phase(p, WL_PHASE_ERROR);
	wl_str_set(&p->wl.status.last_error, message);
	set_condition(p, cond, "False", reason, message);
	if (strcmp(cond, "Ready"))
		set_condition(p, "Ready", "False", reason, message);
	return save_status(p);
}

/*
 * Is a version of the app serving traffic? The proxy routes while the
 * Ready condition is True: an older version keeps serving while a new one
 * builds and starts (a rollout), and through its failures.
 */
static int serving(const struct pass *p)
{
	const struct wl_condition *c =
		wl_status_condition(&p->wl.status, "Ready");

	return p->wl.status.container_id && p->wl.status.port && c &&
	       c->status && !strcmp(c->status, "True");
}

/*
 * A new version failed (build or start) while an older one serves: say
 * so in lastError and cond, keep Ready and the phase running. Without a
 * serving version it is a plain failure.
 */
static int degrade(struct pass *p, const char *cond, const char *reason,
		   const char *message)
{
	const char *old = p->wl.status.last_error;

	if (!serving(p))
		return fail(p, cond, reason, message);
	if (!old || strcmp(old, message))
		wl_warn("worklet '%s': %s; the previous version keeps serving",
			p->id, message);
	set_phase(p, WL_PHASE_RUNNING);
	wl_str_set(&p->wl.status.last_error, message);
	set_condition(p, cond, "False", reason, message);
	return save_status(p);
}

/*
 * Host ports: each worklet has two slots, "<id>" and "<id>~b", so that a
 * new version can start beside the one serving (which holds status.port).
 */
static int other_port(struct pass *p, int avoid, int *port)
{
	char alt[WL_ID_MAX + 4];
	int error;

	if ((error = wl_port_pool_claim(p->r->ports, p->id, port)) < 0)
		return error;
	if (*port != avoid)
		return 0;
	snprintf(alt, sizeof(alt), "%s~b", p->id);
	return wl_port_pool_claim(p->r->ports, alt, port);
}

static void release_ports(struct pass *p)
{
	char alt[WL_ID_MAX + 4];

	snprintf(alt, sizeof(alt), "%s~b", p->id);
	wl_port_pool_release(p->r->ports, p->id);
	wl_port_pool_release(p->r->ports, alt);
}

static int label_port(const struct wl_docker_container *c)
{
	const char *v = wl_kvlist_get(&c->labels, "worklet.port");
	char *end;
	long port;

	if (!v)
		return 0;
	port = strtol(v, &end, 10);
	return *end || port <= 0 || port > 65535 ? 0 : (int)port;
}

/* ---- cleanup ---------------------------------------------------------- */

/* This worklet's containers (ours: instance label too). */
static int list_containers(struct pass *p, struct wl_docker_container **cs,
			   size_t *n)
{
	char filter[128];

	label_filter(p->cfg, filter, sizeof(filter), p->id);
	return wl_docker_containers_list(p->w->docker, filter, cs, n);
}

/* Remove every container labelled with id. */
static int remove_containers(struct pass *p)
{
	struct wl_docker_container *cs = NULL;
	size_t n = 0;
	int error;

	if ((error = list_containers(p, &cs, &n)) < 0)
		return error;
	for (size_t i = 0; i < n && !error; i++) {
		wl_info("worklet '%s': removing container %s", p->id,
			cs[i].name ? cs[i].name : cs[i].id);
		if (cs[i].running)
			wl_docker_container_stop(p->w->docker, cs[i].id, 5);
		error = wl_docker_container_remove(p->w->docker, cs[i].id);
	}
	wl_docker_containers_free(cs, n);
	return error;
}

static int remove_images(struct pass *p, const char *keep_id)
{
	struct wl_docker_image *imgs = NULL;
	char filter[128];
	size_t n = 0;
	int64_t older = -1;
	int error;

	label_filter(p->cfg, filter, sizeof(filter), p->id);
	if ((error = wl_docker_images_list(p->w->docker, filter, &imgs, &n)) <
	    0)
		return error;
	/*
	 * The earlier stages of a multi-stage build (a Vite app's install and
	 * build, a Go build) are no parents of the image that serves: listed
	 * untagged, removing them would take the install layer with them,
	 * and every rebuild would install again. The untagged images made
	 * after the newest older version was built belong to the builds since
	 * (the serving one's stages, a failed attempt's steps): they stay as
	 * the next build's cache until a newer version serves. With no older
	 * version they all stay.
	 */
	for (size_t i = 0; keep_id && i < n; i++)
		if (imgs[i].tag_count && strcmp(imgs[i].id, keep_id) &&
		    imgs[i].created_ms > older)
			older = imgs[i].created_ms;
	for (size_t i = 0; i < n; i++) {
		if (keep_id && !strcmp(imgs[i].id, keep_id))
			continue;
		if (keep_id && !imgs[i].tag_count && imgs[i].created_ms > older)
			continue;
		/* An image still used by a container fails; that is fine. */
		if (wl_docker_image_remove(p->w->docker, imgs[i].id, 0) == 0)
			wl_info("worklet '%s': removed old image %.19s", p->id,
				imgs[i].id);
	}
	wl_docker_images_free(imgs, n);
	return 0;
}

static int remove_all(struct pass *p)
{
	int error;

	if ((error = remove_containers(p)) < 0 ||
	    (error = remove_images(p, NULL)) < 0)
		return error;
	if ((error = wl_fs_remove_tree(p->clone_dir)) < 0)
		return error;
	release_ports(p);
	return 0;
}

/* No spec file: whatever still carries the id is an orphan. */
static int collect_orphan(struct pass *p)
{
	int error;

	if ((error = remove_all(p)) < 0) {
		wl_err("worklet '%s': cannot remove orphaned resources: %s",
		       p->id, wl_error_last());
		return error;
	}
	wl_store_remove_status(&p->r->store, p->id);
	wl_prompts_forget(p->r, p->id, p->clone_dir);
	cache_drop(p->r, p->id);
	p->cache = NULL;
	wl_debug("worklet '%s': no spec; cleaned up", p->id);
	return 0;
}

/* Finalizer: everything goes, then the spec; a failure keeps it visible. */
static int finalize(struct pass *p)
{
	int error;

	if ((error = remove_all(p)) < 0) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "cannot delete: %s",
			 wl_error_last());
		wl_str_set(&p->wl.status.last_error, msg);
		set_condition(p, "Deleting", "False", "DeleteFailed", msg);
		save_status(p);
		wl_err("worklet '%s': %s", p->id, msg);
		return error;
	}
	wl_store_remove_status(&p->r->store, p->id);
	wl_prompts_forget(p->r, p->id, p->clone_dir);
	if ((error = wl_store_remove_spec(&p->r->store, p->id)) < 0)
		return error;
	wl_info("worklet '%s': deleted", p->id);
	cache_drop(p->r, p->id);
	p->cache = NULL;
	return 0;
}

/* ---- source ------------------------------------------------------------ */

static int sync_source(struct pass *p, char sha[41])
{
	const struct wl_spec *s = &p->wl.spec;
	struct wl_git_sync_opts o;
	char fetched[sizeof(p->cache->fetched)], token[1024];
	int need, error;

	snprintf(fetched, sizeof(fetched), "%s\n%s", s->git_repo,
		 wl_spec_branch(s));
	need = !wl_fs_exists(p->clone_dir) ||
	       strcmp(fetched, p->cache->fetched) ||
	       wl_time_mono_ms() - p->cache->last_fetch_mono >=
		       p->cfg->git_poll_ms;
	if (!need && wl_git_head(p->clone_dir, sha) == 0)
		return 0;

	if (!wl_fs_exists(p->clone_dir)) {
		set_phase(p, WL_PHASE_CREATING);
		set_condition(p, "Cloned", "Unknown", "Cloning", NULL);
		save_status(p);
	}
	memset(&o, 0, sizeof(o));
	o.url = s->git_repo;
	o.branch = wl_spec_branch(s);
	o.dir = p->clone_dir;
	o.allow_local = p->cfg->allow_local_repos;
	o.allowed_hosts = p->cfg->git_allowed_hosts;
	o.cancel = p->r->stop;
	o.token = wl_config_git_token(p->cfg, p->wl.meta.user_id, token,
				      sizeof(token));
	o.token_hosts = p->cfg->git_token_hosts;
	o.cache_dir = p->r->mirrors_dir;
	if ((error = wl_git_sync(&o, sha)) < 0)
		return error;
	snprintf(p->cache->fetched, sizeof(p->cache->fetched), "%s", fetched);
	p->cache->last_fetch_mono = wl_time_mono_ms();
	return 0;
}

/* ---- build ------------------------------------------------------------- */

struct build_log {
	int fd;
	size_t written;
};

static void on_plain_line(struct build_log *bl, const char *line, size_t len);

/*
 * The build log as a person reads it (and as the API and the dashboard
 * return it): without terminal escapes.
 */
static void on_build_line(void *ctx, const char *raw)
{
	struct build_log *bl = ctx;
	struct wl_buf plain;
	const char *line;
	size_t len;

	if (bl->fd < 0 || bl->written > BUILD_LOG_MAX)
		return;
	wl_buf_init(&plain, strlen(raw) + 1);
	wl_docker_strip_escapes(&plain, raw);
	line = wl_buf_cstr(&plain);
	len = strlen(line);
	on_plain_line(bl, line, len);
	wl_buf_release(&plain);
}

static void on_plain_line(struct build_log *bl, const char *line, size_t len)
{
	if (bl->written + len + 1 > BUILD_LOG_MAX) {
		static const char cut[] = "[build log truncated]\n";

		if (write(bl->fd, cut, sizeof(cut) - 1) < 0)
			return;
		bl->written = BUILD_LOG_MAX + 1;
		return;
	}
	if (write(bl->fd, line, len) < 0 || write(bl->fd, "\n", 1) < 0)
		return;
	bl->written += len + 1;
}

/* A build key: everything that goes into the image. */
static void build_key(char out[65], const char *sha,
		      const struct wl_generated *gen,
		      const struct wl_base_images *images, const char *context)
{
	struct wl_buf b;

	wl_buf_init(&b, 1 << 20);
	wl_buf_printf(&b, "v1\n%s\n%s\n%s %s %s %s %s\n", sha,
		      gen->dockerfile ? gen->dockerfile : "", images->node,
		      images->python, images->go, images->go_runtime,
		      images->static_web);
	/* Only when set, so keys of whole-repository builds stay as they
	 * were. */
	if (context)
		wl_buf_printf(&b, "context %s\n", context);
	for (size_t i = 0; i < gen->count; i++) {
		wl_buf_printf(&b, "%s %o %zu\n", gen->files[i].path,
			      gen->files[i].mode, gen->files[i].len);
		wl_buf_add(&b, gen->files[i].data, gen->files[i].len);
	}
	wl_sha256_hex(out, b.ptr ? b.ptr : "", b.len);
	wl_buf_release(&b);
}

/*
 * Every image a build makes carries this instance's and this worklet's
 * labels, the cache image of each step included (the classic builder keeps
 * one per step, also when the build fails or is cut off): found by label,
 * they go with the worklet's other images (remove_images, the orphan pass)
 * or count in the disk budget (image_gc.h), and nothing of a build is left
 * that nobody can attribute. A repository's own Dockerfile is built from a
 * labelled copy in the context, read without following links.
 */
#define DOCKERFILE_READ_MAX (1 << 20)
#define WL_ATTRIBUTED_DOCKERFILE ".worklet/Dockerfile"

static int attribute_build(struct pass *p, struct wl_generated *gen,
			   const char *context_dir)
{
	char line[256];
	struct wl_buf in, out;
	struct wl_gen_file *f = NULL;
	int error;

	snprintf(line, sizeof(line),
		 "LABEL worklet.managed=\"true\" worklet.instance=\"%s\" "
		 "worklet.id=\"%s\"",
		 p->cfg->instance, p->id);
	for (size_t i = 0; i < gen->count; i++)
		if (!strcmp(gen->files[i].path, gen->dockerfile))
			f = &gen->files[i];
	if (!f && gen->count >= WL_GEN_FILES_MAX) {
		wl_error_set("too many generated files");
		return WL_ERROR;
	}
	wl_buf_init(&in, DOCKERFILE_READ_MAX);
	wl_buf_init(&out, DOCKERFILE_READ_MAX + 64 * 1024);
	if (f)
		error = wl_buf_add(&in, f->data, f->len);
	else
		error = wl_fs_read_beneath(&in, context_dir, gen->dockerfile);
	if (error < 0 ||
	    (error = wl_dockerfile_label_stages(in.ptr ? in.ptr : "", in.len,
						line, &out)) < 0)
		goto done;
	if (!f) {
		char *name = strdup(WL_ATTRIBUTED_DOCKERFILE);

		f = &gen->files[gen->count];
		memset(f, 0, sizeof(*f));
		f->path = strdup(WL_ATTRIBUTED_DOCKERFILE);
		f->mode = 0644;
		if (!name || !f->path) {
			free(name);
			free(f->path);
			f->path = NULL;
			wl_error_set("out of memory");
			error = WL_ERROR;
			goto done;
		}
		gen->count++;
		free(gen->dockerfile);
		gen->dockerfile = name;
	}
	free(f->data);
	f->data = wl_buf_detach(&out, &f->len);
	if (!f->data) {
		f->len = 0;
		wl_error_set("out of memory");
		error = WL_ERROR;
	}
done:
	wl_buf_release(&in);
	wl_buf_release(&out);
	return error;
}

/*
 * The repository's own Dockerfile failed at a FROM (a base image this
 * daemon cannot pull: a private registry, no network). A generated
 * Dockerfile may still build: add to the error message which project type
 * the checkout would build as, found as detection would with
 * spec.projectType set.
 */
static void from_failed_hint(struct pass *p)
{
	static const enum wl_project_type types[] = { WL_PROJECT_NODE,
						      WL_PROJECT_PYTHON,
						      WL_PROJECT_GO,
						      WL_PROJECT_STATIC };
	struct wl_base_images images;
	struct wl_spec spec = p->wl.spec;
	char *msg = strdup(wl_error_last());
	const char *found = NULL;

	if (!msg)
		return;
	wl_config_base_images(p->cfg, &images);
	spec.dockerfile = NULL;
	for (size_t i = 0; !found && i < sizeof(types) / sizeof(*types); i++) {
		struct wl_build_plan plan;

		spec.project_type = types[i];
		if (wl_detect(&plan, p->clone_dir, &spec, &images) == 0)
			found = wl_project_type_name(types[i]);
		wl_build_plan_release(&plan);
	}
	if (found)
		wl_error_set("%s\nthe repository's Dockerfile cannot get its "
			     "base image; to build with a generated "
			     "Dockerfile instead, set project_type (REST; "
			     "spec.projectType in a manifest) to '%s', which "
			     "this repository builds as",
			     msg, found);
	else
		wl_error_set("%s\nthe repository's Dockerfile cannot get its "
			     "base image; to build with a generated "
			     "Dockerfile instead, set project_type (REST; "
			     "spec.projectType in a manifest) to node, "
			     "python, go or static",
			     msg);
	free(msg);
}

/*
 * The image whose build cache a rebuild starts from (see
 * wl_dockerfile_build_cache): the one the worklet serves, or served last,
 * and only if this instance built it for this worklet from a plan with the
 * same cache directory (its labels say so). While the new version builds
 * the serving one is never removed (images of old versions go only when a
 * newer one serves), so it is there with the default disk settings too.
 * NULL when there is none; a missing image is not an error, the build is
 * just cold.
 */
#define LABEL_BUILD_CACHE "worklet.build-cache"

static char *cache_image(struct pass *p, const char *dir)
{
	struct wl_docker_image img;
	const char *prev = p->wl.status.image_id, *v;
	char *id = NULL;

	if (!dir || !prev || !*prev)
		return NULL;
	memset(&img, 0, sizeof(img));
	if (wl_docker_image_inspect(p->w->docker, prev, &img) < 0)
		goto out;
	if (!(v = wl_kvlist_get(&img.labels, "worklet.id")) ||
	    strcmp(v, p->id) ||
	    !(v = wl_kvlist_get(&img.labels, "worklet.instance")) ||
	    strcmp(v, p->cfg->instance) ||
	    !(v = wl_kvlist_get(&img.labels, LABEL_BUILD_CACHE)) ||
	    strcmp(v, dir))
		goto out;
	id = img.id;
	img.id = NULL;
out:
	wl_docker_image_release(&img);
	return id;
}

/* Did a build fail at the step that copies the previous build's cache? */
static int cache_copy_failed(const char *message)
{
	const char *step = strstr(message, "(COPY ");

	return step && strstr(step, " --from=sha256:") &&
	       strstr(step, " " WL_BUILD_CACHE_COPY_TAIL);
}

/*
 * Make sure the image for the current commit exists. On a build failure
 * the worklet goes to error and *image_id stays NULL (return 0).
 */
static int ensure_image(struct pass *p, const char *sha,
			struct wl_build_plan *plan, char **image_id)
{
	struct wl_base_images images;
	struct wl_generated gen;
	struct wl_docker_image img;
	struct wl_docker_build_opts bo;
	struct wl_kvlist labels = { 0 };
	struct wl_buf ctx;
	struct build_log bl = { -1, 0 };
	char key[65], tag[128], failed[128], log_path[4096], net[128];
	char context_dir[4096];
	const char *cache_dir = wl_dockerfile_build_cache(plan);
	char *cache_from = NULL;
	int error, retried = 0;

	memset(&gen, 0, sizeof(gen));
	memset(&img, 0, sizeof(img));
	wl_buf_init(&ctx, (size_t)p->cfg->build_context_max);
	wl_config_base_images(p->cfg, &images);
	/* spec.path: the app's folder, or its workspace root (detect.h). */
	snprintf(context_dir, sizeof(context_dir), "%s%s%s", p->clone_dir,
		 plan->context_dir ? "/" : "",
		 plan->context_dir ? plan->context_dir : "");
	if ((error = wl_dockerfile_generate(&gen, plan, &images)) < 0 ||
	    (error = attribute_build(p, &gen, context_dir)) < 0) {
		error = fail(p, "Built", "GenerateFailed", wl_error_last());
		goto out;
	}
	build_key(key, sha, &gen, &images, plan->context_dir);
	snprintf(tag, sizeof(tag), "worklet/%s:%.12s", p->id, key);
	snprintf(failed, sizeof(failed), "%.12s/%lld", key,
		 (long long)p->wl.spec.restarted_ms);

	if (wl_docker_image_inspect(p->w->docker, tag, &img) == 0) {
		*image_id = img.id;
		img.id = NULL;
		goto out;
	}
	if (p->wl.status.failed_build &&
	    !strcmp(p->wl.status.failed_build, failed)) {
		/* Failed before, nothing changed since: stay as we are. */
		p->build_failed = 1;
		set_phase(p, serving(p) ? WL_PHASE_RUNNING : WL_PHASE_ERROR);
		error = save_status(p);
		goto out;
	}

	set_phase(p, WL_PHASE_BUILDING);
	set_condition(p, "Built", "Unknown", "Building", tag);
	wl_store_log_path(&p->r->store, p->id, "build.log", log_path,
			  sizeof(log_path));
	wl_str_set(&p->wl.status.build_logs, log_path);
	save_status(p);
	wl_info("worklet '%s': building %s (%s)", p->id, tag,
		wl_project_type_name(plan->type));

	/*
	 * After the key: which cache a build starts from changes its time,
	 * not what it makes, so the image keeps its name (and a built commit
	 * is not rebuilt because the serving image changed since).
	 */
	cache_from = cache_image(p, cache_dir);
again:
	if (cache_from && wl_dockerfile_use_build_cache(&gen, cache_from) < 0) {
		/* Cannot happen for a generated plan; then it builds cold. */
		wl_warn("worklet '%s': %s; building without the previous "
			"build's cache",
			p->id, wl_error_last());
		free(cache_from);
		cache_from = NULL;
	}
	if ((error = wl_build_context_tar(&ctx, context_dir, gen.files,
					  gen.count)) < 0) {
		error = fail(p, "Built", "ContextFailed", wl_error_last());
		goto out;
	}
	/* Builds run where neither workletd nor the host's loopback is. */
	if ((error = wl_build_network_ensure(p->w->docker, p->cfg, net,
					     sizeof(net))) < 0) {
		if (error != WL_EUNAVAIL)
			error = fail(p, "Built", "BuildNetworkFailed",
				     wl_error_last());
		goto out;
	}
	bl.fd = open(log_path,
		     O_WRONLY | O_CREAT | (retried ? O_APPEND : O_TRUNC) |
			     O_CLOEXEC,
		     0600);
	wl_kvlist_set(&labels, "worklet.managed", "true");
	wl_kvlist_set(&labels, "worklet.instance", p->cfg->instance);
	wl_kvlist_set(&labels, "worklet.id", p->id);
	wl_kvlist_set(&labels, "worklet.build", key);
	if (cache_dir)
		wl_kvlist_set(&labels, LABEL_BUILD_CACHE, cache_dir);
	memset(&bo, 0, sizeof(bo));
	bo.context = ctx.ptr;
	bo.context_len = ctx.len;
	bo.dockerfile = gen.dockerfile;
	bo.tag = tag;
	bo.labels = &labels;
	bo.on_line = on_build_line;
	bo.ctx = &bl;
	bo.cancel = p->r->stop;
	bo.timeout_ms = p->cfg->build_timeout_ms;
	bo.output_max = (size_t)p->cfg->build_output_max;
	bo.network = net;
	atomic_fetch_add(&wl_ctl_metrics.builds, 1);
	error = wl_docker_build(p->w->docker, &bo, image_id);
	if (bl.fd >= 0)
		close(bl.fd);
	if (error == WL_EUNAVAIL || error == WL_ECANCELED)
		goto out;
	/*
	 * The copy of the cache failed (the previous image has no .next: a
	 * custom distDir, or it went away): the change is not at fault,
	 * build it once more without. A failure of the build itself is not
	 * retried.
	 */
	if (error < 0 && cache_from && cache_copy_failed(wl_error_last())) {
		wl_warn("worklet '%s': %s; building again without the previous "
			"build's cache",
			p->id, wl_error_last());
		free(cache_from);
		cache_from = NULL;
		retried = 1;
		wl_generated_release(&gen);
		wl_buf_release(&ctx);
		wl_buf_init(&ctx, (size_t)p->cfg->build_context_max);
		if ((error = wl_dockerfile_generate(&gen, plan, &images)) < 0 ||
		    (error = attribute_build(p, &gen, context_dir)) < 0) {
			error = fail(p, "Built", "GenerateFailed",
				     wl_error_last());
			goto out;
		}
		goto again;
	}
	if (error < 0) {
		atomic_fetch_add(&wl_ctl_metrics.build_failures, 1);
		wl_str_set(&p->wl.status.failed_build, failed);
		p->build_failed = 1;
		if (plan->type == WL_PROJECT_DOCKERFILE &&
		    (strstr(wl_error_last(), " (FROM ") ||
		     strstr(wl_error_last(), " (from ")))
			/* The repository's Dockerfile names a base image
			 * this daemon cannot pull (a private registry, no
			 * network): a generated Dockerfile may still build. */
			from_failed_hint(p);
		error = degrade(p, "Built", "BuildFailed", wl_error_last());
		goto out;
	}
	wl_info("worklet '%s': built %.19s%s", p->id, *image_id,
		cache_from ? " (from the previous build's cache)" : "");
out:
	free(cache_from);
	wl_kvlist_release(&labels);
	wl_docker_image_release(&img);
	wl_generated_release(&gen);
	wl_buf_release(&ctx);
	return error;
}

/* ---- run --------------------------------------------------------------- */

static void run_key(char out[65], const struct pass *p, const char *image_id,
		    int container_port)
{
	const struct wl_spec *s = &p->wl.spec;
	struct wl_buf b;

	wl_buf_init(&b, 1 << 20);
	/* v3: per-user networks and capability profiles. */
	wl_buf_printf(&b, "v3\n%s\n%d\n%lld %lld %lld\n%lld\n", image_id,
		      container_port, (long long)s->resources.memory_bytes,
		      (long long)s->resources.nano_cpus,
		      (long long)s->resources.pids, (long long)s->restarted_ms);
	for (size_t i = 0; i < s->env.count; i++)
		wl_buf_printf(&b, "%s=%s\n", s->env.items[i].key,
			      s->env.items[i].value);
	if (s->start_command)
		wl_buf_printf(&b, "cmd %s\n", s->start_command);
	wl_sha256_hex(out, b.ptr ? b.ptr : "", b.len);
	wl_buf_release(&b);
}

static int create_container(struct pass *p, const char *image_id,
			    const char *rkey, const struct wl_build_plan *plan,
			    int container_port, int host_port, char **id)
{
	const struct wl_spec *s = &p->wl.spec;
	struct wl_container_config cc;
	struct wl_kvlist env = { 0 }, labels = { 0 };
	char name[128], portstr[16], cport[16], network[128];
	int error;

	if ((error = wl_user_network_ensure(p->w->docker, p->cfg,
					    p->wl.meta.user_id, network,
					    sizeof(network))) < 0)
		return error;

	snprintf(name, sizeof(name), "worklet-%s-%.12s", p->id, rkey);
	snprintf(portstr, sizeof(portstr), "%d", host_port);
	snprintf(cport, sizeof(cport), "%d", container_port);
	wl_kvlist_copy(&env, &s->env);
	wl_kvlist_set(&env, "PORT", cport);
	if (!wl_kvlist_get(&s->env, "HOST"))
		wl_kvlist_set(&env, "HOST", "0.0.0.0");
	wl_kvlist_set(&labels, "worklet.managed", "true");
	wl_kvlist_set(&labels, "worklet.instance", p->cfg->instance);
	wl_kvlist_set(&labels, "worklet.id", p->id);
	wl_kvlist_set(&labels, "worklet.run", rkey);
	wl_kvlist_set(&labels, "worklet.port", portstr);
	wl_kvlist_set(&labels, "worklet.network", network);

	memset(&cc, 0, sizeof(cc));
	cc.name = name;
	cc.image = image_id;
	cc.env = &env;
	cc.labels = &labels;
	cc.container_port = container_port;
	cc.host_ip = "127.0.0.1";
	cc.host_port = host_port;
	cc.memory_bytes = s->resources.memory_bytes ? s->resources.memory_bytes
						    : p->cfg->default_memory;
	cc.nano_cpus = s->resources.nano_cpus ? s->resources.nano_cpus
					      : p->cfg->default_nano_cpus;
	cc.pids_limit =
		s->resources.pids ? s->resources.pids : p->cfg->default_pids;
	cc.cmd = s->start_command && plan->start_argv
			 ? (const char *const *)plan->start_argv
			 : NULL;
	cc.network = network;
	/* Generated images run as a non-root user and need no capability. */
	cc.caps = plan->type == WL_PROJECT_DOCKERFILE ? WL_CAPS_ROOT_IMAGE
						      : WL_CAPS_NONE;

	error = wl_docker_container_create(p->w->docker, &cc, id);
	if (error == WL_ENOTFOUND &&
	    wl_user_network_ensure(p->w->docker, p->cfg, p->wl.meta.user_id,
				   network, sizeof(network)) == 0) {
		/* The network was collected meanwhile: it is back, again. */
		error = wl_docker_container_create(p->w->docker, &cc, id);
	}
	if (error == WL_EEXISTS) {
		/* Created by a pass that died before recording it: adopt. */
		struct wl_docker_container c;

		memset(&c, 0, sizeof(c));
		if ((error = wl_docker_container_inspect(p->w->docker, name,
							 &c)) == 0) {
			*id = c.id;
			c.id = NULL;
		}
		wl_docker_container_release(&c);
	}
	wl_kvlist_release(&env);
	wl_kvlist_release(&labels);
	return error;
}

/*
 * Start a container. One whose network is gone (removed by hand) cannot
 * start again: it is removed, so the retry creates it afresh.
 */
static int start_container(struct pass *p, const char *cid)
{
	int error = wl_docker_container_start(p->w->docker, cid);

	if (error == WL_ENOTFOUND) {
		wl_warn("worklet '%s': %s; recreating the container", p->id,
			wl_error_last());
		wl_docker_container_remove(p->w->docker, cid);
		wl_error_set("container of '%s' lost its network; recreating",
			     p->id);
		error = WL_ERROR;
	}
	return error;
}

/* Last lines of the app's output, for error messages. */
static void log_tail(struct pass *p, const char *cid, struct wl_buf *out)
{
	struct wl_buf logs;
	const char *s;
	size_t len;

	wl_buf_init(&logs, 64 * 1024);
	if (wl_docker_container_logs(p->w->docker, cid, LOG_TAIL_LINES,
				     &logs) == 0 &&
	    logs.len) {
		s = wl_buf_cstr(&logs);
		len = logs.len;
		while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
			len--;
		wl_buf_puts(out, "; last output: ");
		/* Keep messages one line: newlines become " | ". */
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '\n')
				wl_buf_puts(out, " | ");
			else if (s[i] != '\r')
				wl_buf_putc(out, s[i]);
		}
	}
	wl_buf_release(&logs);
}

/*
 * What is the app listening on? Read the container's own socket table
 * through /proc/<pid>/net (the pid is the container's init, in its network
 * namespace). Appends a description of the listeners to out.
 */
static int read_listeners(int pid, int container_port, struct wl_buf *out,
			  int *on_port_any, int *on_port_loopback)
{
	static const char *const files[] = { "tcp", "tcp6" };
	int found = 0;

	*on_port_any = *on_port_loopback = 0;
	for (size_t f = 0; f < 2; f++) {
		char path[64], line[512];
		FILE *fp;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[f]);
		if (!(fp = fopen(path, "re")))
			continue;
		while (fgets(line, sizeof(line), fp)) {
			char local[128], remote[128], st[8];
			unsigned port;
			char *colon;
			int loopback;

			if (sscanf(line, "%*d: %127s %127s %7s", local, remote,
				   st) != 3 ||
			    strcmp(st, "0A"))
				continue;
			colon = strrchr(local, ':');
			if (!colon || sscanf(colon + 1, "%x", &port) != 1)
				continue;
			*colon = '\0';
			/*
			 * 127.0.0.11 is Docker's embedded DNS server, in
			 * every container on a user-defined network: not the
			 * app's.
			 */
			if (!strcmp(local, "0B00007F"))
				continue;
			/* 0100007F is 127.0.0.1; the v6 form ends in 01000000.
			 */
			loopback = !strcmp(local, "0100007F") ||
				   !strcmp(local,
					   "00000000000000000000000001000000");
			if ((int)port == container_port) {
				if (loopback)
					*on_port_loopback = 1;
				else
					*on_port_any = 1;
			}
			wl_buf_printf(out, "%s%s:%u", found ? ", " : "",
				      loopback ? "127.0.0.1" : "0.0.0.0", port);
			found++;
		}
		fclose(fp);
	}
	return found;
}

/* Why did the health check time out? A message a user can act on. */
static void diagnose(struct pass *p, const struct wl_docker_container *c,
		     int container_port, struct wl_buf *msg)
{
	struct wl_buf listeners;
	int any = 0, loopback = 0, n;

	wl_buf_init(&listeners, 4096);
	n = c->pid > 0 ? read_listeners(c->pid, container_port, &listeners,
					&any, &loopback)
		       : 0;
	if (loopback && !any)
		wl_buf_printf(msg,
			      "health check timed out: the app listens on "
			      "127.0.0.1:%d inside the container, which cannot "
			      "be reached from outside it; make it listen on "
			      "0.0.0.0 (the HOST environment variable says so)",
			      container_port);
	else if (n > 0 && !any)
		wl_buf_printf(msg,
			      "health check timed out: the app listens on %s, "
			      "not on port %d; make it listen on $PORT or set "
			      "spec.containerPort",
			      wl_buf_cstr(&listeners), container_port);
	else if (n == 0)
		wl_buf_printf(
			msg,
			"health check timed out: the app is not listening "
			"on any TCP port (expected 0.0.0.0:%d)",
			container_port);
	else
		wl_buf_printf(msg,
			      "health check timed out: the app listens on port "
			      "%d but does not answer HTTP",
			      container_port);
	wl_buf_release(&listeners);
	log_tail(p, c->id, msg);
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

/* One HTTP probe of a published port; returns the status or 0. */
static long probe(struct pass *p, int port)
{
	CURL *curl = p->w->probe;
	char url[64];
	long code = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 500L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

/* A container of ours that exited. */
static int handle_exit(struct pass *p, const struct wl_docker_container *c,
		       int64_t *requeue_ms)
{
	struct wl_status *st = &p->wl.status;
	struct wl_buf msg;
	int was_ready, error = 0;

	was_ready = st->container_id && !strcmp(st->container_id, c->id);
	wl_buf_init(&msg, 8192);
	if (!was_ready) {
		/* Never became ready: a broken app, not a crash to retry. */
		wl_buf_printf(&msg, "the app exited at start with code %d%s",
			      c->exit_code,
			      c->oom_killed ? " (out of memory)" : "");
		log_tail(p, c->id, &msg);
		st->last_exit_code = c->exit_code;
		st->last_finished_ms = c->finished_ms;
		error = fail(p, "Ready", "ExitedAtStart", wl_buf_cstr(&msg));
		goto out;
	}
	if (c->finished_ms != st->last_finished_ms) {
		/* A new exit: count it once, even across controller restarts.
		 */
		int64_t delay;

		st->restart_count++;
		st->last_exit_code = c->exit_code;
		st->last_finished_ms = c->finished_ms;
		delay = wl_backoff_ms(p->cfg->restart_backoff_ms,
				      p->cfg->restart_backoff_max_ms,
				      st->restart_count - 1);
		st->next_restart_ms = c->finished_ms + delay;
		wl_buf_printf(&msg,
			      "the app exited with code %d%s; restart %d in "
			      "%llds",
			      c->exit_code,
			      c->oom_killed ? " (out of memory)" : "",
			      st->restart_count, (long long)(delay / 1000));
		log_tail(p, c->id, &msg);
		wl_warn("worklet '%s': %s", p->id, wl_buf_cstr(&msg));
		wl_str_set(&st->last_error, wl_buf_cstr(&msg));
		set_phase(p, WL_PHASE_DEPLOYING);
		set_condition(p, "Ready", "False", "CrashLoopBackOff",
			      wl_buf_cstr(&msg));
		save_status(p);
	}
	if (p->now < st->next_restart_ms) {
		*requeue_ms = st->next_restart_ms - p->now;
		goto out;
	}
	atomic_fetch_add(&wl_ctl_metrics.app_restarts, 1);
	wl_info("worklet '%s': restarting the app (restart %d)", p->id,
		st->restart_count);
	if ((error = start_container(p, c->id)) < 0)
		goto out;
	st->deploy_started_ms = p->now;
	save_status(p);
	*requeue_ms = PROBE_INTERVAL_MS;
out:
	wl_buf_release(&msg);
	return error;
}

/* The port the app listens on inside its container. */
static int app_port(struct pass *p, const char *image_id,
		    const struct wl_build_plan *plan)
{
	int port = p->wl.spec.container_port ? p->wl.spec.container_port
					     : plan->port;

	if (plan->type == WL_PROJECT_DOCKERFILE && !p->wl.spec.container_port) {
		struct wl_docker_image img;

		memset(&img, 0, sizeof(img));
		if (wl_docker_image_inspect(p->w->docker, image_id, &img) ==
			    0 &&
		    img.exposed_port)
			port = img.exposed_port;
		wl_docker_image_release(&img);
	}
	return port;
}

static void remove_container(struct pass *p,
			     const struct wl_docker_container *c)
{
	wl_info("worklet '%s': removing container %s", p->id,
		c->name ? c->name : c->id);
	if (c->running)
		wl_docker_container_stop(p->w->docker, c->id, 5);
	wl_docker_container_remove(p->w->docker, c->id);
}

/*
 * Traffic moved to a new version less than DRAIN_MS ago (the Rollout
 * condition turned True then): the old container keeps running until
 * requests in flight on it are done.
 */
static int draining(const struct pass *p)
{
	const struct wl_condition *c =
		wl_status_condition(&p->wl.status, "Rollout");

	return c && c->status && !strcmp(c->status, "True") &&
	       p->now - c->last_transition_ms < DRAIN_MS;
}

/* The new version did not start: drop it, keep the old one serving. */
static int rollout_failed(struct pass *p, const char *rkey, const char *cid,
			  const char *message)
{
	struct wl_docker_container c;

	memset(&c, 0, sizeof(c));
	p->rollout_failed = 1;
	wl_str_set(&p->wl.status.failed_run, rkey);
	if (wl_docker_container_inspect(p->w->docker, cid, &c) == 0)
		remove_container(p, &c);
	wl_docker_container_release(&c);
	return degrade(p, "Rollout", "NewVersionFailed", message);
}

/*
 * Run image_id: its container (one per run key) is the target. While it
 * starts, the container that serves now (status.containerId, an older
 * version) keeps serving on status.port; the target gets the worklet's
 * other port. When the target answers HTTP the status switches port and
 * container id (the proxy follows the status file), and the old container
 * is removed on the next pass, a second later, once requests in flight
 * had time to finish. Anything else of this worklet's goes at once.
 */
static int ensure_running(struct pass *p, const char *image_id,
			  const struct wl_build_plan *plan, int64_t *requeue_ms)
{
	struct wl_status *st = &p->wl.status;
	struct wl_docker_container c;
	struct wl_docker_container *cs = NULL;
	char rkey[65], *cid = NULL;
	int container_port, target_port = 0, error, old = 0, is_serving;
	size_t n = 0;
	long code;

	memset(&c, 0, sizeof(c));
	container_port = app_port(p, image_id, plan);
	st->detection.port = container_port;
	run_key(rkey, p, image_id, container_port);
	is_serving = serving(p);

	if ((error = list_containers(p, &cs, &n)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *run = wl_kvlist_get(&cs[i].labels, "worklet.run");

		if (!cid && run && !strcmp(run, rkey)) {
			if (!(cid = strdup(cs[i].id))) {
				error = WL_ERROR;
				goto out;
			}
			target_port = label_port(&cs[i]);
			continue;
		}
		if (is_serving && !strcmp(cs[i].id, st->container_id) &&
		    cs[i].running) {
			old = 1;
			continue;
		}
		if (draining(p)) {
			/* Just switched away from it: requests may be on it. */
			*requeue_ms = DRAIN_MS;
			continue;
		}
		remove_container(p, &cs[i]);
	}
	if (!old && cid && st->container_id && strcmp(cid, st->container_id)) {
		/* What served is gone; only the new version is left. */
		wl_str_set(&st->container_id, NULL);
		set_condition(p, "Ready", "False", "Starting", NULL);
	}
	if (!cid) {
		if (old) {
			if ((error = other_port(p, st->port, &target_port)) < 0)
				goto out;
		} else {
			target_port = st->port;
		}
		set_phase(p, WL_PHASE_DEPLOYING);
		if (old)
			set_condition(p, "Rollout", "Unknown", "Starting",
				      NULL);
		else
			set_condition(p, "Ready", "False", "Starting", NULL);
		/* Now, not the pass's start: a build may have taken long. */
		st->deploy_started_ms = wl_time_now_ms();
		st->restart_count = 0;
		st->next_restart_ms = 0;
		if (!old)
			wl_str_set(&st->container_id, NULL);
		if ((error = create_container(p, image_id, rkey, plan,
					      container_port, target_port,
					      &cid)) < 0)
			goto out;
		wl_info("worklet '%s': created container %.12s on port %d%s",
			p->id, cid, target_port,
			old ? " beside the serving one" : "");
	}
	if (!target_port)
		target_port = st->port;
	if ((error = wl_docker_container_inspect(p->w->docker, cid, &c)) < 0)
		goto out;

	if (!c.running && !c.finished_ms) {
		/* Created, never started. */
		set_phase(p, WL_PHASE_DEPLOYING);
		if (!st->deploy_started_ms)
			st->deploy_started_ms = p->now;
		save_status(p);
		if ((error = start_container(p, cid)) < 0)
			goto out;
		*requeue_ms = PROBE_INTERVAL_MS;
		goto out;
	}
	if (!c.running && st->phase == WL_PHASE_STOPPED) {
		/* Stopped on request; start it again. */
		set_phase(p, WL_PHASE_DEPLOYING);
		set_condition(p, "Ready", "False", "Starting", NULL);
		st->deploy_started_ms = p->now;
		save_status(p);
		if ((error = start_container(p, cid)) < 0)
			goto out;
		*requeue_ms = PROBE_INTERVAL_MS;
		goto out;
	}
	if (!c.running) {
		if (old) {
			struct wl_buf msg;

			wl_buf_init(&msg, 8192);
			wl_buf_printf(&msg,
				      "the new version exited at start with "
				      "code %d%s",
				      c.exit_code,
				      c.oom_killed ? " (out of memory)" : "");
			log_tail(p, c.id, &msg);
			error = rollout_failed(p, rkey, cid, wl_buf_cstr(&msg));
			wl_buf_release(&msg);
			goto out;
		}
		error = handle_exit(p, &c, requeue_ms);
		goto out;
	}

	code = probe(p, target_port);
	if (code > 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "answered HTTP %ld on port %d", code,
			 target_port);
		if (!st->container_id || strcmp(st->container_id, cid)) {
			wl_str_set(&st->container_id, cid);
			wl_info("worklet '%s': ready at http://127.0.0.1:%d/%s",
				p->id, target_port,
				old ? "; traffic switched to it" : "");
		}
		if (st->phase != WL_PHASE_RUNNING || old)
			wl_str_set(&st->last_error, NULL);
		st->port = target_port;
		wl_str_set(&st->image_id, image_id);
		wl_str_set(&st->serving_commit, p->sha[0] ? p->sha : NULL);
		wl_str_set(&st->failed_run, NULL);
		set_phase(p, WL_PHASE_RUNNING);
		set_condition(p, "Ready", "True", "HealthCheckPassed", msg);
		if (wl_status_condition(st, "Rollout"))
			set_condition(p, "Rollout", "True", "Serving", msg);
		error = save_status(p);
		if (old) {
			/* Drain: the old one goes on a later pass. */
			*requeue_ms = DRAIN_MS;
			goto out;
		}
		wl_image_gc_touch(&p->r->store, image_id);
		/*
		 * The new version serves: old images can go, unless a disk
		 * budget keeps them as a cache (image_gc.h evicts them).
		 */
		if (!p->cfg->image_disk_budget)
			remove_images(p, image_id);
		/* Look again when the repository is due for a fetch. */
		*requeue_ms = p->cfg->git_poll_ms;
		goto out;
	}
	if (st->container_id && !strcmp(st->container_id, cid)) {
		/* Was ready, now not answering: report, keep watching. */
		set_condition(p, "Ready", "False", "HealthCheckFailed",
			      "the app stopped answering HTTP");
		save_status(p);
		*requeue_ms = 2000;
		goto out;
	}
	if (p->now - st->deploy_started_ms > p->cfg->health_timeout_ms) {
		struct wl_buf msg;

		wl_buf_init(&msg, 8192);
		diagnose(p, &c, container_port, &msg);
		if (old)
			error = rollout_failed(p, rkey, cid, wl_buf_cstr(&msg));
		else
			error = fail(p, "Ready", "HealthCheckTimeout",
				     wl_buf_cstr(&msg));
		wl_buf_release(&msg);
		goto out;
	}
	set_phase(p, WL_PHASE_DEPLOYING);
	if (!old)
		set_condition(p, "Ready", "False", "WaitingForHTTP", NULL);
	else
		set_condition(p, "Rollout", "Unknown", "WaitingForHTTP", NULL);
	save_status(p);
	*requeue_ms = PROBE_INTERVAL_MS;
out:
	free(cid);
	wl_docker_container_release(&c);
	wl_docker_containers_free(cs, n);
	return error;
}

/*
 * The new version cannot be used (its build or start failed): look after
 * the one that serves. Other containers go; a crash is restarted with the
 * usual backoff.
 */
static int keep_serving(struct pass *p, int64_t *requeue_ms)
{
	struct wl_status *st = &p->wl.status;
	struct wl_docker_container *cs = NULL, *c = NULL;
	size_t n = 0;
	int error;

	if ((error = list_containers(p, &cs, &n)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		if (!c && st->container_id &&
		    !strcmp(cs[i].id, st->container_id))
			c = &cs[i];
		else
			remove_container(p, &cs[i]);
	}
	if (!c) {
		wl_str_set(&st->container_id, NULL);
		error = fail(p, "Ready", "ContainerGone",
			     st->last_error ? st->last_error
					    : "the serving container is gone");
		goto out;
	}
	if (!c->running) {
		struct wl_docker_container full;

		memset(&full, 0, sizeof(full));
		if ((error = wl_docker_container_inspect(p->w->docker, c->id,
							 &full)) == 0)
			error = handle_exit(p, &full, requeue_ms);
		wl_docker_container_release(&full);
		goto out;
	}
	if (probe(p, st->port) > 0) {
		set_phase(p, WL_PHASE_RUNNING);
		set_condition(p, "Ready", "True", "HealthCheckPassed",
			      "the previous version serves");
		*requeue_ms = p->cfg->git_poll_ms;
	} else {
		set_condition(p, "Ready", "False", "HealthCheckFailed",
			      "the app stopped answering HTTP");
		*requeue_ms = 2000;
	}
	error = save_status(p);
out:
	wl_docker_containers_free(cs, n);
	return error;
}

static int ensure_stopped(struct pass *p)
{
	struct wl_docker_container *cs = NULL;
	size_t n = 0;
	int error;

	if ((error = list_containers(p, &cs, &n)) < 0)
		return error;
	for (size_t i = 0; i < n && !error; i++) {
		if (!cs[i].running)
			continue;
		wl_info("worklet '%s': stopping container %.12s", p->id,
			cs[i].id);
		error = wl_docker_container_stop(p->w->docker, cs[i].id, 10);
	}
	wl_docker_containers_free(cs, n);
	if (error < 0)
		return error;
	set_phase(p, WL_PHASE_STOPPED);
	set_condition(p, "Ready", "False", "Stopped", "stopped as requested");
	/* Whatever exit the stop caused is not a crash. */
	wl_str_set(&p->wl.status.container_id, NULL);
	return save_status(p);
}

/* ---- the pass --------------------------------------------------------- */

/* Read the spec; an invalid file falls back to the last good one. */
static int load_spec(struct pass *p, int *usable)
{
	struct wl_worklet fresh;
	int error;

	*usable = 0;
	wl_worklet_init(&fresh);
	error = wl_store_read_spec(&p->r->store, p->id, &fresh);
	if (error == WL_ENOTFOUND)
		goto out;
	if (!error)
		error = wl_validate_worklet(&fresh, p->cfg->allow_local_repos);
	if (!error)
		error = wl_config_check_resources(p->cfg,
						  &fresh.spec.resources);
	if (error == WL_EINVALID || error == WL_ETOOBIG) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", wl_error_last());
		wl_warn("worklet '%s': invalid spec file, %s: %s", p->id,
			p->cache->has_good ? "keeping the last good one"
					   : "nothing to keep",
			msg);
		set_condition(p, "SpecValid", "False", "InvalidSpec", msg);
		if (p->cache->has_good) {
			wl_metadata_release(&p->wl.meta);
			wl_metadata_copy(&p->wl.meta, &p->cache->good.meta);
			wl_spec_copy(&p->wl.spec, &p->cache->good.spec);
			*usable = 1;
		} else {
			wl_str_set(&p->wl.meta.id, p->id);
			if (p->wl.status.phase == WL_PHASE_NONE)
				set_phase(p, WL_PHASE_ERROR);
			wl_str_set(&p->wl.status.last_error, msg);
		}
		error = 0;
		goto out;
	}
	if (error < 0)
		goto out;
	set_condition(p, "SpecValid", "True", "Valid", NULL);
	wl_worklet_release(&p->cache->good);
	wl_worklet_init(&p->cache->good);
	wl_metadata_copy(&p->cache->good.meta, &fresh.meta);
	wl_spec_copy(&p->cache->good.spec, &fresh.spec);
	p->cache->has_good = 1;
	wl_metadata_release(&p->wl.meta);
	wl_metadata_copy(&p->wl.meta, &fresh.meta);
	wl_spec_copy(&p->wl.spec, &fresh.spec);
	*usable = 1;
out:
	wl_worklet_release(&fresh);
	return error;
}

/* Map a clone failure: transient ones are retried with backoff. */
static int source_failed(struct pass *p, int error)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s", wl_error_last());
	set_condition(p, "Cloned", "False",
		      error == WL_EUNAVAIL ? "NetworkError" : "CloneFailed",
		      msg);
	if (error == WL_EUNAVAIL || error == WL_ECANCELED) {
		wl_str_set(&p->wl.status.last_error, msg);
		save_status(p);
		return error;
	}
	/* Permanent until something changes; the resync retries it. */
	return fail(p, "Cloned", "CloneFailed", msg);
}

static int save_status_cb(void *ctx)
{
	return save_status(ctx);
}

/* A pull request asked for and not handled yet: push and open it. */
static void pull_step(struct pass *p)
{
	struct wl_pull_pass pl = { p->r, p->id, p->clone_dir, &p->wl };

	if (!wl_pull_due(&p->wl))
		return;
	wl_pull_step(&pl);
	save_status(p);
}

/* status.port: keep the recorded one when it is still ours. */
static int settle_port(struct pass *p)
{
	struct wl_status *st = &p->wl.status;
	char alt[WL_ID_MAX + 4];
	int port;

	snprintf(alt, sizeof(alt), "%s~b", p->id);
	if (st->port && wl_port_pool_lookup(p->r->ports, p->id) != st->port &&
	    wl_port_pool_lookup(p->r->ports, alt) != st->port &&
	    wl_port_pool_reserve(p->r->ports, p->id, st->port) < 0)
		st->port = 0;
	if (st->port)
		return 0;
	if (wl_port_pool_claim(p->r->ports, p->id, &port) < 0)
		return fail(p, "Ready", "NoPort", wl_error_last());
	st->port = port;
	return 0;
}

static int reconcile_spec(struct pass *p, int64_t *requeue_ms)
{
	struct wl_status *st = &p->wl.status;
	struct wl_prompt_pass pp;
	struct wl_build_plan plan;
	struct wl_base_images images;
	char url[1024], *image_id = NULL, *message = NULL;
	int64_t prompt_requeue = -1;
	int error, committed = 0;

	memset(&plan, 0, sizeof(plan));
	if (p->wl.meta.deletion_ms)
		return finalize(p);

	/* A hand-written manifest may leave generation out: it is 1. */
	st->observed_generation =
		p->wl.meta.generation > 0 ? p->wl.meta.generation : 1;
	if ((error = settle_port(p)) < 0 || !st->port)
		return error;
	if (wl_config_web_url(p->cfg, p->id, url, sizeof(url)) == 0)
		wl_str_set(&st->web_url, url);

	if (p->wl.spec.run_state == WL_RUN_STOPPED) {
		pull_step(p);
		return ensure_stopped(p);
	}

	if (!wl_git_host_allowed(p->wl.spec.git_repo,
				 p->cfg->git_allowed_hosts)) {
		wl_error_set(
			"the host of '%s' is not allowed: repositories "
			"may only come from %s (WORKLET_GIT_ALLOWED_HOSTS)",
			p->wl.spec.git_repo, p->cfg->git_allowed_hosts);
		return source_failed(p, WL_EINVALID);
	}
	if ((error = sync_source(p, p->sha)) < 0)
		return source_failed(p, error);

	/* Prompts change the tree before it is built (the base prompt too). */
	memset(&pp, 0, sizeof(pp));
	pp.r = p->r;
	pp.id = p->id;
	pp.clone_dir = p->clone_dir;
	pp.wl = &p->wl;
	pp.now = p->now;
	pp.save = save_status_cb;
	pp.ctx = p;
	if ((error = wl_prompts_step(&pp, &committed, &prompt_requeue)) < 0)
		wl_warn("worklet '%s': prompts: %s", p->id, wl_error_last());
	if (p->wl.meta.deletion_ms || *p->r->stop)
		goto out;
	pull_step(p);
	if (committed && wl_git_head(p->clone_dir, p->sha) < 0) {
		error = source_failed(p, WL_ERROR);
		goto out;
	}
	set_condition(p, "Cloned", "True", "Synced", p->sha);
	wl_str_set(&st->commit, p->sha);

	wl_config_base_images(p->cfg, &images);
	if ((error = wl_detect(&plan, p->clone_dir, &p->wl.spec, &images)) <
	    0) {
		/* Both are permanent until the spec or the tree changes. */
		p->build_failed = 1;
		error = degrade(p, "Detected",
				plan.failure ? plan.failure : "NoProjectFound",
				wl_error_last());
		if (!error && serving(p))
			error = keep_serving(p, requeue_ms);
		goto out;
	}
	wl_detection_release(&st->detection);
	wl_build_plan_to_detection(&st->detection, &plan);
	set_condition(p, "Detected", "True", wl_project_type_name(plan.type),
		      NULL);
	{
		char why[1024];

		/* A warning only: the build may still be what the user wants.
		 */
		if (wl_asset_origin_check(p->clone_dir, why, sizeof(why)))
			set_condition(p, "AssetOrigin", "False",
				      "AssetsElsewhere", why);
		else if (wl_status_condition(st, "AssetOrigin"))
			set_condition(p, "AssetOrigin", "True", "SameOrigin",
				      NULL);
	}

	if ((error = ensure_image(p, p->sha, &plan, &image_id)) < 0)
		goto out;
	if (!image_id) {
		/* The build failed; an older version may still serve. */
		if (serving(p))
			error = keep_serving(p, requeue_ms);
		goto out;
	}
	wl_str_set(&st->failed_build, NULL);
	set_condition(p, "Built", "True", "Built", image_id);
	if (st->failed_run && serving(p)) {
		char rkey[65];

		run_key(rkey, p, image_id, app_port(p, image_id, &plan));
		if (!strcmp(rkey, st->failed_run)) {
			/* It did not start before; nothing changed since. */
			p->rollout_failed = 1;
			error = keep_serving(p, requeue_ms);
			goto out;
		}
	}
	error = ensure_running(p, image_id, &plan, requeue_ms);
out:
	if (!*p->r->stop && !p->wl.meta.deletion_ms) {
		message = st->last_error ? strdup(st->last_error) : NULL;
		wl_prompts_finish(&pp, p->sha, p->build_failed,
				  p->rollout_failed, message, &prompt_requeue);
		free(message);
		save_status(p);
	}
	if (prompt_requeue >= 0 &&
	    (*requeue_ms < 0 || prompt_requeue < *requeue_ms))
		*requeue_ms = prompt_requeue;
	free(image_id);
	wl_build_plan_release(&plan);
	return error;
}

/*
 * Docker did not answer (not a clone's network error: a ping tells): the
 * status says so, a DockerReachable=False condition and lastError, the
 * phase as it was, so a user sees why nothing moves. The first pass that
 * reaches Docker again turns the condition True and clears that error.
 */
static void note_docker(struct pass *p, int error)
{
	const struct wl_condition *c =
		wl_status_condition(&p->wl.status, "DockerReachable");
	struct wl_status *st = &p->wl.status;
	char msg[1024];

	if (error == WL_EUNAVAIL) {
		snprintf(msg, sizeof(msg), "%s", wl_error_last());
		if (wl_docker_ping(p->w->docker) != WL_EUNAVAIL) {
			wl_error_set("%s", msg);
			return;
		}
		snprintf(msg, sizeof(msg), "%s", wl_error_last());
		set_condition(p, "DockerReachable", "False",
			      "DockerUnavailable", msg);
		wl_str_set(&st->last_error, msg);
		save_status(p);
		wl_error_set("%s", msg);
	} else if (error >= 0 && c && strcmp(c->status, "True")) {
		if (st->last_error && c->message &&
		    !strcmp(st->last_error, c->message))
			wl_str_set(&st->last_error, NULL);
		set_condition(p, "DockerReachable", "True", "Reachable", NULL);
		save_status(p);
	}
}

int wl_reconcile(struct wl_worker_ctx *w, const char *id, int64_t *requeue_ms)
{
	struct pass p;
	int usable, error;

	*requeue_ms = -1;
	if (wl_validate_id(id) < 0)
		return 0; /* not a name we could have made; ignore */
	memset(&p, 0, sizeof(p));
	p.w = w;
	p.r = w->r;
	p.cfg = w->r->cfg;
	p.id = id;
	p.now = wl_time_now_ms();
	wl_worklet_init(&p.wl);
	snprintf(p.clone_dir, sizeof(p.clone_dir), "%s/%s", p.cfg->base_dir,
		 id);
	if (!(p.cache = cache_get(p.r, id))) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}

	if (wl_store_read_status(&p.r->store, id, &p.wl) == WL_EINVALID)
		wl_warn("worklet '%s': unreadable status file, starting "
			"afresh: %s",
			id, wl_error_last());
	if ((error = load_spec(&p, &usable)) == WL_ENOTFOUND) {
		error = collect_orphan(&p);
		goto out;
	}
	if (error < 0)
		goto out;
	if (!usable) {
		error = save_status(&p);
		goto out;
	}
	wl_str_set(&p.wl.meta.id, id);
	error = reconcile_spec(&p, requeue_ms);
	if (!p.wl.meta.deletion_ms)
		note_docker(&p, error);
out:
	wl_worklet_release(&p.wl);
	return error;
}
