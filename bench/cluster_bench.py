#!/usr/bin/env python3
"""Durable steps per second of one or several `bihuan serve` nodes on one PostgreSQL
(issue 26; docs/PERFORMANCE.md, "Several nodes on PostgreSQL").

A PostgreSQL made with initdb in a temporary directory (fsync on, synchronous_commit on;
no standby: its cost is the network's, not Bihuan's), the test's definition deployed, N
nodes started on it, then one bench_http_load per node in closed loop (`--mode populate`:
C connections start instances as fast as they are answered), all at once. Prints, per
node count, the steps per second of all nodes together, the median of the nodes' p50 and
their largest p99, the steps re-executed (bihuan_steps_reexecuted_total: commits refused
because another node committed in between) and the writer's turns taken, passed after a
slice and waited for past the limit, as one JSON line per run.

Usage: cluster_bench.py --bihuan build/cli/bihuan --load build/bench/bench_http_load
           [--nodes 1,3] [--n 3000] [--connections 16] [--runs 1]
Every run has a database of its own. Runs as root (PostgreSQL as the user postgres) or not.
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "cluster"))
from cluster_test import DEFINITION, TOKEN, Node, Postgres, free_port  # noqa: E402


def metric(node, name):
    c = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    c.request("GET", "/metrics", headers={"Authorization": "Bearer " + TOKEN})
    text = c.getresponse().read().decode()
    c.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def run_once(a, pg, root, port, count, run):
    db = f"bench_{count}_{run}"
    pg.sql(port, f"CREATE DATABASE {db}")
    store = f"postgresql:host={root} port={port} dbname={db} user=postgres"
    definition = os.path.join(root, "cluster.json")
    with open(definition, "w") as f:
        json.dump(DEFINITION, f)
    subprocess.run([a.bihuan, "deploy", "--data-dir", os.path.join(root, db, "deploy"),
                    "--store", store, definition], check=True, stdout=subprocess.DEVNULL)
    nodes = []
    try:
        for k in range(count):
            n = Node(a.bihuan, os.path.join(root, db, f"node{k + 1}", "data"), store, free_port())
            n.start()
            nodes.append(n)
        outs = [None] * count

        def load(i):
            r = subprocess.run([a.load, "--port", str(nodes[i].port), "--token", TOKEN,
                                "--mode", "populate", "--n", str(a.n // count),
                                "--connections", str(a.connections),
                                "--definition", DEFINITION["id"], "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            outs[i] = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr

        t0 = time.monotonic()
        threads = [threading.Thread(target=load, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        docs = [json.loads(o) for o in outs]
        ok = sum(d["ok"] for d in docs)
        p50s = sorted(d["p50Ms"] for d in docs)
        line = {"nodes": count, "connectionsPerNode": a.connections, "steps": ok,
                "wallSeconds": round(wall, 3), "stepsPerSecond": round(ok / wall, 1),
                "p50Ms": p50s[len(p50s) // 2], "p99Ms": max(d["p99Ms"] for d in docs),
                "errors": [d["errors"] for d in docs if d["errors"]],
                "reexecuted": int(sum(metric(n, "bihuan_steps_reexecuted_total")
                                      for n in nodes)),
                "turns": int(sum(metric(n, "bihuan_writer_turns_total") for n in nodes)),
                "turnsPassed": int(sum(metric(n, "bihuan_writer_turns_passed_total")
                                       for n in nodes)),
                "turnWaitsExpired": int(sum(metric(n, "bihuan_writer_turn_waits_expired_total")
                                            for n in nodes))}
        # What the database holds per step (tables, indexes, TOAST; not the WAL).
        size = int(pg.sql(port, f"SELECT pg_database_size('{db}')") or 0)
        empty = int(pg.sql(port, "SELECT pg_database_size('template1')") or 0)
        line["databaseBytesPerStep"] = round((size - empty) / max(ok, 1))
        print(json.dumps(line), flush=True)
        return line
    finally:
        for n in nodes:
            n.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bihuan", required=True)
    ap.add_argument("--load", required=True, help="build/bench/bench_http_load")
    ap.add_argument("--nodes", default="1,3")
    ap.add_argument("--n", type=int, default=3000, help="instances started in all")
    ap.add_argument("--connections", type=int, default=16, help="per node")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.bihuan, a.load = os.path.abspath(a.bihuan), os.path.abspath(a.load)
    root = tempfile.mkdtemp(prefix="bihuan-cluster-bench-")
    os.chmod(root, 0o755)
    pg = Postgres(root)
    port = free_port()
    data = os.path.join(root, "pg")
    try:
        pg.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync")
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write(f"listen_addresses = ''\nunix_socket_directories = '{root}'\nport = {port}\n"
                    "max_connections = 300\n")
        pg.run("pg_ctl", "-D", data, "-l", os.path.join(root, "pg.log"), "-w", "start")
        for run in range(a.runs):
            for count in [int(x) for x in a.nodes.split(",")]:
                run_once(a, pg, root, port, count, run)
    finally:
        pg.run("pg_ctl", "-D", data, "-m", "fast", "stop", check=False)
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
