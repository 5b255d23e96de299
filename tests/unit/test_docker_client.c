#include "controller/docker_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "controller/build_context.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "specs/core/hash.h"
#include "specs/core/timeutil.h"
#include "tests/unit/unit.h"
#include "specs/core/banned.h"

/*
 * The log decoder is tested on its own, table-driven. Everything else runs
 * against the real Docker daemon at /var/run/docker.sock (or $DOCKER_HOST),
 * which hack/setup.sh starts; the container tests need the local base image
 * it builds (or $WL_TEST_IMAGE). Everything a test creates carries the
 * label worklet.test=<random suffix> and is removed at the end.
 */

#define SOCK "/var/run/docker.sock"

static char suffix[9];
static char test_label[64]; /* "worklet.test=<suffix>" */
static const char *base_image = "worklet-local/debian:bookworm";

/* ---- the multiplexed log stream decoder ---- */

#define F(type, len) type, 0, 0, 0, 0, 0, 0, len

struct log_case {
	const char *name;
	unsigned char in[64];
	size_t in_len;
	const char *out; /* what ends up in the buffer */
	int rc;		 /* the first non-zero return, or 0 */
	size_t hdr_left; /* header bytes held at the end */
};

static const struct log_case log_cases[] = {
	{ "one stdout frame",
	  { F(1, 6), 'h', 'e', 'l', 'l', 'o', '\n' },
	  14,
	  "hello\n",
	  0,
	  0 },
	{ "stdout and stderr in one chunk",
	  { F(1, 4), 'o', 'u', 't', '\n', F(2, 4), 'e', 'r', 'r', '\n', F(1, 2),
	    'o', 'k' },
	  34,
	  "out\nerr\nok",
	  0,
	  0 },
	{ "zero-length frames",
	  { F(1, 0), F(2, 0), F(1, 1), 'x', F(2, 0) },
	  33,
	  "x",
	  0,
	  0 },
	{ "stdin and systemerr types",
	  { F(0, 1), 'a', F(3, 1), 'b' },
	  18,
	  "ab",
	  0,
	  0 },
	{ "truncated header", { F(1, 1), 'x', 1, 0, 0, 0, 0 }, 14, "x", 0, 5 },
	{ "truncated payload (what arrived is kept)",
	  { F(1, 10), 'a', 'b', 'c' },
	  11,
	  "abc",
	  0,
	  0 },
	{ "empty stream", { 0 }, 0, "", 0, 0 },
	{ "plain text is not a frame", "hello world, this is a tty\n", 27, "",
	  WL_EINVALID, 0 },
	{ "garbage after a good frame",
	  { F(2, 2), 'o', 'k', 9, 9, 9, 9, 9, 9, 9, 9, F(1, 1), 'z' },
	  27,
	  "ok",
	  WL_EINVALID,
	  0 },
	{ "non-zero padding",
	  { 1, 0, 1, 0, 0, 0, 0, 1, 'x' },
	  9,
	  "",
	  WL_EINVALID,
	  0 },
	{ "huge length, little data",
	  { 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 'a', 'b' },
	  10,
	  "ab",
	  0,
	  0 },
};

/* Feed data in the given chunks; stop at the first error. */
static int feed(struct wl_docker_log_decoder *dec, const unsigned char *in,
		size_t len, size_t chunk, size_t first, struct wl_buf *out)
{
	size_t i = 0;
	int rc;

	while (i < len) {
		size_t n = i == 0 && first ? first : chunk;

		if (n > len - i)
			n = len - i;
		if ((rc = wl_docker_log_decode(dec, (const char *)in + i, n,
					       out)) < 0)
			return rc;
		i += n;
	}
	return 0;
}

static void check_log_case(const struct log_case *c, size_t chunk, size_t first)
{
	struct wl_docker_log_decoder dec;
	struct wl_buf out;
	int rc;

	wl_buf_init(&out, 1024);
	wl_docker_log_decoder_init(&dec);
	rc = feed(&dec, c->in, c->in_len, chunk, first, &out);
	if (rc != c->rc || strcmp(wl_buf_cstr(&out), c->out) ||
	    (!rc && dec.hdr_len != c->hdr_left)) {
		fprintf(stderr,
			"log case '%s' (chunk %zu, first %zu): rc %d, "
			"out '%s', hdr %zu\n",
			c->name, chunk, first, rc, wl_buf_cstr(&out),
			dec.hdr_len);
		wl_unit_failures++;
	}
	if (rc < 0) {
		/* The error sticks; nothing more is appended. */
		size_t before = out.len;

		CHECK(wl_docker_log_decode(&dec, "\1\0\0\0\0\0\0\1x", 9,
					   &out) == WL_EINVALID);
		CHECK(out.len == before);
		CHECK_CONTAINS(wl_error_last(), "invalid log stream");
	}
	wl_buf_release(&out);
}

static void test_log_decoder_chunking(void)
{
	for (size_t i = 0; i < sizeof(log_cases) / sizeof(log_cases[0]); i++) {
		const struct log_case *c = &log_cases[i];

		check_log_case(c, c->in_len ? c->in_len : 1, 0); /* whole */
		check_log_case(c, 1, 0); /* byte by byte */
		for (size_t k = 1; k < c->in_len; k++)
			check_log_case(c, c->in_len, k); /* split at k */
	}
}

static void test_log_decoder_bounded(void)
{
	static const unsigned char in[] = { F(1, 8), 'a', 'b', 'c', 'd',
					    'e',     'f', 'g', 'h' };
	struct wl_docker_log_decoder dec;
	struct wl_buf out;

	wl_buf_init(&out, 4);
	wl_docker_log_decoder_init(&dec);
	CHECK(wl_docker_log_decode(&dec, (const char *)in, sizeof(in), &out) ==
	      WL_ETOOBIG);
	CHECK(out.len <= 4);
	wl_buf_release(&out);
}

/* Random bytes in random chunks: never a crash, never more out than in. */
static void test_log_decoder_garbage(void)
{
	unsigned char in[512];
	char hex[2 * sizeof(in) + 1];

	for (int round = 0; round < 200; round++) {
		struct wl_docker_log_decoder dec;
		struct wl_buf out;
		size_t i = 0;

		wl_random_hex(hex, sizeof(in));
		for (size_t k = 0; k < sizeof(in); k++) {
			unsigned v;

			sscanf(hex + 2 * k, "%2x", &v);
			in[k] = (unsigned char)v;
			/* Mostly valid headers, so that frames are decoded. */
			if (round % 2 && k % 16 < 4)
				in[k] = k % 16 ? 0 : (unsigned char)(v % 3);
			if (round % 2 && k % 16 >= 4 && k % 16 < 7)
				in[k] = 0;
		}
		wl_buf_init(&out, 4096);
		wl_docker_log_decoder_init(&dec);
		while (i < sizeof(in)) {
			size_t n = 1 + (size_t)in[i] % 37;

			if (n > sizeof(in) - i)
				n = sizeof(in) - i;
			if (wl_docker_log_decode(&dec, (const char *)in + i, n,
						 &out) < 0)
				break;
			i += n;
		}
		CHECK(out.len <= sizeof(in));
		CHECK(dec.hdr_len <= sizeof(dec.hdr));
		wl_buf_release(&out);
	}
}

