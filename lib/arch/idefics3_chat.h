/* The Idefics3 / SmolVLM chat format: what the model's chat template
 * (chat_template.json of SmolVLM and SmolVLM2) renders for a conversation
 * whose messages each hold their images first, then their text:
 *
 *   <|im_start|>{Role}:{<image> per image}{text}<end_of_utterance>\n ...
 *   then "Assistant:" when a reply is asked for.
 *
 * Role is capitalized ("User"); the colon is followed by a space unless
 * the message starts with an image. A video item (SmolVLM2) renders as
 * "<video>". */
#ifndef VLM_ARCH_IDEFICS3_CHAT_H
#define VLM_ARCH_IDEFICS3_CHAT_H

#include "arch/chat.h"

/* Renders messages (n of them). Writes up to cap bytes plus a NUL when
 * cap > 0; returns the full length (so (NULL, 0) is a size query). */
size_t vlmi_idefics3_chat_render(char *buf, size_t cap, const vlmi_chat_message *messages,
                                 size_t n, bool add_generation_prompt);

/* True if template looks like the one this renderer reproduces (the
 * SmolVLM template's distinctive parts); the session logs a warning if not. */
bool vlmi_idefics3_chat_template_known(const char *chat_template);

#endif
