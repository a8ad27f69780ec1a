/* A model's cache of encoded image features, shared by its sessions: a
 * follow-up question about the same photo, in the same session or a new one,
 * skips preprocessing and the vision encoder.
 *
 * Entries are keyed by a 128-bit hash of the decoded pixels and their size,
 * plus what decides the features besides the pixels: the session's image
 * request (image or video frame, tile cap, pan & scan, pixel budget). The cache holds at most
 * capacity bytes of features and drops the least recently used entries to
 * make room. Every call is thread-safe (one mutex). */
#ifndef VLM_IMAGE_CACHE_H
#define VLM_IMAGE_CACHE_H

#include "vlm-impl.h"
#include "arch/family.h"

typedef struct vlmi_image_cache vlmi_image_cache;

typedef struct vlmi_image_key {
    uint64_t hash[2];      /* of width, height and the RGB bytes */
    uint32_t width, height;
    vlmi_image_request request; /* the session's settings for it */
} vlmi_image_key;

/* The key of an RGB image (width * height * 3 bytes). */
void vlmi_image_key_make(vlmi_image_key *key, const uint8_t *rgb, uint32_t width,
                         uint32_t height, const vlmi_image_request *request);

/* The key of a video encoded whole: n_frames (>= 1) RGB frames of width x
 * height, in order (another order or count is another key). */
void vlmi_image_key_make_frames(vlmi_image_key *key, const uint8_t *const *frames,
                                size_t n_frames, uint32_t width, uint32_t height,
                                const vlmi_image_request *request);

/* A cache of capacity bytes; capacity 0 makes a cache that holds nothing
 * (lookups miss, inserts are dropped). */
vlm_status vlmi_image_cache_create(uint64_t capacity, vlmi_image_cache **out);
void vlmi_image_cache_free(vlmi_image_cache *cache); /* NULL is fine */

/* On a hit copies the n_floats floats of features into out (which holds
 * them: the caller knows the count from the plan), sets *plan and returns
 * true, making the entry the most recently used. */
bool vlmi_image_cache_get(vlmi_image_cache *cache, const vlmi_image_key *key, float *out,
                          size_t n_floats, vlmi_image_plan *plan);

/* Stores a copy of features (n_floats floats). An entry larger than the
 * whole cache, or a failed allocation, is silently not stored. */
void vlmi_image_cache_put(vlmi_image_cache *cache, const vlmi_image_key *key,
                          const float *features, size_t n_floats,
                          const vlmi_image_plan *plan);

/* Bytes of features held now (for tests). */
uint64_t vlmi_image_cache_bytes(vlmi_image_cache *cache);

#endif
