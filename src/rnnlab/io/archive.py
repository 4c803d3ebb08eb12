"""The rnnlab file: a .npz archive (np.savez, uncompressed) of arrays plus a JSON config.

The config is stored as the uint8 array "__config__" holding UTF-8 JSON with
"format": "rnnlab", a format "version", a "kind" and an "arrays" table of
every other member's shape and dtype. Reading never unpickles (arrays are
parsed from their .npy headers with numpy's safe header reader) and checks
every member against the table and the archive's sizes before allocating.
"""

import json
import os
import zipfile
import zlib

import numpy as np

from .atomic import atomic_open

FORMAT = "rnnlab"
VERSION = 1
CONFIG_KEY = "__config__"
ARRAY_DTYPES = ("float32", "float64")
MAX_CONFIG_BYTES = 64 << 20


class FormatError(ValueError):
    """The file is not a valid rnnlab file of a version this library reads."""


def write(path, kind, config, arrays):
    """Write config (JSON-able dict) and arrays {key: float array} to path atomically."""
    path = os.fspath(path)
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    table = {k: {"shape": list(a.shape), "dtype": a.dtype.name} for k, a in arrays.items()}
    for key, spec in table.items():
        if spec["dtype"] not in ARRAY_DTYPES:
            raise TypeError(f"array {key!r} expected dtype float32 or float64, got {spec['dtype']}")
    header = {"format": FORMAT, "version": VERSION, "kind": kind, "arrays": table, **config}
    payload = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with atomic_open(path, "wb") as f:  # readers see the old file or the new one, never half of one
        np.savez(f, **{CONFIG_KEY: payload}, **arrays)


def read(path, kinds):
    """(config dict, {key: array}) from path, whose kind must be in kinds; FormatError otherwise."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no rnnlab file at {path!r}")
    try:
        with zipfile.ZipFile(path) as zf:
            members = {}
            for info in zf.infolist():
                if not info.filename.endswith(".npy") or info.filename[:-4] in members:
                    raise FormatError(f"unexpected member {info.filename!r}")
                if info.compress_type != zipfile.ZIP_STORED:
                    raise FormatError(f"member {info.filename!r} is compressed; rnnlab writes stored members")
                members[info.filename[:-4]] = info
            if CONFIG_KEY not in members:
                raise FormatError("no rnnlab config inside")
            if members[CONFIG_KEY].file_size > MAX_CONFIG_BYTES:
                raise FormatError("config too large")
            raw = _read_member(zf, members[CONFIG_KEY], "uint8", None)
            config = json.loads(raw.tobytes().decode("utf-8"))
            _check_header(config, kinds)
            table = config["arrays"]
            if set(members) - {CONFIG_KEY} != set(table):
                missing = sorted(set(table) - set(members))
                extra = sorted(set(members) - set(table) - {CONFIG_KEY})
                raise FormatError(f"arrays do not match the config (missing {missing}, unexpected {extra})")
            arrays = {}
            for key, spec in table.items():
                if (
                    not isinstance(spec, dict)
                    or spec.get("dtype") not in ARRAY_DTYPES
                    or not isinstance(spec.get("shape"), list)
                    or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in spec["shape"])
                ):
                    raise FormatError(f"array {key!r} has an invalid entry {spec!r}")
                arrays[key] = _read_member(zf, members[key], spec["dtype"], tuple(spec["shape"]))
    except FormatError as err:
        raise FormatError(f"{path}: not a valid rnnlab file: {err}") from None
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        UnicodeDecodeError,
        json.JSONDecodeError,
        ValueError,
        KeyError,
        TypeError,
        OverflowError,
        RecursionError,
    ) as err:
        raise FormatError(
            f"{path}: not a valid rnnlab file (truncated or corrupted?): {type(err).__name__}: {err}"
        ) from None
    return config, arrays


def _check_header(config, kinds):
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise FormatError(
            f"format expected {FORMAT!r}, got {config.get('format') if isinstance(config, dict) else config!r}"
        )
    version = config.get("version")
    if version != VERSION or isinstance(version, bool):
        raise FormatError(f"format version {version!r} is not supported (this rnnlab reads version {VERSION})")
    if config.get("kind") not in kinds:
        raise FormatError(f"kind expected one of {list(kinds)}, got {config.get('kind')!r}")
    if not isinstance(config.get("arrays"), dict):
        raise FormatError("config has no array table")


def _read_member(zf, info, dtype, shape):
    """One .npy member: header checked against dtype and shape (None: any 1-D), sizes against the archive."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise FormatError(f"member {info.filename!r}: unsupported .npy version {version}")
        want = np.dtype(dtype)
        if got_dtype != want or got_dtype.hasobject:
            raise FormatError(f"member {info.filename!r}: dtype expected {want}, got {got_dtype}")
        if shape is None:
            shape = got_shape
            if len(shape) != 1:
                raise FormatError(f"member {info.filename!r}: expected a 1-D array, got shape {got_shape}")
        elif got_shape != shape:
            raise FormatError(f"member {info.filename!r}: shape expected {shape}, got {got_shape}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * want.itemsize
        if info.file_size != f.tell() + nbytes:  # sizes agree before anything is allocated
            raise FormatError(f"member {info.filename!r}: size {info.file_size} does not match its header")
        data = f.read(nbytes)
        if len(data) != nbytes or f.read(1):  # reading to the end also checks the CRC
            raise FormatError(f"member {info.filename!r} is truncated")
    return np.frombuffer(data, dtype=want).reshape(shape, order="F" if fortran else "C").copy()
