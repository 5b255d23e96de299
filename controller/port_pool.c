/*
 * DESIGN: called from every worker thread; one mutex guards the table.
 * The table is an array indexed by port - min holding the owner's id.
 */
#include "controller/port_pool.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "specs/core/error.h"
#include "specs/core/banned.h"

struct wl_port_pool {
	pthread_mutex_t lock;
	int min, max;
	char **owner; /* owner[port - min] */
};

int wl_port_pool_new(struct wl_port_pool **out, int min_port, int max_port)
{
	struct wl_port_pool *p;

	if (min_port < 1 || max_port > 65535 || min_port > max_port) {
		wl_error_set("invalid port range %d-%d", min_port, max_port);
		return WL_EINVALID;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->owner = calloc((size_t)(max_port - min_port + 1),
				      sizeof(char *)))) {
		free(p);
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->min = min_port;
	p->max = max_port;
	*out = p;
	return 0;
}

void wl_port_pool_free(struct wl_port_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i <= p->max - p->min; i++)
		free(p->owner[i]);
	free(p->owner);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int find_locked(struct wl_port_pool *p, const char *id)
{
	for (int i = 0; i <= p->max - p->min; i++)
		if (p->owner[i] && !strcmp(p->owner[i], id))
			return p->min + i;
	return 0;
}

static int set_owner(struct wl_port_pool *p, int port, const char *id)
{
	char *copy = strdup(id);

	if (!copy) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	free(p->owner[port - p->min]);
	p->owner[port - p->min] = copy;
	return 0;
}

int wl_port_pool_reserve(struct wl_port_pool *p, const char *id, int port)
{
	const char *holder;
	int old, error = 0;

	if (port < p->min || port > p->max) {
		wl_error_set("port %d is outside the range %d-%d", port, p->min,
			     p->max);
		return WL_EINVALID;
	}
	pthread_mutex_lock(&p->lock);
	holder = p->owner[port - p->min];
	if (holder && strcmp(holder, id)) {
		wl_error_set("port %d is already held by '%s'", port, holder);
		error = WL_ECONFLICT;
		goto out;
	}
	old = find_locked(p, id);
	if (old && old != port) {
		free(p->owner[old - p->min]);
		p->owner[old - p->min] = NULL;
	}
	if (!holder)
		error = set_owner(p, port, id);
out:
	pthread_mutex_unlock(&p->lock);
	return error;
}

/* 1 if nothing else on this host listens on 127.0.0.1:port. */
static int port_bindable(int port)
{
	struct sockaddr_in sa;
	int fd, ok, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int wl_port_pool_claim(struct wl_port_pool *p, const char *id, int *port)
{
	int error = WL_ERROR;

	pthread_mutex_lock(&p->lock);
	*port = find_locked(p, id);
	if (*port) {
		error = 0;
		goto out;
	}
	for (int candidate = p->min; candidate <= p->max; candidate++) {
		if (p->owner[candidate - p->min] || !port_bindable(candidate))
			continue;
		if ((error = set_owner(p, candidate, id)) == 0)
			*port = candidate;
		goto out;
	}
	wl_error_set("no free port in %d-%d", p->min, p->max);
out:
	pthread_mutex_unlock(&p->lock);
	return error;
}

int wl_port_pool_lookup(struct wl_port_pool *p, const char *id)
{
	int port;

	pthread_mutex_lock(&p->lock);
	port = find_locked(p, id);
	pthread_mutex_unlock(&p->lock);
	return port;
}

void wl_port_pool_release(struct wl_port_pool *p, const char *id)
{
	int port;

	pthread_mutex_lock(&p->lock);
	port = find_locked(p, id);
	if (port) {
		free(p->owner[port - p->min]);
		p->owner[port - p->min] = NULL;
	}
	pthread_mutex_unlock(&p->lock);
}
