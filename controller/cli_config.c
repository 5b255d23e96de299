/*
 * DESIGN: the file is small; it is read whole (bounded) and parsed with
 * libyaml's event API, which stays in this file. Values are kept as
 * malloc'd strings; a token is wiped before it is freed.
 */
#include "controller/cli_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "specs/core/buf.h"
#include "specs/core/error.h"
#include "specs/core/banned.h"

#define CONFIG_MAX (64 * 1024)

void wl_cli_config_init(struct wl_cli_config *c)
{
	memset(c, 0, sizeof(*c));
}

static void wipe_free(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	free(s);
}

void wl_cli_config_release(struct wl_cli_config *c)
{
	free(c->server);
	wipe_free(c->token);
	free(c->user);
	wl_cli_config_init(c);
}

int wl_cli_config_path(char *out, size_t n)
{
	const char *env = getenv("WORKLETCTL_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (env && *env) {
		snprintf(out, n, "%s", env);
		return 1;
	}
	if (xdg && *xdg == '/') {
		snprintf(out, n, "%s/workletctl/config.yaml", xdg);
		return 0;
	}
	if (!home || !*home)
		return -1;
	snprintf(out, n, "%s/.config/workletctl/config.yaml", home);
	return 0;
}

/* Read the whole file (at most CONFIG_MAX) and its mode. */
static int read_file(struct wl_buf *out, const char *path, mode_t *mode)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), error = 0;

	if (fd < 0) {
		wl_error_set("cannot read the config file '%s': %s", path,
			     strerror(errno));
		return errno == ENOENT ? WL_ENOTFOUND : WL_EINVALID;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		wl_error_set("config file '%s': not a regular file", path);
		close(fd);
		return WL_EINVALID;
	}
	*mode = st.st_mode;
	for (;;) {
		char chunk[4096];
		ssize_t got = read(fd, chunk, sizeof(chunk));

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			wl_error_set("cannot read the config file '%s': %s",
				     path, strerror(errno));
			error = WL_EINVALID;
			break;
		}
		if (got == 0)
			break;
		if (wl_buf_add(out, chunk, (size_t)got) < 0) {
			wl_error_set("config file '%s': larger than %d KiB",
				     path, CONFIG_MAX / 1024);
			error = WL_EINVALID;
			break;
		}
	}
	close(fd);
	return error;
}

static char **slot(struct wl_cli_config *c, const char *key)
{
	if (!strcmp(key, "server"))
		return &c->server;
	if (!strcmp(key, "token"))
		return &c->token;
	if (!strcmp(key, "user"))
		return &c->user;
	return NULL;
}

/* The top-level mapping of scalars, into c. */
static int parse(struct wl_cli_config *c, const char *path,
		 const struct wl_buf *text)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	char key[64] = "";
	int depth = 0, have_key = 0, error = 0, done = 0;

	if (!yaml_parser_initialize(&parser)) {
		wl_error_set("out of memory");
		return WL_ERROR;
	}
	yaml_parser_set_input_string(
		&parser, (const unsigned char *)wl_buf_cstr(text), text->len);
	while (!done && !error) {
		if (!yaml_parser_parse(&parser, &ev)) {
			wl_error_set(
				"config file '%s': %s (line %lu)", path,
				parser.problem ? parser.problem : "not YAML",
				(unsigned long)parser.problem_mark.line + 1);
			error = WL_EINVALID;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (depth || ev.type == YAML_SEQUENCE_START_EVENT) {
				wl_error_set("config file '%s': %s%s must be "
					     "a string (line %lu)",
					     path, have_key ? key : "the file",
					     have_key ? "" : " content",
					     (unsigned long)ev.start_mark.line +
						     1);
				error = WL_EINVALID;
			}
			depth++;
			break;
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;
			char **dst;

			if (!depth) {
				if (ev.data.scalar.length) {
					wl_error_set("config file '%s': not a "
						     "mapping of keys",
						     path);
					error = WL_EINVALID;
				}
				break;
			}
			if (!have_key) {
				snprintf(key, sizeof(key), "%s", v);
				have_key = 1;
				if (!slot(c, key)) {
					wl_error_set(
						"config file '%s': '%s': "
						"unknown key (server, "
						"token, user) (line %lu)",
						path, key,
						(unsigned long)ev.start_mark
								.line +
							1);
					error = WL_EINVALID;
				}
				break;
			}
			dst = slot(c, key);
			if (key[0] == 't')
				wipe_free(*dst);
			else
				free(*dst);
			*dst = ev.data.scalar.length ? strdup(v) : NULL;
			have_key = 0;
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return error;
}

int wl_cli_config_load(struct wl_cli_config *c, const char *path, int required)
{
	struct wl_buf text;
	mode_t mode = 0;
	int error;

	wl_buf_init(&text, CONFIG_MAX);
	error = read_file(&text, path, &mode);
	if (error == WL_ENOTFOUND && !required) {
		wl_error_clear();
		error = 0;
		goto out;
	}
	if (error < 0 || (error = parse(c, path, &text)) < 0)
		goto out;
	if (c->token && (mode & 077)) {
		wl_error_set("config file '%s' holds a token and can be read "
			     "by others (mode %04o); run: chmod 600 '%s'",
			     path, (unsigned)(mode & 07777), path);
		error = WL_EINVALID;
	}
out:
	if (text.ptr)
		memset(text.ptr, 0, text.cap);
	wl_buf_release(&text);
	if (error < 0)
		wl_cli_config_release(c);
	return error;
}
