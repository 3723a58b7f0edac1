#!/usr/bin/env python3
"""The instances page in a real browser against a real `bihuan serve` (docs/console.md,
"Instances"): filters from a link, chosen columns, export, bulk cancel after a dry run.

11,000 instances of tests/browser/bulkcase.json are started through the API in parallel:
1,000 in township HX/GM/T03, 10,000 in HX/GM/T04. First the T03 office (a unit
administrator) opens the page, sees only its 1,000, counts them in a dry run and cancels
them. Then the global administrator opens a link with the filter in it (running, unit
HX/GM/T04), sees the filter in the form, chooses columns, exports the CSV (10,000 rows,
also checked through the API), counts the set in a dry run (10,000), confirms, and
watches the batch to its end; the counts then equal /v1/stats. At 390x844 the page does
not scroll sideways. The browser log holds no CSP violation.

Usage: instances_test.py --cli build/cli/bihuan [--shots DIR]
"""
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness import (HERE, Server, api, arguments, browser_log_checks, check, chrome, close, failures, no_horizontal_scroll, on_failure, request, shot, token_entries, verdict)

TOKENS = {
    "admin-token-0123456789abcdef": ("admin", ["admin"]),
    "t03-token-0123456789abcdef": ("office-T03", ["admin"], {"unit": "HX/GM/T03"}),
}
ADMIN, T03 = list(TOKENS)
N_T03, N_T04 = 1000, 10000


def start_all(base, specs):
    """POST /v1/instances for each (key, data), 16 at a time on kept-alive connections."""
    port = int(base.rsplit(":", 1)[1])
    local = threading.local()

    def one(spec):
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        key, data = spec
        body = json.dumps({"definition": "bulk.case", "businessKey": key, "data": data})
        local.conn.request("POST", "/v1/instances", body,
                           {"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
        r = local.conn.getresponse()
        r.read()
        return r.status

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, specs, chunksize=64))


def shot_top(driver, shots, name, height=1500):
    """The top of the page (the list below is long) as <shots>/<name>."""
    if shots:
        driver.execute_script("window.scrollTo(0, 0)")
        driver.set_window_size(390, height)
        driver.save_screenshot(os.path.join(shots, name))
        driver.set_window_size(390, 844)


def stats(base, token, status):
    code, doc = api(base, "GET", f"/v1/stats?definition=bulk.case&status={status}", token)
    assert code == 200, doc
    return doc["total"]


def wait_batch_end(driver, wait_long):
    """The batch's state once it has ended (read in one script: each poll redraws it)."""
    state = "return document.getElementById('b-state')?.dataset.state || ''"
    wait_long.until(lambda d: d.execute_script(state) not in ("", "counting", "running"))
    return driver.execute_script(state)


def dry_run_and_cancel(driver, wait, wait_long, reason):
    """Opens the bulk panel, counts (dry run), confirms; returns (count, final state, ok)."""
    bulk = driver.find_element(By.ID, "bulk")
    if not bulk.get_attribute("open"):
        bulk.find_element(By.TAG_NAME, "summary").click()
    Select(driver.find_element(By.ID, "b-action")).select_by_value("cancel")
    driver.find_element(By.ID, "b-reason").send_keys(reason)
    driver.find_element(By.ID, "b-dry").click()
    count = int(wait.until(EC.presence_of_element_located((By.ID, "b-count"))).get_attribute("data-count"))
    confirm = driver.find_element(By.ID, "b-confirm")
    return count, confirm


