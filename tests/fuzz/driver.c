/*
 * The standalone driver of a fuzz target: runs every file named on the
 * command line, and every regular file in every directory named (not
 * recursively, in name order), through LLVMFuzzerTestOneInput once. Used
 * by the CTest replay of tests/fuzz/corpus/<target>/ and
 * tests/fuzz/regress/<target>/, under any compiler; a crash or a failed
 * check aborts the run with the file's name printed first.
 *
 *   replay_<target> PATH...
 *
 * A path that does not exist is skipped (an empty regress/ is not
 * committed); exits 1 when no input at all was run.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			unsigned char *p;

			cap = cap ? cap * 2 : 4096;
			if (!(p = realloc(data, cap))) {
				fprintf(stderr, "%s: out of memory\n", path);
				free(data);
				fclose(f);
				return -1;
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	fprintf(stderr, "running %s (%zu bytes)\n", path, len);
	/* An exact-size copy, so that ASan sees reads past the end. */
	{
		unsigned char *exact = malloc(len ? len : 1);

		if (!exact) {
			free(data);
			return -1;
		}
		memcpy(exact, data, len);
		free(data);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int error = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **p;

			cap = cap ? cap * 2 : 64;
			if (!(p = realloc(names, cap * sizeof(*names)))) {
				error = -1;
				break;
			}
			names = p;
		}
		size_t need = strlen(dir) + strlen(e->d_name) + 2;

		if (!(names[n] = malloc(need))) {
			error = -1;
			break;
		}
		snprintf(names[n++], need, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (!error && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(names[i]) < 0)
				error = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return error;
}

int main(int argc, char **argv)
{
	size_t count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		int error;

		if (stat(argv[i], &st) < 0 && errno == ENOENT)
			continue; /* an empty regress/ is not committed */
		if (S_ISDIR(st.st_mode))
			error = run_dir(argv[i], &count);
		else if ((error = run_file(argv[i])) == 0)
			count++;
		if (error < 0) {
			fprintf(stderr, "%s: cannot be replayed\n", argv[i]);
			return 1;
		}
	}
	fprintf(stderr, "replayed %zu input(s)\n", count);
	return count ? 0 : 1;
}
