#ifndef WL_BUILD_CONTEXT_H
#define WL_BUILD_CONTEXT_H

/*
 * The Docker build context: a tar archive (libarchive, ustar/pax) of a
 * checkout, without .git, with symlinks stored as symlinks (never
 * followed, so a link pointing outside the tree cannot leak host files),
 * plus generated files (the Dockerfile, support files) added at the given
 * paths, replacing any repo file of the same name. Thread-safe.
 */

#include <stddef.h>

#include "specs/core/buf.h"

struct wl_gen_file {
	char *path; /* relative, e.g. ".worklet/Dockerfile" */
	char *data;
	size_t len;
	int mode; /* e.g. 0644 */
};

/*
 * Append the archive to out (out's max bounds the context size: past it,
 * WL_ETOOBIG "build context of '<dir>' exceeds N bytes").
 */
int wl_build_context_tar(struct wl_buf *out, const char *dir,
			 const struct wl_gen_file *extra, size_t extra_count);

#endif
