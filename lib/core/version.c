/* Version and build queries. */
#include "vlm-impl.h"

#define VLMI_STR2(x) #x
#define VLMI_STR(x) VLMI_STR2(x)

int vlm_version_number(void) { return VLM_VERSION_NUMBER; }

const char *vlm_version_string(void) {
    return VLMI_STR(VLM_VERSION_MAJOR) "." VLMI_STR(VLM_VERSION_MINOR) "." VLMI_STR(VLM_VERSION_PATCH);
}

const char *vlm_build_info(void) {
    return "libvlm " VLMI_STR(VLM_VERSION_MAJOR) "." VLMI_STR(VLM_VERSION_MINOR) "."
        VLMI_STR(VLM_VERSION_PATCH)
#if defined(__clang__)
        " clang " __clang_version__
#elif defined(__GNUC__)
        " gcc " __VERSION__
#endif
        " kernels=ref"
#ifdef VLM_HAVE_OPENBLAS
        " blas=openblas"
#else
        " blas=none"
#endif
        " images=jpeg,png";
}