/* ---- helpers for the daemon tests ---- */

static struct wl_docker *client(void)
{
	struct wl_docker *d = NULL;

	if (wl_docker_new(&d, NULL) < 0) {
		fprintf(stderr, "wl_docker_new: %s\n", wl_error_last());
		wl_unit_failures++;
	}
	return d;
}

static void labels_init(struct wl_kvlist *l, const char *worklet_id)
{
	memset(l, 0, sizeof(*l));
	CHECK(wl_kvlist_set(l, "worklet.test", suffix) == 0);
	CHECK(wl_kvlist_set(l, "worklet.id", worklet_id) == 0);
}

static int free_port(void)
{
	struct sockaddr_in a = { 0 };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int can_connect(int port)
{
	struct sockaddr_in a = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static size_t raw_write(char *p, size_t s, size_t n, void *ctx)
{
	struct wl_buf *b = ctx;

	return wl_buf_add(b, p, s * n) < 0 ? 0 : s * n;
}

/* The daemon's own view of a container, bypassing the client under test. */
static cJSON *raw_inspect(const char *id)
{
	struct wl_buf body, url;
	CURL *c = curl_easy_init();
	cJSON *j = NULL;

	wl_buf_init(&body, 8 * 1024 * 1024);
	wl_buf_init(&url, 1024);
	wl_buf_printf(&url, "http://localhost/v1.41/containers/%s/json", id);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, SOCK);
	curl_easy_setopt(c, CURLOPT_URL, wl_buf_cstr(&url));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	if (curl_easy_perform(c) == CURLE_OK)
		j = cJSON_Parse(wl_buf_cstr(&body));
	curl_easy_cleanup(c);
	wl_buf_release(&body);
	wl_buf_release(&url);
	return j;
}

static char *json_at(cJSON *j, const char *a, const char *b)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(j, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_PrintUnformatted(v);
}

/* A context directory with the given files, the Dockerfile generated. */
static int make_context(struct wl_buf *tar, const char *dockerfile)
{
	char dir[] = "/tmp/wl-test-docker-XXXXXX", path[128];
	struct wl_gen_file gen = { (char *)".worklet/Dockerfile",
				   (char *)dockerfile, strlen(dockerfile),
				   0644 };
	int rc;

	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/hello.txt", dir);
	wl_fs_write_atomic(path, "hello from worklet\n", 19, 0644);
	rc = wl_build_context_tar(tar, dir, &gen, 1);
	wl_fs_remove_tree(dir);
	return rc;
}

/*
 * What the build tests share: options ready for wl_docker_build, with the
 * tag worklet-test/<name>-<suffix>:v1, our labels (worklet.id = wid) and
 * a context of hello.txt and the given Dockerfile.
 */
struct build_setup {
	struct wl_docker_build_opts o;
	struct wl_kvlist labels;
	struct wl_buf tar;
	char tag[128];
};

/* Make the context again, with another Dockerfile or the same one. */
static void build_setup_context(struct build_setup *b, const char *dockerfile)
{
	wl_buf_reset(&b->tar);
	CHECK(make_context(&b->tar, dockerfile) == 0);
	b->o.context = b->tar.ptr;
	b->o.context_len = b->tar.len;
}

static void build_setup_init(struct build_setup *b, const char *name,
			     const char *wid, const char *dockerfile)
{
	memset(b, 0, sizeof(*b));
	wl_buf_init(&b->tar, 16 * 1024 * 1024);
	labels_init(&b->labels, wid);
	snprintf(b->tag, sizeof(b->tag), "worklet-test/%s-%s:v1", name, suffix);
	b->o.dockerfile = ".worklet/Dockerfile";
	b->o.tag = b->tag;
	b->o.labels = &b->labels;
	build_setup_context(b, dockerfile);
}

static void build_setup_release(struct build_setup *b)
{
	wl_kvlist_release(&b->labels);
	wl_buf_release(&b->tar);
}

struct lines {
	struct wl_buf all;
	int count;
};

static void collect_line(void *ctx, const char *line)
{
	struct lines *l = ctx;

	l->count++;
	wl_buf_puts(&l->all, line);
	wl_buf_putc(&l->all, '\n');
}

static int wait_exited(struct wl_docker *d, const char *id,
		       struct wl_docker_container *c)
{
	int64_t deadline = wl_time_mono_ms() + 30000;

	while (wl_time_mono_ms() < deadline) {
		wl_docker_container_release(c);
		if (wl_docker_container_inspect(d, id, c) < 0)
			return -1;
		if (!c->running && c->finished_ms)
			return 0;
		usleep(100 * 1000);
	}
	return -1;
}

static int have_base_image(struct wl_docker *d)
{
	struct wl_docker_image img;

	if (wl_docker_image_inspect(d, base_image, &img) < 0) {
		fprintf(stderr,
			"base image '%s' is missing (run hack/setup.sh or set "
			"WL_TEST_IMAGE): %s\n",
			base_image, wl_error_last());
		wl_unit_failures++;
		return 0;
	}
	wl_docker_image_release(&img);
	return 1;
}

/* ---- against the daemon ---- */

static void test_host_and_reachability(void)
{
	struct wl_docker *d = NULL;

	CHECK(wl_docker_new(&d, "tcp://127.0.0.1:2375") == WL_EINVALID);
	CHECK(d == NULL);
	CHECK_CONTAINS(wl_error_last(), "tcp://127.0.0.1:2375");
	CHECK(wl_docker_new(&d, "unix://relative.sock") == WL_EINVALID);

	CHECK(wl_docker_new(&d, "unix:///nonexistent/docker.sock") == 0);
	CHECK(wl_docker_ping(d) == WL_EUNAVAIL);
	CHECK_CONTAINS(wl_error_last(),
		       "cannot reach Docker at '/nonexistent/docker.sock': ");
	wl_docker_free(d);
	wl_docker_free(NULL);

	d = client();
	CHECK(d && wl_docker_ping(d) == 0);
	/* The same handle serves several requests. */
	CHECK(d && wl_docker_ping(d) == 0);
	wl_docker_free(d);
}

static void test_build_inspect_list_remove(void)
{
	static const char df[] = "FROM scratch\nCOPY hello.txt /\n";
	struct wl_docker *d = client();
	struct build_setup b;
	struct wl_docker_image img = { 0 }, *imgs = NULL;
	struct lines lines = { 0 };
	char *id = NULL, *again = NULL;
	size_t count = 0;
	int64_t t0;

	if (!d)
		return;
	wl_buf_init(&lines.all, 1024 * 1024);
	build_setup_init(&b, "unit", "build-test", df);
	b.o.on_line = collect_line;
	b.o.ctx = &lines;
	b.o.timeout_ms = 60000;
	if (wl_docker_build(d, &b.o, &id) < 0) {
		fprintf(stderr, "build: %s\n", wl_error_last());
		wl_unit_failures++;
		goto done;
	}
	CHECK(!strncmp(id, "sha256:", 7) && strlen(id) == 71);
	CHECK_CONTAINS(wl_buf_cstr(&lines.all), "Step 1/");
	CHECK_CONTAINS(wl_buf_cstr(&lines.all), " : FROM scratch\n");
	CHECK_CONTAINS(wl_buf_cstr(&lines.all), " : COPY hello.txt /\n");
	CHECK(!strstr(wl_buf_cstr(&lines.all), "{\""));

	CHECK(wl_docker_image_inspect(d, b.tag, &img) == 0);
	CHECK_STR(img.id, id);
	CHECK_STR(wl_kvlist_get(&img.labels, "worklet.test"), suffix);
	CHECK_STR(wl_kvlist_get(&img.labels, "worklet.id"), "build-test");
	CHECK(img.tag_count == 1 && !strcmp(img.tags[0], b.tag));
	CHECK(img.exposed_port == 0);
	t0 = wl_time_now_ms();
	CHECK(img.created_ms > t0 - 120000 && img.created_ms <= t0 + 5000);
	wl_docker_image_release(&img);
	CHECK(wl_docker_image_inspect(d, id, &img) == 0);
	CHECK_STR(img.id, id);
	wl_docker_image_release(&img);

	CHECK(wl_docker_images_list(d, test_label, &imgs, &count) == 0);
	CHECK(count == 1);
	if (count == 1) {
		CHECK_STR(imgs[0].id, id);
		CHECK(imgs[0].tag_count == 1 &&
		      !strcmp(imgs[0].tags[0], b.tag));
		CHECK_STR(wl_kvlist_get(&imgs[0].labels, "worklet.id"),
			  "build-test");
		CHECK(imgs[0].created_ms > 0);
	}
	wl_docker_images_free(imgs, count);

	/* The same tree again: the deterministic context hits the cache. */
	build_setup_context(&b, df);
	wl_buf_reset(&lines.all);
	CHECK(wl_docker_build(d, &b.o, &again) == 0);
	CHECK_STR(again, id);
	CHECK_CONTAINS(wl_buf_cstr(&lines.all), "Using cache");

	CHECK(wl_docker_image_remove(d, b.tag, 1) == 0);
	CHECK(wl_docker_image_inspect(d, b.tag, &img) == WL_ENOTFOUND);
	CHECK(wl_docker_image_inspect(d, id, &img) == WL_ENOTFOUND);
	/* Missing is success. */
	CHECK(wl_docker_image_remove(d, b.tag, 1) == 0);
	CHECK(wl_docker_images_list(d, test_label, &imgs, &count) == 0);
	CHECK(count == 0);
	wl_docker_images_free(imgs, count);
done:
	free(id);
	free(again);
	build_setup_release(&b);
	wl_buf_release(&lines.all);
	wl_docker_free(d);
}

static void test_build_failure_names_the_step(void)
{
	struct wl_docker *d = client();
	struct build_setup b;
	struct lines lines = { 0 };
	char *id = NULL;

	if (!d)
		return;
	wl_buf_init(&lines.all, 1024 * 1024);
	build_setup_init(&b, "fail", "build-fail",
			 "FROM scratch\nCOPY missing.txt /\n");
	b.o.on_line = collect_line;
	b.o.ctx = &lines;
	CHECK(wl_docker_build(d, &b.o, &id) == WL_ERROR);
	CHECK(id == NULL);
	/* The daemon counts the LABEL step it adds for the labels: 2/3. */
	CHECK_CONTAINS(wl_error_last(), "build failed at step 2/");
	CHECK_CONTAINS(wl_error_last(), "(COPY missing.txt /): ");
	CHECK_CONTAINS(wl_error_last(), "missing.txt");
	/* The error is in the build output too, for the build log. */
	CHECK_CONTAINS(wl_buf_cstr(&lines.all), "COPY failed");

	/* A Dockerfile that is not in the context: refused up front. */
	b.o.dockerfile = "nope/Dockerfile";
	CHECK(wl_docker_build(d, &b.o, &id) == WL_ERROR);
	CHECK_CONTAINS(wl_error_last(), "Dockerfile");
	CHECK(id == NULL);
	build_setup_release(&b);
	wl_buf_release(&lines.all);
	wl_docker_free(d);
}

/*
 * A RUN step that fails: the message names the step and quotes what its
 * output says, from the first line that reads like an error, without
 * terminal escapes, stack frames or the package manager's boilerplate.
 */
static void test_build_failure_quotes_the_cause(void)
{
	struct wl_docker *d = client();
	struct build_setup b;
	struct wl_docker_image *imgs = NULL;
	char df[2048], *id = NULL;
	const char *msg;
	size_t count = 0;

	if (!d || !have_base_image(d))
		goto out;
	/* An install that warns (npm 9's words), then a build that fails. */
	snprintf(df, sizeof(df),
		 "FROM %s\nLABEL worklet.test=%s\n"
		 "RUN for p in rolldown@1.3.4 vite@8.4.1 x@1; do printf 'npm "
		 "WARN EBADENGINE Unsupported engine {\\nnpm WARN EBADENGINE "
		 "  package: '\\''%%s'\\'',\\nnpm WARN EBADENGINE   "
		 "required: { node: '\\''^20.19.0 || >=22.12.0'\\'' },\\nnpm "
		 "WARN EBADENGINE   current: { node: '\\''v18.20.4'\\'', npm: "
		 "'\\''9.2.0'\\'' }\\nnpm WARN EBADENGINE }\\n' \"$p\"; done\n"
		 "RUN echo '> app@1.0.0 build' && echo 'vite v8 building' && "
		 "echo 'Warning: Error while requesting resource' && "
		 "printf '\\033[33mYou are using Node.js 18.19.0. Vite "
		 "requires Node.js version 20.19+ or 22.12+.\\033[39m\\n' && "
		 "printf 'error during build:\\nTypeError: crypto.hash is not "
		 "a function\\n    at resolveConfig (file:///app/x.js:1:2)\\n' "
		 "&& echo 'npm error code 1' && echo 'npm error path /app' && "
		 "echo 'npm error A complete log of this run can be found in: "
		 "/tmp/x.log' && exit 1\n",
		 base_image, suffix);
	build_setup_init(&b, "cause", "build-cause", df);
	CHECK(wl_docker_build(d, &b.o, &id) == WL_ERROR);
	CHECK(id == NULL);
	msg = wl_error_last();
	CHECK_CONTAINS(msg, "build failed at step 4/");
	CHECK_CONTAINS(msg, "returned a non-zero code: 1\nYou are using "
			    "Node.js 18.19.0. Vite requires Node.js version "
			    "20.19+ or 22.12+.\nerror during build:\n"
			    "TypeError: crypto.hash is not a function");
	CHECK_CONTAINS(msg, "\nnpm warned (EBADENGINE): rolldown@1.3.4 "
			    "requires Node.js ^20.19.0 || >=22.12.0, this is "
			    "v18.20.4; vite@8.4.1 requires Node.js ^20.19.0 || "
			    ">=22.12.0, this is v18.20.4; and more");
	/* (the step's own text, before, quotes the whole RUN line) */
	msg = strstr(msg, "non-zero code: 1");
	CHECK(msg && !strchr(msg, '\033') && !strstr(msg, "[39m"));
	CHECK(msg && !strstr(msg, "resolveConfig") &&
	      !strstr(msg, "npm error") && !strstr(msg, "vite v8 building") &&
	      !strstr(msg, "> app@"));
	if (wl_unit_failures)
		fprintf(stderr, "%s\n", wl_error_last());
	build_setup_release(&b);
	CHECK(wl_docker_images_list(d, test_label, &imgs, &count) == 0);
	for (size_t i = 0; i < count; i++)
		CHECK(wl_docker_image_remove(d, imgs[i].id, 1) == 0);
	wl_docker_images_free(imgs, count);
out:
	wl_docker_free(d);
}

static void test_build_cancel_and_timeout(void)
{
	struct wl_docker *d = client();
	struct build_setup b;
	struct wl_docker_container *list = NULL;
	struct wl_docker_image *imgs = NULL;
	volatile int cancel = 1;
	char df[256], *id = NULL;
	size_t count = 1;
	int64_t t0;

	if (!d)
		return;
	build_setup_init(&b, "cancel", "build-cancel",
			 "FROM scratch\nCOPY hello.txt /\n");
	b.o.cancel = &cancel;
	CHECK(wl_docker_build(d, &b.o, &id) == WL_ECANCELED);
	CHECK_CONTAINS(wl_error_last(), "canceled");
	CHECK(id == NULL);

	if (!have_base_image(d))
		goto done;
	/*
	 * A build that would take a minute, stopped by the timeout. The LABEL
	 * comes first so that the build's container carries our label.
	 */
	snprintf(df, sizeof(df),
		 "FROM %s\nLABEL worklet.test=%s\nRUN sleep 60\n", base_image,
		 suffix);
	build_setup_context(&b, df);
	b.o.cancel = NULL;
	b.o.timeout_ms = 1500;
	t0 = wl_time_mono_ms();
	CHECK(wl_docker_build(d, &b.o, &id) == WL_ETIMEOUT);
	CHECK(wl_time_mono_ms() - t0 < 5000);
	CHECK_CONTAINS(wl_error_last(), "timed out after 1500 ms");
	CHECK(id == NULL);
	/* Docker noticed the disconnect: the build's container goes away. */
	for (t0 = wl_time_mono_ms(); wl_time_mono_ms() - t0 < 15000;) {
		CHECK(wl_docker_containers_list(d, test_label, &list, &count) ==
		      0);
		wl_docker_containers_free(list, count);
		if (count == 0)
			break;
		usleep(200 * 1000);
	}
	CHECK(count == 0);
	/*
	 * The layer of the LABEL step stays behind as a dangling image, as
	 * after any interrupted build (garbage collection's business).
	 */
	CHECK(wl_docker_images_list(d, test_label, &imgs, &count) == 0);
	for (size_t i = 0; i < count; i++)
		CHECK(wl_docker_image_remove(d, imgs[i].id, 1) == 0);
	wl_docker_images_free(imgs, count);
done:
	build_setup_release(&b);
	wl_docker_free(d);
}

static void test_build_output_limit(void)
{
	struct wl_docker *d = client();
	struct build_setup b;
	struct wl_docker_container *list = NULL;
	struct wl_docker_image *imgs = NULL;
	char df[512], *id = NULL;
	size_t count = 1;
	int64_t t0;

	if (!d || !have_base_image(d))
		goto done;
	/* About 1 MB of output against a 16 KiB limit. */
	snprintf(df, sizeof(df),
		 "FROM %s\nLABEL worklet.test=%s\nRUN i=0; while [ $i -lt "
		 "40000 ]; do echo \"flood $i\"; i=$((i+1)); done; sleep "
		 "60\n",
		 base_image, suffix);
	build_setup_init(&b, "flood", "build-flood", df);
	b.o.output_max = 16 * 1024;
	t0 = wl_time_mono_ms();
	CHECK(wl_docker_build(d, &b.o, &id) == WL_ETOOBIG);
	CHECK(wl_time_mono_ms() - t0 < 30000);
	CHECK_CONTAINS(wl_error_last(), "output exceeds 16384 bytes");
	CHECK(id == NULL);
	/* Stopped, not left to run: the build's container goes away. */
	for (t0 = wl_time_mono_ms(); wl_time_mono_ms() - t0 < 15000;) {
		CHECK(wl_docker_containers_list(d, test_label, &list, &count) ==
		      0);
		wl_docker_containers_free(list, count);
		if (count == 0)
			break;
		usleep(200 * 1000);
	}
	CHECK(count == 0);
	/* The LABEL step's layer stays, dangling (as after a timeout). */
	CHECK(wl_docker_images_list(d, test_label, &imgs, &count) == 0);
	for (size_t i = 0; i < count; i++)
		CHECK(wl_docker_image_remove(d, imgs[i].id, 1) == 0);
	wl_docker_images_free(imgs, count);
	build_setup_release(&b);
done:
	wl_docker_free(d);
}

static void test_network_lifecycle(void)
{
	static const char *const cmd[] = { "sleep", "30", NULL };
	struct wl_docker *d = client();
	struct wl_kvlist labels = { 0 }, opts = { 0 };
	struct wl_docker_network net = { 0 }, *list = NULL;
	struct wl_container_config cfg = { 0 };
	char name[64], cname[64], *id = NULL, *again = NULL, *cid = NULL;
	char *s;
	size_t count = 0;
	cJSON *raw = NULL;

	if (!d || !have_base_image(d))
		goto done;
	labels_init(&labels, "net");
	CHECK(wl_kvlist_set(&opts, "com.docker.network.bridge.enable_icc",
			    "false") == 0);
	snprintf(name, sizeof(name), "wl-test-net-%s", suffix);
	CHECK(wl_docker_network_create(d, name, &labels, &opts, &id) == 0);
	CHECK(id && strlen(id) == 64);
	/* Exists already: success, the same network. */
	CHECK(wl_docker_network_create(d, name, &labels, &opts, &again) == 0);
	CHECK(again && id && !strcmp(again, id));
	CHECK(wl_docker_network_inspect(d, name, &net) == 0);
	CHECK_STR(net.id, id);
	CHECK_STR(net.name, name);
	CHECK(net.subnet && strchr(net.subnet, '/'));
	CHECK(net.containers == 0 && net.created_ms > 0);
	CHECK_STR(wl_kvlist_get(&net.labels, "worklet.id"), "net");
	wl_docker_network_release(&net);
	CHECK(wl_docker_networks_list(d, test_label, &list, &count) == 0);
	CHECK(count == 1 && list && !strcmp(list[0].name, name));
	wl_docker_networks_free(list, count);

	/* A container on it, with no capability at all. */
	snprintf(cname, sizeof(cname), "wl-test-netc-%s", suffix);
	cfg.name = cname;
	cfg.image = base_image;
	cfg.labels = &labels;
	cfg.cmd = cmd;
	cfg.caps = WL_CAPS_NONE;
	cfg.network = name;
	CHECK(wl_docker_container_create(d, &cfg, &cid) == 0);
	if (!cid)
		goto done;
	raw = raw_inspect(cid);
	s = json_at(raw, "HostConfig", "CapAdd");
	CHECK(s && (!strcmp(s, "null") || !strcmp(s, "[]")));
	cJSON_free(s);
	s = json_at(raw, "HostConfig", "NetworkMode");
	CHECK(s && strstr(s, name));
	cJSON_free(s);
	CHECK(wl_docker_container_start(d, cid) == 0);
	CHECK(wl_docker_network_inspect(d, name, &net) == 0);
	CHECK(net.containers == 1);
	wl_docker_network_release(&net);
	CHECK(wl_docker_network_remove(d, name) == WL_EEXISTS);
	CHECK(wl_docker_container_remove(d, cid) == 0);
	CHECK(wl_docker_network_remove(d, name) == 0);
	CHECK(wl_docker_network_inspect(d, name, &net) == WL_ENOTFOUND);
	CHECK(wl_docker_network_remove(d, name) == 0);
done:
	wl_kvlist_release(&labels);
	cJSON_Delete(raw);
	if (cid)
		wl_docker_container_remove(d, cid);
	if (id)
		wl_docker_network_remove(d, name);
	wl_kvlist_release(&opts);
	free(id);
	free(again);
	free(cid);
	wl_docker_free(d);
}

static void test_not_found_and_invalid(void)
{
	struct wl_docker *d = client();
	struct wl_docker_container c;
	struct wl_docker_image img;
	struct wl_buf logs;
	char name[64];

	if (!d)
		return;
	wl_buf_init(&logs, 1024);
	snprintf(name, sizeof(name), "wl-test-missing-%s", suffix);
	CHECK(wl_docker_image_inspect(d, "worklet-test/no-such-image:x",
				      &img) == WL_ENOTFOUND);
	CHECK_CONTAINS(wl_error_last(),
		       "cannot inspect image 'worklet-test/no-such-image:x': ");
	CHECK_CONTAINS(wl_error_last(), "No such image");
	CHECK(wl_docker_container_inspect(d, name, &c) == WL_ENOTFOUND);
	CHECK_CONTAINS(wl_error_last(), "No such container");
	CHECK(wl_docker_container_start(d, name) == WL_ENOTFOUND);
	CHECK(wl_docker_container_stop(d, name, 1) == WL_ENOTFOUND);
	CHECK(wl_docker_container_logs(d, name, 10, &logs) == WL_ENOTFOUND);
	CHECK(wl_docker_container_remove(d, name) == 0);
	/* Nothing that could walk to another endpoint reaches the daemon. */
	CHECK(wl_docker_image_inspect(d, "../containers/json?", &img) ==
	      WL_EINVALID);
	CHECK(wl_docker_container_inspect(d, "a b", &c) == WL_EINVALID);
	CHECK(wl_docker_container_remove(d, "") == WL_EINVALID);
	wl_buf_release(&logs);
	wl_docker_free(d);
}

static void test_container_lifecycle(void)
{
	static const char *const cmd[] = { "sleep", "30", NULL };
	struct wl_docker *d = client();
	struct wl_container_config cfg = { 0 };
	struct wl_docker_container c = { 0 }, *list = NULL;
	struct wl_kvlist labels, env = { 0 };
	char name[64], *id = NULL, *dup = NULL, *s;
	size_t count = 0;
	int port = free_port();
	cJSON *raw = NULL;
	int64_t now;

	if (!d || !have_base_image(d))
		goto done;
	labels_init(&labels, "lifecycle");
	CHECK(wl_kvlist_set(&env, "GREETING", "hello world=1") == 0);
	snprintf(name, sizeof(name), "wl-test-life-%s", suffix);
	cfg.name = name;
	cfg.image = base_image;
	cfg.env = &env;
	cfg.labels = &labels;
	cfg.container_port = 8080;
	cfg.host_ip = "127.0.0.1";
	cfg.host_port = port;
	cfg.memory_bytes = 64 * 1024 * 1024;
	cfg.nano_cpus = 500000000;
	cfg.pids_limit = 64;
	cfg.cmd = cmd;
	if (wl_docker_container_create(d, &cfg, &id) < 0) {
		fprintf(stderr, "create: %s\n", wl_error_last());
		wl_unit_failures++;
		goto done;
	}
	CHECK(strlen(id) == 64);
	CHECK(wl_docker_container_create(d, &cfg, &dup) == WL_EEXISTS);
	CHECK_CONTAINS(wl_error_last(), "Conflict");
	CHECK(dup == NULL);

	CHECK(wl_docker_container_inspect(d, id, &c) == 0);
	CHECK_STR(c.state, "created");
	CHECK(!c.running && c.pid == 0 && c.started_ms == 0 &&
	      c.finished_ms == 0);
	wl_docker_container_release(&c);

	CHECK(wl_docker_container_start(d, id) == 0);
	CHECK(wl_docker_container_start(d, id) == 0); /* already: fine */
	CHECK(wl_docker_container_inspect(d, name, &c) == 0);
	CHECK_STR(c.id, id);
	CHECK_STR(c.name, name);
	CHECK_STR(c.state, "running");
	CHECK(c.running && c.pid > 0 && c.exit_code == 0 && !c.oom_killed);
	now = wl_time_now_ms();
	CHECK(c.started_ms > now - 60000 && c.started_ms <= now + 5000);
	CHECK(c.finished_ms == 0);
	CHECK(c.image_id && !strncmp(c.image_id, "sha256:", 7));
	CHECK_STR(wl_kvlist_get(&c.labels, "worklet.id"), "lifecycle");
	wl_docker_container_release(&c);
	/* Published on loopback at the port we asked for. */
	CHECK(can_connect(port));

	/* The hardening, as the daemon sees it. */
	raw = raw_inspect(id);
	CHECK(raw != NULL);
#define CHECK_JSON(a, b, want)                                                 \
	do {                                                                   \
		s = json_at(raw, a, b);                                        \
		CHECK_STR(s, want);                                            \
		cJSON_free(s);                                                 \
	} while (0)
	CHECK_JSON("HostConfig", "SecurityOpt", "[\"no-new-privileges\"]");
	CHECK_JSON("HostConfig", "CapDrop", "[\"ALL\"]");
	CHECK_JSON("HostConfig", "CapAdd",
		   "[\"CHOWN\",\"DAC_OVERRIDE\",\"FOWNER\",\"SETGID\","
		   "\"SETUID\"]");
	CHECK_JSON("HostConfig", "Init", "true");
	CHECK_JSON("HostConfig", "LogConfig",
		   "{\"Type\":\"json-file\",\"Config\":{\"max-file\":\"2\","
		   "\"max-size\":\"1m\"}}");
	CHECK_JSON("HostConfig", "RestartPolicy",
		   "{\"Name\":\"no\",\"MaximumRetryCount\":0}");
	CHECK_JSON("HostConfig", "Memory", "67108864");
	CHECK_JSON("HostConfig", "NanoCpus", "500000000");
	CHECK_JSON("HostConfig", "PidsLimit", "64");
	CHECK_JSON("HostConfig", "Privileged", "false");
	CHECK_JSON("HostConfig", "Binds", "null");
	CHECK_JSON("Mounts", NULL, "[]");
	{
		char want[128];

		snprintf(want, sizeof(want),
			 "{\"8080/tcp\":[{\"HostIp\":\"127.0.0.1\","
			 "\"HostPort\":\"%d\"}]}",
			 port);
		CHECK_JSON("HostConfig", "PortBindings", want);
	}
	CHECK_JSON("Config", "ExposedPorts", "{\"8080/tcp\":{}}");
	CHECK_JSON("Config", "Cmd", "[\"sleep\",\"30\"]");
	s = json_at(raw, "Config", "Env");
	CHECK_CONTAINS(s, "\"GREETING=hello world=1\"");
	cJSON_free(s);
#undef CHECK_JSON

	CHECK(wl_docker_containers_list(d, test_label, &list, &count) == 0);
	CHECK(count == 1);
	if (count == 1) {
		CHECK_STR(list[0].id, id);
		CHECK_STR(list[0].name, name);
		CHECK_STR(list[0].state, "running");
		CHECK(list[0].running);
		CHECK(list[0].image_id &&
		      !strncmp(list[0].image_id, "sha256:", 7));
		CHECK_STR(wl_kvlist_get(&list[0].labels, "worklet.id"),
			  "lifecycle");
	}
	wl_docker_containers_free(list, count);
	CHECK(wl_docker_containers_list(d, "worklet.test=not-this-one", &list,
					&count) == 0);
	CHECK(count == 0 && list == NULL);

	/* Time enough for SIGTERM on a busy machine (no SIGKILL: 137). */
	CHECK(wl_docker_container_stop(d, id, 10) == 0);
	CHECK(wl_docker_container_inspect(d, id, &c) == 0);
	CHECK(!c.running && c.pid == 0);
	CHECK_STR(c.state, "exited");
	/* sleep ends on SIGTERM; the init process reports 128 + 15. */
	CHECK(c.exit_code == 143);
	CHECK(c.finished_ms >= c.started_ms && c.finished_ms > 0);
	wl_docker_container_release(&c);
	CHECK(wl_docker_container_stop(d, id, 1) == 0); /* already stopped */

	CHECK(wl_docker_container_remove(d, id) == 0);
	CHECK(wl_docker_container_inspect(d, id, &c) == WL_ENOTFOUND);
	CHECK(wl_docker_container_remove(d, id) == 0);
	CHECK(wl_docker_container_start(d, id) == WL_ENOTFOUND);
done:
	cJSON_Delete(raw);
	if (id)
		wl_docker_container_remove(d, id);
	free(id);
	wl_kvlist_release(&labels);
	wl_kvlist_release(&env);
	wl_docker_free(d);
}

static void test_container_logs(void)
{
	static const char *const cmd[] = {
		"sh", "-c",
		"echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; "
		"grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; exit 3",
		NULL
	};
	struct wl_docker *d = client();
	struct wl_container_config cfg = { 0 };
	struct wl_docker_container c = { 0 };
	struct wl_kvlist labels;
	struct wl_buf logs;
	char name[64], *id = NULL;

	wl_buf_init(&logs, 64 * 1024);
	labels_init(&labels, "logs");
	if (!d || !have_base_image(d))
		goto done;
	snprintf(name, sizeof(name), "wl-test-logs-%s", suffix);
	cfg.name = name;
	cfg.image = base_image;
	cfg.labels = &labels;
	cfg.cmd = cmd;
	CHECK(wl_docker_container_create(d, &cfg, &id) == 0);
	if (!id)
		goto done;
	CHECK(wl_docker_container_start(d, id) == 0);
	CHECK(wait_exited(d, id, &c) == 0);
	CHECK(c.exit_code == 3);
	CHECK(!c.oom_killed);

	CHECK(wl_docker_container_logs(d, id, -1, &logs) == 0);
	/*
	 * stdout and stderr, in order; and from inside: only the five
	 * capabilities we add (CHOWN DAC_OVERRIDE FOWNER SETGID SETUID =
	 * 0xcb), no new privileges.
	 */
	CHECK_STR(wl_buf_cstr(&logs), "out1\nerr1\nCapEff:\t00000000000000cb\n"
				      "NoNewPrivs:\t1\n");
	wl_buf_reset(&logs);
	CHECK(wl_docker_container_logs(d, id, 1, &logs) == 0);
	CHECK_STR(wl_buf_cstr(&logs), "NoNewPrivs:\t1\n");
	/* The caller's bound holds. */
	wl_buf_release(&logs);
	wl_buf_init(&logs, 8);
	CHECK(wl_docker_container_logs(d, id, -1, &logs) == WL_ETOOBIG);
	CHECK_CONTAINS(wl_error_last(), "exceed 8 bytes");
	CHECK(logs.len <= 8);
done:
	wl_docker_container_release(&c);
	if (id)
		wl_docker_container_remove(d, id);
	free(id);
	wl_kvlist_release(&labels);
	wl_buf_release(&logs);
	wl_docker_free(d);
}

/*
 * Attached stdin: a line written before the start reaches the container,
 * and closing our end ends its stdin (the agent sandbox's lease); the
 * errors say which.
 */
static void test_attach_stdin(void)
{
	struct wl_docker *d = NULL;
	struct wl_docker_container c = { 0 };
	struct wl_buf logs;
	char name[64], body[512], *id = NULL;
	int fd = -1;

	wl_buf_init(&logs, 64 * 1024);
	CHECK(wl_docker_new(&d, "unix:///nonexistent/docker.sock") == 0);
	CHECK(d &&
	      wl_docker_container_attach_stdin(d, "x", &fd) == WL_EUNAVAIL);
	CHECK_CONTAINS(wl_error_last(), "cannot reach Docker at "
					"'/nonexistent/docker.sock'");
	CHECK(fd == -1);
	wl_docker_free(d);
	if (!(d = client()) || !have_base_image(d))
		goto done;
	snprintf(name, sizeof(name), "wl-test-missing-%s", suffix);
	CHECK(wl_docker_container_attach_stdin(d, name, &fd) == WL_ENOTFOUND);
	CHECK_CONTAINS(wl_error_last(), "no such container");
	CHECK(wl_docker_container_attach_stdin(d, "a b", &fd) == WL_EINVALID);

	snprintf(name, sizeof(name), "wl-test-stdin-%s", suffix);
	snprintf(body, sizeof(body),
		 "{\"Image\":\"%s\",\"Cmd\":[\"sh\",\"-c\",\"read l; echo "
		 "got:$l; cat >/dev/null; echo ended\"],\"OpenStdin\":true,"
		 "\"StdinOnce\":true,\"AttachStdin\":true,\"Labels\":"
		 "{\"worklet.test\":\"%s\"}}",
		 base_image, suffix);
	CHECK(wl_docker_container_create_json(d, name, body, &id) == 0);
	if (!id)
		goto done;
	CHECK(wl_docker_container_attach_stdin(d, id, &fd) == 0);
	CHECK(fd >= 0 && send(fd, "hello\n", 6, MSG_NOSIGNAL) == 6);
	CHECK(wl_docker_container_start(d, id) == 0);
	usleep(500 * 1000);
	CHECK(wl_docker_container_inspect(d, id, &c) == 0 && c.running);
	wl_docker_container_release(&c);
	memset(&c, 0, sizeof(c));
	if (fd >= 0)
		close(fd); /* the lease ends: stdin ends, and the container */
	CHECK(wait_exited(d, id, &c) == 0);
	CHECK(c.exit_code == 0);
	CHECK(wl_docker_container_logs(d, id, -1, &logs) == 0);
	CHECK_STR(wl_buf_cstr(&logs), "got:hello\nended\n");
done:
	wl_docker_container_release(&c);
	if (id)
		wl_docker_container_remove(d, id);
	free(id);
	wl_buf_release(&logs);
	wl_docker_free(d);
}

/* A TTY container's log stream is plain text: passed through as is. */
static void test_container_logs_tty(void)
{
	static const char *const cmd[] = { "echo", "plain text", NULL };
	struct wl_docker *d = client();
	struct wl_docker_container c = { 0 };
	struct wl_buf body, logs;
	struct wl_kvlist labels;
	char url[256], *id = NULL, *json = NULL;
	cJSON *j = NULL;
	CURL *curl = NULL;
	struct curl_slist *h = NULL;
	long status = 0;

	wl_buf_init(&body, 1024 * 1024);
	wl_buf_init(&logs, 1024);
	labels_init(&labels, "tty");
	if (!d || !have_base_image(d))
		goto done;
	/* The client never creates TTY containers: make one directly. */
	snprintf(url, sizeof(url),
		 "http://localhost/v1.41/containers/create?name=wl-test-tty-%s",
		 suffix);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "Image", base_image);
	cJSON_AddBoolToObject(j, "Tty", 1);
	cJSON_AddItemToObject(j, "Cmd", cJSON_CreateStringArray(cmd, 2));
	cJSON_AddItemToObject(j, "Labels", cJSON_CreateObject());
	cJSON_AddStringToObject(cJSON_GetObjectItem(j, "Labels"),
				"worklet.test", suffix);
	json = cJSON_PrintUnformatted(j);
	curl = curl_easy_init();
	h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, SOCK);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, raw_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	CHECK(curl_easy_perform(curl) == CURLE_OK);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	CHECK(status == 201);
	cJSON_Delete(j);
	j = cJSON_Parse(wl_buf_cstr(&body));
	if (cJSON_IsString(cJSON_GetObjectItem(j, "Id")))
		id = strdup(cJSON_GetObjectItem(j, "Id")->valuestring);
	if (!id)
		goto done;
	CHECK(wl_docker_container_start(d, id) == 0);
	CHECK(wait_exited(d, id, &c) == 0);
	CHECK(wl_docker_container_logs(d, id, -1, &logs) == 0);
	CHECK_STR(wl_buf_cstr(&logs), "plain text\r\n");
