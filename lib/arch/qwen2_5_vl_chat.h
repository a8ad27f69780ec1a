/* The Qwen2-VL / Qwen2.5-VL chat format: what the models' chat template
 * (chat_template.json) renders for a conversation whose messages each hold
 * a video, then their images, then their text:
 *
 *   <|im_start|>system\nYou are a helpful assistant.<|im_end|>\n   (unless the
 *                                          first message is the system's)
 *   <|im_start|>{role}\n{<|vision_start|><|video_pad|><|vision_end|>}
 *     {<|vision_start|><|image_pad|><|vision_end|> per image}{text}<|im_end|>\n ...
 *   then "<|im_start|>assistant\n" when a reply is asked for.
 *
 * Roles are "system", "user", "assistant"; texts are not trimmed. */
#ifndef VLM_ARCH_QWEN2_5_VL_CHAT_H
#define VLM_ARCH_QWEN2_5_VL_CHAT_H

#include "arch/chat.h"

/* What the template writes for one image and for one video. */
#define VLMI_QWEN2VL_IMAGE_PLACEHOLDER "<|vision_start|><|image_pad|><|vision_end|>"
#define VLMI_QWEN2VL_VIDEO_PLACEHOLDER "<|vision_start|><|video_pad|><|vision_end|>"

/* Renders messages (n of them). Writes up to cap bytes plus a NUL when
 * cap > 0; returns the full length (so (NULL, 0) is a size query). */
size_t vlmi_qwen2vl_chat_render(char *buf, size_t cap, const vlmi_chat_message *messages,
                                size_t n, bool add_generation_prompt);

#endif
