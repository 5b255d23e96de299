#include "specs/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "specs/core/timeutil.h"
#include "specs/core/banned.h"

static int min_level = WL_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void wl_log_set_level(enum wl_log_level level)
{
	min_level = (int)level;
}

int wl_log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++)
		if (!strcmp(name, level_names[i]))
			return (int)i;
	return -1;
}

void wl_log(enum wl_log_level level, const char *fmt, ...)
{
	char line[4096], ts[40];
	va_list ap;
	int n, m;

	if ((int)level < min_level)
		return;
	wl_time_format_ms(ts, sizeof(ts), wl_time_now_ms());
	n = snprintf(line, sizeof(line), "%s %-5s ", ts, level_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* One line per record: a message never smuggles in a fake line. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
