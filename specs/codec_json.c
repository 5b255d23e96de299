/*
 * The JSON codec: cJSON parses and prints; the private tree of
 * codec_tree.h carries the schema, so JSON and YAML accept and produce the
 * same fields with the same messages. cJSON objects never leave this file.
 *
 * Threads: cJSON_Parse*() also stores the position of a parse error in a
 * global that cJSON_GetErrorPtr() reads. We never read it (the position
 * comes from cJSON_ParseWithLengthOpts' out-parameter), so concurrent
 * decoders only race on that unused write; everything else is per call.
 */
#include "specs/codec.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specs/codec_tree.h"
#include "specs/core/error.h"
#include "specs/core/banned.h"

/*
 * Integers from 2^53 on may have been rounded on their way through a
 * double (2^53 + 1 arrives as 2^53), so only smaller ones are exact.
 */
#define EXACT_MAX 9007199254740991.0

static int oom(void)
{
	wl_error_set("out of memory");
	return WL_ERROR;
}

/*
 * A number as text for the schema code, which reads plain decimals only:
 * integers up to 2^53 exactly, others in their shortest round-trip form
 * with a negative exponent written out ("1e-09" becomes "0.000000001").
 */
static void number_text(char *out, size_t n, double v)
{
	char tmp[40], digits[40], *e, *p;
	/* out must hold 96 bytes for the longest expansion. */
	size_t nd = 0, intd = 0;
	long exp10;
	long point;
	int seen_point = 0;

	if (v >= -EXACT_MAX && v <= EXACT_MAX && (double)(long long)v == v) {
		snprintf(out, n, "%lld", (long long)v);
		return;
	}
	if (v < -EXACT_MAX || v > EXACT_MAX) {
		/* Maybe rounded: keep an exponent so no integer field takes it.
		 */
		snprintf(out, n, "%.17e", v);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.15g", v);
	if (strtod(tmp, NULL) != v)
		snprintf(tmp, sizeof(tmp), "%.17g", v);
	e = strchr(tmp, 'e');
	exp10 = e ? strtol(e + 1, NULL, 10) : 0;
	if (!e || exp10 > 0 || exp10 < -40) {
		/*
		 * Large values keep their exponent: beyond 2^53 a double may
		 * have rounded the integer the sender wrote, so the schema
		 * code must refuse them rather than take a different number.
		 */
		snprintf(out, n, "%s", tmp);
		return;
	}
	*e = '\0';
	for (p = tmp[0] == '-' ? tmp + 1 : tmp; *p; p++) {
		if (*p == '.') {
			seen_point = 1;
			continue;
		}
		digits[nd++] = *p;
		if (!seen_point)
			intd++;
	}
	point = (long)intd + exp10;
	/* Sign, digits with the point moved, zeros filled in: < 40 + 40. */
	p = out;
	if (n < 96) {
		snprintf(out, n, "%s", tmp);
		return;
	}
	if (v < 0)
		*p++ = '-';
	if (point <= 0) {
		*p++ = '0';
		*p++ = '.';
		for (long i = point; i < 0; i++)
			*p++ = '0';
	}
	for (size_t i = 0; i < nd; i++) {
		if (point > 0 && i == (size_t)point)
			*p++ = '.';
		*p++ = digits[i];
	}
	for (long i = (long)nd; i < point; i++)
		*p++ = '0';
	*p = '\0';
}

static int to_tree(struct wl_codec_node **out, const cJSON *item,
		   const char *path, int depth)
{
	struct wl_codec_node *n = NULL, *child;
	char text[96], where[WL_CODEC_PATH_MAX];
	size_t index = 0;
	int error;

	*out = NULL;
	if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
		if (depth >= WL_CODEC_DEPTH_MAX) {
			wl_error_set("%s: nesting deeper than %d levels",
				     path[0] ? path : "document",
				     WL_CODEC_DEPTH_MAX);
			return WL_EINVALID;
		}
		n = wl_codec_node_new(
			cJSON_IsObject(item) ? WL_CODEC_MAP : WL_CODEC_SEQ, 0);
		if (!n)
			return WL_ERROR;
		for (const cJSON *c = item->child; c; c = c->next, index++) {
			if (n->kind == WL_CODEC_MAP)
				wl_codec_path_key(where, sizeof(where), path,
						  c->string ? c->string : "");
			else
				wl_codec_path_index(where, sizeof(where), path,
						    index);
			if ((error = to_tree(&child, c, where, depth + 1)) < 0)
				goto fail;
			if (n->kind == WL_CODEC_MAP &&
			    !(child->key =
				      strdup(c->string ? c->string : ""))) {
				wl_codec_node_free(child);
				error = oom();
				goto fail;
			}
			if ((error = wl_codec_node_append(n, child, path)) < 0)
				goto fail;
		}
	} else if (cJSON_IsString(item)) {
		n = wl_codec_scalar_new(item->valuestring,
					strlen(item->valuestring), 1, 0);
	} else if (cJSON_IsNumber(item)) {
		number_text(text, sizeof(text), item->valuedouble);
		n = wl_codec_scalar_new(text, strlen(text), 0, 0);
	} else if (cJSON_IsBool(item)) {
		const char *b = cJSON_IsTrue(item) ? "true" : "false";

		n = wl_codec_scalar_new(b, strlen(b), 0, 0);
	} else {
		n = wl_codec_node_new(WL_CODEC_NULL, 0);
	}
	if (!n)
		return WL_ERROR;
	*out = n;
	return 0;
fail:
	wl_codec_node_free(n);
	return error;
}

