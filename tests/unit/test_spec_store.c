/*
 * Unit tests of specs/spec_store.c, in a fresh mkdtemp() state directory:
 * files as a user or the controller would see them on disk.
 */
#include "tests/unit/unit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "specs/codec.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/spec_store.h"
#include "specs/core/banned.h"

static char root[64];
static struct wl_store store;

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/wl-store-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(1);
	}
	if (wl_store_init(&store, root) < 0) {
		fprintf(stderr, "store init: %s\n", wl_error_last());
		exit(1);
	}
}

static void teardown(void)
{
	wl_store_release(&store);
	wl_fs_remove_tree(root);
}

/* Write a file under the state directory as a person would. */
static void put_file(const char *rel, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(content, f);
	fclose(f);
}

static void make_worklet(struct wl_worklet *w, const char *id)
{
	wl_worklet_init(w);
	wl_str_set(&w->meta.id, id);
	wl_str_set(&w->meta.name, "Demo app");
	w->meta.generation = 3;
	wl_str_set(&w->spec.git_repo, "https://github.com/user/repo.git");
	wl_str_set(&w->spec.base_prompt, "Add a dark mode toggle\nplease");
	wl_kvlist_set(&w->spec.env, "PORT", "3000");
	w->status.phase = WL_PHASE_RUNNING;
	w->status.observed_generation = 3;
	w->status.port = 40001;
	wl_str_set(&w->status.container_id, "abc123");
}

static void test_init_dirs(void)
{
	static const char *const dirs[] = { "", "/specs", "/status", "/logs" };
	struct wl_store again;

	setup();
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[256];
		struct stat st;

		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		CHECK(stat(path, &st) == 0);
		CHECK(S_ISDIR(st.st_mode));
		/* Specs may carry env values: only the owner reads them. */
		CHECK((st.st_mode & 0777) == 0700);
	}
	/* A second init over existing directories is fine. */
	CHECK(wl_store_init(&again, root) == 0);
	wl_store_release(&again);
	CHECK(wl_store_init(&again, "") == WL_EINVALID);
	teardown();
}

static void test_write_read_spec(void)
{
	struct wl_worklet w, back;
	char path[256];
	struct stat st;

	setup();
	make_worklet(&w, "demo");
	CHECK(wl_store_write_spec(&store, &w) == 0);
	snprintf(path, sizeof(path), "%s/specs/demo.yaml", root);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	/* Desired state only: the spec file holds no status. */
	snprintf(path, sizeof(path), "%s/status/demo.yaml", root);
	CHECK(!wl_fs_exists(path));

	CHECK(wl_store_read_spec(&store, "demo", &back) == 0);
	CHECK_STR(back.meta.id, "demo");
	CHECK_STR(back.meta.name, "Demo app");
	CHECK(back.meta.generation == 3);
	CHECK_STR(back.spec.git_repo, "https://github.com/user/repo.git");
	CHECK_STR(back.spec.base_prompt, "Add a dark mode toggle\nplease");
	CHECK_STR(wl_kvlist_get(&back.spec.env, "PORT"), "3000");
	CHECK(back.status.phase == WL_PHASE_NONE);
	wl_worklet_release(&back);

	/* Rewriting replaces the file, leaving no temp file behind. */
	wl_str_set(&w.spec.branch, "dev");
	CHECK(wl_store_write_spec(&store, &w) == 0);
	CHECK(wl_store_read_spec(&store, "demo", &back) == 0);
	CHECK_STR(back.spec.branch, "dev");
	wl_worklet_release(&back);
	{
		char **ids = NULL;
		size_t n = 0;

		CHECK(wl_store_list(&store, 0, &ids, &n) == 0);
		CHECK(n == 1);
		wl_store_free_ids(ids, n);
	}

	CHECK(wl_store_remove_spec(&store, "demo") == 0);
	CHECK(wl_store_read_spec(&store, "demo", &back) == WL_ENOTFOUND);
	CHECK_STR(wl_error_last(), "specs/demo.yaml: does not exist");
	/* Removing what is gone is success. */
	CHECK(wl_store_remove_spec(&store, "demo") == 0);
	wl_worklet_release(&w);
	teardown();
}

