/*
 * wl_dockerfile_generate: for each kind of plan, the lines that must be in
 * the generated Dockerfile, in order (dependency manifests before the
 * sources), lines that must not be, and the nginx configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/dockerfile.h"
#include "specs/core/error.h"
#include "tests/unit/unit.h"
#include "specs/core/banned.h"

#define MAX_LINES 16

struct row {
	const char *name;
	/* the plan */
	enum wl_project_type type;
	int port;
	const char *argv[12];
	const char *dockerfile, *node_pm, *lockfile, *spa_dir, *requirements;
	const char *go_target, *static_root;
	const char *node_pm_version, *yarn_path;
	const char *config[WL_NODE_PM_CONFIG_MAX];
	const char *dirs[WL_NODE_PM_CONFIG_MAX];
	const char *app_dir; /* a workspace member (spec.path) */
	int node_build, pyproject;
	int node_major;
	int lang_major, lang_minor;
	int local_images;
	/* expected */
	int rc;
	const char *message;
	const char *ordered[MAX_LINES]; /* substrings, in this order */
	const char *absent[MAX_LINES];
	const char *conf[MAX_LINES]; /* in .worklet/nginx.conf */
	const char *conf_absent[MAX_LINES];
};

static const struct wl_base_images local_images = {
	.node = "worklet-local/node:24",
	.node_images = { { 18, "worklet-local/node:18" },
			 { 20, "worklet-local/node:20" },
			 { 22, "worklet-local/node:22" },
			 { 24, "worklet-local/node:24" } },
	.node_image_count = 4,
	.python = "worklet-local/python:3",
	.go = "worklet-local/go:1.19",
	.python_images = { { 3, 11, "worklet-local/python:3" } },
	.python_image_count = 1,
	.go_images = { { 1, 22, "worklet-local/go:1.22" },
		       { 1, 23, "worklet-local/go:1.23" } },
	.go_image_count = 2,
	.go_runtime = "worklet-local/debian:bookworm",
	.static_web = "worklet-local/nginx",
};

#define NGINX_ARGV                                                             \
	{                                                                      \
		"nginx", "-c", "/etc/worklet/nginx.conf", "-e", "stderr"       \
	}

/* Lines no generated file may contain on any image. */
static const char *const never[] = { "apk ",	    "apt-get",	  "apt ",
				     "RUN python ", "\"python\"", "sudo",
				     "--mount",	    "<<" };

