/*
 * The agent runner's reading of the Claude Code CLI's stdout
 * (controller/agent.c): the input is the whole stream-json output, split
 * into lines as the runner splits it; each goes through
 * wl_agent_parse_event and wl_agent_take_result. Checked: a parsed event
 * is an object; the result taken is the last result event's, and its
 * strings are the event's own.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "controller/agent.h"
#include "tests/fuzz/fuzz.h"

static void check_taken(const struct wl_agent_result *res, const cJSON *ev)
{
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(ev, "result");
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(ev, "session_id");

	if (cJSON_IsString(text) && text->valuestring)
		FUZZ_CHECK(res->text && !strcmp(res->text, text->valuestring));
	else
		FUZZ_CHECK(res->text == NULL);
	if (cJSON_IsString(sid) && sid->valuestring)
		FUZZ_CHECK(res->session_id &&
			   !strcmp(res->session_id, sid->valuestring));
	else
		FUZZ_CHECK(res->session_id == NULL);
	FUZZ_CHECK(res->is_error == 0 || res->is_error == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *end = s + size;
	struct wl_agent_result res;

	memset(&res, 0, sizeof(res));
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		char *line = malloc(len + 1);
		cJSON *ev;

		if (!line)
			break;
		/* The runner's lines are NUL-terminated (a wl_buf). */
		memcpy(line, s, len);
		line[len] = '\0';
		if ((ev = wl_agent_parse_event(line, len))) {
			FUZZ_CHECK(cJSON_IsObject(ev));
			if (wl_agent_take_result(&res, ev))
				check_taken(&res, ev);
			cJSON_Delete(ev);
		}
		free(line);
		s += (nl ? (size_t)(nl - s) + 1 : (size_t)(end - s));
	}
	wl_agent_result_release(&res);
	return 0;
}
