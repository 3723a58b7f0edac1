#!/usr/bin/env python3
"""The dashboard in a real browser on the demo city (docs/console.md, "Dashboard").

The city office signs in and opens the dashboard: each workflow's numbers (total, running,
overdue, escalated, by state) and the roll-up by township equal what GET /v1/stats answers
with the same token; it drills into a township and the villages' rows equal /v1/stats
with that unit; the trend's periods equal created:month. The township office sees only its
township (its own /v1/stats, fewer than the city's); a cadre only what the cadre sees.
Screenshots zh (phone) and en; no horizontal scroll at 390 px; the browser-log checks.

Usage: dashboard_test.py --cli build/cli/bihuan [--shots DIR]
"""
import json
import shutil
import sys
import tempfile
import time
import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from harness import (Server, api, arguments, browser_log_checks, check, chrome, close, failures, no_horizontal_scroll, on_failure, shot, sign_in, verdict)


def stats(base, token, **q):
    status, doc = api(base, "GET", "/v1/stats?" + urllib.parse.urlencode(q), token)
    assert status == 200, doc
    return doc


def sums(doc, field, where=lambda k: True, value=lambda k: True):
    """{key[field]: count} over the groups whose key passes `where` and `value`."""
    out = {}
    for g in doc["groups"]:
        k = g["key"]
        if where(k) and value(k):
            out[k[field]] = out.get(k[field], 0) + g["count"]
    return out


def n_of(el):
    return int(el.get_attribute("data-n"))


def page_workflows(driver):
    """{definition: {"kpi": {name: n}, "state": {state: n}}} as the page shows them."""
    out = {}
    for art in driver.find_elements(By.CSS_SELECTOR, "#dash-workflows article.dash-wf"):
        d = art.get_attribute("data-def")
        kpis = {k.get_attribute("data-kpi"): n_of(k.find_element(By.CSS_SELECTOR, "[data-n]"))
                for k in art.find_elements(By.CSS_SELECTOR, ".kpi")}
        states = {tr.get_attribute("data-state"): n_of(tr.find_element(By.CSS_SELECTOR, "td.num [data-n]"))
                  for tr in art.find_elements(By.CSS_SELECTOR, "tr[data-state]")}
        out[d] = {"kpi": kpis, "state": states}
    return out


def page_rollup(driver):
    """{unit: {column: n}} of the roll-up table."""
    out = {}
    for tr in driver.find_elements(By.CSS_SELECTOR, "#dash-rollup tr[data-unit]"):
        out[tr.get_attribute("data-unit")] = {
            td.get_attribute("data-col"): n_of(td.find_element(By.CSS_SELECTOR, "[data-n]"))
            for td in tr.find_elements(By.CSS_SELECTOR, "td[data-col]")}
    return out


def api_workflows(base, token, unit=""):
    """What page_workflows should read, from /v1/stats with the same token."""
    q = {"unit": unit} if unit else {}
    by_state = stats(base, token, groupBy="definition,state", **q)
    running = stats(base, token, groupBy="definition", status="running", **q)
    overdue = stats(base, token, groupBy="definition,overdue", **q)
    escalated = stats(base, token, groupBy="definition,escalated", **q)
    out = {}
    for g in by_state["groups"]:
        d = g["key"]["definition"]
        w = out.setdefault(d, {"kpi": {"total": 0, "running": 0, "overdue": 0, "escalated": 0}, "state": {}})
        w["kpi"]["total"] += g["count"]
        w["state"][g["key"]["state"]] = g["count"]
    for d, n in sums(running, "definition").items():
        out[d]["kpi"]["running"] = n
    for d, n in sums(overdue, "definition", value=lambda k: k["overdue"]).items():
        out[d]["kpi"]["overdue"] = n
    for d, n in sums(escalated, "definition", value=lambda k: k["escalated"]).items():
        out[d]["kpi"]["escalated"] = n
    return out, by_state["total"]


def api_rollup(base, token, level, unit=""):
    q = {"unit": unit} if unit else {}
    doc = stats(base, token, groupBy=f"unit:{level},status,overdue,escalated", **q)
    f = f"unit:{level}"
    out = {}
    for g in doc["groups"]:
        u = g["key"][f] or ""
        r = out.setdefault(u, {"total": 0, "running": 0, "overdue": 0, "escalated": 0})
        r["total"] += g["count"]
        r["running"] += g["count"] if g["key"]["status"] == "running" else 0
        r["overdue"] += g["count"] if g["key"]["overdue"] else 0
        r["escalated"] += g["count"] if g["key"]["escalated"] else 0
    return out


def open_dashboard(driver, wait, base, hash_rest=""):
    driver.get(base + "/#/dashboard" + hash_rest)
    wait.until(lambda d: d.find_elements(By.ID, "dash-rollup") or d.find_elements(By.ID, "dash-none"))


def compare_page(driver, base, token, who, unit, level):
    want, total = api_workflows(base, token, unit)
    got = page_workflows(driver)
    check(got == want, f"{who}: each workflow's total, running, overdue, escalated and states equal /v1/stats"
          + ("" if got == want else f" (page {got}, api {want})"))
    roll = page_rollup(driver)
    want_roll = api_rollup(base, token, level, unit)
    check(roll == want_roll, f"{who}: the roll-up by unit:{level} equals /v1/stats"
          + ("" if roll == want_roll else f" (page {roll}, api {want_roll})"))
    return total, roll


