#ifndef WL_ERROR_H
#define WL_ERROR_H

/*
 * Error reporting, libgit2 style: a function that fails sets a human
 * message once, where the failure is found, and returns a negative code;
 * callers pass the code up unchanged and whoever decides to log or answer
 * reads wl_error_last(). The message is thread-local, so each worker thread
 * has its own.
 *
 * Messages say what failed first, lower case, subject quoted:
 *   cannot clone 'https://…': authentication required
 */

#include <stdarg.h>

enum wl_error_code {
	WL_OK = 0,
	WL_ERROR = -1,	   /* generic failure */
	WL_ENOTFOUND = -2, /* the thing does not exist */
	WL_EINVALID = -3,  /* bad input: the message names the field */
	WL_ETOOBIG = -4,   /* a size limit was exceeded */
	WL_EEXISTS = -5,   /* already exists */
	WL_ECONFLICT = -6, /* state does not allow this now */
	WL_ECANCELED = -7, /* the job was cancelled */
	WL_ETIMEOUT = -8,  /* a deadline passed */
	WL_EUNAVAIL = -9,  /* a dependency (Docker, network) is unreachable */
	WL_ENOSPACE =
		-10, /* the disk (or quota) is full: nothing was written */
	WL_EUNSUPPORTED = -11, /* a requirement this service cannot meet
				  (a runtime version it has no image for) */
};

/* Set the calling thread's error message; returns nothing. */
void wl_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void wl_error_vset(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));

/*
 * Prefix the current message: "<prefix>: <old message>". Used when a caller
 * adds the context the callee did not know (which worklet, which file).
 */
void wl_error_prefix(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* The calling thread's last message; never NULL ("" when none). */
const char *wl_error_last(void);

/* Forget the calling thread's message. */
void wl_error_clear(void);

#endif
