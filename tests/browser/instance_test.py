#!/usr/bin/env python3
"""The instance page on the demo city in a real browser (docs/console.md, "Instance: graph,
as of, chain check, timers, family").

A regulator station signs in and opens one of its running problems: the workflow's graph
with the current state and the path taken marked, zoom inside the graph box, the pending
timers and deadline, the hash-chain check, the parent it may not see; then the problem as
of an earlier step (a past view). The same station opens another station's problem by its
URL and gets the not-found page (the API's 404), and that problem is in no list the station
sees. The city office opens the parent supervision and follows its child link to the
problem; in English. An administrator's instance shows data enums by their x-enumTitles.
At 390x844 (and 1200 wide) no page scrolls sideways.

Usage: instance_test.py --cli build/cli/bihuan [--shots DIR]
"""
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from harness import (Server, api, arguments, browser_log_checks, check, chrome, close, failures, no_horizontal_scroll, on_failure, shot, sign_in, verdict)

# The earliest demo moment with problems in every state a station works on (about 5 s to
# start here; the default 2023-05-15 takes about 4 times as long).
DEMO_AT = "2022-12-10T09:30:00+08:00"

ENUM_DEF = {
    "id": "console.enums", "version": 1, "title": {"zh": "枚举示例", "en": "Enum sample"},
    "dataSchema": {"type": "object", "properties": {
        "result": {"type": "string", "x-title": {"zh": "结论", "en": "Result"}, "enum": ["passed", "rectify"],
                   "x-enumTitles": [{"zh": "通过", "en": "Passed"}, {"zh": "限期整改", "en": "Rectify in time"}]}}},
    "initial": "OPEN",
    "states": {"OPEN": {"title": {"zh": "办理中", "en": "Open"},
                        "on": {"close": {"roles": ["admin"], "target": "DONE"}}},
               "DONE": {"type": "final", "outcome": "done", "title": {"zh": "已办结", "en": "Done"}}},
}


def all_items(base, token, path):
    """Every item of a paged list (nextCursor), as the token sees it."""
    items, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        status, doc = api(base, "GET", path + (f"{sep}cursor={urllib.parse.quote(cursor)}" if cursor else ""), token)
        assert status == 200, (path, status, doc)
        items += doc["items"]
        cursor = doc.get("nextCursor")
        if not cursor:
            return items


def pick(base, station):
    """One of the station's running problems with a parent, at least 3 steps and a pending
    timer, and another station's problem."""
    mine = all_items(base, station, "/v1/instances?definition=food-safety.problem&status=running&limit=1000")
    for p in mine:
        status, hist = api(base, "GET", f"/v1/instances/{p['id']}/history", station)
        status, timers = api(base, "GET", f"/v1/instances/{p['id']}/timers", station)
        if p.get("parent") and len(hist["items"]) >= 3 and timers["items"]:
            return p, hist["items"], timers["items"]
    raise AssertionError("the demo has no running problem with a parent, 3 steps and a timer for the station")


