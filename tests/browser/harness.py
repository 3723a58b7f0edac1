"""What every browser test shares: checks, an HTTP client, a real `bihuan serve`, Debian's
chromium through chromium-driver, screenshots and the end-of-test browser-log checks.

Each test is a script `tests/browser/<name>_test.py` run by ctest as `browser.<name>`
(tests/CMakeLists.txt) with `--cli <bihuan> --shots <dir>`; it exits 1 if any check failed.
"""
import argparse
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def arguments():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--shots", default="")
    ap.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    args = ap.parse_args()
    if args.shots:
        os.makedirs(args.shots, exist_ok=True)
    return args


def request(base, method, path, token=None, body=None, headers=None, timeout=60):
    """One HTTP request; returns (status, headers, body bytes) also for 4xx/5xx."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def api(base, method, path, token=None, body=None, headers=None, timeout=60):
    """request() with the body parsed as JSON (None when empty): (status, doc)."""
    status, _, raw = request(base, method, path, token, body, headers, timeout)
    return status, (json.loads(raw) if raw else None)


def token_entries(tokens):
    """Config `server.tokens` from {token: (actor, roles[, attrs])}."""
    out = []
    for tok, who in tokens.items():
        actor, roles = who[0], who[1]
        e = {"name": actor, "sha256": hashlib.sha256(tok.encode()).hexdigest(), "actor": actor, "roles": roles}
        if len(who) > 2 and who[2]:
            e["attrs"] = who[2]
        out.append(e)
    return out


class Server:
    """`bihuan serve` on 127.0.0.1:0 with the given arguments; the port from its
    "listening" log line, then /readyz polled until 200.

    Server.with_config(cli, tmp, config) writes the config; Server.demo(cli, tmp, at)
    serves the seeded demo city (`--demo --demo-at`), whose tokens are in self.tokens
    ({name: token}) from <data>/demo-tokens.json."""

    def __init__(self, cli, args, start_timeout=300):
        self.proc = subprocess.Popen([cli, "serve"] + args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.log = []
        self.tokens = {}
        threading.Thread(target=self._read, daemon=True).start()
        self.port = None
        deadline = time.monotonic() + start_timeout
        while self.port is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError("bihuan serve did not start:\n" + "\n".join(self.log[-40:]))
            try:
                line = self.lines.get(timeout=min(left, 1))
            except queue.Empty:
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("msg") == "listening":
                self.port = msg["port"]
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(self.base, "GET", "/readyz", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("bihuan serve never became ready")
            time.sleep(0.05)  # polling readiness, not waiting for a timer

    @classmethod
    def with_config(cls, cli, tmp, config):
        cfg = os.path.join(tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump(config, f)
        return cls(cli, ["--config", cfg])

    @classmethod
    def demo(cls, cli, tmp, at="2023-05-15T09:30:00+08:00", extra=None):
        data = os.path.join(tmp, "demo")
        s = cls(cli, ["--demo", "--demo-at", at, "--listen", "127.0.0.1:0", "--data-dir", data] + (extra or []))
        with open(os.path.join(data, "demo-tokens.json")) as f:
            s.tokens = {t["name"]: t["token"] for t in json.load(f)}
        return s

    def _read(self):
        for line in self.proc.stderr:
            self.log.append(line.rstrip())
            self.lines.put(line)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


def chrome(args, width=390, height=844, lang="zh-CN"):
    """Headless Debian chromium with the browser log kept (for the CSP check)."""
    opts = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={width},{height}", f"--lang={lang}", "--no-first-run", "--disable-extensions",
              "--disable-background-networking", "--disable-sync", "--disable-component-update"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(args.chromedriver), options=opts)
    driver.set_window_size(width, height)
    return driver


def sign_in(driver, wait, base, token):
    """Opens the console and signs in with the token (the sign-in form's ids)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    driver.get(base + "/")
    field = wait.until(EC.visibility_of_element_located((By.ID, "token")))
    field.clear()
    field.send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
    wait.until(EC.visibility_of_element_located((By.ID, "signout")))


def no_horizontal_scroll(driver, page):
    sw, cw = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    check(sw <= cw, f"{page}: no horizontal scroll (scrollWidth {sw}, clientWidth {cw})")


def shot(driver, shots, name, width=390, height=844):
    """The whole page as <shots>/<name>: resized to its height for the picture, then back."""
    if shots:
        driver.execute_script("window.scrollTo(0, 0)")
        full = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, max(height, full + 120))
        driver.save_screenshot(os.path.join(shots, name))
        driver.set_window_size(width, height)


def browser_log_checks(driver, base, expected=()):
    """Nothing loaded from another origin; no CSP violation; no SEVERE log line but those
    containing one of `expected` (e.g. "status of 422" for a refusal the test caused)."""
    origins = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)")
    check(all(o == base for o in origins), f"every request stayed on {base}")
    logs = driver.get_log("browser")
    csp = [e for e in logs if "Content Security Policy" in e["message"] or "Content-Security-Policy" in e["message"]]
    check(not csp, f"no CSP violations ({csp})")
    severe = [e for e in logs if e["level"] == "SEVERE" and not any(x in e["message"] for x in expected)]
    check(not severe, f"no other errors in the browser log ({severe})")


def on_failure(driver, where):
    """Keeps a screenshot and prints the page and the browser log after an exception."""
    from selenium.webdriver.common.by import By
    if not driver:
        return
    try:
        driver.save_screenshot(os.path.join(where, "failure.png"))
        print("page at failure:", driver.find_element(By.TAG_NAME, "main").text, sep="\n")
        print("browser log:", driver.get_log("browser"))
    except Exception as e:  # the browser itself may be gone
        print("no page at failure:", e)


def close(driver, server, tmp):
    """Ends a test: the browser quits, the server stops (cleanly, a check), `tmp` goes."""
    if driver:
        driver.quit()
    code = server.stop()
    check(code == 0, f"bihuan serve stopped cleanly ({code})")
    shutil.rmtree(tmp, ignore_errors=True)


def verdict(started):
    """Prints passed/failed with the time since `started` (time.monotonic()); the exit code."""
    print(f"{len(failures) == 0 and 'passed' or 'failed'} in {time.monotonic() - started:.1f} s")
    return 1 if failures else 0
