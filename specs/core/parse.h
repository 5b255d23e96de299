#ifndef WL_PARSE_H
#define WL_PARSE_H

/*
 * Strict number parsers for configuration and manifests: the whole string
 * must be consumed, no sign surprises, no overflow. Return 0 or
 * WL_EINVALID with a message quoting the input. Thread-safe.
 */

#include <stdint.h>

/* Decimal integer in [min, max]. */
int wl_parse_int64(int64_t *out, const char *s, int64_t min, int64_t max);

/*
 * A byte size: "1048576", "512Mi", "1Gi", "64Ki", "500M", "2G", "10k".
 * Binary (Ki, Mi, Gi, Ti) and decimal (k, K, M, G, T) suffixes.
 */
int wl_parse_size(int64_t *out, const char *s);

/*
 * A CPU count as nano-CPUs: "1" -> 1000000000, "0.5" -> 500000000,
 * "250m" (millicores) -> 250000000. At most 9 decimals, at most 1024 CPUs.
 */
int wl_parse_cpus(int64_t *out, const char *s);

/* "true/false/yes/no/on/off/1/0" (case-insensitive). */
int wl_parse_bool(int *out, const char *s);

#endif
