/*
 * Dockerfile generation from a build plan.
 *
 * The same text must build on the default images (node:18-alpine,
 * python:3.9-slim, golang:1.21-alpine, alpine:3.19, nginx:alpine) and on
 * the Debian-based local images of machines without a registry, so a
 * generated file uses only what both have: /bin/sh, python3 (never
 * "python"), "python3 -m venv" for pip (Debian's PEP 668 refuses system
 * installs), no apk or apt, and an nginx configuration of our own rather
 * than the image's.
 *
 * Layer order: dependency manifests, install, then "COPY . .", so a
 * source-only change reuses the install layer. ENV PORT/HOST come last for
 * the same reason. Only the Dockerfile syntax of the classic builder is
 * used (no BuildKit mounts or heredocs): Engine 20.10's /build without
 * BuildKit must accept it.
 *
 * Every plan string that lands in the file is checked for control
 * characters (a newline would start a new instruction); the start command
 * is written as a JSON array. Nothing secret is ever written: environment
 * values are the container's business, not the image's.
 *
 * Pure and thread-safe.
 */
#include "controller/dockerfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/banned.h"

#define DOCKERFILE_MAX (64 * 1024)
#define GEN_DIR ".worklet"
#define NGINX_CONF_IN_IMAGE "/etc/worklet/nginx.conf"
/*
 * Apps run as this user, not root. A numeric id needs no /etc/passwd
 * entry, so it works on every base image; ports are above 1024, so the
 * container needs no capability at all (see WL_CAPS_NONE in
 * docker_client.h). HOME is /tmp (npm writes its logs there).
 *
 * Node and Python apps own their directory, /app: frameworks write next to
 * themselves (Vite's vite.config.*.timestamp-*.mjs, node_modules/.cache,
 * Next's .next/cache, a SQLite file). The cheapest correct way, measured
 * on a Next.js app: the first COPY --chown creates /app owned by the user,
 * and every later step runs as that user, so what the install and the
 * build write is the user's from the start. A "RUN chown -R" after the
 * build instead took 17-26 s more per cold build and copied all of
 * node_modules and .next into one more layer (443 MB there). The
 * dependencies and sources are the app's to change; the system (its
 * runtime, /usr, /etc) stays root's.
 */
#define APP_USER "10001:10001"
#define APP_CHOWN "--chown=" APP_USER

/*
 * Next.js keeps its compiler's cache (Turbopack's, in Next 16 also for
 * "next build") in .next/cache; a rebuild that starts with it compiled a
 * one-line change in 1.1 s instead of 40 s here. The generated Dockerfile
 * marks the place before the build step with this comment; the reconciler
 * puts a COPY of the previous image's directory there (see dockerfile.h).
 * The whole .next is copied: COPY creates the missing parents of its
 * destination as root, and "next build" could not write into a root-owned
 * .next; next build empties .next itself, the cache apart. An app with
 * another distDir has no .next: the copy fails, and the reconciler builds
 * again without it.
 */
#define NEXT_DIR ".next"
#define BUILD_CACHE_DIR "/app/" NEXT_DIR
#define BUILD_CACHE_MARK "# worklet: previous build cache"

/* The text being generated; the first error sticks. */
struct gen {
	struct wl_buf b;
	int error;
};

