/*
 * Spec validation (specs/validate.c) and the id checks next to it. The
 * first byte picks what the rest is: bit 0 is allow_local, bits 1-3 the
 * check:
 *   0, 1  a YAML spec document, decoded, then wl_validate_worklet
 *   2     a git URL          3  a branch name     4  a worklet id
 *   5     a prompt id        6  a prompts/ file name
 * Checked: a valid spec's fields pass their own checks one by one.
 */
#include <stdlib.h>
#include <string.h>

#include "specs/codec.h"
#include "specs/prompt.h"
#include "specs/validate.h"
#include "tests/fuzz/fuzz.h"

/*
 * git's "<transport>::<address>" (transport.c): a run of URL scheme
 * characters at the start, then "::". A "::" further on (a path "/a::b")
 * is no transport.
 */
static int is_transport_form(const char *s)
{
	size_t n = 0;

	while (s[n] &&
	       ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		(n && ((s[n] >= '0' && s[n] <= '9') || s[n] == '+' ||
		       s[n] == '.' || s[n] == '-'))))
		n++;
	return s[n] == ':' && s[n + 1] == ':';
}

static void check_spec(const char *doc, size_t len, int allow_local)
{
	struct wl_worklet w;

	if (wl_yaml_decode_spec(&w, doc, len) == 0 &&
	    wl_validate_worklet(&w, allow_local) == 0) {
		FUZZ_CHECK(!w.meta.id || wl_validate_id(w.meta.id) == 0);
		FUZZ_CHECK(!w.spec.git_repo ||
			   wl_validate_git_url(w.spec.git_repo, allow_local) ==
				   0);
		FUZZ_CHECK(!w.spec.branch ||
			   wl_validate_branch(w.spec.branch) == 0);
	}
	wl_worklet_release(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int allow_local, which;
	char *s, out[256];

	if (size < 1)
		return 0;
	allow_local = data[0] & 1;
	which = (data[0] >> 1) & 7;
	if (which <= 1) {
		check_spec((const char *)data + 1, size - 1, allow_local);
		return 0;
	}
	/* The string checks take NUL-terminated strings. */
	if (!(s = malloc(size)))
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (which) {
	case 2:
		if (wl_validate_git_url(s, allow_local) == 0)
			FUZZ_CHECK(s[0] != '-' && !is_transport_form(s));
		break;
	case 3:
		if (wl_validate_branch(s) == 0)
			FUZZ_CHECK(s[0] != '-' && !strstr(s, ".."));
		break;
	case 4:
		if (wl_validate_id(s) == 0)
			FUZZ_CHECK(strlen(s) <= WL_ID_MAX &&
				   strspn(s, "abcdefghijklmnopqrstuvwxyz"
					     "0123456789-") == strlen(s));
		break;
	case 5:
		if (wl_prompt_validate_id(s) == 0)
			FUZZ_CHECK(strlen(s) == WL_PROMPT_ID_LEN);
		break;
	default:
		if (wl_prompt_file_worklet(s, out, sizeof(out)) == 0)
			FUZZ_CHECK(wl_validate_id(out) == 0);
		break;
	}
	free(s);
	return 0;
}