static void test_status_separate(void)
{
	struct wl_worklet w, back;

	setup();
	make_worklet(&w, "demo");
	CHECK(wl_store_write_spec(&store, &w) == 0);
	CHECK(wl_store_write_status(&store, &w) == 0);

	/* read_status fills only status; the caller's spec stays. */
	CHECK(wl_store_read_spec(&store, "demo", &back) == 0);
	wl_str_set(&back.spec.branch, "edited-in-memory");
	CHECK(wl_store_read_status(&store, "demo", &back) == 0);
	CHECK(back.status.phase == WL_PHASE_RUNNING);
	CHECK(back.status.observed_generation == 3);
	CHECK(back.status.port == 40001);
	CHECK_STR(back.status.container_id, "abc123");
	CHECK_STR(back.spec.branch, "edited-in-memory");
	CHECK_STR(back.meta.name, "Demo app");

	/* A newer status replaces the old one completely. */
	wl_status_release(&w.status);
	w.status.phase = WL_PHASE_STOPPED;
	CHECK(wl_store_write_status(&store, &w) == 0);
	CHECK(wl_store_read_status(&store, "demo", &back) == 0);
	CHECK(back.status.phase == WL_PHASE_STOPPED);
	CHECK(back.status.container_id == NULL);
	wl_worklet_release(&back);

	/* Writing status never touches the spec file and vice versa. */
	wl_str_set(&w.spec.git_repo, "https://github.com/other/repo");
	CHECK(wl_store_write_status(&store, &w) == 0);
	CHECK(wl_store_read_spec(&store, "demo", &back) == 0);
	CHECK_STR(back.spec.git_repo, "https://github.com/user/repo.git");
	wl_worklet_release(&back);

	/* Status listing is separate from spec listing. */
	{
		char **ids = NULL;
		size_t n = 0;

		CHECK(wl_store_remove_spec(&store, "demo") == 0);
		CHECK(wl_store_list(&store, 0, &ids, &n) == 0 && n == 0);
		wl_store_free_ids(ids, n);
		CHECK(wl_store_list(&store, 1, &ids, &n) == 0 && n == 1);
		CHECK(n == 1 && !strcmp(ids[0], "demo"));
		wl_store_free_ids(ids, n);
	}

	/* remove_status takes the logs with it. */
	{
		char log[512];

		CHECK(wl_store_log_path(&store, "demo", "build.log", log,
					sizeof(log)) == 0);
		put_file("logs/demo/build.log", "step 1/3\n");
		CHECK(wl_fs_exists(log));
		CHECK(wl_store_remove_status(&store, "demo") == 0);
		CHECK(!wl_fs_exists(log));
		wl_worklet_init(&back);
		CHECK(wl_store_read_status(&store, "demo", &back) ==
		      WL_ENOTFOUND);
		CHECK(wl_store_remove_status(&store, "demo") == 0);
	}
	wl_worklet_release(&w);
	teardown();
}

static void test_list_ignores_junk(void)
{
	static const struct {
		const char *name;
		int listed;
	} files[] = {
		{ "zeta.yaml", 1 },
		{ "alpha.yaml", 1 },
		{ "app-2.yaml", 1 },
		{ "alpha.yaml.tmp-abcd", 0 }, /* an atomic write in flight */
		{ "x.yaml.tmp-0123456789abcdef", 0 },
		{ ".hidden.yaml", 0 },	  /* dotfile */
		{ ".alpha.yaml.swp", 0 }, /* vim */
		{ "alpha.yaml~", 0 },	  /* emacs backup */
		{ "alpha.yaml.bak", 0 },
		{ "#alpha.yaml#", 0 },
		{ "Upper.yaml", 0 }, /* not a valid id */
		{ "under_score.yaml", 0 },
		{ "-dash.yaml", 0 },
		{ ".yaml", 0 },
		{ "notes.txt", 0 },
		{ "alpha.yml", 0 },
		{ "alpha.json", 0 },
	};
	char **ids = NULL, path[256];
	size_t n = 0;

	setup();
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "specs/%s", files[i].name);
		put_file(path, "junk: [\n");
	}
	/* A directory named like a spec is not a spec. */
	snprintf(path, sizeof(path), "%s/specs/dir.yaml", root);
	CHECK(mkdir(path, 0700) == 0);

	CHECK(wl_store_list(&store, 0, &ids, &n) == 0);
	CHECK(n == 3);
	if (n == 3) {
		/* Sorted. */
		CHECK_STR(ids[0], "alpha");
		CHECK_STR(ids[1], "app-2");
		CHECK_STR(ids[2], "zeta");
	}
	wl_store_free_ids(ids, n);
	/* Listing is not an error, even though it skipped bad names. */
	CHECK_STR(wl_error_last(), "");
	teardown();
}

