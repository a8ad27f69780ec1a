/* Choosing the next token from logits, as transformers' generate does it:
 * repetition penalty (RepetitionPenaltyLogitsProcessor, over every token of
 * the context), then for sampling temperature, top-k, top-p and min-p (the
 * warpers in that order), then a draw from the softmax with a seeded PRNG.
 * Temperature 0 is greedy: the first maximum after the penalty.
 *
 * Every buffer is allocated at create: choosing a token allocates nothing. */
#ifndef VLM_GENERATE_SAMPLER_H
#define VLM_GENERATE_SAMPLER_H

#include "vlm-impl.h"

#include <stdbool.h>

typedef struct vlmi_sampler_params {
    float temperature;     /* 0: greedy */
    int32_t top_k;         /* 0: off */
    float top_p;           /* 1: off */
    float min_p;           /* 0: off */
    float repeat_penalty;  /* 1: off; > 0 */
    uint64_t seed;
} vlmi_sampler_params;

typedef struct vlmi_candidate {
    float score;   /* logit after penalty and temperature */
    int32_t id;
} vlmi_candidate;

typedef struct vlmi_sampler {
    size_t n_vocab;
    vlmi_sampler_params params;
    uint64_t rng[4];            /* xoshiro256** state */
    float *scores;              /* (n_vocab) logits after the penalty */
    vlmi_candidate *candidates; /* (n_vocab) sorted by score, best first */
    double *probs;              /* (n_vocab) of the surviving candidates */
    uint8_t *seen;              /* (n_vocab) 1: the token is in the context */
    int32_t *seen_ids;          /* (n_vocab) the tokens marked in seen */
    size_t n_seen;
} vlmi_sampler;

vlm_status vlmi_sampler_create(size_t n_vocab, vlmi_sampler **out);
void vlmi_sampler_free(vlmi_sampler *s); /* NULL is fine */

/* Checks params (VLM_ERR_INVALID_ARGUMENT naming the field), seeds the PRNG
 * and forgets the context. */
vlm_status vlmi_sampler_reset(vlmi_sampler *s, const vlmi_sampler_params *params);

/* Adds a context token (prompt or generated) for the repetition penalty.
 * Ids outside the vocabulary are ignored. */
void vlmi_sampler_observe(vlmi_sampler *s, int32_t id);

/* Applies the penalty and, when sampling, the warpers: afterwards
 * s->candidates[0 .. returned count) are the surviving tokens, best first.
 * Greedy keeps exactly the first maximum. logits (n_vocab) */
size_t vlmi_sampler_filter(vlmi_sampler *s, const float *logits);

/* The next token. logits (n_vocab) */
int32_t vlmi_sampler_sample(vlmi_sampler *s, const float *logits);

#endif
