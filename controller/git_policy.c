/*
 * DESIGN: the policy is pure functions plus one libgit2 stream. libgit2
 * opens every socket through git_socket_stream_new() (its TLS streams
 * too), which uses the GIT_STREAM_STANDARD registration when there is one:
 * ours resolves the name, judges every address, and connects only to
 * those. libgit2 runs a transfer on the thread that called it, so the
 * policy, the repository URL and the refusal of the current operation are
 * thread-local (set by enter(), read by the stream on the same thread).
 * The proxies of the environment are read once (pthread_once) with the
 * registration.
 */
#include "controller/git_policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <git2/sys/stream.h>

#include "specs/core/error.h"
#include "specs/core/banned.h"

#define RULE_HINT                                                              \
	"repositories must be on public addresses (WORKLET_ALLOW_LOCAL_REPOS " \
	"or WORKLET_GIT_ALLOWED_HOSTS allows internal ones)"
#define PROXIES_MAX 4
#define HOST_MAX 256
#define PORT_MAX 8
#define MESSAGE_MAX 1024

/* ---- addresses ---------------------------------------------------------- */

static const char *v4_class(uint32_t a)
{
	static const struct {
		uint32_t net, mask;
		const char *what;
	} nets[] = {
		{ 0x00000000, 0xff000000, "unspecified" }, /* "this network" */
		{ 0x0a000000, 0xff000000, "private" },
		{ 0x64400000, 0xffc00000, "carrier-grade NAT" },
		{ 0x7f000000, 0xff000000, "loopback" },
		{ 0xa9fe0000, 0xffff0000, "link-local" }, /* cloud metadata */
		{ 0xac100000, 0xfff00000, "private" },
		{ 0xc0000000, 0xffffff00, "reserved" },
		{ 0xc0000200, 0xffffff00, "documentation" },
		{ 0xc0586300, 0xffffff00, "reserved" }, /* 6to4 relays */
		{ 0xc0a80000, 0xffff0000, "private" },
		{ 0xc6120000, 0xfffe0000, "benchmarking" },
		{ 0xc6336400, 0xffffff00, "documentation" },
		{ 0xcb007100, 0xffffff00, "documentation" },
		{ 0xe0000000, 0xf0000000, "multicast" },
		{ 0xf0000000, 0xf0000000, "reserved" }, /* and broadcast */
	};

	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
		if ((a & nets[i].mask) == nets[i].net)
			return nets[i].what;
	return NULL;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int zeros(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/*
 * Global unicast (2000::/3) is public but for the ranges below; the
 * forms that carry an IPv4 address are judged by it.
 */
static const char *v6_class(const unsigned char *a)
{
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12))
		return v4_class(be32(a + 12));
	if (zeros(a, 15))
		return a[15] == 1   ? "loopback"
		       : a[15] == 0 ? "unspecified"
				    : "reserved";
	if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b &&
	    a[4] == 0x00 && a[5] == 0x01)
		return "private"; /* local-use NAT64, 64:ff9b:1::/48 */
	if ((a[0] & 0xfe) == 0xfc)
		return "unique-local";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link-local";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return "site-local";
	if (a[0] == 0xff)
		return "multicast";
	if ((a[0] & 0xe0) != 0x20)
		return "reserved"; /* outside global unicast */
	if (a[0] == 0x20 && a[1] == 0x02)
		return v4_class(be32(a + 2)); /* 6to4 */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return "documentation";
	if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0x00)
		return "documentation"; /* 3fff::/20 */
	if (a[0] == 0x20 && a[1] == 0x01 && (a[2] & 0xfe) == 0x00)
		return "reserved"; /* IETF protocol assignments, Teredo */
	return NULL;
}

