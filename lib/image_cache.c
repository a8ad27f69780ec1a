/* The encoded-image cache (see image_cache.h): a list of entries scanned
 * linearly (a few hundred at most: the smallest entry is one frame's
 * features), the least recently used evicted first. */
#include "image_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct cache_entry {
    vlmi_image_key key;
    vlmi_image_plan plan;
    float *features;       /* (n_floats) owned */
    size_t n_floats;
    uint64_t last_used;    /* tick of the latest get or put */
    struct cache_entry *next;
} cache_entry;

struct vlmi_image_cache {
    pthread_mutex_t lock;
    uint64_t capacity, bytes, tick;
    cache_entry *entries;
};

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

/* Two independent 64-bit lanes over 8-byte words (MurmurHash3-like mixing):
 * collisions between different photos are out of practical reach. */
void vlmi_image_key_make(vlmi_image_key *key, const uint8_t *rgb, uint32_t width,
                         uint32_t height, const vlmi_image_request *request) {
    memset(key, 0, sizeof *key);
    size_t n = (size_t)width * height * 3, i = 0;
    uint64_t h1 = 0x9E3779B97F4A7C15ULL ^ width, h2 = 0xC2B2AE3D27D4EB4FULL ^ ((uint64_t)height << 32);
    const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, rgb + i, 8);
        h1 = rotl64(h1 ^ (rotl64(w * c1, 31) * c2), 27) * 5 + 0x52dce729;
        h2 = rotl64(h2 ^ (rotl64(w * c2, 33) * c1), 31) * 5 + 0x38495ab5;
    }
    uint64_t tail = 0;
    memcpy(&tail, rgb + i, n - i);
    h1 = mix64(h1 ^ tail ^ n);
    h2 = mix64(h2 ^ rotl64(tail, 17) ^ (n * c1));
    key->hash[0] = h1 + h2;
    key->hash[1] = h2 + key->hash[0];
    key->width = width;
    key->height = height;
    key->request = *request;
}

void vlmi_image_key_make_frames(vlmi_image_key *key, const uint8_t *const *frames,
                                size_t n_frames, uint32_t width, uint32_t height,
                                const vlmi_image_request *request) {
    vlmi_image_key_make(key, frames[0], width, height, request);
    for (size_t i = 1; i < n_frames; i++) {
        vlmi_image_key frame;
        vlmi_image_key_make(&frame, frames[i], width, height, request);
        /* chained through the mixer, so the order of the frames counts */
        key->hash[0] = mix64(key->hash[0] ^ rotl64(frame.hash[0], 23) ^ i);
        key->hash[1] = mix64(key->hash[1] + frame.hash[1] * 0x9E3779B97F4A7C15ULL + i);
    }
}

static bool same_key(const vlmi_image_key *a, const vlmi_image_key *b) {
    return a->hash[0] == b->hash[0] && a->hash[1] == b->hash[1] && a->width == b->width &&
           a->height == b->height && a->request.max_tiles == b->request.max_tiles &&
           a->request.pan_and_scan == b->request.pan_and_scan &&
           a->request.min_pixels == b->request.min_pixels &&
           a->request.max_pixels == b->request.max_pixels &&
           a->request.video_frame == b->request.video_frame;
}

vlm_status vlmi_image_cache_create(uint64_t capacity, vlmi_image_cache **out) {
    *out = NULL;
    vlmi_image_cache *c = vlmi_calloc(1, sizeof *c);
    if (c == NULL) return VLM_ERR_OUT_OF_MEMORY;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return vlmi_fail(VLM_ERR_INTERNAL, "image cache: cannot create a mutex");
    }
    c->capacity = capacity;
    *out = c;
    return VLM_OK;
}

void vlmi_image_cache_free(vlmi_image_cache *c) {
    if (c == NULL) return;
    for (cache_entry *e = c->entries, *next; e != NULL; e = next) {
        next = e->next;
        free(e->features);
        free(e);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

bool vlmi_image_cache_get(vlmi_image_cache *c, const vlmi_image_key *key, float *out,
                          size_t n_floats, vlmi_image_plan *plan) {
    if (c == NULL || c->capacity == 0) return false;
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    for (cache_entry *e = c->entries; e != NULL; e = e->next)
        if (same_key(&e->key, key) && e->n_floats == n_floats) {
            memcpy(out, e->features, n_floats * sizeof(float));
            *plan = e->plan;
            e->last_used = ++c->tick;
            hit = true;
            break;
        }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* Unlinks and frees the least recently used entry. Under the lock. */
static void evict_one(vlmi_image_cache *c) {
    cache_entry **oldest = NULL;
    for (cache_entry **at = &c->entries; *at != NULL; at = &(*at)->next)
        if (oldest == NULL || (*at)->last_used < (*oldest)->last_used) oldest = at;
    if (oldest == NULL) return;
    cache_entry *e = *oldest;
    *oldest = e->next;
    c->bytes -= e->n_floats * sizeof(float);
    free(e->features);
    free(e);
}

void vlmi_image_cache_put(vlmi_image_cache *c, const vlmi_image_key *key,
                          const float *features, size_t n_floats,
                          const vlmi_image_plan *plan) {
    if (c == NULL) return;
    uint64_t bytes = (uint64_t)n_floats * sizeof(float);
    if (bytes == 0 || bytes > c->capacity) return;
    /* copied outside the lock; a failed allocation only means no caching */
    cache_entry *e = malloc(sizeof *e);
    float *copy = malloc((size_t)bytes);
    if (e == NULL || copy == NULL) {
        free(e);
        free(copy);
        return;
    }
    memcpy(copy, features, (size_t)bytes);
    *e = (cache_entry){.key = *key, .plan = *plan, .features = copy, .n_floats = n_floats};
    pthread_mutex_lock(&c->lock);
    bool present = false;
    for (cache_entry *p = c->entries; p != NULL && !present; p = p->next)
        if (same_key(&p->key, key)) { p->last_used = ++c->tick; present = true; }
    if (!present) {
        while (c->bytes + bytes > c->capacity && c->entries != NULL) evict_one(c);
        e->last_used = ++c->tick;
        e->next = c->entries;
        c->entries = e;
        c->bytes += bytes;
    }
    pthread_mutex_unlock(&c->lock);
    if (present) {
        free(copy);
        free(e);
    }
}

uint64_t vlmi_image_cache_bytes(vlmi_image_cache *c) {
    if (c == NULL) return 0;
    pthread_mutex_lock(&c->lock);
    uint64_t bytes = c->bytes;
    pthread_mutex_unlock(&c->lock);
    return bytes;
}
