/*
 * The JSON codec (specs/codec_json.c, specs/codec_tree.c): the first byte
 * picks the document kind (spec or full), the rest is the document, as a
 * request body or a state file would bring it. Every accepted document
 * must survive the encode/decode round trip in both formats.
 */
#include "specs/codec.h"
#include "tests/fuzz/codec_common.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wl_worklet w;
	const char *doc;
	int rc;

	if (size < 1)
		return 0;
	doc = (const char *)data + 1;
	if (data[0] % 2 == 0)
		rc = wl_json_decode_spec(&w, doc, size - 1);
	else
		rc = wl_json_decode_full(&w, doc, size - 1);
	if (rc == 0)
		fuzz_check_roundtrip(&w);
	wl_worklet_release(&w);
	return 0;
}
