"""Bihuan, the durable workflow engine, from Python (docs/python.md).

A thin, typed layer over the C API (libbihuan.so, bihuan.h) through ctypes: nothing to
compile. Results are dicts with the same members as the HTTP API's answers; every failure
is a bihuan.Error (a subclass per status) carrying the problems and their JSON Pointers.

    import bihuan
    with bihuan.open("data", virtual_clock="2024-01-01T00:00:00Z") as engine:
        engine.deploy(definition)
        inst = engine.start("expense", {"amount": 120})
        engine.send(inst["id"], "approve", actor=bihuan.actor("li.si", "manager"))
        for entry in engine.history(inst["id"]):
            print(entry["kind"], entry["to"])
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import datetime as _dt
import itertools
import json
import sys
import threading
import traceback
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from . import _lib

__all__ = [
    "ABI_VERSION",
    "AbiError",
    "ClosedError",
    "Engine",
    "Error",
    "InternalError",
    "InvalidError",
    "NotFoundError",
    "RefusedError",
    "StorageError",
    "actor",
    "open",
]

ABI_VERSION = _lib.ABI_VERSION

Json = Dict[str, Any]
Callback = Callable[[Optional[Json], Optional["Error"]], None]
TimeLike = Union[_dt.datetime, str, int]


class Error(Exception):
    """A failed call: `code` is the C status (bihuan.h), `type` the engine's reason
    ("guard-false", "invalid-json", ...), `problems` the problems found (each a dict with
    "pointer", "code", "message" and, for JSON text, "line" and "column"), `pointer` the
    first problem's JSON Pointer (None without problems), `details` what the engine added."""

    def __init__(self, code: int, body: Json):
        self.code: int = code
        self.body: Json = body
        self.type: str = str(body.get("type", ""))
        self.message: str = str(body.get("message", ""))
        self.problems: List[Json] = list(body.get("problems") or [])
        self.details: Any = body.get("details")
        self.pointer: Optional[str] = self.problems[0].get("pointer") if self.problems else None
        text = self.message
        if self.pointer:
            text += f" (at {self.pointer}: {self.problems[0].get('message', '')})"
        super().__init__(text)


class InvalidError(Error, ValueError):
    """A malformed request: bad JSON, a member of the wrong type, a refused cursor."""


class NotFoundError(Error, LookupError):
    """No such instance or definition."""


class RefusedError(Error):
    """The engine refused: a definition with errors, a step's guard, role, version..."""


class ClosedError(Error):
    """The engine was closed."""


class StorageError(Error, OSError):
    """Storage failed or cannot be read now (retry later)."""


class AbiError(Error):
    """The library does not serve this package's ABI version."""


class InternalError(Error):
    """A defect in the library (please report it)."""


_ERRORS = {
    _lib.EINVAL: InvalidError,
    _lib.ENOTFOUND: NotFoundError,
    _lib.EREFUSED: RefusedError,
    _lib.ECLOSED: ClosedError,
    _lib.EIO: StorageError,
    _lib.EABI: AbiError,
    _lib.EINTERNAL: InternalError,
}


def _error(code: int, text: Optional[str]) -> Error:
    body = json.loads(text) if text else {"message": _lib.lib().bihuan_status_name(code).decode()}
    return _ERRORS.get(code, Error)(code, body)


def actor(id: str, *roles: str, **attrs: Any) -> Json:
    """An actor: actor("li.si", "manager", unit="golmud/T03")."""
    return {"id": id, "roles": list(roles), "attrs": attrs}


def _time_text(t: Union[_dt.datetime, str]) -> str:
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return t.isoformat()
    return t


def _ms(t: TimeLike) -> int:
    if isinstance(t, int):
        return t
    if isinstance(t, str):
        t = _dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return int(t.timestamp() * 1000)


def _compact(**members: Any) -> Json:
    return {k: v for k, v in members.items() if v is not None}


def _members(args: Mapping[str, Any]) -> Json:
    """Call arguments as request members: snake_case to camelCase; self and None left out."""
    out: Json = {}
    for key, value in args.items():
        if key != "self" and value is not None:
            head, *rest = key.split("_")
            out[head + "".join(w.title() for w in rest)] = value
    return out


# Completion callbacks in flight: the C side gets a number, the trampoline finds the
# Python callable by it (ctypes objects must outlive the call; one trampoline serves all).
_pending: Dict[int, Callable[[int, Optional[str]], None]] = {}
_pending_lock = threading.Lock()
_ids = itertools.count(1)


def _trampoline(user: Optional[int], code: int, text: Optional[bytes]) -> None:
    with _pending_lock:
        fn = _pending.pop(user or 0, None)
    if fn is None:
        return
    try:
        fn(code, text.decode("utf-8") if text else None)
    except BaseException:  # never let it unwind into the engine's thread
        traceback.print_exc(file=sys.stderr)


_TRAMPOLINE = _lib.CALLBACK(_trampoline)


