/*
 * Docker's multiplexed log stream decoder (controller/docker_client.c,
 * wl_docker_log_decode). The first byte seeds the piece sizes the stream
 * is cut into (Docker's chunks split frames anywhere); the rest is the
 * stream. Checked against a simple reference decoder here: the same
 * output and the same verdict whatever the cutting.
 */
#include <string.h>

#include "controller/docker_client.h"
#include "specs/core/buf.h"
#include "tests/fuzz/fuzz.h"

#define OUT_MAX (1024 * 1024)

/* The whole stream at once: 0, or -1 at a bad header (out has what came
   before it). An incomplete last frame or header is not an error. */
static int reference(const unsigned char *s, size_t len, struct wl_buf *out)
{
	size_t i = 0;

	while (len - i >= 8) {
		size_t n = (size_t)s[i + 4] << 24 | (size_t)s[i + 5] << 16 |
			   (size_t)s[i + 6] << 8 | (size_t)s[i + 7];

		if (s[i] > 3 || s[i + 1] || s[i + 2] || s[i + 3])
			return -1;
		i += 8;
		if (n > len - i)
			n = len - i;
		FUZZ_CHECK(wl_buf_add(out, s + i, n) == 0);
		i += n;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wl_docker_log_decoder dec;
	struct wl_buf got, want;
	unsigned seed;
	size_t off = 0;
	int rc = 0, want_rc;

	if (size < 1 || size > OUT_MAX)
		return 0;
	seed = data[0];
	data++;
	size--;
	wl_buf_init(&got, OUT_MAX);
	wl_buf_init(&want, OUT_MAX);
	want_rc = reference(data, size, &want);
	wl_docker_log_decoder_init(&dec);
	while (off < size && rc == 0) {
		size_t piece;

		seed = seed * 1103515245u + 12345u;
		piece = (seed >> 16) % 23 + 1;
		if (piece > size - off)
			piece = size - off;
		rc = wl_docker_log_decode(&dec, (const char *)data + off, piece,
					  &got);
		off += piece;
	}
	FUZZ_CHECK((rc < 0) == (want_rc < 0));
	FUZZ_CHECK(got.len == want.len);
	FUZZ_CHECK(!got.len || !memcmp(got.ptr, want.ptr, got.len));
	/* An error sticks. */
	if (rc < 0)
		FUZZ_CHECK(wl_docker_log_decode(&dec, "x", 1, &got) < 0);
	wl_buf_release(&got);
	wl_buf_release(&want);
	return 0;
}
