#include "controller/build_context.h"

#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "tests/unit/unit.h"
#include "specs/core/banned.h"

#define LONG_NAME                                                              \
	"a-file-name-that-is-much-longer-than-the-one-hundred-bytes-a-plain-"  \
	"ustar-header-can-hold-so-pax-is-needed.txt"

static char root[64];

static void put(const char *rel, const char *data, mode_t mode)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
	fchmod(fd, mode);
	close(fd);
}

static void sub(const char *rel, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", root, rel);
}

/* A tree with every kind of entry the context must handle. */
static void make_tree(void)
{
	char p[512];

	snprintf(root, sizeof(root), "/tmp/wl-test-ctx-XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	put("a.txt", "alpha\n", 0644);
	put("run.sh", "#!/bin/sh\necho hi\n", 0755);
	put("Dockerfile", "FROM repo-version\n", 0644);
	put(LONG_NAME, "long\n", 0644);
	sub("sub", p, sizeof(p));
	CHECK(mkdir(p, 0750) == 0);
	put("sub/b.txt", "bravo\n", 0600);
	sub("sub/deeper", p, sizeof(p));
	CHECK(mkdir(p, 0755) == 0);
	put("sub/deeper/c.txt", "charlie\n", 0644);
	sub("link", p, sizeof(p));
	CHECK(symlink("/etc/passwd", p) == 0);
	sub("sub/rel-link", p, sizeof(p));
	CHECK(symlink("../a.txt", p) == 0);
	sub("fifo", p, sizeof(p));
	CHECK(mkfifo(p, 0644) == 0);
	sub(".git", p, sizeof(p));
	CHECK(mkdir(p, 0755) == 0);
	put(".git/config", "[core]\n", 0644);
	put(".gitignore", "node_modules\n", 0644);
	put("caf\xc3\xa9.txt", "utf-8 name\n", 0644);
	put("bad\xff", "not utf-8\n", 0644);
}

struct entry {
	const char *path;
	mode_t type;
	int perm;
	const char *content; /* regular files */
	const char *link;    /* symlinks */
};

static const struct wl_gen_file extras[] = {
	{ (char *)"Dockerfile", (char *)"FROM generated\n", 15, 0644 },
	{ (char *)".worklet/start.sh", (char *)"#!/bin/sh\n", 10, 0755 },
};

/* What the archive must hold, in this order (sorted, extras last). */
static const struct entry expected[] = {
	{ ".gitignore", AE_IFREG, 0644, "node_modules\n", NULL },
	{ LONG_NAME, AE_IFREG, 0644, "long\n", NULL },
	{ "a.txt", AE_IFREG, 0644, "alpha\n", NULL },
	{ "bad\xff", AE_IFREG, 0644, "not utf-8\n", NULL },
	{ "caf\xc3\xa9.txt", AE_IFREG, 0644, "utf-8 name\n", NULL },
	{ "link", AE_IFLNK, 0777, NULL, "/etc/passwd" },
	{ "run.sh", AE_IFREG, 0755, "#!/bin/sh\necho hi\n", NULL },
	{ "sub", AE_IFDIR, 0750, NULL, NULL },
	{ "sub/b.txt", AE_IFREG, 0600, "bravo\n", NULL },
	{ "sub/deeper", AE_IFDIR, 0755, NULL, NULL },
	{ "sub/deeper/c.txt", AE_IFREG, 0644, "charlie\n", NULL },
	{ "sub/rel-link", AE_IFLNK, 0777, NULL, "../a.txt" },
	{ "Dockerfile", AE_IFREG, 0644, "FROM generated\n", NULL },
	{ ".worklet/start.sh", AE_IFREG, 0755, "#!/bin/sh\n", NULL },
};

static void check_archive(const struct wl_buf *tar)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	size_t i = 0, n = sizeof(expected) / sizeof(expected[0]);
	char data[256];

	archive_read_support_format_tar(a);
	CHECK(archive_read_open_memory(a, tar->ptr, tar->len) == ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		char path[512];
		size_t len;
		ssize_t got;

		snprintf(path, sizeof(path), "%s", archive_entry_pathname(e));
		len = strlen(path);
		if (len && path[len - 1] == '/')
			path[len - 1] = '\0';
		CHECK(strncmp(path, ".git/", 5) && strcmp(path, ".git"));
		CHECK(strcmp(path, "fifo"));
		if (i >= n) {
			fprintf(stderr, "unexpected entry '%s'\n", path);
			CHECK(i < n);
			i++;
			continue;
		}
		CHECK_STR(path, expected[i].path);
		CHECK(archive_entry_filetype(e) == expected[i].type);
		CHECK((int)archive_entry_perm(e) == expected[i].perm);
		CHECK(archive_entry_uid(e) == 0 && archive_entry_gid(e) == 0);
		CHECK(archive_entry_mtime(e) == 946684800); /* 2000-01-01 */
		got = archive_read_data(a, data, sizeof(data) - 1);
		CHECK(got >= 0);
		data[got > 0 ? got : 0] = '\0';
		if (expected[i].content) {
			CHECK_STR(data, expected[i].content);
			CHECK(archive_entry_size(e) ==
			      (la_int64_t)strlen(expected[i].content));
		} else {
			/* Links and dirs carry no content: nothing leaks. */
			CHECK(got == 0);
			CHECK(archive_entry_size(e) == 0);
		}
		if (expected[i].link)
			CHECK_STR(archive_entry_symlink(e), expected[i].link);
		i++;
	}
	CHECK(i == n);
	archive_read_free(a);
}

