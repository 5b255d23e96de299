#ifndef WL_BASE_IMAGES_H
#define WL_BASE_IMAGES_H

/*
 * The base images generated Dockerfiles start FROM, per project type and,
 * for Node.js, per major version (configuration: config.h builds one from
 * WORKLET_IMAGE_*; the defaults are registry images). Strings are
 * borrowed: the struct never owns them. Pure, thread-safe.
 */

#include <stddef.h>

#define WL_NODE_IMAGES_MAX 32 /* Node.js majors with an image of their own */

struct wl_node_image {
	int major;
	const char *image;
};

#define WL_LANG_IMAGES_MAX 16 /* Python or Go minor lines with an image */

/* The image of one minor line of Python (3.11) or Go (1.22). */
struct wl_lang_image {
	int major, minor;
	const char *image;
};

struct wl_base_images {
	/*
	 * The Node.js image of projects that ask for no version
	 * (WORKLET_IMAGE_NODE); its major is the table's entry of the same
	 * name, else the number its tag starts with (node:24-alpine: 24).
	 */
	const char *node;
	/* One image per Node.js major (WORKLET_IMAGE_NODE_<major>). */
	struct wl_node_image node_images[WL_NODE_IMAGES_MAX];
	size_t node_image_count;
	const char *python; /* default python:3.9-slim */
	const char *go;	    /* default golang:1.21-alpine */
	/*
	 * One image per Python / Go minor line (WORKLET_IMAGE_PYTHON_3_11,
	 * WORKLET_IMAGE_GO_1_22); python and go are the images of projects
	 * that ask for no version, their line the table's entry of the same
	 * name, else the version their tag starts with (golang:1.21-alpine).
	 */
	struct wl_lang_image python_images[WL_LANG_IMAGES_MAX];
	size_t python_image_count;
	struct wl_lang_image go_images[WL_LANG_IMAGES_MAX];
	size_t go_image_count;
	const char *go_runtime; /* default alpine:3.19 */
	const char *static_web; /* default nginx:alpine */
};

/*
 * The built-in defaults: node:24-alpine for projects that ask for nothing
 * (the newest long-term-support line of the four), node:<major>-alpine
 * for 18, 20, 22 and 24, and the images above.
 */
void wl_base_images_default(struct wl_base_images *out);

/* The major an image's tag starts with ("node:22-alpine": 22), else 0. */
int wl_image_tag_major(const char *image);

/* The major of im->node (see above); 0 if it cannot be told. */
int wl_base_images_node_default_major(const struct wl_base_images *im);

/*
 * The image for Node.js major `major`: the table's, else im->node when
 * that is its major; NULL when there is none.
 */
const char *wl_base_images_node(const struct wl_base_images *im, int major);

/*
 * The majors there is an image for, ascending, into out (at most max);
 * returns how many.
 */
size_t wl_base_images_node_majors(const struct wl_base_images *im, int *out,
				  size_t max);

/*
 * "major.minor" an image's tag starts with ("golang:1.21-alpine": 1, 21)
 * into *major and *minor; 0, or -1 when the tag names no minor line
 * ("python:3").
 */
int wl_image_tag_version(const char *image, int *major, int *minor);

/*
 * The minor lines there is a Python (go = 0) or Go (go = 1) image for,
 * ascending, with the default image's among them, into out (at most max);
 * returns how many. *def is set to the default image's index in out, or
 * -1 when its line cannot be told.
 */
size_t wl_base_images_lang_lines(const struct wl_base_images *im, int go,
				 struct wl_lang_image *out, size_t max,
				 int *def);

#endif
