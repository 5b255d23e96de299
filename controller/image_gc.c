#include "controller/image_gc.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "specs/core/error.h"
#include "specs/core/log.h"
#include "specs/core/timeutil.h"
#include "specs/core/banned.h"

struct order {
	const struct wl_image_use *imgs;
	size_t i;
};

static int older_first(const void *a, const void *b)
{
	const struct order *x = a, *y = b;
	const struct wl_image_use *p = &x->imgs[x->i], *q = &y->imgs[y->i];

	if (p->last_used_ms != q->last_used_ms)
		return p->last_used_ms < q->last_used_ms ? -1 : 1;
	if (p->size != q->size)
		return p->size > q->size ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

size_t wl_image_gc_select(const struct wl_image_use *imgs, size_t n,
			  int64_t budget, size_t *victims)
{
	struct order *o;
	int64_t total = 0;
	size_t m = 0, chosen = 0;

	for (size_t i = 0; i < n; i++)
		total += imgs[i].size;
	if (total <= budget || !(o = calloc(n ? n : 1, sizeof(*o))))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!imgs[i].keep)
			o[m++] = (struct order){ imgs, i };
	qsort(o, m, sizeof(*o), older_first);
	for (size_t k = 0; k < m && total > budget; k++) {
		victims[chosen++] = o[k].i;
		total -= imgs[o[k].i].size;
	}
	free(o);
	return chosen;
}

/* <state>/images/<hex of the id>; 0 or -1 when id is not an image id. */
static int use_path(const struct wl_store *store, const char *image_id,
		    char *out, size_t n)
{
	const char *hex =
		strncmp(image_id, "sha256:", 7) ? image_id : image_id + 7;

	if (!*hex || strlen(hex) > 64 || hex[strspn(hex, "0123456789abcdef")])
		return -1;
	snprintf(out, n, "%s/images/%s", store->root, hex);
	return 0;
}

void wl_image_gc_touch(const struct wl_store *store, const char *image_id)
{
	char path[4096], dir[4096];
	int fd;

	if (!image_id || use_path(store, image_id, path, sizeof(path)) < 0)
		return;
	if (utimensat(AT_FDCWD, path, NULL, 0) == 0)
		return;
	snprintf(dir, sizeof(dir), "%s/images", store->root);
	mkdir(dir, 0700);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

static int64_t last_used(const struct wl_store *store,
			 const struct wl_docker_image *img)
{
	char path[4096];
	struct stat st;
	int64_t t;

	if (use_path(store, img->id, path, sizeof(path)) < 0 ||
	    stat(path, &st) < 0)
		return img->created_ms;
	t = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	return t > img->created_ms ? t : img->created_ms;
}

/* Is image id the one some worklet serves (status.imageId)? */
static int served(char **served_ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (served_ids[i] && !strcmp(served_ids[i], id))
			return 1;
	return 0;
}

/* The image every worklet's status names (NULL entries when none). */
static int served_images(const struct wl_store *store, char ***out,
			 size_t *count)
{
	char **ids = NULL;
	size_t n = 0;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = wl_store_list(store, 1, &ids, &n)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		struct wl_worklet w;
		char *image = NULL;

		wl_worklet_init(&w);
		if (wl_store_read_status(store, ids[i], &w) == 0 &&
		    w.status.image_id)
			image = strdup(w.status.image_id);
		wl_worklet_release(&w);
		/* The worklet's id is replaced by its image id (or NULL). */
		free(ids[i]);
		ids[i] = image;
	}
	*out = ids;
	*count = n;
	return 0;
}

