"""The ABI guard: vlm.capi against include/vlm.h.

A small regex parser reads the header's VLM_API declarations, struct
definitions, callback typedefs and enum constants; every binding's argtypes
and restype, every mirrored struct's field order and types, and every
constant must agree, so a changed signature fails here instead of crashing a
user. The mirrored structs' sizes are also compared with what the C library
itself writes into struct_size.
"""
import ctypes
import re
from ctypes import POINTER, byref

import pytest

from conftest import HEADER

import vlm
from vlm import capi

BASE_TYPES = {
    "bool": ctypes.c_bool, "int": ctypes.c_int, "float": ctypes.c_float, "double": ctypes.c_double,
    "size_t": ctypes.c_size_t, "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32,
    "int64_t": ctypes.c_int64, "uint64_t": ctypes.c_uint64, "uint8_t": ctypes.c_uint8,
    "char": ctypes.c_char,
}


class Header:
    def __init__(self, text):
        self.defines = {m[0]: int(m[1]) for m in
                        re.findall(r"^#define\s+(\w+)\s+(\d+)\s*$", text, re.M)}
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        self.enums = {}       # typedef name -> {constant: value}
        self.constants = {}   # every enum constant, named or anonymous
        for body, name in re.findall(r"typedef\s+enum\s+\w*\s*\{(.*?)\}\s*(\w+)\s*;", text, re.S):
            self.enums[name] = self._enum_body(body)
        for body in re.findall(r"(?<!typedef )\benum\s*\{(.*?)\}\s*;", text, re.S):
            self._enum_body(body)
        self.structs = {}     # name -> [(field, type, array length or None)]
        for body, name in re.findall(r"typedef\s+struct\s+\w*\s*\{(.*?)\}\s*(\w+)\s*;", text, re.S):
            fields = []
            for decl in filter(None, (d.strip() for d in body.split(";"))):
                # "uint32_t rows, cols" declares two fields of one type
                first, *more = decl.split(",")
                m = re.fullmatch(r"(.*?)\b(\w+)\s*(?:\[(\w+)\])?", first, re.S)
                length = m[3] and int(self.defines.get(m[3], m[3]))
                fields.append((m[2], m[1], length))
                fields += [(name.strip(), m[1], None) for name in more]
            self.structs[name] = fields
        self.opaque = set(re.findall(r"typedef\s+struct\s+(\w+)\s+\1\s*;", text))
        self.callbacks = {}   # name -> (restype, [argtypes])
        for ret, name, args in re.findall(r"typedef\s+([\w\s\*]+?)\s*\(\s*\*\s*(\w+)\s*\)\s*\(([^)]*)\)\s*;", text):
            self.callbacks[name] = (ret, self._params(args))
        self.functions = {}   # name -> (restype, [argtypes])
        for ret, name, args in re.findall(r"VLM_API\s+([\w\s\*]+?)\s*\b(\w+)\s*\(([^)]*)\)\s*;", text):
            self.functions[name] = (ret, self._params(args))

    def _enum_body(self, body):
        values = {}
        for item in filter(None, (i.strip() for i in body.split(","))):
            name, expr = (s.strip() for s in item.split("="))
            values[name] = eval(re.sub(r"(\d+)u\b", r"\1", expr), {})  # "1u << 1"
            self.constants[name] = values[name]
        return values

    @staticmethod
    def _params(args):
        args = " ".join(args.split())
        if args in ("", "void"):
            return []
        # the parameter name is the last identifier; the rest is its type
        return [re.fullmatch(r"(.*?)\s*\b\w+", a.strip())[1] for a in args.split(",")]

    def ctypes_for(self, c_type):
        """The ctypes types a binding may use for a C type (a set: `char *`
        is c_char_p or POINTER(c_char))."""
        t = re.sub(r"\bconst\b", " ", c_type)
        t = re.sub(r"\s+", "", t)
        depth = len(t) - len(t.rstrip("*"))
        base = t.rstrip("*")
        if depth == 0:
            if base == "void":
                return {None}
            if base in self.enums:
                return {ctypes.c_int}
            if base in self.callbacks:
                return {capi.CALLBACKS[base]}
            return {BASE_TYPES[base]}
        if depth == 1 and base == "char":
            return {ctypes.c_char_p, POINTER(ctypes.c_char)}
        if depth == 2 and base == "char":
            return {POINTER(ctypes.c_char_p), POINTER(POINTER(ctypes.c_char))}
        if depth == 1 and base == "void":
            return {ctypes.c_void_p}
        if base in self.opaque:
            inner = capi.OPAQUE[base]
        elif base in self.structs:
            inner = capi.STRUCTS[base]
        else:
            inner = BASE_TYPES[base]
        for _ in range(depth):
            inner = POINTER(inner)
        return {inner}