static const struct row rows[] = {
	{ .name = "npm workspace member: install at the root, build in it",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "npm", "start" },
	  .node_pm = "npm",
	  .lockfile = "package-lock.json",
	  .node_build = 1,
	  .app_dir = "apps/web",
	  /* every member's package.json must be there for the install */
	  .ordered = { "COPY --chown=10001:10001 . /app/\n", "WORKDIR /app\n",
		       "USER 10001:10001\n",
		       "RUN npm ci --no-audit --no-fund && rm -rf /tmp/.npm\n",
		       "WORKDIR /app/apps/web\n", "RUN npm run build\n",
		       "CMD [\"npm\", \"start\"]\n" },
	  .absent = { "COPY --chown=10001:10001 . .\n",
		      "package.json /app/" } },
	{ .name = "pnpm workspace member served by nginx",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = NGINX_ARGV,
	  .node_pm = "pnpm",
	  .lockfile = "pnpm-lock.yaml",
	  .node_build = 1,
	  .spa_dir = "dist",
	  .app_dir = "apps/site",
	  .ordered = { "FROM node:24-alpine AS build\n",
		       "COPY --chown=10001:10001 . /app/\n", "RUN pnpm install",
		       "WORKDIR /app/apps/site\n", "RUN pnpm run build\n",
		       "COPY --from=build /app/apps/site/dist/ /srv/\n" },
	  .conf = { "try_files $uri $uri/ /index.html;" } },
	{ .name = "an app folder with a space is refused",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "npm", "start" },
	  .node_pm = "npm",
	  .app_dir = "apps/my web",
	  .rc = WL_EINVALID,
	  .message = "app folder (spec.path) 'apps/my web'" },
	{ .name = "node npm with lockfile and build",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "npm", "start" },
	  .node_pm = "npm",
	  .lockfile = "package-lock.json",
	  .node_build = 1,
	  /* /app is the app's: made by the first COPY, built as the user */
	  .ordered = { "FROM node:24-alpine\n",
		       "COPY --chown=10001:10001 package.json "
		       "package-lock.json /app/\n",
		       "WORKDIR /app\n", "ENV HOME=/tmp\n",
		       "USER 10001:10001\n",
		       "RUN npm ci --no-audit --no-fund && rm -rf /tmp/.npm\n",
		       "COPY --chown=10001:10001 . .\n", "RUN npm run build\n",
		       "ENV PORT=3000 HOST=0.0.0.0\n", "EXPOSE 3000\n",
		       "CMD [\"npm\", \"start\"]\n" },
	  .absent = { "npm install", "nginx", "chown -R", "RUN chown" } },
	{ .name = "node major 20 on local images",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "npm", "start" },
	  .node_pm = "npm",
	  .node_major = 20,
	  .local_images = 1,
	  .ordered = { "FROM worklet-local/node:20\n", "RUN npm install" },
	  .absent = { "node:24", "node:18" } },
	{ .name = "node major 22 on the default images",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "npm", "start" },
	  .node_pm = "npm",
	  .node_major = 22,
	  .ordered = { "FROM node:22-alpine\n" } },
	{ .name = "node major without an image",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "npm", "start" },
	  .node_pm = "npm",
	  .node_major = 99,
	  .rc = WL_EINVALID,
	  .message = "no image for Node.js 99" },
	{ .name = "node npm without lockfile",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "node", "server.js" },
	  .node_pm = "npm",
	  .ordered = { "COPY --chown=10001:10001 package.json /app/\n",
		       "RUN npm install --no-audit --no-fund && rm -rf "
		       "/tmp/.npm\n",
		       "COPY --chown=10001:10001 . .\n",
		       "CMD [\"node\", \"server.js\"]\n" },
	  .absent = { "npm ci", "run build", "lock" } },
	{ .name = "node yarn classic",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "yarn", "start" },
	  .node_pm = "yarn",
	  .node_pm_version = "1.22.22",
	  .lockfile = "yarn.lock",
	  .node_build = 1,
	  /* the package manager goes into /usr/local as root, first */
	  .ordered = { "RUN npm install -g --force --no-audit --no-fund "
		       "yarn@1.22.22 && yarn --version && rm -rf /root/.npm\n",
		       "COPY --chown=10001:10001 package.json yarn.lock "
		       "/app/\n",
		       "USER 10001:10001\n",
		       "RUN yarn install --non-interactive --frozen-lockfile "
		       "&& rm -rf /tmp/.cache /tmp/.yarn\n",
		       "COPY --chown=10001:10001 . .\n", "RUN yarn run build\n",
		       "CMD [\"yarn\", \"start\"]\n" },
	  .absent = { "npm ci", "latest", "--immutable" } },
	{ .name = "node yarn berry",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "yarn", "start" },
	  .node_pm = "yarn",
	  .node_pm_version = "4.18.1",
	  .lockfile = "yarn.lock",
	  .config = { ".yarnrc.yml" },
	  .ordered = { "npm install -g --force --no-audit --no-fund "
		       "@yarnpkg/cli-dist@4.18.1 && yarn --version",
		       "COPY --chown=10001:10001 package.json yarn.lock "
		       ".yarnrc.yml /app/\n",
		       "USER 10001:10001\n",
		       "RUN YARN_ENABLE_TELEMETRY=0 yarn install --immutable "
		       "&& rm -rf /tmp/.cache /tmp/.yarn\n",
		       "COPY --chown=10001:10001 . .\n" },
	  .absent = { "npm ci", "latest", "frozen-lockfile" } },
	{ .name = "node yarn berry, its own yarnPath release",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "yarn", "start" },
	  .node_pm = "yarn",
	  .node_pm_version = "4.18.1",
	  .yarn_path = ".yarn/releases/yarn-4.18.1.cjs",
	  .lockfile = "yarn.lock",
	  .node_build = 1,
	  .config = { ".yarnrc.yml" },
	  .dirs = { ".yarn/plugins", "patches" },
	  .ordered = { "RUN rm -f /usr/local/bin/yarn && printf "
		       "'#!/bin/sh\\nexec node "
		       "/app/.yarn/releases/yarn-4.18.1.cjs \"$@\"\\n' "
		       ">/usr/local/bin/yarn && chmod 755 "
		       "/usr/local/bin/yarn\n",
		       "COPY --chown=10001:10001 package.json yarn.lock "
		       ".yarnrc.yml /app/\n",
		       "COPY --chown=10001:10001 "
		       ".yarn/releases/yarn-4.18.1.cjs "
		       "/app/.yarn/releases/yarn-4.18.1.cjs\n",
		       "COPY --chown=10001:10001 .yarn/plugins "
		       "/app/.yarn/plugins/\n",
		       "COPY --chown=10001:10001 patches /app/patches/\n",
		       "USER 10001:10001\n", "yarn install --immutable",
		       "COPY --chown=10001:10001 . .\n",
		       "RUN yarn run build\n" },
	  .absent = { "npm install -g", "latest" } },
	{ .name = "node pnpm",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "pnpm", "start" },
	  .node_pm = "pnpm",
	  .node_pm_version = "10.34.9",
	  .lockfile = "pnpm-lock.yaml",
	  .config = { ".npmrc" },
	  .ordered = { "RUN npm install -g --force --no-audit --no-fund "
		       "pnpm@10.34.9 && pnpm --version && rm -rf /root/.npm\n",
		       "COPY --chown=10001:10001 package.json pnpm-lock.yaml "
		       ".npmrc /app/\n",
		       "USER 10001:10001\n",
		       "RUN pnpm install --frozen-lockfile && rm -rf "
		       "/tmp/.cache /tmp/.local\n",
		       "COPY --chown", "CMD [\"pnpm\", \"start\"]\n" },
	  .absent = { "npm ci", "run build", "latest" } },
	{ .name = "node bun",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "bun", "start" },
	  .node_pm = "bun",
	  .node_pm_version = "1.4.5",
	  .lockfile = "bun.lock",
	  .node_build = 1,
	  .ordered = { "npm install -g --no-audit --no-fund "
		       "\"@oven/bun-linux-$a@1.4.5\"",
		       "/usr/local/bin/bun && bun --version",
		       "COPY --chown=10001:10001 package.json bun.lock /app/\n",
		       "USER 10001:10001\n",
		       "RUN bun install --frozen-lockfile && rm -rf /tmp/.bun "
		       "/tmp/.cache\n",
		       "COPY --chown=10001:10001 . .\n", "RUN bun run build\n",
		       "CMD [\"bun\", \"start\"]\n" },
	  .absent = { "npm ci", "latest" } },
	{ .name = "node pnpm, a version with a quote",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "pnpm", "start" },
	  .node_pm = "pnpm",
	  .node_pm_version = "1.0.0'",
	  .rc = WL_EINVALID,
	  .message = "package manager version" },
	{ .name = "next",
	  .type = WL_PROJECT_NODE,
	  .port = 8081,
	  .argv = { "npx", "next", "start", "-H", "0.0.0.0", "-p", "8081" },
	  .node_pm = "npm",
	  .lockfile = "package-lock.json",
	  .node_build = 1,
	  .ordered = { "RUN npm ci", "COPY --chown=10001:10001 . .\n",
		       "RUN npm run build\n", "ENV PORT=8081 HOST=0.0.0.0\n",
		       "EXPOSE 8081\n",
		       "CMD [\"npx\", \"next\", \"start\", \"-H\", "
		       "\"0.0.0.0\", "
		       "\"-p\", \"8081\"]\n" } },
	{ .name = "vite single-page app",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = NGINX_ARGV,
	  .node_pm = "npm",
	  .node_build = 1,
	  .spa_dir = "dist",
	  .ordered = { "FROM node:24-alpine AS build\n",
		       "COPY --chown=10001:10001 package.json /app/\n",
		       "RUN npm install", "COPY --chown=10001:10001 . .\n",
		       "RUN npm run build\n", "FROM nginx:alpine\n",
		       "ENTRYPOINT []\n",
		       "COPY .worklet/nginx.conf /etc/worklet/nginx.conf\n",
		       "COPY --from=build /app/dist/ /srv/\n", "EXPOSE 3000\n",
		       "ENV HOME=/tmp\n", "USER 10001:10001\n",
		       "CMD [\"nginx\", \"-c\", \"/etc/worklet/nginx.conf\", "
		       "\"-e\", \"stderr\"]\n" },
	  .conf = { "daemon off;", "listen 3000;", "root /srv;",
		    "location ~ /\\. {\n\t\t\treturn 404;",
		    "try_files $uri $uri/ /index.html;" },
	  .conf_absent = { "=404;\n\t\t}\n\t}" } },
	{ .name = "python requirements with gunicorn",
	  .type = WL_PROJECT_PYTHON,
	  .port = 3000,
	  .argv = { "gunicorn", "--bind", "0.0.0.0:3000", "app:app" },
	  .requirements = "requirements.txt",
	  .ordered = { "FROM python:3.9-slim\n",
		       "RUN python3 -m venv /opt/venv\n",
		       "ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH\n",
		       "COPY --chown=10001:10001 requirements.txt /app/\n",
		       "WORKDIR /app\n",
		       "RUN pip install -r requirements.txt\n",
		       "COPY --chown=10001:10001 . .\n",
		       "ENV PORT=3000 HOST=0.0.0.0\n",
		       "CMD [\"gunicorn\", \"--bind\", \"0.0.0.0:3000\", "
		       "\"app:app\"]\n" },
	  .absent = { "pip install .", "--user", "break-system-packages" } },
	{ .name = "python pyproject",
	  .type = WL_PROJECT_PYTHON,
	  .port = 3000,
	  .argv = { "python3", "bot.py" },
	  .pyproject = 1,
	  .ordered = { "RUN python3 -m venv /opt/venv\n",
		       "COPY --chown=10001:10001 . /app/\n", "WORKDIR /app\n",
		       "RUN pip install .\n",
		       "CMD [\"python3\", \"bot.py\"]\n" },
	  .absent = { "requirements" } },
	{ .name = "python plain main file on local images",
	  .type = WL_PROJECT_PYTHON,
	  .port = 3000,
	  .argv = { "python3", "main.py" },
	  .local_images = 1,
	  .ordered = { "FROM worklet-local/python:3\n",
		       "COPY --chown=10001:10001 . /app/\n",
		       "CMD [\"python3\", \"main.py\"]\n" },
	  .absent = { "pip install", "python:3.9-slim" } },
	{ .name = "go module with go.sum in cmd/server",
	  .type = WL_PROJECT_GO,
	  .port = 3000,
	  .argv = { "/usr/local/bin/app" },
	  .requirements = "go.mod",
	  .lockfile = "go.sum",
	  .go_target = "./cmd/server",
	  .ordered = { "FROM golang:1.21-alpine AS build\n", "WORKDIR /src\n",
		       "CGO_ENABLED=0", "RUN go build -trimpath std\n",
		       "COPY go.mod go.sum ./\n", "RUN go mod download\n",
		       "COPY . .\n",
		       "RUN go build -trimpath -ldflags=\"-s -w\" -o /out/app "
		       "./cmd/server\n",
		       "FROM alpine:3.19\n",
		       "COPY --from=build /out/app /usr/local/bin/app\n",
		       "ENV PORT=3000 HOST=0.0.0.0\n", "EXPOSE 3000\n",
		       "USER 10001:10001\n", "CMD [\"/usr/local/bin/app\"]\n" },
	  .absent = { "go mod init" } },
	{ .name = "go module without go.sum",
	  .type = WL_PROJECT_GO,
	  .port = 3000,
	  .argv = { "/usr/local/bin/app" },
	  .requirements = "go.mod",
	  .go_target = ".",
	  .local_images = 1,
	  .ordered = { "FROM worklet-local/go:1.19 AS build\n",
		       "COPY go.mod ./\n", "COPY . .\n", "-o /out/app .\n",
		       "FROM worklet-local/debian:bookworm\n" },
	  .absent = { "go.sum", "go mod download", "go mod init" } },
	{ .name = "go 1.22 (go.mod's go line)",
	  .type = WL_PROJECT_GO,
	  .port = 3000,
	  .argv = { "/usr/local/bin/app" },
	  .requirements = "go.mod",
	  .go_target = ".",
	  .lang_major = 1,
	  .lang_minor = 22,
	  .local_images = 1,
	  .ordered = { "FROM worklet-local/go:1.22 AS build\n",
		       "COPY go.mod ./\n", "COPY . .\n",
		       "FROM worklet-local/debian:bookworm\n" },
	  .absent = { "go:1.19" } },
	{ .name = "go 1.21: no image for that line",
	  .type = WL_PROJECT_GO,
	  .port = 3000,
	  .argv = { "/usr/local/bin/app" },
	  .go_target = ".",
	  .lang_major = 1,
	  .lang_minor = 21,
	  .local_images = 1,
	  .rc = WL_EINVALID,
	  .message = "there is no image for Go 1.21" },
	{ .name = "python 3.11 (.python-version)",
	  .type = WL_PROJECT_PYTHON,
	  .port = 3000,
	  .argv = { "python3", "main.py" },
	  .lang_major = 3,
	  .lang_minor = 11,
	  .local_images = 1,
	  .ordered = { "FROM worklet-local/python:3\n",
		       "RUN python3 -m venv /opt/venv\n" } },
	{ .name = "go main.go without go.mod",
	  .type = WL_PROJECT_GO,
	  .port = 3000,
	  .argv = { "/usr/local/bin/app" },
	  .go_target = ".",
	  .ordered = { "COPY . .\n", "RUN go mod init worklet.local/app\n",
		       "RUN go build" },
	  .absent = { "COPY go.mod", "go mod download" } },
	{ .name = "static root",
	  .type = WL_PROJECT_STATIC,
	  .port = 3000,
	  .argv = NGINX_ARGV,
	  .static_root = ".",
	  .ordered = { "FROM nginx:alpine\n", "ENTRYPOINT []\n",
		       "COPY .worklet/nginx.conf /etc/worklet/nginx.conf\n",
		       "COPY . /srv/\n", "ENV PORT=3000 HOST=0.0.0.0\n",
		       "EXPOSE 3000\n", "ENV HOME=/tmp\n", "USER 10001:10001\n",
		       "CMD [\"nginx\", \"-c\"" },
	  .conf = { "daemon off;", "pid /tmp/nginx.pid;", "error_log stderr",
		    "include /etc/nginx/mime.types;", "access_log /dev/stdout;",
		    "client_body_temp_path /tmp/", "proxy_temp_path /tmp/",
		    "fastcgi_temp_path /tmp/", "uwsgi_temp_path /tmp/",
		    "scgi_temp_path /tmp/", "listen 3000;", "root /srv;",
		    "absolute_redirect off;", "location ~ /\\. {",
		    "try_files $uri $uri/ =404;" },
	  .conf_absent = { "/index.html;", "user " } },
	{ .name = "static public/ on local images, port 8080",
	  .type = WL_PROJECT_STATIC,
	  .port = 8080,
	  .argv = NGINX_ARGV,
	  .static_root = "public",
	  .local_images = 1,
	  .ordered = { "FROM worklet-local/nginx\n",
		       "COPY .worklet/nginx.conf /etc/worklet/nginx.conf\n",
		       "COPY public/ /srv/\n", "ENV PORT=8080 HOST=0.0.0.0\n",
		       "EXPOSE 8080\n" },
	  .absent = { "COPY . " },
	  .conf = { "listen 8080;" } },
	{ .name = "start command is escaped as JSON",
	  .type = WL_PROJECT_NODE,
	  .port = 3000,
	  .argv = { "node", "a\"b\\c\nRUN evil\td" },
	  .node_pm = "npm",
	  .ordered = { "CMD [\"node\", \"a\\\"b\\\\c\\nRUN evil\\td\"]\n" },
	  .absent = { "\nRUN evil" } },
	/* errors */
	{ .name = "newline in the Go target",
	  .type = WL_PROJECT_GO,
	  .port = 3000,
	  .argv = { "/usr/local/bin/app" },
	  .go_target = "./cmd/x\nRUN evil",
	  .rc = WL_EINVALID,
	  .message = "Go build target" },
	{ .name = "port out of range",
	  .type = WL_PROJECT_NODE,
	  .port = 0,
	  .argv = { "npm", "start" },
	  .rc = WL_EINVALID,
	  .message = "port 0 is not in 1..65535" },
	{ .name = "no start command",
	  .type = WL_PROJECT_PYTHON,
	  .port = 3000,
	  .rc = WL_EINVALID,
	  .message = "no start command" },
	{ .name = "undetected plan",
	  .type = WL_PROJECT_AUTO,
	  .port = 3000,
	  .argv = { "x" },
	  .rc = WL_EINVALID,
	  .message = "project type not detected" },
};