/* Drop <state>/images/<hex> files of images that are gone. */
static void forget_gone(const struct wl_store *store,
			const struct wl_docker_image *imgs, size_t n)
{
	char dir[4096], path[4096 + 80];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/images", store->root);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		int found = 0;

		if (de->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < n && !found; i++)
			found = strlen(imgs[i].id) > 7 &&
				!strcmp(imgs[i].id + 7, de->d_name);
		if (!found) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

int wl_image_gc_run(struct wl_docker *d, const struct wl_config *cfg,
		    const struct wl_store *store, int64_t grace_ms)
{
	int64_t now = wl_time_now_ms();
	struct wl_docker_image *imgs = NULL;
	struct wl_docker_container *cs = NULL;
	struct wl_image_use *use = NULL;
	size_t ni = 0, nc = 0, ns = 0, nv, *victims = NULL;
	char filter[128], **serving = NULL;
	int error, removed = 0;

	wl_config_label_filter(cfg, "worklet.managed=true", filter,
			       sizeof(filter));
	if ((error = wl_docker_images_list(d, filter, &imgs, &ni)) < 0 ||
	    (error = wl_docker_containers_list(d, filter, &cs, &nc)) < 0 ||
	    (error = served_images(store, &serving, &ns)) < 0)
		goto done;
	if (!(use = calloc(ni ? ni : 1, sizeof(*use))) ||
	    !(victims = calloc(ni ? ni : 1, sizeof(*victims)))) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto done;
	}
	for (size_t i = 0; i < ni; i++) {
		use[i].size = imgs[i].size;
		use[i].last_used_ms = last_used(store, &imgs[i]);
		/*
		 * Just built or just served: a worker may be about to create
		 * its container (between the build and the create nothing
		 * else protects it).
		 */
		use[i].keep = now - use[i].last_used_ms < grace_ms ||
			      served(serving, ns, imgs[i].id);
		for (size_t k = 0; k < nc && !use[i].keep; k++)
			use[i].keep = cs[k].image_id &&
				      !strcmp(cs[k].image_id, imgs[i].id);
	}
	nv = wl_image_gc_select(use, ni, cfg->image_disk_budget, victims);
	for (size_t k = 0; k < nv; k++) {
		const struct wl_docker_image *img = &imgs[victims[k]];

		/* Not forced: an image a container just started on stays. */
		if (wl_docker_image_remove(d, img->id, 0) == 0) {
			wl_info("image budget: removed %.19s of '%s' (%lld "
				"bytes, least recently used)",
				img->id,
				wl_kvlist_get(&img->labels, "worklet.id")
					? wl_kvlist_get(&img->labels,
							"worklet.id")
					: "?",
				(long long)img->size);
			removed++;
		}
	}
	forget_gone(store, imgs, ni);
	error = removed;
done:
	for (size_t i = 0; i < ns; i++)
		free(serving[i]);
	free(serving);
	free(victims);
	free(use);
	wl_docker_images_free(imgs, ni);
	wl_docker_containers_free(cs, nc);
	return error;
}

int wl_image_gc_usage(struct wl_docker *d, const struct wl_config *cfg,
		      int64_t *bytes, size_t *images)
{
	struct wl_docker_image *imgs = NULL;
	char filter[128];
	size_t n = 0;
	int64_t total = 0;
	int error;

	*bytes = 0;
	*images = 0;
	wl_config_label_filter(cfg, NULL, filter, sizeof(filter));
	if ((error = wl_docker_images_list_all(d, filter, &imgs, &n)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		int64_t parent = 0;
		const char *pid = imgs[i].parent_id;

		if (pid) {
			size_t k;

			for (k = 0; k < n && strcmp(imgs[k].id, pid); k++)
				;
			if (k < n) {
				parent = imgs[k].size;
			} else {
				/* A base image: the first of a build's steps.
				 */
				struct wl_docker_image base;

				memset(&base, 0, sizeof(base));
				if (wl_docker_image_inspect(d, pid, &base) == 0)
					parent = base.size;
				wl_docker_image_release(&base);
			}
		}
		if (imgs[i].size > parent)
			total += imgs[i].size - parent;
	}
	*bytes = total;
	*images = n;
	wl_docker_images_free(imgs, n);
	return 0;
}
