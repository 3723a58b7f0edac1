#!/usr/bin/env python3
"""The web console in a real browser against a real `bihuan serve` (docs/console.md).

A cadre signs in with a token, sees the inbox, opens the task, submits the event's form
with mistakes (a required date left empty, a note too short), sees each problem at its
field (from the server's JSON Pointers), fixes them, submits, and sees the step in the
timeline; switches to English; signs out. At 390x844 no page scrolls sideways. The
browser log must hold no Content-Security-Policy violation and the page must load
nothing from another origin.

Usage: console_test.py --cli build/cli/bihuan [--shots DIR]
Needs Debian's chromium, chromium-driver and python3-selenium (scripts/setup.sh).
"""
import datetime
import json
import os
import shutil
import sys
import tempfile
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness import (HERE, Server, arguments, browser_log_checks, check, chrome, close, failures, no_horizontal_scroll, on_failure, request, shot, token_entries, verdict)

TOKENS = {
    "admin-token-0123456789abcdef": ("admin", ["admin"]),
    "cadre-token-0123456789abcdef": ("CD0022", ["CADRE"]),
    "other-token-0123456789abcdef": ("CD0099", ["CADRE"]),
}
ADMIN, CADRE, OTHER = list(TOKENS)


def api_checks(base, iid, other_iid):
    # The console's files: content types, CSP, ETag and 304.
    status, headers, body = request(base, "GET", "/")
    check(status == 200 and headers.get("Content-Type", "").startswith("text/html"), "/ is the console's HTML")
    csp = headers.get("Content-Security-Policy", "")
    check("default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp,
          f"/ has a strict Content-Security-Policy ({csp})")
    for name, ctype in [("app.js", "text/javascript"), ("style.css", "text/css"), ("icon.svg", "image/svg+xml")]:
        status, headers, _ = request(base, "GET", "/console/" + name)
        check(status == 200 and headers.get("Content-Type", "").startswith(ctype), f"/console/{name} is {ctype}")
        etag = headers.get("ETag")
        status, _, body304 = request(base, "GET", "/console/" + name, headers={"If-None-Match": etag})
        check(status == 304 and body304 == b"", f"/console/{name} with its ETag answers 304")
    status, _, body = request(base, "GET", "/console/nope.js")
    check(status == 404 and json.loads(body)["code"] == "not-found", "an unknown console file is 404")
    # GET /v1/instances/{id}/events: the caller's events with their schemas; 404 when invisible.
    status, _, body = request(base, "GET", f"/v1/instances/{iid}/events", CADRE)
    doc = json.loads(body)
    check(status == 200 and [e["name"] for e in doc["items"]] == ["record"], "the cadre may send record")
    check(doc["items"][0]["payloadSchema"]["required"] == ["result", "visitDate", "note"]
          and doc["items"][0]["title"]["en"] == "Record the re-check" and doc["items"][0]["actorsRule"] is True,
          "events carry title, payloadSchema and actorsRule")
    status, _, body = request(base, "GET", f"/v1/instances/{iid}/events", ADMIN)
    check(status == 200 and json.loads(body)["items"] == [], "the admin sees the instance but lacks the role CADRE")
    status, _, body = request(base, "GET", f"/v1/instances/{other_iid}/events", CADRE)
    check(status == 404 and json.loads(body)["code"] == "not-found",
          "another cadre's instance is 404 for events, as for GET")
    status, _, _ = request(base, "GET", f"/v1/instances/{iid}/events")
    check(status == 401, "events need a token")


