/* vlm-cli: a minimal PNG writer (8-bit RGB) on libpng, for --draw. The
 * library decodes images but has no public encoder; this one lives in the
 * example. */
#ifndef VLM_CLI_PNG_WRITE_H
#define VLM_CLI_PNG_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes width x height pixels of tightly packed RGB (rows top to bottom) to
 * out as an 8-bit RGB, non-interlaced PNG. Returns 0 on success; on failure
 * returns -1 and puts libpng's or the stream's reason in err (err_size
 * bytes, NUL-terminated). out stays open either way. */
int png_write_rgb8(FILE *out, const uint8_t *rgb, uint32_t width, uint32_t height, char *err,
                   size_t err_size);

#endif
