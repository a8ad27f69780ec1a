/* MoE routing (kernels/ref/moe.h) against the fixtures of
 * tests/gen/make_moe_reference.py (tests/data/moe/routing.txt: DeepSeek-V3,
 * DeepSeek-V2, Llama 4 and softmax routers, tied scores included): chosen
 * experts exactly, weights within MOE_WEIGHT_TOL; the plan that groups
 * tokens by expert; the router checks. The data folder comes from
 * VLM_TEST_DATA (cross/run-kernel-tests.sh sets it for qemu). */
#include "ref/moe.h"
#include "test.h"

#include <stdint.h>

/* |got - want| <= MOE_WEIGHT_TOL * max(1, |want|): both sides compute in f32
 * but sum the softmax in other orders (numpy sums pairwise); relative above
 * 1 because routed_scaling_factor (up to 16) scales the rounding too. */
#define MOE_WEIGHT_TOL 1e-6f

// ---- reading the fixtures ----

typedef struct reader {
    char *text;
    char *at;
} reader;

/* The next whitespace-separated token, skipping '#' comment lines; NULL at
 * the end. */
static const char *next_token(reader *r) {
    for (;;) {
        while (*r->at == ' ' || *r->at == '\n' || *r->at == '\t' || *r->at == '\r') r->at++;
        if (*r->at == '#') {
            while (*r->at && *r->at != '\n') r->at++;
            continue;
        }
        if (*r->at == '\0') return NULL;
        char *start = r->at;
        while (*r->at && *r->at != ' ' && *r->at != '\n' && *r->at != '\t' && *r->at != '\r') r->at++;
        if (*r->at) *r->at++ = '\0';
        return start;
    }
}

static bool expect(reader *r, const char *word) {
    const char *t = next_token(r);
    return t != NULL && strcmp(t, word) == 0;
}

static bool read_size(reader *r, const char *key, size_t *out) {
    const char *t;
    if (!expect(r, key) || (t = next_token(r)) == NULL) return false;
    *out = (size_t)strtoul(t, NULL, 10);
    return true;
}

static bool read_floats(reader *r, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *t = next_token(r);
        if (t == NULL) return false;
        out[i] = strtof(t, NULL);
    }
    return true;
}

typedef struct moe_case {
    char name[64];
    size_t n_tokens, top_k;
    vlmi_moe_router router;
    float *bias, *logits, *weights;
    int32_t *experts;
} moe_case;

static void free_case(moe_case *c) {
    free(c->bias);
    free(c->logits);
    free(c->weights);
    free(c->experts);
    memset(c, 0, sizeof *c);
}

/* Reads the next case; false at the end or on a malformed file (reported). */
static bool read_case(reader *r, moe_case *c) {
    memset(c, 0, sizeof *c);
    const char *t = next_token(r);
    if (t == NULL) return false;
    const char *name, *scoring, *group_score, *scale;
    size_t n_experts, n_groups, topk_groups, norm, has_bias;
    bool ok = strcmp(t, "case") == 0 && (name = next_token(r)) != NULL &&
              read_size(r, "tokens", &c->n_tokens) && read_size(r, "experts", &n_experts) &&
              read_size(r, "top_k", &c->top_k) && expect(r, "scoring") &&
              (scoring = next_token(r)) != NULL && read_size(r, "groups", &n_groups) &&
              read_size(r, "topk_groups", &topk_groups) && expect(r, "group_score") &&
              (group_score = next_token(r)) != NULL && read_size(r, "norm", &norm) &&
              expect(r, "scale") && (scale = next_token(r)) != NULL &&
              read_size(r, "bias", &has_bias);
    if (!ok) {
        CHECK_MSG(0, "routing.txt: malformed case header");
        return false;
    }
    snprintf(c->name, sizeof c->name, "%s", name);
    c->router = (vlmi_moe_router){
        .n_experts = n_experts,
        .top_k = c->top_k,
        .scoring = strcmp(scoring, "softmax") == 0   ? VLMI_MOE_SOFTMAX
                   : strcmp(scoring, "sigmoid") == 0 ? VLMI_MOE_SIGMOID
                                                     : VLMI_MOE_SIGMOID_OF_TOPK,
        .n_groups = n_groups,
        .topk_groups = topk_groups,
        .group_score = strcmp(group_score, "max") == 0 ? VLMI_MOE_GROUP_MAX
                                                       : VLMI_MOE_GROUP_TOP2_SUM,
        .norm_topk_prob = norm != 0,
        .routed_scaling_factor = strtof(scale, NULL),
    };
    size_t tk = c->n_tokens * c->top_k;
    c->logits = malloc(c->n_tokens * n_experts * sizeof(float));
    c->weights = malloc(tk * sizeof(float));
    c->experts = malloc(tk * sizeof(int32_t));
    if (has_bias) {
        c->bias = malloc(n_experts * sizeof(float));
        ok = read_floats(r, c->bias, n_experts);
        c->router.selection_bias = c->bias;
    }
    ok = ok && read_floats(r, c->logits, c->n_tokens * n_experts);
    for (size_t i = 0; ok && i < tk; i++) {
        const char *e = next_token(r);
        ok = e != NULL;
        if (ok) c->experts[i] = (int32_t)strtol(e, NULL, 10);
    }
    ok = ok && read_floats(r, c->weights, tk) && expect(r, "end");
    CHECK_MSG(ok, "routing.txt: case %s is malformed", c->name);
    return ok;
}

