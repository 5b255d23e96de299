/*
 * Node.js version requests: npm's semver range grammar (node-semver's
 * "Advanced Range Syntax": x-ranges, tilde, caret, hyphen ranges,
 * comparator sets joined by "||") plus nvm's aliases, reduced to what
 * choosing an image needs: does a major line hold a matching release?
 *
 * Each comparator set becomes one half-open interval [lo, hi) of
 * versions (comparators in a set intersect); a major M is allowed when
 * the interval meets [M.0.0, M+1.0.0). Versions are whole numbers, so
 * ">1.2.3" is ">=1.2.4" and "<=1.2" is "<1.3.0".
 */
#include "specs/node_version.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "specs/core/error.h"
#include "specs/core/banned.h"

#define NUM_MAX 999999999L /* a version component */
#define TOKENS_MAX 64	   /* words in one comparator set */
#define INF (NUM_MAX * 4)  /* above any version component (and +1) */

struct ver {
	long v[3];
};

struct interval {
	struct ver lo; /* inclusive */
	struct ver hi; /* exclusive; v[0] == INF: none */
};

/* A partial version: "1", "1.2", "1.2.3", "1.x", "*"; n numeric parts. */
struct partial {
	long v[3];
	int n;
};

static const struct {
	const char *name;
	int major;
} lts_names[] = {
	{ "argon", 4 },	   { "boron", 6 },     { "carbon", 8 },
	{ "dubnium", 10 }, { "erbium", 12 },   { "fermium", 14 },
	{ "gallium", 16 }, { "hydrogen", 18 }, { "iron", 20 },
	{ "jod", 22 },	   { "krypton", 24 },
};

static int bad(const char *request, const char *why)
{
	wl_error_set("'%.*s' is not a Node.js version range (%s; e.g. 22, "
		     "^20.19.0, >=18 <23, 20.x || 22.x, lts/*)",
		     WL_NODE_VERSION_MAX, request, why);
	return WL_EINVALID;
}

static int cmp(const struct ver *a, const struct ver *b)
{
	for (int i = 0; i < 3; i++)
		if (a->v[i] != b->v[i])
			return a->v[i] < b->v[i] ? -1 : 1;
	return 0;
}

static struct ver ver3(long a, long b, long c)
{
	struct ver v = { { a, b, c } };

	return v;
}

static struct ver ver_inf(void)
{
	return ver3(INF, 0, 0);
}

/* The partial with its missing parts as zeros. */
static struct ver floor_of(const struct partial *p)
{
	return ver3(p->n > 0 ? p->v[0] : 0, p->n > 1 ? p->v[1] : 0,
		    p->n > 2 ? p->v[2] : 0);
}

/* The first version after every release the partial names. */
static struct ver after(const struct partial *p)
{
	switch (p->n) {
	case 0:
		return ver_inf();
	case 1:
		return ver3(p->v[0] + 1, 0, 0);
	case 2:
		return ver3(p->v[0], p->v[1] + 1, 0);
	default:
		return ver3(p->v[0], p->v[1], p->v[2] + 1);
	}
}

/* Parse "v1.2.3-rc.1+b", "1.x", "*" (the whole of s[0..len)). */
static int parse_partial(struct partial *out, const char *s, size_t len)
{
	size_t i = 0;
	int wild = 0;

	memset(out, 0, sizeof(*out));
	if (i < len && (s[i] == 'v' || s[i] == 'V'))
		i++;
	if (i == len)
		return -1;
	for (int part = 0; part < 3; part++) {
		if (i < len && (s[i] == 'x' || s[i] == 'X' || s[i] == '*')) {
			wild = 1;
			i++;
		} else if (i < len && isdigit((unsigned char)s[i])) {
			long n = 0;

			for (; i < len && isdigit((unsigned char)s[i]); i++) {
				n = n * 10 + (s[i] - '0');
				if (n > NUM_MAX)
					return -1;
			}
			if (!wild)
				out->v[out->n++] = n;
		} else {
			return -1;
		}
		if (i == len)
			return 0;
		if (s[i] != '.')
			break;
		i++;
		if (part == 2)
			return -1; /* a fourth component */
	}
	/* A pre-release or build suffix, only after a full version. */
	if (out->n == 3 && (s[i] == '-' || s[i] == '+')) {
		for (i++; i < len; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
			    s[i] != '-' && s[i] != '+')
				return -1;
		return i > 0 && s[len - 1] != '-' && s[len - 1] != '+' &&
				       s[len - 1] != '.'
			       ? 0
			       : -1;
	}
	return -1;
}

static void narrow(struct interval *in, struct ver lo, struct ver hi)
{
	if (cmp(&lo, &in->lo) > 0)
		in->lo = lo;
	if (cmp(&hi, &in->hi) < 0)
		in->hi = hi;
}

/* Apply one comparator, op (may be "") and a partial, to the set. */
static int apply(struct interval *in, const char *op, const struct partial *p)
{
	struct ver zero = ver3(0, 0, 0), inf = ver_inf();

	if (!*op || !strcmp(op, "=")) {
		narrow(in, floor_of(p), after(p));
	} else if (!strcmp(op, ">=")) {
		narrow(in, floor_of(p), inf);
	} else if (!strcmp(op, ">")) {
		/* ">*" matches nothing */
		narrow(in, p->n ? after(p) : inf, inf);
	} else if (!strcmp(op, "<")) {
		narrow(in, zero, p->n ? floor_of(p) : zero);
	} else if (!strcmp(op, "<=")) {
		narrow(in, zero, after(p));
	} else if (!strcmp(op, "~") || !strcmp(op, "~>")) {
		struct partial minor = *p;

		if (minor.n > 2)
			minor.n = 2;
		narrow(in, floor_of(p), after(&minor));
	} else if (!strcmp(op, "^")) {
		struct partial keep = *p;

		/* Up to the first non-zero component stays fixed. */
		if (p->n == 0 || p->v[0] > 0 || p->n == 1)
			keep.n = p->n ? 1 : 0;
		else if (p->v[1] > 0 || p->n == 2)
			keep.n = 2;
		else
			keep.n = 3;
		narrow(in, floor_of(p), after(&keep));
	} else {
		return -1;
	}
	return 0;
}

