#include "controller/build_context.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "specs/core/error.h"
#include "specs/core/banned.h"

/*
 * The same tree must give the same bytes, so that Docker's layer cache
 * hits when nothing changed: entries are written in sorted order with
 * owner 0:0, no user/group names and one fixed mtime. 2000-01-01 rather
 * than the epoch because some tools in images refuse older timestamps
 * (Python's zipfile rejects dates before 1980 when building wheels).
 */
#define FIXED_MTIME 946684800

/* Deep enough for any real repository, bounded so we cannot run out of fds. */
#define MAX_DEPTH 128

/* A symlink target cannot be longer than this on Linux (PATH_MAX - 1). */
#define MAX_LINK 4096

struct walk {
	struct archive *a;
	const char *dir; /* for messages */
	struct wl_buf *out;
	int write_error; /* what wl_buf_add returned in the write callback */
	const struct wl_gen_file *extra;
	size_t extra_count;
	struct wl_buf path; /* relative path of the current entry */
};

static la_ssize_t on_write(struct archive *a, void *ctx, const void *data,
			   size_t len)
{
	struct walk *w = ctx;
	int error;

	(void)a;
	/*
	 * Past the limit the data is dropped but reported as written: a
	 * failing write callback puts the archive in its fatal state, and
	 * libarchive 3.6 then never frees its output buffer (a leak per
	 * over-sized context). The callers check write_error after every
	 * call and stop. No message is set here: archive_write_free()
	 * flushes again and must not overwrite the one archive_fail() set.
	 */
	if (w->write_error)
		return (la_ssize_t)len;
	if (len > w->out->max - w->out->len) {
		w->write_error = WL_ETOOBIG;
		return (la_ssize_t)len;
	}
	if ((error = wl_buf_add(w->out, data, len)) < 0)
		w->write_error = error;
	return (la_ssize_t)len;
}

/* A generated path must be relative and normalised: no "", ".", "..". */
static int valid_gen_path(const char *p)
{
	const char *s = p;

	if (!*p || *p == '/')
		return 0;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n == 0 || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		if (!e)
			break;
		s = e + 1;
		if (!*s)
			return 0; /* trailing slash */
	}
	return 1;
}

/*
 * Whether a repo entry at path (of the given type) gives way to a
 * generated file: the same path, or a non-directory where a generated file
 * needs a parent directory.
 */
static int replaced(const struct walk *w, const char *path, int is_dir)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < w->extra_count; i++) {
		const char *g = w->extra[i].path;

		if (!strcmp(g, path))
			return 1;
		if (!is_dir && !strncmp(g, path, n) && g[n] == '/')
			return 1;
	}
	return 0;
}

static int archive_fail(struct walk *w, const char *what)
{
	if (w->write_error == WL_ETOOBIG) {
		wl_error_set("build context of '%s' exceeds %zu bytes", w->dir,
			     w->out->max);
		return WL_ETOOBIG;
	}
	if (w->write_error) {
		wl_error_set("out of memory");
		return w->write_error;
	}
	wl_error_set("cannot archive '%s' in '%s': %s", what, w->dir,
		     archive_error_string(w->a) ? archive_error_string(w->a)
						: "unknown error");
	return WL_ERROR;
}

static void entry_defaults(struct archive_entry *e, const char *path,
			   mode_t type, mode_t perm)
{
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, FIXED_MTIME, 0);
}

static int write_header(struct walk *w, struct archive_entry *e)
{
	/* ARCHIVE_WARN: written, with some detail lost; still an entry. */
	if (archive_write_header(w->a, e) < ARCHIVE_WARN || w->write_error)
		return archive_fail(w, archive_entry_pathname(e));
	return 0;
}

static int write_data(struct walk *w, const void *data, size_t len)
{
	if ((len && archive_write_data(w->a, data, len) < 0) || w->write_error)
		return archive_fail(w, wl_buf_cstr(&w->path));
	return 0;
}