done:
	wl_docker_container_release(&c);
	if (id)
		wl_docker_container_remove(d, id);
	free(id);
	cJSON_Delete(j);
	cJSON_free(json);
	curl_slist_free_all(h);
	if (curl)
		curl_easy_cleanup(curl);
	wl_kvlist_release(&labels);
	wl_buf_release(&body);
	wl_buf_release(&logs);
	wl_docker_free(d);
}

/* ---- events ---- */

struct seen {
	pthread_mutex_t lock;
	struct wl_buf log; /* "action id worklet_id\n" per event */
	volatile int stop;
	int rc;
	int64_t returned_ms;
};

static void on_event(void *ctx, const char *action, const char *id,
		     const char *worklet_id)
{
	struct seen *s = ctx;

	pthread_mutex_lock(&s->lock);
	wl_buf_printf(&s->log, "%s %s %s\n", action, id, worklet_id);
	pthread_mutex_unlock(&s->lock);
}

static void *events_thread(void *p)
{
	struct seen *s = p;
	struct wl_docker *d = NULL;

	if (wl_docker_new(&d, NULL) == 0)
		s->rc = wl_docker_events(d, test_label, on_event, s, &s->stop);
	else
		s->rc = -100;
	s->returned_ms = wl_time_mono_ms();
	wl_docker_free(d);
	return NULL;
}