static void emit(struct gen *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void emit(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	int error;

	if (g->error)
		return;
	va_start(ap, fmt);
	error = wl_buf_vprintf(&g->b, fmt, ap);
	va_end(ap);
	if (error < 0)
		g->error = error;
}

/* A JSON string, as Docker's exec form parses it. */
static void emit_json_string(struct gen *g, const char *s)
{
	emit(g, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			emit(g, "\\%c", c);
		else if (c == '\n')
			emit(g, "\\n");
		else if (c == '\t')
			emit(g, "\\t");
		else if (c < 0x20 || c == 0x7f)
			emit(g, "\\u%04x", c);
		else
			emit(g, "%c", c);
	}
	emit(g, "\"");
}

static void emit_cmd(struct gen *g, const struct wl_build_plan *p)
{
	emit(g, "CMD [");
	for (size_t i = 0; i < p->start_argc; i++) {
		if (i)
			emit(g, ", ");
		emit_json_string(g, p->start_argv[i]);
	}
	emit(g, "]\n");
}

/* as_user: the stage runs as APP_USER with HOME=/tmp already. */
static void emit_runtime_env(struct gen *g, const struct wl_build_plan *p,
			     int as_user)
{
	emit(g, "ENV PORT=%d HOST=0.0.0.0\n", p->port);
	emit(g, "EXPOSE %d\n", p->port);
	if (!as_user) {
		emit(g, "ENV HOME=/tmp\n");
		emit(g, "USER " APP_USER "\n");
	}
}

/* Plan strings placed in Dockerfile lines: printable, no spaces. */
static int check_word(const char *what, const char *s)
{
	if (!s)
		return 0;
	if (!*s)
		goto bad;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '"' ||
		    *c == '\'' || *c == '\\' || *c == '$' || *c == '`')
			goto bad;
	return 0;
bad:
	wl_error_set("cannot generate a Dockerfile: %s '%s' has characters "
		     "that are not allowed there",
		     what, s);
	return WL_EINVALID;
}

/*
 * The image of a Python or Go plan's minor line (detect chose one there
 * is); the default image when it names none.
 */
static const char *lang_image(const struct wl_build_plan *p,
			      const struct wl_base_images *im)
{
	int go = p->type == WL_PROJECT_GO, def;
	struct wl_lang_image lines[WL_LANG_IMAGES_MAX + 1];
	size_t n = wl_base_images_lang_lines(
		im, go, lines, sizeof(lines) / sizeof(*lines), &def);

	if (!p->lang_major)
		return go ? im->go : im->python;
	for (size_t i = 0; i < n; i++)
		if (lines[i].major == p->lang_major &&
		    lines[i].minor == p->lang_minor)
			return lines[i].image;
	return NULL;
}

static int check_plan(const struct wl_build_plan *p,
		      const struct wl_base_images *im)
{
	const char *const images[] = { im->node, im->python, im->go,
				       im->go_runtime, im->static_web };
	int error = 0;

	for (size_t i = 0; i < im->node_image_count; i++)
		if ((error = check_word("base image",
					im->node_images[i].image)) < 0)
			return error;
	if (p->type == WL_PROJECT_NODE && p->node_major &&
	    !wl_base_images_node(im, p->node_major)) {
		wl_error_set("cannot generate a Dockerfile: there is no "
			     "image for Node.js %d",
			     p->node_major);
		return WL_EINVALID;
	}
	if ((p->type == WL_PROJECT_PYTHON || p->type == WL_PROJECT_GO) &&
	    !lang_image(p, im)) {
		wl_error_set("cannot generate a Dockerfile: there is no "
			     "image for %s %d.%d",
			     p->type == WL_PROJECT_GO ? "Go" : "Python",
			     p->lang_major, p->lang_minor);
		return WL_EINVALID;
	}
	for (size_t i = 0; i < im->python_image_count; i++)
		if ((error = check_word("base image",
					im->python_images[i].image)) < 0)
			return error;
	for (size_t i = 0; i < im->go_image_count; i++)
		if ((error = check_word("base image", im->go_images[i].image)) <
		    0)
			return error;
	if (p->port < 1 || p->port > 65535) {
		wl_error_set("cannot generate a Dockerfile: port %d is not in "
			     "1..65535",
			     p->port);
		return WL_EINVALID;
	}
	for (size_t i = 0; i < sizeof(images) / sizeof(*images); i++)
		if ((error = check_word("base image", images[i])) < 0)
			return error;
	for (size_t i = 0; i < p->node_pm_config_count; i++)
		if ((error = check_word("package manager settings",
					p->node_pm_config[i])) < 0)
			return error;
	for (size_t i = 0; i < p->node_pm_dir_count; i++)
		if ((error = check_word("package manager directory",
					p->node_pm_dirs[i])) < 0)
			return error;
	if ((error = check_word("package manager", p->node_pm)) < 0 ||
	    (error = check_word("package manager version",
				p->node_pm_version)) < 0 ||
	    (error = check_word("yarnPath", p->yarn_path)) < 0 ||
	    (error = check_word("lockfile", p->lockfile)) < 0 ||
	    (error = check_word("build output directory", p->spa_dir)) < 0 ||
	    (error = check_word("requirements file", p->requirements)) < 0 ||
	    (error = check_word("Go build target", p->go_target)) < 0 ||
	    (error = check_word("static root", p->static_root)) < 0 ||
	    (error = check_word("app folder (spec.path)", p->app_dir)) < 0)
		return error;
	if (p->type != WL_PROJECT_DOCKERFILE && !p->start_argc) {
		wl_error_set("cannot generate a Dockerfile: the plan has no "
			     "start command");
		return WL_EINVALID;
	}
	return 0;
}