def main():
    args = arguments()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bihuan-dashboard-")
    server = Server.demo(args.cli, tmp)
    print(f"demo ready in {time.monotonic() - started:.1f} s", flush=True)
    driver = None
    try:
        base, tok = server.base, server.tokens
        driver = chrome(args)
        wait = WebDriverWait(driver, 30)

        # The city office: every number equals its /v1/stats; the roll-up is by township.
        sign_in(driver, wait, base, tok["city-office"])
        open_dashboard(driver, wait, base)
        city_total, roll = compare_page(driver, base, tok["city-office"], "city office", "", 3)
        check(len([u for u in roll if u.count("/") == 2]) >= 2, f"the city's roll-up has townships ({list(roll)})")
        esc = sum(w["kpi"]["escalated"] for w in page_workflows(driver).values())
        check(esc > 0, f"the demo city shows escalated instances ({esc})")
        # The trend (months, the default): each period's count equals created:month.
        months = sums(stats(base, tok["city-office"], groupBy="created:month"), "created:month")
        shown = {tr.get_attribute("data-period"): n_of(tr.find_element(By.CSS_SELECTOR, "[data-n]"))
                 for tr in driver.find_elements(By.CSS_SELECTOR, "#dash-trend tr[data-period]")}
        check(shown and all(months.get(p, 0) == n for p, n in shown.items()) and sum(shown.values()) > 0,
              f"the trend's months equal /v1/stats created:month ({shown})")
        # A count links to the instances page filtered the same way.
        link = driver.find_element(By.CSS_SELECTOR, "article[data-def='food-safety.problem'] tr[data-state] a[data-n]")
        target = link.get_attribute("href").split("#", 1)[1]
        q = urllib.parse.parse_qs(target.split("/instances/", 1)[-1])
        state = link.find_element(By.XPATH, "ancestor::tr").get_attribute("data-state")
        check(target.startswith("/instances/") and q == {"definition": ["food-safety.problem"], "state": [state]},
              f"a state's count links to the instances filtered the same way ({target})")
        no_horizontal_scroll(driver, "dashboard (city)")
        shot(driver, args.shots, "dashboard-zh.png")

        # Drill down into the township with the most instances: its villages.
        township = max((u for u in roll if u.count("/") == 2), key=lambda u: roll[u]["total"])
        driver.find_element(By.CSS_SELECTOR, f"#dash-rollup a.drill[data-unit='{township}']").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#dash-rollup[data-unit='{township}']"))
        t_total, villages = compare_page(driver, base, tok["city-office"], f"city office in {township}", township, 4)
        check(t_total == roll[township]["total"] and sum(r["total"] for r in villages.values()) == t_total,
              f"{township}'s villages add up to its row in the city's roll-up ({t_total})")
        crumbs = driver.find_element(By.ID, "dash-crumbs").text
        check(crumbs.startswith("HX/GM") and crumbs.endswith(township.rsplit("/", 1)[1]),
              f"the path shows the city, then the township ({crumbs})")
        no_horizontal_scroll(driver, "dashboard (township drill-down)")
        shot(driver, args.shots, "dashboard-drill-zh.png")

        # The township office: only its township, equal to its own /v1/stats.
        driver.find_element(By.ID, "signout").click()
        sign_in(driver, wait, base, tok["township-office"])
        open_dashboard(driver, wait, base)
        own_total, own_roll = compare_page(driver, base, tok["township-office"], "township office", "", 4)
        check(0 < own_total < city_total, f"the township office counts fewer than the city ({own_total} < {city_total})")
        # Its villages and its township; "" holds the unit-less instances it reads as a
        # named reader (food-safety.cadre-record names the cadre's office by actor key), and
        # "HX/GM" the city's bulletin, which names the townships' offices as recipients.
        check(all(u.startswith("HX/GM/T01/") or u in ("HX/GM/T01", "") for u in own_roll
                  if u != "HX/GM"),
              f"the township office's roll-up holds only its villages ({list(own_roll)[:5]})")
        check(own_roll.get("HX/GM", {}).get("total", 0) <= 1,
              f"of the city's instances, at most its bulletin ({own_roll.get('HX/GM')})")

        # A cadre: only what the cadre sees.
        driver.find_element(By.ID, "signout").click()
        sign_in(driver, wait, base, tok["cadre"])
        open_dashboard(driver, wait, base)
        cadre_total, _ = compare_page(driver, base, tok["cadre"], "cadre", "", 1)
        check(0 < cadre_total < own_total or cadre_total < city_total, f"the cadre counts its own ({cadre_total})")
        no_horizontal_scroll(driver, "dashboard (cadre)")

        # English, as the city office, on a desktop and a phone.
        driver.find_element(By.ID, "signout").click()
        sign_in(driver, wait, base, tok["city-office"])
        driver.find_element(By.ID, "lang").click()
        open_dashboard(driver, wait, base)
        check("Escalated" in driver.find_element(By.ID, "dash-workflows").text, "English labels")
        no_horizontal_scroll(driver, "dashboard (en)")
        shot(driver, args.shots, "dashboard-en.png")
        driver.set_window_size(1280, 900)
        open_dashboard(driver, wait, base)
        shot(driver, args.shots, "dashboard-desktop-en.png", 1280, 900)
        driver.execute_script("localStorage.removeItem('bihuan.lang')")

        browser_log_checks(driver, base)
    except Exception:
        on_failure(driver, args.shots or tmp)
        raise
    finally:
        close(driver, server, tmp)
    return verdict(started)


if __name__ == "__main__":
    sys.exit(main())
