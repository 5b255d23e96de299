/*
 * DESIGN: threads and what they touch.
 *  - workers (cfg->workers): take ids from the work queue, reconcile, and
 *    requeue as the reconciler asks. Each owns its Docker client.
 *  - watcher: inotify on specs/; a changed "<id>.yaml" queues <id>.
 *  - events: Docker's event stream for our containers; a start, die or
 *    destroy queues the worklet (crashes are seen at once, not at resync).
 *  - resync: every cfg->resync_ms queues every spec, every status file and
 *    every id found on our containers and images (garbage collection of
 *    orphans is a reconcile of an id without a spec).
 * The work queue has its own lock; `stop` is written by the main thread
 * and read by all (a volatile int is enough: it only ever goes 0 -> 1 and
 * every loop also wakes on a timeout).
 */
#include "controller/controller.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "controller/agent.h"
#include "controller/ctl_metrics.h"
#include "controller/docker_client.h"
#include "controller/git_repo.h"
#include "controller/image_gc.h"
#include "controller/reconcile.h"
#include "controller/user_network.h"
#include "controller/workqueue.h"
#include "specs/prompt.h"
#include "specs/core/error.h"
#include "specs/core/log.h"
#include "specs/core/timeutil.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

struct wl_ctl_metrics wl_ctl_metrics;

struct wl_controller {
	const struct wl_config *cfg;
	struct wl_reconciler rec;
	struct wl_workqueue *queue;
	volatile int stop;
	pthread_t *workers;
	int nworkers;
	pthread_t watcher, events, resync;
	int started_watcher, started_events, started_resync;
};

void wl_controller_enqueue(struct wl_controller *c, const char *id)
{
	wl_workqueue_add(c->queue, id);
}

static void *worker_main(void *arg)
{
	struct wl_controller *c = arg;
	struct wl_worker_ctx w;
	char id[WL_ID_MAX + 1];

	if (wl_worker_ctx_init(&w, &c->rec) < 0) {
		wl_err("worker: %s", wl_error_last());
		return NULL;
	}
	while (wl_workqueue_get(c->queue, id, sizeof(id)) == 0) {
		int64_t requeue_ms = -1, start = wl_time_mono_ms();
		int error;

		wl_error_clear();
		error = wl_reconcile(&w, id, &requeue_ms);
		atomic_fetch_add(&wl_ctl_metrics.reconciles, 1);
		atomic_fetch_add(&wl_ctl_metrics.reconcile_ms_sum,
				 (uint_fast64_t)(wl_time_mono_ms() - start));
		if (error < 0)
			atomic_fetch_add(&wl_ctl_metrics.reconcile_errors, 1);
		wl_debug("worklet '%s': reconciled in %lld ms", id,
			 (long long)(wl_time_mono_ms() - start));
		if (error < 0) {
			int64_t delay =
				wl_workqueue_add_rate_limited(c->queue, id);

			if (!c->stop)
				wl_warn("worklet '%s': %s (retry in %lld ms)",
					id, wl_error_last(), (long long)delay);
		} else {
			wl_workqueue_forget(c->queue, id);
			if (requeue_ms >= 0)
				wl_workqueue_add_after(c->queue, id,
						       requeue_ms);
		}
		wl_workqueue_done(c->queue, id);
	}
	wl_worker_ctx_release(&w);
	return NULL;
}

/* "<id>.yaml" -> id; 0 if the name is not one of ours. */
static int id_from_file(char *out, size_t n, const char *name)
{
	size_t len = strlen(name);

	if (len <= 5 || len - 5 >= n || strcmp(name + len - 5, ".yaml"))
		return 0;
	memcpy(out, name, len - 5);
	out[len - 5] = '\0';
	return wl_validate_id(out) == 0;
}

/*
 * A prompts/ file that asks for work: a new request or a cancel (status
 * files are ours; watching them would loop).
 */
static int id_from_prompt_file(char *out, size_t n, const char *name)
{
	size_t len = strlen(name);

	if (wl_prompt_file_worklet(name, out, n) < 0)
		return 0;
	if (len > 7 && !strcmp(name + len - 7, ".cancel"))
		return 1;
	return len > 12 && !strcmp(name + len - 5, ".json") &&
	       strcmp(name + len - 12, ".status.json");
}