static int add_file(struct walk *w, int dfd, const char *name)
{
	struct archive_entry *e = NULL;
	struct stat st;
	char chunk[64 * 1024];
	int fd = -1, error = 0;
	off_t left;

	fd = openat(dfd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		wl_error_set("cannot read '%s' in '%s': %s",
			     wl_buf_cstr(&w->path), w->dir, strerror(errno));
		error = WL_ERROR;
		goto done;
	}
	if (!S_ISREG(st.st_mode))
		goto done; /* replaced by something else since lstat */
	if (!(e = archive_entry_new())) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto done;
	}
	entry_defaults(e, wl_buf_cstr(&w->path), AE_IFREG, st.st_mode & 07777);
	archive_entry_set_size(e, st.st_size);
	if ((error = write_header(w, e)) < 0)
		goto done;
	/*
	 * Exactly st_size bytes: if the file shrinks meanwhile, libarchive pads
	 * the entry with zeros; if it grows, the rest is left out.
	 */
	for (left = st.st_size; left > 0;) {
		size_t want = left < (off_t)sizeof(chunk) ? (size_t)left
							  : sizeof(chunk);
		ssize_t n = read(fd, chunk, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			wl_error_set("cannot read '%s' in '%s': %s",
				     wl_buf_cstr(&w->path), w->dir,
				     strerror(errno));
			error = WL_ERROR;
			goto done;
		}
		if (n == 0)
			break;
		if ((error = write_data(w, chunk, (size_t)n)) < 0)
			goto done;
		left -= n;
	}
done:
	archive_entry_free(e);
	if (fd >= 0)
		close(fd);
	return error;
}

static int add_symlink(struct walk *w, int dfd, const char *name)
{
	struct archive_entry *e = NULL;
	char *target = NULL;
	ssize_t n;
	int error = 0;

	if (!(target = malloc(MAX_LINK + 1))) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	n = readlinkat(dfd, name, target, MAX_LINK + 1);
	if (n < 0 || n > MAX_LINK) {
		wl_error_set("cannot read link '%s' in '%s': %s",
			     wl_buf_cstr(&w->path), w->dir,
			     n < 0 ? strerror(errno) : "target too long");
		error = WL_ERROR;
		goto done;
	}
	target[n] = '\0';
	if (!(e = archive_entry_new())) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto done;
	}
	entry_defaults(e, wl_buf_cstr(&w->path), AE_IFLNK, 0777);
	archive_entry_set_symlink(e, target);
	error = write_header(w, e);
done:
	archive_entry_free(e);
	free(target);
	return error;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read and sort the names of an open directory (without "." and ".."). */
static int read_names(struct walk *w, DIR *dir, char ***out, size_t *count)
{
	char **names = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int error = 0;

	for (;;) {
		errno = 0;
		if (!(de = readdir(dir))) {
			if (errno) {
				wl_error_set("cannot list '%s' in '%s': %s",
					     w->path.len ? wl_buf_cstr(&w->path)
							 : ".",
					     w->dir, strerror(errno));
				error = WL_ERROR;
				goto fail;
			}
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			if (!(grown = realloc(names, cap * sizeof(*names))))
				goto oom;
			names = grown;
		}
		if (!(names[n] = strdup(de->d_name)))
			goto oom;
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*count = n;
	return 0;
oom:
	wl_error_set("out of memory");
	error = WL_ERROR;
fail:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return error;
}

static int add_dir_entries(struct walk *w, int dfd, int depth);

static int add_entry(struct walk *w, int dfd, const char *name, int depth)
{
	struct archive_entry *e = NULL;
	size_t base = w->path.len;
	struct stat st;
	int error = 0, sub = -1;

	if (depth == 0 && !strcmp(name, ".git"))
		return 0;
	if ((base && (error = wl_buf_putc(&w->path, '/')) < 0) ||
	    (error = wl_buf_puts(&w->path, name)) < 0)
		goto done;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			goto done; /* deleted while we walk */
		wl_error_set("cannot stat '%s' in '%s': %s",
			     wl_buf_cstr(&w->path), w->dir, strerror(errno));
		error = WL_ERROR;
		goto done;
	}
	if (replaced(w, wl_buf_cstr(&w->path), S_ISDIR(st.st_mode)))
		goto done;
	if (S_ISREG(st.st_mode)) {
		error = add_file(w, dfd, name);
	} else if (S_ISLNK(st.st_mode)) {
		error = add_symlink(w, dfd, name);
	} else if (S_ISDIR(st.st_mode)) {
		if (depth + 1 >= MAX_DEPTH) {
			wl_error_set("cannot archive '%s' in '%s': nested "
				     "deeper than %d directories",
				     wl_buf_cstr(&w->path), w->dir, MAX_DEPTH);
			error = WL_ERROR;
			goto done;
		}
		if (!(e = archive_entry_new())) {
			wl_error_set("out of memory");
			error = WL_ERROR;
			goto done;
		}
		entry_defaults(e, wl_buf_cstr(&w->path), AE_IFDIR,
			       st.st_mode & 07777);
		if ((error = write_header(w, e)) < 0)
			goto done;
		sub = openat(dfd, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			wl_error_set("cannot open '%s' in '%s': %s",
				     wl_buf_cstr(&w->path), w->dir,
				     strerror(errno));
			error = WL_ERROR;
			goto done;
		}
		error = add_dir_entries(w, sub, depth + 1);
		sub = -1; /* add_dir_entries took it */
	}
	/* Sockets, fifos and devices have no place in a build context. */
done:
	archive_entry_free(e);
	if (sub >= 0)
		close(sub);
	w->path.len = base;
	if (w->path.ptr)
		w->path.ptr[base] = '\0';
	return error;
}