static int saw(struct seen *s, const char *line, int64_t wait_ms)
{
	int64_t deadline = wl_time_mono_ms() + wait_ms;
	int found;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		found = strstr(wl_buf_cstr(&s->log), line) != NULL;
		pthread_mutex_unlock(&s->lock);
		if (found || wl_time_mono_ms() >= deadline)
			return found;
		usleep(50 * 1000);
	}
}

static void test_events(void)
{
	static const char *const cmd[] = { "sleep", "30", NULL };
	struct wl_docker *d = client();
	struct wl_container_config cfg = { 0 };
	struct wl_kvlist labels;
	struct seen s;
	pthread_t t;
	char name[64], line[256], *id = NULL;
	int live = 0, started = 0;
	int64_t stop_at;

	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.lock, NULL);
	wl_buf_init(&s.log, 1024 * 1024);
	labels_init(&labels, "events-wid");
	if (!d || !have_base_image(d))
		goto done;
	if (pthread_create(&t, NULL, events_thread, &s)) {
		CHECK(!"pthread_create");
		goto done;
	}
	started = 1;
	cfg.image = base_image;
	cfg.labels = &labels;
	cfg.cmd = cmd;
	cfg.name = name;
	/*
	 * The subscription is live once it reports a create: until then,
	 * events may be lost, so create again.
	 */
	for (int i = 0; i < 10 && !live; i++) {
		snprintf(name, sizeof(name), "wl-test-events-%s-%d", suffix, i);
		if (id) {
			wl_docker_container_remove(d, id);
			free(id);
			id = NULL;
		}
		CHECK(wl_docker_container_create(d, &cfg, &id) == 0);
		if (!id)
			break;
		snprintf(line, sizeof(line), "create %s events-wid\n", id);
		live = saw(&s, line, 1000);
	}
	CHECK(live);
	if (!live)
		goto done;
	CHECK(wl_docker_container_start(d, id) == 0);
	CHECK(wl_docker_container_stop(d, id, 0) == 0); /* SIGKILL at once */
	snprintf(line, sizeof(line), "start %s events-wid\n", id);
	CHECK(saw(&s, line, 10000));
	snprintf(line, sizeof(line), "die %s events-wid\n", id);
	CHECK(saw(&s, line, 10000));
	/* Nothing from containers without our label. */
	pthread_mutex_lock(&s.lock);
	for (const char *p = wl_buf_cstr(&s.log); *p; p = strchr(p, '\n') + 1)
		CHECK(!strncmp(strchr(p, ' ') + 65, " events-wid\n", 12));
	pthread_mutex_unlock(&s.lock);