// ---- checks ----

/* Every (token, expert, weight) of the routing appears once in the plan,
 * grouped by expert with tokens ascending. */
static void check_plan(const moe_case *c, const int32_t *experts, const float *weights) {
    size_t n_experts = c->router.n_experts, tk = c->n_tokens * c->top_k;
    size_t *offsets = malloc((n_experts + 1) * sizeof(size_t));
    int32_t *tokens = malloc((tk + 1) * sizeof(int32_t));
    float *token_weights = malloc((tk + 1) * sizeof(float));
    vlmi_moe_plan(offsets, tokens, token_weights, experts, weights, c->n_tokens, c->top_k,
                  n_experts);
    bool ok = offsets[0] == 0 && offsets[n_experts] == tk;
    for (size_t e = 0; ok && e < n_experts; e++) {
        ok = offsets[e] <= offsets[e + 1];
        for (size_t i = offsets[e]; ok && i < offsets[e + 1]; i++) {
            if (i > offsets[e]) ok = tokens[i - 1] < tokens[i];
            /* the token chose e with this weight */
            size_t t = (size_t)tokens[i];
            bool found = false;
            for (size_t k = 0; k < c->top_k; k++)
                if (experts[t * c->top_k + k] == (int32_t)e)
                    found = weights[t * c->top_k + k] == token_weights[i];
            ok = ok && found;
        }
    }
    CHECK_MSG(ok, "%s: the plan does not match the routing", c->name);
    free(offsets);
    free(tokens);
    free(token_weights);
}

static int check_case(const moe_case *c) {
    CHECK_MSG(vlmi_moe_router_valid(&c->router), "%s: router not valid", c->name);
    size_t tk = c->n_tokens * c->top_k;
    int32_t *experts = malloc(tk * sizeof(int32_t));
    float *weights = malloc(tk * sizeof(float));
    float *scratch = malloc(vlmi_moe_route_scratch_floats(&c->router) * sizeof(float));
    vlmi_moe_route(experts, weights, scratch, c->logits, c->n_tokens, &c->router);
    int bad = 0;
    for (size_t i = 0; i < tk && bad < 3; i++) {
        float tol = MOE_WEIGHT_TOL * fmaxf(1.0f, fabsf(c->weights[i]));
        if (experts[i] != c->experts[i] || !(fabsf(weights[i] - c->weights[i]) <= tol)) {
            bad++;
            CHECK_MSG(0, "%s token %zu slot %zu: expert %d weight %.9g, want %d %.9g", c->name,
                      i / c->top_k, i % c->top_k, experts[i], weights[i], c->experts[i],
                      c->weights[i]);
        }
    }
    test_checks++;
    check_plan(c, experts, weights);
    free(experts);
    free(weights);
    free(scratch);
    return bad;
}

