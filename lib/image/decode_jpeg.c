/* JPEG decoding with libjpeg(-turbo), set up as Pillow's JpegDecode.c sets
 * it up (default ISLOW DCT, fancy upsampling; 1 component -> gray, 3 -> RGB,
 * 4 -> CMYK read with Adobe's inverted polarity), so pixels are identical.
 * libjpeg reports errors by calling error_exit, which must not return: ours
 * longjmps back here, so the library never exits or prints. */
#include "image/image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* Progressive files can hold thousands of tiny scans that each cost a pass
 * over the coefficients (a known denial of service); TurboJPEG's suggested
 * limit. */
#define MAX_SCANS 500

typedef struct jpeg_job {
    struct jpeg_error_mgr error;     /* first: libjpeg casts cinfo->err to us */
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    bool data_ended;                 /* libjpeg ran out of input and faked an EOI */
    struct jpeg_progress_mgr progress;
    struct jpeg_decompress_struct cinfo;
    bool created;
    uint8_t *row;                    /* CMYK row buffer */
    uint8_t *exif;                   /* concatenated EXIF APP1 payloads */
    vlm_image *image;
} jpeg_job;

static void on_error_exit(j_common_ptr cinfo) {
    jpeg_job *job = (jpeg_job *)cinfo->err;
    job->error.format_message(cinfo, job->message);
    longjmp(job->jump, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level) {
    jpeg_job *job = (jpeg_job *)cinfo->err;
    if (level >= 0) return;  /* trace messages */
    /* Warnings on corrupt data are tolerated, as by Pillow; running out of
     * data is not (Pillow raises "image file is truncated"). */
    if (job->error.msg_code == JWRN_JPEG_EOF) job->data_ended = true;
    job->error.num_warnings++;
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void on_progress(j_common_ptr cinfo) {
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    jpeg_job *job = (jpeg_job *)cinfo->err;
    if (d->input_scan_number > MAX_SCANS) {
        snprintf(job->message, sizeof job->message, "more than %d progressive scans",
                 MAX_SCANS);
        longjmp(job->jump, 1);
    }
}

bool vlmi_is_jpeg(const uint8_t *data, size_t size) {
    /* Pillow's JpegImagePlugin._accept. */
    return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

/* EXIF: every APP1 "Exif\0\0" payload, the later ones appended without their
 * header (Pillow's APP handler); XMP: the last XMP APP1 segment. */
static int marker_orientation(jpeg_job *job) {
    static const char xmp_id[] = "http://ns.adobe.com/xap/1.0/";
    size_t exif_size = 0;
    const uint8_t *xmp = NULL;
    size_t xmp_size = 0;
    for (jpeg_saved_marker_ptr m = job->cinfo.marker_list; m != NULL; m = m->next) {
        if (m->marker != JPEG_APP0 + 1) continue;
        if (m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            size_t skip = exif_size == 0 ? 0 : 6;
            size_t add = m->data_length - skip;
            uint8_t *grown = realloc(job->exif, exif_size + add);
            if (grown == NULL) break;  /* keep what we have: orientation is best effort */
            job->exif = grown;
            memcpy(job->exif + exif_size, m->data + skip, add);
            exif_size += add;
        } else if (m->data_length >= sizeof xmp_id &&
                   memcmp(m->data, xmp_id, sizeof xmp_id) == 0) {
            xmp = m->data;
            xmp_size = m->data_length;
        }
    }
    int orientation = vlmi_exif_orientation(job->exif, exif_size);
    if (orientation < 0) orientation = vlmi_xmp_orientation(xmp, xmp_size);
    return orientation;
}

/* Everything that can longjmp happens here; job outlives the jump. */
static vlm_status decode(jpeg_job *job, const uint8_t *data, size_t size,
                         const vlmi_decode_options *opts, const char *what,
                         int *orientation) {
    if (setjmp(job->jump)) {
        if (job->data_ended)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: truncated JPEG data", what);
        return vlmi_fail(VLM_ERR_FORMAT, "%s: corrupt JPEG: %s", what, job->message);
    }
    struct jpeg_decompress_struct *cinfo = &job->cinfo;
    cinfo->err = jpeg_std_error(&job->error);
    job->error.error_exit = on_error_exit;
    job->error.emit_message = on_emit_message;
    job->error.output_message = on_output_message;
    jpeg_create_decompress(cinfo);
    job->created = true;
    job->progress.progress_monitor = on_progress;
    cinfo->progress = &job->progress;
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    if (opts->apply_exif_orientation) jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);

    if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: JPEG holds no image", what);
    if (job->data_ended) return vlmi_fail(VLM_ERR_FORMAT, "%s: truncated JPEG header", what);
    switch (cinfo->num_components) {
    case 1: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case 3: cinfo->out_color_space = JCS_RGB; break;
    case 4: cinfo->out_color_space = JCS_CMYK; break;
    default:
        return vlmi_fail(VLM_ERR_FORMAT, "%s: JPEG with %d components", what,
                         cinfo->num_components);
    }
    vlm_status st = vlmi_image_check_size(cinfo->image_width, cinfo->image_height,
                                          opts->max_pixels, what);
    if (st != VLM_OK) return st;
    *orientation = opts->apply_exif_orientation ? marker_orientation(job) : 0;

    jpeg_start_decompress(cinfo);
    if (job->data_ended) return vlmi_fail(VLM_ERR_FORMAT, "%s: truncated JPEG data", what);
    uint32_t width = cinfo->output_width, height = cinfo->output_height;
    st = vlmi_image_new(width, height, VLM_IMAGE_FORMAT_JPEG, opts->max_pixels, what,
                        &job->image);
    if (st != VLM_OK) return st;
    if (cinfo->output_components == 4) {
        job->row = vlmi_calloc(width, 4);
        if (job->row == NULL) return VLM_ERR_OUT_OF_MEMORY;
    }
    while (cinfo->output_scanline < height) {
        uint8_t *rgb = job->image->pixels + (size_t)cinfo->output_scanline * width * 3;
        JSAMPROW row = cinfo->output_components == 4 ? job->row : rgb;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1 || job->data_ended)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: truncated JPEG data", what);
        if (cinfo->output_components == 4) {
            vlmi_row_adobe_cmyk_to_rgb(rgb, job->row, width);
        } else if (cinfo->output_components == 1) {
            for (uint32_t x = width; x-- > 0;)  /* in place, right to left */
                rgb[3 * x] = rgb[3 * x + 1] = rgb[3 * x + 2] = rgb[x];
        }
    }
    /* All rows arrived: a missing EOI after them is fine (as in Pillow). */
    jpeg_finish_decompress(cinfo);
    return VLM_OK;
}

vlm_status vlmi_decode_jpeg(const uint8_t *data, size_t size, const vlmi_decode_options *opts,
                            const char *what, vlm_image **out) {
    *out = NULL;
    jpeg_job *job = vlmi_calloc(1, sizeof *job);
    if (job == NULL) return VLM_ERR_OUT_OF_MEMORY;
    int orientation = 0;
    vlm_status st = decode(job, data, size, opts, what, &orientation);
    if (job->created) jpeg_destroy_decompress(&job->cinfo);
    free(job->row);
    free(job->exif);
    if (st == VLM_OK) st = vlmi_image_apply_orientation(&job->image, orientation);
    if (st == VLM_OK) *out = job->image;
    else vlm_image_free(job->image);
    free(job);
    return st;
}