/* ---- Node ---------------------------------------------------------------- */

static const char *node_pm(const struct wl_build_plan *p)
{
	if (p->node_pm &&
	    (!strcmp(p->node_pm, "yarn") || !strcmp(p->node_pm, "pnpm") ||
	     !strcmp(p->node_pm, "bun")))
		return p->node_pm;
	return "npm";
}

/*
 * Install the package manager at the plan's exact version, as root, before
 * the manifests are copied: the layer is reused until the version changes.
 * corepack cannot fetch here, so npm installs it from the registry (the
 * official images' yarn 1 is replaced: --force). yarn 2 and later is
 * @yarnpkg/cli-dist; a repository's own yarnPath release is wrapped as
 * "yarn" instead; bun is the npm package of the platform's binary (musl
 * on Alpine). npm's cache goes in the same layer.
 */
static void emit_pm_setup(struct gen *g, const struct wl_build_plan *p)
{
	const char *pm = node_pm(p), *v = p->node_pm_version;

	if (!strcmp(pm, "npm"))
		return;
	if (p->yarn_path) {
		emit(g,
		     "RUN rm -f /usr/local/bin/yarn && printf '#!/bin/sh\\n"
		     "exec node /app/%s \"$@\"\\n' >/usr/local/bin/yarn && "
		     "chmod 755 /usr/local/bin/yarn\n",
		     p->yarn_path);
		return;
	}
	if (!v)
		return;
	if (!strcmp(pm, "bun")) {
		emit(g,
		     "RUN case \"$(uname -m)\" in aarch64|arm64) a=aarch64 "
		     ";; *) a=x64 ;; esac && if ls /lib/ld-musl-* "
		     ">/dev/null 2>&1; then a=$a-musl; fi && npm install -g "
		     "--no-audit --no-fund \"@oven/bun-linux-$a@%s\" && ln -sf "
		     "\"$(npm root -g)/@oven/bun-linux-$a/bin/bun\" "
		     "/usr/local/bin/bun && bun --version && rm -rf "
		     "/root/.npm\n",
		     v);
		return;
	}
	emit(g,
	     "RUN npm install -g --force --no-audit --no-fund %s@%s && %s "
	     "--version && rm -rf /root/.npm\n",
	     !strcmp(pm, "yarn") && strncmp(v, "1.", 2) ? "@yarnpkg/cli-dist"
							: pm,
	     v, pm);
}

