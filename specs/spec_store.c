/*
 * DESIGN: the store holds only paths; every function works on the files
 * directly, so any thread may call it concurrently. Writers never share a
 * file (people and the API server write specs/, the controller writes
 * status/), and every write is an atomic rename, so a reader sees a whole
 * old file or a whole new one.
 */
#include "specs/spec_store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "specs/codec.h"
#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

#define DIR_MODE 0700
#define FILE_MODE 0600

static const char *const subdirs[] = { "specs", "status" };

static int oom(void)
{
	wl_error_set("out of memory");
	return WL_ERROR;
}

static char *join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s/%s", a, b);
	return s;
}

void wl_store_release(struct wl_store *s)
{
	free(s->root);
	free(s->specs_dir);
	free(s->status_dir);
	free(s->logs_dir);
	free(s->prompts_dir);
	memset(s, 0, sizeof(*s));
}

int wl_store_sweep_temps(const struct wl_store *s)
{
	const char *dirs[] = { s->specs_dir, s->status_dir, s->prompts_dir };
	int total = 0;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int n = wl_fs_sweep_temps(dirs[i]);

		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

int wl_store_init(struct wl_store *s, const char *state_dir)
{
	int error;

	memset(s, 0, sizeof(*s));
	if (!state_dir || !state_dir[0]) {
		wl_error_set("the state directory is not set");
		return WL_EINVALID;
	}
	if (!(s->root = strdup(state_dir)) ||
	    !(s->specs_dir = join(state_dir, "specs")) ||
	    !(s->status_dir = join(state_dir, "status")) ||
	    !(s->logs_dir = join(state_dir, "logs")) ||
	    !(s->prompts_dir = join(state_dir, "prompts"))) {
		error = oom();
		goto fail;
	}
	if ((error = wl_fs_mkdir_p(s->root, DIR_MODE)) < 0 ||
	    (error = wl_fs_mkdir_p(s->specs_dir, DIR_MODE)) < 0 ||
	    (error = wl_fs_mkdir_p(s->status_dir, DIR_MODE)) < 0 ||
	    (error = wl_fs_mkdir_p(s->logs_dir, DIR_MODE)) < 0 ||
	    (error = wl_fs_mkdir_p(s->prompts_dir, DIR_MODE)) < 0)
		goto fail;
	return 0;
fail:
	wl_store_release(s);
	return error;
}

/* User text in a message: printable ASCII only, bounded. */
static const char *show(char *out, size_t n, const char *s)
{
	size_t i = 0;

	for (; s && s[i] && i + 1 < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 ||
					 (unsigned char)s[i] >= 0x7f
				 ? '?'
				 : s[i];
	out[i] = '\0';
	return out;
}

/* An id given by the caller becomes a file name: check it first. */
static int check_id_arg(const char *id)
{
	char shown[80];

	if (wl_validate_id(id) == 0)
		return 0;
	wl_error_set("invalid worklet id '%s': must be a DNS label (a-z, 0-9, "
		     "'-'), at most %d characters",
		     show(shown, sizeof(shown), id), WL_ID_MAX);
	return WL_EINVALID;
}

/*
 * "<root>/<which>/<id>.yaml" into *path and the relative name used in
 * messages into rel. The id is checked first: it becomes a file name.
 */
static int file_path(const struct wl_store *s, int which, const char *id,
		     char **path, char *rel, size_t reln)
{
	size_t n;
	int error;

	*path = NULL;
	if ((error = check_id_arg(id)) < 0)
		return error;
	snprintf(rel, reln, "%s/%s.yaml", subdirs[which], id);
	n = strlen(s->root) + strlen(rel) + 2;
	if (!(*path = malloc(n)))
		return oom();
	snprintf(*path, n, "%s/%s", s->root, rel);
	return 0;
}

/* Read a store file; messages start with its relative name. */
static int read_file(struct wl_buf *buf, const char *path, const char *rel)
{
	int error = wl_fs_read(buf, path);

	if (error == WL_ENOTFOUND)
		wl_error_set("%s: does not exist", rel);
	else if (error == WL_ETOOBIG)
		wl_error_set("%s: file is larger than %d bytes", rel,
			     WL_SPEC_FILE_MAX);
	else if (error < 0)
		wl_error_prefix("%s", rel);
	return error;
}

/* metadata.id may be absent (then the file name gives it), never differ. */
static int check_id(struct wl_worklet *w, const char *id, const char *rel)
{
	if (!w->meta.id)
		return wl_str_set(&w->meta.id, id);
	if (strcmp(w->meta.id, id)) {
		char shown[80];

		wl_error_set("%s: metadata.id: '%s' does not match the file "
			     "name",
			     rel, show(shown, sizeof(shown), w->meta.id));
		return WL_EINVALID;
	}
	return 0;
}

int wl_store_read_spec(const struct wl_store *s, const char *id,
		       struct wl_worklet *out)
{
	struct wl_buf buf;
	char rel[128], *path = NULL;
	int error;

	wl_worklet_init(out);
	wl_buf_init(&buf, WL_SPEC_FILE_MAX);
	if ((error = file_path(s, 0, id, &path, rel, sizeof(rel))) < 0 ||
	    (error = read_file(&buf, path, rel)) < 0)
		goto done;
	if ((error = wl_yaml_decode_spec(out, wl_buf_cstr(&buf), buf.len)) <
	    0) {
		wl_error_prefix("%s", rel);
		goto done;
	}
	if ((error = check_id(out, id, rel)) < 0)
		wl_worklet_release(out);
done:
	wl_buf_release(&buf);
	free(path);
	return error;
}

static int write_doc(const struct wl_store *s, int which,
		     const struct wl_worklet *w)
{
	struct wl_buf buf;
	char rel[128], *path = NULL;
	int error;

	/* The encoder refuses more than WL_SPEC_FILE_MAX itself. */
	wl_buf_init(&buf, 2 * WL_SPEC_FILE_MAX);
	if ((error = file_path(s, which, w->meta.id, &path, rel, sizeof(rel))) <
	    0)
		goto done;
	error = which ? wl_yaml_encode_status(&buf, w)
		      : wl_yaml_encode_spec(&buf, w);
	if (error < 0 || (error = wl_fs_write_atomic(path, wl_buf_cstr(&buf),
						     buf.len, FILE_MODE)) < 0)
		wl_error_prefix("%s", rel);
done:
	wl_buf_release(&buf);
	free(path);
	return error;
}

int wl_store_write_spec(const struct wl_store *s, const struct wl_worklet *w)
{
	return write_doc(s, 0, w);
}

int wl_store_write_status(const struct wl_store *s, const struct wl_worklet *w)
{
	return write_doc(s, 1, w);
}

static int remove_file(const struct wl_store *s, int which, const char *id)
{
	char rel[128], *path = NULL;
	int error;

	if ((error = file_path(s, which, id, &path, rel, sizeof(rel))) < 0)
		return error;
	if (unlink(path) < 0 && errno != ENOENT) {
		wl_error_set("%s: cannot remove: %s", rel, strerror(errno));
		error = WL_ERROR;
	}
	free(path);
	return error;
}

int wl_store_remove_spec(const struct wl_store *s, const char *id)
{
	return remove_file(s, 0, id);
}

int wl_store_read_status(const struct wl_store *s, const char *id,
			 struct wl_worklet *out)
{
	struct wl_worklet tmp;
	struct wl_buf buf;
	char rel[128], *path = NULL;
	int error;

	wl_worklet_init(&tmp);
	wl_buf_init(&buf, WL_SPEC_FILE_MAX);
	if ((error = file_path(s, 1, id, &path, rel, sizeof(rel))) < 0 ||
	    (error = read_file(&buf, path, rel)) < 0)
		goto done;
	if ((error = wl_yaml_decode_status(&tmp, wl_buf_cstr(&buf), buf.len)) <
	    0) {
		wl_error_prefix("%s", rel);
		goto done;
	}
	if ((error = check_id(&tmp, id, rel)) < 0)
		goto done;
	/* Hand the status over; the caller's other fields stay as they are. */
	wl_status_release(&out->status);
	out->status = tmp.status;
	memset(&tmp.status, 0, sizeof(tmp.status));
done:
	wl_worklet_release(&tmp);
	wl_buf_release(&buf);
	free(path);
	return error;
}

int wl_store_remove_status(const struct wl_store *s, const char *id)
{
	char *logs = NULL;
	int error;

	if ((error = remove_file(s, 1, id)) < 0)
		return error;
	if (!(logs = join(s->logs_dir, id)))
		return oom();
	if ((error = wl_fs_remove_tree(logs)) < 0)
		wl_error_prefix("logs/%s", id);
	free(logs);
	return error;
}

static int cmp_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void wl_store_free_ids(char **ids, size_t count)
{
	if (!ids)
		return;
	for (size_t i = 0; i < count; i++)
		free(ids[i]);
	free(ids);
}

/* The id of a "<valid id>.yaml" name into id (WL_ID_MAX + 1 bytes), or 0. */
static int id_of(const char *name, char *id)
{
	size_t len = strlen(name);
	int ok;

	if (len <= 5 || len - 5 > WL_ID_MAX || strcmp(name + len - 5, ".yaml"))
		return 0;
	memcpy(id, name, len - 5);
	id[len - 5] = '\0';
	/* wl_validate_id sets a message on failure; a listing is no error. */
	ok = wl_validate_id(id) == 0;
	wl_error_clear();
	return ok;
}

int wl_store_list(const struct wl_store *s, int which, char ***ids,
		  size_t *count)
{
	const char *dir = which == 1 ? s->status_dir : s->specs_dir;
	char id[WL_ID_MAX + 1], **list = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *d;
	DIR *dp;
	int error = 0;

	*ids = NULL;
	*count = 0;
	if (!(dp = opendir(dir))) {
		wl_error_set("cannot list '%s': %s", dir, strerror(errno));
		return WL_ERROR;
	}
	while ((errno = 0, d = readdir(dp))) {
		struct stat st;

		if (!id_of(d->d_name, id))
			continue;
		/* Regular files only (following a symlink is fine). */
		if (d->d_type != DT_REG &&
		    (fstatat(dirfd(dp), d->d_name, &st, 0) < 0 ||
		     !S_ISREG(st.st_mode)))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(grown = realloc(list, cap * sizeof(*list)))) {
				error = oom();
				goto done;
			}
			list = grown;
		}
		if (!(list[n] = strdup(id))) {
			error = oom();
			goto done;
		}
		n++;
	}
	if (errno) {
		wl_error_set("cannot list '%s': %s", dir, strerror(errno));
		error = WL_ERROR;
		goto done;
	}
	if (n)
		qsort(list, n, sizeof(*list), cmp_ids);
	*ids = list;
	*count = n;
	list = NULL;
	n = 0;
done:
	wl_store_free_ids(list, n);
	closedir(dp);
	return error;
}

int wl_store_log_path(const struct wl_store *s, const char *id,
		      const char *name, char *out, size_t n)
{
	char *dir = NULL;
	int error;

	if ((error = check_id_arg(id)) < 0)
		return error;
	if (!name || !name[0] || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..")) {
		char shown[80];

		wl_error_set("invalid log file name '%s'",
			     show(shown, sizeof(shown), name));
		return WL_EINVALID;
	}
	if (!(dir = join(s->logs_dir, id)))
		return oom();
	if ((error = wl_fs_mkdir_p(dir, DIR_MODE)) < 0)
		goto done;
	if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n) {
		wl_error_set("log path for '%s' is too long", id);
		error = WL_ERROR;
	}
done:
	free(dir);
	return error;
}
