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
	const char *python;	/* default python:3.9-slim */
	const char *go;		/* default golang:1.21-alpine */
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

#endif
