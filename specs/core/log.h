#ifndef WL_LOG_H
#define WL_LOG_H

/*
 * Logging for the service's own decisions: main, the reconciler and request
 * handlers log; library-like modules (codecs, clients) do not, they set an
 * error and return (systemd's split). Lines go to stderr as
 *   2026-11-24T19:40:00.123Z info  reconcile 'abc': phase building
 * Thread-safe; one write(2) per line so lines never interleave.
 * Never pass a secret (token, key) to these functions.
 */

enum wl_log_level {
	WL_LOG_DEBUG = 0,
	WL_LOG_INFO,
	WL_LOG_WARN,
	WL_LOG_ERROR,
};

/* Lines below this level are dropped; default WL_LOG_INFO. */
void wl_log_set_level(enum wl_log_level level);

/* Parse "debug", "info", "warn", "error"; -1 if unknown. */
int wl_log_level_parse(const char *name);

void wl_log(enum wl_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define wl_debug(...) wl_log(WL_LOG_DEBUG, __VA_ARGS__)
#define wl_info(...) wl_log(WL_LOG_INFO, __VA_ARGS__)
#define wl_warn(...) wl_log(WL_LOG_WARN, __VA_ARGS__)
#define wl_err(...) wl_log(WL_LOG_ERROR, __VA_ARGS__)

#endif