const char *wl_git_policy_addr_class(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_class(ntohl(
			((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return v6_class(
			((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return "non-IP";
}

static const char *article(const char *what)
{
	return strchr("aeio", what[0]) || !strncmp(what, "unspecified", 11)
		       ? "an"
		       : "a";
}

static void addr_text(const struct sockaddr *sa, char *out, size_t n)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (!a || !inet_ntop(sa->sa_family, a, out, (socklen_t)n))
		snprintf(out, n, "?");
}

/* ---- hosts -------------------------------------------------------------- */

int wl_git_policy_host_listed(const char *host, const char *port,
			      const char *list)
{
	char one[HOST_MAX + 2], with_port[HOST_MAX + PORT_MAX + 4];
	int v6 = strchr(host, ':') != NULL;

	/* How the list writes it: "host", "[v6]"; then with ":port". */
	snprintf(one, sizeof(one), v6 ? "[%s]" : "%s", host);
	snprintf(with_port, sizeof(with_port), "%s:%s", one, port ? port : "");
	while (list && *list) {
		size_t len = strcspn(list, ",");
		const char *item = list;

		while (len && *item == ' ') {
			item++;
			len--;
		}
		while (len && item[len - 1] == ' ')
			len--;
		if (len &&
		    ((len == strlen(one) && !strncasecmp(item, one, len)) ||
		     (port && len == strlen(with_port) &&
		      !strncasecmp(item, with_port, len))))
			return 1;
		list += strcspn(list, ",");
		if (*list == ',')
			list++;
	}
	return 0;
}

/*
 * Judge host:port with the addresses it has (literal: host is one of
 * them). 0, or WL_EINVALID with the message set.
 */
static int judge(const struct wl_git_policy *p, const char *host,
		 const char *port, int literal,
		 const struct sockaddr *const *addrs, size_t n)
{
	const char *what = NULL;
	char text[INET6_ADDRSTRLEN], shown[HOST_MAX + PORT_MAX + 4];
	size_t bad = 0;

	for (size_t i = 0; i < n && !what; i++)
		if ((what = wl_git_policy_addr_class(addrs[i])))
			bad = i;
	if (what)
		addr_text(addrs[bad], text, sizeof(text));
	if (p->allowed_hosts && *p->allowed_hosts &&
	    !wl_git_policy_host_listed(host, port, p->allowed_hosts)) {
		/* the port as the URL would show it */
		if (port && (!strcmp(port, "443") || !strcmp(port, "80")))
			port = NULL;
		snprintf(shown, sizeof(shown),
			 strchr(host, ':') ? "[%s]%s%s" : "%s%s%s", host,
			 port ? ":" : "", port ? port : "");
		if (what && literal)
			wl_error_set("'%s' is not in WORKLET_GIT_ALLOWED_HOSTS "
				     "(%s), and it is %s %s address",
				     shown, p->allowed_hosts, article(what),
				     what);
		else if (what)
			wl_error_set("'%s' is not in WORKLET_GIT_ALLOWED_HOSTS "
				     "(%s), and it resolves to %s, %s %s "
				     "address",
				     shown, p->allowed_hosts, text,
				     article(what), what);
		else
			wl_error_set("'%s' is not in WORKLET_GIT_ALLOWED_HOSTS "
				     "(%s)",
				     shown, p->allowed_hosts);
		return WL_EINVALID;
	}
	if (p->allow_local || (p->allowed_hosts && *p->allowed_hosts))
		return 0; /* listed hosts are trusted as they are */
	if (!what)
		return 0;
	if (literal)
		wl_error_set("'%s' is %s %s address: " RULE_HINT, host,
			     article(what), what);
	else
		wl_error_set("'%s' resolves to %s, %s %s address: " RULE_HINT,
			     host, text, article(what), what);
	return WL_EINVALID;
}

/* Judge the addresses of an addrinfo list. */
static int judge_list(const struct wl_git_policy *p, const char *host,
		      const char *port, int literal, const struct addrinfo *res)
{
	const struct sockaddr **v;
	size_t n = 0;
	int error;

	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		n++;
	if (!(v = calloc(n ? n : 1, sizeof(*v)))) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	n = 0;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		v[n++] = ai->ai_addr;
	error = judge(p, host, port, literal, v, n);
	free(v);
	return error;
}

/* A literal address: 1 and its addrinfo in *out, else 0. */
static int numeric(const char *host, const char *port, struct addrinfo **out)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	*out = NULL;
	return getaddrinfo(host, port, &hints, out) == 0;
}

/*
 * The host (brackets removed) and port of an http(s) URL; 0 when it has
 * none (a path, file://). The port defaults to the scheme's.
 */
static int url_host_port(const char *url, char *host, size_t hn, char *port,
			 size_t pn)
{
	const char *p = strstr(url, "://"), *end, *at, *h, *colon;
	size_t len;

	host[0] = port[0] = '\0';
	if (!p || url[0] == '/')
		return 0;
	snprintf(port, pn, "%s", !strncasecmp(url, "https", 5) ? "443" : "80");
	if (!strncasecmp(url, "file", 4) && p == url + 4)
		return 0;
	h = p + 3;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	if (at)
		h = at + 1;
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));

		if (!close)
			return 0;
		len = (size_t)(close - h - 1);
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
		h++;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		len = (size_t)((colon ? colon : end) - h);
	}
	if (!len || len >= hn)
		return 0;
	memcpy(host, h, len);
	host[len] = '\0';
	if (colon && (size_t)(end - colon - 1) < pn && end > colon + 1) {
		memcpy(port, colon + 1, (size_t)(end - colon - 1));
		port[end - colon - 1] = '\0';
	}
	return 1;
}

void wl_git_lookup_run(struct wl_git_lookup *l)
{
	struct addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	l->count = 0;
	l->error =
		getaddrinfo(l->host, l->port[0] ? l->port : NULL, &hints, &res);
	for (struct addrinfo *ai = res; ai && l->count < WL_GIT_LOOKUP_MAX;
	     ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(l->addrs[0]))
			continue;
		memcpy(&l->addrs[l->count++], ai->ai_addr, ai->ai_addrlen);
	}
	if (res)
		freeaddrinfo(res);
}

int wl_git_policy_check_url(const struct wl_git_policy *p, const char *url,
			    const struct wl_git_lookup *done,
			    struct wl_git_lookup *need)
{
	char host[HOST_MAX], port[PORT_MAX];
	struct addrinfo *lit = NULL;
	const struct sockaddr *v[WL_GIT_LOOKUP_MAX] = { NULL };
	int error;

	if (!url_host_port(url, host, sizeof(host), port, sizeof(port)))
		return 0;
	if (numeric(host, port, &lit)) {
		error = judge_list(p, host, port, 1, lit);
		freeaddrinfo(lit);
		return error;
	}
	if (done && !strcasecmp(done->host, host) &&
	    !strcmp(done->port, port)) {
		if (done->error || !done->count)
			/* The controller checks again when it connects. */
			return judge(p, host, port, 0, v, 0);
		for (size_t i = 0; i < done->count; i++)
			v[i] = (const struct sockaddr *)&done->addrs[i];
		return judge(p, host, port, 0, v, done->count);
	}
	/* The host list alone may refuse it without any lookup. */
	if ((error = judge(p, host, port, 0, v, 0)) < 0)
		return error;
	if (p->allow_local || (p->allowed_hosts && *p->allowed_hosts) || !need)
		return 0;
	memset(need, 0, sizeof(*need));
	snprintf(need->host, sizeof(need->host), "%s", host);
	snprintf(need->port, sizeof(need->port), "%s", port);
	return 1;
}

/* ---- the libgit2 stream ------------------------------------------------- */

struct proxy {
	char host[HOST_MAX];
	char port[PORT_MAX];
};

static struct proxy proxies[PROXIES_MAX];
static size_t proxy_count;
static int install_error;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static __thread const struct wl_git_policy *cur_policy;
static __thread const char *cur_url;
static __thread char refusal[MESSAGE_MAX];
static __thread int via_proxy;

struct pstream {
	git_stream parent;
	char *host;
	char *port;
	int fd;
};

static void proxy_add(const char *var)
{
	const char *v = getenv(var);
	char url[1024];
	struct proxy *px = &proxies[proxy_count];

	if (!v || !*v || proxy_count >= PROXIES_MAX)
		return;
	/* libgit2 takes "host:port" for "http://host:port" */
	snprintf(url, sizeof(url), "%s%s", strstr(v, "://") ? "" : "http://",
		 v);
	if (url_host_port(url, px->host, sizeof(px->host), px->port,
			  sizeof(px->port)))
		proxy_count++;
}

static int is_proxy(const char *host, const char *port)
{
	for (size_t i = 0; i < proxy_count; i++)
		if (!strcasecmp(proxies[i].host, host) &&
		    !strcmp(proxies[i].port, port))
			return 1;
	return 0;
}

static const struct wl_git_policy *policy(void)
{
	static const struct wl_git_policy strict = { 0, NULL };

	return cur_policy ? cur_policy : &strict;
}

/*
 * Is host:port another than the repository URL's (a redirect)? A NULL
 * port compares the host only.
 */
static int redirected(const char *host, const char *port)
{
	char h[HOST_MAX], p[PORT_MAX];

	if (!cur_url || !url_host_port(cur_url, h, sizeof(h), p, sizeof(p)))
		return 0;
	return strcasecmp(h, host) || (port && strcmp(p, port));
}

/* The policy said no: remember why, and tell libgit2. */
static int refuse(const char *host, const char *port)
{
	if (redirected(host, port))
		snprintf(refusal, sizeof(refusal),
			 "redirected to another host: %s", wl_error_last());
	else
		snprintf(refusal, sizeof(refusal), "%s", wl_error_last());
	git_error_set_str(GIT_ERROR_NET, refusal);
	return -1;
}

static int ps_connect(git_stream *stream)
{
	struct pstream *s = (struct pstream *)stream;
	struct addrinfo hints, *res = NULL, *lit = NULL;
	int rc, literal, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(s->host, s->port, &hints, &res)) != 0) {
		git_error_set(GIT_ERROR_NET,
			      "failed to resolve address for %s: %s", s->host,
			      gai_strerror(rc));
		return -1;
	}
	via_proxy = is_proxy(s->host, s->port);
	literal = numeric(s->host, s->port, &lit);
	if (lit)
		freeaddrinfo(lit);
	/* The addresses judged are the ones connected to. */
	if (!via_proxy &&
	    judge_list(policy(), s->host, s->port, literal, res) < 0) {
		freeaddrinfo(res);
		return refuse(s->host, s->port);
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
				ai->ai_protocol);

		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			s->fd = fd;
			break;
		}
		saved = errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (s->fd < 0) {
		git_error_set(GIT_ERROR_OS, "failed to connect to %s: %s",
			      s->host, strerror(saved));
		return -1;
	}
	return 0;
}

