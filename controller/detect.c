/*
 * Project detection: marker files in a fixed order, after Railpack and
 * Nixpacks (../shared/notes/detection.md). Every decision adds a line of
 * evidence so a user can see why a plan was chosen.
 *
 * Only files at fixed names are read, each opened relative to the
 * checkout with O_NOFOLLOW and bounded in size, so a hostile repository
 * cannot make us read outside the tree (a symlinked package.json) or
 * allocate without bound.
 *
 * Strings that reach the generated Dockerfile in shell or path positions
 * (lockfile names, the Go target, module names) come either from fixed
 * lists or are checked against a conservative character set here; the
 * start command is exec-form JSON, escaped by the generator.
 *
 * Pure and thread-safe: no globals, no logging.
 */
#include "controller/detect.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/node_version.h"
#include "specs/core/banned.h"

#define DEFAULT_PORT 3000
#define MANIFEST_MAX (1024 * 1024) /* package.json, requirements.txt, ... */
#define SOURCE_MAX (1024 * 1024)   /* a Python main file scanned for app = */
#define EVIDENCE_LEN 300	   /* one evidence line, before "..." */
#define QUOTED_MAX 120		   /* a quoted value inside evidence */
#define PROCFILE_MAX 4096	   /* a Procfile's web: command */

/* What every provider reads: the checkout, the spec, the images. */
struct ctx {
	int dfd;
	const struct wl_spec *spec;	     /* may be NULL */
	const struct wl_base_images *images; /* never NULL */
	const char *procfile_web; /* Procfile's web: command, or NULL */
	const char **failure;	  /* set with a reason on a known failure */
	int ws_dfd;		  /* spec.path's workspace root, or -1 */
	int *ws_used;		  /* set when a Node plan installs there */
};

/* The nginx command of static and single-page plans (see dockerfile.c). */
static const char *const nginx_argv[] = { "nginx", "-c",
					  "/etc/worklet/nginx.conf", "-e",
					  "stderr" };

static const char *const python_main_files[] = { "main.py", "app.py",
						 "start.py", "bot.py",
						 "server.py" };
static const char *const node_start_files[] = { "server.js", "app.js",
						"main.js", "index.js" };

/* ---- small helpers ---------------------------------------------------- */

static int oom(void)
{
	wl_error_set("out of memory");
	return WL_ERROR;
}

