/*
 * The repository address policy: address classes, host lists, the
 * request-time URL check (literals at once, names through a lookup), and
 * the connection check libgit2 goes through, against listeners on this
 * machine that count the connections they get (a refused host must get
 * none): a loopback literal, a name resolving to it, a listed host, a
 * redirect from a listed host to another one.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <git2.h>

#include "controller/git_policy.h"
#include "controller/git_repo.h"
#include "specs/core/error.h"
#include "specs/core/fs.h"
#include "tests/unit/unit.h"
#include "specs/core/banned.h"

static int sa_of(struct sockaddr_storage *ss, const char *text)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

static void test_address_classes(void)
{
	static const struct {
		const char *addr;
		const char *want; /* NULL: public */
	} cases[] = {
		{ "127.0.0.1", "loopback" },
		{ "127.255.0.9", "loopback" },
		{ "10.1.2.3", "private" },
		{ "172.16.0.1", "private" },
		{ "172.31.255.255", "private" },
		{ "172.32.0.1", NULL },
		{ "192.168.1.1", "private" },
		{ "169.254.169.254", "link-local" },
		{ "100.64.0.1", "carrier-grade NAT" },
		{ "100.128.0.1", NULL },
		{ "0.0.0.0", "unspecified" },
		{ "0.1.2.3", "unspecified" },
		{ "192.0.2.10", "documentation" },
		{ "198.51.100.1", "documentation" },
		{ "203.0.113.7", "documentation" },
		{ "198.18.0.1", "benchmarking" },
		{ "224.0.0.1", "multicast" },
		{ "255.255.255.255", "reserved" },
		{ "192.0.0.8", "reserved" },
		{ "8.8.8.8", NULL },
		{ "140.82.112.3", NULL },
		{ "::1", "loopback" },
		{ "::", "unspecified" },
		{ "::ffff:127.0.0.1", "loopback" },
		{ "::ffff:10.0.0.1", "private" },
		{ "::ffff:8.8.8.8", NULL },
		{ "64:ff9b::a9fe:a9fe", "link-local" },
		{ "64:ff9b::808:808", NULL },
		{ "64:ff9b:1::1", "private" },
		{ "2002:7f00:1::1", "loopback" },
		{ "2002:808:808::1", NULL },
		{ "fd00::1", "unique-local" },
		{ "fc12::1", "unique-local" },
		{ "fe80::1", "link-local" },
		{ "fec0::1", "site-local" },
		{ "ff02::1", "multicast" },
		{ "2001:db8::1", "documentation" },
		{ "2001::1", "reserved" },
		{ "100::1", "reserved" },
		{ "::127.0.0.1", "reserved" },
		{ "2606:4700::1111", NULL },
		{ "2a00:1450:4001::200e", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		const char *got;

		CHECK(sa_of(&ss, cases[i].addr) == 0);
		got = wl_git_policy_addr_class((struct sockaddr *)&ss);
		if (!cases[i].want ? got != NULL
				   : !got || strcmp(got, cases[i].want)) {
			fprintf(stderr, "  %s: got %s, want %s\n",
				cases[i].addr, got ? got : "public",
				cases[i].want ? cases[i].want : "public");
			wl_unit_failures++;
		}
	}
}

