/* Mixture-of-experts routing: from router logits to each token's experts
 * and weights, and from those to a plan that groups the tokens by expert
 * (so each expert's weights are read once per batch). Plain scalar C, f32,
 * written to be read against transformers' routers:
 *
 *   DeepSeek-V3, Kimi-VL (DeepseekV3TopkRouter): sigmoid scores, a per-expert
 *     bias for selection only (e_score_correction_bias), group-limited top-k
 *     with group score = sum of the group's top 2, norm_topk_prob, then
 *     routed_scaling_factor.
 *   DeepSeek-V2, DeepSeek-VL2 (DeepseekV2TopkRouter): softmax scores,
 *     greedy or group-limited top-k with group score = max, then
 *     routed_scaling_factor.
 *   Llama 4 (Llama4Router): top-k of the raw logits, weight = sigmoid of the
 *     chosen logit. (Llama 4 scales the expert's input by the weight, not its
 *     output: the model's business, not routing's.)
 *   Mixtral, Qwen-MoE: softmax, top-k, norm_topk_prob.
 *
 * Routing one token (n = n_experts):
 *   1. scores: softmax over the n logits (max subtracted, exp, summed in
 *      index order, divided) | sigmoid 1 / (1 + exp(-logit)) | for
 *      VLMI_MOE_SIGMOID_OF_TOPK the logits themselves.
 *   2. choice[e] = scores[e] + bias[e] (bias NULL: choice = scores).
 *   3. With n_groups > 1: the experts form n_groups consecutive groups of
 *      n / n_groups; a group's score is the max of its choice values or the
 *      sum of its two largest (largest + second, in f32); the topk_groups
 *      best groups stay, the others' experts cannot be chosen.
 *   4. The top_k allowed experts by choice value, in descending order.
 *   5. weight = scores[e] (never the bias; SIGMOID_OF_TOPK: sigmoid(logit)).
 *   6. norm_topk_prob: each weight divided by (sum of the top_k weights,
 *      added in the order of step 4, + 1e-20), as transformers does.
 *   7. Each weight multiplied by routed_scaling_factor.
 * Ties (equal choice values, equal group scores) go to the lower index, so
 * the result is fully determined; torch.topk leaves ties unspecified.
 * Logits must be finite; a NaN choice value is never chosen, and when fewer
 * than top_k experts can be chosen the remaining slots get expert -1 and
 * weight 0. */
#ifndef VLM_KERNELS_REF_MOE_H
#define VLM_KERNELS_REF_MOE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum vlmi_moe_scoring {
    VLMI_MOE_SOFTMAX = 0,         /* softmax over all experts, then select */
    VLMI_MOE_SIGMOID = 1,         /* sigmoid per expert, then select */
    VLMI_MOE_SIGMOID_OF_TOPK = 2  /* select on the logits, weight = sigmoid */
} vlmi_moe_scoring;

typedef enum vlmi_moe_group_score {
    VLMI_MOE_GROUP_MAX = 0,       /* DeepSeek-V2: max of the group's choices */
    VLMI_MOE_GROUP_TOP2_SUM = 1   /* DeepSeek-V3: sum of the group's top 2 */
} vlmi_moe_group_score;

typedef struct vlmi_moe_router {
    size_t n_experts;
    size_t top_k;                     /* experts per token, 1 ..= n_experts */
    vlmi_moe_scoring scoring;
    const float *selection_bias;      /* (n_experts) added for selection only,
                                         or NULL (e_score_correction_bias) */
    size_t n_groups;                  /* 0 or 1: plain top-k; else divides n_experts */
    size_t topk_groups;               /* groups kept, 1 ..= n_groups (n_groups > 1) */
    vlmi_moe_group_score group_score;
    bool norm_topk_prob;
    float routed_scaling_factor;      /* 1: none */
} vlmi_moe_router;

/* True if the router's sizes are consistent: top_k in 1 ..= n_experts; with
 * groups, n_groups divides n_experts, topk_groups in 1 ..= n_groups, the kept
 * groups hold at least top_k experts, and TOP2_SUM groups hold >= 2. */
bool vlmi_moe_router_valid(const vlmi_moe_router *router);

/* Floats of scratch vlmi_moe_route needs: 2 * (n_experts + n_groups)
 * (2 * n_experts without groups). */
size_t vlmi_moe_route_scratch_floats(const vlmi_moe_router *router);

/* Routes n_tokens tokens (see the steps above); the router must be valid.
 * logits (n_tokens, n_experts) -> experts (n_tokens, top_k), in descending
 * choice order, and weights (n_tokens, top_k); scratch as above */
void vlmi_moe_route(int32_t *experts, float *weights, float *scratch, const float *logits,
                    size_t n_tokens, const vlmi_moe_router *router);

/* Groups routed tokens by expert: expert e's entries are [offsets[e],
 * offsets[e+1]), each a token index and its weight, tokens ascending (a
 * token appears at most once per expert); entries with expert -1 are left
 * out; offsets[n_experts] is the number of entries. Running the experts in
 * plan order and adding each weighted output into its token's row adds them
 * in the order transformers' experts loop does (ascending expert index).
 * experts, weights (n_tokens, top_k) -> offsets (n_experts + 1),
 * tokens (<= n_tokens * top_k), token_weights (<= n_tokens * top_k) */
void vlmi_moe_plan(size_t *offsets, int32_t *tokens, float *token_weights,
                   const int32_t *experts, const float *weights, size_t n_tokens,
                   size_t top_k, size_t n_experts);

#endif
