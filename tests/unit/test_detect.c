/*
 * wl_detect over the fixture trees in tests/fixtures/detect/<case>: one
 * row per case, with the plan a user would see (type, framework, start
 * command, port, evidence) and the fields the Dockerfile generator uses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller/detect.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/node_version.h"
#include "specs/worklet.h"
#include "tests/unit/unit.h"
#include "specs/core/banned.h"

#define CHECK_STR_OR_NULL(a, b)                                                \
	do {                                                                   \
		if ((b) == NULL)                                               \
			CHECK((a) == NULL);                                    \
		else                                                           \
			CHECK_STR(a, b);                                       \
	} while (0)

struct row {
	const char *fixture;
	/* spec overrides */
	enum wl_project_type force;
	const char *spec_dockerfile;
	const char *spec_start;
	int spec_port;
	/* expected */
	int rc;
	const char *message; /* substring of the error, when rc < 0 */
	enum wl_project_type type;
	const char *framework;
	const char *argv; /* joined by spaces; NULL: no argv */
	int port;
	const char *evidence; /* substring of one evidence line */
	const char *node_pm, *lockfile;
	int node_build;
	const char *spa_dir, *requirements;
	int pyproject;
	const char *go_target, *static_root, *dockerfile;
};

static const struct row rows[] = {
	/* Node */
	{ .fixture = "node-start",
	  .type = WL_PROJECT_NODE,
	  .argv = "npm start",
	  .port = 3000,
	  .evidence = "package.json: scripts.start = \"node server.js\"",
	  .node_pm = "npm" },
	{ .fixture = "node-main",
	  .type = WL_PROJECT_NODE,
	  .argv = "node src/app.js",
	  .port = 3000,
	  .evidence = "package.json: main = \"src/app.js\"",
	  .node_pm = "npm" },
	{ .fixture = "node-index",
	  .type = WL_PROJECT_NODE,
	  .argv = "node app.js",
	  .port = 3000,
	  .evidence = "app.js: no start script or main field",
	  .node_pm = "npm" },
	{ .fixture = "node-next",
	  .type = WL_PROJECT_NODE,
	  .framework = "next",
	  .argv = "npx next start -H 0.0.0.0 -p 3000",
	  .port = 3000,
	  .evidence = "dependency next",
	  .node_pm = "npm",
	  .lockfile = "package-lock.json",
	  .node_build = 1 },
	{ .fixture = "node-next",
	  .spec_port = 8081,
	  .type = WL_PROJECT_NODE,
	  .framework = "next",
	  .argv = "npx next start -H 0.0.0.0 -p 8081",
	  .port = 8081,
	  .evidence = "spec.containerPort = 8081",
	  .node_pm = "npm",
	  .lockfile = "package-lock.json",
	  .node_build = 1 },
	{ .fixture = "node-vite",
	  .type = WL_PROJECT_NODE,
	  .framework = "vite",
	  .argv = "nginx -c /etc/worklet/nginx.conf -e stderr",
	  .port = 3000,
	  .evidence = "single-page app",
	  .node_pm = "npm",
	  .node_build = 1,
	  .spa_dir = "dist" },
	{ .fixture = "node-yarn",
	  .type = WL_PROJECT_NODE,
	  .argv = "yarn start",
	  .port = 3000,
	  .evidence = "yarn.lock: package manager yarn",
	  .node_pm = "yarn",
	  .lockfile = "yarn.lock",
	  .node_build = 1 },
	{ .fixture = "node-pnpm",
	  .type = WL_PROJECT_NODE,
	  .argv = "pnpm start",
	  .port = 3000,
	  .evidence = "package manager pnpm 8.15.0 (package.json "
		      "packageManager)",
	  .node_pm = "pnpm",
	  .lockfile = "pnpm-lock.yaml" },
	{ .fixture = "node-nostart-static",
	  .type = WL_PROJECT_STATIC,
	  .argv = "nginx -c /etc/worklet/nginx.conf -e stderr",
	  .port = 3000,
	  .evidence = "not node: package.json has no scripts.start",
	  .static_root = "." },
	{ .fixture = "node-nostart",
	  .rc = WL_ENOTFOUND,
	  .message = "package.json has no scripts.start, no main field naming "
		     "a file" },
	{ .fixture = "node-badjson",
	  .rc = WL_EINVALID,
	  .message = "cannot parse 'package.json'" },
	/* Python */
	{ .fixture = "python-requirements",
	  .type = WL_PROJECT_PYTHON,
	  .argv = "python3 app.py",
	  .port = 3000,
	  .evidence = "requirements.txt: installed with pip",
	  .requirements = "requirements.txt" },
	{ .fixture = "python-fastapi",
	  .type = WL_PROJECT_PYTHON,
	  .framework = "fastapi",
	  .argv = "uvicorn main:api --host 0.0.0.0 --port 3000",
	  .port = 3000,
	  .evidence = "dependency fastapi: uvicorn serves main:api",
	  .requirements = "requirements.txt" },
	{ .fixture = "python-flask-gunicorn",
	  .type = WL_PROJECT_PYTHON,
	  .framework = "flask",
	  .argv = "gunicorn --bind 0.0.0.0:3000 app:app",
	  .port = 3000,
	  .evidence = "dependencies flask and gunicorn",
	  .requirements = "requirements.txt" },
	{ .fixture = "python-flask-dev",
	  .type = WL_PROJECT_PYTHON,
	  .framework = "flask",
	  .argv = "python3 -m flask --app server:application run --host "
		  "0.0.0.0 --port 3000",
	  .port = 3000,
	  .evidence = "127.0.0.1 only",
	  .requirements = "requirements.txt" },
	{ .fixture = "python-django",
	  .type = WL_PROJECT_PYTHON,
	  .framework = "django",
	  .argv = "gunicorn --bind 0.0.0.0:3000 mysite.wsgi",
	  .port = 3000,
	  .evidence = "gunicorn serves mysite.wsgi",
	  .requirements = "requirements.txt" },
	{ .fixture = "python-not-django",
	  .type = WL_PROJECT_PYTHON,
	  .argv = "python3 bot.py",
	  .port = 3000,
	  .evidence = "bot.py: run",
	  .requirements = "requirements.txt" },
	{ .fixture = "python-main",
	  .type = WL_PROJECT_PYTHON,
	  .argv = "python3 main.py",
	  .port = 3000,
	  .evidence = "main.py: run with python3" },
	{ .fixture = "python-pyproject",
	  .type = WL_PROJECT_PYTHON,
	  .argv = "python3 bot.py",
	  .port = 3000,
	  .evidence = "pip install .",
	  .pyproject = 1 },
	{ .fixture = "python-nomain",
	  .rc = WL_ENOTFOUND,
	  .message = "requirements.txt found but no main file" },
	/* Go */
	{ .fixture = "go-root",
	  .type = WL_PROJECT_GO,
	  .argv = "/usr/local/bin/app",
	  .port = 3000,
	  .evidence = "(no go.sum)",
	  .requirements = "go.mod",
	  .go_target = "." },
	{ .fixture = "go-cmd",
	  .type = WL_PROJECT_GO,
	  .argv = "/usr/local/bin/app",
	  .port = 3000,
	  .evidence = "cmd/server: building package ./cmd/server",
	  .requirements = "go.mod",
	  .lockfile = "go.sum",
	  .go_target = "./cmd/server" },
	{ .fixture = "go-nomod",
	  .type = WL_PROJECT_GO,
	  .argv = "/usr/local/bin/app",
	  .port = 3000,
	  .evidence = "main.go without go.mod",
	  .go_target = "." },
	/* static */
	{ .fixture = "static-root",
	  .type = WL_PROJECT_STATIC,
	  .argv = "nginx -c /etc/worklet/nginx.conf -e stderr",
	  .port = 3000,
	  .evidence = "index.html: static site",
	  .static_root = "." },
	{ .fixture = "static-public",
	  .type = WL_PROJECT_STATIC,
	  .argv = "nginx -c /etc/worklet/nginx.conf -e stderr",
	  .port = 3000,
	  .evidence = "public/index.html",
	  .static_root = "public" },
	{ .fixture = "static-dist",
	  .type = WL_PROJECT_STATIC,
	  .argv = "nginx -c /etc/worklet/nginx.conf -e stderr",
	  .port = 3000,
	  .evidence = "dist/index.html",
	  .static_root = "dist" },
	/* Dockerfile */
	{ .fixture = "dockerfile",
	  .type = WL_PROJECT_DOCKERFILE,
	  .port = 8080,
	  .evidence = "Dockerfile: EXPOSE 8080",
	  .dockerfile = "Dockerfile" },
	{ .fixture = "dockerfile",
	  .spec_port = 5000,
	  .type = WL_PROJECT_DOCKERFILE,
	  .port = 5000,
	  .evidence = "spec.containerPort = 5000",
	  .dockerfile = "Dockerfile" },
	{ .fixture = "dockerfile-custom",
	  .spec_dockerfile = "deploy/Dockerfile.prod",
	  .type = WL_PROJECT_DOCKERFILE,
	  .port = 3000,
	  .evidence = "spec.dockerfile: using the repository's own "
		      "'deploy/Dockerfile.prod'",
	  .dockerfile = "deploy/Dockerfile.prod" },
	{ .fixture = "dockerfile-custom",
	  .spec_dockerfile = "deploy/missing",
	  .rc = WL_ENOTFOUND,
	  .message =
		  "dockerfile 'deploy/missing' not found in the repository" },
	{ .fixture = "dockerfile",
	  .force = WL_PROJECT_NODE,
	  .type = WL_PROJECT_NODE,
	  .argv = "npm start",
	  .port = 3000,
	  .evidence = "spec.projectType = node (override)",
	  .node_pm = "npm" },
	/* ambiguity and overrides */
	{ .fixture = "both",
	  .type = WL_PROJECT_NODE,
	  .argv = "npm start",
	  .port = 3000,
	  .evidence = "requirements.txt is present too: node wins",
	  .node_pm = "npm" },
	{ .fixture = "both",
	  .force = WL_PROJECT_PYTHON,
	  .type = WL_PROJECT_PYTHON,
	  .framework = "flask",
	  .argv = "python3 -m flask --app app:app run --host 0.0.0.0 --port "
		  "3000",
	  .port = 3000,
	  .evidence = "spec.projectType = python",
	  .requirements = "requirements.txt" },
	{ .fixture = "overrides",
	  .force = WL_PROJECT_PYTHON,
	  .spec_start = "python3  main.py --port $PORT --bind=0.0.0.0:${PORT}",
	  .spec_port = 8080,
	  .type = WL_PROJECT_PYTHON,
	  .argv = "python3 main.py --port 8080 --bind=0.0.0.0:8080",
	  .port = 8080,
	  .evidence = "spec.startCommand overrides the start command" },
	{ .fixture = "overrides",
	  .force = WL_PROJECT_GO,
	  .rc = WL_ENOTFOUND,
	  .message = "spec.projectType is go but the repository has no go "
		     "project" },
	{ .fixture = "overrides",
	  .spec_start = "   ",
	  .rc = WL_EINVALID,
	  .message = "spec.startCommand: must not be empty" },
	/* nothing */
	{ .fixture = "nothing",
	  .rc = WL_ENOTFOUND,
	  .message = "no supported project found in the repository: looked "
		     "for Dockerfile, package.json, requirements.txt, "
		     "pyproject.toml, Pipfile, main.py, go.mod, main.go, "
		     "index.html" },
	{ .fixture = "does-not-exist",
	  .rc = WL_ENOTFOUND,
	  .message = "cannot open checkout" },
};