static void test_bad_files(void)
{
	static const struct {
		const char *id, *content;
		int code;
		const char *want;
	} cases[] = {
		{ "port",
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  containerPort: lots\n",
		  WL_EINVALID,
		  "specs/port.yaml: spec.containerPort: must be an integer "
		  "(line 4)" },
		{ "typo",
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  gitRep: https://github.com/u/r\n",
		  WL_EINVALID, "specs/typo.yaml: spec.gitRep: unknown field" },
		{ "half",
		  "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n"
		  "  gitRepo: \"https://github.com/u",
		  WL_EINVALID, "specs/half.yaml: invalid YAML" },
		{ "empty", "", WL_EINVALID,
		  "specs/empty.yaml: document is empty" },
		{ "other",
		  "apiVersion: worklet.dev/v1\nkind: Worklet\n"
		  "metadata:\n  id: someone-else\n",
		  WL_EINVALID,
		  "specs/other.yaml: metadata.id: 'someone-else' does not "
		  "match "
		  "the file name" },
		{ "kind", "apiVersion: worklet.dev/v1\nkind: WorkletStatus\n",
		  WL_EINVALID, "specs/kind.yaml: kind: must be \"Worklet\"" },
	};
	struct wl_worklet w, good;
	char path[256];

	setup();
	make_worklet(&good, "good");
	CHECK(wl_store_write_spec(&store, &good) == 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "specs/%s.yaml", cases[i].id);
		put_file(path, cases[i].content);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(wl_store_read_spec(&store, cases[i].id, &w) ==
		      cases[i].code);
		CHECK_CONTAINS(wl_error_last(), cases[i].want);
		CHECK(w.meta.id == NULL && w.spec.git_repo == NULL);
		wl_worklet_release(&w);
		/* A bad neighbour changes nothing for a good file. */
		CHECK(wl_store_read_spec(&store, "good", &w) == 0);
		CHECK_STR(w.spec.git_repo, "https://github.com/user/repo.git");
		wl_worklet_release(&w);
	}

	/* Without metadata.id, the file name gives the id. */
	put_file("specs/noid.yaml",
		 "apiVersion: worklet.dev/v1\nkind: Worklet\n"
		 "spec:\n  gitRepo: https://github.com/u/r\n");
	CHECK(wl_store_read_spec(&store, "noid", &w) == 0);
	CHECK_STR(w.meta.id, "noid");
	wl_worklet_release(&w);

	/* A status file naming another worklet is refused, too. */
	put_file("status/good.yaml",
		 "apiVersion: worklet.dev/v1\n"
		 "kind: WorkletStatus\nmetadata:\n  id: bad\n"
		 "status:\n  phase: running\n");
	CHECK(wl_store_read_status(&store, "good", &good) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "status/good.yaml: metadata.id: 'bad'");
	/* ...and the status the caller held is kept. */
	CHECK(good.status.phase == WL_PHASE_RUNNING);
	wl_worklet_release(&good);
	teardown();
}

static void test_too_big(void)
{
	struct wl_worklet w;
	char path[256];
	int fd;

	setup();
	snprintf(path, sizeof(path), "%s/specs/huge.yaml", root);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, WL_SPEC_FILE_MAX + 1) == 0);
	close(fd);
	CHECK(wl_store_read_spec(&store, "huge", &w) == WL_ETOOBIG);
	CHECK_CONTAINS(wl_error_last(),
		       "specs/huge.yaml: file is larger than 262144 bytes");
	wl_worklet_release(&w);
	teardown();
}

