#ifndef WL_CODEC_TREE_H
#define WL_CODEC_TREE_H

/*
 * Private to the codecs (codec_yaml.c, codec_json.c): a parsed document in
 * a format-independent tree, and the one mapping between that tree and
 * struct wl_worklet. Each codec only translates its library's objects to
 * and from this tree, so the schema (field names, types, limits, error
 * messages) is written once and YAML and JSON cannot drift apart.
 *
 * Not part of the public interface: include codec.h instead.
 * Thread-safe (no shared state).
 */

#include <stddef.h>

#include "specs/worklet.h"

/* Collections nested deeper than this are rejected (the root is level 1). */
#define WL_CODEC_DEPTH_MAX 32

/* Entries of one map or list; the schema's largest list is WL_ENV_MAX. */
#define WL_CODEC_ITEMS_MAX 256

/* Longest field path in a message ("status.conditions[15].message"). */
#define WL_CODEC_PATH_MAX 256

enum wl_codec_kind {
	WL_CODEC_NULL = 0, /* YAML ~/null/empty, JSON null */
	WL_CODEC_SCALAR,
	WL_CODEC_MAP,
	WL_CODEC_SEQ,
};

struct wl_codec_node {
	enum wl_codec_kind kind;
	/*
	 * SCALAR. Decoding: the scalar was quoted (YAML) or a string (JSON),
	 * so it cannot be a number. Encoding: the scalar is a string; 0 means
	 * the text is a number to be written bare.
	 */
	int quoted;
	int line;     /* 1-based source line, 0 when unknown (JSON) */
	int key_line; /* line of the key, for an entry of a MAP */
	char *key;    /* an entry of a MAP: its key (owned) */
	char *text;   /* SCALAR: the text (owned, NUL-terminated) */
	struct wl_codec_node **items; /* MAP, SEQ: entries (owned) */
	size_t count;
};

/* Allocate an empty node; NULL (message set) when out of memory. */
struct wl_codec_node *wl_codec_node_new(enum wl_codec_kind kind, int line);

/* A SCALAR holding a copy of text[0..len). NULL when out of memory. */
struct wl_codec_node *wl_codec_scalar_new(const char *text, size_t len,
					  int quoted, int line);

/* Free a node and everything under it; NULL is allowed. */
void wl_codec_node_free(struct wl_codec_node *n);

/*
 * Append child to parent, which takes ownership of it even on failure.
 * For a MAP, child->key must be set and unique: a duplicate is WL_EINVALID
 * with "<path>.<key>: duplicate key (line N)", where path names parent.
 * More than WL_CODEC_ITEMS_MAX entries is WL_EINVALID too.
 */
int wl_codec_node_append(struct wl_codec_node *parent,
			 struct wl_codec_node *child, const char *path);

/*
 * "parent.key" (or "key" at the root) and "parent[index]" into out, with
 * the key's control and non-ASCII bytes shown as '?' so that a hostile key
 * cannot inject terminal escapes into logs. Truncates safely.
 */
void wl_codec_path_key(char *out, size_t n, const char *parent,
		       const char *key);
void wl_codec_path_index(char *out, size_t n, const char *parent, size_t index);

/*
 * Check raw input before parsing: at most WL_SPEC_FILE_MAX bytes
 * (WL_ETOOBIG), no NUL byte and valid UTF-8 (WL_EINVALID, with the line).
 */
int wl_codec_check_input(const char *data, size_t len);

/* Which document a tree holds (see codec.h). */
enum wl_codec_doc {
	WL_CODEC_DOC_SPEC,
	WL_CODEC_DOC_STATUS,
	WL_CODEC_DOC_FULL,
};

/*
 * Convert a parsed tree into out (initialised here; left empty on error).
 * Messages: "<field path>: <problem>", plus " (line N)" when known.
 */
int wl_codec_tree_decode(struct wl_worklet *out,
			 const struct wl_codec_node *root,
			 enum wl_codec_doc doc);

/*
 * A codec's parser: data[0..len) (NUL-free valid UTF-8, checked) into a
 * tree. *out is owned by the caller; NULL stands for an empty document.
 */
typedef int (*wl_codec_parse_fn)(struct wl_codec_node **out, const char *data,
				 size_t len);

/*
 * Decoding, the same for every codec: check the input
 * (wl_codec_check_input), parse it into a tree with parse, and convert
 * the tree (wl_codec_tree_decode). data may be NULL when len is 0. out is
 * initialised here and left empty on error.
 */
int wl_codec_decode(struct wl_worklet *out, const char *data, size_t len,
		    enum wl_codec_doc doc, wl_codec_parse_fn parse);

/*
 * Build the tree of w (unset fields omitted; invalid UTF-8 in strings
 * replaced by U+FFFD so that any struct can be written). *out is owned by
 * the caller (free with wl_codec_node_free).
 */
int wl_codec_tree_encode(struct wl_codec_node **out, const struct wl_worklet *w,
			 enum wl_codec_doc doc);

#endif