static void test_host_lists(void)
{
	static const struct {
		const char *host, *port, *list;
		int want;
	} cases[] = {
		{ "github.com", "443", "github.com", 1 },
		{ "GitHub.com", "443", " github.com , gitlab.com", 1 },
		{ "gitlab.com", "443", "github.com,gitlab.com", 1 },
		{ "git.internal", "8443", "git.internal:8443", 1 },
		{ "git.internal", "443", "git.internal:8443", 0 },
		{ "github.com.evil", "443", "github.com", 0 },
		{ "evil.github.com", "443", "github.com", 0 },
		{ "::1", "443", "[::1]", 1 },
		{ "::1", "8443", "[::1]:8443", 1 },
		{ "::1", "443", "::1", 0 },
		{ "x", NULL, "x:1", 0 },
		{ "x", "443", "", 0 },
		{ "x", "443", NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (wl_git_policy_host_listed(cases[i].host, cases[i].port,
					      cases[i].list) != cases[i].want) {
			fprintf(stderr, "  %s %s in '%s': want %d\n",
				cases[i].host,
				cases[i].port ? cases[i].port : "-",
				cases[i].list ? cases[i].list : "(null)",
				cases[i].want);
			wl_unit_failures++;
		}
}

static void test_check_url(void)
{
	static const struct {
		const char *url;
		int allow_local;
		const char *allowed;
		const char *resolved; /* the lookup's answer, "" failed */
		int want;	      /* 0, 1 (look up), WL_EINVALID */
		const char *text;
	} cases[] = {
		{ "https://github.com/a/b.git", 0, NULL, NULL, 1,
		  "github.com" },
		{ "https://github.com/a/b.git", 0, NULL, "140.82.112.3", 0,
		  "" },
		{ "https://github.com/a/b.git", 0, NULL, "", 0, "" },
		{ "https://127.0.0.1:8443/x.git", 0, NULL, NULL, WL_EINVALID,
		  "'127.0.0.1' is a loopback address: repositories must be "
		  "on public addresses" },
		{ "https://127.1/x.git", 0, NULL, NULL, WL_EINVALID,
		  "'127.1' is a loopback address" },
		{ "https://2130706433/x.git", 0, NULL, NULL, WL_EINVALID,
		  "loopback" },
		{ "https://0x7f.1/x.git", 0, NULL, NULL, WL_EINVALID,
		  "loopback" },
		{ "https://0.0.0.0/x.git", 0, NULL, NULL, WL_EINVALID,
		  "an unspecified address" },
		{ "https://169.254.169.254/latest/meta-data", 0, NULL, NULL,
		  WL_EINVALID, "a link-local address" },
		{ "https://[::1]:22/x.git", 0, NULL, NULL, WL_EINVALID,
		  "'::1' is a loopback address" },
		{ "https://[::ffff:127.0.0.1]/x.git", 0, NULL, NULL,
		  WL_EINVALID, "loopback" },
		{ "https://[fd00::5]/x.git", 0, NULL, NULL, WL_EINVALID,
		  "a unique-local address" },
		{ "https://10.0.0.8/x.git", 0, NULL, NULL, WL_EINVALID,
		  "a private address" },
		{ "https://localhost:22/x.git", 0, NULL, "127.0.0.1",
		  WL_EINVALID,
		  "'localhost' resolves to 127.0.0.1, a loopback address" },
		/* one bad address is enough */
		{ "https://mixed.example/x.git", 0, NULL, "8.8.8.8,10.0.0.1",
		  WL_EINVALID, "resolves to 10.0.0.1, a private address" },
		{ "https://v6.example/x.git", 0, NULL, "::1", WL_EINVALID,
		  "resolves to ::1, a loopback address" },
		/* WORKLET_ALLOW_LOCAL_REPOS: no address rule */
		{ "https://127.0.0.1/x.git", 1, NULL, NULL, 0, "" },
		{ "http://localhost:9/x.git", 1, NULL, NULL, 0, "" },
		{ "/srv/repo", 0, NULL, NULL, 0, "" },
		{ "file:///srv/repo", 1, NULL, NULL, 0, "" },
		/* a listed host is trusted, the others refused unresolved */
		{ "https://git.internal:8443/x.git", 0, "git.internal:8443",
		  NULL, 0, "" },
		{ "https://10.1.1.1/x.git", 0, "10.1.1.1", NULL, 0, "" },
		{ "https://github.com/x.git", 0, "gitlab.com", NULL,
		  WL_EINVALID,
		  "'github.com' is not in WORKLET_GIT_ALLOWED_HOSTS "
		  "(gitlab.com)" },
		{ "https://127.0.0.1/x.git", 0, "gitlab.com", NULL, WL_EINVALID,
		  "not in WORKLET_GIT_ALLOWED_HOSTS (gitlab.com), and it is a "
		  "loopback address" },
		{ "http://127.0.0.1:7/x.git", 1, "github.com", NULL,
		  WL_EINVALID, "not in WORKLET_GIT_ALLOWED_HOSTS" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wl_git_policy p = { cases[i].allow_local,
					   cases[i].allowed };
		struct wl_git_lookup done, need;
		int rc;

		memset(&done, 0, sizeof(done));
		wl_error_clear();
		rc = wl_git_policy_check_url(&p, cases[i].url, NULL, &need);
		if (rc == 1 && cases[i].resolved) {
			char list[256], *save = NULL;

			CHECK(wl_git_policy_check_url(&p, cases[i].url, NULL,
						      NULL) == 0);
			done = need;
			snprintf(list, sizeof(list), "%s", cases[i].resolved);
			done.error = list[0] ? 0 : -2;
			for (char *a = strtok_r(list, ",", &save); a;
			     a = strtok_r(NULL, ",", &save))
				CHECK(sa_of(&done.addrs[done.count++], a) == 0);
			rc = wl_git_policy_check_url(&p, cases[i].url, &done,
						     &need);
		}
		if (rc != cases[i].want ||
		    (rc == 1 && strcmp(need.host, cases[i].text)) ||
		    (rc < 0 && !strstr(wl_error_last(), cases[i].text))) {
			fprintf(stderr, "  %s: got %d '%s', want %d '%s'\n",
				cases[i].url, rc,
				rc == 1 ? need.host : wl_error_last(),
				cases[i].want, cases[i].text);
			wl_unit_failures++;
		}
	}
}

/* ---- connections ---------------------------------------------------------
 */

/* A listener on 127.0.0.1 that counts connections; redirect: answer each
 * request with a 301 there. */
struct listener {
	int fd;
	int port;
	int accepted;
	char redirect[256];
	pthread_t thread;
};

static void *listen_main(void *arg)
{
	struct listener *l = arg;
	int c;

	while ((c = accept(l->fd, NULL, NULL)) >= 0) {
		char buf[4096], reply[512];
		ssize_t n;

		__atomic_add_fetch(&l->accepted, 1, __ATOMIC_SEQ_CST);
		if (l->redirect[0] &&
		    (n = recv(c, buf, sizeof(buf) - 1, 0)) > 0) {
			char *sp1, *sp2;

			buf[n] = '\0';
			sp1 = strchr(buf, ' ');
			sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
			if (sp2)
				*sp2 = '\0';
			n = snprintf(reply, sizeof(reply),
				     "HTTP/1.1 301 Moved\r\nLocation: %s%s\r\n"
				     "Content-Length: 0\r\n"
				     "Connection: close\r\n\r\n",
				     l->redirect, sp1 ? sp1 + 1 : "/");
			if (send(c, reply, (size_t)n, MSG_NOSIGNAL) < 0)
				perror("send");
		}
		close(c);
	}
	return NULL;
}

static void listener_start(struct listener *l, const char *redirect)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	memset(l, 0, sizeof(*l));
	snprintf(l->redirect, sizeof(l->redirect), "%s",
		 redirect ? redirect : "");
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l->fd, 16) < 0 ||
	    getsockname(l->fd, (struct sockaddr *)&a, &len) < 0 ||
	    pthread_create(&l->thread, NULL, listen_main, l)) {
		perror("listener");
		abort();
	}
	l->port = ntohs(a.sin_port);
}

