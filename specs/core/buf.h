#ifndef WL_BUF_H
#define WL_BUF_H

/*
 * A growable byte buffer with a hard maximum, after curl's dynbuf. Every
 * string built from outside data (request bodies, build logs, agent output,
 * proxied headers) goes through one, so no input can make us allocate
 * without bound.
 *
 * The content is always NUL-terminated (the terminator is not counted in
 * len and not counted against max). A buffer that has never grown has
 * ptr == NULL; wl_buf_cstr() still returns "".
 *
 *   struct wl_buf b;
 *   wl_buf_init(&b, 64 * 1024);
 *   if (wl_buf_add(&b, data, n) < 0) ...   // WL_ETOOBIG past the max
 *   use(wl_buf_cstr(&b));
 *   wl_buf_release(&b);
 */

#include <stdarg.h>
#include <stddef.h>

struct wl_buf {
	char *ptr;
	size_t len;
	size_t cap;
	size_t max;
};

/* Fill a caller's struct: empty, growing to at most max bytes. */
void wl_buf_init(struct wl_buf *b, size_t max);

/* Free the contents; the buffer is empty and reusable afterwards. */
void wl_buf_release(struct wl_buf *b);

/* Empty the buffer but keep its memory. */
void wl_buf_reset(struct wl_buf *b);

/*
 * Append. Return 0, or WL_ETOOBIG (nothing appended, message set) when the
 * result would exceed max, or WL_ERROR on allocation failure.
 */
int wl_buf_add(struct wl_buf *b, const void *data, size_t len);
int wl_buf_puts(struct wl_buf *b, const char *s);
int wl_buf_putc(struct wl_buf *b, char c);
int wl_buf_printf(struct wl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int wl_buf_vprintf(struct wl_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Drop the first n bytes (used by ring-like logs that keep the tail). */
void wl_buf_consume(struct wl_buf *b, size_t n);

/* The content as a C string; never NULL. Valid until the next change. */
const char *wl_buf_cstr(const struct wl_buf *b);

/*
 * Hand the content to the caller (malloc'd, NUL-terminated, never NULL
 * unless out of memory) and leave the buffer empty.
 */
char *wl_buf_detach(struct wl_buf *b, size_t *len);

#endif