static const char *file_data(const struct wl_generated *g, const char *path)
{
	for (size_t i = 0; i < g->count; i++)
		if (!strcmp(g->files[i].path, path))
			return g->files[i].data;
	return NULL;
}

static void check_ordered(const char *text, const char *const *want,
			  const char *what)
{
	const char *at = text;

	for (size_t i = 0; i < MAX_LINES && want[i]; i++) {
		const char *found = at ? strstr(at, want[i]) : NULL;

		if (!found) {
			fprintf(stderr, "  %s: '%s' missing or out of order\n",
				what, want[i]);
			wl_unit_failures++;
			continue;
		}
		at = found + strlen(want[i]);
	}
}

static void check_absent(const char *text, const char *const *bad, size_t n,
			 const char *what)
{
	for (size_t i = 0; i < n && bad[i]; i++)
		if (text && strstr(text, bad[i])) {
			fprintf(stderr, "  %s: must not contain '%s'\n", what,
				bad[i]);
			wl_unit_failures++;
		}
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		const struct row *r = &rows[i];
		struct wl_build_plan plan;
		struct wl_generated gen;
		const char *df, *conf;
		int before = wl_unit_failures, rc;

		memset(&plan, 0, sizeof(plan));
		plan.type = r->type;
		plan.port = r->port;
		plan.start_argv = (char **)r->argv;
		while (plan.start_argc < 12 && r->argv[plan.start_argc])
			plan.start_argc++;
		plan.dockerfile = (char *)r->dockerfile;
		plan.node_pm = (char *)r->node_pm;
		plan.lockfile = (char *)r->lockfile;
		plan.node_pm_version = (char *)r->node_pm_version;
		plan.yarn_path = (char *)r->yarn_path;
		while (plan.node_pm_dir_count < WL_NODE_PM_CONFIG_MAX &&
		       r->dirs[plan.node_pm_dir_count]) {
			plan.node_pm_dirs[plan.node_pm_dir_count] =
				r->dirs[plan.node_pm_dir_count];
			plan.node_pm_dir_count++;
		}
		while (plan.node_pm_config_count < WL_NODE_PM_CONFIG_MAX &&
		       r->config[plan.node_pm_config_count]) {
			plan.node_pm_config[plan.node_pm_config_count] =
				r->config[plan.node_pm_config_count];
			plan.node_pm_config_count++;
		}
		plan.node_build = r->node_build;
		plan.spa_dir = (char *)r->spa_dir;
		plan.requirements = (char *)r->requirements;
		plan.pyproject = r->pyproject;
		plan.go_target = (char *)r->go_target;
		plan.static_root = (char *)r->static_root;
		plan.node_major = r->node_major;
		plan.lang_major = r->lang_major;
		plan.lang_minor = r->lang_minor;
		plan.app_dir = (char *)r->app_dir;

		rc = wl_dockerfile_generate(
			&gen, &plan, r->local_images ? &local_images : NULL);
		CHECK(rc == r->rc);
		if (rc < 0) {
			CHECK_CONTAINS(wl_error_last(), r->message);
			CHECK(gen.count == 0 && gen.dockerfile == NULL);
		} else {
			CHECK_STR(gen.dockerfile, ".worklet/Dockerfile");
			df = file_data(&gen, ".worklet/Dockerfile");
			conf = file_data(&gen, ".worklet/nginx.conf");
			CHECK(df != NULL);
			check_ordered(df, r->ordered, "Dockerfile");
			check_absent(df, r->absent, MAX_LINES, "Dockerfile");
			check_absent(df, never, sizeof(never) / sizeof(*never),
				     "Dockerfile");
			CHECK((conf != NULL) == (r->conf[0] != NULL));
			if (conf) {
				check_ordered(conf, r->conf, "nginx.conf");
				check_absent(conf, r->conf_absent, MAX_LINES,
					     "nginx.conf");
			}
			for (size_t j = 0; j < gen.count; j++) {
				CHECK(gen.files[j].mode == 0644);
				CHECK(gen.files[j].len ==
				      strlen(gen.files[j].data));
			}
			if (wl_unit_failures != before)
				fprintf(stderr, "%s\n%s\n", df ? df : "",
					conf ? conf : "");
		}
		if (wl_unit_failures != before)
			fprintf(stderr, "  in row %zu (%s): rc %d '%s'\n", i,
				r->name, rc, wl_error_last());
		wl_generated_release(&gen);
	}
}

