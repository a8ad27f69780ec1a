/* The weight quantizers (kernels/ref/quantize.c): blocks bit-identical to
 * independent references (gguf-py for Q8_0, Q4_0 and Q5_0, ggml's own
 * quantize_row_q4_K_ref for Q4_K; tests/gen/make_quantize_reference.py), and
 * quantize -> dequantize round trips within each type's error bound. */
#include "io/dtype.h"
#include "dispatch.h"
#include "kernels.h"
#include "ref/quantize.h"
#include "test.h"

#define ROWS 48
#define COLS 512

static float *input;

static unsigned char *read_data(const char *name, size_t expected_size) {
    const char *dir = getenv("VLM_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/quantize/%s", dir ? dir : "tests/data", name);
    size_t size = 0;
    unsigned char *data = test_read_file(path, &size);
    CHECK_MSG(data != NULL && size == expected_size, "%s: %zu bytes, expected %zu", path, size,
              expected_size);
    if (data != NULL && size != expected_size) { free(data); data = NULL; }
    return data;
}

/* Every row of the input through quantize, compared with the reference file
 * byte for byte; reports the first differing block. */
static void check_identical(vlm_dtype dtype, const char *file, size_t block_elems,
                            size_t block_bytes) {
    size_t row_bytes = COLS / block_elems * block_bytes;
    unsigned char *expected = read_data(file, ROWS * row_bytes);
    unsigned char *ours = malloc(row_bytes);
    if (expected == NULL || ours == NULL) { free(expected); free(ours); return; }
    size_t differing = 0;
    for (size_t r = 0; r < ROWS; r++) {
        vlmi_quantize_fn_for(dtype)(ours, input + r * COLS, COLS);
        for (size_t b = 0; b < COLS / block_elems; b++) {
            if (memcmp(ours + b * block_bytes, expected + r * row_bytes + b * block_bytes,
                       block_bytes) == 0)
                continue;
            if (differing++ == 0)
                fprintf(stderr, "%s: row %zu block %zu differs from the reference\n", file, r, b);
        }
    }
    CHECK_MSG(differing == 0, "%s: %zu blocks differ", file, differing);
    free(ours);
    free(expected);
}

/* Largest |x| of each block of x. */
static float block_amax(const float *x, size_t n) {
    float amax = 0;
    for (size_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    return amax;
}

/* quantize -> dequantize of every row: each element within
 * bound_of_amax * (its block's largest |x|) + abs_floor, and the whole
 * input's relative RMS error within rms_bound. Blocks whose f16 scale would
 * fall below f16's normal range (amax under min_amax) are left to the
 * bit-identity check: there the format itself loses the scale's precision. */
static void check_round_trip(vlm_dtype dtype, size_t block_elems, double bound_of_amax,
                             double abs_floor, double min_amax, double rms_bound) {
    size_t row_bytes = vlmi_kernels_row_bytes(dtype, COLS);
    unsigned char *q = malloc(row_bytes);
    float *back = malloc(COLS * sizeof *back);
    double err2 = 0, ref2 = 0, worst = 0;
    for (size_t r = 0; r < ROWS; r++) {
        const float *x = input + r * COLS;
        vlmi_quantize_fn_for(dtype)(q, x, COLS);
        vlmi_dequant_fn_for(dtype)(back, q, COLS);
        for (size_t i = 0; i < COLS; i++) {
            float amax = block_amax(x + i / block_elems * block_elems, block_elems);
            double e = fabs((double)back[i] - x[i]);
            if (amax < min_amax) continue;
            err2 += e * e;
            ref2 += (double)x[i] * x[i];
            if (amax > 0 && e / amax > worst) worst = e / amax;
            CHECK_MSG(e <= bound_of_amax * amax + abs_floor,
                      "%s row %zu [%zu]: %g back as %g (block amax %g)",
                      vlmi_dtype_name(dtype), r, i, x[i], back[i], amax);
        }
    }
    double rms = sqrt(err2 / ref2);
    printf("%s: worst error %.4f of the block's amax, relative RMS error %.4f\n",
           vlmi_dtype_name(dtype), worst, rms);
    CHECK(rms <= rms_bound);
    free(q);
    free(back);
}

int main(void) {
    input = (float *)read_data("input.f32", ROWS * COLS * sizeof(float));
    if (input == NULL) return test_finish("quantize");

    check_identical(VLM_DTYPE_Q8_0, "q8_0.bin", VLMI_QK, VLMI_Q8_0_BLOCK_BYTES);
    check_identical(VLM_DTYPE_Q4_0, "q4_0.bin", VLMI_QK, VLMI_Q4_0_BLOCK_BYTES);
    check_identical(VLM_DTYPE_Q5_0, "q5_0.bin", VLMI_QK, VLMI_Q5_0_BLOCK_BYTES);
    check_identical(VLM_DTYPE_Q4_K, "q4_k.bin", VLMI_QK_K, VLMI_Q4_K_BLOCK_BYTES);

    /* F16: relative rounding 2^-11; half the subnormal spacing 2^-24 below
     * the normal range */
    check_round_trip(VLM_DTYPE_F16, 1, 1.0 / 2048, 0x1p-25, 0, 1.0 / 2048);
    /* Q8_0: half a step of amax/127, plus the f16 rounding of d over 127 steps */
    check_round_trip(VLM_DTYPE_Q8_0, VLMI_QK, 1.0 / 254 + 1.0 / 2048 + 1e-6, 0, 127 * 0x1p-14,
                     0.003);
    /* Q4_0: the extreme opposite the max clamps from 8 to 7, one step of amax/8,
     * plus the f16 rounding of d over 8 steps */
    check_round_trip(VLM_DTYPE_Q4_0, VLMI_QK, 1.0 / 8 + 1.0 / 2048, 0, 8 * 0x1p-14, 0.02);
    /* Q5_0: as Q4_0 with steps of amax/16 */
    check_round_trip(VLM_DTYPE_Q5_0, VLMI_QK, 1.0 / 16 + 1.0 / 2048, 0, 16 * 0x1p-14, 0.01);
    /* Q4_K: 16 levels over each group's range (at most 2 amax of the 256),
     * half a level plus the 6-bit scale and min rounding */
    check_round_trip(VLM_DTYPE_Q4_K, VLMI_QK_K, 2.0 / 15, 0, 63 * 15 * 0x1p-14, 0.015);

    /* no quantizer for a type the writer does not produce */
    CHECK(vlmi_quantize_fn_for(VLM_DTYPE_Q6_K) == NULL);
    CHECK(vlmi_quantize_fn_for(VLM_DTYPE_BF16) == NULL);
    free(input);
    return test_finish("quantize");
}
