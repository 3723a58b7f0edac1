#!/usr/bin/env python3
"""The administrator's console in a real browser against a real `bihuan serve`
(docs/console.md, "Workflows" and "Operations").

The server has one workflow of its own (tests/browser/permit.json, v1) whose first state
notifies a webhook at a closed port (one attempt: each start leaves a dead letter), and
three running instances. A global administrator opens Workflows, sees the list, edits
the definition as version 2 and puts an error in it: the editor marks it at its line
while typing; deploying it is refused (422) with the problem at the same line; the
corrected version deploys (201). The diff of v1 and v2 shows the changed lines. On
Operations a migration plan from v1 to v2 is dry-run (3 would migrate, still at v1 by the
API), then run (3 migrated, at v2 by the API); a dead letter is retried; a backup is
written; the store check passes; the metrics are shown. An office (not an administrator)
sees no Operations link, no deploy button, and the server refuses its deploy (403); a
station whose roles are not among definitionReaders is told it may not read
definitions. Screenshots in Chinese and English; no page scrolls sideways at 390 px.

Usage: admin_test.py --cli build/cli/bihuan [--shots DIR]
"""
import json
import os
import shutil
import socket
import sys
import tempfile
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness import (HERE, Server, api, arguments, browser_log_checks, check, chrome, close, failures, no_horizontal_scroll, on_failure, shot, sign_in, token_entries, verdict)

TOKENS = {
    "admin-token-0123456789abcdef": ("admin", ["admin"]),
    "office-token-0123456789abcdef": ("office1", ["OFFICE"]),
    "station-token-0123456789abcdef": ("station1", ["STATION"]),
}
ADMIN, OFFICE, STATION = list(TOKENS)


def closed_port():
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def line_of(text, needle):
    """1-based line of the first line containing `needle`."""
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in the text")


def set_editor(driver, text):
    """Puts `text` into the editor and fires `input`, as typing does."""
    driver.execute_script(
        "const a = document.getElementById('wf-text'); a.value = arguments[0];"
        "a.dispatchEvent(new Event('input'));", text)


def marks(driver, line, unreached, pointer, when):
    """The gutter marks exactly the lines of the listed errors; `pointer` is at `line`."""
    marked = sorted(int(e.get_attribute("data-line")) for e in driver.find_elements(By.CSS_SELECTOR, "#wf-gutter .bad"))
    errors = {e.get_attribute("data-pointer"): int(e.get_attribute("data-line"))
              for e in driver.find_elements(By.CSS_SELECTOR, "#wf-problems li.bad")}
    check(errors.get(pointer) == line, f"{when}: the unknown target is at line {line} ({errors})")
    check(marked == sorted(set(errors.values())) and line in marked,
          f"{when}: the gutter marks the errors' lines {marked}")
    check(errors.get("/states/REJECTED", unreached) == unreached, f"{when}: the unreached state at line {unreached}")


def api_checks(base):
    """The server's side: problems with their lines; who may deploy and read."""
    text = json.dumps({"id": "t.x", "version": 1, "initial": "NOWHERE",
                       "states": {"A": {"type": "final", "outcome": "done"}}}, indent=2)
    status, doc = api_raw(base, "/v1/definitions/validate", ADMIN, text)
    p = [x for x in doc["problems"] if x["pointer"] == "/initial"]
    check(status == 200 and p and p[0]["line"] == line_of(text, '"initial"'),
          f"validate answers each problem's line ({p})")
    status, doc = api_raw(base, "/v1/definitions/validate", OFFICE, '{\n  "id": "t.x",\n  "version" 1\n}')
    check(status == 400 and doc["code"] == "invalid-json" and doc["problems"][0]["line"] == 3,
          f"a JSON syntax error has its line too ({doc.get('problems')})")
    status, doc = api_raw(base, "/v1/definitions", OFFICE, text)
    check(status == 403 and doc["code"] == "global-admin-required", f"an office may not deploy ({status} {doc.get('code')})")
    status, doc = api(base, "GET", "/v1/definitions", STATION)
    check(status == 403 and doc["code"] == "definitions-not-readable", "a station may not read definitions")
    status, doc = api(base, "GET", "/v1/outbox", OFFICE)
    check(status == 403, "an office may not read the outbox")
    status, doc = api(base, "POST", "/v1/migrations", OFFICE, {"definition": "ops.permit", "dryRun": True})
    check(status == 403, "an office may not run a migration plan")
    status, doc = api(base, "POST", "/v1/backup", OFFICE, {"dir": "x"})
    check(status == 403, "an office may not back up")