/* Bytes of JSON whitespace at data[0..len). */
static size_t space_len(const char *data, size_t len)
{
	size_t i = 0;

	while (i < len && strchr(" \t\r\n", data[i]) && data[i])
		i++;
	return i;
}

/*
 * 1 if the text ends inside a string or an open object or array: a file
 * cut short, worth saying so rather than pointing at a syntax error.
 */
static int incomplete(const char *data, size_t len)
{
	size_t depth = 0;
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if ((c == '}' || c == ']') && depth) {
			depth--;
		}
	}
	return in_string || depth > 0;
}

static void position(const char *data, size_t offset, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset; i++) {
		if (data[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int parse_tree(struct wl_codec_node **out, const char *data, size_t len)
{
	const char *end = NULL;
	cJSON *json;
	size_t rest;
	int line, col, error;

	*out = NULL;
	if (!len) {
		wl_error_set("document is empty");
		return WL_EINVALID;
	}
	json = cJSON_ParseWithLengthOpts(data, len, &end, 0);
	if (!json) {
		size_t off = end && end >= data ? (size_t)(end - data) : 0;

		if (off > len)
			off = len;
		position(data, off, &line, &col);
		if (space_len(data, len) == len)
			wl_error_set("document is empty");
		else if (incomplete(data, len)) {
			position(data, len, &line, &col);
			wl_error_set("invalid JSON: unexpected end of input, "
				     "the document is incomplete (line %d)",
				     line);
		} else
			wl_error_set("invalid JSON: syntax error (line %d, "
				     "column %d)",
				     line, col);
		return WL_EINVALID;
	}
	rest = (size_t)(end - data);
	rest += space_len(end, len - rest);
	if (rest < len) {
		position(data, rest, &line, &col);
		cJSON_Delete(json);
		wl_error_set("invalid JSON: unexpected data after the document "
			     "(line %d, column %d)",
			     line, col);
		return WL_EINVALID;
	}
	error = to_tree(out, json, "", 1);
	cJSON_Delete(json);
	return error;
}

int wl_json_decode_spec(struct wl_worklet *out, const char *data, size_t len)
{
	return wl_codec_decode(out, data, len, WL_CODEC_DOC_SPEC, parse_tree);
}

int wl_json_decode_full(struct wl_worklet *out, const char *data, size_t len)
{
	return wl_codec_decode(out, data, len, WL_CODEC_DOC_FULL, parse_tree);
}

static cJSON *from_tree(const struct wl_codec_node *n)
{
	cJSON *item = NULL, *child;

	switch (n->kind) {
	case WL_CODEC_NULL:
		return cJSON_CreateNull();
	case WL_CODEC_SCALAR:
		/* Numbers are exact decimal text made by the schema code. */
		return n->quoted ? cJSON_CreateString(n->text)
				 : cJSON_CreateRaw(n->text);
	case WL_CODEC_MAP:
	case WL_CODEC_SEQ:
		item = n->kind == WL_CODEC_MAP ? cJSON_CreateObject()
					       : cJSON_CreateArray();
		if (!item)
			return NULL;
		for (size_t i = 0; i < n->count; i++) {
			if (!(child = from_tree(n->items[i])))
				goto fail;
			if (n->kind == WL_CODEC_MAP
				    ? !cJSON_AddItemToObject(
					      item, n->items[i]->key, child)
				    : !cJSON_AddItemToArray(item, child)) {
				cJSON_Delete(child);
				goto fail;
			}
		}
		return item;
	}
fail:
	cJSON_Delete(item);
	return NULL;
}

int wl_json_encode_full(struct wl_buf *out, const struct wl_worklet *w)
{
	struct wl_codec_node *root = NULL;
	cJSON *json = NULL;
	char *text = NULL;
	int error;

	if ((error = wl_codec_tree_encode(&root, w, WL_CODEC_DOC_FULL)) < 0)
		return error;
	if (!(json = from_tree(root)) || !(text = cJSON_PrintUnformatted(json)))
		error = oom();
	else
		error = wl_buf_puts(out, text);
	cJSON_free(text);
	cJSON_Delete(json);
	wl_codec_node_free(root);
	return error;
}
