#ifndef WL_QUERY_H
#define WL_QUERY_H

/*
 * Query-string parameters of API requests: "a=1&b=2", no '?'. Values are
 * taken as they are (ours are ids, integers and flags: nothing to
 * percent-decode).
 */

#include <stddef.h>

/*
 * The value of the first parameter called name, copied to out (n bytes,
 * NUL-terminated). 1 when found, 0 when absent, -1 when its value does not
 * fit (out is then ""): a cut value must not be read as a shorter one.
 */
int wl_query_param(const char *query, const char *name, char *out, size_t n);

/*
 * Percent-decode s in place ("%2F" -> "/", '+' stays '+'). 0, or -1 when an
 * escape is malformed or decodes to a control character (s is then
 * unspecified).
 */
int wl_query_decode(char *s);

#endif
