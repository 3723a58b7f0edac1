"""Loading libbihuan.so and declaring the C API (bihuan.h) to ctypes: nothing to compile.

The library is looked for in this order: the file named by the environment variable
BIHUAN_LIBRARY; libbihuan.so.1 next to this package and in ../../../lib (the layout of an
installed prefix: <prefix>/share/bihuan/python/bihuan -> <prefix>/lib); then the system's
search path (ldconfig, LD_LIBRARY_PATH).
"""

from __future__ import annotations

import ctypes
import os
import pathlib
from typing import Optional

ABI_MAJOR = 1
ABI_MINOR = 0
ABI_VERSION = (ABI_MAJOR << 16) | ABI_MINOR

# Status codes (bihuan.h).
OK = 0
EINVAL = 1
ENOTFOUND = 2
EREFUSED = 3
ECLOSED = 4
EIO = 5
EABI = 6
EINTERNAL = 7

CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

_SONAME = "libbihuan.so.1"


def _candidates() -> list[str]:
    out = []
    env = os.environ.get("BIHUAN_LIBRARY")
    if env:
        return [env]
    here = pathlib.Path(__file__).resolve().parent
    for d in (here, here.parent, here.parents[3] / "lib" if len(here.parents) > 3 else None):
        if d is None:
            continue
        for name in (_SONAME, "libbihuan.so"):
            p = d / name
            if p.exists():
                out.append(str(p))
        if d.exists():
            # Debian-style multiarch libdir: <prefix>/lib/<triplet>/
            out.extend(str(p) for p in sorted(d.glob("*/" + _SONAME)))
    out.append(_SONAME)  # the system's search path
    return out


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    c_char_pp = ctypes.POINTER(ctypes.c_void_p)  # char** we free with bihuan_free
    eng = ctypes.c_void_p
    text = ctypes.c_char_p
    sig = {
        "bihuan_abi_version": (ctypes.c_uint, []),
        "bihuan_status_name": (ctypes.c_char_p, [ctypes.c_int]),
        "bihuan_free": (None, [ctypes.c_void_p]),
        "bihuan_open": (
            ctypes.c_int,
            [text, ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p), c_char_pp],
        ),
        "bihuan_close": (ctypes.c_int, [eng, c_char_pp]),
        "bihuan_release": (None, [eng]),
        "bihuan_deploy": (ctypes.c_int, [eng, text, text, c_char_pp, c_char_pp]),
        "bihuan_start_async": (ctypes.c_int, [eng, text, CALLBACK, ctypes.c_void_p, c_char_pp]),
        "bihuan_send_async": (ctypes.c_int, [eng, text, CALLBACK, ctypes.c_void_p, c_char_pp]),
        "bihuan_verify": (ctypes.c_int, [eng, c_char_pp, c_char_pp]),
        "bihuan_clock_now": (ctypes.c_int, [eng, ctypes.POINTER(ctypes.c_int64), c_char_pp]),
        "bihuan_clock_advance_to": (
            ctypes.c_int,
            [eng, ctypes.c_int64, ctypes.POINTER(ctypes.c_uint64), c_char_pp],
        ),
        "bihuan_clock_advance": (
            ctypes.c_int,
            [eng, ctypes.c_int64, ctypes.POINTER(ctypes.c_uint64), c_char_pp],
        ),
    }
    # (engine, text in, char** result, char** error)
    for name in (
        "bihuan_start",
        "bihuan_send",
        "bihuan_cancel",
        "bihuan_get",
        "bihuan_get_by_key",
        "bihuan_query",
        "bihuan_history",
        "bihuan_inbox",
        "bihuan_stats",
    ):
        sig[name] = (ctypes.c_int, [eng, text, c_char_pp, c_char_pp])
    for name, (restype, argtypes) in sig.items():
        f = getattr(lib, name)
        f.restype = restype
        f.argtypes = argtypes
    return lib


_lib: Optional[ctypes.CDLL] = None


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first use)."""
    global _lib
    if _lib is None:
        errors = []
        for path in _candidates():
            try:
                _lib = _declare(ctypes.CDLL(path))
                break
            except OSError as e:
                errors.append(f"{path}: {e}")
        if _lib is None:
            raise OSError(
                "libbihuan.so not found (set BIHUAN_LIBRARY to its path): " + "; ".join(errors)
            )
    return _lib


def take(lib: ctypes.CDLL, p: ctypes.c_void_p) -> Optional[str]:
    """The text a call returned through a char** (freed), or None."""
    if not p.value:
        return None
    try:
        return ctypes.string_at(p.value).decode("utf-8")
    finally:
        lib.bihuan_free(p)