static ssize_t ps_read(git_stream *stream, void *data, size_t len)
{
	struct pstream *s = (struct pstream *)stream;
	ssize_t n;

	while ((n = recv(s->fd, data, len, 0)) < 0 && errno == EINTR)
		;
	if (n < 0)
		git_error_set(GIT_ERROR_NET, "error receiving socket data: %s",
			      strerror(errno));
	return n;
}

static ssize_t ps_write(git_stream *stream, const char *data, size_t len,
			int flags)
{
	struct pstream *s = (struct pstream *)stream;
	ssize_t n;

	while ((n = send(s->fd, data, len, flags | MSG_NOSIGNAL)) < 0 &&
	       errno == EINTR)
		;
	if (n < 0)
		git_error_set(GIT_ERROR_NET, "error sending data: %s",
			      strerror(errno));
	return n;
}

static int ps_close(git_stream *stream)
{
	struct pstream *s = (struct pstream *)stream;
	int rc = s->fd >= 0 ? close(s->fd) : 0;

	s->fd = -1;
	return rc;
}

static void ps_free(git_stream *stream)
{
	struct pstream *s = (struct pstream *)stream;

	if (s->fd >= 0)
		close(s->fd);
	free(s->host);
	free(s->port);
	free(s);
}

static int ps_new(git_stream **out, const char *host, const char *port)
{
	struct pstream *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s || !(s->host = strdup(host)) ||
	    !(s->port = strdup(port ? port : "443"))) {
		if (s)
			free(s->host);
		free(s);
		git_error_set_oom();
		return -1;
	}
	s->fd = -1;
	s->parent.version = GIT_STREAM_VERSION;
	s->parent.connect = ps_connect;
	s->parent.read = ps_read;
	s->parent.write = ps_write;
	s->parent.close = ps_close;
	s->parent.free = ps_free;
	*out = &s->parent;
	return 0;
}

