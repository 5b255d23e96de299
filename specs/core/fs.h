#ifndef WL_FS_H
#define WL_FS_H

/* File helpers for the state directory. All thread-safe. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "specs/core/buf.h"

/*
 * Write a whole file atomically: a temp file in the same directory, fsync,
 * rename over the target, fsync the directory. Readers see the old content
 * or the new one, never a mix, even across a crash or a full disk (on
 * failure the target is untouched and the temp file removed). Returns 0,
 * WL_ENOSPACE when the disk or quota is full, or WL_ERROR.
 */
int wl_fs_write_atomic(const char *path, const void *data, size_t len,
		       mode_t mode);

/*
 * Remove the temp files of wl_fs_write_atomic in dir ("<name>.tmp-<pid>-
 * <16 hex>") whose writer process is gone: a crash between create and
 * rename leaves one behind. A live writer's (another process sharing the
 * state directory) are kept. Returns how many were removed, or WL_ERROR.
 */
int wl_fs_sweep_temps(const char *dir);

/*
 * Read a whole file into out (appended; out's max bounds the size).
 * Returns 0, WL_ENOTFOUND if it does not exist, WL_ETOOBIG, or WL_ERROR.
 */
int wl_fs_read(struct wl_buf *out, const char *path);

/*
 * Read rel, a regular file below dir (a checkout: untrusted), into out.
 * Nothing outside dir is ever opened: no "..", no absolute path and no
 * symbolic link on the way (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS),
 * and a FIFO or device is refused, not waited on. WL_ENOTFOUND when it is
 * absent; WL_EINVALID when it is not a plain file beneath dir.
 */
int wl_fs_read_beneath(struct wl_buf *out, const char *dir, const char *rel);

/*
 * Append the last `lines` lines of a file to out (at most out's max bytes
 * of them). Returns 0, WL_ENOTFOUND or WL_ERROR.
 */
int wl_fs_read_tail(struct wl_buf *out, const char *path, int64_t lines);

/* mkdir -p with the given mode for created directories. */
int wl_fs_mkdir_p(const char *path, mode_t mode);

/*
 * rm -rf without following symlinks. A missing path is success. Refuses
 * "/" and empty paths.
 */
int wl_fs_remove_tree(const char *path);

/* 1 if path exists (lstat), 0 otherwise. */
int wl_fs_exists(const char *path);

#endif
