#!/usr/bin/env python3
"""The simulated year's report (bihuan simulate --html/--csv; workflows/food-safety/README.md,
"Year report") in Debian's chromium, as an office chief opens it: the headline in the
shape of the office's own report, every figure defined on the page, charts whose labels
do not collide, count axes in whole numbers fitted to the data, every cadre level shown,
usable on a phone; and the same figures in the CSV files.

A quick, seeded run of one township (T07) to mid-July 2023. Screenshots:
year-report-desktop.png and year-report-phone.png (kept in workflows/food-safety/).

Usage: year_report_test.py --cli build/cli/bihuan [--shots DIR]
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from harness import arguments, check, chrome, failures, no_horizontal_scroll, shot, verdict

# Every pair of <text> boxes in one chart that overlap by more than half a pixel, and every
# text that does not fit inside its chart (cut off).
COLLISIONS = """
const out = [];
document.querySelectorAll('figure').forEach((fig, f) => {
  const frame = fig.querySelector('svg').getBoundingClientRect();
  const boxes = [...fig.querySelectorAll('svg text')].map(t => [t.textContent, t.getBoundingClientRect()]);
  for (const [text, r] of boxes)
    if (r.left < frame.left - 0.5 || r.right > frame.right + 0.5 || r.top < frame.top - 0.5 || r.bottom > frame.bottom + 0.5)
      out.push(fig.querySelector('figcaption').textContent + ': "' + text + '" is cut off');
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i][1], b = boxes[j][1];
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 0.5 && h > 0.5)
        out.push(fig.querySelector('figcaption').textContent + ': "' + boxes[i][0] + '" / "' + boxes[j][0] + '"');
    }
});
return out;
"""


def main():
    args = arguments()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bihuan-year-report-")
    html, csv_dir, stats_file = (os.path.join(tmp, n) for n in ("report.html", "csv", "stats.json"))
    run = subprocess.run([args.cli, "simulate", "--townships", "T07", "--end", "2023-07-15T00:00:00+08:00",
                          "--seed", "7", "--nosync", "-q", "--html", html, "--csv", csv_dir,
                          "--json", stats_file], capture_output=True, text=True, timeout=300)
    if not check(run.returncode == 0, f"bihuan simulate ran ({run.returncode}: {run.stdout[-300:]} {run.stderr[-300:]})"):
        return verdict(started)
    stats = json.load(open(stats_file))
    hl = stats["headline"]
    driver = None
    try:
        driver = chrome(args, 1280, 900)
        driver.get("file://" + html)
        rows = driver.execute_script(
            "return [...document.querySelectorAll('#headline tr[data-key]')].map(r => [r.dataset.key, r.innerText])")
        keys = [k for k, _ in rows]
        for key in ("businesses", "cadres", "units", "lettersSigned", "lettersFiled", "coverage", "problems",
                    "closed", "closedOnTime", "rechecked", "reopened", "escalated"):
            check(key in keys, f"the headline has its '{key}' line")
        text = dict(rows)
        b = hl["businesses"]
        check(f"{b['total']} 家" in text.get("businesses", "") and f"D 级 {b['byGrade']['D']}" in text.get("businesses", ""),
              f"businesses by grade as in the JSON ({text.get('businesses')})")
        letters = hl["letters"]
        check(f"{letters['signed']} / {letters['required']}" in text.get("lettersSigned", "")
              and f"{letters['filed']} / {letters['required']}" in text.get("lettersFiled", ""),
              "letters signed and filed are separate figures, as in the JSON")
        check(keys.count("coverage") == len(hl["supervision"]), "one coverage line per period")
        check(f"{hl['units']['listsFiled']} / {hl['units']['listsDue']}" in text.get("units", ""), "units' lists filed")
        notes = driver.execute_script("return document.querySelectorAll('#headline tr.note').length")
        check(notes == len(hl["cadres"]["notes"]) and notes >= 1, f"why the cadre count differs is said ({notes})")
        defined = driver.execute_script("return [...document.querySelectorAll('#definitions + dl dt')].map(d => d.dataset.key)")
        for key in ("businesses", "cadres", "units", "letters", "coverage", "onTime", "problemsFound",
                    "closedOnTime", "rechecked", "reopened", "escalated"):
            check(key in defined, f"'{key}' is defined on the page")
        collisions = driver.execute_script(COLLISIONS)
        check(not collisions, f"no chart labels collide or are cut off ({collisions[:5]})")
        ticks = driver.execute_script(
            "const f = [...document.querySelectorAll('figure')].find(f => f.querySelector('figcaption').textContent.startsWith('发现问题'));"
            "return [...f.querySelectorAll('text.tick')].map(t => t.textContent)")
        check(ticks and all(t.isdigit() for t in ticks), f"the problems chart counts in whole numbers ({ticks})")
        most = max([int(p["problemsFound"]) for k, p in
                    ((k, stats["city"]["byPeriod"][k]["all"]) for k in stats["periods"] if k != "year")] or [0])
        top = int(ticks[-1]) if ticks else 0
        check(most <= top <= max(4, most * 2.5), f"its axis is fitted to the data (top {top}, largest {most})")
        levels = driver.execute_script(
            "const f = [...document.querySelectorAll('figure')].find(f => f.querySelector('figcaption').textContent.startsWith('按干部层级'));"
            "return [...f.querySelectorAll('text')].map(t => t.textContent)")
        for label in ("州级 A", "县级 B", "乡镇级 C", "村级 D"):
            check(label in levels, f"the level chart shows {label}")
        # The risk-grade reviews and the status changes, as in the JSON.
        risk = driver.execute_script(
            "const t = document.querySelector('#risk + div table');"
            "return t ? [...t.rows[1].cells].map(c => c.textContent) : null")
        opened = stats["riskReviews"]["opened"]
        check(risk is not None and risk[0].replace(",", "") == str(opened) and opened > 0,
              f"the risk-grade reviews table shows the {opened} reviews opened ({risk and risk[0]})")
        kinds = driver.execute_script(
            "const t = document.querySelector('#changes + div table'); return t ? t.rows.length - 1 : -1")
        check(kinds == len(stats["statusChanges"]),
              f"the status changes table has one line per kind ({kinds}, {len(stats['statusChanges'])})")
        logs = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        check(not logs, f"no errors in the browser log ({logs})")
        shot(driver, args.shots, "year-report-desktop.png", 1280, 900)
        driver.set_window_size(390, 844)
        no_horizontal_scroll(driver, "the report on a phone")
        shot(driver, args.shots, "year-report-phone.png")
    finally:
        if driver:
            driver.quit()
    # The CSV files hold the same figures.
    with open(os.path.join(csv_dir, "headline.csv"), encoding="utf-8-sig", newline="") as f:
        head = {r["metric"]: r["value"] for r in csv.DictReader(f)}
    check(head.get("/businesses/total") == str(hl["businesses"]["total"]), "headline.csv: businesses")
    check(head.get("/letters/filed") == str(hl["letters"]["filed"]), "headline.csv: letters filed")
    with open(os.path.join(csv_dir, "periods.csv"), encoding="utf-8-sig", newline="") as f:
        periods = list(csv.DictReader(f))
    check(len(periods) == len(stats["periods"]) * len(stats["levels"]), f"periods.csv: every period and level ({len(periods)})")
    year = next((r for r in periods if r["period"] == "year" and r["level"] == "all"), {})
    check(year.get("problemsFound") == str(stats["city"]["byPeriod"]["year"]["all"]["problemsFound"]),
          "periods.csv: the year's problems as in the JSON")
    with open(os.path.join(csv_dir, "townships.csv"), encoding="utf-8-sig", newline="") as f:
        places = list(csv.DictReader(f))
    check(any(r["township"] == "T07" and r["village"] == "" for r in places)
          and sum(1 for r in places if r["village"]) > 0, "townships.csv: the township and its villages")
    shutil.rmtree(tmp, ignore_errors=True)
    return verdict(started)


if __name__ == "__main__":
    sys.exit(main())