@pytest.fixture(scope="module")
def header():
    return Header(HEADER.read_text(encoding="utf-8"))


def test_header_parsed(header):
    # guards the parser itself: a regex that silently matches nothing checks nothing
    assert len(header.functions) >= 40
    assert {"vlm_model_params", "vlm_generate_params", "vlm_tensor_info"} <= set(header.structs)
    assert {"vlm_token_fn", "vlm_progress_fn", "vlm_log_fn"} <= set(header.callbacks)
    assert header.constants["VLM_ERR_INTERNAL"] == 12
    assert header.constants["VLM_TOKENIZE_PARSE_SPECIAL"] == 2


def test_every_function_bound_with_header_signature(header):
    problems = []
    for name, (ret, args) in sorted(header.functions.items()):
        binding = capi.FUNCTIONS.get(name)
        if binding is None:
            problems.append(f"{name}: not bound")
            continue
        if binding.restype not in header.ctypes_for(ret):
            problems.append(f"{name}: restype {binding.restype} for C {ret!r}")
        if len(binding.argtypes) != len(args):
            problems.append(f"{name}: {len(binding.argtypes)} argtypes for {len(args)} C parameters")
            continue
        for i, (actual, c_type) in enumerate(zip(binding.argtypes, args)):
            if actual not in header.ctypes_for(c_type):
                problems.append(f"{name}: argument {i} is {actual.__name__} for C {c_type!r}")
    stale = set(capi.FUNCTIONS) - set(header.functions)
    problems += [f"{name}: bound but not in vlm.h" for name in sorted(stale)]
    assert not problems, "\n".join(problems)


def test_callback_types_match(header):
    for name, (ret, args) in header.callbacks.items():
        binding = capi.CALLBACKS[name]
        assert binding._restype_ in header.ctypes_for(ret), name
        assert len(binding._argtypes_) == len(args), name
        for actual, c_type in zip(binding._argtypes_, args):
            assert actual in header.ctypes_for(c_type), f"{name}: {actual} for {c_type!r}"


def test_structs_mirror_field_order_and_types(header):
    assert set(capi.STRUCTS) == set(header.structs)
    for name, fields in header.structs.items():
        mirrored = capi.STRUCTS[name]._fields_
        assert [f[0] for f in mirrored] == [f[0] for f in fields], name
        for (field, actual), (_, c_type, length) in zip(mirrored, fields):
            if length:
                assert actual._length_ == length, f"{name}.{field}"
                actual = actual._type_
            assert actual in header.ctypes_for(c_type), f"{name}.{field}: {actual} for {c_type!r}"


@pytest.mark.parametrize("name", ["vlm_image_params", "vlm_model_params",
                                  "vlm_session_params", "vlm_generate_params"])
def test_params_struct_size_equals_c_sizeof(name):
    struct_type = capi.STRUCTS[name]
    init = capi.FUNCTIONS[name + "_init"]
    assert capi.library_struct_size(struct_type, init) == ctypes.sizeof(struct_type)
    # and the defaults arrive intact through the version-safe constructor
    params = capi.new_params(struct_type, init)
    assert params.struct_size == ctypes.sizeof(struct_type)


