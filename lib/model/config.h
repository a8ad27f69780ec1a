/* config.json: the model's hyperparameters as typed C structs.
 *
 * Fills one vlmi_model_config from the Hugging Face config.json of a vision-
 * language model: the nested text_config / vision_config forms (Idefics3 and
 * SmolVLM, Gemma 3) as well as the older flat form where the text fields sit at
 * the top level (Qwen2.5-VL). A text field is looked up in text_config first
 * and then at the top level. Keys the file leaves out take the defaults of the
 * transformers configuration class for that model_type (each default names its
 * class); for model types we do not know, those keys are required. Unknown keys
 * are ignored. All sizes are validated (positive, heads dividing the hidden
 * size where the architecture needs it, token ids inside the vocabulary), and
 * every error names the file and the key path. */
#ifndef VLM_MODEL_CONFIG_H
#define VLM_MODEL_CONFIG_H

#include "vlm-impl.h"

#include <stdbool.h>

#define VLMI_CONFIG_NAME_MAX 64       /* model_type, architectures[0], hidden_act ... */
#define VLMI_CONFIG_MAX_LAYERS 4096   /* bound on num_hidden_layers / depth */
#define VLMI_CONFIG_MAX_EOS 16        /* eos_token_id list length */
#define VLMI_CONFIG_MAX_MROPE 4       /* mrope_section length */
#define VLMI_CONFIG_MAX_FULLATT 256   /* fullatt_block_indexes length */

/* Rotary position embedding, from rope_theta plus rope_scaling (transformers
 * 4.x) or rope_parameters (transformers 5). */
typedef struct vlmi_rope_config {
    double theta;                  /* base frequency, > 0 */
    char type[VLMI_CONFIG_NAME_MAX]; /* "default", "linear", "llama3", "mrope", "yarn", ... */
    double factor;                 /* scaling factor; 1.0 when unscaled */
    double low_freq_factor;        /* llama3 scaling; 0 when absent */
    double high_freq_factor;       /* llama3 scaling; 0 when absent */
    int32_t original_max_position_embeddings; /* llama3/yarn; 0 when absent */
    int32_t mrope_section[VLMI_CONFIG_MAX_MROPE]; /* (n_mrope_section) rotary pairs per
                                      axis t,h,w; sum*2 == head_dim (Qwen2.5-VL) */
    int32_t n_mrope_section;       /* 0: plain 1-D RoPE */
} vlmi_rope_config;

/* The language model (decoder). */
typedef struct vlmi_text_config {
    char model_type[VLMI_CONFIG_NAME_MAX]; /* "llama", "gemma3_text", "qwen2_5_vl_text" */
    int32_t vocab_size;            /* rows of the embedding and LM head */
    int32_t hidden_size;           /* d_model */
    int32_t intermediate_size;     /* MLP inner width */
    int32_t num_hidden_layers;     /* decoder layers, <= VLMI_CONFIG_MAX_LAYERS */
    int32_t num_attention_heads;   /* query heads */
    int32_t num_key_value_heads;   /* KV heads (GQA); divides num_attention_heads */
    int32_t head_dim;              /* per head; hidden_size / heads when absent */
    double rms_norm_eps;           /* > 0 */
    int32_t max_position_embeddings; /* trained context length */
    bool tie_word_embeddings;      /* LM head shares the embedding matrix */
    char hidden_act[VLMI_CONFIG_NAME_MAX]; /* "silu", "gelu_pytorch_tanh" (Gemma:
                                      hidden_activation) */
    vlmi_rope_config rope;         /* global (full-attention) layers */
    /* Sliding-window attention (Gemma 3; Qwen2.5-VL with use_sliding_window). */
    int32_t sliding_window;        /* window in tokens; 0: no sliding layers */
    int32_t sliding_window_pattern; /* every Nth layer is global (Gemma 3); 0 if n/a */
    uint8_t *layer_is_sliding;     /* (num_hidden_layers) 1: sliding-window layer */
    double rope_local_base_freq;   /* RoPE theta of sliding layers (Gemma 3); 0 if n/a */
    /* Gemma 3 attention details. */
    double query_pre_attn_scalar;  /* queries scaled by 1/sqrt(this); 0: use head_dim */
    double final_logit_softcapping; /* 0: none */
    double attn_logit_softcapping; /* 0: none */
    /* Special tokens as the model config states them; -1 when absent. */
    int64_t bos_token_id;
    int64_t eos_token_ids[VLMI_CONFIG_MAX_EOS]; /* (n_eos_token_ids) */
    int32_t n_eos_token_ids;
    int64_t pad_token_id;
} vlmi_text_config;

