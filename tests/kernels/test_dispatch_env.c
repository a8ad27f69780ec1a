/* VLM_KERNELS forces a tier when this build and CPU can run it, and is
 * ignored otherwise: run with the variable set and the tier it names as the
 * argument (meson sets both). */
#include "dispatch.h"
#include "test.h"

/* The tier the automatic choice makes: the best one available. */
static const char *best_tier_name(void) {
    const char *best = "ref";
    for (int t = 0; t < VLMI_KERNELS_TIER_COUNT; t++) {
        const vlmi_kernel_table *tab = vlmi_kernels_tier((vlmi_kernel_tier)t);
        if (tab != NULL) best = tab->name;
    }
    return best;
}

int main(int argc, char **argv) {
    const char *requested = argc > 1 ? argv[1] : "";
    const char *env = getenv("VLM_KERNELS");
    CHECK(env == NULL || strcmp(env, requested) == 0);
    bool runnable = false;
    for (int t = 0; t < VLMI_KERNELS_TIER_COUNT; t++) {
        const vlmi_kernel_table *tab = vlmi_kernels_tier((vlmi_kernel_tier)t);
        if (tab != NULL && strcmp(tab->name, requested) == 0) runnable = true;
    }
    const char *expected = runnable ? requested : best_tier_name();
    CHECK_MSG(strcmp(vlmi_kernels_name(), expected) == 0, "VLM_KERNELS=%s chose %s, expected %s",
              requested, vlmi_kernels_name(), expected);
    /* the choice is made once */
    CHECK(vlmi_kernels() == vlmi_kernels());
    return test_finish("dispatch_env");
}