/* 1 if rel (relative to dfd, no symlink in the last component) is a file. */
static int is_file(int dfd, const char *rel)
{
	struct stat st;

	return fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

static int is_dir(int dfd, const char *rel)
{
	struct stat st;

	return fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

/*
 * Read rel (a regular file, not a symlink) into out, at most max bytes.
 * WL_ENOTFOUND when it is absent or not a regular file.
 */
static int read_file(struct wl_buf *out, int dfd, const char *rel, size_t max)
{
	struct stat st;
	char chunk[8192];
	int fd, error = 0;

	wl_buf_init(out, max);
	fd = openat(dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
			return WL_ENOTFOUND;
		wl_error_set("cannot open '%s': %s", rel, strerror(errno));
		return WL_ERROR;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return WL_ENOTFOUND;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			wl_error_set("cannot read '%s': %s", rel,
				     strerror(errno));
			error = WL_ERROR;
			break;
		}
		if (n == 0)
			break;
		if (wl_buf_add(out, chunk, (size_t)n) < 0) {
			wl_error_set("'%s' is larger than %zu bytes", rel, max);
			error = WL_ETOOBIG;
			break;
		}
	}
	close(fd);
	if (error)
		wl_buf_release(out);
	return error;
}

/* A copy of s, quoted for an evidence line: escapes, at most QUOTED_MAX. */
static void quote_into(struct wl_buf *b, const char *s)
{
	size_t n = 0;

	wl_buf_putc(b, '"');
	for (; *s && n < QUOTED_MAX; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			wl_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			wl_buf_printf(b, "\\x%02x", c);
		else
			wl_buf_putc(b, (char)c);
	}
	if (*s)
		wl_buf_puts(b, "...");
	wl_buf_putc(b, '"');
}

static int evidence_vadd(struct wl_build_plan *p, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static int evidence_add(struct wl_build_plan *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Add a line of evidence; past WL_EVIDENCE_MAX lines, drop it silently. */
static int evidence_vadd(struct wl_build_plan *p, const char *fmt, va_list ap)
{
	struct wl_buf b;
	char **grown;
	va_list again;

	if (p->evidence_count >= WL_EVIDENCE_MAX)
		return 0;
	wl_buf_init(&b, EVIDENCE_LEN + 4);
	va_copy(again, ap);
	if (wl_buf_vprintf(&b, fmt, ap) == WL_ETOOBIG) {
		/* too long: keep a truncated line rather than nothing */
		char *tmp = NULL;

		if (vasprintf(&tmp, fmt, again) >= 0) {
			wl_buf_add(&b, tmp, EVIDENCE_LEN);
			wl_buf_puts(&b, "...");
			free(tmp);
		}
	}
	va_end(again);
	wl_error_clear();
	grown = realloc(p->evidence,
			(p->evidence_count + 1) * sizeof(*p->evidence));
	if (!grown) {
		wl_buf_release(&b);
		return oom();
	}
	p->evidence = grown;
	p->evidence[p->evidence_count++] = wl_buf_detach(&b, NULL);
	return p->evidence[p->evidence_count - 1] ? 0 : oom();
}

static int evidence_add(struct wl_build_plan *p, const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = evidence_vadd(p, fmt, ap);
	va_end(ap);
	return error;
}

static int argv_push(struct wl_build_plan *p, const char *arg)
{
	char **grown;
	char *copy = strdup(arg);

	if (!copy)
		return oom();
	grown = realloc(p->start_argv,
			(p->start_argc + 2) * sizeof(*p->start_argv));
	if (!grown) {
		free(copy);
		return oom();
	}
	p->start_argv = grown;
	p->start_argv[p->start_argc++] = copy;
	p->start_argv[p->start_argc] = NULL;
	return 0;
}

static int argv_set(struct wl_build_plan *p, const char *const *argv,
		    size_t argc)
{
	for (size_t i = 0; i < argc; i++)
		if (argv_push(p, argv[i]) < 0)
			return WL_ERROR;
	return 0;
}

static int plan_start(struct wl_build_plan *p, const char *const *argv,
		      size_t argc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Set the start command, with a line of evidence saying why. */
static int plan_start(struct wl_build_plan *p, const char *const *argv,
		      size_t argc, const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = evidence_vadd(p, fmt, ap);
	va_end(ap);
	return error < 0 ? error : argv_set(p, argv, argc);
}

static void argv_clear(struct wl_build_plan *p)
{
	for (size_t i = 0; i < p->start_argc; i++)
		free(p->start_argv[i]);
	free(p->start_argv);
	p->start_argv = NULL;
	p->start_argc = 0;
}

static int set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : oom();
}

/* The argv as one human-readable line, for evidence and status. */
static char *argv_join(char *const *argv, size_t argc)
{
	struct wl_buf b;

	wl_buf_init(&b, 64 * 1024);
	for (size_t i = 0; i < argc; i++) {
		if (i)
			wl_buf_putc(&b, ' ');
		wl_buf_puts(&b, argv[i]);
	}
	return wl_buf_detach(&b, NULL);
}

/*
 * A name that is safe as a path or module component in a generated
 * Dockerfile: [A-Za-z0-9._-], not starting with '-' or '.'.
 */
static int safe_name(const char *s)
{
	if (!*s || *s == '-' || *s == '.')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return 0;
	return 1;
}

static int python_identifier(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* ---- Dockerfile --------------------------------------------------------- */

/* The port of the first "EXPOSE n" line, 0 if none. */
static int dockerfile_expose(const char *text)
{
	const char *line = text;

	while (line && *line) {
		const char *s = line;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!strncasecmp(s, "EXPOSE", 6) &&
		    (s[6] == ' ' || s[6] == '\t')) {
			char *end;
			long v;

			s += 6;
			while (*s == ' ' || *s == '\t')
				s++;
			errno = 0;
			v = strtol(s, &end, 10);
			if (!errno && end != s && v > 0 && v <= 65535 &&
			    (*end == '\0' || *end == '/' ||
			     isspace((unsigned char)*end)))
				return (int)v;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return 0;
}

static int detect_dockerfile(struct wl_build_plan *p, int dfd, const char *path,
			     const char *why, int port_set)
{
	struct wl_buf text;
	int error, expose;

	error = read_file(&text, dfd, path, MANIFEST_MAX);
	if (error == WL_ENOTFOUND) {
		wl_error_set("dockerfile '%s' not found in the repository",
			     path);
		return WL_ENOTFOUND;
	}
	if (error < 0)
		return error;
	p->type = WL_PROJECT_DOCKERFILE;
	if (set_str(&p->dockerfile, path) < 0 ||
	    evidence_add(p, "%s: using the repository's own '%s'", why, path) <
		    0) {
		wl_buf_release(&text);
		return WL_ERROR;
	}
	expose = dockerfile_expose(wl_buf_cstr(&text));
	wl_buf_release(&text);
	if (expose && !port_set) {
		p->port = expose;
		return evidence_add(p, "%s: EXPOSE %d (container port)", path,
				    expose);
	}
	return 0;
}

/* ---- Node -----------------------------------------------------------------
 */

static const char *json_string(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int json_has_dep(const cJSON *root, const char *name)
{
	static const char *const sections[] = { "dependencies",
						"devDependencies" };

	for (size_t i = 0; i < sizeof(sections) / sizeof(*sections); i++) {
		const cJSON *deps =
			cJSON_GetObjectItemCaseSensitive(root, sections[i]);

		if (cJSON_IsObject(deps) &&
		    cJSON_GetObjectItemCaseSensitive(deps, name))
			return 1;
	}
	return 0;
}

/* ---- Node: the package manager ------------------------------------------ */

static int evidence_quoted(struct wl_build_plan *p, const char *prefix,
			   const char *value);

/*
 * The version of each package manager worklet installs when package.json's
 * packageManager names none: the one that writes the lockfile's format
 * (never a moving "latest"). format is what the lockfile says: pnpm's
 * lockfileVersion up to its first '.', yarn's "v1" header or berry's
 * __metadata version, bun's "text"/"binary". Checked on the npm registry on
 * 2026-12-07: the last release of each line.
 */
static const struct pm_pin {
	const char *pm;
	const char *format;
	const char *version;
	const char *writer; /* who writes this format, for the evidence */
} pm_pins[] = {
	{ "pnpm", "5.3", "6.35.1", "pnpm 6" },
	{ "pnpm", "5.4", "7.33.7", "pnpm 7" },
	{ "pnpm", "6", "8.15.9", "pnpm 8" },
	/* pnpm 11 and 12 write 9.0 too, but were seen to crash on Node 20 */
	{ "pnpm", "9", "10.34.9", "pnpm 9 to 12" },
	{ "yarn", "v1", "1.22.22", "yarn 1 (classic)" },
	{ "yarn", "4", "2.4.2", "yarn 2" },
	{ "yarn", "6", "3.8.7", "yarn 3" },
	{ "yarn", "8", "4.18.1", "yarn 4" },
	{ "bun", "binary", "1.1.45", "bun before 1.2" },
	{ "bun", "text", "1.4.5", "bun 1.2 and later" },
};

/* The pin for format; the newest of pm's when the format is unknown. */
static const struct pm_pin *pm_pin_find(const char *pm, const char *format,
					int *known)
{
	const struct pm_pin *last = NULL;

	*known = 0;
	for (size_t i = 0; i < sizeof(pm_pins) / sizeof(*pm_pins); i++) {
		if (strcmp(pm_pins[i].pm, pm))
			continue;
		last = &pm_pins[i];
		if (format && !strcmp(pm_pins[i].format, format)) {
			*known = 1;
			return last;
		}
	}
	return last;
}

/* An exact version as packageManager spells it: 9.15.0, 4.0.0-rc.42. */
static int exact_version(const char *s, size_t n)
{
	int dots = 0;

	if (!n || !isdigit((unsigned char)*s) || n > 40)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.')
			dots++;
		else if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	}
	return dots >= 2;
}

/*
 * The lockfile's format, into out: pnpm-lock.yaml's lockfileVersion
 * ("9.0" -> "9", "5.4" -> "5.4", "6.1" -> "6"), yarn.lock's "v1" header or
 * berry's __metadata version ("8"). Empty when it cannot be told.
 */
static void lock_format(char *out, size_t outlen, int dfd, const char *file)
{
	struct wl_buf text;
	const char *s, *v;
	size_t n;

	out[0] = '\0';
	if (read_file(&text, dfd, file, 64 * 1024 * 1024) < 0) {
		wl_error_clear();
		return;
	}
	s = wl_buf_cstr(&text);
	if (!strcmp(file, "pnpm-lock.yaml") &&
	    (v = strstr(s, "lockfileVersion:"))) {
		v += strlen("lockfileVersion:");
		v += strspn(v, " \t'\"");
		n = strspn(v, "0123456789.");
		/* 5.3 and 5.4 are two formats; from 6.0 on, the major */
		if (n && strncmp(v, "5.", 2) && memchr(v, '.', n))
			n = (size_t)((const char *)memchr(v, '.', n) - v);
		if (n && n < outlen)
			snprintf(out, outlen, "%.*s", (int)n, v);
	} else if (!strcmp(file, "yarn.lock")) {
		if (strstr(s, "# yarn lockfile v1")) {
			snprintf(out, outlen, "v1");
		} else if ((v = strstr(s, "__metadata:")) &&
			   (v = strstr(v, "version:"))) {
			long ver;

			v += strlen("version:");
			ver = strtol(v, NULL, 10);
			/* 4 is yarn 2's, 5-6 yarn 3's, 7 and later yarn 4's */
			snprintf(out, outlen, "%s",
				 ver <= 0   ? ""
				 : ver <= 4 ? "4"
				 : ver <= 6 ? "6"
					    : "8");
		}
	}
	wl_buf_release(&text);
}

/*
 * .yarnrc.yml's yarnPath into *out (a path inside the checkout that is a
 * file), else NULL. A path that leaves the checkout, or has characters a
 * Dockerfile line cannot carry, is reported and ignored.
 */
static int yarn_path(struct wl_build_plan *p, int dfd, char **out)
{
	struct wl_buf text;
	const char *line;
	int error;

	*out = NULL;
	error = read_file(&text, dfd, ".yarnrc.yml", MANIFEST_MAX);
	if (error == WL_ENOTFOUND || error == WL_ETOOBIG) {
		wl_error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	for (line = wl_buf_cstr(&text); line && *line;) {
		const char *end = strchr(line, '\n'), *s;
		size_t n;

		if (!strncmp(line, "yarnPath:", 9)) {
			s = line + 9;
			s += strspn(s, " \t\"'");
			n = strcspn(s, "\"'\r\n#");
			while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
				n--;
			if (!(*out = strndup(s, n))) {
				error = oom();
				break;
			}
			if (!**out || **out == '/' || strstr(*out, "..") ||
			    strspn(*out, "abcdefghijklmnopqrstuvwxyz"
					 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "0123456789._/-") != n ||
			    !is_file(dfd, *out)) {
				error = evidence_quoted(
					p,
					".yarnrc.yml: yarnPath is not a file "
					"in the repository, ignored: ",
					*out);
				free(*out);
				*out = NULL;
			}
			break;
		}
		line = end ? end + 1 : NULL;
	}
	wl_buf_release(&text);
	return error;
}

/*
 * The package manager and its exact version: packageManager
 * ("pnpm@8.15.0+sha512..."), else the lockfile and its format, else npm.
 * The install settings that sit next to the manifests are copied with
 * them.
 */
static int node_package_manager(struct wl_build_plan *p, int dfd,
				const cJSON *root)
{
	static const struct {
		const char *file, *pm;
	} locks[] = {
		{ "pnpm-lock.yaml", "pnpm" },
		{ "yarn.lock", "yarn" },
		{ "bun.lock", "bun" },
		{ "bun.lockb", "bun" },
		{ "package-lock.json", "npm" },
		{ "npm-shrinkwrap.json", "npm" },
	};
	static const char *const configs[] = { ".npmrc", ".yarnrc",
					       ".yarnrc.yml", "bunfig.toml" };
	/*
	 * What an install reads besides the manifests: the plugins
	 * .yarnrc.yml loads, yarn's patch: protocol files, and patches/
	 * (pnpm's patchedDependencies, patch-package at postinstall).
	 */
	static const char *const dirs[] = { ".yarn/plugins", ".yarn/patches",
					    "patches" };
	const char *field = json_string(root, "packageManager");
	const char *pm = NULL, *why = NULL;
	char version[48] = "", format[16];
	const struct pm_pin *pin;
	struct wl_buf q;
	int error = 0, known;

	wl_buf_init(&q, 1024);
	if (field) {
		static const char *const names[] = { "npm", "yarn", "pnpm",
						     "bun" };
		size_t n = strcspn(field, "@");
		const char *v = field[n] ? field + n + 1 : "";
		size_t vn = strcspn(v, "+");

		for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
			if (n == strlen(names[i]) &&
			    !strncmp(field, names[i], n))
				pm = names[i];
		quote_into(&q, field);
		if (!pm) {
			pm = "npm";
			error = evidence_add(p,
					     "package.json: packageManager = "
					     "%s is not supported, using npm",
					     wl_buf_cstr(&q));
		} else if (exact_version(v, vn)) {
			snprintf(version, sizeof(version), "%.*s", (int)vn, v);
			why = "package.json packageManager";
		} else {
			error = evidence_add(p,
					     "package.json: packageManager = "
					     "%s names no exact version: the "
					     "lockfile decides",
					     wl_buf_cstr(&q));
		}
		if (error < 0)
			goto done;
	}
	for (size_t i = 0; i < sizeof(locks) / sizeof(*locks); i++) {
		if (!is_file(dfd, locks[i].file))
			continue;
		if (!pm) {
			pm = locks[i].pm;
			if ((error = evidence_add(p, "%s: package manager %s",
						  locks[i].file, pm)) < 0)
				goto done;
		}
		if (!strcmp(pm, locks[i].pm)) {
			if ((error = set_str(&p->lockfile, locks[i].file)) < 0)
				goto done;
			break;
		}
	}
	if (!pm) {
		pm = "npm";
		if ((error = evidence_add(p, "no lockfile: package manager "
					     "npm")) < 0)
			goto done;
	}
	if ((error = set_str(&p->node_pm, pm)) < 0)
		goto done;
	for (size_t i = 0; i < sizeof(configs) / sizeof(*configs); i++)
		if (is_file(dfd, configs[i]) &&
		    p->node_pm_config_count < WL_NODE_PM_CONFIG_MAX)
			p->node_pm_config[p->node_pm_config_count++] =
				configs[i];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
		if (is_dir(dfd, dirs[i]) &&
		    p->node_pm_dir_count < WL_NODE_PM_CONFIG_MAX)
			p->node_pm_dirs[p->node_pm_dir_count++] = dirs[i];

	if (!strcmp(pm, "npm")) {
		if (*version)
			error = evidence_add(p,
					     "npm %s named by packageManager: "
					     "building with the image's own "
					     "npm",
					     version);
		goto done;
	}
	if (!strcmp(pm, "yarn") &&
	    (error = yarn_path(p, dfd, &p->yarn_path)) < 0)
		goto done;
	if (!*version) {
		if (p->lockfile && !strncmp(p->lockfile, "bun.", 4))
			snprintf(format, sizeof(format), "%s",
				 strcmp(p->lockfile, "bun.lockb") ? "text"
								  : "binary");
		else if (p->lockfile)
			lock_format(format, sizeof(format), dfd, p->lockfile);
		else
			format[0] = '\0';
		pin = pm_pin_find(pm, format, &known);
		snprintf(version, sizeof(version), "%s", pin->version);
		wl_buf_reset(&q);
		if (!p->lockfile)
			wl_buf_printf(&q, "no lockfile: the newest pinned");
		else if (!strncmp(p->lockfile, "bun.", 4))
			wl_buf_printf(&q, "%s: written by %s", p->lockfile,
				      pin->writer);
		else if (known && !strcmp(pm, "pnpm"))
			wl_buf_printf(&q,
				      "%s lockfileVersion %s: written by %s",
				      p->lockfile, format, pin->writer);
		else if (known && !strcmp(format, "v1"))
			wl_buf_printf(&q,
				      "%s \"yarn lockfile v1\": written "
				      "by %s",
				      p->lockfile, pin->writer);
		else if (known)
			wl_buf_printf(&q, "%s __metadata: written by %s",
				      p->lockfile, pin->writer);
		else
			wl_buf_printf(&q,
				      "%s: format not recognised, the newest "
				      "pinned",
				      p->lockfile);
		why = wl_buf_cstr(&q);
	}
	if ((error = set_str(&p->node_pm_version, version)) < 0)
		goto done;
	if (p->yarn_path)
		error = evidence_add(p,
				     "package manager yarn %s (%s); "
				     ".yarnrc.yml yarnPath %s is that "
				     "yarn, run with node",
				     version, why, p->yarn_path);
	else
		error = evidence_add(p, "package manager %s %s (%s)", pm,
				     version, why);
done:
	wl_buf_release(&q);
	return error;
}

static int has_vite_config(int dfd, const char **which)
{
	static const char *const names[] = {
		"vite.config.js",  "vite.config.ts",  "vite.config.mjs",
		"vite.config.mts", "vite.config.cjs", "vite.config.cts"
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (is_file(dfd, names[i])) {
			*which = names[i];
			return 1;
		}
	return 0;
}

static int evidence_quoted(struct wl_build_plan *p, const char *prefix,
			   const char *value)
{
	struct wl_buf q;
	int error;

	wl_buf_init(&q, 1024);
	quote_into(&q, value);
	error = evidence_add(p, "%s%s", prefix, wl_buf_cstr(&q));
	wl_buf_release(&q);
	return error;
}

/* ---- Node: the runtime version ------------------------------------------ */

#define VERSION_FILE_MAX 4096 /* .nvmrc, .node-version, .tool-versions */
#define VERSION_REQUESTS_MAX 6

/* A version request and where it was read ("package.json engines.node"). */
struct version_request {
	const char *where;
	char *value;
};

struct version_requests {
	struct version_request r[VERSION_REQUESTS_MAX];
	size_t n;
};

static void requests_release(struct version_requests *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->r[i].value);
	q->n = 0;
}

/* `where "value"`, for evidence and messages. */
static void request_describe(struct wl_buf *b, const struct version_request *r)
{
	wl_buf_printf(b, "%s ", r->where);
	quote_into(b, r->value);
}

/*
 * Add value[0..n) read from where. Blank: nothing was asked. A request
 * neither npm nor nvm would understand is reported and skipped, unless
 * strict (spec.runtimeVersion, which validation checked already).
 */
static int request_add(struct wl_build_plan *p, struct version_requests *q,
		       const char *where, const char *value, size_t n,
		       int strict)
{
	struct version_request r = { where, NULL };
	struct wl_buf b;
	int error;

	while (n && isspace((unsigned char)*value)) {
		value++;
		n--;
	}
	while (n && isspace((unsigned char)value[n - 1]))
		n--;
	if (!n || q->n == VERSION_REQUESTS_MAX)
		return 0;
	if (!(r.value = strndup(value, n)))
		return oom();
	if (wl_node_version_check(r.value) == 0) {
		q->r[q->n++] = r;
		return 0;
	}
	if (strict) {
		wl_error_prefix("%s", where);
		free(r.value);
		return WL_EINVALID;
	}
	wl_error_clear();
	wl_buf_init(&b, 1024);
	request_describe(&b, &r);
	error = evidence_add(p,
			     "%s is not a Node.js version npm or nvm "
			     "understands: ignored",
			     wl_buf_cstr(&b));
	wl_buf_release(&b);
	free(r.value);
	return error;
}

/*
 * The first meaningful line of a version file (.nvmrc, .node-version):
 * comments (#) and blanks skipped. For .tool-versions (tool set), the
 * version on the line of that tool ("nodejs 22.11.0").
 */
static int request_from_file(struct wl_build_plan *p,
			     struct version_requests *q, int dfd,
			     const char *file, const char *const *tools)
{
	struct wl_buf text;
	const char *line;
	int error = read_file(&text, dfd, file, VERSION_FILE_MAX);

	if (error == WL_ENOTFOUND)
		return 0;
	if (error == WL_ETOOBIG) {
		wl_error_clear();
		return evidence_add(p, "%s is larger than %d bytes: ignored",
				    file, VERSION_FILE_MAX);
	}
	if (error < 0)
		return error;
	for (line = wl_buf_cstr(&text); line && *line;) {
		const char *end = strchr(line, '\n'), *s = line;
		size_t n = end ? (size_t)(end - line) : strlen(line);
		size_t hash = strcspn(line, "#\n");

		if (hash < n)
			n = hash;
		while (n && isspace((unsigned char)*s)) {
			s++;
			n--;
		}
		if (n && tools) {
			size_t w = strcspn(s, " \t#\r\n");
			int ours = 0;

			for (size_t i = 0; tools[i]; i++)
				ours |= w == strlen(tools[i]) &&
					!strncmp(s, tools[i], w);
			if (!ours || w >= n) {
				n = 0;
			} else {
				/* the first version listed is the one used */
				s += w;
				n -= w;
				while (n && isspace((unsigned char)*s)) {
					s++;
					n--;
				}
				n = strcspn(s, " \t#\r\n") < n
					    ? strcspn(s, " \t#\r\n")
					    : n;
			}
		}
		if (n) {
			error = request_add(p, q, file, s, n, 0);
			break;
		}
		line = end ? end + 1 : NULL;
	}
	wl_buf_release(&text);
	return error;
}

/* 1 if major satisfies the first k requests. */
static int satisfies(const struct version_requests *q, size_t k, int major)
{
	for (size_t i = 0; i < k; i++)
		if (wl_node_version_allows(q->r[i].value, major) != 1)
			return 0;
	return 1;
}

/* The highest of majors[0..count) that satisfies the first k; 0: none. */
static int highest(const struct version_requests *q, size_t k,
		   const int *majors, size_t count)
{
	for (size_t i = count; i > 0; i--)
		if (satisfies(q, k, majors[i - 1]))
			return majors[i - 1];
	return 0;
}

/*
 * Choose the Node.js major to build with (p->node_major), with evidence.
 * WL_EUNSUPPORTED when no image satisfies the first request.
 */
static int node_runtime(struct wl_build_plan *p, const struct ctx *c,
			const cJSON *root)
{
	static const char *const tool_names[] = { "nodejs", "node", NULL };
	struct version_requests q = { 0 };
	struct wl_buf avail, asked;
	int majors[WL_NODE_IMAGES_MAX + 1], major, error = 0;
	size_t count = wl_base_images_node_majors(
		c->images, majors, sizeof(majors) / sizeof(*majors));
	const cJSON *obj;
	const char *v;

	wl_buf_init(&avail, 1024);
	wl_buf_init(&asked, 4096);
	for (size_t i = 0; i < count; i++)
		wl_buf_printf(&avail, "%s%d", i ? ", " : "", majors[i]);
	if (!count)
		wl_buf_puts(&avail, "none");

	if (c->spec && c->spec->runtime_version && *c->spec->runtime_version) {
		v = c->spec->runtime_version;
		if ((error = request_add(p, &q, "spec.runtimeVersion", v,
					 strlen(v), 1)) < 0)
			goto done;
	} else {
		obj = cJSON_GetObjectItemCaseSensitive(root, "engines");
		if ((v = json_string(obj, "node")) &&
		    (error = request_add(p, &q, "package.json engines.node", v,
					 strlen(v), 0)) < 0)
			goto done;
		if ((error = request_from_file(p, &q, c->dfd, ".nvmrc", NULL)) <
			    0 ||
		    (error = request_from_file(p, &q, c->dfd, ".node-version",
					       NULL)) < 0 ||
		    (error = request_from_file(p, &q, c->dfd, ".tool-versions",
					       tool_names)) < 0)
			goto done;
		obj = cJSON_GetObjectItemCaseSensitive(root, "volta");
		if ((v = json_string(obj, "node")) &&
		    (error = request_add(p, &q, "package.json volta.node", v,
					 strlen(v), 0)) < 0)
			goto done;
	}

	if (!q.n) {
		major = wl_base_images_node_default_major(c->images);
		p->node_major = 0;
		if (major)
			error = evidence_add(
				p,
				"Node.js %d (%s, the default image): no "
				"version asked for in engines.node, .nvmrc, "
				".node-version, .tool-versions or volta.node",
				major, c->images->node);
		else
			error = evidence_add(
				p,
				"Node.js of the default image %s: no version "
				"asked for in engines.node, .nvmrc, "
				".node-version, .tool-versions or volta.node",
				c->images->node);
		goto done;
	}

	for (size_t i = 0; i < q.n; i++) {
		if (i)
			wl_buf_puts(&asked, " and ");
		request_describe(&asked, &q.r[i]);
	}
	if ((major = highest(&q, q.n, majors, count))) {
		p->node_major = major;
		error = evidence_add(p,
				     "Node.js %d (%s): the highest available "
				     "(%s) that satisfies %s",
				     major,
				     wl_base_images_node(c->images, major),
				     wl_buf_cstr(&avail), wl_buf_cstr(&asked));
		goto done;
	}
	wl_buf_reset(&asked);
	request_describe(&asked, &q.r[0]);
	if (!(major = highest(&q, 1, majors, count))) {
		wl_error_set("%s: no Node.js image satisfies it (available: "
			     "%s); set spec.runtimeVersion, or configure an "
			     "image with WORKLET_IMAGE_NODE_<major>",
			     wl_buf_cstr(&asked), wl_buf_cstr(&avail));
		error = WL_EUNSUPPORTED;
		goto done;
	}
	p->node_major = major;
	if ((error = evidence_add(p,
				  "Node.js %d (%s): the highest available "
				  "(%s) that satisfies %s",
				  major, wl_base_images_node(c->images, major),
				  wl_buf_cstr(&avail), wl_buf_cstr(&asked))) <
	    0)
		goto done;
	for (size_t i = 1; i < q.n; i++) {
		if (wl_node_version_allows(q.r[i].value, major) == 1)
			continue;
		wl_buf_reset(&asked);
		request_describe(&asked, &q.r[i]);
		if ((error = evidence_add(p,
					  "%s is not met by Node.js %d: %s "
					  "comes first",
					  wl_buf_cstr(&asked), major,
					  q.r[0].where)) < 0)
			goto done;
	}
done:
	requests_release(&q);
	wl_buf_release(&avail);
	wl_buf_release(&asked);
	return error;
}

/* ---- Node: start -------------------------------------------------------- */

/*
 * Tools whose start script runs a development server: after a production
 * build, their build output is served as a single-page app instead.
 */
static const struct spa_tool {
	const char *dep;	  /* the package.json dependency */
	const char *framework;	  /* plan.framework */
	const char *const dev[4]; /* start commands that run the dev server */
	const char *out;	  /* the build's output directory */
	int needs_vite_config;	  /* vite: only with a vite.config.* */
} spa_tools[] = {
	{ "vite",
	  "vite",
	  { "vite", "vite dev", "vite serve", NULL },
	  "dist",
	  1 },
	{ "react-scripts",
	  "create-react-app",
	  { "react-scripts start", NULL },
	  "build",
	  0 },
	{ "@vue/cli-service",
	  "vue-cli",
	  { "vue-cli-service serve", NULL },
	  "dist",
	  0 },
};

/*
 * 1 if the script runs cmd ("vite", "react-scripts start"), perhaps after
 * environment assignments or cross-env, with only options after it:
 * "vite --host", "cross-env BROWSER=none react-scripts start". Scripts
 * with shell operators are not recognised.
 */
static int script_runs(const char *script, const char *cmd)
{
	const char *s = script;
	size_t n = strlen(cmd);

	if (strpbrk(script, ";&|`\n"))
		return 0;
	for (;;) {
		size_t w;

		while (*s == ' ' || *s == '\t')
			s++;
		w = strcspn(s, " \t");
		if ((w == 9 && !strncmp(s, "cross-env", 9)) ||
		    (w == 3 && !strncmp(s, "env", 3)) ||
		    (w && memchr(s, '=', w) && *s != '=' && *s != '-')) {
			s += w;
			continue;
		}
		break;
	}
	if (strncmp(s, cmd, n) || (s[n] && s[n] != ' ' && s[n] != '\t'))
		return 0;
	s += n;
	while (*s == ' ' || *s == '\t')
		s++;
	return !*s || *s == '-';
}

/* The dev-server command of tool that script runs, or NULL. */
static const char *dev_server(const struct spa_tool *tool, const char *script)
{
	for (size_t i = 0; script && tool->dev[i]; i++)
		if (script_runs(script, tool->dev[i]))
			return tool->dev[i];
	return NULL;
}

/*
 * The Procfile's web: line, as Heroku runs it: through the shell (so
 * $PORT expands), with exec when it is one plain command so that the app
 * gets the stop signal itself.
 */
static int plan_procfile(struct wl_build_plan *p, const char *cmd)
{
	struct wl_buf line;
	const char *argv[3];
	int error, simple = !strpbrk(cmd, ";&|()`") && !strstr(cmd, "$(");

	wl_buf_init(&line, PROCFILE_MAX + 8);
	wl_buf_printf(&line, "%s%s", simple ? "exec " : "", cmd);
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = wl_buf_cstr(&line);
	argv_clear(p);
	if ((error = evidence_quoted(p, "Procfile: web: ", cmd)) == 0 &&
	    (error = evidence_add(p, "Procfile: its web: command starts the "
				     "app (through /bin/sh -c)")) == 0)
		error = argv_set(p, argv, 3);
	wl_buf_release(&line);
	return error;
}

/*
 * 1 when package.json is present (plan filled), 0 when absent, < 0 on
 * error: WL_ENOTFOUND when nothing can be started (caller may fall back),
 * WL_EUNSUPPORTED when no Node.js image satisfies the version asked for.
 */
static int has_lockfile(int dfd);
static int workspace_package_manager(struct wl_build_plan *p,
				     const struct ctx *c);

static int detect_node(struct wl_build_plan *p, const struct ctx *c)
{
	struct wl_buf text;
	cJSON *root = NULL;
	const cJSON *scripts;
	const char *start = NULL, *build = NULL, *main_field, *vite_config;
	char port[16];
	int dfd = c->dfd, error;

	error = read_file(&text, dfd, "package.json", MANIFEST_MAX);
	if (error == WL_ENOTFOUND)
		return 0;
	if (error < 0)
		return error;
	root = cJSON_ParseWithLength(wl_buf_cstr(&text), text.len);
	wl_buf_release(&text);
	if (!cJSON_IsObject(root)) {
		wl_error_set("cannot parse 'package.json': not a JSON object");
		error = WL_EINVALID;
		goto done;
	}
	p->type = WL_PROJECT_NODE;
	snprintf(port, sizeof(port), "%d", p->port);
	if ((error = c->ws_dfd >= 0 && !has_lockfile(dfd)
			     ? workspace_package_manager(p, c)
			     : node_package_manager(p, dfd, root)) < 0)
		goto done;

	scripts = cJSON_GetObjectItemCaseSensitive(root, "scripts");
	if (cJSON_IsObject(scripts)) {
		start = json_string(scripts, "start");
		build = json_string(scripts, "build");
	}
	if (build) {
		p->node_build = 1;
		if ((error = evidence_quoted(
			     p, "package.json: scripts.build = ", build)) < 0)
			goto done;
	}
	if ((error = node_runtime(p, c, root)) < 0)
		goto done;
	if (c->procfile_web) {
		error = plan_procfile(p, c->procfile_web);
		goto done;
	}

	if (json_has_dep(root, "next")) {
		const char *next_argv[] = { "npx",     "next", "start", "-H",
					    "0.0.0.0", "-p",   port };

		if ((error = set_str(&p->framework, "next")) < 0)
			goto done;
		if (start && script_runs(start, "next dev") &&
		    (error = evidence_quoted(p,
					     "package.json: a development "
					     "server is not used after a "
					     "production build: "
					     "scripts.start = ",
					     start)) < 0)
			goto done;
		if ((error = plan_start(p, next_argv, 7,
					"package.json: dependency next "
					"(Next.js): next start after "
					"the build")) < 0)
			goto done;
		if (!build && !(c->spec && c->spec->start_command &&
				*c->spec->start_command)) {
			/* Seen: 36 s of install, then "Could not find a
			 * production build". Say it before building. */
			wl_error_set("package.json: dependency next (Next.js) "
				     "but no build script: 'next start' would "
				     "fail ('Could not find a production "
				     "build'); add \"build\": \"next build\" "
				     "to scripts, or set spec.startCommand "
				     "(REST start_command)");
			*c->failure = "StartWillFail";
			error = WL_ECONFLICT;
		}
		goto done;
	}

	for (size_t i = 0; i < sizeof(spa_tools) / sizeof(*spa_tools); i++) {
		const struct spa_tool *t = &spa_tools[i];
		const char *dev = dev_server(t, start);

		if (!json_has_dep(root, t->dep))
			continue;
		if (t->needs_vite_config) {
			if (!has_vite_config(dfd, &vite_config))
				continue;
			error = evidence_add(
				p, "package.json: dependency vite, %s",
				vite_config);
		} else {
			error = evidence_add(p, "package.json: dependency %s",
					     t->dep);
		}
		if (error < 0 ||
		    (error = set_str(&p->framework, t->framework)) < 0)
			goto done;
		if (!build || (start && !dev)) {
			if (dev)
				error = evidence_quoted(
					p,
					"package.json: no build script, so "
					"the development server runs: "
					"scripts.start = ",
					start);
			if (error < 0)
				goto done;
			break; /* the start script (or the fallbacks) */
		}
		if ((error = set_str(&p->spa_dir, t->out)) < 0)
			goto done;
		if (dev)
			error = evidence_quoted(
				p,
				"package.json: a development server is not "
				"used after a production build: "
				"scripts.start = ",
				start);
		else
			error = evidence_add(p, "package.json: no start "
						"script");
		if (error == 0)
			error = plan_start(p, nginx_argv, 5,
					   "the build output '%s' is served as "
					   "a single-page app (index.html "
					   "fallback)",
					   t->out);
		goto done;
	}

	if (start) {
		const char *argv[] = { p->node_pm, "start" };

		if ((error = evidence_quoted(
			     p, "package.json: scripts.start = ", start)) < 0 ||
		    (error = argv_set(p, argv, 2)) < 0)
			goto done;
		goto done;
	}
	main_field = json_string(root, "main");
	/* main names a file inside the checkout, or it is not ours to run */
	if (main_field && *main_field && main_field[0] != '/' &&
	    !strstr(main_field, "..") && is_file(dfd, main_field)) {
		const char *argv[] = { "node", main_field };

		if ((error = evidence_quoted(
			     p, "package.json: main = ", main_field)) < 0 ||
		    (error = argv_set(p, argv, 2)) < 0)
			goto done;
		goto done;
	}
	for (size_t i = 0;
	     i < sizeof(node_start_files) / sizeof(*node_start_files); i++) {
		if (is_file(dfd, node_start_files[i])) {
			const char *argv[] = { "node", node_start_files[i] };

			error = plan_start(p, argv, 2,
					   "%s: no start script or "
					   "main field, starting it",
					   node_start_files[i]);
			goto done;
		}
	}
	wl_error_set("package.json has no scripts.start, no main field naming "
		     "a file, and none of server.js, app.js, main.js, index.js "
		     "exists");
	error = WL_ENOTFOUND;
done:
	cJSON_Delete(root);
	return error < 0 ? error : 1;
}

/* ---- Python and Go: the runtime version --------------------------------- */

/*
 * How a request is matched against a minor line (3.11, 1.22): LINE, the
 * same line (.python-version "3.11.4", spec.runtimeVersion); MIN, that
 * line or a later one (go.mod's go and toolchain lines: Go builds older
 * modules); SPEC, a PEP 440 specifier (requires-python ">=3.9,<3.13").
 */
enum lang_match { LANG_LINE, LANG_MIN, LANG_SPEC };

struct lang_request {
	const char *where;
	char value[64];
	enum lang_match match;
};

/* "3.11.4" -> 3, 11 (minor -1 when absent); the rest in *rest. */
static int lang_parse(const char *s, int *major, int *minor, int *patch,
		      const char **rest)
{
	char *end;
	long v;

	*minor = *patch = -1;
	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtol(s, &end, 10);
	if (v < 0 || v > 999)
		return -1;
	*major = (int)v;
	if (*end == '.' && isdigit((unsigned char)end[1])) {
		v = strtol(end + 1, &end, 10);
		*minor = v > 9999 ? 9999 : (int)v;
		if (*end == '.' && isdigit((unsigned char)end[1])) {
			v = strtol(end + 1, &end, 10);
			*patch = v > 9999 ? 9999 : (int)v;
		}
	}
	*rest = end;
	return 0;
}

/* Compare the line (M, m) with a version: <0, 0, >0 (on major.minor). */
static int line_cmp(int M, int m, int major, int minor)
{
	if (M != major)
		return M < major ? -1 : 1;
	if (minor < 0 || m == minor)
		return 0;
	return m < minor ? -1 : 1;
}

/*
 * Does some release of the line (M, m) satisfy the request? 1 yes, 0 no,
 * -1 the request is not understood.
 */
static int lang_allows(const struct lang_request *r, int M, int m)
{
	const char *s = r->value, *rest;
	int major, minor, patch, ok = 1;

	if (r->match != LANG_SPEC) {
		if (lang_parse(s, &major, &minor, &patch, &rest) < 0 ||
		    (*rest && !strchr("+-abcr", *rest)))
			return -1;
		if (r->match == LANG_MIN)
			return line_cmp(M, m, major, minor) >= 0;
		return line_cmp(M, m, major, minor) == 0;
	}
	/* PEP 440: clauses separated by commas, all must hold. */
	while (*s) {
		char op[3] = "";
		size_t n;
		int c, wild;

		s += strspn(s, " \t,");
		if (!*s)
			break;
		n = strspn(s, "<>=!~");
		if (n > 2)
			return -1;
		memcpy(op, s, n);
		op[n] = '\0';
		s += n;
		s += strspn(s, " \t");
		if (lang_parse(s, &major, &minor, &patch, &rest) < 0)
			return -1;
		wild = !strncmp(rest, ".*", 2);
		rest += wild ? 2 : 0;
		if (*rest && !strchr(" \t,", *rest))
			return -1;
		s = rest;
		c = line_cmp(M, m, major, minor);
		if (!strcmp(op, ">=") || !strcmp(op, ">"))
			ok &= c >= 0;
		else if (!strcmp(op, "<"))
			ok &= c < 0 || (c == 0 && minor >= 0 && patch > 0);
		else if (!strcmp(op, "<="))
			ok &= c <= 0;
		else if (!strcmp(op, "==") || !strcmp(op, "==="))
			ok &= c == 0;
		else if (!strcmp(op, "!="))
			ok &= !(c == 0 && (wild || minor < 0));
		else if (!strcmp(op, "~="))
			ok &= M == major &&
			      (patch >= 0 ? m == minor : m >= minor);
		else
			return -1;
	}
	return ok;
}

static int lang_request_add(struct wl_build_plan *p, struct lang_request *q,
			    size_t *n, const char *where, const char *v,
			    size_t len, enum lang_match match, const char *lang)
{
	struct lang_request *r = &q[*n];

	while (len && isspace((unsigned char)*v)) {
		v++;
		len--;
	}
	while (len && isspace((unsigned char)v[len - 1]))
		len--;
	if (!len || *n == VERSION_REQUESTS_MAX)
		return 0;
	r->where = where;
	r->match = match;
	snprintf(r->value, sizeof(r->value), "%.*s", (int)len, v);
	if (len < sizeof(r->value) && lang_allows(r, 3, 11) >= 0) {
		(*n)++;
		return 0;
	}
	if (!strcmp(where, "spec.runtimeVersion")) {
		wl_error_set("spec.runtimeVersion: '%s' is not a %s version "
			     "(such as %s)",
			     r->value, lang,
			     strcmp(lang, "Go") ? "3.11" : "1.22");
		return WL_EINVALID;
	}
	return evidence_add(p,
			    "%s \"%s\" is not a %s version worklet "
			    "understands: ignored",
			    where, r->value, lang);
}

/* The first non-comment line of a small file, stripped; NULL if none. */
static int first_line(char *out, size_t outlen, int dfd, const char *file)
{
	struct wl_buf text;
	const char *line;

	out[0] = '\0';
	if (read_file(&text, dfd, file, VERSION_FILE_MAX) < 0) {
		wl_error_clear();
		return 0;
	}
	for (line = wl_buf_cstr(&text); line && *line;) {
		const char *end = strchr(line, '\n');
		size_t n = strcspn(line, "#\r\n");
		size_t skip = strspn(line, " \t");

		if (n > skip) {
			snprintf(out, outlen, "%.*s", (int)(n - skip),
				 line + skip);
			break;
		}
		line = end ? end + 1 : NULL;
	}
	wl_buf_release(&text);
	return out[0] != '\0';
}

/*
 * Choose the image line for the requests (Python: the highest available
 * that satisfies them all; Go, whose go line is a minimum: the default
 * image when it satisfies them, else the lowest that does); else the one
 * that satisfies the first, saying which others are not met; else
 * WL_EUNSUPPORTED naming the request, where it was read and what there is.
 */
static int lang_choose(struct wl_build_plan *p, const struct ctx *c, int go,
		       const struct lang_request *q, size_t n,
		       const char *asked_in)
{
	const char *lang = go ? "Go" : "Python";
	struct wl_lang_image lines[WL_LANG_IMAGES_MAX + 1];
	int def, pick = -1, error = 0;
	size_t count = wl_base_images_lang_lines(
		c->images, go, lines, sizeof(lines) / sizeof(*lines), &def);
	const size_t tries[2] = { n, 1 };
	struct wl_buf avail, asked;

	wl_buf_init(&avail, 1024);
	wl_buf_init(&asked, 2048);
	for (size_t i = 0; i < count; i++)
		wl_buf_printf(&avail, "%s%d.%d", i ? ", " : "", lines[i].major,
			      lines[i].minor);
	if (!count)
		wl_buf_puts(&avail, "none");
	if (!n) {
		if (def >= 0) {
			p->lang_major = lines[def].major;
			p->lang_minor = lines[def].minor;
			error = evidence_add(p,
					     "%s %d.%d (%s, the default "
					     "image): no version asked for in "
					     "%s",
					     lang, p->lang_major, p->lang_minor,
					     lines[def].image, asked_in);
		} else {
			error = evidence_add(
				p,
				"%s of the default image %s: no "
				"version asked for in %s",
				lang, go ? c->images->go : c->images->python,
				asked_in);
		}
		goto done;
	}
	for (size_t t = 0; t < 2 && pick < 0; t++) {
		size_t k = tries[t];

		if (go && def >= 0) {
			pick = def;
			for (size_t j = 0; j < k && pick >= 0; j++)
				if (lang_allows(&q[j], lines[def].major,
						lines[def].minor) != 1)
					pick = -1;
		}
		for (size_t i = 0; i < count && pick < 0; i++) {
			size_t at = go ? i : count - 1 - i;
			int ok = 1;

			for (size_t j = 0; j < k; j++)
				ok &= lang_allows(&q[j], lines[at].major,
						  lines[at].minor) == 1;
			if (ok)
				pick = (int)at;
		}
	}
	wl_buf_printf(&asked, "%s \"%s\"", q[0].where, q[0].value);
	if (pick < 0) {
		wl_error_set("%s: no %s image satisfies it (available: %s); "
			     "set spec.runtimeVersion, or configure an image "
			     "with WORKLET_IMAGE_%s_<major>_<minor>",
			     wl_buf_cstr(&asked), lang, wl_buf_cstr(&avail),
			     go ? "GO" : "PYTHON");
		error = WL_EUNSUPPORTED;
		goto done;
	}
	p->lang_major = lines[pick].major;
	p->lang_minor = lines[pick].minor;
	for (size_t j = 1; j < n; j++)
		if (lang_allows(&q[j], p->lang_major, p->lang_minor) == 1)
			wl_buf_printf(&asked, " and %s \"%s\"", q[j].where,
				      q[j].value);
	if ((error = evidence_add(
		     p, "%s %d.%d (%s): of the available (%s), it satisfies %s",
		     lang, p->lang_major, p->lang_minor, lines[pick].image,
		     wl_buf_cstr(&avail), wl_buf_cstr(&asked))) < 0)
		goto done;
	for (size_t j = 1; j < n; j++)
		if (lang_allows(&q[j], p->lang_major, p->lang_minor) != 1 &&
		    (error = evidence_add(p,
					  "%s \"%s\" is not met by %s %d.%d: "
					  "%s comes first",
					  q[j].where, q[j].value, lang,
					  p->lang_major, p->lang_minor,
					  q[0].where)) < 0)
			goto done;
done:
	wl_buf_release(&avail);
	wl_buf_release(&asked);
	return error;
}

/*
 * The Python version: spec.runtimeVersion, else .python-version,
 * runtime.txt ("python-3.11.4", Heroku's) and pyproject.toml's
 * requires-python.
 */
static int python_runtime(struct wl_build_plan *p, const struct ctx *c)
{
	struct lang_request q[VERSION_REQUESTS_MAX];
	size_t n = 0;
	char line[128];
	struct wl_buf text;
	int error = 0;

	if (c->spec && c->spec->runtime_version && *c->spec->runtime_version)
		return (error = lang_request_add(
				p, q, &n, "spec.runtimeVersion",
				c->spec->runtime_version,
				strlen(c->spec->runtime_version),
				strpbrk(c->spec->runtime_version, "<>=!~")
					? LANG_SPEC
					: LANG_LINE,
				"Python")) < 0
			       ? error
			       : lang_choose(p, c, 0, q, n, "");
	if (first_line(line, sizeof(line), c->dfd, ".python-version") &&
	    (error = lang_request_add(p, q, &n, ".python-version", line,
				      strlen(line), LANG_LINE, "Python")) < 0)
		return error;
	if (first_line(line, sizeof(line), c->dfd, "runtime.txt")) {
		const char *v = line;

		if (!strncmp(v, "python-", 7))
			v += 7;
		if ((error = lang_request_add(p, q, &n, "runtime.txt", v,
					      strlen(v), LANG_LINE, "Python")) <
		    0)
			return error;
	}
	if (read_file(&text, c->dfd, "pyproject.toml", MANIFEST_MAX) == 0) {
		const char *s = strstr(wl_buf_cstr(&text), "requires-python");

		if (s) {
			s += strlen("requires-python");
			s += strspn(s, " \t");
			if (*s == '=') {
				s++;
				s += strspn(s, " \t");
				if (*s == '"' || *s == '\'') {
					char quote = *s++;
					const char *e = strchr(s, quote);

					if (e)
						error = lang_request_add(
							p, q, &n,
							"pyproject.toml "
							"requires-python",
							s, (size_t)(e - s),
							LANG_SPEC, "Python");
				}
			}
		}
		wl_buf_release(&text);
		if (error < 0)
			return error;
	}
	wl_error_clear();
	return lang_choose(p, c, 0, q, n,
			   ".python-version, runtime.txt or requires-python");
}

/* The Go version: spec.runtimeVersion, else go.mod's go and toolchain. */
static int go_runtime(struct wl_build_plan *p, const struct ctx *c)
{
	struct lang_request q[VERSION_REQUESTS_MAX];
	struct wl_buf text;
	const char *line;
	size_t n = 0;
	int error = 0;

	if (c->spec && c->spec->runtime_version && *c->spec->runtime_version)
		return (error = lang_request_add(
				p, q, &n, "spec.runtimeVersion",
				c->spec->runtime_version,
				strlen(c->spec->runtime_version), LANG_LINE,
				"Go")) < 0
			       ? error
			       : lang_choose(p, c, 1, q, n, "");
	if (read_file(&text, c->dfd, "go.mod", MANIFEST_MAX) < 0) {
		wl_error_clear();
		return lang_choose(p, c, 1, q, 0, "go.mod");
	}
	for (line = wl_buf_cstr(&text); line && *line && error >= 0;) {
		const char *end = strchr(line, '\n'), *s = line;
		size_t len = end ? (size_t)(end - line) : strlen(line);

		len = strcspn(s, "/\r\n") < len ? strcspn(s, "/\r\n") : len;
		if (len > 3 && !strncmp(s, "go", 2) &&
		    (s[2] == ' ' || s[2] == '\t'))
			error = lang_request_add(p, q, &n, "go.mod go", s + 3,
						 len - 3, LANG_MIN, "Go");
		else if (len > 12 && !strncmp(s, "toolchain", 9) &&
			 (s[9] == ' ' || s[9] == '\t')) {
			s += 10;
			len -= 10;
			while (len && isspace((unsigned char)*s)) {
				s++;
				len--;
			}
			if (len > 2 && !strncmp(s, "go", 2))
				error = lang_request_add(
					p, q, &n, "go.mod toolchain", s + 2,
					len - 2, LANG_MIN, "Go");
		}
		line = end ? end + 1 : NULL;
	}
	wl_buf_release(&text);
	if (error < 0)
		return error;
	return lang_choose(p, c, 1, q, n, "go.mod");
}

/* ---- Python ---------------------------------------------------------------
 */

/*
 * 1 if the lower-cased dependency text names package name as a whole
 * word (so "flask" does not match "flask-cors" alone, nor "django" match
 * "djangorestframework").
 */
static int deps_have(const char *deps, const char *name)
{
	size_t n = strlen(name);

	for (const char *s = deps; (s = strstr(s, name)); s += n) {
		int before = s == deps ||
			     !(isalnum((unsigned char)s[-1]) || s[-1] == '-' ||
			       s[-1] == '_' || s[-1] == '.');
		int after = !(isalnum((unsigned char)s[n]) || s[n] == '-' ||
			      s[n] == '_' || s[n] == '.');

		if (before && after)
			return 1;
	}
	return 0;
}

/*
 * Find "<ident> = <ctor>(" in a source; copy ident into out. 0 if none.
 */
static int find_assignment(const char *src, const char *ctor, char *out,
			   size_t outlen)
{
	size_t clen = strlen(ctor);

	for (const char *s = src; (s = strstr(s, ctor)); s += clen) {
		const char *e = s, *b;

		/* the constructor may be module-qualified: fastapi.FastAPI( */
		while (e > src && (isalnum((unsigned char)e[-1]) ||
				   e[-1] == '_' || e[-1] == '.'))
			e--;
		while (e > src && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e == src || e[-1] != '=')
			continue;
		e--;
		if (e > src && strchr("=!<>+-*/:", e[-1]))
			continue;
		while (e > src && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		b = e;
		while (b > src &&
		       (isalnum((unsigned char)b[-1]) || b[-1] == '_'))
			b--;
		if (b != src && b[-1] != '\n')
			continue; /* only module-level assignments */
		if (python_identifier(b, (size_t)(e - b)) &&
		    (size_t)(e - b) < outlen) {
			memcpy(out, b, (size_t)(e - b));
			out[e - b] = '\0';
			return 1;
		}
	}
	return 0;
}

/*
 * The "module:variable" of an ASGI/WSGI app built with ctor ("FastAPI(",
 * "Flask("): the first main file that constructs one, else the main file
 * with variable "app".
 */
static int python_app_ref(char *out, size_t outlen, int dfd, const char *main,
			  const char *ctor)
{
	for (size_t i = 0;
	     i < sizeof(python_main_files) / sizeof(*python_main_files); i++) {
		struct wl_buf src;
		char var[64];
		int found;

		if (read_file(&src, dfd, python_main_files[i], SOURCE_MAX) <
		    0) {
			wl_error_clear();
			continue;
		}
		found = find_assignment(wl_buf_cstr(&src), ctor, var,
					sizeof(var));
		wl_buf_release(&src);
		if (found) {
			snprintf(out, outlen, "%.*s:%s",
				 (int)(strlen(python_main_files[i]) - 3),
				 python_main_files[i], var);
			return 1;
		}
	}
	if (!main)
		return 0;
	snprintf(out, outlen, "%.*s:app", (int)(strlen(main) - 3), main);
	return 0;
}

/* The Django project package: from manage.py's settings module, else a scan. */
static int django_project(char *out, size_t outlen, int dfd)
{
	struct wl_buf manage;
	const char *s;
	DIR *d = NULL;
	struct dirent *de;
	int fd2, found = 0;

	if (read_file(&manage, dfd, "manage.py", SOURCE_MAX) == 0) {
		s = strstr(wl_buf_cstr(&manage), "DJANGO_SETTINGS_MODULE");
		if (s) {
			s += strlen("DJANGO_SETTINGS_MODULE");
			s += strcspn(s, "\"'\n");
			if (*s == '"' || *s == '\'') {
				const char *b = s + 1;
				size_t n = strcspn(b, ".\"'\n");

				if (b[n] == '.' && python_identifier(b, n) &&
				    n < outlen) {
					char wsgi[128];

					memcpy(out, b, n);
					out[n] = '\0';
					snprintf(wsgi, sizeof(wsgi),
						 "%s/wsgi.py", out);
					found = is_dir(dfd, out) &&
						is_file(dfd, wsgi);
				}
			}
		}
		wl_buf_release(&manage);
	}
	wl_error_clear();
	if (found)
		return 1;

	/* No usable settings module: the first package with wsgi.py. */
	fd2 = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd2 < 0 || !(d = fdopendir(fd2))) {
		if (fd2 >= 0)
			close(fd2);
		return 0;
	}
	out[0] = '\0';
	while ((de = readdir(d))) {
		char wsgi[300];

		if (!python_identifier(de->d_name, strlen(de->d_name)) ||
		    strlen(de->d_name) >= outlen)
			continue;
		snprintf(wsgi, sizeof(wsgi), "%s/wsgi.py", de->d_name);
		if (is_dir(dfd, de->d_name) && is_file(dfd, wsgi) &&
		    (!out[0] || strcmp(de->d_name, out) < 0)) {
			snprintf(out, outlen, "%s", de->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

static int python_markers(int dfd, const char **which)
{
	static const char *const manifests[] = { "requirements.txt",
						 "pyproject.toml", "Pipfile" };

	for (size_t i = 0; i < sizeof(manifests) / sizeof(*manifests); i++)
		if (is_file(dfd, manifests[i])) {
			*which = manifests[i];
			return 1;
		}
	for (size_t i = 0;
	     i < sizeof(python_main_files) / sizeof(*python_main_files); i++)
		if (is_file(dfd, python_main_files[i])) {
			*which = python_main_files[i];
			return 1;
		}
	return 0;
}

/* Append a dependency manifest, lower-cased, to deps. */
static int add_deps(struct wl_buf *deps, int dfd, const char *name)
{
	struct wl_buf text;
	int error = read_file(&text, dfd, name, MANIFEST_MAX);

	if (error == WL_ENOTFOUND)
		return 0;
	if (error < 0)
		return error;
	for (size_t i = 0; i < text.len; i++)
		text.ptr[i] = (char)tolower((unsigned char)text.ptr[i]);
	error = wl_buf_add(deps, wl_buf_cstr(&text), text.len);
	if (!error)
		error = wl_buf_putc(deps, '\n');
	wl_buf_release(&text);
	return error;
}

static int detect_python(struct wl_build_plan *p, const struct ctx *c)
{
	int dfd = c->dfd;
	struct wl_buf deps;
	const char *marker = NULL, *main = NULL;
	char port[16], bind[32], ref[200], proj[128];
	int error = 0;

	if (!python_markers(dfd, &marker))
		return 0;
	p->type = WL_PROJECT_PYTHON;
	snprintf(port, sizeof(port), "%d", p->port);
	snprintf(bind, sizeof(bind), "0.0.0.0:%d", p->port);
	wl_buf_init(&deps, 3 * MANIFEST_MAX + 8);
	if ((error = add_deps(&deps, dfd, "requirements.txt")) < 0 ||
	    (error = add_deps(&deps, dfd, "pyproject.toml")) < 0 ||
	    (error = add_deps(&deps, dfd, "Pipfile")) < 0)
		goto done;

	if ((error = python_runtime(p, c)) < 0)
		goto done;
	if (is_file(dfd, "requirements.txt")) {
		if ((error = set_str(&p->requirements, "requirements.txt")) <
			    0 ||
		    (error = evidence_add(p, "requirements.txt: installed with "
					     "pip")) < 0)
			goto done;
	} else if (is_file(dfd, "pyproject.toml")) {
		p->pyproject = 1;
		if ((error = evidence_add(
			     p, "pyproject.toml: the project is "
				"installed with 'pip install .'")) < 0)
			goto done;
	} else if (is_file(dfd, "Pipfile")) {
		if ((error = evidence_add(p,
					  "Pipfile: pipenv is not supported, "
					  "dependencies are not installed "
					  "(add a requirements.txt)")) < 0)
			goto done;
	}
	if (c->procfile_web) {
		error = plan_procfile(p, c->procfile_web);
		goto done;
	}
	for (size_t i = 0;
	     i < sizeof(python_main_files) / sizeof(*python_main_files); i++)
		if (is_file(dfd, python_main_files[i])) {
			main = python_main_files[i];
			break;
		}

	if (is_file(dfd, "manage.py") &&
	    deps_have(wl_buf_cstr(&deps), "django")) {
		int wsgi_found;

		if ((error = set_str(&p->framework, "django")) < 0)
			goto done;
		wsgi_found = django_project(proj, sizeof(proj), dfd);
		if (wsgi_found && deps_have(wl_buf_cstr(&deps), "gunicorn")) {
			char wsgi[160];
			const char *argv[] = { "gunicorn", "--bind", bind,
					       wsgi };

			snprintf(wsgi, sizeof(wsgi), "%s.wsgi", proj);
			error = plan_start(p, argv, 4,
					   "manage.py and dependency "
					   "django: gunicorn serves %s",
					   wsgi);
		} else {
			const char *argv[] = { "python3", "manage.py",
					       "runserver", bind,
					       "--noreload" };

			error = plan_start(
				p, argv, 5, "%s",
				wsgi_found ? "manage.py and dependency django "
					     "without gunicorn: Django's own "
					     "server"
					   : "manage.py and dependency django, "
					     "no <project>/wsgi.py: Django's "
					     "own server");
		}
		goto done;
	}

	if (deps_have(wl_buf_cstr(&deps), "fastapi") ||
	    deps_have(wl_buf_cstr(&deps), "uvicorn")) {
		int found =
			python_app_ref(ref, sizeof(ref), dfd, main, "FastAPI(");

		if (found || main) {
			const char *argv[] = { "uvicorn", ref,	    "--host",
					       "0.0.0.0", "--port", port };

			if ((error = set_str(&p->framework, "fastapi")) == 0)
				error = plan_start(
					p, argv, 6,
					"dependency %s: uvicorn serves %s",
					deps_have(wl_buf_cstr(&deps), "fastapi")
						? "fastapi"
						: "uvicorn",
					ref);
			goto done;
		}
	}

	if (deps_have(wl_buf_cstr(&deps), "flask")) {
		int found =
			python_app_ref(ref, sizeof(ref), dfd, main, "Flask(");

		if (found || main) {
			if ((error = set_str(&p->framework, "flask")) < 0)
				goto done;
			if (deps_have(wl_buf_cstr(&deps), "gunicorn")) {
				const char *argv[] = { "gunicorn", "--bind",
						       bind, ref };

				error = plan_start(p, argv, 4,
						   "dependencies flask and "
						   "gunicorn: gunicorn "
						   "serves %s",
						   ref);
			} else {
				/*
				 * The Flask dev server of app.run() listens
				 * on 127.0.0.1:5000, unreachable from outside
				 * the container: run it through the CLI on
				 * 0.0.0.0:PORT instead.
				 */
				const char *argv[] = { "python3", "-m",
						       "flask",	  "--app",
						       ref,	  "run",
						       "--host",  "0.0.0.0",
						       "--port",  port };

				error = plan_start(p, argv, 10,
						   "dependency flask without "
						   "gunicorn: 'flask run' "
						   "on 0.0.0.0 (app.run() "
						   "would listen on "
						   "127.0.0.1 only)");
			}
			goto done;
		}
	}

	if (main) {
		const char *argv[] = { "python3", main };

		error = plan_start(p, argv, 2, "%s: run with python3", main);
		goto done;
	}
	wl_error_set("%s found but no main file: looked for main.py, app.py, "
		     "start.py, bot.py, server.py",
		     marker);
	error = WL_ENOTFOUND;
done:
	wl_buf_release(&deps);
	return error < 0 ? error : 1;
}

/* ---- Go -------------------------------------------------------------------
 */

static int dir_has_go(int dfd, const char *rel)
{
	int fd, found = 0;
	DIR *d;
	struct dirent *de;

	fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while (!found && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n > 3 && !strcmp(de->d_name + n - 3, ".go") &&
		    !(n > 8 && !strcmp(de->d_name + n - 8, "_test.go")) &&
		    is_file(fd, de->d_name))
			found = 1;
	}
	closedir(d);
	return found;
}

/* The first (in byte order) cmd/<name> directory holding Go files. */
static int go_cmd_dir(char *out, size_t outlen, int dfd)
{
	int fd, found = 0;
	DIR *d;
	struct dirent *de;

	fd = openat(dfd, "cmd",
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		if (!safe_name(de->d_name) || strlen(de->d_name) >= outlen ||
		    (found && strcmp(de->d_name, out) >= 0) ||
		    !dir_has_go(fd, de->d_name))
			continue;
		snprintf(out, outlen, "%s", de->d_name);
		found = 1;
	}
	closedir(d);
	return found;
}

static int detect_go(struct wl_build_plan *p, const struct ctx *c)
{
	int dfd = c->dfd;
	static const char *const argv[] = { "/usr/local/bin/app" };
	int has_mod = is_file(dfd, "go.mod"), has_sum = is_file(dfd, "go.sum");
	char name[128], target[160];
	int error;

	if (!has_mod && !is_file(dfd, "main.go"))
		return 0;
	p->type = WL_PROJECT_GO;
	/*
	 * The generator needs to know which dependency manifests exist to
	 * copy them before the sources: for Go plans, requirements holds
	 * "go.mod" and lockfile "go.sum" when present.
	 */
	if ((has_mod && set_str(&p->requirements, "go.mod") < 0) ||
	    (has_sum && set_str(&p->lockfile, "go.sum") < 0))
		return WL_ERROR;
	if ((error = evidence_add(p,
				  has_mod ? "go.mod: Go module%s"
					  : "main.go without go.mod: a "
					    "module is initialised at "
					    "build time%s",
				  has_mod && !has_sum ? " (no go.sum)" : "")) <
	    0)
		return error;
	if ((error = go_runtime(p, c)) < 0)
		return error;
	if (dir_has_go(dfd, ".")) {
		snprintf(target, sizeof(target), ".");
		error = evidence_add(p, "Go files at the root: building "
					"package .");
	} else if (go_cmd_dir(name, sizeof(name), dfd)) {
		snprintf(target, sizeof(target), "./cmd/%s", name);
		error = evidence_add(p, "cmd/%s: building package %s", name,
				     target);
	} else {
		wl_error_set("go.mod found but no main package: looked for Go "
			     "files at the root and in cmd/*");
		return WL_ENOTFOUND;
	}
	if (error < 0 || set_str(&p->go_target, target) < 0 ||
	    argv_set(p, argv, 1) < 0)
		return WL_ERROR;
	return 1;
}

/* ---- static ---------------------------------------------------------------
 */

static int static_root(int dfd, const char **root)
{
	static const struct {
		const char *index, *root;
	} roots[] = {
		{ "index.html", "." },
		{ "public/index.html", "public" },
		{ "dist/index.html", "dist" },
	};

	for (size_t i = 0; i < sizeof(roots) / sizeof(*roots); i++)
		if (is_file(dfd, roots[i].index) &&
		    (!strcmp(roots[i].root, ".") ||
		     is_dir(dfd, roots[i].root))) {
			*root = roots[i].root;
			return 1;
		}
	return 0;
}

static int detect_static(struct wl_build_plan *p, const struct ctx *c)
{
	int dfd = c->dfd;
	const char *root;

	if (!static_root(dfd, &root))
		return 0;
	p->type = WL_PROJECT_STATIC;
	if (set_str(&p->static_root, root) < 0 ||
	    plan_start(p, nginx_argv, 5,
		       "%s%sindex.html: static site served by nginx",
		       strcmp(root, ".") ? root : "",
		       strcmp(root, ".") ? "/" : "") < 0)
		return WL_ERROR;
	return 1;
}

/* ---- overrides and the main entry -----------------------------------------
 */

/*
 * Split spec.startCommand on spaces (no shell, no quoting) and replace
 * "$PORT" / "${PORT}" with the port: an exec-form CMD never expands them.
 */
static int apply_start_command(struct wl_build_plan *p, const char *cmd)
{
	char port[16];
	const char *s = cmd;
	char *joined;
	int error;

	snprintf(port, sizeof(port), "%d", p->port);
	argv_clear(p);
	while (*s) {
		struct wl_buf arg;
		size_t n;

		while (*s == ' ')
			s++;
		if (!*s)
			break;
		n = strcspn(s, " ");
		wl_buf_init(&arg, 64 * 1024);
		for (size_t i = 0; i < n;) {
			if (!strncmp(s + i, "${PORT}", 7) && i + 7 <= n) {
				wl_buf_puts(&arg, port);
				i += 7;
			} else if (!strncmp(s + i, "$PORT", 5) && i + 5 <= n &&
				   !(i + 5 < n &&
				     (isalnum((unsigned char)s[i + 5]) ||
				      s[i + 5] == '_'))) {
				wl_buf_puts(&arg, port);
				i += 5;
			} else {
				wl_buf_putc(&arg, s[i++]);
			}
		}
		error = argv_push(p, wl_buf_cstr(&arg));
		wl_buf_release(&arg);
		if (error < 0)
			return error;
		s += n;
	}
	if (!p->start_argc) {
		wl_error_set("spec.startCommand: must not be empty");
		return WL_EINVALID;
	}
	joined = argv_join(p->start_argv, p->start_argc);
	if (!joined)
		return oom();
	error = evidence_quoted(p,
				"spec.startCommand overrides the start "
				"command: ",
				joined);
	free(joined);
	return error;
}

static void plan_reset(struct wl_build_plan *p, int port)
{
	wl_build_plan_release(p);
	p->port = port;
}

typedef int (*provider_fn)(struct wl_build_plan *p, const struct ctx *c);

static const struct {
	enum wl_project_type type;
	const char *name;
	provider_fn fn;
} providers[] = {
	{ WL_PROJECT_NODE, "node", detect_node },
	{ WL_PROJECT_PYTHON, "python", detect_python },
	{ WL_PROJECT_GO, "go", detect_go },
	{ WL_PROJECT_STATIC, "static", detect_static },
};

#define PROVIDER_COUNT (sizeof(providers) / sizeof(*providers))

static int run_forced(struct wl_build_plan *p, const struct ctx *c,
		      enum wl_project_type t)
{
	for (size_t i = 0; i < PROVIDER_COUNT; i++) {
		int found;

		if (providers[i].type != t)
			continue;
		found = providers[i].fn(p, c);
		if (found < 0) {
			wl_error_prefix("spec.projectType is %s",
					providers[i].name);
			return found;
		}
		if (!found) {
			wl_error_set(
				"spec.projectType is %s but the repository "
				"has no %s project",
				providers[i].name, providers[i].name);
			return WL_ENOTFOUND;
		}
		return evidence_add(p, "spec.projectType = %s (override)",
				    providers[i].name);
	}
	wl_error_set("spec.projectType: unknown project type");
	return WL_EINVALID;
}

/*
 * Try each provider in order. A provider that recognises its markers but
 * cannot start anything (package.json without a start) yields to later
 * providers; its reason goes into the evidence, and is the error when no
 * one else matches.
 */
static int run_auto(struct wl_build_plan *p, const struct ctx *c)
{
	char *first_error = NULL;
	const char *first_name = NULL;
	int first_code = 0, found = 0, port = p->port;

	for (size_t i = 0; i < PROVIDER_COUNT && !found; i++) {
		found = providers[i].fn(p, c);
		if (found == WL_ENOTFOUND) {
			if (!first_error) {
				first_error = strdup(wl_error_last());
				first_name = providers[i].name;
				first_code = found;
			}
			plan_reset(p, port);
			found = 0;
			continue;
		}
		if (found < 0) {
			free(first_error);
			return found;
		}
	}
	if (!found) {
		if (first_error) {
			wl_error_set("%s", first_error);
			free(first_error);
			return first_code;
		}
		wl_error_set("no supported project found in the repository: "
			     "looked for Dockerfile, package.json, "
			     "requirements.txt, pyproject.toml, Pipfile, "
			     "main.py, go.mod, main.go, index.html");
		return WL_ENOTFOUND;
	}
	if (first_error) {
		int error =
			evidence_add(p, "not %s: %s", first_name, first_error);

		free(first_error);
		if (error < 0)
			return error;
	}
	if (p->type == WL_PROJECT_NODE) {
		const char *other;

		if (python_markers(c->dfd, &other))
			return evidence_add(
				p,
				"%s is present too: node wins because "
				"package.json is checked before Python "
				"markers (set spec.projectType to choose)",
				other);
	}
	return 0;
}

/*
 * The command of the Procfile's web: line (Heroku's format, "<process
 * type>: <command>" a line) into *out (the caller frees it), or NULL.
 */
static int procfile_web(char **out, int dfd)
{
	struct wl_buf text;
	const char *line;
	int error = read_file(&text, dfd, "Procfile", MANIFEST_MAX);

	*out = NULL;
	if (error == WL_ENOTFOUND || error == WL_ETOOBIG) {
		wl_error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	for (line = wl_buf_cstr(&text); line && *line;) {
		const char *end = strchr(line, '\n'), *s = line;
		size_t n = end ? (size_t)(end - line) : strlen(line);

		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		if (n > 3 && !strncmp(s, "web", 3) &&
		    strspn(s + 3, " \t") + 3 < n &&
		    s[3 + strspn(s + 3, " \t")] == ':') {
			size_t skip = 4 + strspn(s + 3, " \t");

			s += skip;
			n -= skip;
			while (n && isspace((unsigned char)*s)) {
				s++;
				n--;
			}
			while (n && isspace((unsigned char)s[n - 1]))
				n--;
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
					n = 0; /* a control character */
			if (n && n <= PROCFILE_MAX && !(*out = strndup(s, n)))
				error = oom();
			break;
		}
		line = end ? end + 1 : NULL;
	}
	wl_buf_release(&text);
	return error;
}

/* ---- monorepos ------------------------------------------------------------
 */

#define CANDIDATES_MAX 64   /* folders looked at as candidate apps */
#define CANDIDATES_SHOWN 12 /* named in the message */
#define APP_PATH_MAX 1024

/*
 * Open spec.path below the checkout dir: it must be a folder that
 * resolves (symlinks too) inside the checkout. *rel gets the resolved
 * path relative to the checkout ("." for the root; the caller frees it).
 */
static int open_app_dir(int *out, char **rel, const char *dir, const char *path)
{
	char *root = NULL, *real = NULL;
	struct wl_buf joined;
	struct stat st;
	size_t n;
	int error = 0;

	*out = -1;
	*rel = NULL;
	wl_buf_init(&joined, 2 * 4096);
	if (!(root = realpath(dir, NULL))) {
		wl_error_set("cannot open checkout '%s': %s", dir,
			     strerror(errno));
		error = WL_ERROR;
		goto done;
	}
	if ((error = wl_buf_printf(&joined, "%s/%s", root, path)) < 0)
		goto done;
	real = realpath(wl_buf_cstr(&joined), NULL);
	n = strlen(root);
	if (!real || stat(real, &st) < 0) {
		wl_error_set("spec.path '%s': no such folder in the repository",
			     path);
		error = WL_ENOTFOUND;
		goto done;
	}
	if (strncmp(real, root, n) || (real[n] && real[n] != '/')) {
		wl_error_set("spec.path '%s': leads outside the repository",
			     path);
		error = WL_ENOTFOUND;
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		wl_error_set("spec.path '%s': not a folder in the repository",
			     path);
		error = WL_ENOTFOUND;
		goto done;
	}
	*out = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*out < 0) {
		wl_error_set("cannot open spec.path '%s': %s", path,
			     strerror(errno));
		error = WL_ERROR;
		goto done;
	}
	if (!(*rel = strdup(real[n] ? real + n + 1 : ".")))
		error = oom();
done:
	if (error < 0 && *out >= 0) {
		close(*out);
		*out = -1;
	}
	free(root);
	free(real);
	wl_buf_release(&joined);
	return error;
}

/* package.json parsed (NULL when absent or not an object). */
static cJSON *read_package_json(int dfd)
{
	struct wl_buf text;
	cJSON *root;

	if (read_file(&text, dfd, "package.json", MANIFEST_MAX) < 0)
		return NULL;
	root = cJSON_ParseWithLength(wl_buf_cstr(&text), text.len);
	wl_buf_release(&text);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* package.json's workspaces: an array, or { "packages": [...] } (yarn). */
static const cJSON *workspaces_of(const cJSON *pkg)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(pkg, "workspaces");

	if (cJSON_IsObject(w))
		w = cJSON_GetObjectItemCaseSensitive(w, "packages");
	return cJSON_IsArray(w) ? w : NULL;
}

/* 1 when the folder declares a workspace; *what says how. */
static int declares_workspace(int dfd, const char **what)
{
	cJSON *pkg = read_package_json(dfd);
	int yes = pkg && workspaces_of(pkg);

	cJSON_Delete(pkg);
	if (yes) {
		*what = "package.json workspaces";
		return 1;
	}
	if (is_file(dfd, "pnpm-workspace.yaml")) {
		*what = "pnpm-workspace.yaml";
		return 1;
	}
	return 0;
}

/* 1 when the folder has a lockfile of its own (any package manager's). */
static int has_lockfile(int dfd)
{
	static const char *const locks[] = {
		"package-lock.json", "npm-shrinkwrap.json",
		"pnpm-lock.yaml",    "yarn.lock",
		"bun.lock",	     "bun.lockb"
	};

	for (size_t i = 0; i < sizeof(locks) / sizeof(*locks); i++)
		if (is_file(dfd, locks[i]))
			return 1;
	return 0;
}

/*
 * The nearest ancestor of rel (resolved, relative to the checkout rootfd)
 * that declares a workspace: its fd (or -1) and path ("." for the root)
 * and what declares it.
 */
static int find_workspace(int *fd, char anc[APP_PATH_MAX], const char **what,
			  int rootfd, const char *rel)
{
	*fd = -1;
	if (strlen(rel) >= APP_PATH_MAX || !strcmp(rel, "."))
		return 0;
	memcpy(anc, rel, strlen(rel) + 1);
	for (;;) {
		char *slash = strrchr(anc, '/');

		if (slash)
			*slash = '\0';
		else
			memcpy(anc, ".", 2);
		*fd = openat(rootfd, anc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (*fd >= 0 && declares_workspace(*fd, what))
			return 1;
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		if (!slash)
			return 0;
	}
}

/* The package manager and lockfile of the workspace root. */
static int workspace_package_manager(struct wl_build_plan *p,
				     const struct ctx *c)
{
	cJSON *pkg = read_package_json(c->ws_dfd);
	int error = node_package_manager(p, c->ws_dfd, pkg);

	cJSON_Delete(pkg);
	*c->ws_used = 1;
	return error;
}

struct candidates {
	char *dirs[CANDIDATES_MAX];
	size_t count;
};

static void candidates_release(struct candidates *c)
{
	for (size_t i = 0; i < c->count; i++)
		free(c->dirs[i]);
	c->count = 0;
}

/* 1 when the folder holds something to run (see detect.h). */
static int holds_app(int dfd)
{
	static const char *const markers[] = {
		"Dockerfile", "requirements.txt", "pyproject.toml",
		"Pipfile",    "manage.py",	  "go.mod",
		"main.go",    "index.html",
	};
	static const char *const frameworks[] = { "next", "vite",
						  "react-scripts",
						  "@vue/cli-service" };
	cJSON *pkg = read_package_json(dfd);
	const cJSON *scripts;
	int yes = 0;

	if (pkg) {
		scripts = cJSON_GetObjectItemCaseSensitive(pkg, "scripts");
		yes = json_string(scripts, "start") ||
		      json_string(scripts, "dev");
		for (size_t i = 0;
		     !yes && i < sizeof(frameworks) / sizeof(*frameworks); i++)
			yes = json_has_dep(pkg, frameworks[i]);
		cJSON_Delete(pkg);
		return yes;
	}
	for (size_t i = 0; i < sizeof(markers) / sizeof(*markers); i++)
		if (is_file(dfd, markers[i]))
			return 1;
	return 0;
}

static int candidate_add(struct candidates *c, int rootfd, const char *rel)
{
	int fd;

	for (size_t i = 0; i < c->count; i++)
		if (!strcmp(c->dirs[i], rel))
			return 0;
	if (c->count >= CANDIDATES_MAX || !is_dir(rootfd, rel))
		return 0;
	fd = openat(rootfd, rel,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (holds_app(fd) && !(c->dirs[c->count++] = strdup(rel))) {
		c->count--;
		close(fd);
		return oom();
	}
	close(fd);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The folders a workspace glob names: "apps/<any>" (and "apps/<any-depth>": one
 * level is enough to name an app) lists apps' folders, "site" is one folder.
 * Other patterns ("!x", "*" in the middle) are skipped.
 */
static int candidates_glob(struct candidates *c, int rootfd, const char *glob)
{
	char prefix[APP_PATH_MAX], rel[2 * APP_PATH_MAX + 2];
	size_t n = strcspn(glob, "*?[{!");
	struct dirent *e;
	DIR *d;
	int fd, error = 0;
	char *names[CANDIDATES_MAX];
	size_t count = 0;

	if (glob[0] == '.' && glob[1] == '/')
		glob += 2, n = strcspn(glob, "*?[{!");
	if (!*glob || glob[0] == '/' || strstr(glob, "..") ||
	    n >= sizeof(prefix))
		return 0;
	if (!glob[n]) {
		memcpy(prefix, glob, n + 1);
		while (n && prefix[n - 1] == '/')
			prefix[--n] = '\0';
		return n ? candidate_add(c, rootfd, prefix) : 0;
	}
	if (n == 0 || glob[n - 1] != '/' ||
	    (strcmp(glob + n, "*") && strcmp(glob + n, "**")))
		return 0;
	memcpy(prefix, glob, n - 1);
	prefix[n - 1] = '\0';
	fd = openat(rootfd, prefix,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((e = readdir(d)) && count < CANDIDATES_MAX) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "node_modules"))
			continue;
		if (!(names[count] = strdup(e->d_name))) {
			error = oom();
			break;
		}
		count++;
	}
	closedir(d);
	qsort(names, count, sizeof(*names), cmp_str);
	for (size_t i = 0; i < count; i++) {
		snprintf(rel, sizeof(rel), "%s/%s", prefix, names[i]);
		if (!error)
			error = candidate_add(c, rootfd, rel);
		free(names[i]);
	}
	return error;
}

/* Workspace globs of package.json and pnpm-workspace.yaml, then defaults. */
static int candidates_find(struct candidates *c, int rootfd)
{
	static const char *const defaults[] = { "apps/*", "packages/*",
						"examples/*" };
	cJSON *pkg = read_package_json(rootfd);
	const cJSON *ws = pkg ? workspaces_of(pkg) : NULL, *it;
	struct wl_buf yaml;
	int error = 0;

	cJSON_ArrayForEach (it, ws)
		if (cJSON_IsString(it) && !error)
			error = candidates_glob(c, rootfd, it->valuestring);
	cJSON_Delete(pkg);
	/* pnpm-workspace.yaml: "packages:" then "  - 'apps/<glob>'" lines. */
	if (!error && read_file(&yaml, rootfd, "pnpm-workspace.yaml",
				MANIFEST_MAX) == 0) {
		char *s = yaml.ptr, *line;
		int in_packages = 0;

		while (s && *s && !error) {
			line = s;
			s = strchr(s, '\n');
			if (s)
				*s++ = '\0';
			if (!strncmp(line, "packages:", 9)) {
				in_packages = 1;
				continue;
			}
			if (line[0] && line[0] != ' ' && line[0] != '-' &&
			    line[0] != '#')
				in_packages = 0;
			line += strspn(line, " \t");
			if (!in_packages || *line != '-')
				continue;
			line += 1 + strspn(line + 1, " \t");
			if (*line == '\'' || *line == '"') {
				char q = *line++;
				char *end = strchr(line, q);

				if (!end)
					continue;
				*end = '\0';
			} else {
				line[strcspn(line, " \t\r#")] = '\0';
			}
			error = candidates_glob(c, rootfd, line);
		}
		wl_buf_release(&yaml);
	}
	for (size_t i = 0; !error && i < sizeof(defaults) / sizeof(*defaults);
	     i++)
		error = candidates_glob(c, rootfd, defaults[i]);
	return error;
}

/*
 * A root with app folders and no app of its own: fail naming them
 * (WL_ENOTFOUND) instead of building the root. why says what the root is.
 * 0 when there is no candidate.
 */
static int choose_an_app(int rootfd, const char *why, const char **failure)
{
	struct candidates c = { 0 };
	struct wl_buf msg;
	int error;

	wl_buf_init(&msg, 16 * 1024);
	if ((error = candidates_find(&c, rootfd)) < 0 || c.count == 0)
		goto done;
	wl_buf_printf(&msg, "%s; the repository holds %zu app folder%s: ", why,
		      c.count, c.count == 1 ? "" : "s");
	for (size_t i = 0; i < c.count && i < CANDIDATES_SHOWN; i++)
		wl_buf_printf(&msg, "%s%s", i ? ", " : "", c.dirs[i]);
	if (c.count > CANDIDATES_SHOWN)
		wl_buf_printf(&msg, " and %zu more",
			      c.count - CANDIDATES_SHOWN);
	wl_buf_printf(&msg,
		      "; set spec.path (REST app_path) to the one to "
		      "build, e.g. '%s'",
		      c.dirs[0]);
	wl_error_set("%s", wl_buf_cstr(&msg));
	*failure = "ChooseAnApp";
	error = WL_ENOTFOUND;
done:
	candidates_release(&c);
	wl_buf_release(&msg);
	return error;
}

/* A package.json that declares workspaces and starts nothing itself. */
static int workspace_only_root(int dfd)
{
	cJSON *pkg = read_package_json(dfd);
	const cJSON *scripts;
	int yes = 0;

	if (pkg && workspaces_of(pkg)) {
		scripts = cJSON_GetObjectItemCaseSensitive(pkg, "scripts");
		yes = !json_string(scripts, "start");
	}
	cJSON_Delete(pkg);
	return yes;
}

int wl_detect(struct wl_build_plan *out, const char *dir,
	      const struct wl_spec *spec, const struct wl_base_images *images)
{
	enum wl_project_type forced =
		spec ? spec->project_type : WL_PROJECT_AUTO;
	int port_set = spec && spec->container_port > 0;
	int dfd = -1, rootfd = -1, error = 0;
	struct wl_base_images defaults;
	const char *failure = NULL;
	int ws_used = 0;
	struct ctx c = { -1, spec, images, NULL, &failure, -1, &ws_used };
	char ws_dir[APP_PATH_MAX];
	const char *ws_what = NULL;
	char *procfile = NULL, *rel = NULL;

	memset(out, 0, sizeof(*out));
	out->port = port_set ? spec->container_port : DEFAULT_PORT;
	if (out->port > 65535) {
		wl_error_set("spec.containerPort: must be 1..65535");
		return WL_EINVALID;
	}
	rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		wl_error_set("cannot open checkout '%s': %s", dir,
			     strerror(errno));
		return errno == ENOENT ? WL_ENOTFOUND : WL_ERROR;
	}
	dfd = rootfd;
	if (spec && spec->path && *spec->path) {
		if ((error = open_app_dir(&dfd, &rel, dir, spec->path)) < 0) {
			if (error == WL_ENOTFOUND)
				failure = "PathNotFound";
			goto done;
		}
		find_workspace(&c.ws_dfd, ws_dir, &ws_what, rootfd, rel);
	}
	if (!images || !images->node) {
		wl_base_images_default(&defaults);
		c.images = &defaults;
	}
	c.dfd = dfd;
	if ((error = procfile_web(&procfile, dfd)) < 0)
		goto done;
	c.procfile_web = procfile;

	if (spec && spec->dockerfile && *spec->dockerfile) {
		if (forced != WL_PROJECT_AUTO &&
		    forced != WL_PROJECT_DOCKERFILE) {
			wl_error_set("spec.dockerfile is set but "
				     "spec.projectType is not dockerfile");
			error = WL_EINVALID;
			goto done;
		}
		error = detect_dockerfile(out, dfd, spec->dockerfile,
					  "spec.dockerfile", port_set);
	} else if (forced == WL_PROJECT_DOCKERFILE) {
		error = detect_dockerfile(out, dfd, "Dockerfile",
					  "spec.projectType = dockerfile",
					  port_set);
	} else if (forced == WL_PROJECT_AUTO && is_file(dfd, "Dockerfile")) {
		error = detect_dockerfile(out, dfd, "Dockerfile", "Dockerfile",
					  port_set);
	} else if (forced != WL_PROJECT_AUTO) {
		error = run_forced(out, &c, forced);
	} else if (!(spec && spec->path && *spec->path) &&
		   workspace_only_root(dfd) &&
		   (error = choose_an_app(dfd,
					  "the repository's root is a "
					  "workspace with no app of its own "
					  "(package.json has workspaces and "
					  "no start script)",
					  &failure)) < 0) {
		goto done;
	} else {
		error = run_auto(out, &c);
		if (error == WL_ENOTFOUND &&
		    !(spec && spec->path && *spec->path)) {
			int again = choose_an_app(dfd,
						  "no app at the repository's "
						  "root",
						  &failure);

			if (again < 0 && again != WL_ENOTFOUND)
				error = again;
		}
	}
	if (error < 0)
		goto done;
	if (rel && strcmp(rel, ".") &&
	    ((error = set_str(&out->context_dir, rel)) < 0 ||
	     (error = evidence_add(out, "spec.path = '%s': the app's folder",
				   rel)) < 0))
		goto done;
	if (ws_used && out->type == WL_PROJECT_NODE &&
	    ((error = set_str(&out->app_dir,
			      rel + (strcmp(ws_dir, ".") ? strlen(ws_dir) + 1
							 : 0))) < 0 ||
	     (error = set_str(&out->context_dir,
			      strcmp(ws_dir, ".") ? ws_dir : NULL)) < 0 ||
	     (error = evidence_add(out,
				   "workspace root '%s' (%s): the install "
				   "runs there (%s, %s), the build and start "
				   "in '%s'",
				   ws_dir, ws_what, out->node_pm,
				   out->lockfile ? out->lockfile
						 : "no lockfile",
				   out->app_dir)) < 0))
		goto done;

	if (procfile &&
	    (out->type == WL_PROJECT_GO || out->type == WL_PROJECT_STATIC) &&
	    (error = evidence_add(out,
				  "Procfile: its web: command is not used "
				  "for %s projects",
				  out->type == WL_PROJECT_GO ? "Go"
							     : "static")) < 0)
		goto done;
	if (spec && spec->runtime_version && *spec->runtime_version &&
	    out->type != WL_PROJECT_NODE && out->type != WL_PROJECT_PYTHON &&
	    out->type != WL_PROJECT_GO &&
	    (error = evidence_add(out, "spec.runtimeVersion applies to "
				       "Node.js, Python and Go projects: "
				       "ignored")) < 0)
		goto done;

	if (port_set && (error = evidence_add(out,
					      "spec.containerPort = %d "
					      "(override)",
					      out->port)) < 0)
		goto done;
	if (spec && spec->start_command && *spec->start_command &&
	    (error = apply_start_command(out, spec->start_command)) == 0 &&
	    out->spa_dir) {
		/*
		 * The command runs in the app's own image (a dev server for
		 * hot reload, a preview server), not in nginx's.
		 */
		free(out->spa_dir);
		out->spa_dir = NULL;
		error = evidence_add(out, "spec.startCommand: the app runs in "
					  "its Node.js image, not served by "
					  "nginx");
	}
done:
	if (dfd != rootfd)
		close(dfd);
	if (c.ws_dfd >= 0)
		close(c.ws_dfd);
	close(rootfd);
	free(procfile);
	free(rel);
	if (error < 0) {
		wl_build_plan_release(out);
		out->failure = failure			  ? failure
			       : error == WL_EUNSUPPORTED ? "RuntimeUnavailable"
							  : "NoProjectFound";
	}
	return error < 0 ? error : 0;
}

void wl_build_plan_release(struct wl_build_plan *p)
{
	if (!p)
		return;
	free(p->framework);
	argv_clear(p);
	for (size_t i = 0; i < p->evidence_count; i++)
		free(p->evidence[i]);
	free(p->evidence);
	free(p->dockerfile);
	free(p->node_pm);
	free(p->node_pm_version);
	free(p->yarn_path);
	free(p->lockfile);
	free(p->spa_dir);
	free(p->requirements);
	free(p->go_target);
	free(p->static_root);
	free(p->context_dir);
	free(p->app_dir);
	memset(p, 0, sizeof(*p));
}

int wl_build_plan_to_detection(struct wl_detection *out,
			       const struct wl_build_plan *p)
{
	memset(out, 0, sizeof(*out));
	out->type = p->type;
	out->port = p->port;
	if (p->framework && !(out->framework = strdup(p->framework)))
		goto fail;
	if (p->start_argc)
		out->start_command = argv_join(p->start_argv, p->start_argc);
	else if (p->dockerfile)
		out->start_command = strdup("(CMD of the Dockerfile)");
	if ((p->start_argc || p->dockerfile) && !out->start_command)
		goto fail;
	if (p->evidence_count) {
		out->evidence =
			calloc(p->evidence_count, sizeof(*out->evidence));
		if (!out->evidence)
			goto fail;
		for (size_t i = 0; i < p->evidence_count; i++) {
			if (!(out->evidence[i] = strdup(p->evidence[i])))
				goto fail;
			out->evidence_count++;
		}
	}
	return 0;
fail:
	free(out->framework);
	free(out->start_command);
	for (size_t i = 0; i < out->evidence_count; i++)
		free(out->evidence[i]);
	free(out->evidence);
	memset(out, 0, sizeof(*out));
	return oom();
}
