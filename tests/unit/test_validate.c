/*
 * Unit tests of specs/validate.c. The git URL policy is a security
 * boundary (the URL reaches git), so hostile forms get their own table.
 */
#include "tests/unit/unit.h"

#include "specs/codec.h"
#include "specs/core/error.h"
#include "specs/validate.h"
#include "specs/core/banned.h"

static void test_ids(void)
{
	static const struct {
		const char *id;
		int ok;
	} cases[] = {
		{ "a", 1 },
		{ "my-app", 1 },
		{ "app1", 1 },
		{ "1app", 1 },
		{ "a-b-c-1-2-3", 1 },
		{ "a23456789012345678901234567890123456789012345678901234567890"
		  "123",
		  1 }, /* 63 */
		{ "a23456789012345678901234567890123456789012345678901234567890"
		  "1234",
		  0 }, /* 64 */
		{ "", 0 },
		{ "-app", 0 },
		{ "app-", 0 },
		{ "My-App", 0 },
		{ "my_app", 0 },
		{ "my.app", 0 },
		{ "my app", 0 },
		{ "../etc", 0 },
		{ "a/b", 0 },
		{ ".", 0 },
		{ "app\n", 0 },
		{ "caf\xc3\xa9", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int error = wl_validate_id(cases[i].id);

		CHECK(cases[i].ok ? error == 0 : error == WL_EINVALID);
		if (!cases[i].ok)
			CHECK_CONTAINS(wl_error_last(), "metadata.id: ");
		if ((error == 0) != cases[i].ok)
			fprintf(stderr, "  id case %zu: '%s'\n", i,
				cases[i].id);
	}
	CHECK(wl_validate_id(NULL) == WL_EINVALID);
	CHECK_STR(wl_error_last(), "metadata.id: required");
	CHECK(wl_validate_id("Bad") == WL_EINVALID);
	CHECK_STR(wl_error_last(), "metadata.id: must be a DNS label (a-z, "
				   "0-9, '-'), at most 63 characters");
}

static void test_git_urls(void)
{
	static const struct {
		const char *url;
		int allow_local;
		const char *want; /* NULL: accepted; else message substring */
	} cases[] = {
		{ "https://github.com/user/repo.git", 0, NULL },
		{ "https://github.com/user/repo", 0, NULL },
		{ "HTTPS://github.com/user/repo", 0, NULL },
		{ "https://gitlab.example.com:8443/group/sub/repo.git", 0,
		  NULL },
		{ "https://[::1]:8443/repo.git", 0, NULL },
		{ "https://10.0.0.1/repo.git", 0, NULL },
		{ "https://github.com/user/repo?x=1#frag", 0, NULL },
		/* Hostile: each would make git run something or read files. */
		{ "ext::sh -c touch% /tmp/pwned", 0,
		  "spec.gitRepo: the 'ext::' transport syntax is not allowed" },
		{ "ext::sh -c touch% /tmp/pwned", 1, "'ext::' transport" },
		{ "fd::17", 1, "'fd::' transport" },
		{ "https::github.com/x", 0, "transport syntax" },
		{ "x+y.z-w::thing", 1, "transport syntax" },
		{ "-uhttps://x", 0, "spec.gitRepo: must not start with '-'" },
		{ "--upload-pack=touch /tmp/pwned", 0,
		  "spec.gitRepo: must not start with '-'" },
		{ "--upload-pack=x", 1, "must not start with '-'" },
		{ "-", 1, "must not start with '-'" },
		{ "file:///etc", 0, "spec.gitRepo: must be an https URL" },
		{ "file:///etc/passwd", 0, "must be an https URL" },
		{ "/etc", 0, "must be an https URL" },
		{ "http://github.com/user/repo", 0, "must be an https URL" },
		{ "ssh://git@github.com/user/repo.git", 0,
		  "must be an https URL" },
		{ "ssh://github.com/user/repo.git", 1, "must be an https URL" },
		{ "git://github.com/user/repo.git", 0, "must be an https URL" },
		{ "git+ssh://github.com/user/repo.git", 0,
		  "must be an https URL" },
		{ "git@github.com:user/repo.git", 0, "must be an https URL" },
		{ "github.com:user/repo.git", 1, "must be an https URL" },
		{ "github.com/user/repo", 0, "must be an https URL" },
		{ "repo", 1, "must be an https URL" },
		{ "./repo", 1, "must be an https URL" },
		{ "ftp://example.com/repo", 1, "must be an https URL" },
		{ "https://user:pw@github.com/x", 0,
		  "spec.gitRepo: credentials in the URL are not allowed; use "
		  "GITHUB_TOKEN" },
		{ "https://ghp_abcdef@github.com/x", 0,
		  "credentials in the URL are not allowed" },
		{ "https://user:pw@github.com/x", 1, "credentials" },
		{ "http://user@localhost/x", 1, "credentials" },
		{ "https://github.com/user repo", 0,
		  "must not contain whitespace or control characters" },
		{ "https://github.com/x\n--upload-pack=y", 0,
		  "whitespace or control characters" },
		{ "https://github.com/x\ty", 0, "whitespace" },
		{ "https://github.com/x\x7f", 0, "control characters" },
		{ "https://github.com/caf\xc3\xa9", 0, "must be ASCII" },
		{ "https://github.com\\@evil.com/x", 0,
		  "must not contain '\\'" },
		{ "https://", 0, "the URL has no host" },
		{ "https:///path", 0, "the URL has no host" },
		{ "https://-oProxyCommand=x/repo", 0, "invalid host" },
		{ "https://exa_mple.com/x", 0, "invalid host" },
		{ "https://github.com:22x/x", 0, "invalid port" },
		{ "https://github.com:/x", 0, "invalid port" },
		{ "", 0, "spec.gitRepo: required" },
		/* Local forms, for development and tests only. */
		{ "file:///srv/git/repo.git", 1, NULL },
		{ "/srv/git/repo.git", 1, NULL },
		{ "http://127.0.0.1:8080/repo.git", 1, NULL },
		{ "file://host/srv/repo", 1, "file:///absolute/path" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int error =
			wl_validate_git_url(cases[i].url, cases[i].allow_local);

		if (!cases[i].want) {
			CHECK(error == 0);
		} else {
			CHECK(error == WL_EINVALID);
			CHECK_CONTAINS(wl_error_last(), cases[i].want);
		}
		if (cases[i].want
			    ? error != WL_EINVALID ||
				      !strstr(wl_error_last(), cases[i].want)
			    : error != 0)
			fprintf(stderr, "  url case %zu: '%s' -> %s\n", i,
				cases[i].url, wl_error_last());
	}
	CHECK(wl_validate_git_url(NULL, 1) == WL_EINVALID);
}

static void test_git_url_too_long(void)
{
	char url[WL_URL_MAX + 16];
	size_t n = (size_t)snprintf(url, sizeof(url), "https://github.com/");

	while (n < WL_URL_MAX)
		url[n++] = 'x';
	url[n] = '\0';
	CHECK(wl_validate_git_url(url, 0) == 0);
	url[n++] = 'x';
	url[n] = '\0';
	CHECK(wl_validate_git_url(url, 0) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "spec.gitRepo: longer than 2048");
}

static void test_branches(void)
{
	static const struct {
		const char *branch;
		const char *want; /* NULL: accepted */
	} cases[] = {
		{ "main", NULL },
		{ "feature/dark-mode", NULL },
		{ "release-1.2", NULL },
		{ "user/x_y.z", NULL },
		{ "ünï", NULL },
		{ "a@b", NULL },
		{ "", "spec.branch: must not be empty" },
		{ "-main", "must not start with '-'" },
		{ "--upload-pack=x", "must not start with '-'" },
		{ "a..b", "'..'" },
		{ "a b", "spaces" },
		{ "a~1", "~" },
		{ "a^", "~ ^ :" },
		{ "a:b", "~ ^ :" },
		{ "a?", "~ ^ :" },
		{ "a*", "~ ^ :" },
		{ "a[b", "~ ^ :" },
		{ "a\\b", "~ ^ :" },
		{ "a\nb", "control characters" },
		{ "a\x7f", "control characters" },
		{ "a@{1}", "'@{'" },
		{ "@", "'@{' or be '@'" },
		{ "/a", "'/'" },
		{ "a/", "'/'" },
		{ "a//b", "'//'" },
		{ "a.", "must not end with '.'" },
		{ ".hidden", "start with '.'" },
		{ "a/.b", "start with '.'" },
		{ "a.lock", "'.lock'" },
		{ "a.lock/b", "'.lock'" },
		{ "HEAD", "HEAD" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int error = wl_validate_branch(cases[i].branch);

		if (!cases[i].want) {
			CHECK(error == 0);
		} else {
			CHECK(error == WL_EINVALID);
			CHECK_CONTAINS(wl_error_last(), "spec.branch: ");
			CHECK_CONTAINS(wl_error_last(), cases[i].want);
		}
	}
	/* The message shows the name, but never raw control characters. */
	CHECK(wl_validate_branch("x\x1b[31m~") == WL_EINVALID);
	CHECK(!strchr(wl_error_last(), '\x1b'));
}

/* Whole documents, as a user writes them, through decode + validate. */
static void test_worklets(void)
{
	static const struct {
		const char *spec; /* the part after "spec:\n" */
		const char *meta; /* the part after "metadata:\n"; NULL: id */
		int allow_local;
		const char *want; /* NULL: valid */
	} cases[] = {
		{ "  gitRepo: https://github.com/u/r\n", NULL, 0, NULL },
		{ "  gitRepo: https://github.com/u/r\n  branch: dev\n  env:\n"
		  "    NODE_ENV: production\n    _X1: \"\"\n  containerPort: "
		  "8080\n  projectType: dockerfile\n  dockerfile: "
		  "docker/Dockerfile\n  startCommand: npm start\n  resources: "
		  "{memory: 1Gi, cpus: 2, pids: 100}\n",
		  "  id: full\n  name: Full\n  userId: u1\n  labels: {team: "
		  "web, app.example.com/tier: front}\n",
		  0, NULL },
		{ "  description: x\n", NULL, 0, "spec.gitRepo: required" },
		{ "  gitRepo: file:///srv/r\n", NULL, 0,
		  "spec.gitRepo: must be an https URL" },
		{ "  gitRepo: file:///srv/r\n", NULL, 1, NULL },
		{ "  gitRepo: https://github.com/u/r\n", "  name: no id\n", 0,
		  "metadata.id: required" },
		{ "  gitRepo: https://github.com/u/r\n", "  id: Bad_Id\n", 0,
		  "metadata.id: must be a DNS label" },
		{ "  gitRepo: https://github.com/u/r\n",
		  "  id: a\n  name: \"tab\\there\"\n", 0,
		  "metadata.name: must not contain control characters" },
		{ "  gitRepo: https://github.com/u/r\n",
		  "  id: a\n  labels: {\"bad key\": x}\n", 0,
		  "metadata.labels: key 'bad key'" },
		{ "  gitRepo: https://github.com/u/r\n",
		  "  id: a\n  generation: -1\n", 0,
		  "metadata.generation: must not be negative" },
		{ "  gitRepo: https://github.com/u/r\n  branch: a..b\n", NULL,
		  0, "spec.branch: 'a..b' is not a valid branch name" },
		{ "  gitRepo: https://github.com/u/r\n  pullRequest:\n    "
		  "title: "
		  "t\n    branch: wl/x\n    base: main\n    requestedAt: "
		  "2026-01-01T00:00:00Z\n",
		  NULL, 0, NULL },
		{ "  gitRepo: https://github.com/u/r\n  pullRequest:\n    "
		  "title: "
		  "t\n    branch: a..b\n    requestedAt: "
		  "2026-01-01T00:00:00Z\n",
		  NULL, 0,
		  "spec.pullRequest.branch: 'a..b' is not a valid branch "
		  "name" },
		{ "  gitRepo: https://github.com/u/r\n  pullRequest:\n    "
		  "requestedAt: 2026-01-01T00:00:00Z\n",
		  NULL, 0, "spec.pullRequest.title: is required" },
		{ "  gitRepo: https://github.com/u/r\n  pullRequest:\n    "
		  "title: "
		  "t\n",
		  NULL, 0, "spec.pullRequest.requestedAt: is required" },
		{ "  gitRepo: https://github.com/u/r\n  env:\n    1X: y\n",
		  NULL, 0, "spec.env: '1X' is not a valid variable name" },
		{ "  gitRepo: https://github.com/u/r\n  env:\n    A-B: y\n",
		  NULL, 0, "spec.env: 'A-B' is not a valid variable name" },
		{ "  gitRepo: https://github.com/u/r\n  env:\n    \"\": y\n",
		  NULL, 0, "spec.env: '' is not a valid variable name" },
		{ "  gitRepo: https://github.com/u/r\n  env:\n    "
		  "\"A\\e[31m\": y\n",
		  NULL, 0, "spec.env: 'A?[31m'" },
		{ "  gitRepo: https://github.com/u/r\n  containerPort: 70000\n",
		  NULL, 0, "spec.containerPort: must be between 1 and 65535" },
		{ "  gitRepo: https://github.com/u/r\n  containerPort: -1\n",
		  NULL, 0, "spec.containerPort: must be between 1 and 65535" },
		{ "  gitRepo: https://github.com/u/r\n  dockerfile: "
		  "../../etc/passwd\n",
		  NULL, 0, "spec.dockerfile: must not contain '..'" },
		{ "  gitRepo: https://github.com/u/r\n  dockerfile: "
		  "a/../../b\n",
		  NULL, 0, "spec.dockerfile: must not contain '..'" },
		{ "  gitRepo: https://github.com/u/r\n  dockerfile: "
		  "/Dockerfile\n",
		  NULL, 0, "spec.dockerfile: must be a relative path" },
		{ "  gitRepo: https://github.com/u/r\n  dockerfile: \"\"\n",
		  NULL, 0, "spec.dockerfile: must not be empty" },
		{ "  gitRepo: https://github.com/u/r\n  dockerfile: a..b/Df\n",
		  NULL, 0, NULL },
		{ "  gitRepo: https://github.com/u/r\n  projectType: node\n"
		  "  dockerfile: Dockerfile\n",
		  NULL, 0,
		  "spec.dockerfile: needs projectType dockerfile (or auto), "
		  "not node" },
		{ "  gitRepo: https://github.com/u/r\n  startCommand: "
		  "\"a\\nb\"\n",
		  NULL, 0, "spec.startCommand: must not contain control" },
		{ "  gitRepo: https://github.com/u/r\n  startCommand: \"  \"\n",
		  NULL, 0, "spec.startCommand: must not be empty" },
		{ "  gitRepo: https://github.com/u/r\n  runtimeVersion: "
		  "\">=20.19 <23 || lts/*\"\n",
		  NULL, 0,
		  "spec.runtimeVersion: '>=20.19 <23 || lts/*' is not a "
		  "Node.js version range" },
		{ "  gitRepo: https://github.com/u/r\n  runtimeVersion: "
		  "\"^20.19.0 || >=22.12.0\"\n",
		  NULL, 0, NULL },
		{ "  gitRepo: https://github.com/u/r\n  runtimeVersion: "
		  "lts/jod\n",
		  NULL, 0, NULL },
		/* spec.path: a folder of the repository (REST app_path) */
		{ "  gitRepo: https://github.com/u/r\n  path: apps/web\n", NULL,
		  0, NULL },
		{ "  gitRepo: https://github.com/u/r\n  path: ./apps/web/\n",
		  NULL, 0, NULL },
		{ "  gitRepo: https://github.com/u/r\n  path: a..b\n", NULL, 0,
		  NULL },
		{ "  gitRepo: https://github.com/u/r\n  path: ../other\n", NULL,
		  0, "spec.path: must not contain '..'" },
		{ "  gitRepo: https://github.com/u/r\n  path: apps/../..\n",
		  NULL, 0, "spec.path: must not contain '..'" },
		{ "  gitRepo: https://github.com/u/r\n  path: /srv/app\n", NULL,
		  0, "spec.path: must be a relative path" },
		{ "  gitRepo: https://github.com/u/r\n  path: -x\n", NULL, 0,
		  "spec.path: must be a relative path" },
		{ "  gitRepo: https://github.com/u/r\n  path: \"\"\n", NULL, 0,
		  "spec.path: must not be empty" },
		{ "  gitRepo: https://github.com/u/r\n  path: "
		  "\"apps/\\tweb\"\n",
		  NULL, 0, "spec.path: at most 1024 characters, no control" },
		{ "  gitRepo: https://github.com/u/r\n  path: \"apps\\nweb\"\n",
		  NULL, 0, "spec.path: at most 1024 characters, no control" },
		{ "  gitRepo: https://github.com/u/r\n  basePrompt: |\n    "
		  "multi\n    line\tprompt\n",
		  NULL, 0, NULL },
		{ "  gitRepo: https://github.com/u/r\n  basePrompt: "
		  "\"bell\\a\"\n",
		  NULL, 0, "spec.basePrompt: must not contain control" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_worklet w;
		char doc[2048];
		int error;

		snprintf(doc, sizeof(doc),
			 "apiVersion: worklet.dev/v1\nkind: Worklet\n"
			 "metadata:\n%sspec:\n%s",
			 cases[i].meta ? cases[i].meta : "  id: a\n",
			 cases[i].spec);
		error = wl_yaml_decode_spec(&w, doc, strlen(doc));
		CHECK(error == 0);
		if (error)
			fprintf(stderr, "  case %zu: %s\n", i, wl_error_last());
		error = wl_validate_worklet(&w, cases[i].allow_local);
		if (!cases[i].want) {
			CHECK(error == 0);
		} else {
			CHECK(error == WL_EINVALID);
			CHECK_CONTAINS(wl_error_last(), cases[i].want);
		}
		if (cases[i].want ? !strstr(wl_error_last(), cases[i].want)
				  : error != 0)
			fprintf(stderr, "  case %zu: %s\n", i, wl_error_last());
		wl_worklet_release(&w);
	}
}

/* Size limits of worklet.h, at the limit and one past it. */
static void test_sizes(void)
{
	static const struct {
		int field; /* 0 name, 1 description, 2 prompt, 3 env value */
		size_t max;
		const char *want;
	} cases[] = {
		{ 0, WL_NAME_MAX, "metadata.name: longer than 200 bytes" },
		{ 1, WL_DESCRIPTION_MAX,
		  "spec.description: longer than 4096 bytes" },
		{ 2, WL_PROMPT_MAX,
		  "spec.basePrompt: longer than 65536 bytes" },
		{ 3, WL_ENV_VALUE_MAX, "spec.env.BIG: longer than 8192 bytes" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t extra = 0; extra <= 1; extra++) {
			struct wl_worklet w;
			size_t n = cases[i].max + extra;
			char *text = malloc(n + 1);

			memset(text, 'x', n);
			text[n] = '\0';
			wl_worklet_init(&w);
			wl_str_set(&w.meta.id, "a");
			wl_str_set(&w.spec.git_repo, "https://github.com/u/r");
			if (cases[i].field == 0)
				wl_str_set(&w.meta.name, text);
			else if (cases[i].field == 1)
				wl_str_set(&w.spec.description, text);
			else if (cases[i].field == 2)
				wl_str_set(&w.spec.base_prompt, text);
			else
				wl_kvlist_set(&w.spec.env, "BIG", text);
			if (extra) {
				CHECK(wl_validate_worklet(&w, 0) ==
				      WL_EINVALID);
				CHECK_CONTAINS(wl_error_last(), cases[i].want);
			} else {
				CHECK(wl_validate_worklet(&w, 0) == 0);
			}
			wl_worklet_release(&w);
			free(text);
		}
	}
}

/* Values a decoder never produces, from a struct built in code. */
static void test_struct_values(void)
{
	static const struct {
		int field;
		int64_t value;
		const char *want;
	} cases[] = {
		{ 0, -1, "spec.resources.memory: must not be negative" },
		{ 1, -500000000, "spec.resources.cpus: must not be negative" },
		{ 2, -2, "spec.resources.pids: must not be negative" },
		{ 3, -1, "metadata.generation: must not be negative" },
		{ 4, -1000, "spec.restartedAt: must not be before 1970" },
		{ 5, 7, "spec.runState: must be running or stopped" },
		{ 6, 9, "spec.projectType: invalid value" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_worklet w;

		wl_worklet_init(&w);
		wl_str_set(&w.meta.id, "a");
		wl_str_set(&w.spec.git_repo, "https://github.com/u/r");
		CHECK(wl_validate_worklet(&w, 0) == 0);
		switch (cases[i].field) {
		case 0:
			w.spec.resources.memory_bytes = cases[i].value;
			break;
		case 1:
			w.spec.resources.nano_cpus = cases[i].value;
			break;
		case 2:
			w.spec.resources.pids = cases[i].value;
			break;
		case 3:
			w.meta.generation = cases[i].value;
			break;
		case 4:
			w.spec.restarted_ms = cases[i].value;
			break;
		case 5:
			w.spec.run_state = (enum wl_run_state)cases[i].value;
			break;
		default:
			w.spec.project_type =
				(enum wl_project_type)cases[i].value;
			break;
		}
		CHECK(wl_validate_worklet(&w, 0) == WL_EINVALID);
		CHECK_CONTAINS(wl_error_last(), cases[i].want);
		wl_worklet_release(&w);
	}
}

static void test_counts(void)
{
	struct wl_worklet w;
	char name[16];

	wl_worklet_init(&w);
	wl_str_set(&w.meta.id, "a");
	wl_str_set(&w.spec.git_repo, "https://github.com/u/r");
	for (int i = 0; i < WL_ENV_MAX; i++) {
		snprintf(name, sizeof(name), "V%d", i);
		wl_kvlist_set(&w.spec.env, name, "x");
	}
	for (int i = 0; i < WL_LABELS_MAX; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		wl_kvlist_set(&w.meta.labels, name, "x");
	}
	CHECK(wl_validate_worklet(&w, 0) == 0);
	wl_kvlist_set(&w.spec.env, "ONE_MORE", "x");
	CHECK(wl_validate_worklet(&w, 0) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "spec.env: at most 128 variables");
	wl_kvlist_release(&w.spec.env);
	wl_kvlist_set(&w.meta.labels, "one-more", "x");
	CHECK(wl_validate_worklet(&w, 0) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "metadata.labels: at most 64 labels");
	wl_worklet_release(&w);
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_ids),
		UNIT(test_git_urls),
		UNIT(test_git_url_too_long),
		UNIT(test_branches),
		UNIT(test_worklets),
		UNIT(test_sizes),
		UNIT(test_struct_values),
		UNIT(test_counts),
		{ 0 },
	};

	return wl_unit_run(tests);
}
