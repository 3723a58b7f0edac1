#!/usr/bin/env python3
"""Failure test of Bihuan on PostgreSQL (issue 26): a primary and a synchronous standby in
temporary directories, three `bihuan serve` nodes on them, a bounded load of starts, events
and timers sent round-robin through their HTTP APIs with idempotency keys; then SIGKILL of
one node (its timers and its share of the outbox taken over by the others), and later the
loss of the primary (stopped with `-m immediate`) and the promotion of the standby, the
nodes reconnecting by themselves (libpq multi-host, target_session_attrs=read-write). It
checks that every acknowledged step is in history exactly once, `bihuan verify` passes on
the promoted database, every timer fired exactly once and every outbox message was
delivered at least once with one idempotency key; it reports the client-visible gap of
each fault, the steps executed again and the messages delivered twice, and ends with
`N passed, M failed`.

Usage: cluster_test.py --bihuan build/cli/bihuan [--instances 20] [--bumps 3] [--keep]
Runs as root (PostgreSQL then runs as the system user postgres) or as any user.
"""
import argparse
import hashlib
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

PG_BIN = os.environ.get("BIHUAN_PG_BIN", "/usr/lib/postgresql/15/bin")

DEFINITION = {
    "id": "cluster.order", "version": 1, "initial": "OPEN",
    "states": {
        "OPEN": {"on": {"bump": {"set": {"/n": {"+": [{"var": "data.n"}, 1]}}},
                        "close": {"target": "WAIT", "actions": [
                            {"notify": "log", "to": "ops", "template": "closed"}]}}},
        "WAIT": {"timers": [{"id": "settle", "after": "PT2S", "target": "DONE",
                             "set": {"/fired": {"+": [{"var": "data.fired"}, 1]}}}]},
        "DONE": {"type": "final", "outcome": "done"},
    },
}


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def note(self, what):
        """A figure or a step of the scenario, not a check: not counted."""
        print("     " + what, flush=True)

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """PostgreSQL programs run as the system user postgres when we are root."""

    def __init__(self, root):
        self.root = root
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(root, pw.pw_uid, pw.pw_gid)

    def run(self, *args, check=True):
        prog = args[0] if args[0].startswith("/") or args[0] == "touch" else os.path.join(
            PG_BIN, args[0])
        cmd = [prog] + list(args[1:])
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(" ".join(cmd) + " failed:\n" + r.stdout)
        return r.stdout

    def sql(self, port, query, db="postgres"):
        return subprocess.run([os.path.join(PG_BIN, "psql"), "-h", self.root, "-p", str(port),
                               "-U", "postgres", "-d", db, "-Atc", query],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout.strip()


TOKEN = "cluster-test-token"


class Node:
    def __init__(self, bihuan, data_dir, store, port):
        self.bihuan, self.data_dir, self.store, self.port = bihuan, data_dir, store, port
        self.proc = None
        # A token of its own, with no rate limit to speak of (the load is the test's).
        os.makedirs(os.path.dirname(data_dir), exist_ok=True)
        self.config = os.path.join(os.path.dirname(data_dir), "node.json")
        with open(self.config, "w") as f:
            json.dump({"dataDir": data_dir, "store": store, "server": {
                "limits": {"ratePerSecond": 1000000, "burst": 1000000},
                "tokens": [{"name": "test", "sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
                            "actor": "admin", "roles": ["admin"]}]}}, f)

    def start(self):
        log = open(os.path.join(os.path.dirname(self.data_dir), "node.log"), "a")
        self.proc = subprocess.Popen([self.bihuan, "serve", "--config", self.config,
                                      "--listen", f"127.0.0.1:{self.port}", "--no-workflows"],
                                     stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                status, _ = self.request("GET", "/healthz", None, timeout=1)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the node did not come up (see node.log)")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def request(self, method, path, body, key=None, timeout=15):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if path != "/healthz":
            headers["Authorization"] = "Bearer " + TOKEN
        if key:
            headers["Idempotency-Key"] = key
        c.request(method, path, json.dumps(body) if body is not None else None, headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, (json.loads(data) if data else None)


class Client:
    """Sends each step to the live nodes in turn and retries it, with its idempotency key,
    on the next one until it is acknowledged; records the failed attempts and the acks."""

    def __init__(self, nodes):
        self.live = list(nodes)
        self.turn = 0
        self.lock = threading.Lock()
        self.failures = []  # (time, what) of each failed attempt
        self.acked = {}     # idempotency key -> the instance it acted on
        self.successes = []  # time of each acknowledgement

    def next_node(self):
        with self.lock:
            self.turn += 1
            return self.live[self.turn % len(self.live)]

    def step(self, method, path, body, key, give_up=60, node=None):
        deadline = time.time() + give_up
        while True:
            target = node or self.next_node()
            try:
                status, doc = target.request(method, path, body, key)
                if 200 <= status < 300:
                    self.successes.append(time.time())
                    return doc
                if status < 500 and status not in (408, 429):
                    raise RuntimeError(f"{method} {path}: {status} {doc}")
                self.failures.append((time.time(), f"{status}"))
            except (OSError, http.client.HTTPException) as e:
                self.failures.append((time.time(), type(e).__name__))
                # Passive health check, as a load balancer does: a node that refuses
                # connections is taken out of the rotation (never the last one).
                if isinstance(e, ConnectionRefusedError) and node is None:
                    with self.lock:
                        if target in self.live and len(self.live) > 1:
                            self.live.remove(target)
            if time.time() > deadline:
                raise RuntimeError(f"{method} {path} ({key}) not acknowledged in {give_up} s")
            time.sleep(0.05)


def gap_after(client, t0):
    """Seconds from the fault at t0 to the first acknowledgement after the last attempt that
    failed because of it (the client retries every 50 ms)."""
    failed = [t for t, _ in client.failures if t >= t0]
    last = max(failed) if failed else t0
    acks = [t for t in client.successes if t > last]
    return (min(acks) - t0) if acks else float("inf")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bihuan", required=True)
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--bumps", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--clients", type=int, default=3, help="concurrent clients of the load")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    bihuan = os.path.abspath(a.bihuan)
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        print(f"no PostgreSQL programs in {PG_BIN}: run scripts/setup.sh", file=sys.stderr)
        return 2
    root = tempfile.mkdtemp(prefix="bihuan-cluster-")
    os.chmod(root, 0o755)
    pg = Postgres(root)
    res = Results()
    nodes = []
    p1, p2 = free_port(), free_port()
    try:
        # The primary, and a synchronous standby made from it.
        primary, standby = os.path.join(root, "primary"), os.path.join(root, "standby")
        pg.run("initdb", "-D", primary, "-U", "postgres", "-A", "trust", "--no-sync")
        with open(os.path.join(primary, "postgresql.conf"), "a") as f:
            f.write(f"listen_addresses = ''\nunix_socket_directories = '{root}'\nport = {p1}\n"
                    "wal_level = replica\nmax_wal_senders = 4\nsynchronous_commit = on\n")
        pg.run("pg_ctl", "-D", primary, "-l", os.path.join(root, "primary.log"), "-w", "start")
        pg.sql(p1, "CREATE DATABASE bihuan")
        pg.run("pg_basebackup", "-h", root, "-p", str(p1), "-U", "postgres", "-D", standby,
               "-X", "stream", "--checkpoint=fast")
        pg.run("touch", os.path.join(standby, "standby.signal"))
        with open(os.path.join(standby, "postgresql.conf"), "a") as f:
            # Once promoted it has no standby of its own: it must not wait for one.
            f.write(f"port = {p2}\nsynchronous_standby_names = ''\n"
                    f"primary_conninfo = 'host={root} port={p1} user=postgres "
                    "application_name=standby1'\n")
        pg.run("pg_ctl", "-D", standby, "-l", os.path.join(root, "standby.log"), "-w", "start")
        # Synchronous from now on (set before, CREATE DATABASE would wait for a standby).
        pg.sql(p1, "ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        pg.sql(p1, "SELECT pg_reload_conf()")
        deadline = time.time() + 30
        while pg.sql(p1, "SELECT sync_state FROM pg_stat_replication") != "sync":
            if time.time() > deadline:
                raise RuntimeError("the standby did not become synchronous")
            time.sleep(0.2)
        res.note(f"primary on port {p1}, synchronous standby on port {p2}")

        store = (f"postgresql:host={root},{root} port={p1},{p2} dbname=bihuan user=postgres "
                 "target_session_attrs=read-write connect_timeout=2")
        data = os.path.join(root, "deploy")
        definition = os.path.join(root, "cluster.json")
        with open(definition, "w") as f:
            json.dump(DEFINITION, f)
        subprocess.run([bihuan, "deploy", "--data-dir", data, "--store", store, definition],
                       check=True, stdout=subprocess.DEVNULL)
        nodes = []
        for k in range(a.nodes):
            n = Node(bihuan, os.path.join(root, f"node{k + 1}", "data"), store, free_port())
            n.start()
            nodes.append(n)
        node = nodes[0]
        client = Client(nodes)
        res.note(f"{len(nodes)} nodes on the primary")

        ids = []
        plan_lock = threading.Lock()

        def start_all(lo, hi):
            for i in range(lo, hi):
                key = f"start-{i}"
                doc = client.step("POST", "/v1/instances",
                                  {"definition": "cluster.order", "data": {"n": 0, "fired": 0}},
                                  key)
                with plan_lock:
                    ids.append((i, doc["id"]))
                client.acked[key] = doc["id"]

        stop = threading.Event()
        start_all(0, a.instances)
        ids.sort()
        # Group A is closed through the node that will die, just before it dies: their
        # timers, due two seconds later, must fire on the survivors. Group B takes the load.
        group_a, group_b = ids[: len(ids) // 2], ids[len(ids) // 2:]

        def bump_round(group, round_):
            for i, iid in group:
                key = f"bump-{i}-{round_}"
                client.step("POST", f"/v1/instances/{iid}/events", {"event": "bump"}, key)
                client.acked[key] = iid

        def load(part):
            round_ = 0
            while not stop.is_set() or round_ < a.bumps:
                bump_round(part, round_)
                round_ += 1

        for i, iid in group_a:
            bump_round([(i, iid)], 0)
        workers = [threading.Thread(target=load, args=(group_b[c::a.clients],))
                   for c in range(a.clients)]
        for w in workers:
            w.start()
        time.sleep(1.0)
        # Fault 1: a node is SIGKILLed under load, right after it armed group A's timers.
        victim = nodes[-1] if len(nodes) > 1 else nodes[0]
        for i, iid in group_a:
            client.step("POST", f"/v1/instances/{iid}/events", {"event": "close"}, f"close-{i}",
                        node=victim)
        t_kill = time.time()
        victim.kill()
        if len(nodes) == 1:
            victim.start()  # one node: it comes back on the same store
        time.sleep(1.0)
        node_gap = gap_after(client, t_kill)
        # The "within seconds": a bound that a hang or a lost takeover breaks.
        res.check(node_gap < 10, f"node SIGKILLed under load: client-visible gap "
                                 f"{node_gap:.2f} s ({len(client.failures)} attempts refused "
                                 "or cut; at most 10 s)")
        # Fault 2: the primary is lost under load; the standby is promoted.
        before = len(client.failures)
        t_loss = time.time()
        pg.run("pg_ctl", "-D", primary, "-m", "immediate", "-w", "stop")
        time.sleep(0.5)
        pg.run("pg_ctl", "-D", standby, "-w", "promote")
        t_promoted = time.time()
        time.sleep(1.0)
        stop.set()
        for w in workers:
            w.join()
        db_gap = gap_after(client, t_loss)
        res.check(db_gap < 10, f"primary lost, standby promoted {t_promoted - t_loss:.2f} s "
                               f"later: client-visible gap {db_gap:.2f} s "
                               f"({len(client.failures) - before} attempts refused or cut; "
                               "at most 10 s)")

        # Close group B: its timers fire two seconds later, wherever.
        for i, iid in group_b:
            client.step("POST", f"/v1/instances/{iid}/events", {"event": "close"}, f"close-{i}")
        node = client.live[0]
        deadline = time.time() + 60
        pending = {iid for _, iid in ids}
        while pending and time.time() < deadline:
            for iid in list(pending):
                status, doc = node.request("GET", f"/v1/instances/{iid}", None)
                if status == 200 and doc.get("state") == "DONE":
                    pending.discard(iid)
            time.sleep(0.2)
        res.check(not pending, f"every timer fired, those the dead node armed too "
                               f"({len(pending)} instances still waiting)")

        # Every close's notification (an outbox message) delivered at least once, by any node,
        # and acknowledged: nothing waits in the outbox, nothing is a dead letter.
        def delivered():
            seen = {}
            for n in nodes:
                path = os.path.join(n.data_dir, "notifications.jsonl")
                if os.path.exists(path):
                    with open(path) as f:
                        for line in f:
                            m = json.loads(line)
                            seen.setdefault(m.get("instance"), []).append(m.get("key"))
            return seen
        deadline = time.time() + 30
        seen = delivered()
        while any(iid not in seen for _, iid in ids) and time.time() < deadline:
            time.sleep(0.2)
            seen = delivered()
        missing = [iid for _, iid in ids if iid not in seen]
        twice = sum(1 for _, iid in ids if len(seen.get(iid, [])) > 1)
        res.check(not missing, f"every outbox message delivered at least once ({len(missing)} "
                               f"missing)")
        res.note(f"{twice} of {len(ids)} messages delivered more than once (one node delivers "
                 "at a time; a takeover may deliver again what the dead one had in flight)")
        # Applied once: every delivery of a message carries its one idempotency key, and no
        # two messages share one, so a receiver that keeps the keys applies each once.
        keys = {iid: set(k) for iid, k in seen.items() if iid}
        res.check(all(len(k) == 1 for k in keys.values()) and
                  len(set().union(*keys.values())) == len(keys),
                  "every delivery of a message carries its one idempotency key")
        status, waiting = node.request("GET", "/v1/outbox", None)
        status_d, dead = node.request("GET", "/v1/dead-letters", None)
        res.check(status == 200 and status_d == 200 and not waiting.get("items") and
                  not dead.get("items"), f"the outbox is empty and holds no dead letter "
                                         f"({status} {waiting}, {status_d} {dead})")

        # Every acknowledged step is in history exactly once.
        wrong = []
        for i, iid in sorted(ids):
            bumps_per = sum(1 for k in client.acked if k.startswith(f"bump-{i}-"))
            status, inst = node.request("GET", f"/v1/instances/{iid}", None)
            status_h, hist = node.request("GET", f"/v1/instances/{iid}/history", None)
            if status != 200 or status_h != 200:
                wrong.append(f"{iid}: GET answered {status} {inst} / {status_h}")
                continue
            events = [e.get("event") for e in hist["items"]]
            want = {"n": bumps_per, "fired": 1}
            got = {"n": inst["data"].get("n"), "fired": inst["data"].get("fired")}
            if got != want or events.count("bump") != bumps_per or events.count("close") != 1:
                wrong.append(f"{iid}: data {got}, events {events}")
        res.check(len(ids) == a.instances, f"{len(ids)} of {a.instances} starts acknowledged once")
        res.check(not wrong, "every acknowledged step is in history exactly once, every timer "
                             "fired once" + ("".join("\n     " + w for w in wrong[:5])))
        reexecuted = 0
        for n in client.live:
            c = http.client.HTTPConnection("127.0.0.1", n.port, timeout=10)
            c.request("GET", "/metrics", headers={"Authorization": "Bearer " + TOKEN})
            for line in c.getresponse().read().decode().splitlines():
                if line.startswith("bihuan_steps_reexecuted_total "):
                    reexecuted += int(float(line.split()[1]))
            c.close()
        res.note(f"{reexecuted} steps re-executed by the surviving nodes (each executes in "
                 "the writer's turn; one that executed without it has a stale commit refused "
                 "by the database)")
        for n in nodes:
            n.stop()
        v = subprocess.run([bihuan, "verify", "--data-dir", data, "--store", store],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        res.check(v.returncode == 0, "bihuan verify on the promoted database: " +
                  v.stdout.strip().splitlines()[-1] if v.stdout.strip() else "(no output)")
    except Exception as e:  # noqa: BLE001: reported as a failed check
        res.check(False, f"the test could not go on: {e}")
    finally:
        for n in nodes:
            n.stop()
        for d in ("standby", "primary"):
            pg.run("pg_ctl", "-D", os.path.join(root, d), "-m", "immediate", "stop", check=False)
        if a.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{res.passed} passed, {res.failed} failed")
    return 0 if res.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