/* The vision encoder (ViT). present is false when the file has no
 * vision_config and the family has no default one. */
typedef struct vlmi_vision_config {
    bool present;
    char model_type[VLMI_CONFIG_NAME_MAX]; /* "idefics3", "siglip_vision_model", ... */
    int32_t hidden_size;           /* width of the encoder */
    int32_t intermediate_size;     /* MLP inner width */
    int32_t num_hidden_layers;     /* blocks (Qwen2.5-VL: depth) */
    int32_t num_attention_heads;   /* heads (Qwen2.5-VL: num_heads); divides hidden_size */
    int32_t num_channels;          /* input channels, 3 */
    int32_t image_size;            /* square input side in pixels; 0 if dynamic (Qwen) */
    int32_t patch_size;            /* patch side in pixels */
    double layer_norm_eps;         /* > 0 */
    char hidden_act[VLMI_CONFIG_NAME_MAX];
    /* Qwen2.5-VL. */
    int32_t spatial_merge_size;    /* merger groups merge x merge patches; 0 if n/a */
    int32_t temporal_patch_size;   /* frames per temporal patch; 0 if n/a */
    int32_t window_size;           /* window attention side in pixels; 0 if n/a */
    int32_t out_hidden_size;       /* merger output width == text hidden_size */
    int32_t tokens_per_second;     /* temporal position scale for video; 0 if n/a */
    int32_t fullatt_block_indexes[VLMI_CONFIG_MAX_FULLATT]; /* (n_fullatt_block_indexes)
                                      blocks with full attention, each < num_hidden_layers */
    int32_t n_fullatt_block_indexes;
    double rope_theta;             /* 2-D rotary base of the blocks (Qwen2.5-VL
                                      vision_config.rope_parameters.rope_theta, as
                                      transformers 5 writes it); 0 when absent */
} vlmi_vision_config;

typedef struct vlmi_model_config {
    char architecture[VLMI_CONFIG_NAME_MAX]; /* architectures[0]; "" when absent */
    char model_type[VLMI_CONFIG_NAME_MAX];   /* required: "idefics3", "gemma3", "qwen2_5_vl" */
    char dtype[VLMI_CONFIG_NAME_MAX];        /* torch_dtype / dtype: "bfloat16"; "" if absent */
    vlmi_text_config text;
    vlmi_vision_config vision;
    /* Image placeholders; -1 when the family has none. */
    int64_t image_token_id;        /* image_token_id / image_token_index (Gemma 3) */
    int64_t video_token_id;        /* Qwen2.5-VL */
    int64_t vision_start_token_id; /* Qwen2.5-VL <|vision_start|> */
    int64_t vision_end_token_id;   /* Qwen2.5-VL <|vision_end|> */
    int64_t boi_token_id;          /* Gemma 3 boi_token_index <start_of_image> */
    int64_t eoi_token_id;          /* Gemma 3 eoi_token_index <end_of_image> */
    /* Connector. */
    int32_t scale_factor;          /* Idefics3 pixel shuffle factor; 0 if n/a */
    int32_t mm_tokens_per_image;   /* Gemma 3 tokens after pooling; 0 if n/a */
    int64_t yes_token_id;          /* ShieldGemma 2 yes_token_index ("Yes"); -1 if n/a */
    int64_t no_token_id;           /* ShieldGemma 2 no_token_index ("No"); -1 if n/a */
} vlmi_model_config;

/* Parses config.json text (size bytes, need not be NUL-terminated; file names
 * it in messages). On failure *out is left empty (safe to free). Caller frees
 * with vlmi_model_config_free. */
vlm_status vlmi_model_config_parse(const char *json, size_t size, const char *file,
                                   vlmi_model_config *out);
/* Releases what parse allocated and zeroes the struct; NULL is fine. */
void vlmi_model_config_free(vlmi_model_config *config);

#endif