done:
	if (started) {
		stop_at = wl_time_mono_ms();
		s.stop = 1;
		pthread_join(t, NULL);
		CHECK(s.rc == 0);
		/* *stop is honoured within about a second. */
		CHECK(s.returned_ms - stop_at < 2500);
	}
	if (id)
		wl_docker_container_remove(d, id);
	free(id);
	wl_kvlist_release(&labels);
	wl_buf_release(&s.log);
	pthread_mutex_destroy(&s.lock);
	wl_docker_free(d);
}

static void test_events_unreachable(void)
{
	struct wl_docker *d = NULL;
	volatile int stop = 0;

	CHECK(wl_docker_new(&d, "unix:///nonexistent/docker.sock") == 0);
	CHECK(wl_docker_events(d, NULL, on_event, NULL, &stop) == WL_EUNAVAIL);
	CHECK_CONTAINS(wl_error_last(), "cannot reach Docker");
	stop = 1;
	CHECK(wl_docker_events(d, NULL, on_event, NULL, &stop) == 0);
	wl_docker_free(d);
}

/* Remove whatever a failed test left behind. */
static void cleanup(void)
{
	struct wl_docker *d = NULL;
	struct wl_docker_container *c = NULL;
	struct wl_docker_image *imgs = NULL;
	size_t n = 0;

	if (wl_docker_new(&d, NULL) < 0)
		return;
	if (wl_docker_containers_list(d, test_label, &c, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			fprintf(stderr, "leftover container %s\n", c[i].name);
			wl_docker_container_remove(d, c[i].id);
		}
		CHECK(n == 0);
		wl_docker_containers_free(c, n);
	}
	if (wl_docker_images_list(d, test_label, &imgs, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			fprintf(stderr, "leftover image %s\n", imgs[i].id);
			wl_docker_image_remove(d, imgs[i].id, 1);
		}
		CHECK(n == 0);
		wl_docker_images_free(imgs, n);
	}
	wl_docker_free(d);
}

