/* Reference kernels on small hand-computable inputs, plus properties. */
#include "ref/ops.h"
#include "test.h"

#define NEAR(a, b, tol) (fabsf((float)(a) - (float)(b)) <= (tol))

static void test_matmul(void) {
    // x (2,3) @ W (2,3)^T + b (2,) -> (2,2)
    const float x[6] = {1, 2, 3, -1, 0, 2};
    const float w[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
    const float b[2] = {10, -10};
    float y[4];
    vlmi_ref_matmul(y, x, w, VLM_DTYPE_F32, b, 2, 3, 2);
    CHECK(y[0] == 8.0f && y[1] == -7.0f && y[2] == 7.0f && y[3] == -9.5f);
    vlmi_ref_matmul(y, x, w, VLM_DTYPE_F32, NULL, 2, 3, 2);
    CHECK(y[0] == -2.0f && y[1] == 3.0f && y[2] == -3.0f && y[3] == 0.5f);

    /* the same weight as bf16 and f16 bit patterns gives the same result */
    const uint16_t w_bf16[6] = {0x3f80, 0x0000, 0xbf80, 0x3f00, 0x3f00, 0x3f00};
    const uint16_t w_f16[6] = {0x3c00, 0x0000, 0xbc00, 0x3800, 0x3800, 0x3800};
    float y2[4];
    vlmi_ref_matmul(y2, x, w_bf16, VLM_DTYPE_BF16, b, 2, 3, 2);
    CHECK(y2[0] == 8.0f && y2[1] == -7.0f && y2[2] == 7.0f && y2[3] == -9.5f);
    vlmi_ref_matmul(y2, x, w_f16, VLM_DTYPE_F16, b, 2, 3, 2);
    CHECK(y2[0] == 8.0f && y2[1] == -7.0f && y2[2] == 7.0f && y2[3] == -9.5f);

    /* an unaligned weight pointer reads the same values */
    unsigned char buf[sizeof w + 1];
    memcpy(buf + 1, w, sizeof w);
    vlmi_ref_matmul(y2, x, buf + 1, VLM_DTYPE_F32, b, 2, 3, 2);
    CHECK(y2[0] == 8.0f && y2[3] == -9.5f);

    CHECK(vlmi_ref_weight_dtype_supported(VLM_DTYPE_F32));
    CHECK(vlmi_ref_weight_dtype_supported(VLM_DTYPE_BF16));
    CHECK(vlmi_ref_weight_dtype_supported(VLM_DTYPE_Q4_0));
    CHECK(!vlmi_ref_weight_dtype_supported(VLM_DTYPE_Q5_K)); /* no kernel reads it */
}

static void test_weight_row(void) {
    /* f16 specials: 65504 (max), 2^-24 (smallest subnormal), -0, inf */
    const uint16_t h[4] = {0x7bff, 0x0001, 0x8000, 0x7c00};
    float out[4];
    vlmi_ref_weight_row(out, h, VLM_DTYPE_F16, 0, 4);
    CHECK(out[0] == 65504.0f);
    CHECK(out[1] == ldexpf(1.0f, -24));
    CHECK(out[2] == 0.0f && signbit(out[2]));
    CHECK(isinf(out[3]));
    const uint16_t bf[4] = {0x3f80, 0x4000, 0x4040, 0x4080}; /* 1 2 3 4 */
    vlmi_ref_weight_row(out, bf, VLM_DTYPE_BF16, 1, 2);
    CHECK(out[0] == 3.0f && out[1] == 4.0f);
}

static void test_norms(void) {
    // rmsnorm [3,4]: mean square 12.5
    const float x[2] = {3, 4}, w[2] = {1, 2};
    float y[2];
    vlmi_ref_rmsnorm(y, x, w, 1, 2, 0.0f);
    CHECK(NEAR(y[0], 3 / sqrtf(12.5f), 1e-6f) && NEAR(y[1], 8 / sqrtf(12.5f), 1e-6f));
    /* in place, two rows */
    float rows[4] = {3, 4, -3, -4};
    vlmi_ref_rmsnorm(rows, rows, w, 2, 2, 0.0f);
    CHECK(NEAR(rows[2], -y[0], 1e-6f) && NEAR(rows[3], -y[1], 1e-6f));
    /* eps keeps a zero row finite */
    float zero[2] = {0, 0};
    vlmi_ref_rmsnorm(zero, zero, w, 1, 2, 1e-5f);
    CHECK(zero[0] == 0.0f && zero[1] == 0.0f);

    // layernorm [1,2,3,4]: mean 2.5, biased variance 1.25
    const float lx[4] = {1, 2, 3, 4}, lw[4] = {1, 1, 2, 2}, lb[4] = {0, 1, 0, 1};
    float ly[4];
    vlmi_ref_layernorm(ly, lx, lw, lb, 1, 4, 0.0f);
    float s = 1.0f / sqrtf(1.25f);
    CHECK(NEAR(ly[0], -1.5f * s, 1e-6f) && NEAR(ly[1], -0.5f * s + 1, 1e-6f));
    CHECK(NEAR(ly[2], 2 * 0.5f * s, 1e-6f) && NEAR(ly[3], 2 * 1.5f * s + 1, 1e-6f));
    /* output has zero mean and unit variance for unit weight, zero bias */
    const float one[4] = {1, 1, 1, 1}, nil[4] = {0, 0, 0, 0};
    const float big[4] = {1000.5f, 1001.5f, 999.0f, 1003.0f};
    vlmi_ref_layernorm(ly, big, one, nil, 1, 4, 0.0f);
    float mean = (ly[0] + ly[1] + ly[2] + ly[3]) / 4;
    float var = (ly[0] * ly[0] + ly[1] * ly[1] + ly[2] * ly[2] + ly[3] * ly[3]) / 4;
    CHECK(NEAR(mean, 0, 1e-5f) && NEAR(var, 1, 1e-4f));
}

static void test_activations(void) {
    const float x[4] = {0, 1, -1, 3};
    float y[4];
    vlmi_ref_gelu_tanh(y, x, 4);
    CHECK(y[0] == 0.0f);
    CHECK(NEAR(y[1], 0.8411920f, 1e-6f) && NEAR(y[2], -0.1588080f, 1e-6f));
    CHECK(NEAR(y[3], 2.9963627f, 1e-6f));
    vlmi_ref_gelu_erf(y, x, 4);
    CHECK(y[0] == 0.0f);
    CHECK(NEAR(y[1], 0.8413447f, 1e-6f) && NEAR(y[2], -0.1586553f, 1e-6f));
    CHECK(NEAR(y[3], 2.9959502f, 1e-6f));
    vlmi_ref_silu(y, x, 4);
    CHECK(y[0] == 0.0f && NEAR(y[1], 0.7310586f, 1e-6f) && NEAR(y[2], -0.2689414f, 1e-6f));
    const float up[4] = {2, 2, 2, 0};
    vlmi_ref_silu_mul(y, x, up, 4);
    CHECK(NEAR(y[1], 2 * 0.7310586f, 1e-6f) && y[3] == 0.0f);
    float acc[2] = {1, 2};
    vlmi_ref_add(acc, x + 1, 2);
    CHECK(acc[0] == 2.0f && acc[1] == 1.0f);
}

static void test_softmax(void) {
    float x[3] = {1, 2, 3};
    vlmi_ref_softmax(x, 3);
    float e = expf(1), e2 = expf(2);
    float z = 1 + e + e2;
    CHECK(NEAR(x[0], 1 / z, 1e-6f) && NEAR(x[1], e / z, 1e-6f) && NEAR(x[2], e2 / z, 1e-6f));
    CHECK(NEAR(x[0] + x[1] + x[2], 1, 1e-6f));
    /* large inputs do not overflow, and a shift changes nothing */
    float big[3] = {1001, 1002, 1003};
    vlmi_ref_softmax(big, 3);
    CHECK(NEAR(big[0], x[0], 1e-6f) && NEAR(big[2], x[2], 1e-6f));
    float single[1] = {-50};
    vlmi_ref_softmax(single, 1);
    CHECK(single[0] == 1.0f);
    float many[100];
    for (int i = 0; i < 100; i++) many[i] = sinf((float)i) * 20;
    vlmi_ref_softmax(many, 100);
    float sum = 0;
    for (int i = 0; i < 100; i++) { sum += many[i]; CHECK(many[i] >= 0); }
    CHECK(NEAR(sum, 1, 1e-5f));
}

static void test_rope(void) {
    /* head_dim 2: pair (0,1) rotates by pos radians (inv_freq = 1) */
    float x[4] = {1, 0, 1, 0}; /* rows at positions 0 and 1 */
    vlmi_ref_rope(x, 2, 1, 2, 0, 10000.0f);
    CHECK(x[0] == 1.0f && x[1] == 0.0f);
    CHECK(NEAR(x[2], cosf(1), 1e-7f) && NEAR(x[3], sinf(1), 1e-7f));
    /* head_dim 4, two heads, position 3: pairs (0,2) at freq 1, (1,3) at theta^-1/2 */
    float h[8] = {1, 2, 3, 4, 1, 2, 3, 4};
    vlmi_ref_rope(h, 1, 2, 4, 3, 100.0f);
    float a0 = 3, a1 = 3 * 0.1f;
    CHECK(NEAR(h[0], 1 * cosf(a0) - 3 * sinf(a0), 1e-6f));
    CHECK(NEAR(h[2], 3 * cosf(a0) + 1 * sinf(a0), 1e-6f));
    CHECK(NEAR(h[1], 2 * cosf(a1) - 4 * sinf(a1), 1e-6f));
    CHECK(NEAR(h[3], 4 * cosf(a1) + 2 * sinf(a1), 1e-6f));
    CHECK(h[4] == h[0] && h[7] == h[3]);
    /* rotation preserves the norm */
    CHECK(NEAR(h[0] * h[0] + h[1] * h[1] + h[2] * h[2] + h[3] * h[3], 30, 1e-4f));
}

static void test_attention(void) {
    float scores[4];
    /* one key: the output is its value, whatever the query */
    const float q1[2] = {5, -3}, k1[2] = {1, 1}, v1[2] = {7, 8};
    float o[4];
    vlmi_ref_attention(o, scores, q1, k1, v1, 1, 1, 1, 1, 2, 0, true, 0.5f);
    CHECK(o[0] == 7.0f && o[1] == 8.0f);

    /* zero queries weight keys evenly: bidirectional averages all values,
     * causal row i averages values 0..i */
    const float qz[4] = {0, 0, 0, 0};
    const float k[6] = {1, 2, 3, 4, 5, 6};
    const float v[6] = {1, 10, 2, 20, 6, 60};
    float ob[4];
    vlmi_ref_attention(ob, scores, qz, k, v, 2, 3, 1, 1, 2, 0, false, 1.0f);
    CHECK(NEAR(ob[0], 3, 1e-6f) && NEAR(ob[1], 30, 1e-5f) && NEAR(ob[2], 3, 1e-6f));
    vlmi_ref_attention(ob, scores, qz, k, v, 2, 3, 1, 1, 2, 0, true, 1.0f);
    CHECK(ob[0] == 1.0f && ob[1] == 10.0f);
    CHECK(NEAR(ob[2], 1.5f, 1e-6f) && NEAR(ob[3], 15, 1e-5f));
    /* a single query at position 2 (decode with a cache) sees all three */
    vlmi_ref_attention(ob, scores, qz, k, v, 1, 3, 1, 1, 2, 2, true, 1.0f);
    CHECK(NEAR(ob[0], 3, 1e-6f));

    /* hand-computed weights: q=(1,0), keys (0,0),(ln 3,0) -> softmax 1/4, 3/4 */
    const float q2[2] = {1, 0}, k2[4] = {0, 0, logf(3), 0}, v2[4] = {4, 0, 0, 8};
    vlmi_ref_attention(o, scores, q2, k2, v2, 1, 2, 1, 1, 2, 0, false, 1.0f);
    CHECK(NEAR(o[0], 1, 1e-6f) && NEAR(o[1], 6, 1e-5f));

    /* GQA: 2 query heads share 1 KV head; scale multiplies the logits */
    const float qg[4] = {1, 0, 0, 0}; /* head 0 = q2, head 1 = zero */
    float og[4];
    vlmi_ref_attention(og, scores, qg, k2, v2, 1, 2, 2, 1, 2, 0, false, 1.0f);
    CHECK(NEAR(og[0], 1, 1e-6f) && NEAR(og[1], 6, 1e-5f));
    CHECK(NEAR(og[2], 2, 1e-6f) && NEAR(og[3], 4, 1e-6f));
    /* 2 KV heads: query head 1 reads the second head's keys and values */
    const float kk[4] = {0, 0, 9, 9}, vv[4] = {1, 2, 3, 4};
    vlmi_ref_attention(og, scores, qg, kk, vv, 1, 1, 2, 2, 2, 0, false, 1.0f);
    CHECK(og[0] == 1.0f && og[1] == 2.0f && og[2] == 3.0f && og[3] == 4.0f);
}

int main(void) {
    test_matmul();
    test_weight_row();
    test_norms();
    test_activations();
    test_softmax();
    test_rope();
    test_attention();
    return test_finish("kernels_ref");
}