def test_generate_defaults_are_the_documented_ones():
    p = capi.new_params(capi.vlm_generate_params, capi.vlm_generate_params_init)
    assert (p.max_tokens, p.temperature, p.top_k, p.top_p, p.min_p, p.repeat_penalty, p.seed) == \
        (256, 0.0, 0, 1.0, 0.0, 1.0, 0)
    assert not p.stop_strings and p.n_stop_strings == 0 and not p.on_token


def test_tensor_info_is_filled_to_our_size_only(model_dir):
    # vlm_tensor_info is an output struct: the library writes at most the
    # struct_size we declare, so a binding built for a shorter struct is safe.
    model = vlm.Model(model_dir)
    buffer = (ctypes.c_uint8 * (ctypes.sizeof(capi.vlm_tensor_info) + 64))(*([0xAB] * (ctypes.sizeof(capi.vlm_tensor_info) + 64)))
    info = capi.vlm_tensor_info.from_buffer(buffer)
    info.struct_size = ctypes.sizeof(info)
    assert capi.vlm_model_tensor_info(model._ptr, 0, byref(info)) == capi.VLM_OK
    assert info.name and info.n_dims > 0
    assert all(b == 0xAB for b in buffer[ctypes.sizeof(info):])
    info.struct_size = 0
    assert capi.vlm_model_tensor_info(model._ptr, 0, byref(info)) == capi.VLM_ERR_INVALID_ARGUMENT
    model.close()


def test_constants_match_header(header):
    wrong = {name: (value, getattr(capi, name, None)) for name, value in header.constants.items()
             if getattr(capi, name, None) != value}
    assert not wrong
    for macro in ("VLM_VERSION_MAJOR", "VLM_VERSION_MINOR", "VLM_VERSION_PATCH", "VLM_MAX_DIMS"):
        assert getattr(capi, macro) == header.defines[macro], macro


@pytest.mark.parametrize("c_enum,prefix,py_enum", [
    ("vlm_pixel_format", "VLM_PIXEL_", vlm.PixelFormat),
    ("vlm_image_format", "VLM_IMAGE_FORMAT_", vlm.ImageFormat),
    ("vlm_resample", "VLM_RESAMPLE_", vlm.Resample),
    ("vlm_dtype", "VLM_DTYPE_", vlm.DType),
    ("vlm_role", "VLM_ROLE_", vlm.Role),
    ("vlm_log_level", "VLM_LOG_", vlm.LogLevel),
])
def test_python_enums_cover_header_enums(header, c_enum, prefix, py_enum):
    for constant, value in header.enums[c_enum].items():
        assert py_enum[constant[len(prefix):]] == value, constant


def test_every_status_has_an_exception_class(header):
    from vlm.errors import error_for
    for constant, value in header.enums["vlm_status"].items():
        if value == 0:
            continue
        error = error_for(value, "m")
        assert type(error) is not vlm.VLMError, constant
        assert error.status == value
        assert capi.vlm_status_string(value).decode() == constant


def test_library_version_matches_bindings():
    assert vlm.version_number() // 100 == capi.VLM_VERSION_NUMBER // 100
    assert vlm.version().startswith(f"{capi.VLM_VERSION_MAJOR}.{capi.VLM_VERSION_MINOR}.")


# ---- the Pythonic layer against vlm.h ----------------------------------------
# The checks above hold vlm.capi to the header; these hold the idiomatic API
# to it, so that a function or field added to vlm.h fails here until the
# binding exposes it (or this file says why it does not).

import inspect as _inspect
from pathlib import Path

# Header functions the Pythonic layer has no reason to call.
NOT_WRAPPED = {
    "vlm_free": "no call of vlm.h hands the caller library-allocated memory yet",
}


def test_every_function_is_reached_by_the_pythonic_layer(header):
    package = Path(vlm.__file__).parent
    source = "\n".join(p.read_text(encoding="utf-8") for p in package.glob("*.py")
                       if p.name != "capi.py")
    missing = [name for name in sorted(header.functions)
               if not re.search(rf"\bcapi\.{name}\b", source) and name not in NOT_WRAPPED]
    assert not missing, "vlm.h functions without a Pythonic wrapper: " + ", ".join(missing)


