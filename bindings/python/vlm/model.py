"""vlm.Model and vlm.inspect."""
import enum
import json
import weakref
from ctypes import POINTER, byref
from typing import NamedTuple, Tuple

from . import capi
from ._handle import Handle, fs_path, read_text
from .errors import InvalidArgumentError, check
from .tokenizer import Tokenizer


class DType(enum.IntEnum):
    F32 = capi.VLM_DTYPE_F32
    F16 = capi.VLM_DTYPE_F16
    BF16 = capi.VLM_DTYPE_BF16
    Q8_0 = capi.VLM_DTYPE_Q8_0
    Q4_0 = capi.VLM_DTYPE_Q4_0
    Q4_1 = capi.VLM_DTYPE_Q4_1
    Q5_0 = capi.VLM_DTYPE_Q5_0
    Q5_1 = capi.VLM_DTYPE_Q5_1
    Q2_K = capi.VLM_DTYPE_Q2_K
    Q3_K = capi.VLM_DTYPE_Q3_K
    Q4_K = capi.VLM_DTYPE_Q4_K
    Q5_K = capi.VLM_DTYPE_Q5_K
    Q6_K = capi.VLM_DTYPE_Q6_K
    Q8_K = capi.VLM_DTYPE_Q8_K
    I8 = capi.VLM_DTYPE_I8
    U8 = capi.VLM_DTYPE_U8
    I16 = capi.VLM_DTYPE_I16
    I32 = capi.VLM_DTYPE_I32
    I64 = capi.VLM_DTYPE_I64
    F64 = capi.VLM_DTYPE_F64
    BOOL = capi.VLM_DTYPE_BOOL


class TensorInfo(NamedTuple):
    name: str
    dtype: DType
    shape: Tuple[int, ...]  # outermost first, as in safetensors
    n_bytes: int


def inspect(path):
    """What path holds (model directory, .safetensors, .gguf or image), as
    the dict of vlm_inspect's JSON."""
    encoded = fs_path(path)
    # One call in the common case: vlm_inspect does the whole work again for
    # a size query, so start with a generous buffer.
    text = read_text(lambda buf, size, out_len: capi.vlm_inspect(encoded, buf, size, out_len),
                     first_guess=1 << 16)
    return json.loads(text.decode("utf-8"))


class Model(Handle):
    """A Hugging Face hub directory or a GGUF file, weights memory-mapped.

    Immutable once loaded: any number of threads may use it. progress, if
    given, is called with a fraction in [0, 1] on the loading thread; it may
    return False to cancel (the load then raises vlm.CancelledError), and an
    exception raised inside it cancels the load and is re-raised here.

    image_cache_bytes: bytes of encoded image features the model keeps for
    all its sessions, so that adding the same picture again skips the
    vision encoder (None: the library's default, 64 MiB; 0 disables).

    mmproj_path: with a GGUF model, llama.cpp's multimodal projector file
    (mmproj-*.gguf) that holds its vision tower (Gemma 3); None: none.
    """

    _kind = "Model"

    def __init__(self, path, n_threads=0, progress=None, image_cache_bytes=None,
                 mmproj_path=None):
        params = capi.new_params(capi.vlm_model_params, capi.vlm_model_params_init)
        params.n_threads = n_threads
        if mmproj_path is not None:
            # referenced by this frame for the whole call, as C only reads it then
            mmproj_bytes = fs_path(mmproj_path)
            params.mmproj_path = mmproj_bytes
        if image_cache_bytes is not None:
            if image_cache_bytes < 0:
                raise InvalidArgumentError(f"image_cache_bytes {image_cache_bytes} is negative")
            params.image_cache_bytes = image_cache_bytes
        carried = []
        if progress is not None:
            def progress_trampoline(fraction, _user_data):
                if carried:
                    return False
                try:
                    return progress(fraction) is not False
                except BaseException as error:  # ctypes would print and drop it
                    carried.append(error)
                    return False
            # Referenced by this frame for the whole call, so it stays alive.
            params.progress = capi.vlm_progress_fn(progress_trampoline)
        out = POINTER(capi.vlm_model)()
        status = capi.vlm_model_load(fs_path(path), byref(params), byref(out))
        if carried:
            raise carried[0]
        check(status)
        self._adopt(out, capi.vlm_model_free)
        self.path = path
        self._sessions = weakref.WeakSet()
        self._tokenizer = None

    @property
    def architecture(self):
        """"Idefics3ForConditionalGeneration", or GGUF general.architecture."""
        return capi.vlm_model_architecture(self._ptr).decode("utf-8", "replace")

    @property
    def n_tensors(self):
        return capi.vlm_model_n_tensors(self._ptr)

    def tensor_info(self, index):
        pointer = self._ptr
        info = capi.vlm_tensor_info()
        info.struct_size = capi.ctypes.sizeof(info)  # vlm_tensor_info has no _init
        check(capi.vlm_model_tensor_info(pointer, index, byref(info)))
        return TensorInfo(info.name.decode("utf-8", "replace"), DType(info.dtype),
                          tuple(info.shape[:info.n_dims]), info.n_bytes)

    @property
    def tensors(self):
        """Every weight tensor, in the model's order."""
        return [self.tensor_info(i) for i in range(self.n_tensors)]

    @property
    def tokenizer(self):
        """The model's Tokenizer (valid while the model is open), or None."""
        if self._tokenizer is None:
            pointer = capi.vlm_model_tokenizer(self._ptr)
            if pointer:
                self._tokenizer = Tokenizer._borrowed(pointer, self)
        return self._tokenizer

    def session(self, **params):
        """A new Session on this model; see vlm.Session."""
        from .session import Session
        return Session(self, **params)

    def close(self):
        """Frees the model now; its open sessions are closed first (libvlm
        requires it) and its tokenizer stops working."""
        for session in list(getattr(self, "_sessions", ())):
            session.close()
        super().close()

    def __repr__(self):
        if not self.is_open:
            return "<vlm.Model closed>"
        return f"<vlm.Model {self.architecture} {self.n_tensors} tensors>"
