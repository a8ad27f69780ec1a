/* Resampling that reproduces torch's antialiased interpolation of uint8
 * images byte for byte: torch.nn.functional.interpolate(x, size,
 * mode="bilinear" | "bicubic" | "lanczos", antialias=True,
 * align_corners=False) on a uint8 CPU tensor, which is what torchvision's
 * v2 resize (transforms/v2/functional/_geometry.py resize_image) runs for
 * uint8 images with antialias=True: it keeps uint8 for BICUBIC and LANCZOS,
 * and for BILINEAR on AVX2 / AVX-512 / arm64 CPUs (elsewhere torchvision
 * resizes bilinear in float32 and rounds, which this does not reproduce).
 *
 * The arithmetic is that of ATen's UpSampleKernel.cpp (HelperInterpBase
 * _compute_index_ranges_int16_weights) and UpSampleKernelAVXAntialias.h:
 * Pillow-style double weights per output pixel (bicubic with a = -0.5 as
 * Pillow, lanczos-3, triangle), normalized, then converted to int16 with a
 * per-pass precision chosen from the largest weight; a horizontal pass (if
 * the width changes) into an 8-bit intermediate, then a vertical pass (if
 * the height changes). Never installed. */
#ifndef VLM_IMAGE_RESIZE_TORCH_H
#define VLM_IMAGE_RESIZE_TORCH_H

#include "vlm-impl.h"

#include <stdbool.h>

/* True for the PIL filter numbers (vlm_resample) that have a torch
 * antialiased uint8 counterpart here: BILINEAR, BICUBIC, LANCZOS (the modes
 * transformers' pil_torch_interpolation_mapping maps them to). */
bool vlmi_resize_torch_supported(int filter);

/* Resizes interleaved 8-bit pixels (channels 1..4, strides in bytes) as
 * torchvision.transforms.v2.functional.resize(img, [dst_height, dst_width],
 * interpolation, antialias=True) does on a uint8 CPU tensor of that many
 * channels (checked byte for byte on x86-64 with AVX2, whose kernel and the
 * generic one share this arithmetic). filter: VLM_RESAMPLE_BILINEAR, _BICUBIC
 * or _LANCZOS (the PIL number, mapped as transformers maps it). Equal sizes
 * copy. src and dst must not overlap. Allocates scratch memory; fails only
 * with VLM_ERR_INVALID_ARGUMENT or VLM_ERR_OUT_OF_MEMORY. Thread-safe. */
vlm_status vlmi_resize_torch_u8(const uint8_t *src, uint32_t src_width, uint32_t src_height,
                                size_t src_stride, uint8_t *dst, uint32_t dst_width,
                                uint32_t dst_height, size_t dst_stride, int channels, int filter);

#endif