static void *watcher_main(void *arg)
{
	struct wl_controller *c = arg;
	char buf[16384] __attribute__((aligned(8)));
	int fd, prompts_wd;

	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0 ||
	    inotify_add_watch(fd, c->rec.store.specs_dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
				      IN_DELETE) < 0) {
		wl_err("cannot watch '%s': %s; relying on resync",
		       c->rec.store.specs_dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	prompts_wd = inotify_add_watch(fd, c->rec.store.prompts_dir,
				       IN_CLOSE_WRITE | IN_MOVED_TO);
	if (prompts_wd < 0)
		wl_warn("cannot watch '%s': %s; prompts start at the next "
			"resync",
			c->rec.store.prompts_dir, strerror(errno));
	while (!c->stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t len;

		if (poll(&pfd, 1, 500) <= 0)
			continue;
		len = read(fd, buf, sizeof(buf));
		for (char *p = buf; len > 0 && p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			char id[WL_ID_MAX + 1];

			if (ev->len && ev->wd == prompts_wd
				    ? id_from_prompt_file(id, sizeof(id),
							  ev->name)
				    : id_from_file(id, sizeof(id), ev->name))
				wl_workqueue_add(c->queue, id);
			p += sizeof(*ev) + ev->len;
		}
	}
	close(fd);
	return NULL;
}

static void on_docker_event(void *ctx, const char *action,
			    const char *container_id, const char *worklet_id)
{
	struct wl_controller *c = ctx;

	(void)container_id;
	if (!worklet_id || !*worklet_id ||
	    (strcmp(action, "die") && strcmp(action, "start") &&
	     strcmp(action, "destroy") && strcmp(action, "oom")))
		return;
	wl_debug("worklet '%s': docker event %s", worklet_id, action);
	wl_workqueue_add(c->queue, worklet_id);
}

/* Sleep up to ms, waking early on stop; returns 1 if stopping. */
static int sleep_or_stop(struct wl_controller *c, int64_t ms)
{
	int64_t until = wl_time_mono_ms() + ms;

	while (!c->stop) {
		int64_t left = until - wl_time_mono_ms();

		if (left <= 0)
			return 0;
		usleep((useconds_t)(left > 200 ? 200 : left) * 1000);
	}
	return 1;
}

static void *events_main(void *arg)
{
	struct wl_controller *c = arg;
	struct wl_docker *d = NULL;
	char filter[128];

	if (wl_docker_new(&d, c->cfg->docker_host) < 0) {
		wl_err("events: %s", wl_error_last());
		return NULL;
	}
	wl_config_label_filter(c->cfg, NULL, filter, sizeof(filter));
	while (!c->stop) {
		int error = wl_docker_events(d, filter, on_docker_event, c,
					     &c->stop);

		if (c->stop)
			break;
		wl_warn("docker event stream ended: %s; reconnecting",
			error < 0 ? wl_error_last() : "closed");
		sleep_or_stop(c, 2000);
	}
	wl_docker_free(d);
	return NULL;
}

static void queue_ids(struct wl_controller *c, int which)
{
	char **ids = NULL;
	size_t n = 0;

	if (wl_store_list(&c->rec.store, which, &ids, &n) < 0) {
		wl_err("resync: %s", wl_error_last());
		return;
	}
	for (size_t i = 0; i < n; i++)
		wl_workqueue_add(c->queue, ids[i]);
	wl_store_free_ids(ids, n);
}

static void queue_labelled(struct wl_controller *c, struct wl_docker *d)
{
	struct wl_docker_container *cs = NULL;
	struct wl_docker_image *imgs = NULL;
	size_t n = 0, m = 0;
	char filter[128];

	wl_config_label_filter(c->cfg, NULL, filter, sizeof(filter));
	if (wl_docker_containers_list(d, filter, &cs, &n) < 0) {
		wl_warn("resync: %s", wl_error_last());
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *id = wl_kvlist_get(&cs[i].labels, "worklet.id");

		if (id)
			wl_workqueue_add(c->queue, id);
	}
	wl_docker_containers_free(cs, n);
	if (wl_docker_images_list(d, filter, &imgs, &m) < 0)
		return;
	for (size_t i = 0; i < m; i++) {
		const char *id = wl_kvlist_get(&imgs[i].labels, "worklet.id");

		if (id)
			wl_workqueue_add(c->queue, id);
	}
	wl_docker_images_free(imgs, m);
}

/* Clones in the base dir whose worklet is gone. */
static void queue_clones(struct wl_controller *c)
{
	DIR *dir = opendir(c->cfg->base_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] != '.' && wl_validate_id(de->d_name) == 0)
			wl_workqueue_add(c->queue, de->d_name);
	}
	closedir(dir);
}

/* Say at startup whether prompts can work (a detached thread). */
static void *check_agent(void *arg)
{
	char *claude = arg, version[128];

	if (wl_agent_check(claude, version, sizeof(version)) < 0)
		wl_err("agent: %s; prompts will fail until it is installed",
		       wl_error_last());
	else
		wl_info("agent: Claude Code CLI %s", version);
	free(claude);
	return NULL;
}

/*
 * Networks no container uses (a user's last worklet went) and, with a
 * disk budget, images over it. A network or image younger than two
 * resyncs (10 s at least) stays: a worker may have just made it for a
 * container it is about to create.
 */
static void collect_docker(struct wl_controller *c, struct wl_docker *d)
{
	int64_t min_age = 2 * c->cfg->resync_ms;
	int n;

	if ((n = wl_user_network_collect(
		     d, c->cfg, min_age < 10000 ? 10000 : min_age)) > 0)
		wl_info("removed %d network(s) no worklet uses", n);
	else if (n < 0)
		wl_warn("network collection: %s", wl_error_last());
	if (c->cfg->image_disk_budget > 0 &&
	    (n = wl_image_gc_run(d, c->cfg, &c->rec.store,
				 min_age < 10000 ? 10000 : min_age)) < 0)
		wl_warn("image budget: %s", wl_error_last());
	{
		int64_t bytes;
		size_t images;

		if (wl_image_gc_usage(d, c->cfg, &bytes, &images) == 0) {
			atomic_store(&wl_ctl_metrics.image_bytes, bytes);
			atomic_store(&wl_ctl_metrics.images, (int64_t)images);
		}
	}
}

