/* Loads the shared library the way a binding does (dlopen) and resolves every
 * symbol of the version script. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    void *lib = dlopen(VLM_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    FILE *map = fopen(VLM_MAPFILE, "r");
    if (!map) { fprintf(stderr, "cannot open %s\n", VLM_MAPFILE); return 1; }
    char line[256];
    int resolved = 0, missing = 0;
    while (fgets(line, sizeof line, map)) {
        char name[128];
        if (sscanf(line, " %127[a-z0-9_];", name) != 1 || strncmp(name, "vlm_", 4) != 0) continue;
        if (dlsym(lib, name)) resolved++;
        else { fprintf(stderr, "unresolved: %s\n", name); missing++; }
    }
    fclose(map);
    int (*version)(void) = (int (*)(void))dlsym(lib, "vlm_version_number");
    if (!version || version() <= 0) { fprintf(stderr, "vlm_version_number unusable\n"); missing++; }
    dlclose(lib);
    printf("%d symbols resolved, %d missing\n", resolved, missing);
    return missing == 0 && resolved > 0 ? 0 : 1;
}
