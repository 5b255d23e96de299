#ifndef WL_CODEC_H
#define WL_CODEC_H

/*
 * YAML (libyaml) and JSON (cJSON) codecs of the Worklet resource, in its
 * Kubernetes shape (camelCase keys, see specs/worklet-schema.md). libyaml
 * and cJSON objects never leave the codec: callers see struct wl_worklet.
 *
 * Round trip is exact: decode(encode(w)) == w for every representable w.
 * Decoders reject unknown fields by name ("spec.gitRep: unknown field"),
 * wrong types ("spec.containerPort: must be an integer"), duplicate keys,
 * inputs over WL_SPEC_FILE_MAX, nesting deeper than 32, YAML anchors and
 * aliases, and multi-document YAML. On error they return WL_EINVALID (or
 * WL_ETOOBIG) with the message set, and *out is left empty (initialised).
 * Decoders do not validate semantics (wl_validate_* does that).
 *
 * Documents:
 *  - a spec document: apiVersion, kind: Worklet, metadata, spec. A
 *    "status" key in a spec document is accepted and ignored (so the
 *    output of `get -o yaml` can be applied again).
 *  - a status document: apiVersion, kind: WorkletStatus, metadata (id and
 *    generation only), status.
 *  - a full document: apiVersion, kind: Worklet, metadata, spec, status.
 * Thread-safe (no shared state).
 */

#include <stddef.h>

#include "specs/core/buf.h"
#include "specs/worklet.h"

int wl_yaml_decode_spec(struct wl_worklet *out, const char *data, size_t len);
int wl_yaml_encode_spec(struct wl_buf *out, const struct wl_worklet *w);

/* Fills out->status and out->meta.id / meta.generation. */
int wl_yaml_decode_status(struct wl_worklet *out, const char *data, size_t len);
int wl_yaml_encode_status(struct wl_buf *out, const struct wl_worklet *w);

int wl_yaml_decode_full(struct wl_worklet *out, const char *data, size_t len);
int wl_yaml_encode_full(struct wl_buf *out, const struct wl_worklet *w);

/* JSON: the same shapes, same names. */
int wl_json_decode_spec(struct wl_worklet *out, const char *data, size_t len);
int wl_json_encode_full(struct wl_buf *out, const struct wl_worklet *w);
int wl_json_decode_full(struct wl_worklet *out, const char *data, size_t len);

#endif