static void install(void)
{
	static git_stream_registration reg = { GIT_STREAM_VERSION, ps_new,
					       NULL };

	proxy_add("https_proxy");
	proxy_add("HTTPS_PROXY");
	proxy_add("http_proxy");
	proxy_add("HTTP_PROXY");
	install_error = git_stream_register(GIT_STREAM_STANDARD, &reg);
}

int wl_git_policy_install(void)
{
	pthread_once(&install_once, install);
	if (install_error < 0) {
		wl_error_set("cannot register the git connection policy with "
			     "libgit2");
		return WL_ERROR;
	}
	return 0;
}

void wl_git_policy_enter(const struct wl_git_policy *p, const char *url)
{
	cur_policy = p;
	cur_url = url;
	refusal[0] = '\0';
	via_proxy = 0;
}

void wl_git_policy_leave(void)
{
	cur_policy = NULL;
	cur_url = NULL;
	refusal[0] = '\0';
	via_proxy = 0;
}

const char *wl_git_policy_refusal(void)
{
	return refusal[0] ? refusal : NULL;
}

int wl_git_policy_certificate_check(git_cert *cert, int valid, const char *host,
				    void *payload)
{
	struct addrinfo hints, *res = NULL;
	int error;

	(void)cert;
	(void)valid;
	(void)payload;
	if (!via_proxy || !host)
		return GIT_PASSTHROUGH;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	/* The proxy resolves it too; we judge what we see. */
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return GIT_PASSTHROUGH;
	error = judge_list(policy(), host, NULL, 0, res);
	freeaddrinfo(res);
	if (error < 0) {
		refuse(host, NULL);
		return GIT_ECERTIFICATE;
	}
	return GIT_PASSTHROUGH;
}