static void test_entries(void)
{
	struct wl_buf tar;

	make_tree();
	wl_buf_init(&tar, 16 * 1024 * 1024);
	CHECK(wl_build_context_tar(&tar, root, extras, 2) == 0);
	CHECK(tar.len > 0 && tar.len % 512 == 0);
	check_archive(&tar);
	wl_buf_release(&tar);
	wl_fs_remove_tree(root);
}

static void test_deterministic(void)
{
	struct wl_buf one, two;
	struct timeval tv[2] = { { 1234567, 0 }, { 1234567, 0 } };
	char p[512];

	make_tree();
	wl_buf_init(&one, 16 * 1024 * 1024);
	wl_buf_init(&two, 16 * 1024 * 1024);
	CHECK(wl_build_context_tar(&one, root, extras, 2) == 0);
	/* Times and owners of the checkout must not matter. */
	sub("a.txt", p, sizeof(p));
	CHECK(utimes(p, tv) == 0);
	sub("sub/b.txt", p, sizeof(p));
	CHECK(chown(p, 1000, 1000) == 0 || geteuid() != 0);
	sub("sub", p, sizeof(p));
	CHECK(utimes(p, tv) == 0);
	/* Nor does the locale (names are stored as raw bytes). */
	CHECK(setlocale(LC_ALL, "C.UTF-8") != NULL);
	CHECK(wl_build_context_tar(&two, root, extras, 2) == 0);
	setlocale(LC_ALL, "C");
	CHECK(one.len == two.len);
	CHECK(one.len == two.len && !memcmp(one.ptr, two.ptr, one.len));
	/* Content does matter. */
	put("a.txt", "alphA\n", 0644);
	wl_buf_reset(&two);
	CHECK(wl_build_context_tar(&two, root, extras, 2) == 0);
	CHECK(one.len != two.len || memcmp(one.ptr, two.ptr, one.len));
	wl_buf_release(&one);
	wl_buf_release(&two);
	wl_fs_remove_tree(root);
}

static void test_appends(void)
{
	struct wl_buf tar;
	struct wl_buf plain;

	make_tree();
	wl_buf_init(&plain, 16 * 1024 * 1024);
	wl_buf_init(&tar, 16 * 1024 * 1024);
	CHECK(wl_build_context_tar(&plain, root, NULL, 0) == 0);
	CHECK(wl_buf_puts(&tar, "prefix") == 0);
	CHECK(wl_build_context_tar(&tar, root, NULL, 0) == 0);
	CHECK(tar.len == plain.len + 6);
	CHECK(!memcmp(tar.ptr, "prefix", 6));
	CHECK(!memcmp(tar.ptr + 6, plain.ptr, plain.len));
	wl_buf_release(&tar);
	wl_buf_release(&plain);
	wl_fs_remove_tree(root);
}