def api_raw(base, path, token, text):
    """POST `text` as is (the editor's way): (status, doc)."""
    import urllib.request, urllib.error
    req = urllib.request.Request(base + path, data=text.encode(), method="POST", headers={
        "Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def versions(base):
    status, doc = api(base, "GET", "/v1/instances?definition=ops.permit&limit=100", ADMIN)
    assert status == 200, doc
    return sorted(i["definitionVersion"] for i in doc["items"])


def main():
    args = arguments()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bihuan-admin-")
    wf = os.path.join(tmp, "workflows")
    os.makedirs(wf)
    shutil.copy(os.path.join(HERE, "permit.json"), wf)
    server = Server.with_config(args.cli, tmp, {
        "dataDir": os.path.join(tmp, "data"),
        "workflowDirs": [wf],
        "plugins": {"hook": {"plugin": "notify.webhook", "maxAttempts": 1, "timeoutMs": 2000,
                             "config": {"url": f"http://127.0.0.1:{closed_port()}/hook", "secret": "s"}}},
        "server": {"listen": "127.0.0.1:0", "tokens": token_entries(TOKENS),
                   "definitionReaders": ["admin", "OFFICE"]},
    })
    driver = None
    try:
        base = server.base
        for n in range(3):
            status, doc = api(base, "POST", "/v1/instances", ADMIN,
                              {"definition": "ops.permit", "businessKey": f"P-{n + 1:04d}"})
            assert status == 201, doc
        api_checks(base)
        # Each start's notification fails at the closed port once and is a dead letter.
        deadline = time.monotonic() + 30
        while True:
            status, dead = api(base, "GET", "/v1/dead-letters", ADMIN)
            if len(dead["items"]) == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # polling the dispatcher's real delivery attempts, not a timer
        check(len(dead["items"]) == 3, f"three dead letters ({len(dead['items'])})")

        driver = chrome(args)
        wait = WebDriverWait(driver, 20)
        sign_in(driver, wait, base, ADMIN)

        # Workflows: the list with versions and instances running.
        driver.get(base + "/#/workflows")
        item = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#wf-list li[data-id='ops.permit']")))
        check("许可审查" in item.text and "ops.permit" in item.text, "the list shows the title and id")
        check(item.find_element(By.CSS_SELECTOR, ".wf-run").get_attribute("data-running") == "3",
              "the list counts 3 instances running")
        no_horizontal_scroll(driver, "workflows")
        shot(driver, args.shots, "workflows-list-zh.png")

        # The editor: v2 from v1's source; an error typed is marked at its line.
        item.find_element(By.TAG_NAME, "a").click()
        wait.until(EC.presence_of_element_located((By.ID, "wf-source")))
        driver.find_element(By.ID, "wf-edit").click()
        area = wait.until(EC.presence_of_element_located((By.ID, "wf-text")))
        wait.until(EC.text_to_be_present_in_element((By.ID, "wf-status"), "没有问题"))
        v2 = json.loads(area.get_attribute("value"))
        check(v2["version"] == 2 and v2["id"] == "ops.permit", "the editor starts from v1 as version 2")
        v2["title"]["en"] = "Permit review (v2)"
        v2["states"]["REVIEW"]["on"]["reject"] = {"title": {"zh": "驳回", "en": "Reject"},
                                                  "roles": ["OFFICE"], "target": "REJECTED"}
        v2["states"]["REJECTED"] = {"title": {"zh": "已驳回", "en": "Rejected"}, "type": "final",
                                   "outcome": "rejected"}
        good = json.dumps(v2, indent=2, ensure_ascii=False)
        # A JSON syntax error (a comma left out) is marked where the parser stopped: the
        # next line's start.
        broken = good.replace('"id": "ops.permit",', '"id": "ops.permit"', 1)
        stop = line_of(broken, '"id": "ops.permit"') + 1
        set_editor(driver, broken)
        wait.until(EC.text_to_be_present_in_element((By.ID, "wf-status"), "不是合法的 JSON"))
        marked = [e.get_attribute("data-line") for e in driver.find_elements(By.CSS_SELECTOR, "#wf-gutter .bad")]
        check(marked == [str(stop)], f"the JSON syntax error is marked at line {stop} ({marked})")
        bad_doc = json.loads(good)
        bad_doc["states"]["REVIEW"]["on"]["reject"]["target"] = "NOWHERE"
        bad = json.dumps(bad_doc, indent=2, ensure_ascii=False)
        bad_line = line_of(bad, '"target": "NOWHERE"')
        set_editor(driver, bad)
        target = "/states/REVIEW/on/reject/target"
        # The unknown target, and the state REJECTED no event reaches any more.
        unreached = line_of(bad, '"REJECTED": {')
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f"#wf-problems li[data-pointer='{target}']")))
        marks(driver, bad_line, unreached, target, "while typing")
        listed = driver.find_element(By.CSS_SELECTOR, f"#wf-problems li[data-pointer='{target}']")
        check(f"第 {bad_line} 行" in listed.text and "NOWHERE" in listed.text,
              f"the problem list names line {bad_line} ({listed.text!r})")

        # Deploying it is refused, the problem at its line.
        driver.find_element(By.ID, "wf-deploy").click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#wf-outcome[data-outcome=refused]")))
        marks(driver, bad_line, unreached, target, "after the refused deploy")
        no_horizontal_scroll(driver, "editor")
        shot(driver, args.shots, "workflows-editor-error-zh.png")

        # The corrected text (typed on one line, then re-indented) validates and deploys as v2.
        set_editor(driver, json.dumps(v2, ensure_ascii=False))
        driver.find_element(By.ID, "wf-tidy").click()
        check(driver.find_element(By.ID, "wf-text").get_attribute("value") == good, "re-indent gives the pretty text")
        wait.until(EC.text_to_be_present_in_element((By.ID, "wf-status"), "没有问题"))
        check(not driver.find_elements(By.CSS_SELECTOR, "#wf-gutter .bad"), "no line is marked once corrected")
        driver.find_element(By.ID, "wf-deploy").click()
        outcome = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#wf-outcome[data-outcome=deployed]")))
        check("v2" in outcome.text, "deployed as v2")
        status, doc = api(base, "GET", "/v1/definitions/ops.permit?version=2", ADMIN)
        check(status == 200 and "REJECTED" in doc["source"]["states"], "the server has v2")

        # The diff of v1 and v2.
        driver.get(base + "/#/workflows/ops.permit")
        rows = wait.until(EC.presence_of_all_elements_located((By.CSS_SELECTOR, "#wf-versions tbody tr")))
        check([r.find_element(By.TAG_NAME, "a").text for r in rows] == ["v2", "v1"]
              and rows[1].find_elements(By.TAG_NAME, "td")[1].text == "3",
              "the versions, newest first, v1 with 3 running")
        check(driver.find_element(By.CSS_SELECTOR, "#wf-source .ln:last-child .no").text
              == str(len(good.split("\n"))), "the source has numbered lines")
        no_horizontal_scroll(driver, "workflow")
        shot(driver, args.shots, "workflows-version-zh.png")
        Select(wait.until(EC.presence_of_element_located((By.ID, "wf-diff-from")))).select_by_value("1")
        Select(driver.find_element(By.ID, "wf-diff-to")).select_by_value("2")
        driver.find_element(By.CSS_SELECTOR, "#wf-diff-form button[type=submit]").click()
        wait.until(EC.presence_of_element_located((By.ID, "wf-diff")))
        added = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#wf-diff .ln.add .tx")]
        removed = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#wf-diff .ln.del .tx")]
        check(any('"REJECTED"' in x for x in added) and any("Permit review (v2)" in x for x in added),
              f"the diff shows the added lines ({added})")
        check(removed and all('"version": 1' in x or '"Permit review"' in x for x in removed),
              f"the diff shows exactly the removed lines ({removed})")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#wf-diff .ln:not(.add):not(.del)")) > 0,
              "the diff keeps context lines")
        no_horizontal_scroll(driver, "diff")
        shot(driver, args.shots, "workflows-diff-zh.png")

        # Operations: the metrics; a migration plan v1 -> v2, dry run then the real run.
        driver.find_element(By.CSS_SELECTOR, "#pages a[data-page=operations]").click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#ops-metrics [data-metric=instances] dd")))
        check(driver.find_element(By.CSS_SELECTOR, "#ops-metrics [data-metric=instances] dd").text == "3",
              "the metrics show 3 instances")
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#ops-mig-wf option[value='ops.permit']"))
        Select(driver.find_element(By.ID, "ops-mig-from")).select_by_value("1")
        Select(driver.find_element(By.ID, "ops-mig-to")).select_by_value("2")
        check(not driver.find_element(By.ID, "ops-mig-run").is_enabled(), "the real run waits for a dry run")
        driver.find_element(By.ID, "ops-mig-dry").click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#ops-mig-counts[data-done=true]")))
        counts = {e.get_attribute("data-count"): e.find_element(By.TAG_NAME, "dd").text
                  for e in driver.find_elements(By.CSS_SELECTOR, "#ops-mig-counts .fig")}
        check(counts == {"examined": "3", "migrated": "3", "skipped": "0", "refused": "0"},
              f"the dry run counts 3 ({counts})")
        check(versions(base) == [1, 1, 1], "after the dry run the instances are still at v1")
        driver.find_element(By.ID, "ops-mig-run").click()
        wait.until(EC.alert_is_present())
        driver.switch_to.alert.accept()
        wait.until(EC.presence_of_element_located(
            (By.CSS_SELECTOR, "#ops-mig-counts[data-done=true][data-dry-run=false]")))
        counts = {e.get_attribute("data-count"): e.find_element(By.TAG_NAME, "dd").text
                  for e in driver.find_elements(By.CSS_SELECTOR, "#ops-mig-counts .fig")}
        check(counts["migrated"] == "3" and counts["refused"] == "0", f"the run migrated 3 ({counts})")
        check(versions(base) == [2, 2, 2], "the instances are at v2 by the API")

        # A dead letter retried; a backup; the store check.
        retry = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#ops-dead button[data-retry]")))
        seq = retry.get_attribute("data-retry")
        retry.click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f"#ops-dead [data-retried='{seq}']")))
        # The server's log line (read from its stderr by another thread: waited for).
        logged = lambda _: any('"dead letter retried"' in line and f'"seq":{seq}' in line for line in server.log)
        try:
            wait.until(logged)
        except Exception:
            pass
        check(logged(None), f"the server retried dead letter {seq}")
        driver.find_element(By.ID, "ops-backup-run").click()
        done = wait.until(EC.presence_of_element_located((By.ID, "ops-backup-done")))
        path = done.text.split("：", 1)[-1].strip()
        check(os.path.isdir(path) and os.listdir(path), f"the backup is on disk ({path})")
        driver.find_element(By.ID, "ops-verify-run").click()
        verified = wait.until(EC.presence_of_element_located((By.ID, "ops-verify-done")))
        check(verified.get_attribute("data-ok") == "true", "the store check passes")
        no_horizontal_scroll(driver, "operations")
        shot(driver, args.shots, "operations-zh.png")

        # English.
        driver.find_element(By.ID, "lang").click()
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#ops-migrate h2"), "Migration plan"))
        shot(driver, args.shots, "operations-en.png")
        driver.get(base + "/#/workflows/ops.permit/diff/1/2")
        wait.until(EC.presence_of_element_located((By.ID, "wf-diff")))
        check("Permit review (v2)" in driver.find_element(By.TAG_NAME, "h1").text, "English titles on the diff")
        shot(driver, args.shots, "workflows-diff-en.png")
        driver.get(base + "/#/workflows/ops.permit/edit")
        wait.until(EC.text_to_be_present_in_element((By.ID, "wf-status"), "No problems"))
        shot(driver, args.shots, "workflows-editor-en.png")
        driver.find_element(By.ID, "lang").click()
        driver.find_element(By.ID, "signout").click()

        # An office: no Operations, no deploy; the page says why.
        sign_in(driver, wait, base, OFFICE)
        check(not driver.find_elements(By.CSS_SELECTOR, "#pages a[data-page=operations]"), "an office sees no Operations")
        driver.get(base + "/#/workflows/ops.permit/edit")
        wait.until(EC.presence_of_element_located((By.ID, "wf-admin-only")))
        check(not driver.find_elements(By.ID, "wf-deploy"), "an office has no deploy button")
        driver.get(base + "/#/operations")
        wait.until(EC.presence_of_element_located((By.ID, "ops-admin-only")))
        driver.find_element(By.ID, "signout").click()

        # A station: definitions are not readable for it.
        sign_in(driver, wait, base, STATION)
        driver.get(base + "/#/workflows")
        wait.until(EC.presence_of_element_located((By.ID, "wf-not-readable")))
        check(driver.find_element(By.ID, "wf-not-readable").is_displayed(), "a station is told it may not read definitions")

        browser_log_checks(driver, base, ("status of 400", "status of 422", "status of 403"))
    except Exception:
        on_failure(driver, args.shots or tmp)
        raise
    finally:
        close(driver, server, tmp)
    return verdict(started)


if __name__ == "__main__":
    sys.exit(main())
