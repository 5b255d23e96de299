#include "controller/base_images.h"

#include <ctype.h>
#include <string.h>

#include "specs/core/banned.h"

void wl_base_images_default(struct wl_base_images *out)
{
	static const struct wl_node_image node[] = {
		{ 18, "node:18-alpine" },
		{ 20, "node:20-alpine" },
		{ 22, "node:22-alpine" },
		{ 24, "node:24-alpine" },
	};

	memset(out, 0, sizeof(*out));
	out->node = "node:24-alpine";
	for (size_t i = 0; i < sizeof(node) / sizeof(*node); i++)
		out->node_images[out->node_image_count++] = node[i];
	out->python = "python:3.9-slim";
	out->go = "golang:1.21-alpine";
	out->go_runtime = "alpine:3.19";
	out->static_web = "nginx:alpine";
}

int wl_image_tag_major(const char *image)
{
	const char *slash, *colon;
	int major = 0;

	if (!image)
		return 0;
	/* The tag follows the last ':' after the last '/' (a registry port
	 * comes before a '/'); a digest has no version to tell. */
	slash = strrchr(image, '/');
	colon = strrchr(slash ? slash : image, ':');
	if (!colon || strchr(image, '@'))
		return 0;
	for (const char *s = colon + 1; isdigit((unsigned char)*s); s++) {
		major = major * 10 + (*s - '0');
		if (major > 9999)
			return 0;
	}
	return major;
}

int wl_base_images_node_default_major(const struct wl_base_images *im)
{
	if (!im->node)
		return 0;
	for (size_t i = 0; i < im->node_image_count; i++)
		if (im->node_images[i].image &&
		    !strcmp(im->node_images[i].image, im->node))
			return im->node_images[i].major;
	return wl_image_tag_major(im->node);
}

const char *wl_base_images_node(const struct wl_base_images *im, int major)
{
	for (size_t i = 0; i < im->node_image_count; i++)
		if (im->node_images[i].major == major)
			return im->node_images[i].image;
	if (major > 0 && wl_base_images_node_default_major(im) == major)
		return im->node;
	return NULL;
}

size_t wl_base_images_node_majors(const struct wl_base_images *im, int *out,
				  size_t max)
{
	int def = wl_base_images_node_default_major(im);
	size_t n = 0;

	/* An insertion sort of at most WL_NODE_IMAGES_MAX + 1 numbers. */
	for (size_t i = 0; i <= im->node_image_count; i++) {
		int m = i < im->node_image_count ? im->node_images[i].major
						 : def;
		size_t j;
		int dup = 0;

		if (m <= 0 ||
		    (i < im->node_image_count && !im->node_images[i].image))
			continue;
		for (j = 0; j < n; j++)
			dup |= out[j] == m;
		if (dup || n == max)
			continue;
		for (j = n; j > 0 && out[j - 1] > m; j--)
			out[j] = out[j - 1];
		out[j] = m;
		n++;
	}
	return n;
}
