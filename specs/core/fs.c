#include "specs/core/fs.h"

#include <linux/openat2.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "specs/core/error.h"
#include "specs/core/hash.h"
#include "specs/core/banned.h"

static int fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, error = 0;

	if (!copy)
		return WL_ERROR;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		wl_error_set("cannot sync directory of '%s': %s", path,
			     strerror(errno));
		error = WL_ERROR;
	}
	if (fd >= 0)
		close(fd);
	free(copy);
	return error;
}

/* A full disk or quota is its own code: the API answers 507 for it. */
static int write_error(int err)
{
	return err == ENOSPC || err == EDQUOT ? WL_ENOSPACE : WL_ERROR;
}

int wl_fs_write_atomic(const char *path, const void *data, size_t len,
		       mode_t mode)
{
	char tmp[4096], rnd[17];
	const char *p = data;
	int fd = -1, err, error = WL_ERROR;

	wl_random_hex(rnd, 8);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%s", path,
			     (int)getpid(), rnd) >= sizeof(tmp)) {
		wl_error_set("path too long: '%s'", path);
		return WL_ERROR;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		err = errno;
		wl_error_set("cannot create '%s': %s", tmp, strerror(err));
		return write_error(err);
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			wl_error_set("cannot write '%s': %s", path,
				     strerror(err));
			error = write_error(err);
			goto done;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		err = errno;
		wl_error_set("cannot sync '%s': %s", path, strerror(err));
		error = write_error(err);
		goto done;
	}
	if (close(fd) < 0) {
		err = errno;
		fd = -1;
		wl_error_set("cannot write '%s': %s", path, strerror(err));
		error = write_error(err);
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		wl_error_set("cannot rename '%s' to '%s': %s", tmp, path,
			     strerror(errno));
		goto done;
	}
	error = fsync_dir_of(path);
	return error;
done:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return error;
}

/*
 * The pid of a temp file name "<name>.tmp-<pid>-<16 hex>" of
 * wl_fs_write_atomic, or 0 when name is not one.
 */
static long temp_writer(const char *name)
{
	const char *t = strstr(name, ".tmp-"), *p;
	char *end;
	long pid;

	if (!t)
		return 0;
	for (const char *next; (next = strstr(t + 1, ".tmp-"));)
		t = next;
	p = t + 5;
	if (*p < '1' || *p > '9')
		return 0;
	pid = strtol(p, &end, 10);
	if (*end != '-' || strlen(end + 1) != 16)
		return 0;
	for (p = end + 1; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return pid;
}

int wl_fs_sweep_temps(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *d;
	int removed = 0;

	if (!dp) {
		if (errno == ENOENT)
			return 0;
		wl_error_set("cannot list '%s': %s", dir, strerror(errno));
		return WL_ERROR;
	}
	while ((d = readdir(dp))) {
		long pid = temp_writer(d->d_name);

		if (!pid || pid == (long)getpid() ||
		    !(kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			continue;
		if (unlinkat(dirfd(dp), d->d_name, 0) == 0)
			removed++;
	}
	closedir(dp);
	return removed;
}

/* Read all of fd into out; path names it in messages. Closes fd. */
static int read_fd(struct wl_buf *out, int fd, const char *path)
{
	char chunk[16384];
	int error = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			wl_error_set("cannot read '%s': %s", path,
				     strerror(errno));
			error = WL_ERROR;
			break;
		}
		if (n == 0)
			break;
		if ((error = wl_buf_add(out, chunk, (size_t)n)) < 0) {
			wl_error_prefix("'%s' is too large", path);
			break;
		}
	}
	close(fd);
	return error;
}

int wl_fs_read(struct wl_buf *out, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT) {
			wl_error_set("'%s' does not exist", path);
			return WL_ENOTFOUND;
		}
		wl_error_set("cannot open '%s': %s", path, strerror(errno));
		return WL_ERROR;
	}
	return read_fd(out, fd, path);
}

int wl_fs_read_beneath(struct wl_buf *out, const char *dir, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	int dfd, fd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		wl_error_set("cannot open '%s': %s", dir, strerror(errno));
		return errno == ENOENT ? WL_ENOTFOUND : WL_ERROR;
	}
	fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	close(dfd);
	if (fd < 0) {
		int e = errno;

		wl_error_set("cannot open '%s' in the checkout: %s", rel,
			     e == ELOOP || e == EXDEV
				     ? "it is or goes through a symbolic link"
				     : strerror(e));
		return e == ENOENT || e == ENOTDIR ? WL_ENOTFOUND : WL_EINVALID;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		wl_error_set("'%s' in the checkout is not a regular file", rel);
		return WL_EINVALID;
	}
	return read_fd(out, fd, rel);
}

int wl_fs_mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp)) {
		wl_error_set("invalid directory path '%s'", path);
		return WL_EINVALID;
	}
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		goto fail;
	return 0;
fail:
	wl_error_set("cannot create directory '%s': %s", tmp, strerror(errno));
	return WL_ERROR;
}

static int remove_entry(const char *p, const struct stat *sb, int flag,
			struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT) {
		wl_error_set("cannot remove '%s': %s", p, strerror(errno));
		return -1;
	}
	return 0;
}

int wl_fs_remove_tree(const char *path)
{
	struct stat st;

	if (!path[0] || !strcmp(path, "/")) {
		wl_error_set("refusing to remove '%s'", path);
		return WL_EINVALID;
	}
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : WL_ERROR;
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0) {
			wl_error_set("cannot remove '%s': %s", path,
				     strerror(errno));
			return WL_ERROR;
		}
		return 0;
	}
	if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) != 0)
		return WL_ERROR;
	return 0;
}

int wl_fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int wl_fs_read_tail(struct wl_buf *out, const char *path, int64_t lines)
{
	struct wl_buf chunk;
	struct stat st;
	size_t start, want;
	const char *p;
	int fd, error = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		wl_error_set("cannot open '%s': %s", path, strerror(errno));
		return errno == ENOENT ? WL_ENOTFOUND : WL_ERROR;
	}
	want = out->max - out->len;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size > want)
		lseek(fd, st.st_size - (off_t)want, SEEK_SET);
	wl_buf_init(&chunk, want);
	for (;;) {
		char tmp[16384];

		n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || wl_buf_add(&chunk, tmp, (size_t)n) < 0)
			break;
	}
	close(fd);
	/* Walk back over `lines` newlines (a final newline ends a line). */
	p = wl_buf_cstr(&chunk);
	start = chunk.len;
	if (start && p[start - 1] == '\n')
		start--;
	for (int64_t seen = 0; start > 0; start--) {
		if (p[start - 1] == '\n' && ++seen == lines)
			break;
	}
	if (lines > 0)
		error = wl_buf_add(out, p + start, chunk.len - start);
	wl_buf_release(&chunk);
	return error;
}
