#ifndef WL_DETECT_H
#define WL_DETECT_H

/*
 * Project detection, after Railpack/Nixpacks (../shared/notes/detection.md):
 * marker files in a fixed order, overrides first, evidence recorded.
 *
 * Order: spec.projectType / spec.dockerfile override; a Dockerfile at the
 * root; Node (package.json) before Python (requirements.txt, pyproject.toml,
 * Pipfile, or a main file) when both exist (documented rule, reported in
 * the evidence); Go (go.mod or main.go); static (index.html at the root, in
 * public/ or dist/). Nothing matched: WL_ENOTFOUND with a message listing
 * what was looked for.
 *
 * A Procfile's web: line is the start command of Node and Python plans
 * (through /bin/sh -c, as Heroku runs it); spec.startCommand wins over it.
 *
 * Node plans name the Node.js major to build with: spec.runtimeVersion,
 * else every request of package.json's engines.node, .nvmrc,
 * .node-version, .tool-versions (nodejs) and package.json's volta.node
 * (specs/node_version.h); the highest major with an image that satisfies
 * them all, else the highest that satisfies the first found (the rest are
 * reported as not met). With no request, the default image. When no image
 * satisfies the first request, detection fails with WL_EUNSUPPORTED and a
 * message naming the request, where it was read and the majors available.
 *
 * Node plans name the package manager and its exact version: the one
 * package.json's packageManager names, else the one that writes the
 * lockfile's format (the pins are one table in detect.c), with yarn's
 * own .yarnrc.yml yarnPath run with node when the repository has it.
 *
 * Python and Go plans name their minor line the same way: spec.runtimeVersion,
 * else .python-version, runtime.txt and pyproject.toml's requires-python,
 * or go.mod's go and toolchain lines (minimums); unsatisfiable:
 * WL_EUNSUPPORTED as for Node.
 *
 * spec.path names the app's folder: detection runs there (WL_ENOTFOUND,
 * failure "PathNotFound", when it is not a folder inside the checkout).
 * A Node.js app there without a lockfile of its own, below a folder that
 * declares workspaces (package.json "workspaces", pnpm-workspace.yaml),
 * is built with that folder as the context: the install runs at the
 * workspace root, the build and start in the app's folder.
 *
 * Without spec.path, a root that is only a workspace (package.json with
 * "workspaces" and no start script) or holds nothing to run, but has app
 * folders (its workspaces' globs, apps/<name>, packages/<name>,
 * examples/<name>: a folder with a start or dev script, a framework dependency,
 * or another provider's marker files), fails with WL_ENOTFOUND, failure
 * "ChooseAnApp", the message naming the candidates.
 *
 * A plan known to fail at start fails detection instead (failure
 * "StartWillFail"): Next.js without a build script ("next start" needs
 * "next build"), unless spec.startCommand or a Procfile says otherwise.
 *
 * Every generated plan listens on the container port in PORT (3000 unless
 * spec.containerPort says otherwise) on 0.0.0.0. Pure (reads files only),
 * thread-safe.
 */

#include <stddef.h>

#include "controller/base_images.h"
#include "specs/worklet.h"

#define WL_NODE_PM_CONFIG_MAX 4

struct wl_build_plan {
	enum wl_project_type type;
	char *framework; /* "next", "vite", "flask", "fastapi", "django", ... */
	int port;	 /* container port */
	char **start_argv; /* exec-form CMD; NULL for DOCKERFILE (image's own)
			    */
	size_t start_argc;
	char **evidence;
	size_t evidence_count;

	/*
	 * spec.path: the folder of the checkout sent as the build context
	 * (spec.path itself, or the workspace root of a Node.js app inside
	 * a workspace), NULL for the checkout's root; and the app's folder
	 * inside that context (a workspace member), NULL for its root.
	 */
	char *context_dir;
	char *app_dir;
	/*
	 * When wl_detect fails: why, as a condition reason ("PathNotFound",
	 * "ChooseAnApp", "StartWillFail", "RuntimeUnavailable",
	 * "NoProjectFound"); a static string, and the plan is otherwise
	 * empty.
	 */
	const char *failure;

	/* DOCKERFILE */
	char *dockerfile; /* path in the repo */
	/* NODE */
	char *node_pm;	       /* "npm", "yarn", "pnpm", "bun" */
	char *node_pm_version; /* the exact version installed ("10.34.9");
				  NULL: the image's own npm */
	char *yarn_path;       /* .yarnrc.yml yarnPath: yarn is this file,
				  run with node */
	/* Install settings copied with the manifests (".npmrc", ...):
	 * static strings, never freed. */
	const char *node_pm_config[WL_NODE_PM_CONFIG_MAX];
	size_t node_pm_config_count;
	/* Directories the install reads, copied with them too (yarn's
	 * plugins and patches, patch-package's patches/): static strings. */
	const char *node_pm_dirs[WL_NODE_PM_CONFIG_MAX];
	size_t node_pm_dir_count;
	char *lockfile; /* NULL if none */
	int node_build; /* run the build script */
	char *spa_dir;	/* single-page app (vite, CRA, vue-cli) whose start
			   is a dev server or missing: serve this build
			   output (dist, build) with nginx */
	int node_major; /* build (and run) with this major's image; 0: the
			   default image (nothing was asked for) */
	/* PYTHON and GO: build (and run) with this minor line's image, 3.11
	 * or 1.22; 0.0: the default image, its line unknown */
	int lang_major, lang_minor;
	/* PYTHON */
	char *requirements; /* "requirements.txt" or NULL */
	int pyproject;	    /* install "." from pyproject.toml */
	/* GO */
	char *go_target; /* "." or "./cmd/name" */
	/* STATIC */
	char *static_root; /* ".", "public" or "dist" */
};

/*
 * Fill out (initialised by the callee) from the checkout in dir. images
 * says which Node.js majors there are images for (NULL: the built-in
 * defaults, base_images.h).
 */
int wl_detect(struct wl_build_plan *out, const char *dir,
	      const struct wl_spec *spec, const struct wl_base_images *images);
void wl_build_plan_release(struct wl_build_plan *p);

/* The summary stored in status.detection. */
int wl_build_plan_to_detection(struct wl_detection *out,
			       const struct wl_build_plan *p);

#endif