/* The frozen-lockfile install of each package manager. */
static void emit_pm_install(struct gen *g, const struct wl_build_plan *p)
{
	const char *pm = node_pm(p);
	int frozen = p->lockfile != NULL;
	int classic = p->node_pm_version && !p->yarn_path &&
		      !strncmp(p->node_pm_version, "1.", 2);

	if (!strcmp(pm, "npm"))
		emit(g, "RUN npm %s --no-audit --no-fund && rm -rf /tmp/.npm\n",
		     frozen ? "ci" : "install");
	else if (!strcmp(pm, "yarn") && classic)
		emit(g,
		     "RUN yarn install --non-interactive%s && rm -rf "
		     "/tmp/.cache /tmp/.yarn\n",
		     frozen ? " --frozen-lockfile" : "");
	else if (!strcmp(pm, "yarn"))
		emit(g,
		     "RUN YARN_ENABLE_TELEMETRY=0 yarn install%s && rm -rf "
		     "/tmp/.cache /tmp/.yarn\n",
		     frozen ? " --immutable" : "");
	else if (!strcmp(pm, "bun"))
		emit(g, "RUN bun install%s && rm -rf /tmp/.bun /tmp/.cache\n",
		     frozen ? " --frozen-lockfile" : "");
	else
		emit(g,
		     "RUN pnpm install%s && rm -rf /tmp/.cache /tmp/.local\n",
		     frozen ? " --frozen-lockfile" : "");
}

/*
 * Install dependencies (dev dependencies too: the build needs them). Only
 * package.json, the lockfile and the package manager's settings are copied
 * first, so the install layer is reused until one of them changes.
 * Everything after the package manager runs as the app's user (see
 * APP_USER); the package manager's cache is removed in the layer that
 * filled it (npm's alone was 220 MB for a Next.js app).
 */
static void emit_node_install(struct gen *g, const struct wl_build_plan *p)
{
	const char *pm = node_pm(p);

	emit_pm_setup(g, p);
	/* Creates /app owned by the app's user; WORKDIR would make it root's.
	 */
	if (p->app_dir) {
		/*
		 * An app inside a workspace: the install at the workspace
		 * root needs every member's package.json, where they are,
		 * and the members' own install scripts (a library's
		 * "prepare": "tsc") need their sources: the whole
		 * workspace goes in before it (the package manager's
		 * settings with it). The price: the install layer is
		 * reused only while nothing changed.
		 */
		emit(g, "COPY " APP_CHOWN " . /app/\n");
	} else {
		emit(g, "COPY " APP_CHOWN " package.json");
		if (p->lockfile)
			emit(g, " %s", p->lockfile);
		for (size_t i = 0; i < p->node_pm_config_count; i++)
			emit(g, " %s", p->node_pm_config[i]);
		emit(g, " /app/\n");
		if (p->yarn_path)
			emit(g, "COPY " APP_CHOWN " %s /app/%s\n", p->yarn_path,
			     p->yarn_path);
		for (size_t i = 0; i < p->node_pm_dir_count; i++)
			emit(g, "COPY " APP_CHOWN " %s /app/%s/\n",
			     p->node_pm_dirs[i], p->node_pm_dirs[i]);
	}
	emit(g, "WORKDIR /app\n");
	emit(g, "ENV HOME=/tmp\n");
	emit(g, "USER " APP_USER "\n");
	emit_pm_install(g, p);
	if (p->app_dir)
		emit(g, "WORKDIR /app/%s\n", p->app_dir);
	else
		emit(g, "COPY " APP_CHOWN " . .\n");
	/*
	 * The place of the previous image's build cache (see
	 * wl_dockerfile_use_build_cache): at /app of an app at the root (a
	 * workspace member's would be in its folder: not kept for now).
	 */
	if (p->node_build && !p->app_dir && wl_dockerfile_build_cache(p))
		emit(g, BUILD_CACHE_MARK "\n");
	if (p->node_build)
		emit(g, "RUN %s run build\n", pm);
}

