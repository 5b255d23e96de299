#ifndef WL_IMAGE_GC_H
#define WL_IMAGE_GC_H

/*
 * The disk budget of this instance's images (cfg->image_disk_budget,
 * WORKLET_IMAGE_DISK_BUDGET). With a budget, a worklet's earlier images
 * are kept as a cache (a revert, or a prompt that returns the tree to an
 * earlier state, reuses its image at once); when the images of this
 * instance (label worklet.instance) add up to more than the budget, those
 * no container uses and no worklet serves are removed, least recently
 * used first, until the total fits or nothing removable is left. Base
 * images, other instances' images and anything without our labels are
 * never looked at.
 *
 * "Used" is recorded by wl_image_gc_touch() (the reconciler calls it each
 * time it sees an image serving) as the mtime of <state>/images/<hex>;
 * an image never touched counts from its creation.
 *
 * Sizes are Docker's "Size" of each image, base layers included, so the
 * sum counts shared layers once per image: the budget errs on the side of
 * removing. Called from the resync thread; the touch from workers.
 */

#include <stddef.h>
#include <stdint.h>

#include "controller/config.h"
#include "controller/docker_client.h"
#include "specs/spec_store.h"

struct wl_image_use {
	int64_t size;
	int64_t last_used_ms;
	int keep; /* used by a container or served: never removed */
};

/*
 * Pure: which images to remove so that the total size fits the budget.
 * Writes the indexes of imgs to remove into victims (room for n), least
 * recently used first (ties: the larger first), and returns how many.
 * Nothing is chosen when the total fits.
 */
size_t wl_image_gc_select(const struct wl_image_use *imgs, size_t n,
			  int64_t budget, size_t *victims);

/* Record that image_id ("sha256:...") serves now. Errors are ignored. */
void wl_image_gc_touch(const struct wl_store *store, const char *image_id);

/*
 * One pass: list, select, remove. Images used (built or served) less
 * than grace_ms ago are kept too. Returns the number of images removed,
 * or a negative code when Docker could not be asked.
 */
int wl_image_gc_run(struct wl_docker *d, const struct wl_config *cfg,
		    const struct wl_store *store, int64_t grace_ms);

/*
 * The disk this instance's images take: every image with its labels,
 * the builds' step images (their cache, and what a failed or interrupted
 * build left) included. Each image adds the layer it made on top of its
 * parent (its Size less its parent's), so a layer counts once however many
 * images share it, and the base images, which are not ours, count
 * nothing. Sets *bytes and *images; 0, or a negative code when Docker
 * could not be asked.
 */
int wl_image_gc_usage(struct wl_docker *d, const struct wl_config *cfg,
		      int64_t *bytes, size_t *images);

#endif
