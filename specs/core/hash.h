#ifndef WL_HASH_H
#define WL_HASH_H

/* Hashing and randomness. All thread-safe. */

#include <stddef.h>

/* SHA-256 of data as 64 lower-case hex digits plus NUL. */
void wl_sha256_hex(char out[65], const void *data, size_t len);

/*
 * nbytes random bytes from the kernel, as 2*nbytes hex digits plus NUL
 * (out must hold 2*nbytes+1). Aborts if the kernel has no randomness,
 * which on Linux >= 3.17 cannot happen after boot.
 */
void wl_random_hex(char *out, size_t nbytes);

/* A random RFC 4122 version-4 UUID, 36 characters plus NUL. */
void wl_uuid_v4(char out[37]);

#endif
