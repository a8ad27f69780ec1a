/* Idefics3 (SmolVLM): a SigLIP vision encoder, a pixel-shuffle connector and
 * a Llama decoder, bound by name from a Hugging Face checkpoint
 * (Idefics3ForConditionalGeneration as transformers saves it).
 *
 * An image frame becomes image_seq_len feature rows in the text model's
 * width; a prompt holds one <image> token per row, and embedding the prompt
 * puts the rows there in order. */
#ifndef VLM_ARCH_IDEFICS3_H
#define VLM_ARCH_IDEFICS3_H

#include "io/safetensors.h"
#include "model/config.h"
#include "nn/decoder.h"
#include "nn/vit.h"

typedef struct vlmi_idefics3 {
    vlmi_decoder text;        /* model.text_model.* and lm_head */
    vlmi_vit vision;          /* model.vision_model.* */
    vlmi_matrix connector;    /* (text dim, vision dim * scale_factor^2)
                                 model.connector.modality_projection.proj */
    size_t scale_factor;      /* pixel shuffle factor */
    size_t image_seq_len;     /* feature rows per frame: n_patches / scale^2 */
    int32_t image_token_id;   /* <image>: each is replaced by one feature row */
} vlmi_idefics3;

/* Binds every tensor the model needs, checking each shape against config:
 * a missing tensor is VLM_ERR_FORMAT and a shape that disagrees is
 * VLM_ERR_SHAPE, both naming the tensor; a config the blocks do not support
 * (another activation, scaled RoPE) is VLM_ERR_UNSUPPORTED. The model borrows
 * weights, which must outlive it. On failure *model is empty. */
vlm_status vlmi_idefics3_bind(vlmi_idefics3 *model, const vlmi_model_config *config,
                              const vlmi_safetensors_set *weights);
/* Releases what bind allocated; NULL or empty is fine. */
void vlmi_idefics3_free(vlmi_idefics3 *model);

/* Idefics3Connector.pixel_shuffle on a square grid of side x side rows:
 * each scale x scale block of neighbours becomes one row, its members
 * concatenated row by row (b outer, a inner); with s = scale:
 * out[i*(side/s) + j][(b*s + a)*dim + d] = x[(i*s + b)*side + (j*s + a)][d].
 * scale divides side.
 * x (side*side, dim) -> out (side*side / scale^2, dim * scale^2) */
void vlmi_idefics3_pixel_shuffle(float *out, const float *x, size_t side, size_t dim,
                                 size_t scale);

/* Buffers for encoding one frame, allocated once. */
typedef struct vlmi_idefics3_image_state {
    vlmi_vit_state *vit;
    float *hidden;    /* (n_patches, vision dim) encoder output */
    float *shuffled;  /* (image_seq_len, vision dim * scale^2) */
} vlmi_idefics3_image_state;

vlm_status vlmi_idefics3_image_state_create(const vlmi_idefics3 *model,
                                            vlmi_idefics3_image_state **out);
void vlmi_idefics3_image_state_free(vlmi_idefics3_image_state *s); /* NULL is fine */

/* Vision encoder, pixel shuffle, modality projection for one frame.
 * pixels (3, image_size, image_size), normalized as the processor does
 * -> features (image_seq_len, text dim) */
vlm_status vlmi_idefics3_encode_image(float *features, vlmi_idefics3_image_state *s,
                                      const vlmi_idefics3 *model, const float *pixels,
                                      size_t height, size_t width);
/* The same, with the matrix products split over pool's threads (NULL: the
 * calling thread only). */
vlm_status vlmi_idefics3_encode_image_pool(float *features, vlmi_idefics3_image_state *s,
                                           const vlmi_idefics3 *model, const float *pixels,
                                           size_t height, size_t width,
                                           vlmi_threadpool *pool);

/* Input embeddings of a prompt: token embeddings, with the k-th <image> token
 * replaced by row k of image_features. The number of <image> tokens must equal
 * n_image_rows (VLM_ERR_INVALID_ARGUMENT otherwise, as transformers refuses).
 * ids (n), image_features (n_image_rows, text dim) -> out (n, text dim) */
vlm_status vlmi_idefics3_embed(float *out, const vlmi_idefics3 *model, const int32_t *ids,
                               size_t n, const float *image_features, size_t n_image_rows);

#endif
