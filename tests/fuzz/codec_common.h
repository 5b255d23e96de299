#ifndef WL_FUZZ_CODEC_COMMON_H
#define WL_FUZZ_CODEC_COMMON_H

/*
 * The property both codec targets check on every document they accept:
 * encoding is stable through a round trip, encode(decode(encode(w))) ==
 * encode(w), in both formats (codec.h promises decode(encode(w)) == w).
 */

#include <string.h>

#include "specs/codec.h"
#include "specs/core/buf.h"
#include "tests/fuzz/fuzz.h"

static void fuzz_check_roundtrip(const struct wl_worklet *w)
{
	struct wl_buf a, b, j1, j2;
	struct wl_worklet back, jback;

	wl_buf_init(&a, 8 * WL_SPEC_FILE_MAX);
	wl_buf_init(&b, 8 * WL_SPEC_FILE_MAX);
	wl_buf_init(&j1, 8 * WL_SPEC_FILE_MAX);
	wl_buf_init(&j2, 8 * WL_SPEC_FILE_MAX);
	wl_worklet_init(&back);
	wl_worklet_init(&jback);

	/* YAML, full document. */
	FUZZ_CHECK(wl_yaml_encode_full(&a, w) == 0);
	FUZZ_CHECK(wl_json_encode_full(&j1, w) == 0);
	/* Escaping can make a document that was just in bounds too big. */
	if (a.len > WL_SPEC_FILE_MAX || j1.len > WL_SPEC_FILE_MAX)
		goto out;
	FUZZ_CHECK(wl_yaml_decode_full(&back, a.ptr, a.len) == 0);
	FUZZ_CHECK(wl_yaml_encode_full(&b, &back) == 0);
	FUZZ_CHECK(a.len == b.len && !memcmp(a.ptr, b.ptr, a.len));

	/* JSON, full document; it must give the same YAML back. */
	FUZZ_CHECK(wl_json_decode_full(&jback, j1.ptr, j1.len) == 0);
	FUZZ_CHECK(wl_json_encode_full(&j2, &jback) == 0);
	FUZZ_CHECK(j1.len == j2.len && !memcmp(j1.ptr, j2.ptr, j1.len));
	wl_buf_reset(&b);
	FUZZ_CHECK(wl_yaml_encode_full(&b, &jback) == 0);
	FUZZ_CHECK(a.len == b.len && !memcmp(a.ptr, b.ptr, a.len));

out:
	wl_worklet_release(&back);
	wl_worklet_release(&jback);
	wl_buf_release(&a);
	wl_buf_release(&b);
	wl_buf_release(&j1);
	wl_buf_release(&j2);
}

#endif