static void listener_stop(struct listener *l)
{
	shutdown(l->fd, SHUT_RDWR);
	pthread_join(l->thread, NULL);
	close(l->fd);
}

static char tmp[64];

static int sync_url(const char *url, int allow_local, const char *allowed)
{
	struct wl_git_sync_opts o;
	char dir[128], sha[41];

	snprintf(dir, sizeof(dir), "%s/clone", tmp);
	wl_fs_remove_tree(dir);
	memset(&o, 0, sizeof(o));
	o.url = url;
	o.branch = "main";
	o.dir = dir;
	o.allow_local = allow_local;
	o.allowed_hosts = allowed;
	wl_error_clear();
	return wl_git_sync(&o, sha);
}

static void test_connections(void)
{
	struct listener a, b;
	char url[256], list[128], target[128];
	int rc;

	listener_start(&b, NULL);
	snprintf(target, sizeof(target), "http://localhost:%d", b.port);
	listener_start(&a, target);

	/* refused before any connection: a literal, a name */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/r.git", b.port);
	rc = sync_url(url, 0, NULL);
	CHECK(rc == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "cannot clone 'https://127.0.0.1:");
	CHECK_CONTAINS(wl_error_last(), "'127.0.0.1' is a loopback address: "
					"repositories must be on public");
	snprintf(url, sizeof(url), "https://localhost:%d/r.git", b.port);
	rc = sync_url(url, 0, NULL);
	CHECK(rc == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(),
		       "'localhost' resolves to 127.0.0.1, a loopback address");
	CHECK(__atomic_load_n(&b.accepted, __ATOMIC_SEQ_CST) == 0);

	/* listed: trusted, so libgit2 connects (and fails TLS: no server) */
	snprintf(list, sizeof(list), "localhost:%d", b.port);
	rc = sync_url(url, 0, list);
	CHECK(rc != WL_EINVALID && rc < 0);
	CHECK(__atomic_load_n(&b.accepted, __ATOMIC_SEQ_CST) == 1);

	/* a listed host redirects to one that is not: no connection there */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/r.git", a.port);
	snprintf(list, sizeof(list), "127.0.0.1:%d", a.port);
	rc = sync_url(url, 1, list);
	CHECK(rc == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(),
		       "redirected to another host: 'localhost:");
	CHECK_CONTAINS(wl_error_last(),
		       "is not in WORKLET_GIT_ALLOWED_HOSTS (127.0.0.1:");
	CHECK_CONTAINS(wl_error_last(), "resolves to 127.0.0.1, a loopback");
	CHECK(__atomic_load_n(&a.accepted, __ATOMIC_SEQ_CST) >= 1);
	CHECK(__atomic_load_n(&b.accepted, __ATOMIC_SEQ_CST) == 1);

	/* the policy is the call's own: none is left on the thread */
	CHECK(wl_git_policy_refusal() == NULL);
	listener_stop(&a);
	listener_stop(&b);
}