/* A repository's own Dockerfile is used as it is: nothing generated. */
static void test_own_dockerfile(void)
{
	struct wl_build_plan plan;
	struct wl_generated gen;

	memset(&plan, 0, sizeof(plan));
	plan.type = WL_PROJECT_DOCKERFILE;
	plan.port = 8080;
	plan.dockerfile = (char *)"deploy/Dockerfile.prod";
	CHECK(wl_dockerfile_generate(&gen, &plan, NULL) == 0);
	CHECK_STR(gen.dockerfile, "deploy/Dockerfile.prod");
	CHECK(gen.count == 0);
	wl_generated_release(&gen);
	CHECK(gen.dockerfile == NULL);
}

/* Base images are configuration: a bad one is refused, not written. */
static void test_bad_image(void)
{
	static const char *const argv[] = { "npm", "start", NULL };
	struct wl_base_images im = { .node = "node:18\nRUN evil" };
	struct wl_build_plan plan;
	struct wl_generated gen;

	memset(&plan, 0, sizeof(plan));
	plan.type = WL_PROJECT_NODE;
	plan.port = 3000;
	plan.start_argv = (char **)argv;
	plan.start_argc = 2;
	CHECK(wl_dockerfile_generate(&gen, &plan, &im) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "base image");
	/* unset fields fall back to the defaults */
	im.node = NULL;
	im.python = "worklet-local/python:3";
	CHECK(wl_dockerfile_generate(&gen, &plan, &im) == 0);
	CHECK_CONTAINS(gen.files[0].data, "FROM node:24-alpine\n");
	wl_generated_release(&gen);
}