/* Split a leading operator off word: "<=", ">=", "<", ">", "=", "~>", ... */
static size_t op_len(const char *w, size_t len)
{
	static const char *const ops[] = { "<=", ">=", "~>", "<",
					   ">",	 "=",  "~",  "^" };

	for (size_t i = 0; i < sizeof(ops) / sizeof(*ops); i++) {
		size_t n = strlen(ops[i]);

		if (len >= n && !strncmp(w, ops[i], n))
			return n;
	}
	return 0;
}

/* One comparator set, s[0..len): the interval it allows. */
static int parse_set(struct interval *out, const char *s, size_t len)
{
	const char *word[TOKENS_MAX];
	size_t wlen[TOKENS_MAX], n = 0, i = 0;

	out->lo = ver3(0, 0, 0);
	out->hi = ver_inf();
	while (i < len) {
		size_t start;

		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (i == len)
			break;
		if (n == TOKENS_MAX)
			return -1;
		start = i;
		while (i < len && !isspace((unsigned char)s[i]))
			i++;
		word[n] = s + start;
		wlen[n++] = i - start;
	}
	for (i = 0; i < n;) {
		struct partial a, b;
		char op[3] = "";
		size_t k;

		if (i + 2 < n && wlen[i + 1] == 1 && word[i + 1][0] == '-') {
			/* "1.2.3 - 2.3": both ends included */
			if (parse_partial(&a, word[i], wlen[i]) < 0 ||
			    parse_partial(&b, word[i + 2], wlen[i + 2]) < 0)
				return -1;
			narrow(out, floor_of(&a), after(&b));
			i += 3;
			continue;
		}
		k = op_len(word[i], wlen[i]);
		memcpy(op, word[i], k);
		op[k] = '\0';
		if (k == wlen[i]) {
			/* ">= 18": the operator alone, the version next */
			if (!k || i + 1 == n)
				return -1;
			if (parse_partial(&a, word[i + 1], wlen[i + 1]) < 0)
				return -1;
			i += 2;
		} else {
			if (parse_partial(&a, word[i] + k, wlen[i] - k) < 0)
				return -1;
			i++;
		}
		if (apply(out, op, &a) < 0)
			return -1;
	}
	return 0;
}

/* 1 if the interval holds a release of major line m. */
static int holds_major(const struct interval *in, int m)
{
	struct ver lo = in->lo, hi = in->hi;
	struct ver mlo = ver3(m, 0, 0), mhi = ver3(m + 1L, 0, 0);

	if (cmp(&mlo, &lo) > 0)
		lo = mlo;
	if (cmp(&mhi, &hi) < 0)
		hi = mhi;
	return cmp(&lo, &hi) < 0;
}

/* The request without surrounding blanks: [*s, *s + *len). */
static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/*
 * An nvm alias: 1 and *allowed set when request is one, 0 when it is not,
 * -1 for an lts/ name we do not know.
 */
static int alias(const char *s, size_t len, int major, int *allowed)
{
	static const char *const any[] = { "node", "latest", "current",
					   "stable", "system" };

	for (size_t i = 0; i < sizeof(any) / sizeof(*any); i++)
		if (len == strlen(any[i]) && !strncasecmp(s, any[i], len)) {
			*allowed = 1;
			return 1;
		}
	if (len < 4 || strncasecmp(s, "lts/", 4))
		return 0;
	s += 4;
	len -= 4;
	if (len == 1 && *s == '*') {
		*allowed = major % 2 == 0;
		return 1;
	}
	for (size_t i = 0; i < sizeof(lts_names) / sizeof(*lts_names); i++)
		if (len == strlen(lts_names[i].name) &&
		    !strncasecmp(s, lts_names[i].name, len)) {
			*allowed = major == lts_names[i].major;
			return 1;
		}
	return -1;
}

int wl_node_version_allows(const char *request, int major)
{
	const char *s = request;
	size_t len = strlen(request);
	int allowed = 0, found = 0, a;

	if (len > WL_NODE_VERSION_MAX)
		return bad(request, "too long");
	for (size_t i = 0; i < len; i++)
		if (iscntrl((unsigned char)s[i]) &&
		    !isspace((unsigned char)s[i]))
			return bad(request, "control characters");
	trim(&s, &len);
	if ((a = alias(s, len, major, &allowed)) != 0)
		return a < 0 ? bad(request, "unknown lts/ name") : allowed;
	for (;;) {
		const char *bar = NULL;
		struct interval in;
		size_t n;

		for (size_t i = 0; i + 1 < len; i++)
			if (s[i] == '|' && s[i + 1] == '|') {
				bar = s + i;
				break;
			}
		/* An empty set ("|| 20") is "*", as in npm. */
		n = bar ? (size_t)(bar - s) : len;
		if (parse_set(&in, s, n) < 0)
			return bad(request, "cannot parse it");
		if (holds_major(&in, major))
			found = 1;
		if (!bar)
			break;
		s = bar + 2;
		len -= n + 2;
	}
	return found;
}

int wl_node_version_check(const char *request)
{
	int r = wl_node_version_allows(request, 0);

	return r < 0 ? r : 0;
}