def main():
    args = arguments()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bihuan-console-")
    wf = os.path.join(tmp, "workflows")
    os.makedirs(wf)
    shutil.copy(os.path.join(HERE, "recheck.json"), wf)
    server = Server.with_config(args.cli, tmp, {
        "dataDir": os.path.join(tmp, "data"),
        "workflowDirs": [wf],
        "server": {"listen": "127.0.0.1:0", "tokens": token_entries(TOKENS)},
    })
    driver = None
    try:
        base = server.base
        ids = []
        now = datetime.datetime.now(datetime.timezone.utc)
        for key, shop, cadre, days in [("RC-0001", "天河路 12 号 惠民餐馆", "CD0022", 3),
                                       ("RC-0002", "人民路 3 号 早点铺", "CD0099", 2),
                                       ("RC-0003", "解放路 8 号 小吃店", "CD0022", -1)]:
            due = (now + datetime.timedelta(days=days)).isoformat(timespec="seconds")
            status, _, body = request(base, "POST", "/v1/instances", ADMIN,
                                      {"definition": "console.recheck", "businessKey": key,
                                       "data": {"shop": shop, "cadreId": cadre, "dueAt": due}})
            assert status == 201, body
            ids.append(json.loads(body)["id"])
        iid, other_iid, late_iid = ids
        api_checks(base, iid, other_iid)

        driver = chrome(args)
        wait = WebDriverWait(driver, 20)

        # Sign in: a wrong token is refused, the cadre's is kept for the tab only.
        driver.get(base + "/")
        token = wait.until(EC.visibility_of_element_located((By.ID, "token")))
        shot(driver, args.shots, "signin-zh.png")
        token.send_keys("not-a-token")
        driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
        wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "form.signin .error")))
        check("令牌无效" in driver.find_element(By.CSS_SELECTOR, "form.signin .error").text, "a wrong token is refused")
        token.clear()
        token.send_keys(CADRE)
        driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()

        # Inbox: the cadre's one task (not the other cadre's), with zh titles.
        tasks = wait.until(EC.presence_of_all_elements_located((By.CSS_SELECTOR, "li.task")))
        check([t.get_attribute("data-instance") for t in tasks] == [late_iid, iid],
              "the inbox lists the cadre's tasks only, due first")
        check("late" in tasks[0].get_attribute("class") and "已逾期" in tasks[0].text
              and "已逾期" not in tasks[1].text, "the overdue task is marked, the other not")
        tasks = [tasks[1]]
        check("整改复查" in tasks[0].text and "待复查" in tasks[0].text and "登记复查结果" in tasks[0].text,
              "the task shows the workflow, state and event titles in Chinese")
        check(driver.find_element(By.ID, "me").text == "CD0022", "the header names the actor")
        check(driver.execute_script("return sessionStorage.getItem('bihuan.token')") == CADRE
              and driver.execute_script("return localStorage.getItem('bihuan.token')") is None,
              "the token is in sessionStorage only")
        no_horizontal_scroll(driver, "inbox")
        shot(driver, args.shots, "inbox-zh.png")

        # The task: state, data, the form from the payload schema.
        tasks[0].find_element(By.TAG_NAME, "a").click()
        form = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "form.event-form[data-event=record]")))
        check(driver.find_element(By.ID, "state").text == "待复查", "the instance page shows the state's title")
        field = lambda p: form.find_element(By.CSS_SELECTOR, f'[data-pointer="{p}"]')
        check(field("/payload/visitDate").find_element(By.TAG_NAME, "input").get_attribute("type") == "date",
              "format date is a date input")
        result = Select(field("/payload/result").find_element(By.TAG_NAME, "select"))
        check([o.text for o in result.options][1:] == ["合格", "限期整改", "停业整顿"], "the enum is a choice with zh labels")
        check(field("/payload/score").find_element(By.TAG_NAME, "input").get_attribute("type") == "number",
              "an integer is a number input")
        check(field("/payload/photosTaken").find_element(By.TAG_NAME, "input").get_attribute("type") == "checkbox",
              "a boolean is a checkbox")
        check(len(field("/payload/contact").find_elements(By.CSS_SELECTOR, '[data-pointer="/payload/contact/phone"]')) == 1,
              "a nested object's members are fields")
        check(len(field("/payload/tags").find_elements(By.CSS_SELECTOR, "button")) == 1, "an array of strings can be added to")
        no_horizontal_scroll(driver, "instance")

        # A mistake: the date left empty, the note too short. The server's pointers mark both.
        result.select_by_visible_text("限期整改")
        note = field("/payload/note").find_element(By.TAG_NAME, "input")
        note.send_keys("已改")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda d: len(form.find_elements(By.CSS_SELECTOR, ".field.invalid")) >= 2)
        invalid = sorted(e.get_attribute("data-pointer") for e in form.find_elements(By.CSS_SELECTOR, ".field.invalid"))
        check(invalid == ["/payload/note", "/payload/visitDate"], f"the errors are at their fields: {invalid}")
        check(field("/payload/visitDate").find_element(By.CSS_SELECTOR, ".error").text == "必填",
              "a missing required member is marked at its own field")
        check(field("/payload/note").find_element(By.CSS_SELECTOR, ".error").text == "至少 4 个字符",
              "the short note says why, in Chinese")
        order = [e.get_attribute("data-pointer") for e in form.find_elements(By.CSS_SELECTOR, ".fields > [data-pointer]")]
        check(order[:3] == ["/payload/result", "/payload/visitDate", "/payload/note"], f"required members come first: {order}")
        check(note.get_attribute("aria-invalid") == "true", "the invalid input is marked for assistive technology")
        no_horizontal_scroll(driver, "instance with errors")
        shot(driver, args.shots, "instance-error-zh.png")

        # Fixed: the step is taken and shows in the timeline.
        date = field("/payload/visitDate").find_element(By.TAG_NAME, "input")
        driver.execute_script("arguments[0].value = '2026-12-04'", date)  # locale-independent
        note.clear()
        note.send_keys("后厨已按要求整改到位")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(EC.presence_of_element_located((By.ID, "flash")))
        wait.until(EC.text_to_be_present_in_element((By.ID, "state"), "已复查"))
        steps = driver.find_elements(By.CSS_SELECTOR, ".timeline li.step")
        check(len(steps) == 2, f"the timeline has the start and the step ({len(steps)})")
        check("登记复查结果" in steps[0].text and "CD0022" in steps[0].text and "待复查 → 已复查" in steps[0].text,
              "the newest step names the event, the actor and the move")
        check("现场情况" in steps[0].text and "后厨已按要求整改到位" in steps[0].text, "the step shows what changed")
        check(driver.find_elements(By.CSS_SELECTOR, "#actions .notice") != [], "nothing more to send once checked")
        no_horizontal_scroll(driver, "instance after the step")
        shot(driver, args.shots, "instance-done-zh.png")
        status, _, body = request(base, "GET", f"/v1/instances/{iid}", CADRE)
        check(json.loads(body)["data"]["note"] == "后厨已按要求整改到位", "the server has the step")

        # English: titles from the definition's en texts.
        driver.find_element(By.ID, "lang").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "state"), "Re-checked"))
        check("Record the re-check" in driver.find_element(By.CSS_SELECTOR, ".timeline").text,
              "event titles switch to English")
        shot(driver, args.shots, "instance-en.png")
        driver.find_element(By.ID, "lang").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "state"), "已复查"))

        # Sign out.
        driver.find_element(By.ID, "signout").click()
        wait.until(EC.visibility_of_element_located((By.ID, "token")))
        check(driver.execute_script("return sessionStorage.getItem('bihuan.token')") is None, "sign-out forgets the token")

        # Nothing from another origin; no CSP violation. Expected errors: the 422 of the
        # first submission, the 401 of the wrong token, and a 404 for /v1/me on a server
        # without that route (the console then asks the inbox).
        browser_log_checks(driver, base, ("status of 422", "status of 401",
                                          "/v1/me - Failed to load resource: the server responded with a status of 404"))
    except Exception:
        on_failure(driver, args.shots or tmp)
        raise
    finally:
        close(driver, server, tmp)
    return verdict(started)


if __name__ == "__main__":
    sys.exit(main())
