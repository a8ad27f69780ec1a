"""Exceptions: one VLMError subclass per vlm_status.

Each carries .status (the vlm_status number) and .message (vlm_last_error()
read on the failing thread right after the call). Where a standard Python
exception means the same thing, the class derives from it as well, so
`except OSError` or `except ValueError` also work.
"""
from . import capi


class VLMError(Exception):
    """A libvlm call failed."""

    status = None  # the vlm_status, set per subclass

    def __init__(self, message, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message

    def __str__(self):
        return self.message


class InvalidArgumentError(VLMError, ValueError):
    status = capi.VLM_ERR_INVALID_ARGUMENT


class OutOfMemoryError(VLMError, MemoryError):
    status = capi.VLM_ERR_OUT_OF_MEMORY


class VLMIOError(VLMError, OSError):
    """File missing, unreadable, or mmap failed. (Named so it does not shadow
    the builtin IOError; it is an OSError.)"""
    status = capi.VLM_ERR_IO


class FormatError(VLMError, ValueError):
    """A malformed, truncated or inconsistent file."""
    status = capi.VLM_ERR_FORMAT


class UnsupportedError(VLMError, NotImplementedError):
    """Well-formed input this version of libvlm cannot handle (yet)."""
    status = capi.VLM_ERR_UNSUPPORTED


class BufferTooSmallError(VLMError):
    """Only seen through the raw capi; the Python API sizes its buffers."""
    status = capi.VLM_ERR_BUFFER_TOO_SMALL


class LimitError(VLMError):
    """An input exceeds a limit: pixels, context length, ..."""
    status = capi.VLM_ERR_LIMIT


class CancelledError(VLMError):
    """A callback asked to stop."""
    status = capi.VLM_ERR_CANCELLED


class StateError(VLMError):
    """The call is not valid in the object's state (for example, it is closed)."""
    status = capi.VLM_ERR_STATE


class ShapeError(VLMError):
    status = capi.VLM_ERR_SHAPE


class InvalidUTF8Error(VLMError, ValueError):
    status = capi.VLM_ERR_INVALID_UTF8


class InternalError(VLMError):
    """A bug in libvlm: please report it."""
    status = capi.VLM_ERR_INTERNAL


_BY_STATUS = {cls.status: cls for cls in (
    InvalidArgumentError, OutOfMemoryError, VLMIOError, FormatError, UnsupportedError,
    BufferTooSmallError, LimitError, CancelledError, StateError, ShapeError,
    InvalidUTF8Error, InternalError)}


def error_for(status, message=None):
    """The exception for a failed call's status. Call it right after the
    failing call on the same thread: the message is the calling thread's
    vlm_last_error(), which the next libvlm call replaces."""
    if message is None:
        message = (capi.vlm_last_error() or b"").decode("utf-8", "replace")
    if not message:
        message = capi.vlm_status_string(status).decode()
    cls = _BY_STATUS.get(status)
    if cls is None:  # a status newer than these bindings
        return VLMError(message, status)
    return cls(message)


def check(status):
    """Raises the matching VLMError unless status is VLM_OK."""
    if status != capi.VLM_OK:
        raise error_for(status)


def closed(what):
    return StateError(f"{what} is closed")
