/* controller/asset_origin.c: build settings that move the assets away. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "controller/asset_origin.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "unit.h"

static void put(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_settings(void)
{
	static const struct {
		const char *file, *text;
		const char *want; /* in the message; NULL: nothing found */
	} cases[] = {
		{ "vite.config.ts",
		  "export default defineConfig({\n  base: "
		  "'https://cdn.example.com/app/',\n  plugins: "
		  "[react()],\n})\n",
		  "vite.config.ts: base 'https://cdn.example.com/app/'" },
		{ "vite.config.js", "export default { base: \"/my-repo/\" }\n",
		  "under /my-repo/" },
		{ "vite.config.mjs", "export default { base: '/' }\n", NULL },
		{ "vite.config.js", "export default { base: './' }\n", NULL },
		{ "vite.config.js",
		  "const database = 'https://db';\nexport default {}\n", NULL },
		{ "vite.config.js",
		  "export default { base: `${process.env.BASE}` }\n", NULL },
		{ "next.config.mjs",
		  "const nextConfig = {\n  assetPrefix: "
		  "\"https://cdn.example.com\",\n};\nexport default "
		  "nextConfig;\n",
		  "next.config.mjs: assetPrefix 'https://cdn.example.com'" },
		{ "next.config.js",
		  "module.exports = { assetPrefix: isProd ? 'https://x' : '' "
		  "}\n",
		  NULL },
		{ "package.json",
		  "{\"homepage\": \"https://user.github.io/my-app\", "
		  "\"dependencies\": {\"react-scripts\": \"5.0.1\"}}",
		  "homepage 'https://user.github.io/my-app'" },
		{ "package.json",
		  "{\"homepage\": \"https://user.github.io/my-app\", "
		  "\"dependencies\": {\"vite\": \"7\"}}",
		  NULL },
		{ "package.json",
		  "{\"homepage\": \".\", \"dependencies\": {\"react-scripts\": "
		  "\"5\"}}",
		  NULL },
		{ "package.json", "not json", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[] = "/tmp/wl-asset-XXXXXX", msg[1024] = "";
		int got;

		CHECK(mkdtemp(dir) != NULL);
		put(dir, cases[i].file, cases[i].text);
		got = wl_asset_origin_check(dir, msg, sizeof(msg));
		if (got != (cases[i].want != NULL))
			fprintf(stderr, "case %zu: got %d (%s)\n", i, got, msg);
		CHECK(got == (cases[i].want != NULL));
		if (cases[i].want)
			CHECK_CONTAINS(msg, cases[i].want);
		wl_fs_remove_tree(dir);
	}
}

/* The checkout's files are read without leaving it (specs/core/fs.c). */
static void test_read_beneath(void)
{
	char dir[] = "/tmp/wl-beneath-XXXXXX", path[4096];
	struct wl_buf b;

	CHECK(mkdtemp(dir) != NULL);
	put(dir, "ok.txt", "hello");
	snprintf(path, sizeof(path), "%s/sub", dir);
	CHECK(mkdir(path, 0755) == 0);
	put(dir, "sub/in.txt", "inner");
	snprintf(path, sizeof(path), "%s/link", dir);
	CHECK(symlink("/etc/passwd", path) == 0);
	snprintf(path, sizeof(path), "%s/dirlink", dir);
	CHECK(symlink("/etc", path) == 0);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK(mkfifo(path, 0600) == 0);
	wl_buf_init(&b, 1 << 16);
	CHECK(wl_fs_read_beneath(&b, dir, "ok.txt") == 0);
	CHECK_STR(wl_buf_cstr(&b), "hello");
	wl_buf_reset(&b);
	CHECK(wl_fs_read_beneath(&b, dir, "sub/in.txt") == 0);
	CHECK_STR(wl_buf_cstr(&b), "inner");
	CHECK(wl_fs_read_beneath(&b, dir, "link") == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "symbolic link");
	CHECK(wl_fs_read_beneath(&b, dir, "dirlink/passwd") == WL_EINVALID);
	CHECK(wl_fs_read_beneath(&b, dir, "../etc/passwd") == WL_EINVALID);
	CHECK(wl_fs_read_beneath(&b, dir, "/etc/passwd") == WL_EINVALID);
	CHECK(wl_fs_read_beneath(&b, dir, "fifo") == WL_EINVALID);
	CHECK(wl_fs_read_beneath(&b, dir, "absent") == WL_ENOTFOUND);
	wl_buf_release(&b);
	wl_fs_remove_tree(dir);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_settings),
		UNIT(test_read_beneath),
		{ 0 },
	};
	return wl_unit_run(tests);
}