static void test_fixtures(const char *data_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/moe/routing.txt", data_dir);
    size_t size = 0;
    unsigned char *bytes = test_read_file(path, &size);
    CHECK_MSG(bytes != NULL, "cannot read %s", path);
    if (bytes == NULL) return;
    char *text = malloc(size + 1); /* the reader stops at a NUL */
    memcpy(text, bytes, size);
    text[size] = '\0';
    free(bytes);
    reader r = {.text = text, .at = text};
    int n_cases = 0;
    moe_case c;
    while (read_case(&r, &c)) {
        check_case(&c);
        free_case(&c);
        n_cases++;
    }
    free_case(&c);
    CHECK_MSG(n_cases >= 10, "only %d cases in %s", n_cases, path);
    printf("%d routing cases\n", n_cases);
    free(text);
}

/* Hand-checked corners: all-equal logits pick the lowest indices; a NaN
 * logit is never chosen, and too few candidates leave -1 / 0. */
static void test_corners(void) {
    float logits[8] = {1, 1, 1, 1, 1, 1, 1, 1}, scratch[32], weights[4];
    int32_t experts[4];
    vlmi_moe_router r = {.n_experts = 8, .top_k = 3, .scoring = VLMI_MOE_SIGMOID,
                         .n_groups = 4, .topk_groups = 2,
                         .group_score = VLMI_MOE_GROUP_TOP2_SUM, .norm_topk_prob = true,
                         .routed_scaling_factor = 1.0f};
    CHECK(vlmi_moe_route_scratch_floats(&r) <= 32);
    vlmi_moe_route(experts, weights, scratch, logits, 1, &r);
    CHECK(experts[0] == 0 && experts[1] == 1 && experts[2] == 2);
    CHECK(fabsf(weights[0] - 1.0f / 3.0f) <= 1e-7f);

    vlmi_moe_router flat = {.n_experts = 4, .top_k = 4, .scoring = VLMI_MOE_SIGMOID_OF_TOPK,
                            .routed_scaling_factor = 1.0f};
    float with_nan[4] = {0.0f, NAN, 2.0f, 2.0f};
    vlmi_moe_route(experts, weights, scratch, with_nan, 1, &flat);
    CHECK(experts[0] == 2 && experts[1] == 3 && experts[2] == 0 && experts[3] == -1);
    CHECK(weights[3] == 0.0f && weights[2] == 0.5f);

    /* the checks */
    CHECK(vlmi_moe_router_valid(&r));
    vlmi_moe_router bad = r;
    bad.top_k = 5; /* 2 groups of 2 hold 4 */
    CHECK(!vlmi_moe_router_valid(&bad));
    bad = r;
    bad.n_groups = 3;
    CHECK(!vlmi_moe_router_valid(&bad));
    bad = r;
    bad.n_groups = 8; /* groups of 1 have no top 2 */
    bad.topk_groups = 4;
    CHECK(!vlmi_moe_router_valid(&bad));
    bad.group_score = VLMI_MOE_GROUP_MAX;
    CHECK(vlmi_moe_router_valid(&bad));
    bad = r;
    bad.top_k = 0;
    CHECK(!vlmi_moe_router_valid(&bad));
    CHECK(!vlmi_moe_router_valid(NULL));

    /* no tokens: an empty plan */
    size_t offsets[9];
    vlmi_moe_plan(offsets, NULL, NULL, NULL, NULL, 0, 3, 8);
    bool empty = true;
    for (size_t e = 0; e <= 8; e++) empty = empty && offsets[e] == 0;
    CHECK(empty);
}

int main(int argc, char **argv) {
    const char *data_dir = argc > 1 ? argv[1] : getenv("VLM_TEST_DATA");
    test_corners();
    if (data_dir == NULL) {
        fprintf(stderr, "test_moe: set VLM_TEST_DATA or pass the tests/data folder\n");
        return 1;
    }
    test_fixtures(data_dir);
    return test_finish("moe");
}