static char *fixture_path(const char *name)
{
	const char *base = getenv("WL_FIXTURES");
	char *path = NULL;

	if (!base)
		base = "tests/fixtures";
	if (asprintf(&path, "%s/detect/%s", base, name) < 0)
		abort();
	return path;
}

static char *joined(const struct wl_build_plan *p)
{
	size_t len = 1;
	char *s;

	if (!p->start_argc)
		return NULL;
	for (size_t i = 0; i < p->start_argc; i++)
		len += strlen(p->start_argv[i]) + 1;
	s = calloc(1, len);
	for (size_t i = 0; i < p->start_argc; i++) {
		if (i)
			memcpy(s + strlen(s), " ", 2);
		memcpy(s + strlen(s), p->start_argv[i],
		       strlen(p->start_argv[i]) + 1);
	}
	return s;
}

static int has_evidence(const struct wl_build_plan *p, const char *needle)
{
	for (size_t i = 0; i < p->evidence_count; i++)
		if (strstr(p->evidence[i], needle))
			return 1;
	return 0;
}

static void dump(const struct wl_build_plan *p)
{
	for (size_t i = 0; i < p->evidence_count; i++)
		fprintf(stderr, "    evidence: %s\n", p->evidence[i]);
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		const struct row *r = &rows[i];
		struct wl_spec spec;
		struct wl_build_plan plan;
		char *dir = fixture_path(r->fixture), *argv;
		int before = wl_unit_failures, rc;

		memset(&spec, 0, sizeof(spec));
		spec.project_type = r->force;
		spec.dockerfile = (char *)r->spec_dockerfile;
		spec.start_command = (char *)r->spec_start;
		spec.container_port = r->spec_port;
		wl_error_clear();
		rc = wl_detect(&plan, dir, &spec, NULL);
		CHECK(rc == r->rc);
		if (rc < 0) {
			CHECK_CONTAINS(wl_error_last(), r->message);
			CHECK(plan.evidence == NULL && plan.start_argv == NULL);
		} else {
			argv = joined(&plan);
			CHECK(plan.type == r->type);
			CHECK_STR_OR_NULL(plan.framework, r->framework);
			CHECK_STR_OR_NULL(argv, r->argv);
			CHECK(plan.port == r->port);
			CHECK(has_evidence(&plan, r->evidence));
			CHECK_STR_OR_NULL(plan.node_pm, r->node_pm);
			CHECK_STR_OR_NULL(plan.lockfile, r->lockfile);
			CHECK(plan.node_build == r->node_build);
			CHECK_STR_OR_NULL(plan.spa_dir, r->spa_dir);
			CHECK_STR_OR_NULL(plan.requirements, r->requirements);
			CHECK(plan.pyproject == r->pyproject);
			CHECK_STR_OR_NULL(plan.go_target, r->go_target);
			CHECK_STR_OR_NULL(plan.static_root, r->static_root);
			CHECK_STR_OR_NULL(plan.dockerfile, r->dockerfile);
			if (plan.start_argc)
				CHECK(plan.start_argv[plan.start_argc] == NULL);
			free(argv);
		}
		if (wl_unit_failures != before) {
			fprintf(stderr, "  in row %zu (%s): rc %d, '%s'\n", i,
				r->fixture, rc, wl_error_last());
			dump(&plan);
		}
		wl_build_plan_release(&plan);
		free(dir);
	}
}

static void test_no_spec(void)
{
	struct wl_build_plan plan;
	char *dir = fixture_path("go-root");

	CHECK(wl_detect(&plan, dir, NULL, NULL) == 0);
	CHECK(plan.type == WL_PROJECT_GO);
	CHECK(plan.port == 3000);
	wl_build_plan_release(&plan);
	free(dir);
}

static void test_to_detection(void)
{
	struct wl_build_plan plan;
	struct wl_detection d;
	char *dir = fixture_path("node-next");

	CHECK(wl_detect(&plan, dir, NULL, NULL) == 0);
	CHECK(wl_build_plan_to_detection(&d, &plan) == 0);
	CHECK(d.type == WL_PROJECT_NODE);
	CHECK_STR(d.framework, "next");
	CHECK_STR(d.start_command, "npx next start -H 0.0.0.0 -p 3000");
	CHECK(d.port == 3000);
	CHECK(d.evidence_count == plan.evidence_count);
	for (size_t i = 0; i < d.evidence_count && i < plan.evidence_count; i++)
		CHECK_STR(d.evidence[i], plan.evidence[i]);
	wl_detection_release(&d);
	wl_build_plan_release(&plan);
	free(dir);

	dir = fixture_path("dockerfile");
	CHECK(wl_detect(&plan, dir, NULL, NULL) == 0);
	CHECK(wl_build_plan_to_detection(&d, &plan) == 0);
	CHECK(d.type == WL_PROJECT_DOCKERFILE);
	CHECK(d.framework == NULL);
	CHECK(d.port == 8080);
	CHECK_CONTAINS(d.start_command, "Dockerfile");
	wl_detection_release(&d);
	wl_build_plan_release(&plan);
	free(dir);
}