static void gen_node(struct gen *g, const struct wl_build_plan *p,
		     const struct wl_base_images *im)
{
	const char *image = p->node_major
				    ? wl_base_images_node(im, p->node_major)
				    : im->node;

	if (p->spa_dir) {
		/* Build with node, serve the output with nginx. */
		emit(g, "FROM %s AS build\n", image);
		emit_node_install(g, p);
		emit(g, "\nFROM %s\n", im->static_web);
		emit(g, "ENTRYPOINT []\n");
		emit(g,
		     "COPY " GEN_DIR "/nginx.conf " NGINX_CONF_IN_IMAGE "\n");
		emit(g, "COPY --from=build /app/%s%s%s/ /srv/\n",
		     p->app_dir ? p->app_dir : "", p->app_dir ? "/" : "",
		     p->spa_dir);
		emit_runtime_env(g, p, 0);
	} else {
		emit(g, "FROM %s\n", image);
		emit_node_install(g, p);
		emit_runtime_env(g, p, 1);
	}
	emit_cmd(g, p);
}

/* ---- Python -------------------------------------------------------------- */

static void gen_python(struct gen *g, const struct wl_build_plan *p,
		       const struct wl_base_images *im)
{
	emit(g, "FROM %s\n", lang_image(p, im));
	emit(g, "ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 "
		"PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1\n");
	/* The environment stays root's; /app is the app's (see APP_USER). */
	emit(g, "RUN python3 -m venv /opt/venv\n");
	emit(g, "ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH\n");
	if (p->requirements) {
		emit(g, "COPY " APP_CHOWN " %s /app/\n", p->requirements);
		emit(g, "WORKDIR /app\n");
		emit(g, "RUN pip install -r %s\n", p->requirements);
		emit(g, "COPY " APP_CHOWN " . .\n");
	} else {
		emit(g, "COPY " APP_CHOWN " . /app/\n");
		emit(g, "WORKDIR /app\n");
	}
	/* pip needs the package sources to install a pyproject project. */
	if (p->pyproject && !p->requirements)
		emit(g, "RUN pip install .\n");
	emit_runtime_env(g, p, 0);
	emit_cmd(g, p);
}

/* ---- Go ------------------------------------------------------------------ */

/*
 * For Go plans detect puts "go.mod" in requirements and "go.sum" in
 * lockfile when they exist (go.sum is never assumed).
 */
static void gen_go(struct gen *g, const struct wl_build_plan *p,
		   const struct wl_base_images *im)
{
	emit(g, "FROM %s AS build\n", lang_image(p, im));
	emit(g, "WORKDIR /src\n");
	/*
	 * GOTOOLCHAIN=local: never download another toolchain (Go >= 1.21
	 * would, for a newer "go" line); older Go ignores it.
	 */
	emit(g,
	     "ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false\n");
	/*
	 * Compile the standard library once, with the flags of the real
	 * build, into the image's build cache. The layer depends on the base
	 * image only, so every Go worklet shares it, and a source-only
	 * rebuild compiles just the project: measured on 2 cores, about 1 s
	 * instead of 35 s (Go >= 1.20 ships no compiled std at all, and
	 * -trimpath or CGO_ENABLED=0 invalidate what older ones ship).
	 */
	emit(g, "RUN go build -trimpath std\n");
	if (p->requirements) {
		if (p->lockfile) {
			emit(g, "COPY %s %s ./\n", p->requirements,
			     p->lockfile);
			emit(g, "RUN go mod download\n");
		} else {
			emit(g, "COPY %s ./\n", p->requirements);
		}
	}
	emit(g, "COPY . .\n");
	if (!p->requirements)
		emit(g, "RUN go mod init worklet.local/app\n");
	emit(g, "RUN go build -trimpath -ldflags=\"-s -w\" -o /out/app %s\n",
	     p->go_target ? p->go_target : ".");
	emit(g, "\nFROM %s\n", im->go_runtime);
	emit(g, "COPY --from=build /out/app /usr/local/bin/app\n");
	emit_runtime_env(g, p, 0);
	emit_cmd(g, p);
}

/* ---- static -------------------------------------------------------------- */

