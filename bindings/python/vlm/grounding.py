"""vlm.parse_grounding: boxes and points of a grounding answer, as data."""
import ctypes
import enum
from ctypes import byref, c_size_t
from typing import NamedTuple

from . import capi
from .errors import check


class GroundingKind(enum.IntEnum):
    BOX = capi.VLM_GROUNDING_BOX            # (x1, y1) top-left, (x2, y2) bottom-right
    POINT = capi.VLM_GROUNDING_POINT        # (x1, y1); x2, y2 repeat it
    REJECTED = capi.VLM_GROUNDING_REJECTED  # an object that could not be used: see reason


class GroundingReason(enum.IntEnum):
    OK = capi.VLM_GROUNDING_OK
    NO_COORDINATES = capi.VLM_GROUNDING_NO_COORDINATES
    WRONG_ARITY = capi.VLM_GROUNDING_WRONG_ARITY
    NOT_A_NUMBER = capi.VLM_GROUNDING_NOT_A_NUMBER
    TRUNCATED = capi.VLM_GROUNDING_TRUNCATED
    NOT_AN_OBJECT = capi.VLM_GROUNDING_NOT_AN_OBJECT
    TOO_DEEP = capi.VLM_GROUNDING_TOO_DEEP


class GroundingItem(NamedTuple):
    kind: GroundingKind
    reason: GroundingReason  # OK unless rejected
    x1: float                # original-image pixels, clamped to the image
    y1: float
    x2: float
    y2: float
    offset: int              # byte offset of the object in the answer's UTF-8
    label: str               # "" if none; cut at 63 bytes (a character boundary)


def parse_grounding(answer, image_width, image_height, resized_width=0, resized_height=0):
    """Parses a Qwen2.5-VL grounding answer (str or UTF-8 bytes) into
    GroundingItems in the original image's pixels, in the order the objects
    appear. Coordinates are scaled by image/resized per axis (resized 0: the
    answer is already in image pixels) and clamped. Unusable objects come
    back as REJECTED items with a reason; an answer without JSON gives []."""
    data = answer.encode("utf-8") if isinstance(answer, str) else bytes(answer)
    item_size = ctypes.sizeof(capi.vlm_grounding_item)
    count = c_size_t()
    args = (data, len(data), image_width, image_height, resized_width, resized_height)
    status = capi.vlm_parse_grounding(*args, None, item_size, 0, byref(count), None)
    if status not in (capi.VLM_OK, capi.VLM_ERR_BUFFER_TOO_SMALL):
        check(status)
    if count.value == 0:
        return []
    items = (capi.vlm_grounding_item * count.value)()
    check(capi.vlm_parse_grounding(*args, items, item_size, count.value, byref(count), None))
    return [GroundingItem(GroundingKind(item.kind), GroundingReason(item.reason), item.x1, item.y1,
                          item.x2, item.y2, item.offset, item.label.decode("utf-8", "replace"))
            for item in items[:count.value]]