static char *make_tmp(void)
{
	char *dir = strdup("/tmp/wl-detect-XXXXXX");

	if (!dir || !mkdtemp(dir))
		abort();
	return dir;
}

static void write_file(const char *dir, const char *name, const char *data,
		       size_t len)
{
	char *path = NULL;
	FILE *f;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	f = fopen(path, "w");
	if (!f || fwrite(data, 1, len, f) != len)
		abort();
	fclose(f);
	free(path);
}

/* A symlinked marker pointing outside the checkout is never read. */
static void test_symlink_not_followed(void)
{
	struct wl_build_plan plan;
	char *dir = make_tmp(), *link = NULL, *target = NULL;

	if (asprintf(&link, "%s/package.json", dir) < 0 ||
	    asprintf(&target, "%s/outside.json", dir) < 0)
		abort();
	write_file(dir, "outside.json", "{\"scripts\":{\"start\":\"secret\"}}",
		   30);
	CHECK(symlink(target, link) == 0);
	CHECK(wl_detect(&plan, dir, NULL, NULL) == WL_ENOTFOUND);
	CHECK_CONTAINS(wl_error_last(), "no supported project found");
	wl_fs_remove_tree(dir);
	free(link);
	free(target);
	free(dir);
}

/* package.json is bounded: a huge one is refused, not allocated. */
static void test_manifest_bounded(void)
{
	struct wl_build_plan plan;
	size_t n = 2 * 1024 * 1024;
	char *dir = make_tmp(), *big = malloc(n);

	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	write_file(dir, "package.json", big, n);
	CHECK(wl_detect(&plan, dir, NULL, NULL) == WL_ETOOBIG);
	CHECK_CONTAINS(wl_error_last(), "'package.json' is larger than");
	wl_fs_remove_tree(dir);
	free(big);
	free(dir);
}

/* package.json's main may not point outside the checkout. */
static void test_node_main_outside(void)
{
	static const char pkg[] = "{\"main\": \"../outside.js\"}";
	struct wl_build_plan plan;
	char *parent = make_tmp(), *dir = NULL;

	if (asprintf(&dir, "%s/repo", parent) < 0)
		abort();
	CHECK(wl_fs_mkdir_p(dir, 0755) == 0);
	write_file(parent, "outside.js", "1;", 2);
	write_file(dir, "package.json", pkg, sizeof(pkg) - 1);
	CHECK(wl_detect(&plan, dir, NULL, NULL) == WL_ENOTFOUND);
	CHECK_CONTAINS(wl_error_last(), "no main field naming a file");
	write_file(dir, "index.js", "1;", 2);
	CHECK(wl_detect(&plan, dir, NULL, NULL) == 0);
	CHECK(plan.start_argc == 2 && !strcmp(plan.start_argv[1], "index.js"));
	wl_build_plan_release(&plan);
	wl_fs_remove_tree(parent);
	free(dir);
	free(parent);
}

/* A cmd/ directory whose name is unsafe in a Dockerfile is skipped. */
static void test_go_cmd_unsafe_name(void)
{
	struct wl_build_plan plan;
	char *dir = make_tmp(), *sub = NULL;

	write_file(dir, "go.mod", "module x\n", 9);
	if (asprintf(&sub, "%s/cmd/a b\nRUN x", dir) < 0)
		abort();
	CHECK(wl_fs_mkdir_p(sub, 0755) == 0);
	write_file(sub, "main.go", "package main\n", 13);
	CHECK(wl_detect(&plan, dir, NULL, NULL) == WL_ENOTFOUND);
	CHECK_CONTAINS(wl_error_last(), "no main package");
	free(sub);
	if (asprintf(&sub, "%s/cmd/zz", dir) < 0)
		abort();
	CHECK(wl_fs_mkdir_p(sub, 0755) == 0);
	write_file(sub, "main.go", "package main\n", 13);
	CHECK(wl_detect(&plan, dir, NULL, NULL) == 0);
	CHECK_STR(plan.go_target, "./cmd/zz");
	wl_build_plan_release(&plan);
	wl_fs_remove_tree(dir);
	free(sub);
	free(dir);
}

/*
 * The package manager and the exact version installed: packageManager
 * first, else what writes the lockfile's format; the evidence names the
 * file that decided.
 */
