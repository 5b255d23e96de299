/*
 * The YAML codec: libyaml's event parser builds the private tree of
 * codec_tree.h, whose schema code makes the struct; encoding goes the other
 * way through libyaml's emitter. libyaml objects never leave this file.
 */
#include "specs/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "specs/codec_tree.h"
#include "specs/core/error.h"
#include "specs/core/banned.h"

/* ---- parsing ------------------------------------------------------------ */

struct builder {
	struct wl_codec_node *root;
	/* The open collections, outermost first. */
	struct wl_codec_node *stack[WL_CODEC_DEPTH_MAX];
	/* For an open map: the key read, waiting for its value (owned). */
	char *pending[WL_CODEC_DEPTH_MAX];
	int pending_line[WL_CODEC_DEPTH_MAX];
	size_t depth;
};

/*
 * The path of the open collection ("" at the root), plus with_key the key
 * waiting for its value, if any.
 */
static void where(const struct builder *b, char *out, size_t n, int with_key)
{
	char tmp[WL_CODEC_PATH_MAX];

	out[0] = '\0';
	for (size_t i = 1; i < b->depth; i++) {
		const struct wl_codec_node *parent = b->stack[i - 1];

		snprintf(tmp, sizeof(tmp), "%s", out);
		if (parent->kind == WL_CODEC_MAP)
			wl_codec_path_key(out, n, tmp, b->stack[i]->key);
		else
			wl_codec_path_index(out, n, tmp, parent->count - 1);
	}
	if (with_key && b->depth && b->pending[b->depth - 1]) {
		snprintf(tmp, sizeof(tmp), "%s", out);
		wl_codec_path_key(out, n, tmp, b->pending[b->depth - 1]);
	}
}

__attribute__((format(printf, 3, 4))) static int
fail(const struct builder *b, int line, const char *fmt, ...)
{
	char path[WL_CODEC_PATH_MAX], msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	where(b, path, sizeof(path), 1);
	wl_error_set("%s: %s (line %d)", path[0] ? path : "document", msg,
		     line);
	return WL_EINVALID;
}

static int is_null_text(const char *s, size_t len)
{
	static const char *const names[] = { "", "~", "null", "Null", "NULL" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !memcmp(names[i], s, len))
			return 1;
	return 0;
}

/* Anchors, aliases and tags are refused: they are how YAML bombs work. */
static int check_props(const struct builder *b, int line,
		       const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor)
		return fail(b, line, "anchors and aliases are not allowed");
	if (tag)
		return fail(b, line, "tags are not allowed");
	return 0;
}

/* Put a new value node under the open collection (or make it the root). */
static int attach(struct builder *b, struct wl_codec_node *node)
{
	char path[WL_CODEC_PATH_MAX];
	struct wl_codec_node *top;
	size_t d = b->depth;

	if (!d) {
		b->root = node;
		return 0;
	}
	top = b->stack[d - 1];
	where(b, path, sizeof(path), 0);
	if (top->kind == WL_CODEC_MAP) {
		node->key = b->pending[d - 1];
		node->key_line = b->pending_line[d - 1];
		b->pending[d - 1] = NULL;
	}
	return wl_codec_node_append(top, node, path);
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length, d = b->depth;
	int line = (int)ev->start_mark.line + 1, error;
	int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	struct wl_codec_node *node;

	if ((error = check_props(b, line, ev->data.scalar.anchor,
				 ev->data.scalar.tag)) < 0)
		return error;
	if (memchr(value, '\0', len))
		return fail(b, line, "must not contain NUL characters");
	if (d && b->stack[d - 1]->kind == WL_CODEC_MAP && !b->pending[d - 1]) {
		if (!(b->pending[d - 1] = strndup(value, len))) {
			wl_error_set("out of memory");
			return WL_ERROR;
		}
		b->pending_line[d - 1] = line;
		return 0;
	}
	if (plain && is_null_text(value, len))
		node = wl_codec_node_new(WL_CODEC_NULL, line);
	else
		node = wl_codec_scalar_new(value, len, !plain, line);
	if (!node)
		return WL_ERROR;
	return attach(b, node);
}

static int on_start(struct builder *b, const yaml_event_t *ev,
		    enum wl_codec_kind kind)
{
	const yaml_char_t *anchor, *tag;
	int line = (int)ev->start_mark.line + 1, error;
	size_t d = b->depth;
	struct wl_codec_node *node;

	if (kind == WL_CODEC_MAP) {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	} else {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	}
	if ((error = check_props(b, line, anchor, tag)) < 0)
		return error;
	if (d && b->stack[d - 1]->kind == WL_CODEC_MAP && !b->pending[d - 1])
		return fail(b, line, "keys must be strings");
	if (d >= WL_CODEC_DEPTH_MAX)
		return fail(b, line, "nesting deeper than %d levels",
			    WL_CODEC_DEPTH_MAX);
	if (!(node = wl_codec_node_new(kind, line)))
		return WL_ERROR;
	if ((error = attach(b, node)) < 0)
		return error;
	b->stack[d] = node;
	b->pending[d] = NULL;
	b->depth++;
	return 0;
}