def main():
    args = arguments()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bihuan-instance-")
    server = Server.demo(args.cli, tmp, DEMO_AT)
    print(f"demo started in {time.monotonic() - started:.1f} s", flush=True)
    driver = None
    try:
        base, tok = server.base, server.tokens
        station, office, admin = tok["station"], tok["city-office"], tok["admin"]
        _, me = api(base, "GET", "/v1/me", station)
        prob, hist, timers = pick(base, station)
        pid, parent = prob["id"], prob["parent"]
        # Another station's problem: the administrator sees every problem.
        others = [p for p in all_items(base, admin, "/v1/instances?definition=food-safety.problem&limit=1000")
                  if p["data"].get("stationId") != me["attrs"]["station"]]
        other = others[0]["id"]

        # The routes behind the page, for the station: its problem's, and 404 for the other's.
        status, chain = api(base, "GET", f"/v1/instances/{pid}/verify", station)
        check(status == 200 and chain["ok"] and chain["entries"] == len(hist), f"the chain of {pid} checks out ({chain})")
        for route in ["", "/history", "/events", "/verify", "/timers", "/children"]:
            status, _ = api(base, "GET", f"/v1/instances/{other}{route}", station)
            check(status == 404, f"another station's problem{route or ''} is 404 for the station ({status})")
        status, _ = api(base, "GET", f"/v1/instances/{parent}", station)
        check(status == 404, "the station may not see the parent supervision")
        seen = {p["id"] for p in all_items(base, station, "/v1/instances?limit=1000")}
        seen |= {p["id"] for p in all_items(base, station, "/v1/instances?definition=food-safety.problem&limit=1000")}
        seen |= {i["instance"]["id"] for i in all_items(base, station, "/v1/inbox?limit=1000")}
        check(pid in seen and other not in seen, "the other station's problem is in no list the station sees")

        driver = chrome(args)
        wait = WebDriverWait(driver, 20)
        sign_in(driver, wait, base, station)

        # The problem: graph with the current state and the path, timers, chain, family.
        driver.get(f"{base}/#/instance/{pid}")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "svg.graph")))
        wait.until(EC.presence_of_element_located((By.ID, "chain-result")))
        cur = driver.find_elements(By.CSS_SELECTOR, "svg.graph g.state.current:not(.compound)")
        check(len(cur) == 1 and cur[0].get_attribute("data-state") == prob["state"],
              f"the graph marks the current state {prob['state']}")
        visited = {e.get_attribute("data-state") for e in driver.find_elements(By.CSS_SELECTOR, "svg.graph g.state.visited")}
        want = {e["to"] for e in hist if e["to"]}
        check(want <= visited, f"the graph marks every state the path visited ({want} in {visited})")
        taken = driver.find_elements(By.CSS_SELECTOR, "svg.graph g.edge.taken")
        moves = [e for e in hist if e["from"] != e["to"]]
        check(len(taken) >= min(2, len(moves)), f"the graph marks the edges taken ({len(taken)})")
        labels = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "svg.graph g.state:not(.compound) text")]
        check("整改中" in labels and "已销号" in labels, f"state titles are the definition's zh texts ({labels[:5]})")
        shown = driver.find_elements(By.CSS_SELECTOR, "#timers li.timer")
        check(len(shown) == len(timers) and shown[0].get_attribute("data-kind") == timers[0]["kind"],
              f"the page lists the {len(timers)} pending timers, due first")
        # "Overdue" at the engine's clock (/v1/me `now`, in the demo's 2022), not the browser's
        # (years later): a pending timer has not come due, so none is marked.
        check(me.get("now", "").startswith("2022-12-10"), f"/v1/me answers the engine's clock ({me.get('now')})")
        late = driver.find_elements(By.CSS_SELECTOR, "#timers li.timer .badge.late")
        check(not late, f"no pending timer shows as overdue at the engine's clock ({len(late)} do)")
        res = driver.find_element(By.ID, "chain-result")
        check(res.get_attribute("data-ok") == "true" and res.get_attribute("data-entries") == str(len(hist))
              and "哈希链" in res.text, f"the chain check is shown ok ({res.text})")
        par = driver.find_element(By.ID, "parent")
        check(parent in par.text and "无权查看" in par.text and not par.find_elements(By.TAG_NAME, "a"),
              "the parent the station may not see is named, not linked")
        check("没有您可查看的下级案件" in driver.find_element(By.ID, "children").text, "no children to show")
        no_horizontal_scroll(driver, "instance")
        svg = driver.find_element(By.CSS_SELECTOR, "svg.graph")
        w0 = float(svg.get_attribute("width"))
        driver.find_element(By.CSS_SELECTOR, "[data-zoom=in]").click()
        check(float(svg.get_attribute("width")) > w0, "zoom in enlarges the drawing")
        box = driver.execute_script("const b = document.querySelector('.graph-box'); return [b.scrollWidth, b.clientWidth]")
        check(box[0] > box[1], f"a graph wider than the box scrolls inside it ({box})")
        no_horizontal_scroll(driver, "instance, graph zoomed in")
        driver.find_element(By.CSS_SELECTOR, "[data-zoom=fit]").click()
        box = driver.execute_script("const b = document.querySelector('.graph-box'); return [b.scrollWidth, b.clientWidth]")
        check(box[0] <= box[1], f"fit makes the graph as wide as its box ({box})")
        driver.find_element(By.CSS_SELECTOR, "[data-zoom=actual]").click()
        shot(driver, args.shots, "instance-graph-zh.png")

        # As of step 2: the past view, and the API's answer for that moment.
        step = hist[1]
        driver.find_element(By.CSS_SELECTOR, "a.asof-link[data-asof='2']").click()
        banner = wait.until(EC.presence_of_element_located((By.ID, "asof-banner")))
        _, then = api(base, "GET", f"/v1/instances/{pid}?asOf={urllib.parse.quote(step['at'])}", station)
        check(banner.get_attribute("data-seq") == str(then["version"]) and "历史视图" in banner.text,
              f"the past view says so, at step {then['version']}")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "svg.graph")))
        check(driver.find_element(By.ID, "state").get_attribute("data-state") == then["state"] == step["to"],
              f"the past view shows the state then ({then['state']})")
        cur = driver.find_elements(By.CSS_SELECTOR, "svg.graph g.state.current:not(.compound)")
        check(len(cur) == 1 and cur[0].get_attribute("data-state") == then["state"], "the graph marks the state then")
        later = driver.find_elements(By.CSS_SELECTOR, ".timeline .step.later")
        check(len(later) == len(hist) - then["version"], f"the {len(hist) - then['version']} later steps are marked")
        check(not driver.find_elements(By.CSS_SELECTOR, "#actions details.event"), "no actions in a past view")
        no_horizontal_scroll(driver, "instance as of step 2")
        shot(driver, args.shots, "instance-asof-zh.png")
        driver.find_element(By.ID, "asof-now").click()
        wait.until(EC.invisibility_of_element_located((By.ID, "asof-banner")))
        wait.until(EC.presence_of_element_located((By.ID, "chain-result")))

        # Another station's problem by its URL: the not-found page.
        driver.get(f"{base}/#/instance/{other}")
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#main .notice.bad"), "没有这个案件"))
        check(not driver.find_elements(By.CSS_SELECTOR, "svg.graph, #timeline"), "nothing of it is shown")
        driver.find_element(By.ID, "signout").click()
        wait.until(EC.visibility_of_element_located((By.ID, "token")))

        # The city office: the parent supervision lists the problem as a child; follow it.
        sign_in(driver, wait, base, office)
        driver.get(f"{base}/#/instance/{parent}")
        link = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f"#children a[data-instance='{pid}']")))
        _, kids = api(base, "GET", f"/v1/instances/{parent}/children", office)
        check(len(driver.find_elements(By.CSS_SELECTOR, "#children li")) == len(kids["items"]),
              f"the supervision lists its {len(kids['items'])} children")
        link.click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f"#parent a[data-instance='{parent}']")))
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "svg.graph")))
        check(driver.find_element(By.ID, "state").get_attribute("data-state") == prob["state"], "the child link opens the problem")
        driver.find_element(By.ID, "lang").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "chain-result"), "hash chain"))
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "svg.graph")))
        labels = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "svg.graph g.state:not(.compound) text")]
        check("Rectifying" in labels and "Closed" in labels, f"state titles in English ({labels[:5]})")
        driver.set_window_size(1200, 900)
        no_horizontal_scroll(driver, "instance, desktop")
        shot(driver, args.shots, "instance-graph-en.png", width=1200, height=900)
        driver.find_element(By.ID, "lang").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "chain-result"), "哈希链"))
        driver.set_window_size(390, 844)
        driver.find_element(By.ID, "signout").click()
        wait.until(EC.visibility_of_element_located((By.ID, "token")))

        # Data enums by their x-enumTitles (an administrator's own definition).
        status, body = api(base, "POST", "/v1/definitions", admin, ENUM_DEF)
        check(status in (200, 201), f"the enum sample deploys ({status} {body})")
        status, inst = api(base, "POST", "/v1/instances", admin, {"definition": "console.enums", "data": {"result": "rectify"}})
        check(status == 201, f"an enum sample starts ({status})")
        sign_in(driver, wait, base, admin)
        driver.get(f"{base}/#/instance/{inst['id']}")
        cell = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-member=result] td")))
        check(cell.text == "限期整改", f"an enum value is shown by its title ({cell.text})")

        browser_log_checks(driver, base, (other, parent))
    except Exception:
        on_failure(driver, args.shots or tmp)
        raise
    finally:
        close(driver, server, tmp)
    return verdict(started)


if __name__ == "__main__":
    sys.exit(main())
