/* Token sampling (see sampler.h). Each step mirrors one transformers logits
 * processor; comments name it. */
#include "generate/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

// ----------------------------------------------------------------------------
// PRNG: xoshiro256**, seeded through splitmix64

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t s[4]) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* uniform in [0, 1) with 53 random bits */
static double next_uniform(uint64_t s[4]) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

// ----------------------------------------------------------------------------
// lifetime

vlm_status vlmi_sampler_create(size_t n_vocab, vlmi_sampler **out) {
    *out = NULL;
    if (n_vocab == 0 || n_vocab > INT32_MAX)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "sampler: vocabulary of %zu tokens", n_vocab);
    vlmi_sampler *s = vlmi_calloc(1, sizeof *s);
    if (s == NULL) return VLM_ERR_OUT_OF_MEMORY;
    s->n_vocab = n_vocab;
    s->scores = vlmi_calloc(n_vocab, sizeof *s->scores);
    s->candidates = vlmi_calloc(n_vocab, sizeof *s->candidates);
    s->probs = vlmi_calloc(n_vocab, sizeof *s->probs);
    s->seen = vlmi_calloc(n_vocab, sizeof *s->seen);
    s->seen_ids = vlmi_calloc(n_vocab, sizeof *s->seen_ids);
    if (!s->scores || !s->candidates || !s->probs || !s->seen || !s->seen_ids) {
        vlmi_sampler_free(s);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    vlmi_sampler_params defaults = {.top_p = 1.0f, .repeat_penalty = 1.0f};
    vlmi_sampler_reset(s, &defaults);
    *out = s;
    return VLM_OK;
}

void vlmi_sampler_free(vlmi_sampler *s) {
    if (s == NULL) return;
    free(s->scores);
    free(s->candidates);
    free(s->probs);
    free(s->seen);
    free(s->seen_ids);
    free(s);
}

vlm_status vlmi_sampler_reset(vlmi_sampler *s, const vlmi_sampler_params *p) {
    if (!(p->temperature >= 0.0f) || isinf(p->temperature))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "temperature %g must be >= 0", p->temperature);
    if (p->top_k < 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "top_k %d must be >= 0", (int)p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "top_p %g must be in (0, 1]", p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "min_p %g must be in [0, 1]", p->min_p);
    if (!(p->repeat_penalty > 0.0f) || isinf(p->repeat_penalty))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "repeat_penalty %g must be > 0",
                         p->repeat_penalty);
    s->params = *p;
    uint64_t state = p->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&state);
    for (size_t i = 0; i < s->n_seen; i++) s->seen[s->seen_ids[i]] = 0;
    s->n_seen = 0;
    return VLM_OK;
}

void vlmi_sampler_observe(vlmi_sampler *s, int32_t id) {
    if (id < 0 || (size_t)id >= s->n_vocab || s->seen[id]) return;
    s->seen[id] = 1;
    s->seen_ids[s->n_seen++] = id;
}

// ----------------------------------------------------------------------------
// filtering

/* best first; equal scores by id, so the order is deterministic */
/* The order candidates are ranked in: higher score first, then lower id. */
static bool ranks_before(const vlmi_candidate *x, const vlmi_candidate *y) {
    if (x->score != y->score) return x->score > y->score;
    return x->id < y->id;
}

static void sift_down(vlmi_candidate *c, size_t root, size_t n) {
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        /* a min-heap in ranking order: the root ranks last */
        if (child + 1 < n && ranks_before(&c[child], &c[child + 1])) child++;
        if (!ranks_before(&c[root], &c[child])) return;
        vlmi_candidate t = c[root];
        c[root] = c[child];
        c[child] = t;
        root = child;
    }
}

/* Sorts c[0..n) into ranking order in place. A heap sort, not qsort: glibc's
 * qsort mallocs a copy of the array, and this runs once per sampled token. */
static void rank_candidates(vlmi_candidate *c, size_t n) {
    for (size_t i = n / 2; i-- > 0;) sift_down(c, i, n);
    for (size_t end = n; end > 1; end--) {
        vlmi_candidate t = c[0];
        c[0] = c[end - 1];
        c[end - 1] = t;
        sift_down(c, 0, end - 1);
    }
}

/* softmax of candidates[0..n) (sorted, so [0] holds the maximum) into probs */
static void softmax_candidates(vlmi_sampler *s, size_t n) {
    double max = s->candidates[0].score, sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += s->probs[i] = exp((double)s->candidates[i].score - max);
    for (size_t i = 0; i < n; i++) s->probs[i] /= sum;
}

size_t vlmi_sampler_filter(vlmi_sampler *s, const float *logits) {
    const vlmi_sampler_params *p = &s->params;
    size_t n = s->n_vocab;
    memcpy(s->scores, logits, n * sizeof *s->scores);

    // RepetitionPenaltyLogitsProcessor: a context token's positive logit is divided
    // by the penalty, a negative one multiplied
    if (p->repeat_penalty != 1.0f)
        for (size_t i = 0; i < s->n_seen; i++) {
            float *x = &s->scores[s->seen_ids[i]];
            *x = *x < 0.0f ? *x * p->repeat_penalty : *x / p->repeat_penalty;
        }

    // greedy: the first maximum, as torch.argmax
    if (p->temperature == 0.0f) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++) if (s->scores[i] > s->scores[best]) best = i;
        s->candidates[0] = (vlmi_candidate){s->scores[best], (int32_t)best};
        return 1;
    }

    // TemperatureLogitsWarper
    for (size_t i = 0; i < n; i++)
        s->candidates[i] = (vlmi_candidate){s->scores[i] / p->temperature, (int32_t)i};
    rank_candidates(s->candidates, n);
    size_t n_keep = n;

    // TopKLogitsWarper: drop scores below the k-th best (ties with it stay)
    if (p->top_k > 0 && (size_t)p->top_k < n_keep) {
        float kth = s->candidates[p->top_k - 1].score;
        n_keep = (size_t)p->top_k;
        while (n_keep < n && s->candidates[n_keep].score >= kth) n_keep++;
    }

    // TopPLogitsWarper: drop the least likely tokens whose cumulative
    // probability (ascending) stays <= 1 - top_p; the best always stays
    if (p->top_p < 1.0f) {
        softmax_candidates(s, n_keep);
        double cumulative = 0.0, drop_mass = 1.0 - (double)p->top_p;
        while (n_keep > 1) {
            cumulative += s->probs[n_keep - 1];
            if (cumulative > drop_mass) break;
            n_keep--;
        }
    }

    // MinPLogitsWarper: drop tokens less likely than min_p x the best one
    if (p->min_p > 0.0f) {
        softmax_candidates(s, n_keep);
        double threshold = (double)p->min_p * s->probs[0];
        size_t kept = 1;
        while (kept < n_keep && !(s->probs[kept] < threshold)) kept++;
        n_keep = kept;
    }
    return n_keep;
}

int32_t vlmi_sampler_sample(vlmi_sampler *s, const float *logits) {
    size_t n_keep = vlmi_sampler_filter(s, logits);
    if (n_keep == 1) return s->candidates[0].id;
    softmax_candidates(s, n_keep);
    double u = next_uniform(s->rng), cumulative = 0.0;
    for (size_t i = 0; i < n_keep; i++) {
        cumulative += s->probs[i];
        if (u < cumulative) return s->candidates[i].id;
    }
    return s->candidates[n_keep - 1].id; /* rounding left u above the total */
}
