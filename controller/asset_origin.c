#include "controller/asset_origin.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "specs/core/buf.h"
#include "specs/core/fs.h"
#include "specs/core/banned.h"

#define CONFIG_MAX (256 << 10)

/*
 * The literal string assigned to key in a JavaScript/TypeScript config
 * ("key: 'v'", "key = \"v\"", backquotes without ${}), copied to out.
 * Only a key that stands as a word (not "database:") counts.
 */
static int js_string_of(const char *text, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);

	for (const char *p = strstr(text, key); p; p = strstr(p + 1, key)) {
		const char *v = p + kl, *end;
		char q;

		if (p > text && (isalnum((unsigned char)p[-1]) ||
				 p[-1] == '_' || p[-1] == '$' || p[-1] == '.'))
			continue;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != ':' && *v != '=')
			continue;
		v++;
		while (isspace((unsigned char)*v))
			v++;
		q = *v;
		if (q != '\'' && q != '"' && q != '`')
			continue;
		end = strchr(v + 1, q);
		if (!end || (size_t)(end - v - 1) >= n ||
		    memchr(v + 1, '\n', (size_t)(end - v - 1)) ||
		    (q == '`' && memchr(v + 1, '$', (size_t)(end - v - 1))))
			continue;
		memcpy(out, v + 1, (size_t)(end - v - 1));
		out[end - v - 1] = '\0';
		return 1;
	}
	return 0;
}

/* 1 if url names an origin ("https://cdn/...", "//cdn/..."). */
static int has_origin(const char *url)
{
	return !strncmp(url, "http://", 7) || !strncmp(url, "https://", 8) ||
	       !strncmp(url, "//", 2);
}

/* The path of a URL or a path; "" for "." and the like. */
static const char *path_of(const char *url)
{
	const char *p = url;

	if (has_origin(url)) {
		p = strstr(url, "//") + 2;
		p += strcspn(p, "/");
	}
	return p;
}

/* 1 if a path prefix other than the root (and "./", relative) is set. */
static int is_subpath(const char *path)
{
	return path[0] == '/' && strspn(path, "/") != strlen(path);
}

static int read_text(struct wl_buf *b, const char *dir, const char *name)
{
	wl_buf_reset(b);
	return wl_fs_read_beneath(b, dir, name) == 0 && b->ptr;
}

static int check_config(struct wl_buf *b, const char *dir,
			const char *const *files, const char *key,
			const char *what, char *msg, size_t n)
{
	char v[512];

	for (size_t i = 0; files[i]; i++) {
		if (!read_text(b, dir, files[i]) ||
		    !js_string_of(b->ptr, key, v, sizeof(v)))
			continue;
		if (has_origin(v)) {
			snprintf(msg, n,
				 "%s: %s '%s' makes the build load its "
				 "scripts and styles from another origin, "
				 "not from this prototype: the preview would "
				 "show the published site's assets. Remove "
				 "it (or set '/') for the preview.",
				 files[i], what, v);
			return 1;
		}
		if (is_subpath(path_of(v))) {
			snprintf(msg, n,
				 "%s: %s '%s' makes the build load its "
				 "assets under %s, which the preview (served "
				 "at /) does not have. Set '/' for the "
				 "preview.",
				 files[i], what, v, path_of(v));
			return 1;
		}
	}
	return 0;
}

static int check_homepage(struct wl_buf *b, const char *dir, char *msg,
			  size_t n)
{
	cJSON *root, *home, *deps;
	int found = 0;

	if (!read_text(b, dir, "package.json"))
		return 0;
	root = cJSON_Parse(b->ptr);
	home = cJSON_GetObjectItemCaseSensitive(root, "homepage");
	deps = cJSON_GetObjectItemCaseSensitive(root, "dependencies");
	/* Only Create React App reads homepage for its asset paths. */
	if (cJSON_IsString(home) &&
	    (cJSON_GetObjectItemCaseSensitive(deps, "react-scripts") ||
	     cJSON_GetObjectItemCaseSensitive(
		     cJSON_GetObjectItemCaseSensitive(root, "devDependencies"),
		     "react-scripts")) &&
	    is_subpath(path_of(home->valuestring))) {
		snprintf(msg, n,
			 "package.json: homepage '%s' makes the Create React "
			 "App build load its assets under %s, which the "
			 "preview (served at /) does not have. Remove it (or "
			 "set \".\") for the preview.",
			 home->valuestring, path_of(home->valuestring));
		found = 1;
	}
	cJSON_Delete(root);
	return found;
}

int wl_asset_origin_check(const char *dir, char *msg, size_t n)
{
	static const char *const vite[] = { "vite.config.js",
					    "vite.config.ts",
					    "vite.config.mjs",
					    "vite.config.mts",
					    "vite.config.cjs",
					    "vite.config.cts",
					    NULL };
	static const char *const next[] = { "next.config.js", "next.config.mjs",
					    "next.config.ts", "next.config.cjs",
					    NULL };
	struct wl_buf b;
	int found;

	wl_buf_init(&b, CONFIG_MAX);
	found = check_config(&b, dir, vite, "base", "base", msg, n) ||
		check_config(&b, dir, next, "assetPrefix", "assetPrefix", msg,
			     n) ||
		check_homepage(&b, dir, msg, n);
	wl_buf_release(&b);
	return found;
}
