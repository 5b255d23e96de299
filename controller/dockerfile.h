#ifndef WL_DOCKERFILE_H
#define WL_DOCKERFILE_H

/*
 * Dockerfile generation from a build plan. Layer order puts dependency
 * manifests (package.json + lockfile, requirements.txt, go.mod/go.sum)
 * before the sources, so a source-only change reuses the install layer and
 * rebuilds in about a second. The output is written into the build context
 * as generated files (".worklet/Dockerfile", ".worklet/nginx.conf"), never
 * into the user's checkout. No secret is ever written into a Dockerfile.
 * Pure, thread-safe.
 */

#include "controller/base_images.h"
#include "controller/build_context.h"
#include "controller/detect.h"

#define WL_GEN_FILES_MAX 4

struct wl_generated {
	char *dockerfile; /* path in the context, e.g. ".worklet/Dockerfile" */
	struct wl_gen_file files[WL_GEN_FILES_MAX];
	size_t count;
};

/*
 * For DOCKERFILE plans nothing is generated: dockerfile is the repo's own
 * path and count is 0. images: NULL, or fields left NULL, take the
 * built-in defaults (base_images.h); a Node plan's node_major must have an
 * image there.
 */
int wl_dockerfile_generate(struct wl_generated *out,
			   const struct wl_build_plan *plan,
			   const struct wl_base_images *images);
void wl_generated_release(struct wl_generated *g);

/*
 * A framework's build cache that a rebuild of the same app can start
 * from: the directory, in the images this plan makes, to copy from the
 * previous image (today Next.js's "/app/.next", whose cache/ holds the
 * compiler's cache), or NULL when the plan has none worth keeping (Vite
 * builds in seconds and keeps nothing).
 */
const char *wl_dockerfile_build_cache(const struct wl_build_plan *plan);

/*
 * Make the Dockerfile of gen (a generated one, of a plan that has a build
 * cache) copy that directory from image, an image this plan built before,
 * ahead of the build step. The caller decides which image may be trusted;
 * the text is what gen's build key was not computed from, so a build key
 * taken before stays the image's name whatever cache it started from.
 * 0; WL_ENOTFOUND when gen has no place for it; WL_EINVALID for an image
 * reference with characters a Dockerfile line must not hold.
 */
int wl_dockerfile_use_build_cache(struct wl_generated *gen, const char *image);

/* How that COPY line ends, for telling its failure from the build's. */
#define WL_BUILD_CACHE_COPY_TAIL "/app/.next /app/.next"

/*
 * Copy the Dockerfile text (len bytes) to out with line, a whole
 * instruction such as "LABEL a=b", inserted after every FROM instruction:
 * every image a build makes after the base, of each stage and of every
 * step (the classic builder keeps one per step as its cache, also when the
 * build fails), then carries it. Follows the file's escape directive and
 * its continuation lines. 0, or WL_ETOOBIG when out is full.
 */
int wl_dockerfile_label_stages(const char *text, size_t len, const char *line,
			       struct wl_buf *out);

#endif