# C field -> the Python keyword that sets it (None: set by the binding itself)
PARAMS_KEYWORDS = {
    "vlm_image_params": (lambda: vlm.Image.__init__, {"struct_size": None}),
    "vlm_model_params": (lambda: vlm.Model.__init__,
                         {"struct_size": None, "progress_user_data": None}),
    "vlm_session_params": (lambda: vlm.Session.__init__,
                           {"struct_size": None, "progress_user_data": None}),
    "vlm_generate_params": (lambda: vlm.Session.generate,
                            {"struct_size": None, "user_data": None, "stop_strings": "stop",
                             "n_stop_strings": None}),
}


@pytest.mark.parametrize("name", sorted(PARAMS_KEYWORDS))
def test_every_params_field_has_a_keyword(header, name):
    function, renamed = PARAMS_KEYWORDS[name]
    keywords = set(_inspect.signature(function()).parameters)
    for field, _, _ in header.structs[name]:
        keyword = renamed.get(field, field)
        if keyword is not None:
            assert keyword in keywords, f"{name}.{field} has no keyword argument"


# output struct -> (Python value type, C fields it folds or omits)
OUTPUT_TYPES = {
    "vlm_timings": (vlm.Timings, {"struct_size": None}),
    "vlm_image_plan": (vlm.ImagePlan, {"struct_size": None}),
    "vlm_tensor_info": (vlm.TensorInfo, {"struct_size": None, "n_dims": "shape"}),
    "vlm_grounding_item": (vlm.GroundingItem, {}),
}


@pytest.mark.parametrize("name", sorted(OUTPUT_TYPES))
def test_output_value_types_carry_every_field(header, name):
    value_type, renamed = OUTPUT_TYPES[name]
    for field, _, _ in header.structs[name]:
        target = renamed.get(field, field)
        if target is not None:
            assert target in value_type._fields, f"{name}.{field} missing from {value_type.__name__}"


@pytest.mark.parametrize("c_enum,prefix,py_enum", [
    ("vlm_grounding_kind", "VLM_GROUNDING_", vlm.GroundingKind),
    ("vlm_grounding_reason", "VLM_GROUNDING_", vlm.GroundingReason),
    ("vlm_safety_policy", "VLM_SAFETY_", vlm.SafetyPolicy),
])
def test_newer_enums_cover_header_enums(header, c_enum, prefix, py_enum):
    for constant, value in header.enums[c_enum].items():
        assert py_enum[constant[len(prefix):]] == value, constant


@pytest.mark.parametrize("struct_name", ["vlm_image_plan", "vlm_timings"])
def test_output_structs_are_filled_to_our_size_only(model_dir, struct_name):
    struct_type = capi.STRUCTS[struct_name]
    size = ctypes.sizeof(struct_type)
    with vlm.Model(model_dir) as model, model.session() as session:
        buffer = (ctypes.c_uint8 * (size + 64))(*([0xAB] * (size + 64)))
        out = struct_type.from_buffer(buffer)
        out.struct_size = size
        if struct_name == "vlm_image_plan":
            status = capi.vlm_session_plan_image(session._ptr, 64, 48, byref(out))
        else:
            status = capi.vlm_session_timings(session._ptr, byref(out))
        assert status == capi.VLM_OK
        assert all(b == 0xAB for b in buffer[size:])
        # a caller that knows only the first field gets nothing else written
        buffer = (ctypes.c_uint8 * (size + 64))(*([0xAB] * (size + 64)))
        out = struct_type.from_buffer(buffer)
        out.struct_size = ctypes.sizeof(ctypes.c_size_t)
        if struct_name == "vlm_image_plan":
            status = capi.vlm_session_plan_image(session._ptr, 64, 48, byref(out))
        else:
            status = capi.vlm_session_timings(session._ptr, byref(out))
        if status == capi.VLM_OK:
            assert all(b == 0xAB for b in buffer[ctypes.sizeof(ctypes.c_size_t):])
        else:
            assert status == capi.VLM_ERR_INVALID_ARGUMENT
