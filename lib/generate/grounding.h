/* Grounding answers as data: the tolerant reader behind vlm_parse_grounding
 * (vlm.h documents what it accepts). Pure functions, no allocation. */
#ifndef VLM_GENERATE_GROUNDING_H
#define VLM_GENERATE_GROUNDING_H

#include "vlm-impl.h"

/* Answers longer than this are refused (VLM_ERR_LIMIT): a model's answer is
 * a few kilobytes, and the parse is linear but should stay cheap. */
#define VLMI_GROUNDING_MAX_ANSWER (16u * 1024u * 1024u)
/* Lists nested deeper than this (inside an object or around objects) are
 * skipped, not followed: recursion stays bounded on hostile input. */
#define VLMI_GROUNDING_MAX_DEPTH 16

/* Maps the model's coordinates to the original image: per axis scale, then
 * clamp to [0, image side]. */
typedef struct vlmi_grounding_frame {
    double scale_x, scale_y;      /* image side / resized side */
    double width, height;         /* the original image */
} vlmi_grounding_frame;

/* Receives each item in answer order; the item is complete (full struct). */
typedef void (*vlmi_grounding_emit_fn)(const vlm_grounding_item *item, void *user_data);

/* Parses text[0..len) (valid UTF-8, already checked) and emits its items. */
void vlmi_grounding_scan(const char *text, size_t len, const vlmi_grounding_frame *frame,
                         vlmi_grounding_emit_fn emit, void *user_data);

#endif
