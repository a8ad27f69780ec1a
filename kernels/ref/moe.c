/* Mixture-of-experts routing and grouping (see moe.h). */
#include "ref/moe.h"

#include "ref/ops.h"

#include <math.h>
#include <string.h>

// ---- checks and sizes ----

bool vlmi_moe_router_valid(const vlmi_moe_router *r) {
    if (r == NULL || r->n_experts == 0 || r->top_k == 0 || r->top_k > r->n_experts) return false;
    if (r->scoring != VLMI_MOE_SOFTMAX && r->scoring != VLMI_MOE_SIGMOID &&
        r->scoring != VLMI_MOE_SIGMOID_OF_TOPK)
        return false;
    if (r->n_groups <= 1) return true;
    if (r->n_experts % r->n_groups != 0) return false;
    size_t group_size = r->n_experts / r->n_groups;
    if (r->topk_groups == 0 || r->topk_groups > r->n_groups) return false;
    if (r->topk_groups * group_size < r->top_k) return false;
    if (r->group_score == VLMI_MOE_GROUP_TOP2_SUM) return group_size >= 2;
    return r->group_score == VLMI_MOE_GROUP_MAX;
}

size_t vlmi_moe_route_scratch_floats(const vlmi_moe_router *r) {
    return 2 * r->n_experts + (r->n_groups > 1 ? 2 * r->n_groups : 0);
}

// ---- routing one token ----

/* The index of the largest value of v (n) that is not NaN, the lowest index
 * among equals; -1 if every value is NaN. */
static ptrdiff_t argmax_lowest(const float *v, size_t n) {
    ptrdiff_t best = -1;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) continue;
        if (best < 0 || v[i] > v[best]) best = (ptrdiff_t)i;
    }
    return best;
}

/* The score of one group of n >= 1 choice values (top 2: n >= 2). */
static float group_score(const float *choice, size_t n, vlmi_moe_group_score how) {
    float first = choice[0];
    for (size_t i = 1; i < n; i++) first = fmaxf(first, choice[i]);
    if (how == VLMI_MOE_GROUP_MAX) return first;
    /* the second largest: the largest after removing one copy of the first
     * (a tie for first counts twice, as topk(2) returns it twice) */
    size_t at = 0;
    while (at < n && choice[at] != first) at++; /* n only if all are NaN */
    float second = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (i != at) second = fmaxf(second, choice[i]);
    return first + second;
}

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// logits (n_experts) -> experts (top_k), weights (top_k)
static void route_token(int32_t *experts, float *weights, float *scores, float *choice,
                        float *groups, const float *logits, const vlmi_moe_router *r) {
    size_t n = r->n_experts;
    /* 1. scores */
    memcpy(scores, logits, n * sizeof *scores);
    if (r->scoring == VLMI_MOE_SOFTMAX) vlmi_ref_softmax(scores, n);
    else if (r->scoring == VLMI_MOE_SIGMOID)
        for (size_t e = 0; e < n; e++) scores[e] = sigmoid(scores[e]);
    /* 2. the selection values */
    for (size_t e = 0; e < n; e++)
        choice[e] = r->selection_bias ? scores[e] + r->selection_bias[e] : scores[e];
    /* 3. groups: the dropped groups' experts become NaN, never chosen */
    if (r->n_groups > 1) {
        size_t group_size = n / r->n_groups;
        for (size_t g = 0; g < r->n_groups; g++)
            groups[g] = group_score(choice + g * group_size, group_size, r->group_score);
        /* the kept groups, one at a time: each taken out of the running (NaN)
         * and flagged in `kept` */
        float *kept = groups + r->n_groups;
        for (size_t g = 0; g < r->n_groups; g++) kept[g] = 0.0f;
        for (size_t i = 0; i < r->topk_groups; i++) {
            ptrdiff_t g = argmax_lowest(groups, r->n_groups);
            if (g < 0) break;
            groups[g] = NAN;
            kept[g] = 1.0f;
        }
        for (size_t g = 0; g < r->n_groups; g++)
            if (kept[g] == 0.0f)
                for (size_t e = g * group_size; e < (g + 1) * group_size; e++) choice[e] = NAN;
    }
    /* 4, 5. the top_k, each taken out of the running once chosen */
    float sum = 0.0f;
    for (size_t k = 0; k < r->top_k; k++) {
        ptrdiff_t e = argmax_lowest(choice, n);
        experts[k] = (int32_t)e;
        if (e < 0) {
            weights[k] = 0.0f;
            continue;
        }
        choice[e] = NAN;
        weights[k] = r->scoring == VLMI_MOE_SIGMOID_OF_TOPK ? sigmoid(scores[e]) : scores[e];
        sum += weights[k];
    }
    /* 6, 7 */
    if (r->norm_topk_prob) {
        float denominator = sum + 1e-20f;
        for (size_t k = 0; k < r->top_k; k++) weights[k] /= denominator;
    }
    for (size_t k = 0; k < r->top_k; k++) weights[k] *= r->routed_scaling_factor;
}

// logits (n_tokens, n_experts) -> experts, weights (n_tokens, top_k)
void vlmi_moe_route(int32_t *experts, float *weights, float *scratch, const float *logits,
                    size_t n_tokens, const vlmi_moe_router *r) {
    float *scores = scratch, *choice = scratch + r->n_experts, *groups = choice + r->n_experts;
    for (size_t t = 0; t < n_tokens; t++)
        route_token(experts + t * r->top_k, weights + t * r->top_k, scores, choice, groups,
                    logits + t * r->n_experts, r);
}

// ---- grouping by expert ----

// experts, weights (n_tokens, top_k) -> offsets (n_experts + 1), tokens, token_weights
void vlmi_moe_plan(size_t *offsets, int32_t *tokens, float *token_weights,
                   const int32_t *experts, const float *weights, size_t n_tokens,
                   size_t top_k, size_t n_experts) {
    /* a counting sort, stable in token order */
    memset(offsets, 0, (n_experts + 1) * sizeof *offsets);
    for (size_t i = 0; i < n_tokens * top_k; i++)
        if (experts[i] >= 0 && (size_t)experts[i] < n_experts) offsets[experts[i] + 1]++;
    for (size_t e = 0; e < n_experts; e++) offsets[e + 1] += offsets[e];
    /* offsets[e] is used as expert e's write cursor, then shifted back */
    for (size_t t = 0; t < n_tokens; t++)
        for (size_t k = 0; k < top_k; k++) {
            int32_t e = experts[t * top_k + k];
            if (e < 0 || (size_t)e >= n_experts) continue;
            size_t at = offsets[e]++;
            tokens[at] = (int32_t)t;
            token_weights[at] = weights[t * top_k + k];
        }
    for (size_t e = n_experts; e > 0; e--) offsets[e] = offsets[e - 1];
    offsets[0] = 0;
}
