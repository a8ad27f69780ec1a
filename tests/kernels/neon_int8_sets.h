/* AArch64 only: the int8 instruction sets of the neon tier (base, dotprod,
 * i8mm; arm/arm.h) give the same bits, as quant_neon.c promises. Every set
 * this CPU runs, up to the one the neon table chose (VLM_NEON_INT8 caps it),
 * is compared with that one; under qemu -cpu max that is all three.
 * Included by test_kernels.c and test_kquant.c (after test.h). */
#ifndef VLM_TEST_NEON_INT8_SETS_H
#define VLM_TEST_NEON_INT8_SETS_H

#if defined(__aarch64__)
#include "arm/arm.h"

/* The set the neon table uses: its index in vlmi_neon_int8_set. */
static int neon_chosen_int8_set(void) {
    static const char *const names[] = {"base", "dotprod", "i8mm"};
    const vlmi_kernel_table *neon = vlmi_kernels_tier(VLMI_KERNELS_NEON);
    for (int s = 0; neon != NULL && neon->int8_variant != NULL && s < 3; s++)
        if (strcmp(neon->int8_variant, names[s]) == 0) return s;
    CHECK_MSG(0, "neon table without a known int8 variant");
    return 0;
}

/* matmul_q8 of (xq, w) in every set up to the chosen one equals want (the
 * neon table's matmul_q8 output, rows of n floats), bit for bit */
static void check_neon_int8_sets(const float *want, const void *xq, const void *w,
                                 vlm_dtype dtype, const float *bias, size_t m, size_t k,
                                 size_t n) {
    int chosen = neon_chosen_int8_set();
    float *got = malloc((m * n + 1) * sizeof(float));
    for (int s = 0; s <= chosen; s++) {
        vlmi_neon_matmul_q8((vlmi_neon_int8_set)s, got, n, xq, w, dtype, bias, m, k, n);
        CHECK_MSG(m * n == 0 || memcmp(got, want, m * n * sizeof(float)) == 0,
                  "neon int8 set %d differs from set %d: dtype %d m=%zu k=%zu n=%zu", s, chosen,
                  (int)dtype, m, k, n);
    }
    free(got);
}
#endif

#endif
