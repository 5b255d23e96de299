/*
 * DESIGN: the cache is a small array (ROUTE_CACHE_SIZE entries, least
 * recently used replaced) under one mutex, used by the libwebsockets
 * service thread and every front end thread. The lock is held only to
 * look entries up, copy them and take in change notices: on a miss, the
 * YAML parses run outside it, so a slow disk read never stalls the other
 * threads' lookups.
 *
 * Knowing when an entry is stale. Normally from inotify: the spec and
 * status directories are watched, every lookup first drains the pending
 * notices (one non-blocking read(2), under the lock) and forgets the
 * entries whose files changed. A notice is queued by the very rename or
 * write that changes a file, so a request made after a change is routed
 * by the new files. A parse that raced with a change (the epoch moved
 * while it ran) is used but not kept. When inotify is not available, or
 * a watch is lost or its queue overflowed, each lookup compares the
 * files' identity instead (inode, size, mtime: two fstatat(2) calls
 * relative to the open directories).
 */
#include "apiserver/route.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "specs/core/error.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

#define ROUTE_CACHE_SIZE 256
#define OWNER_MAX 128
#define WATCH_EVENTS                                                           \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |  \
	 IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

struct file_id {
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct entry {
	struct file_id spec, status; /* stat mode */
	int fresh;		     /* inotify mode: no change seen since */
	char owner[OWNER_MAX + 1];
	struct wl_route route;
	uint64_t used;
};

struct wl_route_cache {
	const struct wl_store *store;
	int specs_fd, status_fd; /* the directories, or -1 */
	int ifd;		 /* inotify, or -1: stat mode */
	pthread_mutex_t lock;	 /* everything below */
	uint64_t epoch;		 /* counts the change notices taken in */
	uint64_t clock;
	struct entry entries[ROUTE_CACHE_SIZE];
};

int wl_route_cache_new(struct wl_route_cache **out,
		       const struct wl_store *store)
{
	struct wl_route_cache *c = calloc(1, sizeof(*c));

	if (!c) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	c->store = store;
	/* stat(2) relative to these walks one path component, not all. */
	c->specs_fd = open(store->specs_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	c->status_fd =
		open(store->status_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	c->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (c->ifd >= 0 &&
	    (inotify_add_watch(c->ifd, store->specs_dir, WATCH_EVENTS) < 0 ||
	     inotify_add_watch(c->ifd, store->status_dir, WATCH_EVENTS) < 0)) {
		close(c->ifd);
		c->ifd = -1;
	}
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void wl_route_cache_free(struct wl_route_cache *c)
{
	if (!c)
		return;
	if (c->specs_fd >= 0)
		close(c->specs_fd);
	if (c->status_fd >= 0)
		close(c->status_fd);
	if (c->ifd >= 0)
		close(c->ifd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The identity of <dir>/<id>.yaml (dirfd: dir opened, or -1). */
static int file_id_of(int dirfd, const char *dir, const char *id,
		      struct file_id *out)
{
	char path[4096];
	struct stat st;
	int r;

	memset(out, 0, sizeof(*out));
	if (dirfd >= 0) {
		snprintf(path, sizeof(path), "%s.yaml", id);
		r = fstatat(dirfd, path, &st, 0);
	} else {
		snprintf(path, sizeof(path), "%s/%s.yaml", dir, id);
		r = stat(path, &st);
	}
	if (r < 0)
		return -1;
	out->ino = st.st_ino;
	out->size = st.st_size;
	out->mtime = st.st_mtim;
	return 0;
}

static int file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Under the lock: the entry of id, or NULL. */
static struct entry *find(struct wl_route_cache *c, const char *id)
{
	for (size_t i = 0; i < ROUTE_CACHE_SIZE; i++)
		if (!strcmp(c->entries[i].route.id, id))
			return &c->entries[i];
	return NULL;
}

/*
 * Under the lock: take in the pending change notices. A watch that is
 * gone or a queue that overflowed puts the cache in stat mode for good.
 */
static void drain(struct wl_route_cache *c)
{
	char buf[4096]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while (c->ifd >= 0 && (n = read(c->ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;
			size_t len = ev->len ? strlen(ev->name) : 0;

			p += sizeof(*ev) + ev->len;
			c->epoch++;
			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED |
					IN_DELETE_SELF | IN_MOVE_SELF)) {
				close(c->ifd);
				c->ifd = -1;
				break;
			}
			if (len > 5 && !strcmp(ev->name + len - 5, ".yaml")) {
				char id[WL_ID_MAX + 1];
				struct entry *e;

				if (len - 5 >= sizeof(id))
					continue;
				memcpy(id, ev->name, len - 5);
				id[len - 5] = '\0';
				if ((e = find(c, id)))
					e->fresh = 0;
			}
		}
	}
}

/* Parse the spec and status files into e (not under the lock). */
static int load(const struct wl_store *store, const char *id, struct entry *e)
{
	const struct wl_condition *ready;
	struct wl_worklet w;
	int error = WL_ENOTFOUND;

	wl_worklet_init(&w);
	if (wl_store_read_spec(store, id, &w) < 0 || !w.meta.user_id)
		goto done;
	wl_store_read_status(store, id, &w); /* none yet: creating */
	snprintf(e->route.id, sizeof(e->route.id), "%s", id);
	snprintf(e->owner, sizeof(e->owner), "%s", w.meta.user_id);
	e->route.phase = w.status.phase;
	e->route.port = w.status.port;
	ready = wl_status_condition(&w.status, "Ready");
	e->route.serving =
		w.status.port &&
		(w.status.phase == WL_PHASE_RUNNING ||
		 (ready && ready->status && !strcmp(ready->status, "True") &&
		  w.status.container_id));
	snprintf(e->route.last_error, sizeof(e->route.last_error), "%s",
		 w.status.last_error ? w.status.last_error : "");
	error = 0;
done:
	wl_worklet_release(&w);
	return error;
}

/* Under the lock: a valid entry of id for user: 1 (*owned set), or 0. */
static int hit(struct wl_route_cache *c, const char *id,
	       const struct file_id *spec, const struct file_id *status,
	       const char *user, struct wl_route *out, int *owned)
{
	struct entry *e = find(c, id);

	if (!e)
		return 0;
	if (c->ifd >= 0 ? !e->fresh
			: !file_id_eq(&e->spec, spec) ||
				  !file_id_eq(&e->status, status))
		return 0;
	e->used = ++c->clock;
	*owned = !strcmp(e->owner, user);
	if (*owned)
		*out = e->route;
	return 1;
}

int wl_route_lookup(struct wl_route_cache *c, const char *id, const char *user,
		    struct wl_route *out)
{
	struct file_id spec, status;
	struct entry *e, fresh;
	uint64_t epoch;
	int owned = 0, watched, found;

	if (wl_validate_id(id) < 0)
		return WL_ENOTFOUND;
	memset(&spec, 0, sizeof(spec));
	memset(&status, 0, sizeof(status));
	pthread_mutex_lock(&c->lock);
	drain(c);
	watched = c->ifd >= 0;
	found = watched && hit(c, id, NULL, NULL, user, out, &owned);
	epoch = c->epoch;
	pthread_mutex_unlock(&c->lock);
	if (found)
		return owned ? 0 : WL_ENOTFOUND;
	if (!watched) {
		if (file_id_of(c->specs_fd, c->store->specs_dir, id, &spec) < 0)
			return WL_ENOTFOUND;
		/* none yet is fine: all zero */
		file_id_of(c->status_fd, c->store->status_dir, id, &status);
		pthread_mutex_lock(&c->lock);
		found = hit(c, id, &spec, &status, user, out, &owned);
		pthread_mutex_unlock(&c->lock);
		if (found)
			return owned ? 0 : WL_ENOTFOUND;
	}

	memset(&fresh, 0, sizeof(fresh));
	if (load(c->store, id, &fresh) < 0)
		return WL_ENOTFOUND;
	fresh.spec = spec;
	fresh.status = status;
	owned = !strcmp(fresh.owner, user);
	if (owned)
		*out = fresh.route;

	pthread_mutex_lock(&c->lock);
	drain(c);
	/* Changed while we read: good for this request, not for later. */
	fresh.fresh = c->epoch == epoch;
	e = find(c, id);
	if (!e) {
		e = &c->entries[0];
		for (size_t i = 1; i < ROUTE_CACHE_SIZE; i++)
			if (c->entries[i].used < e->used)
				e = &c->entries[i];
	}
	*e = fresh;
	e->used = ++c->clock;
	pthread_mutex_unlock(&c->lock);
	return owned ? 0 : WL_ENOTFOUND;
}

int wl_route_serving(const struct wl_route *r)
{
	return r->serving;
}

int wl_route_not_serving_text(const struct wl_route *r, struct wl_buf *out)
{
	const char *phase = wl_phase_name(r->phase);

	return wl_buf_printf(
		out, "worklet '%s' is not serving right now: it is %s.%s%s\n",
		r->id, phase[0] ? phase : "creating",
		r->last_error[0] ? "\nlast error: " : "", r->last_error);
}

int wl_route_host_id(const char *base_domain, const char *host, size_t len,
		     char *id, size_t n)
{
	const char *dot = memchr(host, '.', len), *end = host + len;
	size_t idlen, dlen = strlen(base_domain);

	if (!dot)
		return 0;
	idlen = (size_t)(dot - host);
	if (idlen == 0 || idlen >= n || (size_t)(end - dot - 1) < dlen ||
	    strncasecmp(dot + 1, base_domain, dlen) ||
	    (dot + 1 + dlen < end && dot[1 + dlen] != ':'))
		return 0;
	for (size_t i = 0; i < idlen; i++)
		id[i] = (char)(host[i] >= 'A' && host[i] <= 'Z'
				       ? host[i] - 'A' + 'a'
				       : host[i]);
	id[idlen] = '\0';
	return wl_validate_id(id) == 0;
}

int wl_route_proxy_path(const char *path, size_t len, char *id, size_t n,
			size_t *rest)
{
	size_t plen = strlen(WL_ROUTE_WORKLETS), idlen;
	const char *p, *slash, *end = path + len;

	if (len < plen || strncmp(path, WL_ROUTE_WORKLETS, plen))
		return 0;
	p = path + plen;
	slash = memchr(p, '/', (size_t)(end - p));
	if (!slash)
		return 0;
	idlen = (size_t)(slash - p);
	if (idlen == 0 || idlen >= n || end - slash < 6 ||
	    strncmp(slash, "/proxy", 6) || (slash + 6 < end && slash[6] != '/'))
		return 0;
	memcpy(id, p, idlen);
	id[idlen] = '\0';
	*rest = (size_t)(slash + 6 - path);
	return 1;
}

int wl_route_preview_path(const char *path, size_t len, char *id, size_t n,
			  size_t *ticket, size_t *ticket_len, size_t *rest)
{
	size_t plen = strlen(WL_ROUTE_WORKLETS), idlen;
	const char *p, *slash, *t, *tend, *end = path + len;

	if (len < plen || strncmp(path, WL_ROUTE_WORKLETS, plen))
		return 0;
	p = path + plen;
	slash = memchr(p, '/', (size_t)(end - p));
	if (!slash)
		return 0;
	idlen = (size_t)(slash - p);
	if (idlen == 0 || idlen >= n || end - slash < 9 ||
	    strncmp(slash, "/preview/", 9))
		return 0;
	t = slash + 9;
	tend = memchr(t, '/', (size_t)(end - t));
	if (!tend)
		tend = end;
	if (tend == t)
		return 0;
	memcpy(id, p, idlen);
	id[idlen] = '\0';
	*ticket = (size_t)(t - path);
	*ticket_len = (size_t)(tend - t);
	*rest = (size_t)(tend - path);
	return 1;
}
