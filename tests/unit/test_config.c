#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "controller/config.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "unit.h"

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/wl-config-XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		abort();
	close(fd);
	return path;
}

static void test_defaults(void)
{
	struct wl_config c;

	CHECK(wl_config_init(&c) == 0);
	CHECK_STR(c.base_dir, "/tmp/worklet-repos");
	CHECK_STR(c.image_node, "node:24-alpine");
	CHECK_STR(c.image_node_major[20], "node:20-alpine");
	CHECK_STR(c.image_python, "python:3.9-slim");
	CHECK_STR(c.image_go, "golang:1.21-alpine");
	CHECK_STR(c.image_static, "nginx:alpine");
	CHECK(c.restart_backoff_ms == 10000);
	CHECK(c.allow_local_repos == 0);
	wl_config_release(&c);
}

static void test_file_then_env(void)
{
	struct wl_config c;
	char *path = write_tmp("stateDir: /srv/worklet\n"
			       "allowLocalRepos: true\n"
			       "images:\n  node: local/node:18\n"
			       "limits: { memory: 256Mi, cpus: \"0.5\" }\n"
			       "ports: { min: 21000, max: 21099 }\n");

	CHECK(wl_config_init(&c) == 0);
	CHECK(wl_config_load_file(&c, path) == 0);
	CHECK_STR(c.state_dir, "/srv/worklet");
	CHECK_STR(c.image_node, "local/node:18");
	CHECK(c.allow_local_repos == 1);
	CHECK(c.default_memory == 256LL << 20);
	CHECK(c.default_nano_cpus == 500000000);
	CHECK(c.port_min == 21000 && c.port_max == 21099);
	setenv("WORKLET_IMAGE_NODE", "env/node", 1);
	setenv("WORKLET_HEALTH_TIMEOUT_SECONDS", "7", 1);
	CHECK(wl_config_load_env(&c) == 0);
	CHECK_STR(c.image_node, "env/node");
	CHECK(c.health_timeout_ms == 7000);
	unsetenv("WORKLET_IMAGE_NODE");
	unsetenv("WORKLET_HEALTH_TIMEOUT_SECONDS");
	wl_config_release(&c);
	unlink(path);
	free(path);
}