static void test_node_package_managers(void)
{
	static const struct {
		const char *package_json;
		const char *file, *text;   /* a lockfile, or NULL */
		const char *file2, *text2; /* another file, or NULL */
		const char *pm, *version, *lockfile, *yarn_path;
		const char *evidence;
	} cases[] = {
		{ "{\"packageManager\": \"pnpm@9.15.0+sha512.abc\"}",
		  "pnpm-lock.yaml", "lockfileVersion: '9.0'\n", NULL, NULL,
		  "pnpm", "9.15.0", "pnpm-lock.yaml", NULL,
		  "package manager pnpm 9.15.0 (package.json packageManager)" },
		{ "{}", "pnpm-lock.yaml", "lockfileVersion: '9.0'\n", NULL,
		  NULL, "pnpm", "10.34.9", "pnpm-lock.yaml", NULL,
		  "pnpm 10.34.9 (pnpm-lock.yaml lockfileVersion 9: written "
		  "by pnpm 9 to 12)" },
		{ "{}", "pnpm-lock.yaml", "lockfileVersion: '6.0'\n", NULL,
		  NULL, "pnpm", "8.15.9", "pnpm-lock.yaml", NULL,
		  "lockfileVersion 6: written by pnpm 8" },
		{ "{}", "pnpm-lock.yaml", "lockfileVersion: 5.4\n", NULL, NULL,
		  "pnpm", "7.33.7", "pnpm-lock.yaml", NULL,
		  "lockfileVersion 5.4" },
		{ "{}", "pnpm-lock.yaml", "lockfileVersion: 5.3\n", NULL, NULL,
		  "pnpm", "6.35.1", "pnpm-lock.yaml", NULL, "pnpm 6" },
		{ "{}", "pnpm-lock.yaml", "lockfileVersion: '77.0'\n", NULL,
		  NULL, "pnpm", "10.34.9", "pnpm-lock.yaml", NULL,
		  "format not recognised" },
		{ "{}", "yarn.lock",
		  "# THIS IS AN AUTOGENERATED FILE.\n# yarn lockfile v1\n",
		  NULL, NULL, "yarn", "1.22.22", "yarn.lock", NULL,
		  "yarn 1.22.22 (yarn.lock \"yarn lockfile v1\"" },
		{ "{}", "yarn.lock", "__metadata:\n  version: 8\n", NULL, NULL,
		  "yarn", "4.18.1", "yarn.lock", NULL,
		  "yarn.lock __metadata: written by yarn 4" },
		{ "{}", "yarn.lock", "__metadata:\n  version: 6\n", NULL, NULL,
		  "yarn", "3.8.7", "yarn.lock", NULL, "yarn 3" },
		{ "{\"packageManager\": \"yarn@4.18.1\"}", "yarn.lock",
		  "__metadata:\n  version: 10\n", ".yarnrc.yml",
		  "nodeLinker: node-modules\nyarnPath: "
		  ".yarnrc.yml\n",
		  "yarn", "4.18.1", "yarn.lock", ".yarnrc.yml",
		  "yarnPath .yarnrc.yml is that yarn, run with node" },
		{ "{}", "yarn.lock", "__metadata:\n  version: 10\n",
		  ".yarnrc.yml", "yarnPath: ../outside.cjs\n", "yarn", "4.18.1",
		  "yarn.lock", NULL, "yarnPath is not a file" },
		{ "{}", "bun.lock", "{\"lockfileVersion\": 1}", NULL, NULL,
		  "bun", "1.4.5", "bun.lock", NULL,
		  "bun 1.4.5 (bun.lock: written by bun 1.2 and later" },
		{ "{}", "bun.lockb", "binary", NULL, NULL, "bun", "1.1.45",
		  "bun.lockb", NULL, "bun 1.1.45 (bun.lockb" },
		{ "{\"packageManager\": \"bun@1.3.0\"}", "bun.lock", "{}", NULL,
		  NULL, "bun", "1.3.0", "bun.lock", NULL,
		  "package manager bun 1.3.0 (package.json packageManager)" },
		{ "{\"packageManager\": \"pnpm@latest\"}", NULL, NULL, NULL,
		  NULL, "pnpm", "10.34.9", NULL, NULL,
		  "names no exact version" },
		{ "{}", "package-lock.json", "{}", NULL, NULL, "npm", NULL,
		  "package-lock.json", NULL,
		  "package-lock.json: package manager npm" },
		{ "{\"packageManager\": \"npm@10.9.0\"}", NULL, NULL, NULL,
		  NULL, "npm", NULL, NULL, NULL, "the image's own npm" },
		{ "{\"packageManager\": \"deno@2.0.0\"}", NULL, NULL, NULL,
		  NULL, "npm", NULL, NULL, NULL,
		  "is not supported, using npm" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct wl_build_plan plan;
		char *dir = make_tmp(), *pkg = NULL;
		int before = wl_unit_failures;

		if (asprintf(&pkg, "%.*s%s\"scripts\": {\"start\": \"x\"}}",
			     (int)strlen(cases[i].package_json) - 1,
			     cases[i].package_json,
			     strlen(cases[i].package_json) > 2 ? ", " : "") < 0)
			abort();
		write_file(dir, "package.json", pkg, strlen(pkg));
		if (cases[i].file)
			write_file(dir, cases[i].file, cases[i].text,
				   strlen(cases[i].text));
		if (cases[i].file2)
			write_file(dir, cases[i].file2, cases[i].text2,
				   strlen(cases[i].text2));
		CHECK(wl_detect(&plan, dir, NULL, NULL) == 0);
		CHECK_STR_OR_NULL(plan.node_pm, cases[i].pm);
		CHECK_STR_OR_NULL(plan.node_pm_version, cases[i].version);
		CHECK_STR_OR_NULL(plan.lockfile, cases[i].lockfile);
		CHECK_STR_OR_NULL(plan.yarn_path, cases[i].yarn_path);
		CHECK(has_evidence(&plan, cases[i].evidence));
		CHECK(plan.node_pm_dir_count == 0);
		if (wl_unit_failures != before) {
			fprintf(stderr, "  in case %zu (%s)\n", i, pkg);
			dump(&plan);
		}
		wl_build_plan_release(&plan);
		wl_fs_remove_tree(dir);
		free(pkg);
		free(dir);
	}
}

/* The settings and directories an install reads are copied before it. */
static void test_node_install_inputs(void)
{
	struct wl_build_plan plan;
	char *dir = make_tmp(), *sub = NULL;
	static const char pkg[] = "{\"scripts\": {\"start\": \"x\"}}";

	write_file(dir, "package.json", pkg, sizeof(pkg) - 1);
	write_file(dir, "yarn.lock", "__metadata:\n  version: 8\n", 25);
	write_file(dir, ".yarnrc.yml", "nodeLinker: node-modules\n", 25);
	write_file(dir, ".npmrc", "x=1\n", 4);
	if (asprintf(&sub, "%s/.yarn/plugins/@yarnpkg", dir) < 0)
		abort();
	CHECK(wl_fs_mkdir_p(sub, 0755) == 0);
	free(sub);
	if (asprintf(&sub, "%s/patches", dir) < 0)
		abort();
	CHECK(wl_fs_mkdir_p(sub, 0755) == 0);
	CHECK(wl_detect(&plan, dir, NULL, NULL) == 0);
	CHECK(plan.node_pm_config_count == 2 &&
	      !strcmp(plan.node_pm_config[0], ".npmrc") &&
	      !strcmp(plan.node_pm_config[1], ".yarnrc.yml"));
	CHECK(plan.node_pm_dir_count == 2 &&
	      !strcmp(plan.node_pm_dirs[0], ".yarn/plugins") &&
	      !strcmp(plan.node_pm_dirs[1], "patches"));
	wl_build_plan_release(&plan);
	wl_fs_remove_tree(dir);
	free(sub);
	free(dir);
}

/*
 * Python and Go versions against the local images (Python 3.11; Go 1.19,
 * the default, 1.22 and 1.23): what each file asks for picks a minor line,
 * or fails before building with what is needed, where it was read and
 * what there is.
 */
static void test_lang_versions(void)
{
	static const struct wl_base_images local = {
		.node = "worklet-local/node:24",
		.python = "worklet-local/python:3",
		.python_images = { { 3, 11, "worklet-local/python:3" } },
		.python_image_count = 1,
		.go = "worklet-local/go:1.19",
		.go_images = { { 1, 22, "worklet-local/go:1.22" },
			       { 1, 23, "worklet-local/go:1.23" } },
		.go_image_count = 2,
	};
	static const struct {
		const char *file, *text, *runtime_version;
		int rc, major, minor;
		const char *evidence; /* or the error */
	} cases[] = {
		{ NULL, NULL, NULL, 0, 3, 11,
		  "Python 3.11 (worklet-local/python:3, the default image): no "
		  "version asked for in .python-version, runtime.txt or "
		  "requires-python" },
		{ ".python-version", "3.11\n", NULL, 0, 3, 11,
		  "Python 3.11 (worklet-local/python:3): of the available "
		  "(3.11), it satisfies .python-version \"3.11\"" },
		{ ".python-version", "# pinned\n3.11.4\n", NULL, 0, 3, 11,
		  ".python-version \"3.11.4\"" },
		{ ".python-version", "3.13\n", NULL, WL_EUNSUPPORTED, 0, 0,
		  ".python-version \"3.13\": no Python image satisfies it "
		  "(available: 3.11); set spec.runtimeVersion, or configure an "
		  "image with WORKLET_IMAGE_PYTHON_<major>_<minor>" },
		{ "runtime.txt", "python-3.11.9\n", NULL, 0, 3, 11,
		  "runtime.txt \"3.11.9\"" },
		{ "runtime.txt", "python-3.12.1\n", NULL, WL_EUNSUPPORTED, 0, 0,
		  "runtime.txt \"3.12.1\": no Python image" },
		{ "pyproject.toml",
		  "[project]\nname = \"x\"\nrequires-python = "
		  "\">=3.9,<3.13\"\n",
		  NULL, 0, 3, 11,
		  "pyproject.toml requires-python \">=3.9,<3.13\"" },
		{ "pyproject.toml", "[project]\nrequires-python = '~=3.10'\n",
		  NULL, 0, 3, 11, "requires-python \"~=3.10\"" },
		{ "pyproject.toml", "[project]\nrequires-python = \">=3.12\"\n",
		  NULL, WL_EUNSUPPORTED, 0, 0,
		  "pyproject.toml requires-python \">=3.12\": no Python "
		  "image" },
		{ "pyproject.toml", "[project]\nrequires-python = \"<3.11\"\n",
		  NULL, WL_EUNSUPPORTED, 0, 0, "\"<3.11\": no Python image" },
		{ "pyproject.toml",
		  "[project]\nrequires-python = \">=3.8,!=3.11.*\"\n", NULL,
		  WL_EUNSUPPORTED, 0, 0, "no Python image" },
		{ ".python-version", "pypy3.10\n", NULL, 0, 3, 11,
		  "\"pypy3.10\" is not a Python version worklet understands" },
		{ ".python-version", "3.13\n", "3.11", 0, 3, 11,
		  "satisfies spec.runtimeVersion \"3.11\"" },
		/* Go: the go line is a minimum, toolchain the one used */
		{ "go.mod", "module x\n", NULL, 0, 1, 19,
		  "Go 1.19 (worklet-local/go:1.19, the default image): no "
		  "version asked for in go.mod" },
		{ "go.mod", "module x\n\ngo 1.18\n", NULL, 0, 1, 19,
		  "Go 1.19 (worklet-local/go:1.19): of the available (1.19, "
		  "1.22, 1.23), it satisfies go.mod go \"1.18\"" },
		{ "go.mod", "module x\n\ngo 1.22\n", NULL, 0, 1, 22,
		  "Go 1.22 (worklet-local/go:1.22): of the available (1.19, "
		  "1.22, 1.23), it satisfies go.mod go \"1.22\"" },
		{ "go.mod", "module x\n\ngo 1.21.0\n", NULL, 0, 1, 22,
		  "go.mod go \"1.21.0\"" },
		{ "go.mod", "module x\n\ngo 1.22.0\n\ntoolchain go1.23.4\n",
		  NULL, 0, 1, 23,
		  "satisfies go.mod go \"1.22.0\" and go.mod toolchain "
		  "\"1.23.4\"" },
		{ "go.mod", "module x\ngo 1.22\ntoolchain go1.25.1\n", NULL, 0,
		  1, 22,
		  "go.mod toolchain \"1.25.1\" is not met by Go 1.22: go.mod "
		  "go comes first" },
		{ "go.mod", "module x\n\ngo 1.24\n", NULL, WL_EUNSUPPORTED, 0,
		  0,
		  "go.mod go \"1.24\": no Go image satisfies it (available: "
		  "1.19, 1.22, 1.23); set spec.runtimeVersion, or configure an "
		  "image with WORKLET_IMAGE_GO_<major>_<minor>" },
		{ "go.mod", "module x\n\ngo 1.19\n", "1.23", 0, 1, 23,
		  "satisfies spec.runtimeVersion \"1.23\"" },
		{ "go.mod", "module x\n", "1.20", WL_EUNSUPPORTED, 0, 0,
		  "spec.runtimeVersion \"1.20\": no Go image" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct wl_build_plan plan;
		struct wl_spec spec;
		char *dir = make_tmp();
		int before = wl_unit_failures, rc;
		int go = cases[i].file && !strcmp(cases[i].file, "go.mod");

		if (go) {
			write_file(dir, "main.go", "package main\n", 13);
		} else {
			write_file(dir, "main.py", "print(1)\n", 9);
		}
		if (cases[i].file)
			write_file(dir, cases[i].file, cases[i].text,
				   strlen(cases[i].text));
		memset(&spec, 0, sizeof(spec));
		spec.runtime_version = (char *)cases[i].runtime_version;
		rc = wl_detect(&plan, dir, &spec, &local);
		CHECK(rc == cases[i].rc);
		if (rc < 0) {
			CHECK_CONTAINS(wl_error_last(), cases[i].evidence);
		} else {
			CHECK(plan.type ==
			      (go ? WL_PROJECT_GO : WL_PROJECT_PYTHON));
			CHECK(plan.lang_major == cases[i].major &&
			      plan.lang_minor == cases[i].minor);
			CHECK(has_evidence(&plan, cases[i].evidence));
		}
		if (wl_unit_failures != before) {
			fprintf(stderr, "  in case %zu (%s %s): rc %d '%s'\n",
				i, cases[i].file ? cases[i].file : "-",
				cases[i].text ? cases[i].text : "", rc,
				wl_error_last());
			dump(&plan);
		}
		wl_build_plan_release(&plan);
		wl_fs_remove_tree(dir);
		free(dir);
	}
}

/*
 * npm's range grammar reduced to major lines: does some release of the
 * major satisfy the request? (node-semver's documented examples, nvm's
 * aliases, and what package.json files in the wild write.)
 */
static void test_node_version_ranges(void)
{
	static const struct {
		const char *request;
		const char *allowed; /* of 16, 18, 20, 22, 24, 99, as 0/1 */
	} cases[] = {
		/* exact versions and x-ranges */
		{ "22", "000100" },
		{ "v20.11.1", "001000" },
		{ "20.x", "001000" },
		{ "18.X.x", "010000" },
		{ "*", "111111" },
		{ "", "111111" },
		{ "  22  ", "000100" },
		{ "=22.1", "000100" },
		{ "22.1.0-rc.1+build.5", "000100" },
		/* comparators, with or without a space after the operator */
		{ ">=18", "011111" },
		{ ">= 20.19.0", "001111" },
		{ ">20", "000111" },
		{ ">20.0.0", "001111" },
		{ ">=20.19 <23", "001100" },
		{ "<20", "110000" },
		{ "<=20", "111000" },
		{ "<=20.5", "111000" },
		{ "<20.0.0", "110000" },
		{ ">=99", "000001" },
		{ ">*", "000000" },
		/* caret and tilde */
		{ "^20.19.0", "001000" },
		{ "^22", "000100" },
		{ "~22.1.3", "000100" },
		{ "~18", "010000" },
		{ "~>20.1", "001000" },
		{ "^0.1.2", "000000" },
		/* unions and hyphen ranges */
		{ "^20.19.0 || >=22.12.0", "001111" },
		{ "18.x || 20.x", "011000" },
		{ "16 - 20", "111000" },
		{ "18.2 - 22.1", "011100" },
		{ "|| 24", "111111" },
		{ ">=16 <17 || >=24", "100011" },
		/* nvm's aliases */
		{ "lts/*", "111110" },
		{ "lts/iron", "001000" },
		{ "lts/Jod", "000100" },
		{ "lts/krypton", "000010" },
		{ "node", "111111" },
		{ "latest", "111111" },
		{ "stable", "111111" },
	};
	static const char *const bad[] = {
		">=",	  "22.1.2.3", "abc",	     "18 | 20",	    "^",
		"v",	  "1.2-beta", "lts/unknown", "20 -",	    "1.",
		">=18 <", "22\x01",   "1.2.3-",	     "99999999999",
	};
	static const int majors[] = { 16, 18, 20, 22, 24, 99 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		CHECK(wl_node_version_check(cases[i].request) == 0);
		for (size_t m = 0; m < sizeof(majors) / sizeof(*majors); m++) {
			int want = cases[i].allowed[m] == '1';
			int got = wl_node_version_allows(cases[i].request,
							 majors[m]);

			if (got != want) {
				fprintf(stderr,
					"  '%s' for %d: %d, want %d (%s)\n",
					cases[i].request, majors[m], got, want,
					wl_error_last());
				wl_unit_failures++;
			}
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (wl_node_version_check(bad[i]) != WL_EINVALID) {
			fprintf(stderr, "  '%s' accepted\n", bad[i]);
			wl_unit_failures++;
		}
		CHECK(wl_node_version_allows(bad[i], 22) == WL_EINVALID);
	}
	CHECK_CONTAINS(wl_error_last(), "is not a Node.js version range");
}

struct tree_file {
	const char *name, *data;
};

/*
 * The Node.js major chosen for a tree (package.json and version files)
 * and the images of four majors; the evidence names the file.
 */
static void test_node_runtime_choice(void)
{
	static const struct {
		const char *name;
		struct tree_file files[4];
		const char *runtime_version; /* spec.runtimeVersion */
		int rc, major;
		const char *evidence; /* or the error, when rc < 0 */
		const char *evidence2;
	} cases[] = {
		{ "nothing asked: the default image",
		  { { "package.json",
		      "{\"scripts\":{\"start\":\"node s\"}}" } },
		  .major = 0,
		  .evidence = "Node.js 24 (node:24-alpine, the default image): "
			      "no version asked for" },
		{ ".nvmrc",
		  { { "package.json", "{\"scripts\":{\"start\":\"node s\"}}" },
		    { ".nvmrc", "# team default\n\nv22.11.0\n" } },
		  .major = 22,
		  .evidence = "Node.js 22 (node:22-alpine): the highest "
			      "available (18, 20, 22, 24) that satisfies "
			      ".nvmrc \"v22.11.0\"" },
		{ ".node-version",
		  { { "package.json", "{\"main\":\"s.js\"}" },
		    { "s.js", "" },
		    { ".node-version", "20\n" } },
		  .major = 20,
		  .evidence = ".node-version \"20\"" },
		{ ".tool-versions (asdf)",
		  { { "package.json", "{\"main\":\"s.js\"}" },
		    { "s.js", "" },
		    { ".tool-versions",
		      "python 3.12.1\nnodejs 18.20.4 20.1\n" } },
		  .major = 18,
		  .evidence = ".tool-versions \"18.20.4\"" },
		{ "volta.node",
		  { { "package.json",
		      "{\"main\":\"s.js\",\"volta\":{\"node\":\"20.11.1\"}}" },
		    { "s.js", "" } },
		  .major = 20,
		  .evidence = "package.json volta.node \"20.11.1\"" },
		{ "engines.node: the highest that satisfies it",
		  { { "package.json", "{\"main\":\"s.js\",\"engines\":"
				      "{\"node\":\"^20.19.0 || >=22.12.0\"}}" },
		    { "s.js", "" } },
		  .major = 24,
		  .evidence = "package.json engines.node \"^20.19.0 || "
			      ">=22.12.0\"" },
		{ "engines.node and .nvmrc together",
		  { { "package.json", "{\"main\":\"s.js\",\"engines\":"
				      "{\"node\":\">=18\"}}" },
		    { "s.js", "" },
		    { ".nvmrc", "lts/iron" } },
		  .major = 20,
		  .evidence =
			  "satisfies package.json engines.node \">=18\" and "
			  ".nvmrc \"lts/iron\"" },
		{ "engines.node wins over a conflicting .nvmrc",
		  { { "package.json", "{\"main\":\"s.js\",\"engines\":"
				      "{\"node\":\">=20\"}}" },
		    { "s.js", "" },
		    { ".nvmrc", "18" } },
		  .major = 24,
		  .evidence = "satisfies package.json engines.node \">=20\"",
		  .evidence2 = ".nvmrc \"18\" is not met by Node.js 24: "
			       "package.json engines.node comes first" },
		{ "an .nvmrc nvm would not understand is ignored",
		  { { "package.json", "{\"main\":\"s.js\"}" },
		    { "s.js", "" },
		    { ".nvmrc", "iojs-v3\n" } },
		  .major = 0,
		  .evidence = ".nvmrc \"iojs-v3\" is not a Node.js version npm "
			      "or nvm understands: ignored",
		  .evidence2 = "the default image" },
		{ "spec.runtimeVersion overrides the repository",
		  { { "package.json", "{\"main\":\"s.js\",\"engines\":"
				      "{\"node\":\">=99\"}}" },
		    { "s.js", "" },
		    { ".nvmrc", "24" } },
		  .runtime_version = "20",
		  .major = 20,
		  .evidence = "satisfies spec.runtimeVersion \"20\"" },
		{ "engines.node that nothing satisfies",
		  { { "package.json", "{\"main\":\"s.js\",\"engines\":"
				      "{\"node\":\">=99\"}}" },
		    { "s.js", "" } },
		  .rc = WL_EUNSUPPORTED,
		  .evidence =
			  "package.json engines.node \">=99\": no Node.js "
			  "image satisfies it (available: 18, 20, 22, 24)" },
		{ "spec.runtimeVersion, a union",
		  { { "package.json", "{\"main\":\"s.js\"}" }, { "s.js", "" } },
		  .runtime_version = "16 || 18",
		  .major = 18,
		  .evidence = "spec.runtimeVersion \"16 || 18\"" },
		{ "spec.runtimeVersion that nothing satisfies",
		  { { "package.json", "{\"main\":\"s.js\"}" }, { "s.js", "" } },
		  .runtime_version = "21",
		  .rc = WL_EUNSUPPORTED,
		  .evidence = "spec.runtimeVersion \"21\": no Node.js image "
			      "satisfies it" },
		{ "spec.runtimeVersion on a Python project: its version",
		  { { "requirements.txt", "" }, { "main.py", "" } },
		  .runtime_version = "22",
		  .rc = WL_EUNSUPPORTED,
		  .evidence = "spec.runtimeVersion \"22\": no Python image "
			      "satisfies it" },
		{ "spec.runtimeVersion on a static site: ignored",
		  { { "index.html", "" } },
		  .runtime_version = "22",
		  .evidence = "spec.runtimeVersion applies to Node.js, Python "
			      "and Go projects: ignored" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct wl_build_plan plan;
		struct wl_spec spec;
		char *dir = make_tmp();
		int before = wl_unit_failures, rc;

		for (size_t f = 0; f < 4 && cases[i].files[f].name; f++)
			write_file(dir, cases[i].files[f].name,
				   cases[i].files[f].data,
				   strlen(cases[i].files[f].data));
		memset(&spec, 0, sizeof(spec));
		spec.runtime_version = (char *)cases[i].runtime_version;
		rc = wl_detect(&plan, dir, &spec, NULL);
		CHECK(rc == cases[i].rc);
		if (rc < 0) {
			CHECK_CONTAINS(wl_error_last(), cases[i].evidence);
		} else {
			CHECK(plan.node_major == cases[i].major);
			CHECK(has_evidence(&plan, cases[i].evidence));
			if (cases[i].evidence2)
				CHECK(has_evidence(&plan, cases[i].evidence2));
		}
		if (wl_unit_failures != before) {
			fprintf(stderr, "  in row %zu (%s): rc %d '%s'\n", i,
				cases[i].name, rc, wl_error_last());
			dump(&plan);
		}
		wl_build_plan_release(&plan);
		wl_fs_remove_tree(dir);
		free(dir);
	}
}

/*
 * The images configured decide what "available" means: a default image
 * whose major the table lacks counts; a missing major is not chosen.
 */
static void test_node_runtime_images(void)
{
	static const char pkg[] = "{\"main\":\"s.js\",\"engines\":"
				  "{\"node\":\">=20\"}}";
	struct wl_base_images im;
	struct wl_build_plan plan;
	char *dir = make_tmp();

	write_file(dir, "package.json", pkg, sizeof(pkg) - 1);
	write_file(dir, "s.js", "", 0);
	memset(&im, 0, sizeof(im));
	im.node = "reg/node:26";
	im.node_images[0] = (struct wl_node_image){ 18, "reg/node:18" };
	im.node_images[1] = (struct wl_node_image){ 22, "reg/node:22" };
	im.node_image_count = 2;
	CHECK(wl_detect(&plan, dir, NULL, &im) == 0);
	CHECK(plan.node_major == 26);
	CHECK(has_evidence(&plan, "Node.js 26 (reg/node:26): the highest "
				  "available (18, 22, 26)"));
	wl_build_plan_release(&plan);
	im.node = "reg/node:lts";
	CHECK(wl_detect(&plan, dir, NULL, &im) == 0);
	CHECK(plan.node_major == 22);
	wl_build_plan_release(&plan);
	im.node_image_count = 1;
	CHECK(wl_detect(&plan, dir, NULL, &im) == WL_EUNSUPPORTED);
	CHECK_CONTAINS(wl_error_last(), "(available: 18)");
	wl_fs_remove_tree(dir);
	free(dir);
}

/*
 * Start commands: a development server is not what serves a production
 * build (its output is served instead), and a Procfile's web: line is
 * honoured.
 */
static void test_node_start_commands(void)
{
	static const struct {
		const char *name;
		struct tree_file files[4];
		const char *spec_start;
		const char *framework, *argv, *spa_dir;
		const char *evidence;
	} cases[] = {
		{ "Create React App: react-scripts start after a build",
		  { { "package.json",
		      "{\"dependencies\":{\"react-scripts\":\"5.0.1\"},"
		      "\"scripts\":{\"start\":\"react-scripts start\","
		      "\"build\":\"react-scripts build\"}}" },
		    { "public/index.html", "<div id=root></div>" } },
		  .framework = "create-react-app",
		  .argv = "nginx -c /etc/worklet/nginx.conf -e stderr",
		  .spa_dir = "build",
		  .evidence = "a development server is not used after a "
			      "production build: scripts.start = \"react-"
			      "scripts start\"" },
		{ "cross-env before the dev server",
		  { { "package.json",
		      "{\"dependencies\":{\"react-scripts\":\"5.0.1\"},"
		      "\"scripts\":{\"start\":\"cross-env BROWSER=none PORT=1 "
		      "react-scripts start --foo\","
		      "\"build\":\"react-scripts build\"}}" } },
		  .framework = "create-react-app",
		  .argv = "nginx -c /etc/worklet/nginx.conf -e stderr",
		  .spa_dir = "build",
		  .evidence = "the build output 'build' is served" },
		{ "a start script that does more is the author's",
		  { { "package.json",
		      "{\"dependencies\":{\"react-scripts\":\"5.0.1\"},"
		      "\"scripts\":{\"start\":\"react-scripts start && x\","
		      "\"build\":\"react-scripts build\"}}" } },
		  .framework = "create-react-app",
		  .argv = "npm start",
		  .evidence = "scripts.start = \"react-scripts start && x\"" },
		{ "Vite: start is the dev server",
		  { { "package.json",
		      "{\"devDependencies\":{\"vite\":\"^8\"},\"scripts\":"
		      "{\"start\":\"vite --host\",\"build\":\"vite build\"}}" },
		    { "vite.config.ts", "" } },
		  .framework = "vite",
		  .argv = "nginx -c /etc/worklet/nginx.conf -e stderr",
		  .spa_dir = "dist",
		  .evidence = "scripts.start = \"vite --host\"" },
		{ "Vite: vite preview is not a dev server",
		  { { "package.json",
		      "{\"devDependencies\":{\"vite\":\"^8\"},\"scripts\":"
		      "{\"start\":\"vite preview\",\"build\":\"vite "
		      "build\"}}" },
		    { "vite.config.js", "" } },
		  .framework = "vite",
		  .argv = "npm start",
		  .evidence = "scripts.start = \"vite preview\"" },
		{ "Vite without a build script keeps its dev server",
		  { { "package.json",
		      "{\"devDependencies\":{\"vite\":\"^8\"},\"scripts\":"
		      "{\"start\":\"vite\"}}" },
		    { "vite.config.js", "" } },
		  .framework = "vite",
		  .argv = "npm start",
		  .evidence = "no build script, so the development server "
			      "runs" },
		{ "Vue CLI without a start script",
		  { { "package.json",
		      "{\"devDependencies\":{\"@vue/cli-service\":\"~5\"},"
		      "\"scripts\":{\"serve\":\"vue-cli-service serve\","
		      "\"build\":\"vue-cli-service build\"}}" },
		    { "public/index.html", "<div id=app></div>" } },
		  .framework = "vue-cli",
		  .argv = "nginx -c /etc/worklet/nginx.conf -e stderr",
		  .spa_dir = "dist",
		  .evidence = "package.json: no start script" },
		{ "Next.js: next dev is replaced by next start",
		  { { "package.json",
		      "{\"dependencies\":{\"next\":\"16\"},\"scripts\":"
		      "{\"start\":\"next dev --turbopack\",\"build\":"
		      "\"next build\"}}" } },
		  .framework = "next",
		  .argv = "npx next start -H 0.0.0.0 -p 3000",
		  .evidence = "scripts.start = \"next dev --turbopack\"" },
		{ "Procfile web: wins over the start script",
		  { { "package.json",
		      "{\"dependencies\":{\"react-scripts\":\"5.0.1\"},"
		      "\"scripts\":{\"start\":\"react-scripts start\","
		      "\"build\":\"react-scripts build\"}}" },
		    { "Procfile",
		      "release: echo hi\r\n  web :  npx serve -s build "
		      "-l $PORT \r\nworker: node w.js\n" } },
		  .argv = "/bin/sh -c exec npx serve -s build -l $PORT",
		  .evidence =
			  "Procfile: web: \"npx serve -s build -l $PORT\"" },
		{ "Procfile web: with shell operators runs as written",
		  { { "package.json", "{}" },
		    { "Procfile", "web: cd srv && node index.js\n" } },
		  .argv = "/bin/sh -c cd srv && node index.js",
		  .evidence = "through /bin/sh -c" },
		{ "Procfile without web: is not used",
		  { { "package.json", "{\"scripts\":{\"start\":\"node s\"}}" },
		    { "Procfile", "worker: node w.js\n" } },
		  .argv = "npm start",
		  .evidence = "scripts.start = \"node s\"" },
		{ "spec.startCommand runs a single-page app's dev server",
		  { { "package.json",
		      "{\"devDependencies\":{\"vite\":\"^8\"},\"scripts\":"
		      "{\"build\":\"vite build\"}}" },
		    { "vite.config.js", "" } },
		  .spec_start = "npx vite --host 0.0.0.0 --port $PORT",
		  .framework = "vite",
		  .argv = "npx vite --host 0.0.0.0 --port 3000",
		  .evidence =
			  "runs in its Node.js image, not served by nginx" },
		{ "spec.startCommand wins over the Procfile",
		  { { "package.json", "{}" },
		    { "Procfile", "web: node a.js\n" } },
		  .spec_start = "node b.js",
		  .argv = "node b.js",
		  .evidence = "spec.startCommand overrides" },
		{ "Procfile for Python",
		  { { "requirements.txt", "gunicorn\n" },
		    { "Procfile",
		      "web: gunicorn -b 0.0.0.0:$PORT wsgi:app\n" } },
		  .argv = "/bin/sh -c exec gunicorn -b 0.0.0.0:$PORT wsgi:app",
		  .evidence = "Procfile: its web: command starts the app" },
		{ "Procfile is not used for Go",
		  { { "go.mod", "module x\n" },
		    { "main.go", "package main\n" },
		    { "Procfile", "web: bin/x\n" } },
		  .argv = "/usr/local/bin/app",
		  .evidence = "Procfile: its web: command is not used for Go" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct wl_build_plan plan;
		struct wl_spec spec;
		char *dir = make_tmp(), *sub = NULL, *argv;
		int before = wl_unit_failures;

		if (asprintf(&sub, "%s/public", dir) < 0 ||
		    wl_fs_mkdir_p(sub, 0755) < 0)
			abort();
		free(sub);
		for (size_t f = 0; f < 4 && cases[i].files[f].name; f++)
			write_file(dir, cases[i].files[f].name,
				   cases[i].files[f].data,
				   strlen(cases[i].files[f].data));
		memset(&spec, 0, sizeof(spec));
		spec.start_command = (char *)cases[i].spec_start;
		CHECK(wl_detect(&plan, dir, &spec, NULL) == 0);
		argv = joined(&plan);
		CHECK_STR_OR_NULL(plan.framework, cases[i].framework);
		CHECK_STR(argv, cases[i].argv);
		CHECK_STR_OR_NULL(plan.spa_dir, cases[i].spa_dir);
		CHECK(has_evidence(&plan, cases[i].evidence));
		if (wl_unit_failures != before) {
			fprintf(stderr, "  in case %zu (%s): '%s'\n", i,
				cases[i].name, wl_error_last());
			dump(&plan);
		}
		free(argv);
		wl_build_plan_release(&plan);
		wl_fs_remove_tree(dir);
		free(dir);
	}
}

/*
 * Monorepos: spec.path, workspace roots, candidate apps, and starts known
 * to fail. Files are written in order; a name ending in '/' is a folder.
 */
static void test_monorepo(void)
{
	static const char ws_root[] =
		"{\"private\":true,\"workspaces\":[\"apps/*\",\"packages/*\"]}";
	static const char web[] =
		"{\"name\":\"web\",\"scripts\":{\"build\":\"node b.js\","
		"\"start\":\"node s.js\"},\"dependencies\":{\"lib\":\"1\"}}";
	static const char lib[] = "{\"name\":\"lib\",\"main\":\"index.js\"}";
	static const struct {
		const char *name;
		struct tree_file files[10];
		const char *path; /* spec.path */
		int rc;
		const char *failure;  /* plan.failure when rc < 0 */
		const char *text;     /* in the error, or in the evidence */
		const char *not_text; /* not in the error */
		const char *context_dir, *app_dir, *lockfile, *argv;
	} cases[] = {
		{ "npm workspace member: install at the root",
		  { { "package.json", ws_root },
		    { "package-lock.json", "{}" },
		    { "apps/", "" },
		    { "apps/web/", "" },
		    { "apps/web/package.json", web },
		    { "packages/", "" },
		    { "packages/lib/", "" },
		    { "packages/lib/package.json", lib } },
		  .path = "apps/web",
		  .text = "workspace root '.' (package.json workspaces): the "
			  "install runs there (npm, package-lock.json), the "
			  "build and start in 'apps/web'",
		  .app_dir = "apps/web",
		  .lockfile = "package-lock.json",
		  .argv = "npm start" },
		{ "pnpm workspace, path with ./ and a trailing slash",
		  { { "package.json", "{\"private\":true}" },
		    { "pnpm-workspace.yaml", "packages:\n  - 'apps/*'\n" },
		    { "pnpm-lock.yaml", "lockfileVersion: '9.0'\n" },
		    { "apps/", "" },
		    { "apps/web/", "" },
		    { "apps/web/package.json", web } },
		  .path = "./apps/web/",
		  .text = "workspace root '.' (pnpm-workspace.yaml)",
		  .app_dir = "apps/web",
		  .lockfile = "pnpm-lock.yaml",
		  .argv = "pnpm start" },
		{ "an app with its own lockfile is its own context",
		  { { "README.md", "x" },
		    { "apps/", "" },
		    { "apps/site/", "" },
		    { "apps/site/package.json", web },
		    { "apps/site/package-lock.json", "{}" } },
		  .path = "apps/site",
		  .text = "spec.path = 'apps/site'",
		  .context_dir = "apps/site",
		  .lockfile = "package-lock.json",
		  .argv = "npm start" },
		{ "a Python app in a folder",
		  { { "services/", "" },
		    { "services/api/", "" },
		    { "services/api/main.py", "print(1)\n" } },
		  .path = "services/api",
		  .context_dir = "services/api",
		  .text = "spec.path = 'services/api'",
		  .argv = "python3 main.py" },
		{ "a missing path is named",
		  { { "package.json", ws_root } },
		  .path = "apps/nope",
		  .rc = WL_ENOTFOUND,
		  .failure = "PathNotFound",
		  .text = "spec.path 'apps/nope': no such folder in the "
			  "repository" },
		{ "a file is not a folder",
		  { { "package.json", ws_root } },
		  .path = "package.json",
		  .rc = WL_ENOTFOUND,
		  .failure = "PathNotFound",
		  .text = "spec.path 'package.json': not a folder" },
		{ "a workspace-only root lists its apps, not its libraries",
		  { { "package.json", ws_root },
		    { "apps/", "" },
		    { "apps/web/", "" },
		    { "apps/web/package.json", web },
		    { "apps/docs/", "" },
		    { "apps/docs/index.html", "<p>docs</p>" },
		    { "packages/", "" },
		    { "packages/lib/", "" },
		    { "packages/lib/package.json", lib } },
		  .rc = WL_ENOTFOUND,
		  .failure = "ChooseAnApp",
		  .text = "the repository's root is a workspace with no app of "
			  "its own (package.json has workspaces and no start "
			  "script); the repository holds 2 app folders: "
			  "apps/docs, apps/web; set spec.path (REST app_path)",
		  .not_text = "packages/lib" },
		{ "a root with no marker files but app folders",
		  { { "README.md", "x" },
		    { "examples/", "" },
		    { "examples/go/", "" },
		    { "examples/go/go.mod", "module x\n" },
		    { "examples/py/", "" },
		    { "examples/py/requirements.txt", "flask\n" } },
		  .rc = WL_ENOTFOUND,
		  .failure = "ChooseAnApp",
		  .text = "no app at the repository's root; the repository "
			  "holds 2 app folders: examples/go, examples/py" },
		{ "a root with nothing at all",
		  { { "README.md", "x" } },
		  .rc = WL_ENOTFOUND,
		  .failure = "NoProjectFound",
		  .text = "no supported project found" },
		{ "a workspace root that starts something is an app",
		  { { "package.json",
		      "{\"workspaces\":[\"apps/*\"],\"scripts\":{\"start\":"
		      "\"node s.js\"}}" },
		    { "apps/", "" },
		    { "apps/web/", "" },
		    { "apps/web/package.json", web } },
		  .text = "package.json: scripts.start",
		  .argv = "npm start" },
		{ "Next.js with no build script stops before building",
		  { { "package.json",
		      "{\"dependencies\":{\"next\":\"16\"},\"scripts\":"
		      "{\"start\":\"next start\"}}" } },
		  .rc = WL_ECONFLICT,
		  .failure = "StartWillFail",
		  .text = "no build script: 'next start' would fail" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct wl_build_plan plan;
		struct wl_spec spec;
		char *dir = make_tmp(), *argv = NULL;
		int before = wl_unit_failures, rc;

		for (size_t f = 0; f < 10 && cases[i].files[f].name; f++) {
			const char *name = cases[i].files[f].name;
			char *sub = NULL;

			if (name[strlen(name) - 1] == '/') {
				if (asprintf(&sub, "%s/%s", dir, name) < 0 ||
				    mkdir(sub, 0755) < 0)
					abort();
				free(sub);
				continue;
			}
			write_file(dir, name, cases[i].files[f].data,
				   strlen(cases[i].files[f].data));
		}
		memset(&spec, 0, sizeof(spec));
		spec.path = (char *)cases[i].path;
		wl_error_clear();
		rc = wl_detect(&plan, dir, &spec, NULL);
		CHECK(rc == cases[i].rc);
		if (rc < 0) {
			CHECK_STR_OR_NULL(plan.failure, cases[i].failure);
			CHECK_CONTAINS(wl_error_last(), cases[i].text);
			if (cases[i].not_text)
				CHECK(!strstr(wl_error_last(),
					      cases[i].not_text));
		} else {
			argv = joined(&plan);
			CHECK(has_evidence(&plan, cases[i].text));
			CHECK_STR_OR_NULL(plan.context_dir,
					  cases[i].context_dir);
			CHECK_STR_OR_NULL(plan.app_dir, cases[i].app_dir);
			CHECK_STR_OR_NULL(plan.lockfile, cases[i].lockfile);
			CHECK_STR_OR_NULL(argv, cases[i].argv);
		}
		if (wl_unit_failures != before) {
			fprintf(stderr, "  in case %zu (%s): rc %d, '%s'\n", i,
				cases[i].name, rc, wl_error_last());
			dump(&plan);
		}
		free(argv);
		wl_build_plan_release(&plan);
		wl_fs_remove_tree(dir);
		free(dir);
	}
}

/* spec.path through a symlink that leaves the checkout is refused. */
static void test_path_symlink_outside(void)
{
	struct wl_build_plan plan;
	struct wl_spec spec;
	char *dir = make_tmp(), *out = make_tmp(), *link = NULL;

	if (asprintf(&link, "%s/app", dir) < 0)
		abort();
	write_file(out, "package.json", "{\"scripts\":{\"start\":\"x\"}}",
		   strlen("{\"scripts\":{\"start\":\"x\"}}"));
	CHECK(symlink(out, link) == 0);
	memset(&spec, 0, sizeof(spec));
	spec.path = (char *)"app";
	CHECK(wl_detect(&plan, dir, &spec, NULL) == WL_ENOTFOUND);
	CHECK_CONTAINS(wl_error_last(),
		       "spec.path 'app': leads outside the repository");
	CHECK_STR_OR_NULL(plan.failure, "PathNotFound");
	wl_fs_remove_tree(dir);
	wl_fs_remove_tree(out);
	free(link);
	free(dir);
	free(out);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_table),
		UNIT(test_node_version_ranges),
		UNIT(test_node_runtime_choice),
		UNIT(test_node_runtime_images),
		UNIT(test_node_start_commands),
		UNIT(test_node_package_managers),
		UNIT(test_lang_versions),
		UNIT(test_node_install_inputs),
		UNIT(test_no_spec),
		UNIT(test_to_detection),
		UNIT(test_symlink_not_followed),
		UNIT(test_manifest_bounded),
		UNIT(test_node_main_outside),
		UNIT(test_go_cmd_unsafe_name),
		UNIT(test_monorepo),
		UNIT(test_path_symlink_outside),
		{ 0 },
	};
	return wl_unit_run(tests);
}
