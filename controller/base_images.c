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

int wl_image_tag_version(const char *image, int *major, int *minor)
{
	const char *slash, *colon, *s;
	int v[2] = { 0, 0 };

	if (!image)
		return -1;
	slash = strrchr(image, '/');
	colon = strrchr(slash ? slash : image, ':');
	if (!colon || strchr(image, '@'))
		return -1;
	s = colon + 1;
	for (int i = 0; i < 2; i++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		for (; isdigit((unsigned char)*s); s++) {
			v[i] = v[i] * 10 + (*s - '0');
			if (v[i] > 9999)
				return -1;
		}
		if (i == 0 && *s++ != '.')
			return -1;
	}
	*major = v[0];
	*minor = v[1];
	return 0;
}

size_t wl_base_images_lang_lines(const struct wl_base_images *im, int go,
				 struct wl_lang_image *out, size_t max,
				 int *def)
{
	const struct wl_lang_image *t = go ? im->go_images : im->python_images;
	size_t count = go ? im->go_image_count : im->python_image_count, n = 0;
	const char *dimage = go ? im->go : im->python;
	struct wl_lang_image d = { 0, 0, dimage };

	*def = -1;
	/* The default image's line: the table's entry naming it, its tag. */
	for (size_t i = 0; i < count && dimage; i++)
		if (t[i].image && !strcmp(t[i].image, dimage))
			d = t[i];
	if (dimage && !d.major &&
	    wl_image_tag_version(dimage, &d.major, &d.minor) < 0)
		d.major = 0;
	for (size_t i = 0; i <= count; i++) {
		struct wl_lang_image e = i < count ? t[i] : d;
		size_t j;
		int dup = 0;

		if (e.major <= 0 || !e.image)
			continue;
		for (j = 0; j < n; j++)
			dup |= out[j].major == e.major &&
			       out[j].minor == e.minor;
		if (dup || n == max)
			continue;
		for (j = n; j > 0 && (out[j - 1].major > e.major ||
				      (out[j - 1].major == e.major &&
				       out[j - 1].minor > e.minor));
		     j--)
			out[j] = out[j - 1];
		out[j] = e;
		n++;
	}
	for (size_t i = 0; i < n && d.major; i++)
		if (out[i].major == d.major && out[i].minor == d.minor)
			*def = (int)i;
	return n;
}
