"""vlm.Image: an 8-bit RGB picture decoded or copied by libvlm.

PIL and numpy are optional: they are imported only by the methods that need
them.
"""
import ctypes
import enum
import os
from ctypes import POINTER, byref

from . import capi
from ._handle import Handle, fs_path
from .errors import InvalidArgumentError, check


class PixelFormat(enum.IntEnum):
    RGB8 = capi.VLM_PIXEL_RGB8
    RGBA8 = capi.VLM_PIXEL_RGBA8
    BGRA8 = capi.VLM_PIXEL_BGRA8
    BGR8 = capi.VLM_PIXEL_BGR8
    GRAY8 = capi.VLM_PIXEL_GRAY8

    @property
    def bytes_per_pixel(self):
        return {PixelFormat.RGB8: 3, PixelFormat.BGR8: 3, PixelFormat.RGBA8: 4,
                PixelFormat.BGRA8: 4, PixelFormat.GRAY8: 1}[self]


class ImageFormat(enum.IntEnum):
    RAW = capi.VLM_IMAGE_FORMAT_RAW
    JPEG = capi.VLM_IMAGE_FORMAT_JPEG
    PNG = capi.VLM_IMAGE_FORMAT_PNG


class Resample(enum.IntEnum):
    """Numbered as PIL's Image.Resampling, so either may be passed."""
    NEAREST = capi.VLM_RESAMPLE_NEAREST
    LANCZOS = capi.VLM_RESAMPLE_LANCZOS
    BILINEAR = capi.VLM_RESAMPLE_BILINEAR
    BICUBIC = capi.VLM_RESAMPLE_BICUBIC
    BOX = capi.VLM_RESAMPLE_BOX
    HAMMING = capi.VLM_RESAMPLE_HAMMING


def _resample(value):
    if isinstance(value, str):
        try:
            return Resample[value.upper()]
        except KeyError:
            raise InvalidArgumentError(f"unknown resample filter {value!r}") from None
    return Resample(int(value))


def _image_params(max_pixels, apply_exif_orientation):
    params = capi.new_params(capi.vlm_image_params, capi.vlm_image_params_init)
    if max_pixels is not None:
        params.max_pixels = max_pixels
    params.apply_exif_orientation = bool(apply_exif_orientation)
    return params


def _readable_pointer(data):
    """(argument for a `const void *`, size in bytes, object to keep alive)
    for any bytes-like object, without copying when the buffer allows it."""
    if isinstance(data, bytes):
        return data, len(data), data
    view = memoryview(data).cast("B")  # raises for non-contiguous buffers
    if view.readonly:
        copy = view.tobytes()
        return copy, len(copy), copy
    array = (ctypes.c_char * view.nbytes).from_buffer(view)
    return ctypes.addressof(array), view.nbytes, (array, view)


def _is_pil_image(obj):
    module = type(obj).__module__ or ""
    return module.startswith("PIL.") and hasattr(obj, "tobytes") and hasattr(obj, "mode")


def _is_numpy_array(obj):
    return type(obj).__module__ == "numpy" and type(obj).__name__ == "ndarray"


class Image(Handle):
    """An 8-bit RGB image, rows top to bottom. Immutable; any thread.

    Image(source) accepts a path (str or os.PathLike), encoded JPEG/PNG
    bytes, a PIL.Image or a numpy uint8 array (HxWx3 RGB, HxWx4 RGBA, HxW
    gray). Alpha is composited over white, as the Hugging Face processors do.
    """

    _kind = "Image"

    def __init__(self, source, *, max_pixels=None, apply_exif_orientation=True):
        if isinstance(source, (str, os.PathLike)):
            pointer = _load_file(source, max_pixels, apply_exif_orientation)
        elif isinstance(source, (bytes, bytearray, memoryview)):
            pointer = _load_memory(source, max_pixels, apply_exif_orientation)
        elif _is_pil_image(source):
            pointer = _from_pil(source)
        elif _is_numpy_array(source):
            pointer = _from_numpy(source)
        elif isinstance(source, Image):
            pointer = _copy(source)
        else:
            raise TypeError(f"vlm.Image: cannot make an image from {type(source).__name__}")
        self._adopt(pointer, capi.vlm_image_free)

    @classmethod
    def _wrap(cls, pointer):
        image = cls.__new__(cls)
        image._adopt(pointer, capi.vlm_image_free)
        return image

    @classmethod
    def open(cls, path, *, max_pixels=None, apply_exif_orientation=True):
        """Decodes a JPEG or PNG file."""
        return cls._wrap(_load_file(path, max_pixels, apply_exif_orientation))

    @classmethod
    def from_bytes(cls, data, *, max_pixels=None, apply_exif_orientation=True):
        """Decodes JPEG or PNG bytes."""
        return cls._wrap(_load_memory(data, max_pixels, apply_exif_orientation))

    @classmethod
    def from_pixels(cls, data, width, height, format=PixelFormat.RGB8, stride=0):
        """Copies a raw frame: rows of width pixels, stride bytes apart
        (0: tightly packed)."""
        return cls._wrap(_from_pixels(data, width, height, PixelFormat(format), stride))

    @classmethod
    def from_pil(cls, image):
        """Copies a PIL image's pixels as they are (PIL does not apply EXIF
        orientation on its own; use PIL.ImageOps.exif_transpose first)."""
        return cls._wrap(_from_pil(image))

    @classmethod
    def from_numpy(cls, array):
        """Copies a uint8 array: HxWx3 (RGB), HxWx4 (RGBA) or HxW (gray)."""
        return cls._wrap(_from_numpy(array))

    @property
    def width(self):
        return capi.vlm_image_width(self._ptr)

    @property
    def height(self):
        return capi.vlm_image_height(self._ptr)

    @property
    def size(self):
        """(width, height), as PIL's Image.size."""
        return self.width, self.height

    @property
    def source_format(self):
        """Where the pixels came from: ImageFormat.JPEG, PNG or RAW."""
        return ImageFormat(capi.vlm_image_source_format(self._ptr))

    def tobytes(self):
        """width*height*3 bytes of RGB."""
        pointer = self._ptr
        n = capi.vlm_image_width(pointer) * capi.vlm_image_height(pointer) * 3
        return ctypes.string_at(capi.vlm_image_pixels(pointer), n)

    def to_numpy(self):
        """A new HxWx3 uint8 array (a copy: the image stays immutable)."""
        import numpy as np
        pointer = self._ptr
        width, height = capi.vlm_image_width(pointer), capi.vlm_image_height(pointer)
        array = np.empty((height, width, 3), dtype=np.uint8)
        ctypes.memmove(array.ctypes.data, capi.vlm_image_pixels(pointer), array.nbytes)
        return array

    def __array__(self, dtype=None, copy=None):
        array = self.to_numpy()
        return array if dtype is None else array.astype(dtype)

    def to_pil(self):
        """A new PIL.Image in mode "RGB"."""
        from PIL import Image as PILImage
        return PILImage.frombytes("RGB", self.size, self.tobytes())

    def resize(self, width, height, filter=Resample.BICUBIC):
        """A new image resized exactly as PIL's Image.resize((width, height),
        filter) does on an RGB image. filter: a Resample, a PIL.Image.Resampling
        or a name ("bicubic")."""
        out = POINTER(capi.vlm_image)()
        check(capi.vlm_image_resize(self._ptr, width, height, _resample(filter), byref(out)))
        return Image._wrap(out)

    def __repr__(self):
        if not self.is_open:
            return "<vlm.Image closed>"
        return f"<vlm.Image {self.width}x{self.height} from {self.source_format.name}>"


