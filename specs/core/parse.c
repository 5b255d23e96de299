#include "specs/core/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "specs/core/error.h"
#include "specs/core/banned.h"

int wl_parse_int64(int64_t *out, const char *s, int64_t min, int64_t max)
{
	char *end;
	long long v;

	errno = 0;
	if (!s || !*s || isspace((unsigned char)*s))
		goto invalid;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		goto invalid;
	if (v < min || v > max) {
		wl_error_set("'%s' is out of range (%lld to %lld)", s,
			     (long long)min, (long long)max);
		return WL_EINVALID;
	}
	*out = v;
	return 0;
invalid:
	wl_error_set("'%s' is not an integer", s ? s : "");
	return WL_EINVALID;
}

int wl_parse_size(int64_t *out, const char *s)
{
	static const struct {
		const char *suffix;
		int64_t mult;
	} units[] = {
		{ "Ki", 1LL << 10 },	  { "Mi", 1LL << 20 },
		{ "Gi", 1LL << 30 },	  { "Ti", 1LL << 40 },
		{ "k", 1000LL },	  { "K", 1000LL },
		{ "M", 1000000LL },	  { "G", 1000000000LL },
		{ "T", 1000000000000LL },
	};
	char digits[32];
	size_t n = 0;
	int64_t v, mult = 1;

	if (!s)
		goto invalid;
	while (isdigit((unsigned char)s[n]))
		n++;
	if (n == 0 || n >= sizeof(digits))
		goto invalid;
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (s[n]) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcmp(s + n, units[i].suffix))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			goto invalid;
		mult = units[i].mult;
	}
	if (wl_parse_int64(&v, digits, 0, INT64_MAX) < 0 ||
	    v > INT64_MAX / mult)
		goto invalid;
	*out = v * mult;
	return 0;
invalid:
	wl_error_set("'%s' is not a size (examples: 512Mi, 1Gi, 1048576)",
		     s ? s : "");
	return WL_EINVALID;
}

int wl_parse_cpus(int64_t *out, const char *s)
{
	int64_t whole = 0, frac = 0, scale = 100000000;
	const char *p = s;
	int any = 0;

	if (!s)
		goto invalid;
	while (isdigit((unsigned char)*p)) {
		whole = whole * 10 + (*p++ - '0');
		any = 1;
		if (whole > 1024 * 1000)
			goto invalid;
	}
	if (*p == 'm' && !p[1] && any) {
		if (whole > 1024 * 1000)
			goto invalid;
		*out = whole * 1000000;
		return 0;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			if (scale == 0)
				goto invalid;
			frac += (*p++ - '0') * scale;
			scale /= 10;
			any = 1;
		}
	}
	if (*p || !any || whole > 1024)
		goto invalid;
	*out = whole * 1000000000 + frac;
	return 0;
invalid:
	wl_error_set("'%s' is not a CPU count (examples: 1, 0.5, 250m)",
		     s ? s : "");
	return WL_EINVALID;
}

int wl_parse_bool(int *out, const char *s)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; s && i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	wl_error_set("'%s' is not a boolean (true or false)", s ? s : "");
	return WL_EINVALID;
}
