#include "specs/core/error.h"

#include <stdio.h>
#include <string.h>

#include "specs/core/banned.h"

/*
 * A message is one line, except a failed build's, which quotes up to 1600
 * bytes of the step's output; longer ones are truncated.
 */
static _Thread_local char last_message[4096];

void wl_error_vset(const char *fmt, va_list ap)
{
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
}

void wl_error_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wl_error_vset(fmt, ap);
	va_end(ap);
}

void wl_error_prefix(const char *fmt, ...)
{
	char prefix[512];
	char old[sizeof(last_message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, last_message, sizeof(old));
	if (old[0])
		snprintf(last_message, sizeof(last_message), "%s: %s", prefix,
			 old);
	else
		snprintf(last_message, sizeof(last_message), "%s", prefix);
}

const char *wl_error_last(void)
{
	return last_message;
}

void wl_error_clear(void)
{
	last_message[0] = '\0';
}
