#ifndef WL_TIMEUTIL_H
#define WL_TIMEUTIL_H

/* Wall-clock and monotonic time helpers. All thread-safe. */

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch (wall clock). */
int64_t wl_time_now_ms(void);

/* Milliseconds from an arbitrary origin (monotonic; for timeouts). */
int64_t wl_time_mono_ms(void);

/* Format as RFC 3339 UTC with seconds: "2026-11-24T19:40:00Z". */
void wl_time_format(char *out, size_t n, int64_t epoch_ms);

/* Same with milliseconds: "2026-11-24T19:40:00.123Z" (log lines). */
void wl_time_format_ms(char *out, size_t n, int64_t epoch_ms);

/*
 * Parse RFC 3339 ("2026-11-24T19:40:00Z", fractional seconds and numeric
 * offsets accepted) into epoch milliseconds. Returns 0 or WL_EINVALID.
 */
int wl_time_parse(int64_t *out_ms, const char *s);

#endif
