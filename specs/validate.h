#ifndef WL_VALIDATE_H
#define WL_VALIDATE_H

/*
 * Semantic validation of a decoded Worklet spec. Messages name the field
 * first, as the user wrote it:
 *   spec.gitRepo: must be an https URL
 *   metadata.id: must be a DNS label (a-z, 0-9, '-'), at most 63 characters
 * Return 0 or WL_EINVALID with the message set. Thread-safe.
 */

#include "specs/worklet.h"

/* A DNS label of at most WL_ID_MAX characters: [a-z0-9]([a-z0-9-]*[a-z0-9])? */
int wl_validate_id(const char *id);

/*
 * The git URL policy. By default only https://host/path is allowed. With
 * allow_local, also http://, file:// and absolute paths. Always rejected:
 * a leading '-', "ext::" and every other "<transport>::" form, ssh and
 * scp-like "host:path" forms, credentials in the URL (user:pass@), control
 * characters and whitespace.
 */
int wl_validate_git_url(const char *url, int allow_local);

/* A git branch name (git check-ref-format rules, no leading '-'). */
int wl_validate_branch(const char *branch);

/*
 * The whole spec document: metadata (id, name, userId, labels) and spec
 * (gitRepo via wl_validate_git_url, branch, env names [A-Za-z_][A-Za-z0-9_]*
 * and sizes, port 1..65535, resources >= 0, dockerfile and path relative
 * paths without "..", sizes from worklet.h).
 */
int wl_validate_worklet(const struct wl_worklet *w, int allow_local);

#endif