static void test_nothing_left_behind(void)
{
	cleanup();
}

/* Build output without terminal escapes, as the build log keeps it. */
static void test_strip_escapes(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "\x1b[31merror\x1b[39m: x", "error: x" },
		{ "  Step 1/2 : RUN\tx", "  Step 1/2 : RUN\tx" },
		{ "\x1b]0;title\aok", "ok" },
		{ "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link" },
		{ "a\rb\x7f\x1b"
		  "7c",
		  "abc" },
		{ "\x1b[", "" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_buf b;

		wl_buf_init(&b, 256);
		CHECK(wl_docker_strip_escapes(&b, cases[i].in) == 0);
		CHECK_STR(wl_buf_cstr(&b), cases[i].out);
		wl_buf_release(&b);
	}
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_strip_escapes),
		UNIT(test_log_decoder_chunking),
		UNIT(test_log_decoder_bounded),
		UNIT(test_log_decoder_garbage),
		UNIT(test_host_and_reachability),
		UNIT(test_build_inspect_list_remove),
		UNIT(test_build_failure_names_the_step),
		UNIT(test_build_failure_quotes_the_cause),
		UNIT(test_build_cancel_and_timeout),
		UNIT(test_build_output_limit),
		UNIT(test_network_lifecycle),
		UNIT(test_not_found_and_invalid),
		UNIT(test_container_lifecycle),
		UNIT(test_container_logs),
		UNIT(test_container_logs_tty),
		UNIT(test_attach_stdin),
		UNIT(test_events),
		UNIT(test_events_unreachable),
		UNIT(test_nothing_left_behind),
		{ 0 },
	};
	int rc;

	if (getenv("WL_TEST_IMAGE"))
		base_image = getenv("WL_TEST_IMAGE");
	curl_global_init(CURL_GLOBAL_ALL);
	wl_random_hex(suffix, 4);
	snprintf(test_label, sizeof(test_label), "worklet.test=%s", suffix);
	rc = wl_unit_run(tests);
	curl_global_cleanup();
	return rc;
}