static void test_bad_settings_name_the_key(void)
{
	static const struct {
		const char *yaml;
		const char *message;
	} cases[] = {
		{ "stateDri: /x\n", "stateDri: unknown setting" },
		{ "limits:\n  memory: 5x\n",
		  "limits.memory: '5x' is not a size" },
		{ "workers: many\n", "workers: 'many' is not an integer" },
		{ "workers: 0\n", "workers: '0' is out of range" },
		{ "images: [a, b]\n", "not supported" },
		{ "images:\n  node100: x\n", "images.node100: Node.js major" },
		{ "images:\n  nodeX: x\n", "images.nodeX: unknown setting" },
		{ "stateDir: [\n", "line" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_config c;
		char *path = write_tmp(cases[i].yaml);

		CHECK(wl_config_init(&c) == 0);
		CHECK(wl_config_load_file(&c, path) == WL_EINVALID);
		CHECK_CONTAINS(wl_error_last(), cases[i].message);
		wl_config_release(&c);
		unlink(path);
		free(path);
	}
}

/* The environment of a test run (hack/env.sh) must not leak in. */
static void unset_node_majors(void)
{
	char name[64];

	for (int m = 0; m <= 200; m++) {
		snprintf(name, sizeof(name), "WORKLET_IMAGE_NODE_%d", m);
		unsetenv(name);
	}
	unsetenv("WORKLET_IMAGE_NODE");
}

/* One image per Node.js major: defaults, the file, the environment. */
static void test_node_images(void)
{
	struct wl_config c;
	struct wl_base_images im;
	int majors[8];
	size_t n;
	char *path = write_tmp("images:\n  node: local/node:22\n"
			       "  node20: local/node:20\n  node18: \"\"\n");

	unset_node_majors();
	CHECK(wl_config_init(&c) == 0);
	CHECK(wl_config_load_env(&c) == 0);
	wl_config_base_images(&c, &im);
	CHECK(im.node_image_count == 4);
	CHECK(wl_base_images_node_default_major(&im) == 24);
	CHECK_STR(wl_base_images_node(&im, 18), "node:18-alpine");
	CHECK(wl_base_images_node(&im, 19) == NULL);

	CHECK(wl_config_load_file(&c, path) == 0);
	CHECK(c.image_node_major[18] == NULL);
	setenv("WORKLET_IMAGE_NODE_26", "local/node:26", 1);
	setenv("WORKLET_IMAGE_NODE_24", "", 1); /* removes 24 */
	CHECK(wl_config_load_env(&c) == 0);
	wl_config_base_images(&c, &im);
	CHECK_STR(im.node, "local/node:22");
	/* the default's major from its tag; it serves major 22 too */
	CHECK(wl_base_images_node_default_major(&im) == 22);
	CHECK_STR(wl_base_images_node(&im, 22), "node:22-alpine");
	CHECK_STR(wl_base_images_node(&im, 20), "local/node:20");
	CHECK_STR(wl_base_images_node(&im, 26), "local/node:26");
	CHECK(wl_base_images_node(&im, 24) == NULL);
	n = wl_base_images_node_majors(&im, majors, 8);
	CHECK(n == 3 && majors[0] == 20 && majors[1] == 22 && majors[2] == 26);
	unset_node_majors();
	wl_config_release(&c);

	/* The default alone names a major the table lacks: it is available. */
	memset(&im, 0, sizeof(im));
	im.node = "reg.example:5000/team/node:21-slim";
	CHECK(wl_base_images_node_default_major(&im) == 21);
	CHECK_STR(wl_base_images_node(&im, 21), im.node);
	n = wl_base_images_node_majors(&im, majors, 8);
	CHECK(n == 1 && majors[0] == 21);

	CHECK(wl_config_init(&c) == 0);
	setenv("WORKLET_IMAGE_NODE_100", "x", 1);
	CHECK(wl_config_load_env(&c) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "WORKLET_IMAGE_NODE_100");
	CHECK_CONTAINS(wl_error_last(), "1..99");
	unsetenv("WORKLET_IMAGE_NODE_100");
	setenv("WORKLET_IMAGE_NODE_LTS", "x", 1);
	CHECK(wl_config_load_env(&c) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "not a Node.js major");
	unsetenv("WORKLET_IMAGE_NODE_LTS");
	wl_config_release(&c);
	unlink(path);
	free(path);
}

/* One image per Python / Go minor line, from the environment. */
static void test_lang_images(void)
{
	static const char *const names[] = {
		"WORKLET_IMAGE_PYTHON_3_11", "WORKLET_IMAGE_PYTHON_3_12",
		"WORKLET_IMAGE_GO_1_19",     "WORKLET_IMAGE_GO_1_22",
		"WORKLET_IMAGE_GO_1_23",     "WORKLET_IMAGE_GO_1_x",
	};
	struct wl_config c;
	struct wl_base_images im;
	struct wl_lang_image lines[8];
	size_t n;
	int def, major, minor;

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		unsetenv(names[i]);
	unsetenv("WORKLET_IMAGE_GO");
	unsetenv("WORKLET_IMAGE_PYTHON");
	/* hack/test.sh exports the local images (hack/env.sh) */
	unsetenv("WORKLET_IMAGE_GO_RUNTIME");
	CHECK(wl_config_init(&c) == 0);
	CHECK(wl_config_load_env(&c) == 0);
	wl_config_base_images(&c, &im);
	/* the defaults' lines come from their tags */
	n = wl_base_images_lang_lines(&im, 1, lines, 8, &def);
	CHECK(n == 1 && lines[0].major == 1 && lines[0].minor == 21 &&
	      def == 0);
	n = wl_base_images_lang_lines(&im, 0, lines, 8, &def);
	CHECK(n == 1 && lines[0].minor == 9 && def == 0);
	wl_config_release(&c);

	setenv("WORKLET_IMAGE_GO", "local/go:1.19", 1);
	setenv("WORKLET_IMAGE_GO_1_23", "local/go:1.23", 1);
	setenv("WORKLET_IMAGE_GO_1_22", "local/go:1.22", 1);
	setenv("WORKLET_IMAGE_PYTHON", "local/python:3", 1);
	setenv("WORKLET_IMAGE_PYTHON_3_11", "local/python:3", 1);
	setenv("WORKLET_IMAGE_PYTHON_3_12", "", 1); /* none */
	CHECK(wl_config_init(&c) == 0);
	CHECK(wl_config_load_env(&c) == 0);
	CHECK_STR(c.image_go_runtime, "alpine:3.19"); /* not a Go line */
	wl_config_base_images(&c, &im);
	n = wl_base_images_lang_lines(&im, 1, lines, 8, &def);
	CHECK(n == 3 && lines[0].minor == 19 && lines[1].minor == 22 &&
	      lines[2].minor == 23 && def == 0);
	CHECK_STR(lines[2].image, "local/go:1.23");
	/* python:3 names no line: the table's entry for the same image does */
	n = wl_base_images_lang_lines(&im, 0, lines, 8, &def);
	CHECK(n == 1 && lines[0].major == 3 && lines[0].minor == 11 &&
	      def == 0);
	wl_config_release(&c);

	setenv("WORKLET_IMAGE_GO_1_x", "x", 1);
	CHECK(wl_config_init(&c) == 0);
	CHECK(wl_config_load_env(&c) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(),
		       "WORKLET_IMAGE_GO_1_x: not a Go version");
	wl_config_release(&c);

	CHECK(wl_image_tag_version("golang:1.22-alpine", &major, &minor) == 0 &&
	      major == 1 && minor == 22);
	CHECK(wl_image_tag_version("reg:5000/python:3.12.1-slim", &major,
				   &minor) == 0 &&
	      major == 3 && minor == 12);
	CHECK(wl_image_tag_version("python:3", &major, &minor) < 0);
	CHECK(wl_image_tag_version("python", &major, &minor) < 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		unsetenv(names[i]);
	unsetenv("WORKLET_IMAGE_GO");
	unsetenv("WORKLET_IMAGE_PYTHON");
}

static void test_image_tag_major(void)
{
	static const struct {
		const char *image;
		int major;
	} cases[] = {
		{ "node:22-alpine", 22 },
		{ "worklet-local/node:18", 18 },
		{ "registry:5000/node:20.11.1-bookworm", 20 },
		{ "registry:5000/node", 0 },
		{ "node", 0 },
		{ "node:lts-alpine", 0 },
		{ "node@sha256:0123abcd", 0 },
		{ "node:24@sha256:0123abcd", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		if (wl_image_tag_major(cases[i].image) != cases[i].major) {
			fprintf(stderr, "  %s: %d, want %d\n", cases[i].image,
				wl_image_tag_major(cases[i].image),
				cases[i].major);
			wl_unit_failures++;
		}
}

static void test_env_errors(void)
{
	struct wl_config c;

	CHECK(wl_config_init(&c) == 0);
	setenv("DOCKER_HOST", "tcp://1.2.3.4:2375", 1);
	CHECK(wl_config_load_env(&c) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "only unix:// sockets");
	unsetenv("DOCKER_HOST");
	setenv("WORKLET_ALLOW_LOCAL_REPOS", "maybe", 1);
	CHECK(wl_config_load_env(&c) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "WORKLET_ALLOW_LOCAL_REPOS");
	unsetenv("WORKLET_ALLOW_LOCAL_REPOS");
	wl_config_release(&c);
}

static void test_instance_label(void)
{
	struct wl_config a, b;
	char filter[128];

	CHECK(wl_config_init(&a) == 0 && wl_config_init(&b) == 0);
	setenv("WORKLET_STATE_DIR", "/tmp/wl-instance-a", 1);
	CHECK(wl_config_load_env(&a) == 0);
	setenv("WORKLET_STATE_DIR", "/tmp/wl-instance-b", 1);
	CHECK(wl_config_load_env(&b) == 0);
	unsetenv("WORKLET_STATE_DIR");
	CHECK(strlen(a.instance) == 12);
	CHECK(strcmp(a.instance, b.instance) != 0);
	wl_config_label_filter(&a, "worklet.id=x", filter, sizeof(filter));
	CHECK(!strncmp(filter, "worklet.instance=", 17));
	CHECK_CONTAINS(filter, ",worklet.id=x");
	setenv("WORKLET_INSTANCE", "prod-1", 1);
	CHECK(wl_config_load_env(&a) == 0);
	CHECK_STR(a.instance, "prod-1");
	setenv("WORKLET_INSTANCE", "bad label!", 1);
	CHECK(wl_config_load_env(&a) == WL_EINVALID);
	unsetenv("WORKLET_INSTANCE");
	wl_config_release(&a);
	wl_config_release(&b);
}

/* Table: resources against the ceilings; the field named on refusal. */
static void test_resource_ceilings(void)
{
	static const struct {
		struct wl_resources r;
		const char *field; /* NULL: accepted */
	} cases[] = {
		{ { 0, 0, 0 }, NULL },
		{ { 1LL << 30, 1000000000, 512 }, NULL },
		{ { (1LL << 30) + 1, 0, 0 }, "spec.resources.memory" },
		{ { 0, 1000000001, 0 }, "spec.resources.cpus" },
		{ { 0, 0, 513 }, "spec.resources.pids" },
	};
	struct wl_config c;

	CHECK(wl_config_init(&c) == 0);
	CHECK(c.max_memory == 2LL << 30 && c.max_pids == 1024 &&
	      c.build_output_max == 8LL << 20 && c.image_disk_budget == 0);
	setenv("WORKLET_LIMIT_MEMORY_MAX", "1Gi", 1);
	setenv("WORKLET_LIMIT_CPUS_MAX", "1", 1);
	setenv("WORKLET_LIMIT_PIDS_MAX", "512", 1);
	setenv("WORKLET_IMAGE_DISK_BUDGET", "10Gi", 1);
	CHECK(wl_config_load_env(&c) == 0);
	CHECK(c.image_disk_budget == 10LL << 30);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int error = wl_config_check_resources(&c, &cases[i].r);

		if (!cases[i].field) {
			CHECK(error == 0);
			continue;
		}
		CHECK(error == WL_EINVALID);
		CHECK(!strncmp(wl_error_last(), cases[i].field,
			       strlen(cases[i].field)));
		CHECK_CONTAINS(wl_error_last(), "ceiling");
	}
	/* A default above its ceiling is a configuration error. */
	setenv("WORKLET_LIMIT_PIDS_MAX", "100", 1);
	CHECK(wl_config_load_env(&c) == WL_EINVALID);
	unsetenv("WORKLET_LIMIT_MEMORY_MAX");
	unsetenv("WORKLET_LIMIT_CPUS_MAX");
	unsetenv("WORKLET_LIMIT_PIDS_MAX");
	unsetenv("WORKLET_IMAGE_DISK_BUDGET");
	wl_config_release(&c);
}

static void test_agent_sandbox(void)
{
	struct wl_config c;
	char net[64];

	CHECK(wl_config_init(&c) == 0);
	setenv("WORKLET_INSTANCE", "inst-1", 1);
	CHECK(wl_config_load_env(&c) == 0);
	CHECK(c.agent_sandboxed == 1);
	CHECK_STR(c.agent_image, "worklet-local/node:18");
	snprintf(net, sizeof(net), "%s-agent", c.instance);
	CHECK_STR(c.agent_network, net);
	snprintf(net, sizeof(net), "%s-build", c.instance);
	CHECK_STR(c.build_network, net);
	CHECK(c.agent_memory == 1LL << 30 && c.agent_nano_cpus == 1000000000 &&
	      c.agent_pids == 512);
	CHECK_CONTAINS(wl_config_agent_tools(&c), ",Bash");
	wl_config_release(&c);

	CHECK(wl_config_init(&c) == 0);
	setenv("WORKLET_AGENT_SANDBOX", "host", 1);
	setenv("WORKLET_AGENT_NETWORK", "none", 1);
	setenv("WORKLET_BUILD_NETWORK", "none", 1);
	setenv("WORKLET_AGENT_MEMORY", "512Mi", 1);
	setenv("WORKLET_AGENT_CPUS", "0.5", 1);
	CHECK(wl_config_load_env(&c) == 0);
	CHECK(c.agent_sandboxed == 0);
	CHECK_STR(c.agent_network, "none");
	CHECK_STR(c.build_network, "none");
	CHECK(c.agent_memory == 512LL << 20 && c.agent_nano_cpus == 500000000);
	CHECK(strstr(wl_config_agent_tools(&c), "Bash") == NULL);
	wl_config_release(&c);

	CHECK(wl_config_init(&c) == 0);
	setenv("WORKLET_AGENT_TOOLS", "Read,Edit", 1);
	CHECK(wl_config_load_env(&c) == 0);
	CHECK_STR(wl_config_agent_tools(&c), "Read,Edit");
	wl_config_release(&c);

	CHECK(wl_config_init(&c) == 0);
	setenv("WORKLET_AGENT_SANDBOX", "podman", 1);
	CHECK(wl_config_load_env(&c) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "WORKLET_AGENT_SANDBOX 'podman'");
	wl_config_release(&c);
	unsetenv("WORKLET_AGENT_SANDBOX");
	unsetenv("WORKLET_AGENT_NETWORK");
	unsetenv("WORKLET_BUILD_NETWORK");
	unsetenv("WORKLET_AGENT_MEMORY");
	unsetenv("WORKLET_AGENT_CPUS");
	unsetenv("WORKLET_AGENT_TOOLS");
	unsetenv("WORKLET_INSTANCE");
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_resource_ceilings),
		UNIT(test_defaults),
		UNIT(test_file_then_env),
		UNIT(test_bad_settings_name_the_key),
		UNIT(test_env_errors),
		UNIT(test_node_images),
		UNIT(test_lang_images),
		UNIT(test_image_tag_major),
		UNIT(test_instance_label),
		UNIT(test_agent_sandbox),
		{ 0 },
	};
	return wl_unit_run(tests);
}
