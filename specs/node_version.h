#ifndef WL_NODE_VERSION_H
#define WL_NODE_VERSION_H

/*
 * Node.js version requests, as projects write them, matched against the
 * major versions there are images for.
 *
 * A request is an npm semver range (package.json's engines.node,
 * spec.runtimeVersion): "22", "v20.11.1", "^20.19.0", "~22.1", ">=18 <23",
 * "20.x || 22.x", "18 - 20", "*"; or one of the aliases of the version
 * files (.nvmrc, .node-version): "node", "latest", "current", "stable"
 * (any version), "lts/" followed by a star (a long-term-support line: an
 * even major), "lts/<codename>" ("lts/iron" is 20, "lts/jod" 22, ...).
 *
 * Images hold one release per major line (its newest, normally), so a
 * request is matched per line: major M satisfies it when some release
 * M.x.y does ("^20.19.0" and "20.11.1" pick 20). Pre-release and build
 * suffixes are accepted and ignored.
 *
 * Pure, thread-safe.
 */

#define WL_NODE_VERSION_MAX 256 /* longest request accepted */

/*
 * 1 if some release of major line `major` satisfies request, 0 if none;
 * WL_EINVALID (message set: what is wrong, without naming the field) if
 * request is not a version range.
 */
int wl_node_version_allows(const char *request, int major);

/* 0 if request parses, else WL_EINVALID with a message. */
int wl_node_version_check(const char *request);

#endif