static void test_too_big(void)
{
	struct wl_buf tar;
	char *big = malloc(20000), expect[128];

	make_tree();
	memset(big, 'x', 19999);
	big[19999] = '\0';
	put("big.bin", big, 0644);
	wl_buf_init(&tar, 8192);
	CHECK(wl_buf_puts(&tar, "keep") == 0);
	CHECK(wl_build_context_tar(&tar, root, NULL, 0) == WL_ETOOBIG);
	snprintf(expect, sizeof(expect),
		 "build context of '%s' exceeds 8192 bytes", root);
	CHECK_STR(wl_error_last(), expect);
	/* Nothing half-written is left behind. */
	CHECK_STR(wl_buf_cstr(&tar), "keep");
	CHECK(tar.len == 4);
	wl_buf_release(&tar);
	free(big);
	wl_fs_remove_tree(root);
}

static void test_bad_input(void)
{
	static const char *const bad[] = { "../escape", "/abs", "a/../b",
					   "a//b",	"",	"./x",
					   "dir/",	"." };
	struct wl_buf tar;

	make_tree();
	wl_buf_init(&tar, 1024 * 1024);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wl_gen_file g = { (char *)bad[i], (char *)"x", 1, 0644 };

		CHECK(wl_build_context_tar(&tar, root, &g, 1) == WL_EINVALID);
		CHECK_CONTAINS(wl_error_last(), "invalid generated file path");
		CHECK(tar.len == 0);
	}
	CHECK(wl_build_context_tar(&tar, "/nonexistent/wl-ctx", NULL, 0) ==
	      WL_ENOTFOUND);
	CHECK_CONTAINS(wl_error_last(), "cannot open '/nonexistent/wl-ctx'");
	wl_buf_release(&tar);
	wl_fs_remove_tree(root);
}

/*
 * A generated file whose parent is a repo symlink: the symlink gives way,
 * so the generated file can never be written through it.
 */
/* The same generated path twice: one entry, the last one's content. */
static void test_generated_duplicate_last_wins(void)
{
	static const struct wl_gen_file g[] = {
		{ (char *)"Dockerfile", (char *)"FROM first\n", 11, 0644 },
		{ (char *)"Dockerfile", (char *)"FROM last\n", 10, 0600 },
	};
	struct wl_buf tar;
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char data[64];
	int seen = 0;

	make_tree();
	wl_buf_init(&tar, 16 * 1024 * 1024);
	CHECK(wl_build_context_tar(&tar, root, g, 2) == 0);
	archive_read_support_format_tar(a);
	CHECK(archive_read_open_memory(a, tar.ptr, tar.len) == ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		ssize_t n;

		if (strcmp(archive_entry_pathname(e), "Dockerfile"))
			continue;
		seen++;
		n = archive_read_data(a, data, sizeof(data) - 1);
		data[n > 0 ? n : 0] = '\0';
		CHECK_STR(data, "FROM last\n");
		CHECK(archive_entry_perm(e) == 0600);
	}
	CHECK(seen == 1);
	archive_read_free(a);
	wl_buf_release(&tar);
	wl_fs_remove_tree(root);
}

static void test_generated_parent_replaces_link(void)
{
	struct wl_gen_file g = { (char *)"link/Dockerfile", (char *)"FROM x\n",
				 7, 0644 };
	struct wl_buf tar;
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int saw_link = 0, saw_gen = 0;

	make_tree();
	wl_buf_init(&tar, 16 * 1024 * 1024);
	CHECK(wl_build_context_tar(&tar, root, &g, 1) == 0);
	archive_read_support_format_tar(a);
	CHECK(archive_read_open_memory(a, tar.ptr, tar.len) == ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (!strcmp(archive_entry_pathname(e), "link"))
			saw_link = 1;
		if (!strcmp(archive_entry_pathname(e), "link/Dockerfile"))
			saw_gen = 1;
	}
	CHECK(!saw_link);
	CHECK(saw_gen);
	archive_read_free(a);
	wl_buf_release(&tar);
	wl_fs_remove_tree(root);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_entries),
		UNIT(test_deterministic),
		UNIT(test_appends),
		UNIT(test_too_big),
		UNIT(test_bad_input),
		UNIT(test_generated_duplicate_last_wins),
		UNIT(test_generated_parent_replaces_link),
		{ 0 },
	};

	return wl_unit_run(tests);
}
