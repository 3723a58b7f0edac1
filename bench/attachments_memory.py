#!/usr/bin/python3
# Peak server memory for concurrent large uploads (docs/PERFORMANCE.md, "Attachments"):
# C clients (default 4) each POST one distinct file of SIZE MiB (default 32) at the same
# time to a running `bihuan serve` (whose server.attachments.maxBytes allows it), while
# the server's resident set (/proc/PID/status VmRSS) is sampled every 5 ms.
# Usage: attachments_memory.py PORT TOKEN PID [C] [SIZE_MIB]
import http.client, json, os, sys, threading, time

port, token, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
clients = int(sys.argv[4]) if len(sys.argv) > 4 else 4
size = (int(sys.argv[5]) if len(sys.argv) > 5 else 32) << 20
hdr = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
files = [hdr + os.urandom(size - len(hdr)) for _ in range(clients)]


def rss_kib():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


peak, samples, done = [rss_kib()], [], threading.Event()
base = peak[0]


def sample():
    while not done.is_set():
        r = rss_kib()
        samples.append(r)
        peak[0] = max(peak[0], r)
        time.sleep(0.005)


statuses = []


def send(body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    # The body in pieces of 1 MiB, as a browser or curl sends a large file.
    c.putrequest("POST", "/v1/attachments")
    c.putheader("Authorization", "Bearer " + token)
    c.putheader("Content-Type", "image/jpeg")
    c.putheader("Content-Length", str(len(body)))
    c.endheaders()
    view = memoryview(body)
    for at in range(0, len(body), 1 << 20):
        c.send(view[at:at + (1 << 20)])
    r = c.getresponse()
    r.read()
    statuses.append(r.status)


s = threading.Thread(target=sample)
s.start()
t0 = time.perf_counter()
ts = [threading.Thread(target=send, args=(f,)) for f in files]
for t in ts:
    t.start()
for t in ts:
    t.join()
el = time.perf_counter() - t0
done.set()
s.join()
print(json.dumps({"clients": clients, "MiB_each": size >> 20, "statuses": sorted(statuses),
                  "seconds": round(el, 2), "rss_before_MiB": round(base / 1024, 1),
                  "rss_peak_MiB": round(peak[0] / 1024, 1),
                  "growth_MiB": round((peak[0] - base) / 1024, 1)}))
