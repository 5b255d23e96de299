/*
 * DESIGN: the cache is a small array (ROUTE_CACHE_SIZE entries, least
 * recently used replaced) under one mutex, used by the libwebsockets
 * service thread and every front end thread. The lock is held only to
 * compare and copy entries: the stat(2) calls and, on a miss, the YAML
 * parses run outside it, so a slow disk read never stalls the other
 * threads' lookups.
 */
#include "apiserver/route.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "specs/core/error.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

#define ROUTE_CACHE_SIZE 256
#define OWNER_MAX 128

struct file_id {
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct entry {
	struct file_id spec, status;
	char owner[OWNER_MAX + 1];
	struct wl_route route;
	uint64_t used;
};

struct wl_route_cache {
	const struct wl_store *store;
	pthread_mutex_t lock;
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
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void wl_route_cache_free(struct wl_route_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int file_id_of(const char *path, struct file_id *out)
{
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (stat(path, &st) < 0)
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

/* Parse the spec and status files into e (not under the lock). */
static int load(const struct wl_store *store, const char *id, struct entry *e)
{
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
	snprintf(e->route.last_error, sizeof(e->route.last_error), "%s",
		 w.status.last_error ? w.status.last_error : "");
	error = 0;
done:
	wl_worklet_release(&w);
	return error;
}

int wl_route_lookup(struct wl_route_cache *c, const char *id, const char *user,
		    struct wl_route *out)
{
	struct file_id spec, status;
	struct entry *e, fresh;
	char path[4096];
	int hit = 0, owned = 0;

	if (wl_validate_id(id) < 0)
		return WL_ENOTFOUND;
	snprintf(path, sizeof(path), "%s/%s.yaml", c->store->specs_dir, id);
	if (file_id_of(path, &spec) < 0)
		return WL_ENOTFOUND;
	snprintf(path, sizeof(path), "%s/%s.yaml", c->store->status_dir, id);
	file_id_of(path, &status); /* none yet is fine: all zero */

	pthread_mutex_lock(&c->lock);
	e = find(c, id);
	if (e && file_id_eq(&e->spec, &spec) &&
	    file_id_eq(&e->status, &status)) {
		hit = 1;
		e->used = ++c->clock;
		owned = !strcmp(e->owner, user);
		if (owned)
			*out = e->route;
	}
	pthread_mutex_unlock(&c->lock);
	if (hit)
		return owned ? 0 : WL_ENOTFOUND;

	memset(&fresh, 0, sizeof(fresh));
	if (load(c->store, id, &fresh) < 0)
		return WL_ENOTFOUND;
	fresh.spec = spec;
	fresh.status = status;
	owned = !strcmp(fresh.owner, user);
	if (owned)
		*out = fresh.route;

	pthread_mutex_lock(&c->lock);
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
	return r->phase == WL_PHASE_RUNNING && r->port > 0;
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