/* The line of a byte offset, for the reader's errors. */
static int line_of(const char *data, size_t len, size_t offset)
{
	int line = 1;

	for (size_t i = 0; i < offset && i < len; i++)
		line += data[i] == '\n';
	return line;
}

static int syntax_error(const yaml_parser_t *p, const char *data, size_t len)
{
	if (p->error == YAML_MEMORY_ERROR) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	if (p->error == YAML_READER_ERROR) {
		wl_error_set("invalid YAML: %s (line %d)",
			     p->problem ? p->problem : "unreadable input",
			     line_of(data, len, p->problem_offset));
		return WL_EINVALID;
	}
	wl_error_set("invalid YAML: %s%s%s (line %d, column %d)",
		     p->problem ? p->problem : "syntax error",
		     p->context ? " " : "", p->context ? p->context : "",
		     (int)p->problem_mark.line + 1,
		     (int)p->problem_mark.column + 1);
	return WL_EINVALID;
}

static int parse_tree(struct wl_codec_node **out, const char *data, size_t len)
{
	struct builder b;
	yaml_parser_t parser;
	yaml_event_t ev;
	int error = 0, done = 0, docs = 0;

	memset(&b, 0, sizeof(b));
	*out = NULL;
	if (!yaml_parser_initialize(&parser)) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done && !error) {
		if (!yaml_parser_parse(&parser, &ev)) {
			error = syntax_error(&parser, data, len);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (docs++) {
				wl_error_set("only one document is allowed, "
					     "found another (line %d)",
					     (int)ev.start_mark.line + 1);
				error = WL_EINVALID;
			}
			break;
		case YAML_ALIAS_EVENT:
			error = fail(&b, (int)ev.start_mark.line + 1,
				     "anchors and aliases are not allowed");
			break;
		case YAML_SCALAR_EVENT:
			error = on_scalar(&b, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			error = on_start(&b, &ev, WL_CODEC_SEQ);
			break;
		case YAML_MAPPING_START_EVENT:
			error = on_start(&b, &ev, WL_CODEC_MAP);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			b.depth--;
			free(b.pending[b.depth]);
			b.pending[b.depth] = NULL;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	for (size_t i = 0; i < b.depth; i++)
		free(b.pending[i]);
	if (error) {
		wl_codec_node_free(b.root);
		return error;
	}
	*out = b.root;
	return 0;
}

int wl_yaml_decode_spec(struct wl_worklet *out, const char *data, size_t len)
{
	return wl_codec_decode(out, data, len, WL_CODEC_DOC_SPEC, parse_tree);
}

int wl_yaml_decode_status(struct wl_worklet *out, const char *data, size_t len)
{
	return wl_codec_decode(out, data, len, WL_CODEC_DOC_STATUS, parse_tree);
}

int wl_yaml_decode_full(struct wl_worklet *out, const char *data, size_t len)
{
	return wl_codec_decode(out, data, len, WL_CODEC_DOC_FULL, parse_tree);
}

/* ---- emitting ------------------------------------------------------------ */

struct sink {
	struct wl_buf *buf;
	size_t written;
	int error;
};

/* What we write must be readable again: the decoder's limit applies. */
static int write_cb(void *data, unsigned char *bytes, size_t size)
{
	struct sink *s = data;
	int error;

	if (size > WL_SPEC_FILE_MAX - s->written) {
		wl_error_set("document is larger than %d bytes",
			     WL_SPEC_FILE_MAX);
		s->error = WL_ETOOBIG;
		return 0;
	}
	if ((error = wl_buf_add(s->buf, bytes, size)) < 0) {
		s->error = error;
		return 0;
	}
	s->written += size;
	return 1;
}

/*
 * Plain only when every YAML reader takes the text as this same string:
 * it starts with a letter, '_' or '/' (so it is not a number, a date or an
 * indicator), uses a conservative character set, has no ": " or " #", and
 * is not one of YAML 1.1's booleans or null.
 */
static int plain_ok(const char *s)
{
	static const char *const words[] = { "y",    "n",     "yes",
					     "no",   "on",    "off",
					     "true", "false", "null" };
	size_t len = strlen(s);

	if (!len || !(((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z') || *s == '_' ||
		      *s == '/'))
		return 0;
	if (s[len - 1] == ' ' || s[len - 1] == ':')
		return 0;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("_./@+=,()~-", c))
			continue;
		if (c == ' ' && p[1] != ' ')
			continue;
		if (c == ':' && p[1] != ' ')
			continue;
		return 0;
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return 0;
	return 1;
}

/*
 * A literal block for multi-line text, unless it holds line breaks other
 * than '\n' (a reader would normalise "\r\n"); libyaml itself falls back
 * to double quotes when a block cannot hold the text (tabs, trailing
 * spaces).
 */
static int literal_ok(const char *s)
{
	if (!strchr(s, '\n') || strchr(s, '\r'))
		return 0;
	/* NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR. */
	return !strstr(s, "\xc2\x85") && !strstr(s, "\xe2\x80\xa8") &&
	       !strstr(s, "\xe2\x80\xa9");
}

static yaml_scalar_style_t string_style(const char *s)
{
	if (literal_ok(s))
		return YAML_LITERAL_SCALAR_STYLE;
	if (plain_ok(s))
		return YAML_PLAIN_SCALAR_STYLE;
	return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
}

static int emit_event(yaml_emitter_t *e, yaml_event_t *ev, int ok)
{
	/* yaml_emitter_emit owns the event from here on, even on failure. */
	if (!ok || !yaml_emitter_emit(e, ev))
		return -1;
	return 0;
}

static int emit_scalar(yaml_emitter_t *e, const char *text, int is_string)
{
	yaml_event_t ev;
	yaml_scalar_style_t style =
		is_string ? string_style(text) : YAML_PLAIN_SCALAR_STYLE;

	return emit_event(e, &ev,
			  yaml_scalar_event_initialize(
				  &ev, NULL, NULL, (yaml_char_t *)text,
				  (int)strlen(text), 1, 1, style));
}

static int emit_node(yaml_emitter_t *e, const struct wl_codec_node *n)
{
	yaml_event_t ev;
	int ok;

	switch (n->kind) {
	case WL_CODEC_NULL:
		return emit_scalar(e, "~", 0);
	case WL_CODEC_SCALAR:
		return emit_scalar(e, n->text, n->quoted);
	case WL_CODEC_MAP:
		ok = yaml_mapping_start_event_initialize(
			&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if (emit_event(e, &ev, ok) < 0)
			return -1;
		for (size_t i = 0; i < n->count; i++)
			if (emit_scalar(e, n->items[i]->key, 1) < 0 ||
			    emit_node(e, n->items[i]) < 0)
				return -1;
		return emit_event(e, &ev,
				  yaml_mapping_end_event_initialize(&ev));
	case WL_CODEC_SEQ:
		ok = yaml_sequence_start_event_initialize(
			&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (emit_event(e, &ev, ok) < 0)
			return -1;
		for (size_t i = 0; i < n->count; i++)
			if (emit_node(e, n->items[i]) < 0)
				return -1;
		return emit_event(e, &ev,
				  yaml_sequence_end_event_initialize(&ev));
	}
	return -1;
}

static int emit_tree(struct wl_buf *out, const struct wl_codec_node *root)
{
	struct sink sink = { out, 0, 0 };
	yaml_emitter_t e;
	yaml_event_t ev;
	int error = 0;

	if (!yaml_emitter_initialize(&e)) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	yaml_emitter_set_output(&e, write_cb, &sink);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1); /* never fold long lines */
	yaml_emitter_set_indent(&e, 2);
	yaml_emitter_set_break(&e, YAML_LN_BREAK);
	if (emit_event(&e, &ev,
		       yaml_stream_start_event_initialize(
			       &ev, YAML_UTF8_ENCODING)) < 0 ||
	    emit_event(&e, &ev,
		       yaml_document_start_event_initialize(&ev, NULL, NULL,
							    NULL, 1)) < 0 ||
	    emit_node(&e, root) < 0 ||
	    emit_event(&e, &ev, yaml_document_end_event_initialize(&ev, 1)) <
		    0 ||
	    emit_event(&e, &ev, yaml_stream_end_event_initialize(&ev)) < 0 ||
	    !yaml_emitter_flush(&e)) {
		if (sink.error) {
			error = sink.error;
		} else {
			wl_error_set("cannot write YAML: %s",
				     e.problem ? e.problem : "out of memory");
			error = WL_ERROR;
		}
	}
	yaml_emitter_delete(&e);
	return error;
}

static int encode(struct wl_buf *out, const struct wl_worklet *w,
		  enum wl_codec_doc doc)
{
	struct wl_codec_node *root = NULL;
	size_t start = out->len;
	int error;

	if ((error = wl_codec_tree_encode(&root, w, doc)) < 0)
		return error;
	error = emit_tree(out, root);
	wl_codec_node_free(root);
	if (error == WL_ETOOBIG)
		wl_error_prefix("worklet '%s'", w->meta.id ? w->meta.id : "");
	if (error < 0 && out->ptr) {
		out->len = start;
		out->ptr[start] = '\0';
	}
	return error;
}

int wl_yaml_encode_spec(struct wl_buf *out, const struct wl_worklet *w)
{
	return encode(out, w, WL_CODEC_DOC_SPEC);
}

int wl_yaml_encode_status(struct wl_buf *out, const struct wl_worklet *w)
{
	return encode(out, w, WL_CODEC_DOC_STATUS);
}

int wl_yaml_encode_full(struct wl_buf *out, const struct wl_worklet *w)
{
	return encode(out, w, WL_CODEC_DOC_FULL);
}
