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

#include "controller/build_context.h"
#include "controller/detect.h"

/* Base images per project type (configuration; see config.h). */
struct wl_base_images {
	const char *node;	/* default node:18-alpine */
	const char *python;	/* default python:3.9-slim */
	const char *go;		/* default golang:1.21-alpine */
	const char *go_runtime; /* default alpine:3.19 */
	const char *static_web; /* default nginx:alpine */
};

#define WL_GEN_FILES_MAX 4

struct wl_generated {
	char *dockerfile; /* path in the context, e.g. ".worklet/Dockerfile" */
	struct wl_gen_file files[WL_GEN_FILES_MAX];
	size_t count;
};

/*
 * For DOCKERFILE plans nothing is generated: dockerfile is the repo's own
 * path and count is 0.
 */
int wl_dockerfile_generate(struct wl_generated *out,
			   const struct wl_build_plan *plan,
			   const struct wl_base_images *images);
void wl_generated_release(struct wl_generated *g);

#endif
