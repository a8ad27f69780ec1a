/* vlm-cli: 8-bit RGB PNG output with libpng. libpng reports errors by
 * calling on_error, which records the message and longjmps back to
 * png_write_rgb8; warnings are dropped so that nothing is printed behind the
 * caller's back. */
#include "png_write.h"

#include <errno.h>
#include <setjmp.h>
#include <string.h>

#include <png.h>

typedef struct png_writer {
    char *err;
    size_t err_size;
} png_writer;

static void set_error(png_writer *w, const char *message) {
    if (w->err_size == 0) return;
    snprintf(w->err, w->err_size, "%s", message);
}

static void on_error(png_structp png, png_const_charp message) {
    set_error(png_get_error_ptr(png), message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

int png_write_rgb8(FILE *out, const uint8_t *rgb, uint32_t width, uint32_t height, char *err,
                   size_t err_size) {
    png_writer w = {err, err_size};
    set_error(&w, "");
    if (out == NULL || rgb == NULL || width == 0 || height == 0) {
        set_error(&w, "no image to write");
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w, on_error, on_warning);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        set_error(&w, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, out);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)width * 3;
    for (uint32_t y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(rgb + (size_t)y * stride));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fflush(out) != 0 || ferror(out)) {
        set_error(&w, errno != 0 ? strerror(errno) : "write error");
        return -1;
    }
    return 0;
}