static void gen_static(struct gen *g, const struct wl_build_plan *p,
		       const struct wl_base_images *im)
{
	const char *root = p->static_root ? p->static_root : ".";

	emit(g, "FROM %s\n", im->static_web);
	/* nginx:alpine's entrypoint rewrites /etc/nginx: not ours to run */
	emit(g, "ENTRYPOINT []\n");
	emit(g, "COPY " GEN_DIR "/nginx.conf " NGINX_CONF_IN_IMAGE "\n");
	if (!strcmp(root, "."))
		emit(g, "COPY . /srv/\n");
	else
		emit(g, "COPY %s/ /srv/\n", root);
	emit_runtime_env(g, p, 0);
	emit_cmd(g, p);
}

/*
 * A complete nginx configuration: runs in the foreground as PID 1, logs to
 * the container's stdout/stderr, keeps every writable path under /tmp (so
 * it runs as root or not, on a read-only root filesystem with a /tmp), and
 * never serves dotfiles (.git, .env*, our own .worklet/).
 */
static void gen_nginx_conf(struct gen *g, const struct wl_build_plan *p,
			   int spa)
{
	emit(g, "# Generated by worklet.\n"
		"daemon off;\n"
		"worker_processes 1;\n"
		"pid /tmp/nginx.pid;\n"
		"error_log stderr warn;\n"
		"\n"
		"events {\n"
		"\tworker_connections 1024;\n"
		"}\n"
		"\n"
		"http {\n"
		"\tinclude /etc/nginx/mime.types;\n"
		"\tdefault_type application/octet-stream;\n"
		"\taccess_log /dev/stdout;\n"
		"\tclient_body_temp_path /tmp/nginx-client-body;\n"
		"\tproxy_temp_path /tmp/nginx-proxy;\n"
		"\tfastcgi_temp_path /tmp/nginx-fastcgi;\n"
		"\tuwsgi_temp_path /tmp/nginx-uwsgi;\n"
		"\tscgi_temp_path /tmp/nginx-scgi;\n"
		"\tsendfile on;\n"
		"\tserver_tokens off;\n"
		"\tgzip on;\n"
		"\tgzip_types text/css application/javascript "
		"application/json image/svg+xml;\n"
		"\n"
		"\tserver {\n");
	emit(g, "\t\tlisten %d;\n", p->port);
	emit(g, "\t\troot /srv;\n"
		"\t\tindex index.html;\n"
		/* behind the proxy the container port means nothing */
		"\t\tabsolute_redirect off;\n"
		"\n"
		"\t\tlocation ^~ /.well-known/ {\n"
		"\t\t\ttry_files $uri =404;\n"
		"\t\t}\n"
		"\t\tlocation ~ /\\. {\n"
		"\t\t\treturn 404;\n"
		"\t\t}\n"
		"\t\tlocation / {\n");
	if (spa)
		emit(g, "\t\t\ttry_files $uri $uri/ /index.html;\n");
	else
		emit(g, "\t\t\ttry_files $uri $uri/ =404;\n");
	emit(g, "\t\t}\n"
		"\t}\n"
		"}\n");
}

/* ---- entry points ---------------------------------------------------------
 */

static int add_file(struct wl_generated *out, const char *path, struct gen *g)
{
	struct wl_gen_file *f;

	if (g->error)
		return g->error;
	if (out->count >= WL_GEN_FILES_MAX) {
		wl_error_set("too many generated files");
		return WL_ERROR;
	}
	f = &out->files[out->count];
	f->path = strdup(path);
	if (!f->path) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	f->data = wl_buf_detach(&g->b, &f->len);
	f->mode = 0644;
	out->count++;
	if (!f->data) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	return 0;
}

static const char *type_name(enum wl_project_type t)
{
	switch (t) {
	case WL_PROJECT_NODE:
		return "node";
	case WL_PROJECT_PYTHON:
		return "python";
	case WL_PROJECT_GO:
		return "go";
	case WL_PROJECT_STATIC:
		return "static";
	default:
		return "unknown";
	}
}

