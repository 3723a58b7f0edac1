"""Bihuan from Python (docs/python.md): open an engine in a new directory, deploy a small
definition, start an instance, send it an event, let a timer fire on the virtual clock, and
print its history. Exits 0 when every call succeeded.

    python3 main.py [DATA_DIR]
"""

import sys
import tempfile

import bihuan

DEFINITION = {
    "id": "sample.check",
    "version": 1,
    "initial": "sampled",
    "states": {
        "sampled": {"on": {"test": {"roles": ["lab"], "target": "tested"}}},
        "tested": {"timers": [{"id": "release", "after": "PT24H", "target": "released"}]},
        "released": {"type": "final", "outcome": "released"},
    },
}


def main() -> int:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="bihuan-py-")
    with bihuan.open(data_dir, virtual_clock="2024-03-01T08:00:00Z") as engine:
        print("deployed", engine.deploy(DEFINITION))
        inst = engine.start("sample.check", {"product": "milk"}, business_key="S-001")
        print("started ", inst["id"], inst["state"])
        try:
            engine.send(inst["id"], "test", actor=bihuan.actor("clerk.1", "clerk"))
        except bihuan.RefusedError as e:
            print("refused ", e.type, "-", e.message)
        engine.send(inst["id"], "test", actor=bihuan.actor("lab.1", "lab"))
        print("timers fired:", engine.advance(seconds=24 * 3600))
        for entry in engine.history(inst["id"]):
            print(f"  {entry['seq']}  {entry['at']}  {entry['kind']:6} {entry['from'] or '-'} -> {entry['to']}")
        final = engine.get(inst["id"])
        return 0 if final["outcome"] == "released" else 1


if __name__ == "__main__":
    sys.exit(main())