def main():
    args = arguments()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bihuan-instances-")
    wf = os.path.join(tmp, "workflows")
    os.makedirs(wf)
    shutil.copy(os.path.join(HERE, "bulkcase.json"), wf)
    server = Server.with_config(args.cli, tmp, {
        "dataDir": os.path.join(tmp, "data"),
        "workflowDirs": [wf],
        "server": {"listen": "127.0.0.1:0", "tokens": token_entries(TOKENS),
                   "limits": {"ratePerSecond": 0}},  # 11,000 starts in a few seconds
    })
    driver = None
    try:
        base = server.base
        t0 = time.monotonic()
        specs = []
        for i in range(N_T03 + N_T04):
            unit = f"HX/GM/T03/V{i % 5 + 1}" if i < N_T03 else f"HX/GM/T04/V{i % 8 + 1}"
            specs.append((f"ZZ-{i:05d}", {"shop": f"商户 {i:05d}", "grade": "ABC"[i % 3], "unitPath": unit}))
        codes = start_all(base, specs)
        check(codes.count(201) == len(specs), f"{len(specs)} instances started ({time.monotonic() - t0:.1f} s)")
        check(stats(base, ADMIN, "running") == N_T03 + N_T04, "all of them run")

        driver = chrome(args)
        downloads = os.path.join(tmp, "downloads")
        os.makedirs(downloads)
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
        wait = WebDriverWait(driver, 20)
        wait_long = WebDriverWait(driver, 120)

        # The T03 office: sees only its unit's instances, and cancels just those.
        from harness import sign_in
        sign_in(driver, wait, base, T03)
        driver.get(base + "/#/instances/definition=bulk.case")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#list tbody tr")))
        units = {td.text for td in driver.find_elements(By.CSS_SELECTOR, "#list tbody tr td:nth-child(4)")}
        check(units and all(u.startswith("HX/GM/T03/") for u in units), f"the T03 office sees only T03's ({units})")
        count, confirm = dry_run_and_cancel(driver, wait, wait_long, "乡镇自查")
        check(count == N_T03, f"the T03 office's dry run counts its {N_T03} ({count})")
        confirm.click()
        state = wait_batch_end(driver, wait_long)
        ok = driver.find_element(By.ID, "b-ok").text
        check(state == "completed" and ok == str(N_T03), f"the T03 office's batch completed: {ok} cancelled")
        check(stats(base, ADMIN, "cancelled") == N_T03 and stats(base, ADMIN, "running") == N_T04,
              "only T03's instances were cancelled (/v1/stats)")
        check(stats(base, T03, "running") == 0, "the T03 office has nothing left running")
        driver.find_element(By.ID, "signout").click()
        wait.until(EC.visibility_of_element_located((By.ID, "token")))

        # The global administrator, from a link with the filter in it.
        sign_in(driver, wait, base, ADMIN)
        driver.get(base + "/#/instances/definition=bulk.case&status=running&unit=HX/GM/T04")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#list tbody tr")))
        check(Select(driver.find_element(By.ID, "f-definition")).first_selected_option.get_attribute("value") == "bulk.case"
              and Select(driver.find_element(By.ID, "f-status")).first_selected_option.get_attribute("value") == "running"
              and driver.find_element(By.ID, "f-unit").get_attribute("value") == "HX/GM/T04",
              "the link's filter is in the form")
        check("专项整治" not in driver.find_element(By.ID, "list").text and "待整治" in driver.find_element(By.ID, "list").text,
              "state titles in Chinese (the workflow column is left out when it is filtered)")
        # Columns: the dataSchema's titles; the choice is remembered for the workflow.
        driver.find_element(By.CSS_SELECTOR, "#columns summary").click()
        box = driver.find_element(By.CSS_SELECTOR, "input[data-col='/unitPath']")
        if box.is_selected():
            box.click()
        heads = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#list thead th")]
        check("商户" in heads and "风险等级" in heads and "所属单位" not in heads, f"chosen columns by title ({heads})")
        check(json.loads(driver.execute_script("return localStorage.getItem('bihuan.instances.columns.bulk.case')"))
              == ["/grade", "/shop"], "the columns are remembered for the workflow")
        rows = len(driver.find_elements(By.CSS_SELECTOR, "#list tbody tr"))
        driver.find_element(By.ID, "more").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#list tbody tr")) > rows)
        check(len(driver.find_elements(By.CSS_SELECTOR, "#list tbody tr")) == 2 * rows, "the next page is added below")
        no_horizontal_scroll(driver, "instances")
        shot_top(driver, args.shots, "instances-zh.png")

        # Export: the page downloads it and says how many rows; the API gives the same.
        driver.find_element(By.ID, "export-csv").click()
        note = wait_long.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#export-note[data-rows]")))
        check(note.get_attribute("data-rows") == str(N_T04), f"the CSV export has {N_T04} rows ({note.text})")
        wait_long.until(lambda d: [f for f in os.listdir(downloads) if f.endswith(".csv")])
        saved = [f for f in os.listdir(downloads) if f.endswith(".csv")][0]
        with open(os.path.join(downloads, saved), encoding="utf-8-sig", newline="") as f:
            lines = f.read().split("\r\n")
        check(saved.startswith("instances-") and len(lines) == N_T04 + 2 and lines[-1] == ""
              and lines[0].endswith(",/grade,/shop"),
              f"the browser saved {saved}: header (chosen columns) and {len(lines) - 2} rows")
        status, headers, body = request(base, "GET", "/v1/instances/export?format=csv&definition=bulk.case"
                                        "&status=running&unit=HX/GM/T04&columns=/shop,/grade", ADMIN)
        text = body.decode("utf-8")
        check(status == 200 and text.startswith("\ufeff") and text.count("\r\n") == N_T04 + 1
              and "商户 01000" in text, "the API's CSV: BOM, header and 10,000 rows in Chinese")

        # Bulk cancel: the count first, then the batch to its end.
        count, confirm = dry_run_and_cancel(driver, wait, wait_long, "专项整治结束")
        check(count == N_T04, f"the dry run counts {N_T04} ({count})")
        check(stats(base, ADMIN, "running") == N_T04, "a dry run changes nothing")
        shot_top(driver, args.shots, "instances-dryrun-zh.png")
        t1 = time.monotonic()
        confirm.click()
        state = wait_batch_end(driver, wait_long)
        took = time.monotonic() - t1
        ok = driver.find_element(By.ID, "b-ok").text
        check(state == "completed" and ok == str(N_T04) and driver.find_element(By.ID, "b-failed").text == "0",
              f"the batch completed: {ok} cancelled, none failed ({took:.1f} s)")
        check(stats(base, ADMIN, "cancelled") == N_T03 + N_T04 and stats(base, ADMIN, "running") == 0,
              "the counts match /v1/stats")
        code, batches = api(base, "GET", "/v1/batches", ADMIN)
        check(code == 200 and [b["succeeded"] for b in batches["items"]] == [N_T04, N_T03],
              "GET /v1/batches lists both batches for the global administrator")
        no_horizontal_scroll(driver, "instances after the batch")
        shot_top(driver, args.shots, "instances-bulk-zh.png")

        # English.
        driver.find_element(By.ID, "lang").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "f-apply"), "Search"))
        driver.find_element(By.ID, "f-apply").click()
        wait.until(EC.presence_of_element_located((By.ID, "none")))
        check("No instances match" in driver.find_element(By.ID, "none").text, "nothing is left running (English)")
        shot_top(driver, args.shots, "instances-en.png")
        driver.find_element(By.ID, "lang").click()

        browser_log_checks(driver, base, ("/v1/me - Failed to load resource: the server responded with a status of 404",))
    except Exception:
        on_failure(driver, args.shots or tmp)
        raise
    finally:
        close(driver, server, tmp)
    return verdict(started)


if __name__ == "__main__":
    sys.exit(main())