int wl_dockerfile_generate(struct wl_generated *out,
			   const struct wl_build_plan *plan,
			   const struct wl_base_images *images)
{
	struct wl_base_images im;
	struct gen g;
	int error = 0, nginx;

	memset(out, 0, sizeof(*out));
	wl_buf_init(&g.b, DOCKERFILE_MAX);
	g.error = 0;
	wl_base_images_default(&im);
	if (images) {
		/* A default Node.js image comes with its table of majors. */
		if (images->node) {
			im.node = images->node;
			im.node_image_count = images->node_image_count;
			memcpy(im.node_images, images->node_images,
			       sizeof(im.node_images));
		}
		if (images->python)
			im.python = images->python;
		if (images->go)
			im.go = images->go;
		im.python_image_count = images->python_image_count;
		memcpy(im.python_images, images->python_images,
		       sizeof(im.python_images));
		im.go_image_count = images->go_image_count;
		memcpy(im.go_images, images->go_images, sizeof(im.go_images));
		if (images->go_runtime)
			im.go_runtime = images->go_runtime;
		if (images->static_web)
			im.static_web = images->static_web;
	}
	if ((error = check_plan(plan, &im)) < 0)
		goto done;

	if (plan->type == WL_PROJECT_DOCKERFILE) {
		if (!plan->dockerfile || !*plan->dockerfile) {
			wl_error_set("cannot generate a Dockerfile: the plan "
				     "names no Dockerfile");
			error = WL_EINVALID;
			goto done;
		}
		out->dockerfile = strdup(plan->dockerfile);
		if (!out->dockerfile) {
			wl_error_set("out of memory");
			error = WL_ERROR;
		}
		goto done;
	}

	emit(&g,
	     "# Generated by worklet for a %s project; not part of the "
	     "repository.\n",
	     type_name(plan->type));
	switch (plan->type) {
	case WL_PROJECT_NODE:
		gen_node(&g, plan, &im);
		break;
	case WL_PROJECT_PYTHON:
		gen_python(&g, plan, &im);
		break;
	case WL_PROJECT_GO:
		gen_go(&g, plan, &im);
		break;
	case WL_PROJECT_STATIC:
		gen_static(&g, plan, &im);
		break;
	default:
		wl_error_set("cannot generate a Dockerfile: project type not "
			     "detected");
		error = WL_EINVALID;
		goto done;
	}
	if ((error = add_file(out, GEN_DIR "/Dockerfile", &g)) < 0)
		goto done;
	out->dockerfile = strdup(GEN_DIR "/Dockerfile");
	if (!out->dockerfile) {
		wl_error_set("out of memory");
		error = WL_ERROR;
		goto done;
	}

	nginx = plan->type == WL_PROJECT_STATIC ||
		(plan->type == WL_PROJECT_NODE && plan->spa_dir);
	if (nginx) {
		gen_nginx_conf(&g, plan, plan->spa_dir != NULL);
		error = add_file(out, GEN_DIR "/nginx.conf", &g);
	}
done:
	wl_buf_release(&g.b);
	if (error < 0)
		wl_generated_release(out);
	return error;
}

/* The escape character a "# escape=X" parser directive at the top sets. */
static char escape_char(const char *p, const char *end)
{
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *q = p;

		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		/* Directives are comments of the form "# name=value", first. */
		if (q >= e || *q != '#')
			break;
		q++;
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		if ((size_t)(e - q) >= 8 && !strncasecmp(q, "escape", 6)) {
			q += 6;
			while (q < e && (*q == ' ' || *q == '\t'))
				q++;
			if (q < e && *q == '=') {
				q++;
				while (q < e && (*q == ' ' || *q == '\t'))
					q++;
				if (q < e && (*q == '`' || *q == '\\'))
					return *q;
			}
		}
		p = nl ? nl + 1 : end;
	}
	return '\\';
}