class Engine:
    """One open engine (one data directory). Thread-safe: any thread may call any method;
    close() waits for calls in progress and for queued steps (their callbacks included).
    Use it as a context manager, or call close()."""

    def __init__(self, data_dir: str, **options: Any):
        self._lib = _lib.lib()
        self._handle = ctypes.c_void_p()
        #: Exceptions raised by completion callbacks (each also printed to stderr).
        self.callback_errors: List[BaseException] = []
        self._call_open(_compact(dataDir=str(data_dir), **options))

    def _call_open(self, options: Json) -> None:
        err = ctypes.c_void_p()
        code = self._lib.bihuan_open(
            json.dumps(options).encode(), ABI_VERSION, ctypes.byref(self._handle), ctypes.byref(err)
        )
        if code != _lib.OK:
            raise _error(code, _lib.take(self._lib, err))

    # -- plumbing
    def _call(self, fn: str, *args: Any) -> Any:
        result, err = ctypes.c_void_p(), ctypes.c_void_p()
        code = getattr(self._lib, fn)(self._handle, *args, ctypes.byref(result), ctypes.byref(err))
        text = _lib.take(self._lib, result)
        if code != _lib.OK:
            raise _error(code, _lib.take(self._lib, err))
        return json.loads(text) if text else None

    def _request(self, fn: str, request: Json) -> Json:
        return self._call(fn, json.dumps(request).encode())

    def _async(self, fn: str, request: Json, callback: Callback) -> None:
        key = next(_ids)

        def done(code: int, text: Optional[str]) -> None:
            try:
                if code == _lib.OK:
                    callback(json.loads(text) if text else None, None)
                else:
                    callback(None, _error(code, text))
            except BaseException as e:
                self.callback_errors.append(e)
                raise

        with _pending_lock:
            _pending[key] = done
        err = ctypes.c_void_p()
        code = getattr(self._lib, fn)(
            self._handle, json.dumps(request).encode(), _TRAMPOLINE, key, ctypes.byref(err)
        )
        if code != _lib.OK:
            with _pending_lock:
                _pending.pop(key, None)
            raise _error(code, _lib.take(self._lib, err))

    # -- lifetime
    def close(self) -> None:
        """Closes the engine (idempotent); later calls raise ClosedError."""
        if self._handle.value:
            err = ctypes.c_void_p()
            code = self._lib.bihuan_close(self._handle, ctypes.byref(err))
            if code != _lib.OK:
                raise _error(code, _lib.take(self._lib, err))

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            self._lib.bihuan_release(handle)
            handle.value = None

    # -- definitions and steps
    def deploy(self, definition: Union[Mapping[str, Any], str], source: str = "definition") -> Json:
        """Deploys a definition (a dict or JSON text): {"id", "version", "unchanged",
        "warnings"}. A definition with errors raises RefusedError listing every problem."""
        text = definition if isinstance(definition, str) else json.dumps(definition)
        return self._call("bihuan_deploy", text.encode(), source.encode())

    def start(
        self,
        definition: str,
        data: Optional[Mapping[str, Any]] = None,
        *,
        business_key: Optional[str] = None,
        version: Optional[int] = None,
        return_existing: Optional[bool] = None,
        idempotency_key: Optional[str] = None,
        actor: Optional[Mapping[str, Any]] = None,
    ) -> Json:
        """Starts an instance; returns it once durably committed."""
        return self._request("bihuan_start", _members(locals()))

    def send(
        self,
        instance: Optional[str],
        event: str,
        payload: Optional[Mapping[str, Any]] = None,
        *,
        business_key: Optional[str] = None,
        actor: Optional[Mapping[str, Any]] = None,
        idempotency_key: Optional[str] = None,
        expected_version: Optional[int] = None,
    ) -> Json:
        """Sends an event to an instance (by id, or instance=None and business_key=...);
        returns the instance after the step, durably committed."""
        return self._request("bihuan_send", _members(locals()))

    def send_async(
        self, instance: Optional[str], event: str, callback: Callback, **kwargs: Any
    ) -> None:
        """send() without waiting: callback(result, error) runs once, on an engine thread,
        after the commit (error is a bihuan.Error for a refusal). It must not call this
        engine's blocking methods. An exception it raises is printed and kept in
        callback_errors; it never reaches the engine."""
        self._async("bihuan_send_async", _members(dict(kwargs, instance=instance, event=event)), callback)

    def start_async(self, definition: str, callback: Callback, **kwargs: Any) -> None:
        """start() without waiting (see send_async)."""
        self._async("bihuan_start_async", _members(dict(kwargs, definition=definition)), callback)

    def send_future(self, instance: Optional[str], event: str, **kwargs: Any) -> "concurrent.futures.Future[Json]":
        """send_async() as a Future (result() raises the bihuan.Error of a refusal)."""
        future: "concurrent.futures.Future[Json]" = concurrent.futures.Future()

        def done(result: Optional[Json], error: Optional[Error]) -> None:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result or {})

        self.send_async(instance, event, done, **kwargs)
        return future

    def cancel(
        self, instance: str, reason: str = "", *, actor: Optional[Mapping[str, Any]] = None
    ) -> Json:
        """Cancels a running instance."""
        return self._request("bihuan_cancel", _compact(instance=instance, reason=reason, actor=actor))

    # -- reads
    def get(self, instance: str) -> Json:
        """The instance (NotFoundError if there is none)."""
        return self._call("bihuan_get", instance.encode())

    def get_by_key(self, business_key: str) -> Json:
        """The instance with this business key (NotFoundError if there is none)."""
        return self._call("bihuan_get_by_key", business_key.encode())

    def query_page(self, **query: Any) -> Json:
        """One page: {"items", "nextCursor"?}. Members as bihuan_query (camelCase)."""
        return self._request("bihuan_query", _compact(**query))

    def query(
        self,
        definition: Optional[str] = None,
        *,
        state: Optional[str] = None,
        status: Optional[str] = None,
        business_key_prefix: Optional[str] = None,
        unit: Optional[str] = None,
        filters: Optional[Mapping[str, Any]] = None,
        viewer: Optional[Mapping[str, Any]] = None,
        page_size: int = 50,
    ) -> Iterator[Json]:
        """Every matching instance, read a page at a time as the iterator advances."""
        q = _members(locals())
        q["limit"] = q.pop("pageSize")
        return self._pages("bihuan_query", q)

    def _pages(self, fn: str, q: Json) -> Iterator[Json]:
        while True:
            page = self._request(fn, q)
            yield from page["items"]
            if "nextCursor" not in page:
                return
            q = dict(q, cursor=page["nextCursor"])

    def history_pages(self, instance: str, page_size: int = 100) -> Iterator[Json]:
        """Pages of the history, newest page first ({"items" oldest first, "nextCursor"?})."""
        q: Json = {"instance": instance, "limit": page_size}
        while True:
            page = self._request("bihuan_history", q)
            yield page
            if "nextCursor" not in page:
                return
            q = dict(q, cursor=page["nextCursor"])

    def history(self, instance: str, *, newest_first: bool = False, page_size: int = 100) -> Iterator[Json]:
        """The history's entries, oldest first (newest_first: read lazily from the newest)."""
        if newest_first:
            for page in self.history_pages(instance, page_size):
                yield from reversed(page["items"])
            return
        pages = list(self.history_pages(instance, page_size))
        for page in reversed(pages):
            yield from page["items"]

    def inbox(self, actor: Mapping[str, Any], *, page_size: int = 100) -> Iterator[Json]:
        """The actor's tasks ({"instance", "events", "deadline"?}), due first, page by page."""
        return self._pages("bihuan_inbox", {"actor": dict(actor), "limit": page_size})

    def stats(
        self,
        definition: Optional[str] = None,
        group_by: Sequence[str] = (),
        **query: Any,
    ) -> Json:
        """Counts of instances, as GET /v1/stats ({"total", "groups", ...})."""
        return self._request(
            "bihuan_stats", _compact(definition=definition, groupBy=list(group_by), **query)
        )

    def verify(self) -> Json:
        """Checks the whole store: {"ok", "instances", "entries", "broken", ...}."""
        return self._call("bihuan_verify")

    # -- the clock
    def now_ms(self) -> int:
        """The engine's clock in ms since the epoch."""
        out, err = ctypes.c_int64(), ctypes.c_void_p()
        code = self._lib.bihuan_clock_now(self._handle, ctypes.byref(out), ctypes.byref(err))
        if code != _lib.OK:
            raise _error(code, _lib.take(self._lib, err))
        return out.value

    def now(self) -> _dt.datetime:
        """The engine's clock as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self.now_ms() / 1000, tz=_dt.timezone.utc)

    def _advance(self, fn: str, value: int) -> int:
        fired, err = ctypes.c_uint64(), ctypes.c_void_p()
        code = getattr(self._lib, fn)(self._handle, value, ctypes.byref(fired), ctypes.byref(err))
        if code != _lib.OK:
            raise _error(code, _lib.take(self._lib, err))
        return fired.value

    def advance(
        self, delta: Union[_dt.timedelta, None] = None, *, seconds: float = 0, ms: int = 0
    ) -> int:
        """Virtual clock: moves time forward, firing due timers; returns how many fired."""
        total = ms + int(seconds * 1000)
        if delta is not None:
            total += int(delta.total_seconds() * 1000)
        return self._advance("bihuan_clock_advance", total)

    def advance_to(self, t: TimeLike) -> int:
        """Virtual clock: moves time to t (datetime, ISO text or ms), firing due timers."""
        return self._advance("bihuan_clock_advance_to", _ms(t))


def open(
    data_dir: str,
    *,
    virtual_clock: Union[_dt.datetime, str, None] = None,
    durable: Optional[bool] = None,
    timezone: Optional[str] = None,
    max_batch: Optional[int] = None,
) -> Engine:
    """Opens (creating if needed) an engine on data_dir. virtual_clock: start a virtual
    clock then (tests; advance() moves it); durable=False: no fsync (simulation only)."""
    return Engine(
        data_dir,
        virtualClock=_time_text(virtual_clock) if virtual_clock is not None else None,
        durable=durable,
        timezone=timezone,
        maxBatch=max_batch,
    )