/* A label after every FROM, whatever the file's shape. */
static void test_label_stages(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "FROM a\nRUN x\n", "FROM a\nL\nRUN x\n" },
		{ "from a AS build\nRUN x\nFROM b\nCOPY --from=build / /\n",
		  "from a AS build\nL\nRUN x\nFROM b\nL\nCOPY --from=build / "
		  "/\n" },
		/* a FROM continued over lines, a comment inside it */
		{ "FROM \\\n # the base\n  a\nRUN x\n",
		  "FROM \\\n # the base\n  a\nL\nRUN x\n" },
		/* the escape directive: ` continues, \\ does not */
		{ "# escape=`\nFROM a `\n  AS b\nRUN echo \\\nFROM c\n",
		  "# escape=`\nFROM a `\n  AS b\nL\nRUN echo \\\nFROM "
		  "c\nL\n" },
		{ "RUN echo FROM x\n# FROM y\nFROMAGE z\n",
		  "RUN echo FROM x\n# FROM y\nFROMAGE z\n" },
		/* CRLF, no final newline, leading blanks */
		{ "\r\n  FROM a\r\nRUN x", "\r\n  FROM a\r\nL\nRUN x\n" },
		{ "FROM a", "FROM a\nL\n" },
		{ "", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_buf out;

		wl_buf_init(&out, 4096);
		CHECK(wl_dockerfile_label_stages(cases[i].in,
						 strlen(cases[i].in), "L",
						 &out) == 0);
		CHECK_STR(wl_buf_cstr(&out), cases[i].want);
		wl_buf_release(&out);
	}
}

