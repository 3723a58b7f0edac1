#!/usr/bin/python3
"""Durable steps per second through the Python binding (bindings/python), against the same
through the engine's C++ API and the C API (bench_capi, built from bindings/c/bench): the
binding's overhead as a ratio. docs/PERFORMANCE.md, "The C API and Python".

    cmake --build build --target bihuan_c bench_capi
    BIHUAN_LIBRARY=build/bindings/c/libbihuan.so PYTHONPATH=bindings/python \
      /usr/bin/python3 bench/python_steps.py --steps 2000 --async-steps 20000 \
      --bench-capi build/bindings/c/bench_capi [--nosync]

sync: events sent one at a time, each waiting for its durable commit; async: all submitted
at once over --instances instances (they share group commits), then waited for.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import threading
import time

import bihuan

TICK = {
    "id": "bench.tick",
    "version": 1,
    "initial": "on",
    "states": {
        "on": {
            "on": {
                "tick": {"roles": ["system"], "target": "on"},
                "stop": {"roles": ["system"], "target": "off"},
            }
        },
        "off": {"type": "final", "outcome": "stopped"},
    },
}


def python_bench(root: str, steps: int, instances: int, durable: bool, mode: str) -> dict:
    with bihuan.open(f"{root}/py-{mode}", durable=durable) as eng:
        eng.deploy(TICK)
        ids = [eng.start("bench.tick")["id"] for _ in range(instances if mode == "async" else 1)]
        t0 = time.perf_counter()
        if mode == "async":
            left = [steps]
            lock, done = threading.Lock(), threading.Event()

            def callback(result, error):
                with lock:
                    left[0] -= 1
                    if left[0] == 0:
                        done.set()

            for i in range(steps):
                eng.send_async(ids[i % len(ids)], "tick", callback)
            done.wait()
        else:
            for _ in range(steps):
                eng.send(ids[0], "tick")
        secs = time.perf_counter() - t0
    return {"api": "python", "mode": mode, "steps": steps, "durable": durable,
            "seconds": secs, "stepsPerSecond": steps / secs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000, help="sync steps")
    ap.add_argument("--async-steps", type=int, default=20000)
    ap.add_argument("--instances", type=int, default=100)
    ap.add_argument("--nosync", action="store_true")
    ap.add_argument("--bench-capi", help="path of bench_capi, for the C++ and C figures")
    ap.add_argument("--repeat", type=int, default=3, help="best of")
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="bihuan-pybench-")
    best: dict = {}
    try:
        for _ in range(a.repeat):
            rows = []
            for mode, n in (("sync", a.steps), ("async", a.async_steps)):
                rows.append(python_bench(root, n, a.instances, not a.nosync, mode))
                if a.bench_capi:
                    cmd = [a.bench_capi, "--steps", str(n), "--instances", str(a.instances)]
                    out = subprocess.run(cmd + (["--nosync"] if a.nosync else []) + [root + "/capi"],
                                         check=True, capture_output=True, text=True).stdout
                    rows += [r for r in map(json.loads, out.splitlines()) if r["mode"] == mode]
            for r in rows:
                key = (r["api"], r["mode"])
                if key not in best or r["stepsPerSecond"] > best[key]["stepsPerSecond"]:
                    best[key] = r
            shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'api':8} {'mode':6} {'steps':>7} {'steps/s':>10} {'vs c++':>7}")
    for (api, mode), r in sorted(best.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cpp = best.get(("c++", mode))
        ratio = f"{cpp['stepsPerSecond'] / r['stepsPerSecond']:.2f}x" if cpp else "-"
        print(f"{api:8} {mode:6} {r['steps']:7} {r['stepsPerSecond']:10.0f} {ratio:>7}")


if __name__ == "__main__":
    main()