/*
 * Agent sandbox containers of an earlier workletd (killed mid-run): a
 * container that outlived its runner would keep editing a tree that the
 * prompt recovery restores.
 */
static void collect_agents(struct wl_controller *c)
{
	int n = wl_agent_sandbox_gc(c->cfg->docker_host, c->cfg->instance,
				    c->rec.runner);

	if (n < 0)
		wl_warn("agent containers: %s", wl_error_last());
	else if (n > 0)
		wl_info("removed %d agent container%s left by an earlier "
			"workletd",
			n, n == 1 ? "" : "s");
}

static void *resync_main(void *arg)
{
	struct wl_controller *c = arg;
	struct wl_docker *d = NULL;

	if (wl_docker_new(&d, c->cfg->docker_host) < 0) {
		wl_err("resync: %s", wl_error_last());
		return NULL;
	}
	do {
		queue_ids(c, 0);
		queue_ids(c, 1);
		queue_labelled(c, d);
		queue_clones(c);
		collect_docker(c, d);
		collect_agents(c);
		if (wl_git_cache_collect(c->rec.mirrors_dir,
					 c->cfg->git_cache_ttl_ms) > 0)
			wl_info("removed repository mirrors unused for %llds",
				(long long)(c->cfg->git_cache_ttl_ms / 1000));
	} while (!sleep_or_stop(c, c->cfg->resync_ms));
	wl_docker_free(d);
	return NULL;
}

int wl_controller_new(struct wl_controller **out, const struct wl_config *cfg)
{
	struct wl_controller *c = calloc(1, sizeof(*c));
	int error;

	if (!c) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	c->cfg = cfg;
	if ((error = wl_reconciler_init(&c->rec, cfg, &c->stop)) < 0) {
		free(c);
		return error;
	}
	if ((error = wl_workqueue_new(&c->queue, 1000, 5 * 60 * 1000)) < 0) {
		wl_reconciler_release(&c->rec);
		free(c);
		return error;
	}
	*out = c;
	return 0;
}

int wl_controller_start(struct wl_controller *c)
{
	struct wl_docker *d = NULL;
	int error;

	if ((error = wl_store_sweep_temps(&c->rec.store)) > 0)
		wl_info("removed %d temp file(s) a crashed writer left in the "
			"state directory",
			error);
	else if (error < 0)
		wl_warn("%s", wl_error_last());
	if ((error = wl_docker_new(&d, c->cfg->docker_host)) < 0)
		return error;
	if (wl_docker_ping(d) < 0)
		wl_warn("%s; worklets will wait until Docker answers",
			wl_error_last());
	error = wl_reconciler_adopt_ports(&c->rec, d);
	wl_docker_free(d);
	if (error < 0)
		return error;

	c->workers = calloc((size_t)c->cfg->workers, sizeof(pthread_t));
	if (!c->workers) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	for (int i = 0; i < c->cfg->workers; i++) {
		if (pthread_create(&c->workers[i], NULL, worker_main, c)) {
			wl_error_set("cannot start worker threads");
			return WL_ERROR;
		}
		c->nworkers++;
	}
	c->started_watcher =
		!pthread_create(&c->watcher, NULL, watcher_main, c);
	c->started_events = !pthread_create(&c->events, NULL, events_main, c);
	c->started_resync = !pthread_create(&c->resync, NULL, resync_main, c);
	if (!c->started_watcher || !c->started_events || !c->started_resync) {
		wl_error_set("cannot start controller threads");
		return WL_ERROR;
	}
	{
		/* Its own copy of the path: it may outlive the config. */
		char *claude = strdup(c->cfg->claude_bin);
		pthread_attr_t attr;
		pthread_t t;

		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (!claude || pthread_create(&t, &attr, check_agent, claude)) {
			wl_warn("cannot check the agent CLI");
			free(claude);
		}
		pthread_attr_destroy(&attr);
	}
	atomic_store(&wl_ctl_metrics.running, 1);
	wl_info("controller: %d workers, state in '%s', clones in '%s'",
		c->nworkers, c->cfg->state_dir, c->cfg->base_dir);
	return 0;
}

void wl_controller_request_stop(struct wl_controller *c)
{
	c->stop = 1;
	wl_workqueue_shutdown(c->queue);
}

void wl_controller_free(struct wl_controller *c)
{
	if (!c)
		return;
	wl_controller_request_stop(c);
	for (int i = 0; i < c->nworkers; i++)
		pthread_join(c->workers[i], NULL);
	if (c->started_watcher)
		pthread_join(c->watcher, NULL);
	if (c->started_events)
		pthread_join(c->events, NULL);
	if (c->started_resync)
		pthread_join(c->resync, NULL);
	free(c->workers);
	wl_workqueue_free(c->queue);
	wl_reconciler_release(&c->rec);
	free(c);
}
