"""libvlm for Python: vision-language models on the device, through ctypes.

    import vlm
    with vlm.Model("SmolVLM-256M-Instruct") as model:
        session = model.session()
        for piece in session.generate("What is in this image?",
                                      images=["photo.jpg"]):
            print(piece, end="", flush=True)

The library is found through $VLM_LIBRARY, then next to this package, then
the system's loader path. vlm.capi is the raw one-to-one C API.
"""
import threading

from . import capi
from .errors import (BufferTooSmallError, CancelledError, FormatError, InternalError,
                     InvalidArgumentError, InvalidUTF8Error, LimitError, OutOfMemoryError,
                     ShapeError, StateError, UnsupportedError, VLMError, VLMIOError)
from .grounding import GroundingItem, GroundingKind, GroundingReason, parse_grounding
from .image import Image, ImageFormat, PixelFormat, Resample
from .model import DType, Model, TensorInfo, inspect
from .session import ImagePlan, Role, SafetyPolicy, Session, Timings
from .tokenizer import Tokenizer

__version__ = "0.1.0"  # of these bindings; vlm.version() is the library's

__all__ = [
    "Model", "Tokenizer", "Image", "Session", "inspect", "TensorInfo",
    "ImagePlan", "Timings", "SafetyPolicy", "DType", "PixelFormat", "ImageFormat", "Resample", "Role", "LogLevel",
    "version", "version_number", "build_info", "set_log_callback",
    "parse_grounding", "GroundingItem", "GroundingKind", "GroundingReason",
    "VLMError", "InvalidArgumentError", "OutOfMemoryError", "VLMIOError", "FormatError",
    "UnsupportedError", "BufferTooSmallError", "LimitError", "CancelledError", "StateError",
    "ShapeError", "InvalidUTF8Error", "InternalError",
]


def version():
    """The loaded library's version string ("0.1.0")."""
    return capi.vlm_version_string().decode()


def version_number():
    """The loaded library's MAJOR*10000 + MINOR*100 + PATCH."""
    return capi.vlm_version_number()


def build_info():
    """One line naming the library build: compiler, kernels, BLAS, codecs."""
    return capi.vlm_build_info().decode("utf-8", "replace")


class LogLevel(__import__("enum").IntEnum):
    DEBUG = capi.VLM_LOG_DEBUG
    INFO = capi.VLM_LOG_INFO
    WARN = capi.VLM_LOG_WARN
    ERROR = capi.VLM_LOG_ERROR


_log_lock = threading.Lock()
_log_trampoline = None  # the live C callback; libvlm keeps only its address


def set_log_callback(callback, min_level=LogLevel.WARN):
    """Routes libvlm's log to callback(level: LogLevel, message: str), or
    discards it when callback is None. Process-wide; set it before other
    threads use the library. The callback may run on any thread and must not
    call libvlm; an exception in it is reported by ctypes and dropped."""
    global _log_trampoline
    with _log_lock:
        if callback is None:
            capi.vlm_log_set(capi.vlm_log_fn(), LogLevel(min_level), None)
            _log_trampoline = None
            return

        def log_trampoline(level, message, _user_data):
            callback(LogLevel(level), message.decode("utf-8", "replace"))

        trampoline = capi.vlm_log_fn(log_trampoline)
        capi.vlm_log_set(trampoline, LogLevel(min_level), None)
        _log_trampoline = trampoline  # replaced only after libvlm stopped using the old one