/* Ids become file names: nothing may escape the state directory. */
static void test_bad_ids(void)
{
	static const char *const ids[] = { "../escape", "a/b",	 "",
					   "..",	"UPPER", "x\ny" };
	struct wl_worklet w;
	char log[512];

	setup();
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		CHECK(wl_store_read_spec(&store, ids[i], &w) == WL_EINVALID);
		CHECK_CONTAINS(wl_error_last(), "invalid worklet id");
		CHECK(!strchr(wl_error_last(), '\n'));
		wl_worklet_release(&w);
		CHECK(wl_store_remove_spec(&store, ids[i]) == WL_EINVALID);
		CHECK(wl_store_remove_status(&store, ids[i]) == WL_EINVALID);
		CHECK(wl_store_log_path(&store, ids[i], "build.log", log,
					sizeof(log)) == WL_EINVALID);
		make_worklet(&w, ids[i]);
		CHECK(wl_store_write_spec(&store, &w) == WL_EINVALID);
		CHECK(wl_store_write_status(&store, &w) == WL_EINVALID);
		wl_worklet_release(&w);
	}
	/* A worklet without an id cannot be written. */
	make_worklet(&w, "x");
	wl_str_set(&w.meta.id, NULL);
	CHECK(wl_store_write_spec(&store, &w) == WL_EINVALID);
	wl_worklet_release(&w);
	/* Log names are plain file names. */
	CHECK(wl_store_log_path(&store, "ok", "../../x", log, sizeof(log)) ==
	      WL_EINVALID);
	CHECK(wl_store_log_path(&store, "ok", "..", log, sizeof(log)) ==
	      WL_EINVALID);
	CHECK(wl_store_log_path(&store, "ok", "build.log", log, 8) < 0);
	teardown();
}

/* A pid no process has: a child that has exited and been reaped. */
static int dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return (int)pid;
}

static int exists_rel(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return wl_fs_exists(path);
}

/* A crash between create and rename leaves a temp file: swept at start. */
static void test_sweep_temps(void)
{
	static const char *const dirs[] = { "specs", "status", "prompts" };
	char dead[128], mine[128], live[128], rel[256];
	const char *hex = "0123456789abcdef";

	setup();
	snprintf(dead, sizeof(dead), "a.yaml.tmp-%d-%s", dead_pid(), hex);
	snprintf(mine, sizeof(mine), "b.yaml.tmp-%d-%s", (int)getpid(), hex);
	snprintf(live, sizeof(live), "c.yaml.tmp-1-%s", hex);
	for (size_t i = 0; i < 3; i++) {
		const char *names[] = { dead, mine, live, "d.yaml.tmp-abcd",
					"e.yaml" };

		for (size_t j = 0; j < 5; j++) {
			snprintf(rel, sizeof(rel), "%s/%s", dirs[i], names[j]);
			put_file(rel, "x");
		}
	}
	CHECK(wl_store_sweep_temps(&store) == 3);
	for (size_t i = 0; i < 3; i++) {
		snprintf(rel, sizeof(rel), "%s/%s", dirs[i], dead);
		CHECK(!exists_rel(rel));
		snprintf(rel, sizeof(rel), "%s/%s", dirs[i], mine);
		CHECK(exists_rel(rel)); /* this process may be writing it */
		snprintf(rel, sizeof(rel), "%s/%s", dirs[i], live);
		CHECK(exists_rel(rel)); /* another live process's */
		snprintf(rel, sizeof(rel), "%s/d.yaml.tmp-abcd", dirs[i]);
		CHECK(exists_rel(rel)); /* not a name we make */
		snprintf(rel, sizeof(rel), "%s/e.yaml", dirs[i]);
		CHECK(exists_rel(rel));
	}
	CHECK(wl_store_sweep_temps(&store) == 0);
	teardown();
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_init_dirs),
		UNIT(test_write_read_spec),
		UNIT(test_status_separate),
		UNIT(test_list_ignores_junk),
		UNIT(test_bad_files),
		UNIT(test_too_big),
		UNIT(test_bad_ids),
		UNIT(test_sweep_temps),
		{ 0 },
	};

	return wl_unit_run(tests);
}
