#include "specs/core/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specs/core/error.h"
#include "specs/core/banned.h"

void wl_buf_init(struct wl_buf *b, size_t max)
{
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void wl_buf_release(struct wl_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
}

void wl_buf_reset(struct wl_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

static int grow(struct wl_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra) {
		wl_error_set("data exceeds the limit of %zu bytes", b->max);
		return WL_ETOOBIG;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->ptr, cap);
	if (!p) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int wl_buf_add(struct wl_buf *b, const void *data, size_t len)
{
	int error;

	if ((error = grow(b, len)) < 0)
		return error;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int wl_buf_puts(struct wl_buf *b, const char *s)
{
	return wl_buf_add(b, s, strlen(s));
}

int wl_buf_putc(struct wl_buf *b, char c)
{
	return wl_buf_add(b, &c, 1);
}

int wl_buf_vprintf(struct wl_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, error;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0) {
		wl_error_set("cannot format string");
		return WL_ERROR;
	}
	if ((error = grow(b, (size_t)n)) < 0)
		return error;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int wl_buf_printf(struct wl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = wl_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return error;
}

void wl_buf_consume(struct wl_buf *b, size_t n)
{
	if (n >= b->len) {
		wl_buf_reset(b);
		return;
	}
	memmove(b->ptr, b->ptr + n, b->len - n + 1);
	b->len -= n;
}

const char *wl_buf_cstr(const struct wl_buf *b)
{
	return b->ptr ? b->ptr : "";
}

char *wl_buf_detach(struct wl_buf *b, size_t *len)
{
	char *p = b->ptr;

	if (len)
		*len = b->len;
	if (!p)
		p = calloc(1, 1);
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