/*
 * Next.js plans have a build cache; the COPY of it replaces the mark, once,
 * before the build step. Other plans have none to keep, and an image
 * reference that could start a new instruction is refused.
 */
static void test_build_cache(void)
{
	static const char *const argv[] = { "npx", "next", "start", NULL };
	static const struct {
		const char *framework, *spa_dir;
		int node_build;
		const char *want; /* the cache directory, or NULL */
	} cases[] = {
		{ "next", NULL, 1, "/app/.next" },
		{ "next", "out", 1, NULL }, /* a static export: nginx serves */
		{ "next", NULL, 0, NULL },
		{ "vite", "dist", 1, NULL },
		{ NULL, NULL, 1, NULL },
	};
	struct wl_build_plan plan;
	struct wl_generated gen;
	const char *df, *copy, *build;

	memset(&plan, 0, sizeof(plan));
	plan.type = WL_PROJECT_NODE;
	plan.port = 3000;
	plan.start_argv = (char **)argv;
	plan.start_argc = 3;
	plan.lockfile = (char *)"package-lock.json";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		plan.framework = (char *)cases[i].framework;
		plan.spa_dir = (char *)cases[i].spa_dir;
		plan.node_build = cases[i].node_build;
		df = wl_dockerfile_build_cache(&plan);
		if (cases[i].want)
			CHECK_STR(df, cases[i].want);
		else
			CHECK(df == NULL);
		CHECK(wl_dockerfile_generate(&gen, &plan, &local_images) == 0);
		CHECK((strstr(gen.files[0].data, "# worklet: previous build "
						 "cache\n") != NULL) ==
		      (cases[i].want != NULL));
		if (!cases[i].want)
			CHECK(wl_dockerfile_use_build_cache(
				      &gen, "sha256:ab") == WL_ENOTFOUND);
		wl_generated_release(&gen);
	}

	plan.framework = (char *)"next";
	plan.spa_dir = NULL;
	plan.node_build = 1;
	CHECK(wl_dockerfile_generate(&gen, &plan, &local_images) == 0);
	CHECK(wl_dockerfile_use_build_cache(&gen, "sha256:ab\nRUN evil") ==
	      WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "cache image");
	CHECK(wl_dockerfile_use_build_cache(&gen, "sha256:0123abcd") == 0);
	df = gen.files[0].data;
	CHECK(gen.files[0].len == strlen(df));
	copy = strstr(df, "COPY --chown=10001:10001 --from=sha256:0123abcd "
			  "/app/.next /app/.next\n");
	build = strstr(df, "\nRUN npm run build\n");
	CHECK(copy && build && copy < build &&
	      strstr(df, "COPY --chown="
			 "10001:10001 . .") < copy);
	CHECK(strstr(df, "previous build cache") == NULL);
	/* Once: there is no mark left for a second one. */
	CHECK(wl_dockerfile_use_build_cache(&gen, "sha256:0123abcd") ==
	      WL_ENOTFOUND);
	wl_generated_release(&gen);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_table),	UNIT(test_own_dockerfile),
		UNIT(test_bad_image),	UNIT(test_label_stages),
		UNIT(test_build_cache), { 0 },
	};
	return wl_unit_run(tests);
}