/* WORKLET_GIT_CA_FILE that cannot be used stops workletd, named. */
static void test_ca_file_errors(void)
{
	char bad[128];
	FILE *f;

	CHECK(wl_git_trust_ca_file("/nonexistent/ca.pem") == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "cannot load the CA certificates of "
					"'/nonexistent/ca.pem' "
					"(WORKLET_GIT_CA_FILE)");
	snprintf(bad, sizeof(bad), "%s/bad.pem", tmp);
	CHECK((f = fopen(bad, "w")) != NULL);
	if (f) {
		fputs("-----BEGIN CERTIFICATE-----\nnot base64\n"
		      "-----END CERTIFICATE-----\n",
		      f);
		fclose(f);
	}
	CHECK(wl_git_trust_ca_file(bad) == WL_EINVALID);
	CHECK_CONTAINS(wl_error_last(), "bad.pem' (WORKLET_GIT_CA_FILE)");
}

int main(void)
{
	static const struct wl_unit_test tests[] = {
		UNIT(test_address_classes), UNIT(test_host_lists),
		UNIT(test_check_url),	    UNIT(test_connections),
		UNIT(test_ca_file_errors),  { 0 }
	};
	int rc;

	git_libgit2_init();
	snprintf(tmp, sizeof(tmp), "/tmp/wl-git-policy-XXXXXX");
	if (!mkdtemp(tmp))
		abort();
	rc = wl_unit_run(tests);
	wl_fs_remove_tree(tmp);
	git_libgit2_shutdown();
	return rc;
}
