/*
 * The YAML codec (specs/codec_yaml.c, specs/codec_tree.c): the first byte
 * picks the document kind (spec, status, full), the rest is the document.
 * Every accepted document must survive the encode/decode round trip in
 * both formats (codec_common.h).
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
	switch (data[0] % 3) {
	case 0:
		rc = wl_yaml_decode_spec(&w, doc, size - 1);
		break;
	case 1:
		rc = wl_yaml_decode_status(&w, doc, size - 1);
		break;
	default:
		rc = wl_yaml_decode_full(&w, doc, size - 1);
		break;
	}
	if (rc == 0)
		fuzz_check_roundtrip(&w);
	wl_worklet_release(&w);
	return 0;
}
