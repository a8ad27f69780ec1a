/* Open-addressing hash maps for the vocabulary (string -> id), the merge
 * ranks ((id, id) -> rank, new id) and the added-token trie edges. Linear
 * probing over a power-of-two table kept at most half full. */
#include "text/tokenizer-impl.h"

#include <stdlib.h>
#include <string.h>

struct vlmi_strmap_slot {
    const char *key;     /* NULL: empty */
    uint32_t    key_len;
    uint32_t    hash;
    int32_t     value;
};

struct vlmi_u64map_slot {
    uint64_t key;
    uint32_t a, b;
    bool     used;
};

/* FNV-1a, 32 bit, then a final mix: vocab keys are short. */
static uint32_t fnv_bytes(uint32_t h, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t hash_mix(uint32_t h) {
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return h;
}

static uint32_t hash_bytes(const char *s, size_t len) {
    return hash_mix(fnv_bytes(2166136261u, s, len));
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* A zeroed table of n slots. Written, not calloc'ed: a fresh calloc'ed
 * table is the shared zero page until written, and the probes read a slot
 * before they fill it, so each page would cost a read fault, then a
 * copy-on-write fault and a TLB flush across the process's threads (perf:
 * ~10% of a SmolVLM load). */
static void *zeroed_slots(size_t n, size_t slot_size) {
    size_t bytes;
    if (vlmi_mul_overflow(n, slot_size, &bytes)) return vlmi_calloc(n, slot_size);
    void *slots = vlmi_malloc(bytes);
    if (slots != NULL) memset(slots, 0, bytes);
    return slots;
}

static size_t table_size_for(size_t expected) {
    size_t n = 16;
    while (n < expected * 2 + 1) n *= 2;
    return n;
}

/* ---- string map ---- */

vlm_status vlmi_strmap_init(vlmi_strmap *map, size_t expected) {
    map->n_slots = table_size_for(expected);
    map->n_used = 0;
    map->slots = zeroed_slots(map->n_slots, sizeof *map->slots);
    return map->slots ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
}

static struct vlmi_strmap_slot *strmap_find(const vlmi_strmap *map, const char *key,
                                            size_t len, uint32_t h) {
    size_t mask = map->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct vlmi_strmap_slot *s = &map->slots[i];
        if (s->key == NULL) return s;
        if (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0) return s;
    }
}

static vlm_status strmap_grow(vlmi_strmap *map) {
    vlmi_strmap bigger = { NULL, map->n_slots * 2, 0 };
    bigger.slots = zeroed_slots(bigger.n_slots, sizeof *bigger.slots);
    if (bigger.slots == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < map->n_slots; i++) {
        struct vlmi_strmap_slot *s = &map->slots[i];
        if (s->key == NULL) continue;
        *strmap_find(&bigger, s->key, s->key_len, s->hash) = *s;
        bigger.n_used++;
    }
    free(map->slots);
    *map = bigger;
    return VLM_OK;
}

vlm_status vlmi_strmap_put(vlmi_strmap *map, const char *key, size_t key_len,
                           int32_t value) {
    if (key_len > UINT32_MAX) return vlmi_fail(VLM_ERR_LIMIT, "token of %zu bytes", key_len);
    if ((map->n_used + 1) * 2 > map->n_slots) {
        vlm_status st = strmap_grow(map);
        if (st != VLM_OK) return st;
    }
    uint32_t h = hash_bytes(key, key_len);
    struct vlmi_strmap_slot *s = strmap_find(map, key, key_len, h);
    if (s->key == NULL) {
        s->key = key;
        s->key_len = (uint32_t)key_len;
        s->hash = h;
        map->n_used++;
    }
    s->value = value;
    return VLM_OK;
}

int32_t vlmi_strmap_get(const vlmi_strmap *map, const char *key, size_t key_len) {
    if (map->slots == NULL) return -1;
    const struct vlmi_strmap_slot *s = strmap_find(map, key, key_len, hash_bytes(key, key_len));
    return s->key ? s->value : -1;
}

int32_t vlmi_strmap_get2(const vlmi_strmap *map, const char *a, size_t a_len, const char *b,
                         size_t b_len) {
    if (map->slots == NULL) return -1;
    uint32_t h = hash_mix(fnv_bytes(fnv_bytes(2166136261u, a, a_len), b, b_len));
    size_t mask = map->n_slots - 1, len = a_len + b_len;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct vlmi_strmap_slot *s = &map->slots[i];
        if (s->key == NULL) return -1;
        if (s->hash == h && s->key_len == len && memcmp(s->key, a, a_len) == 0 &&
            memcmp(s->key + a_len, b, b_len) == 0)
            return s->value;
    }
}

void vlmi_strmap_free(vlmi_strmap *map) {
    free(map->slots);
    map->slots = NULL;
    map->n_slots = map->n_used = 0;
}

/* ---- u64 map ---- */

vlm_status vlmi_u64map_init(vlmi_u64map *map, size_t expected) {
    map->n_slots = table_size_for(expected);
    map->n_used = 0;
    map->slots = zeroed_slots(map->n_slots, sizeof *map->slots);
    return map->slots ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
}

static struct vlmi_u64map_slot *u64map_find(const vlmi_u64map *map, uint64_t key) {
    size_t mask = map->n_slots - 1;
    for (size_t i = (size_t)hash_u64(key) & mask;; i = (i + 1) & mask) {
        struct vlmi_u64map_slot *s = &map->slots[i];
        if (!s->used || s->key == key) return s;
    }
}

vlm_status vlmi_u64map_put(vlmi_u64map *map, uint64_t key, uint32_t a, uint32_t b) {
    if ((map->n_used + 1) * 2 > map->n_slots) {
        vlmi_u64map bigger = { NULL, map->n_slots * 2, 0 };
        bigger.slots = zeroed_slots(bigger.n_slots, sizeof *bigger.slots);
        if (bigger.slots == NULL) return VLM_ERR_OUT_OF_MEMORY;
        for (size_t i = 0; i < map->n_slots; i++) {
            if (!map->slots[i].used) continue;
            *u64map_find(&bigger, map->slots[i].key) = map->slots[i];
            bigger.n_used++;
        }
        free(map->slots);
        *map = bigger;
    }
    struct vlmi_u64map_slot *s = u64map_find(map, key);
    if (!s->used) {
        s->used = true;
        s->key = key;
        map->n_used++;
    }
    s->a = a;
    s->b = b;
    return VLM_OK;
}

bool vlmi_u64map_get(const vlmi_u64map *map, uint64_t key, uint32_t *a, uint32_t *b) {
    if (map->slots == NULL) return false;
    const struct vlmi_u64map_slot *s = u64map_find(map, key);
    if (!s->used) return false;
    *a = s->a;
    *b = s->b;
    return true;
}

void vlmi_u64map_free(vlmi_u64map *map) {
    free(map->slots);
    map->slots = NULL;
    map->n_slots = map->n_used = 0;
}