int wl_dockerfile_label_stages(const char *text, size_t len, const char *line,
			       struct wl_buf *out)
{
	const char *p = text, *end = text + len;
	char esc = escape_char(text, end);
	int continued = 0, from = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *q = p, *t = e;

		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		if (wl_buf_add(out, p, (size_t)(e - p)) < 0 ||
		    wl_buf_putc(out, '\n') < 0)
			return WL_ETOOBIG;
		p = nl ? nl + 1 : end;
		/* Blank and comment lines neither start nor end anything. */
		if (q == e || *q == '#')
			continue;
		if (!continued)
			from = (size_t)(e - q) > 4 &&
			       !strncasecmp(q, "FROM", 4) &&
			       (q[4] == ' ' || q[4] == '\t');
		while (t > q &&
		       (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r'))
			t--;
		continued = t > q && t[-1] == esc;
		if (!continued && from) {
			if (wl_buf_puts(out, line) < 0 ||
			    wl_buf_putc(out, '\n') < 0)
				return WL_ETOOBIG;
			from = 0;
		}
	}
	if (continued && from &&
	    (wl_buf_putc(out, '\n') < 0 || wl_buf_puts(out, line) < 0 ||
	     wl_buf_putc(out, '\n') < 0))
		return WL_ETOOBIG;
	return 0;
}

const char *wl_dockerfile_build_cache(const struct wl_build_plan *plan)
{
	if (plan->type != WL_PROJECT_NODE || !plan->node_build ||
	    plan->spa_dir || !plan->framework ||
	    strcmp(plan->framework, "next"))
		return NULL;
	return BUILD_CACHE_DIR;
}

int wl_dockerfile_use_build_cache(struct wl_generated *gen, const char *image)
{
	struct wl_gen_file *f = NULL;
	struct wl_buf out;
	const char *mark, *end;
	size_t mark_len = strlen(BUILD_CACHE_MARK);
	int error;

	if ((error = check_word("cache image", image)) < 0)
		return error;
	for (size_t i = 0; i < gen->count; i++)
		if (gen->dockerfile &&
		    !strcmp(gen->files[i].path, gen->dockerfile))
			f = &gen->files[i];
	if (!f)
		return WL_ENOTFOUND;
	/* The mark is a whole line of the generated text. */
	for (mark = f->data, end = f->data + f->len;;) {
		mark = memmem(mark, (size_t)(end - mark), BUILD_CACHE_MARK,
			      mark_len);
		if (!mark)
			return WL_ENOTFOUND;
		if ((mark == f->data || mark[-1] == '\n') &&
		    (size_t)(end - mark) > mark_len && mark[mark_len] == '\n')
			break;
		mark += mark_len;
	}
	wl_buf_init(&out, f->len + 1024);
	if (wl_buf_add(&out, f->data, (size_t)(mark - f->data)) < 0 ||
	    wl_buf_printf(&out,
			  "COPY " APP_CHOWN
			  " --from=%s " WL_BUILD_CACHE_COPY_TAIL "\n",
			  image) < 0 ||
	    wl_buf_add(&out, mark + mark_len + 1,
		       (size_t)(end - mark - (ptrdiff_t)mark_len - 1)) < 0) {
		wl_buf_release(&out);
		wl_error_set("cannot generate a Dockerfile: out of memory");
		return WL_ERROR;
	}
	free(f->data);
	f->data = wl_buf_detach(&out, &f->len);
	if (!f->data) {
		f->len = 0;
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	return 0;
}

void wl_generated_release(struct wl_generated *g)
{
	if (!g)
		return;
	free(g->dockerfile);
	for (size_t i = 0; i < g->count && i < WL_GEN_FILES_MAX; i++) {
		free(g->files[i].path);
		free(g->files[i].data);
	}
	memset(g, 0, sizeof(*g));
}
