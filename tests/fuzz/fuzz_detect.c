/*
 * Project detection over generated trees (controller/detect.c), and the
 * Dockerfile generated from the plan (controller/dockerfile.c). The input
 * is decoded into a small file tree in a temp dir:
 *
 *   byte 0   spec.projectType (mod 6: auto, dockerfile, node, ...)
 *   byte 1   spec.containerPort / 97 (0: not set; 255: over 65535)
 *   then entries: a selector byte, [a name length byte and the name when
 *   the selector is free-form], a content length byte pair (big-endian,
 *   at most 4096), the content. Selectors name the marker files detection
 *   looks for; SEL_FREE is a free-form name (bytes outside [A-Za-z0-9._-/]
 *   become '_', ".." is broken up, at most 3 levels); SEL_START and
 *   SEL_DOCKERFILE put the content into spec.startCommand and
 *   spec.dockerfile instead of a file.
 *
 * At most 16 entries. Checked: a plan has a type and a port, a start
 * command unless it is the repo's Dockerfile, and a Dockerfile can be
 * generated from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller/detect.h"
#include "controller/dockerfile.h"
#include "specs/worklet.h"
#include "tests/fuzz/fuzz.h"

#define ENTRIES_MAX 16
#define CONTENT_MAX 4096
#define NAME_MAX_LEN 64

static const char *const markers[] = {
	"package.json",
	"package-lock.json",
	"npm-shrinkwrap.json",
	"yarn.lock",
	"pnpm-lock.yaml",
	"bun.lock",
	"vite.config.js",
	"vite.config.ts",
	"vite.config.mjs",
	"index.js",
	"server.js",
	"main.js",
	"app.js",
	"requirements.txt",
	"pyproject.toml",
	"Pipfile",
	"main.py",
	"app.py",
	"server.py",
	"start.py",
	"bot.py",
	"manage.py",
	"go.mod",
	"go.sum",
	"main.go",
	"main_test.go",
	"cmd/app/main.go",
	"cmd/tool/main.go",
	"index.html",
	"public/index.html",
	"dist/index.html",
	"Dockerfile",
	"docker/Dockerfile",
	"src/main.py",
	"src/index.js",
	"app/main.py",
};
#define MARKERS (sizeof(markers) / sizeof(markers[0]))
#define SEL_FREE 0xfd
#define SEL_START 0xfe
#define SEL_DOCKERFILE 0xff

static char base[256];

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_base(void)
{
	rmdir(base);
}

static int setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (base[0])
		return 0;
	/* tmpfs when there is one: thousands of trees a second */
	if (access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	else if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(base, sizeof(base), "%s/wl-fuzz-detect-XXXXXX", tmp);
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		abort();
	}
	atexit(remove_base);
	return 0;
}

/* A safe relative name: [A-Za-z0-9._-] and '/', no "..", <= 3 levels. */
static void clean_name(char *out, const unsigned char *in, size_t n)
{
	size_t o = 0, levels = 0;

	for (size_t i = 0; i < n && o < NAME_MAX_LEN; i++) {
		unsigned char c = in[i];

		if (c == '/') {
			if (o == 0 || out[o - 1] == '/' || ++levels >= 3)
				continue;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '.' || c == '-' ||
			     c == '_')) {
			c = '_';
		}
		/* no "." or ".." component */
		if (c == '.' && (o == 0 || out[o - 1] == '/'))
			c = '_';
		out[o++] = (char)c;
	}
	while (o && out[o - 1] == '/')
		o--;
	out[o] = '\0';
}

static void make_parents(const char *dir, const char *name)
{
	char path[512];

	for (const char *s = strchr(name, '/'); s; s = strchr(s + 1, '/')) {
		snprintf(path, sizeof(path), "%s/%.*s", dir, (int)(s - name),
			 name);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return;
	}
}

static void write_file(const char *dir, const char *name, const uint8_t *s,
		       size_t n)
{
	char path[512];
	int fd;

	make_parents(dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return; /* a name that is a directory already, say */
	if (n && write(fd, s, n) < 0)
		perror("write");
	close(fd);
}

static char *string_of(const uint8_t *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void check_plan(const struct wl_build_plan *p)
{
	struct wl_base_images images = { 0 };
	struct wl_generated g;
	struct wl_detection d;

	FUZZ_CHECK(p->type != WL_PROJECT_AUTO);
	FUZZ_CHECK(p->port > 0 && p->port <= 65535);
	if (p->type == WL_PROJECT_DOCKERFILE)
		FUZZ_CHECK(p->dockerfile && *p->dockerfile);
	else
		FUZZ_CHECK(p->start_argc > 0 && p->start_argv &&
			   p->start_argv[0]);
	memset(&d, 0, sizeof(d));
	FUZZ_CHECK(wl_build_plan_to_detection(&d, p) == 0);
	FUZZ_CHECK(d.type == p->type);
	wl_detection_release(&d);
	memset(&g, 0, sizeof(g));
	if (wl_dockerfile_generate(&g, p, &images) == 0)
		FUZZ_CHECK(g.dockerfile != NULL);
	wl_generated_release(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wl_build_plan plan;
	struct wl_spec spec;
	char dir[300], name[NAME_MAX_LEN + 1];
	size_t i = 2;
	int entries = 0;

	if (size < 2)
		return 0;
	setup();
	snprintf(dir, sizeof(dir), "%s/t", base);
	if (mkdir(dir, 0755) < 0) {
		perror(dir);
		abort();
	}
	memset(&spec, 0, sizeof(spec));
	spec.project_type = (enum wl_project_type)(data[0] % 6);
	spec.container_port = data[1] == 255 ? 70000 : data[1] * 97;
	while (i < size && entries++ < ENTRIES_MAX) {
		unsigned sel = data[i++];
		size_t n;

		name[0] = '\0';
		if (sel == SEL_FREE) {
			size_t nlen;

			if (i >= size)
				break;
			nlen = data[i++];
			if (nlen > size - i)
				nlen = size - i;
			clean_name(name, data + i, nlen);
			i += nlen;
		} else if (sel < SEL_FREE) {
			snprintf(name, sizeof(name), "%s",
				 markers[sel % MARKERS]);
		}
		if (size - i < 2)
			break;
		n = (size_t)data[i] << 8 | data[i + 1];
		i += 2;
		if (n > CONTENT_MAX)
			n = CONTENT_MAX;
		if (n > size - i)
			n = size - i;
		if (sel == SEL_START) {
			free(spec.start_command);
			spec.start_command = string_of(data + i, n);
		} else if (sel == SEL_DOCKERFILE) {
			free(spec.dockerfile);
			spec.dockerfile = string_of(data + i, n);
		} else if (name[0]) {
			write_file(dir, name, data + i, n);
		}
		i += n;
	}
	if (wl_detect(&plan, dir, &spec, NULL) == 0) {
		check_plan(&plan);
		wl_build_plan_release(&plan);
	}
	wl_spec_release(&spec);
	rm_tree(dir);
	return 0;
}