def _load_file(path, max_pixels, apply_exif_orientation):
    out = POINTER(capi.vlm_image)()
    params = _image_params(max_pixels, apply_exif_orientation)
    check(capi.vlm_image_load_file(fs_path(path), byref(params), byref(out)))
    return out


def _load_memory(data, max_pixels, apply_exif_orientation):
    out = POINTER(capi.vlm_image)()
    params = _image_params(max_pixels, apply_exif_orientation)
    pointer, size, keep_alive = _readable_pointer(data)
    check(capi.vlm_image_load_memory(pointer, size, byref(params), byref(out)))
    del keep_alive
    return out


def _from_pixels(data, width, height, pixel_format, stride, size=None):
    # The library checks the extent too; checking here gives the Python
    # message before any pointer is handed over.
    if size is None:
        pointer, available, keep_alive = _readable_pointer(data)
    else:  # data is an address whose extent the caller already knows
        pointer, available, keep_alive = data, size, None
    row = width * pixel_format.bytes_per_pixel
    if stride and stride < row:
        raise InvalidArgumentError(f"stride {stride} is less than a row ({row} bytes)")
    needed = 0 if width == 0 or height == 0 else (stride or row) * (height - 1) + row
    if available < needed:
        raise InvalidArgumentError(
            f"{width}x{height} {pixel_format.name} with stride {stride} needs {needed} bytes, "
            f"the buffer has {available}")
    out = POINTER(capi.vlm_image)()
    check(capi.vlm_image_from_pixels(pointer, available, width, height, stride, pixel_format,
                                     byref(out)))
    del keep_alive
    return out


def _from_numpy(array):
    import numpy as np
    if array.dtype != np.uint8:
        raise InvalidArgumentError(f"numpy image must be uint8, not {array.dtype}")
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1):
        pixel_format = PixelFormat.GRAY8
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        pixel_format = PixelFormat.RGB8 if array.shape[2] == 3 else PixelFormat.RGBA8
    else:
        raise InvalidArgumentError(f"numpy image must be HxW, HxWx3 or HxWx4, not {array.shape}")
    height, width = array.shape[:2]
    channels = pixel_format.bytes_per_pixel
    # Rows may be strided (a crop of a larger frame): pass the row stride
    # through instead of copying, as long as each row itself is packed.
    packed_rows = (array.strides[1] == channels
                   and (array.ndim == 2 or array.strides[2] == 1)
                   and array.strides[0] >= width * channels)
    if not packed_rows:
        array = np.ascontiguousarray(array)
    stride = array.strides[0]
    needed = stride * (height - 1) + width * channels if height and width else 0
    return _from_pixels(array.ctypes.data, width, height, pixel_format, stride, size=needed)


# PIL modes the library takes as they are; the rest go through PIL's convert.
_PIL_DIRECT = {"RGB": PixelFormat.RGB8, "RGBA": PixelFormat.RGBA8, "L": PixelFormat.GRAY8}


def _from_pil(image):
    image.load()
    if image.mode not in _PIL_DIRECT:
        has_alpha = "A" in image.mode or "a" in image.mode or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    data = image.tobytes()
    return _from_pixels(data, image.width, image.height, _PIL_DIRECT[image.mode], 0)


def _copy(image):
    pointer = image._ptr
    return _from_pixels(capi.vlm_image_pixels(pointer), image.width, image.height,
                        PixelFormat.RGB8, 0, size=image.width * image.height * 3)
