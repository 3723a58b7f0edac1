#!/usr/bin/env python3
"""First useful paint of the console's dashboard on the demo city (docs/PERFORMANCE.md).

Starts `bihuan serve --demo` (tests/browser/harness.py), signs the city office in with
headless chromium at 390x844, then `runs` times: about:blank, then a full load of
/#/dashboard, and reads the Performance API: the time from navigation start to the
mark "bihuan:dashboard-numbers" (console/dashboard.js sets it once every workflow's
numbers are in the page), and to the roll-up being drawn. Prints each run and the median.

  /usr/bin/python3 bench/dashboard_paint.py --cli build/cli/bihuan [--runs 9] [--token city-office]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "browser"))
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from harness import Server, chrome, sign_in  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--token", default="city-office")
    ap.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bihuan-paint-")
    server = Server.demo(args.cli, tmp)
    driver = None
    try:
        driver = chrome(args)
        wait = WebDriverWait(driver, 30)
        sign_in(driver, wait, server.base, server.tokens[args.token])
        numbers = []
        for i in range(args.runs + 1):  # the first warms the server's and browser's caches
            driver.get("about:blank")
            driver.get(server.base + "/#/dashboard")
            wait.until(lambda d: d.find_elements(By.ID, "dash-rollup"))
            m = driver.execute_script(
                "const m = performance.getEntriesByName('bihuan:dashboard-numbers')[0];"
                "return m ? m.startTime : null")
            if i:
                numbers.append(m)
            print(f"run {i}{' (warm-up)' if not i else ''}: numbers drawn at {m:.0f} ms after navigation start",
                  flush=True)
        print(f"median of {args.runs}: {statistics.median(numbers):.0f} ms "
              f"[{min(numbers):.0f} .. {max(numbers):.0f}]")
    finally:
        if driver:
            driver.quit()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
