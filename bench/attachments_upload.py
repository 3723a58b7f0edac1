#!/usr/bin/python3
# Upload throughput of 1 MiB files (docs/PERFORMANCE.md, "Attachments"): N distinct JPEG
# files POSTed one after another on one keep-alive connection to a running `bihuan serve`.
# Usage: attachments_upload.py PORT TOKEN [N]
import http.client, json, os, sys, time

port, token = int(sys.argv[1]), sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 100
size = 1 << 20
hdr = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
files = [hdr + os.urandom(size - len(hdr)) for _ in range(n)]  # distinct: each is stored
c = http.client.HTTPConnection("127.0.0.1", port)
lat = []
t0 = time.perf_counter()
for f in files:
    t = time.perf_counter()
    c.request("POST", "/v1/attachments", body=f,
              headers={"Authorization": "Bearer " + token, "Content-Type": "image/jpeg"})
    r = c.getresponse()
    body = r.read()
    assert r.status == 201, (r.status, body)
    lat.append(time.perf_counter() - t)
el = time.perf_counter() - t0
lat.sort()
print(json.dumps({"files": n, "seconds": round(el, 3), "MiB_per_s": round(n / el, 1),
                  "p50_ms": round(lat[n // 2] * 1000, 1),
                  "p99_ms": round(lat[max(0, int(n * 0.99) - 1)] * 1000, 1)}))
