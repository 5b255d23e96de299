#include "specs/core/hash.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "specs/core/banned.h"

static const char hexdigits[] = "0123456789abcdef";

static void to_hex(char *out, const unsigned char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void wl_sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	to_hex(out, md, sizeof(md));
}

static void fill_random(unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			abort();
		p += got;
		n -= (size_t)got;
	}
}

void wl_random_hex(char *out, size_t nbytes)
{
	unsigned char raw[64];

	while (nbytes > 0) {
		size_t n = nbytes < sizeof(raw) ? nbytes : sizeof(raw);

		fill_random(raw, n);
		to_hex(out, raw, n);
		out += 2 * n;
		nbytes -= n;
	}
}

void wl_uuid_v4(char out[37])
{
	unsigned char b[16];

	fill_random(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}
