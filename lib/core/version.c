/* Version and build queries. */
#include "vlm-impl.h"
#include "dispatch.h"

#include <pthread.h>
#include <stdio.h>

#define VLMI_STR2(x) #x
#define VLMI_STR(x) VLMI_STR2(x)
#define VLMI_VERSION_STRING \
    VLMI_STR(VLM_VERSION_MAJOR) "." VLMI_STR(VLM_VERSION_MINOR) "." VLMI_STR(VLM_VERSION_PATCH)

int vlm_version_number(void) { return VLM_VERSION_NUMBER; }

const char *vlm_version_string(void) { return VLMI_VERSION_STRING; }

/* The kernel tier is chosen at run time (CPU, VLM_KERNELS), so the line is
 * made once on first use. */
static char build_info[256];
static pthread_once_t build_info_once = PTHREAD_ONCE_INIT;

static void make_build_info(void) {
    snprintf(build_info, sizeof build_info, "libvlm " VLMI_VERSION_STRING
#if defined(__clang__)
             " clang " __clang_version__
#elif defined(__GNUC__)
             " gcc " __VERSION__
#endif
             " kernels=%s"
#ifdef VLM_HAVE_OPENBLAS
             " blas=openblas"
#elif defined(VLM_HAVE_ACCELERATE)
             " blas=accelerate"
#else
             " blas=none"
#endif
             " images=jpeg,png", vlmi_kernels_name());
}

const char *vlm_build_info(void) {
    pthread_once(&build_info_once, make_build_info);
    return build_info;
}