/* Archive the entries of the directory open at dfd; closes dfd. */
static int add_dir_entries(struct walk *w, int dfd, int depth)
{
	char **names = NULL;
	size_t count = 0, i;
	DIR *dir = NULL;
	int error = 0;

	if (!(dir = fdopendir(dfd))) {
		wl_error_set("cannot open '%s' in '%s': %s",
			     w->path.len ? wl_buf_cstr(&w->path) : ".", w->dir,
			     strerror(errno));
		close(dfd);
		return WL_ERROR;
	}
	if ((error = read_names(w, dir, &names, &count)) < 0)
		goto done;
	for (i = 0; i < count; i++)
		if ((error = add_entry(w, dirfd(dir), names[i], depth)) < 0)
			goto done;
done:
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return error;
}

static int add_generated(struct walk *w, const struct wl_gen_file *g)
{
	struct archive_entry *e = NULL;
	int error;

	if (!(e = archive_entry_new())) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	wl_buf_reset(&w->path);
	if ((error = wl_buf_puts(&w->path, g->path)) < 0)
		goto done;
	entry_defaults(e, g->path, AE_IFREG, (mode_t)(g->mode & 07777));
	archive_entry_set_size(e, (la_int64_t)g->len);
	if ((error = write_header(w, e)) < 0)
		goto done;
	error = write_data(w, g->data, g->len);
done:
	archive_entry_free(e);
	return error;
}

int wl_build_context_tar(struct wl_buf *out, const char *dir,
			 const struct wl_gen_file *extra, size_t extra_count)
{
	struct walk w = { 0 };
	size_t start = out->len;
	int error = 0, root = -1;

	w.dir = dir;
	w.out = out;
	w.extra = extra;
	w.extra_count = extra_count;
	wl_buf_init(&w.path, 64 * 1024);

	for (size_t i = 0; i < extra_count; i++) {
		if (!extra[i].path || !valid_gen_path(extra[i].path) ||
		    (!extra[i].data && extra[i].len)) {
			wl_error_set("invalid generated file path '%s'",
				     extra[i].path ? extra[i].path : "");
			error = WL_EINVALID;
			goto done;
		}
	}
	root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		wl_error_set("cannot open '%s': %s", dir, strerror(errno));
		error = errno == ENOENT ? WL_ENOTFOUND : WL_ERROR;
		goto done;
	}
	if (!(w.a = archive_write_new())) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto done;
	}
	/*
	 * Names are stored as the bytes they are on disk, whatever the
	 * process locale: no conversion that could fail on a non-UTF-8 name
	 * or make the archive depend on setlocale().
	 */
	if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
	    archive_write_set_format_option(w.a, "pax", "hdrcharset",
					    "BINARY") != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w.a, 1) != ARCHIVE_OK ||
	    archive_write_open(w.a, &w, NULL, on_write, NULL) != ARCHIVE_OK) {
		error = archive_fail(&w, ".");
		goto done;
	}
	error = add_dir_entries(&w, root, 0);
	root = -1;
	if (error < 0)
		goto done;
	for (size_t i = 0; i < extra_count; i++) {
		size_t j = i + 1;

		/* The same path twice: the last one wins, as in a map. */
		while (j < extra_count && strcmp(extra[i].path, extra[j].path))
			j++;
		if (j == extra_count &&
		    (error = add_generated(&w, &extra[i])) < 0)
			goto done;
	}
	if (archive_write_close(w.a) != ARCHIVE_OK || w.write_error)
		error = archive_fail(&w, ".");
done:
	if (w.a)
		archive_write_free(w.a);
	if (root >= 0)
		close(root);
	wl_buf_release(&w.path);
	if (error < 0 && out->len > start) {
		/* Leave out as it was: no half archive. */
		out->len = start;
		out->ptr[start] = '\0';
	}
	return error;
}
