#ifndef WL_ASSET_ORIGIN_H
#define WL_ASSET_ORIGIN_H

/*
 * Builds that load their assets from somewhere else. A repository made to
 * be published on a CDN or under a sub-path (GitHub Pages) says so in its
 * build settings: Vite's `base`, Next.js's `assetPrefix`, Create React
 * App's `homepage`. Built for a preview served at the root of its own
 * origin, such an app loads the published site's scripts and styles, or
 * none at all, and nothing says why. This finds such a setting (literal
 * strings only: a computed value is the author's business).
 *
 * Pure (reads files of the checkout only), thread-safe.
 */

#include <stddef.h>

/*
 * Look at the app in dir. 1 with a message for the user in msg (n bytes)
 * naming the file and the setting and what it does; 0 when none is found.
 */
int wl_asset_origin_check(const char *dir, char *msg, size_t n);

#endif
