#!/usr/bin/env python3
"""Evidence files in a real browser (docs/attachments.md, docs/console.md "Evidence").

An inspector opens a rectification case, chooses two photos and a scanned letter in the
event form (uploaded at once, POST /v1/attachments), submits, and sees the step in the
timeline with the photos as thumbnails (the server's previews, fetched with the tab's
token: no token in any URL) and the letter as a file without a preview. A tap on a photo
opens it full size in a dialog. The data table shows the same files. A file of a type the
server does not take is refused at its field. Another inspector, who may not see the case,
gets the not-found page and the files' routes answer 404 for it. In Chinese, then in
English; at 390x844 no page scrolls sideways.

Usage: evidence_test.py --cli build/cli/bihuan [--shots DIR]
"""
import json
import os
import struct
import sys
import tempfile
import time
import zlib

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from harness import (Server, api, arguments, browser_log_checks, check, chrome, close, no_horizontal_scroll,
                     on_failure, request, shot, sign_in, token_entries, verdict)

TOKENS = {
    "inspector-token-0123456789abcdef": ("IN0007", ["inspector"]),
    "other-token-0123456789abcdef": ("IN0099", ["inspector"]),
}
INSPECTOR, OTHER = list(TOKENS)

DEFINITION = {
    "id": "console.evidence", "version": 1, "title": {"zh": "整改取证", "en": "Rectification evidence"},
    "access": {"readers": [{"cat": ["actor:", {"var": "data.inspector"}]}]},
    "dataSchema": {"type": "object", "properties": {
        "shop": {"type": "string", "x-title": {"zh": "经营主体", "en": "Business"}},
        "inspector": {"type": "string"},
        "photos": {"type": "array", "x-title": {"zh": "整改照片", "en": "Photos"},
                   "items": {"type": "string", "format": "bihuan-attachment"}},
        "letter": {"type": "string", "format": "bihuan-attachment", "x-title": {"zh": "整改报告", "en": "Report"}}}},
    "initial": "RECTIFYING",
    "states": {
        "RECTIFYING": {"title": {"zh": "整改中", "en": "Rectifying"}, "on": {"submit": {
            "title": {"zh": "提交整改证据", "en": "Submit the evidence"},
            "roles": ["inspector"],
            "payloadSchema": {"type": "object", "required": ["photos", "letter"], "properties": {
                "photos": {"type": "array", "minItems": 2, "x-title": {"zh": "整改照片（至少 2 张）", "en": "Photos (at least 2)"},
                           "items": {"type": "string", "format": "bihuan-attachment"}},
                "letter": {"type": "string", "format": "bihuan-attachment",
                           "x-title": {"zh": "整改报告（PDF）", "en": "Report (PDF)"}}}},
            "set": {"/photos": {"var": "event.payload.photos"}, "/letter": {"var": "event.payload.letter"}},
            "target": "CHECKING"}}},
        "CHECKING": {"title": {"zh": "待复查", "en": "Re-check due"},
                     "on": {"close": {"roles": ["inspector"], "target": "DONE"}}},
        "DONE": {"type": "final", "outcome": "done", "title": {"zh": "已办结", "en": "Done"}},
    },
}


def png(width, height, rgb):
    """A real PNG of one colour (zlib, filter 0 on every row)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def main():
    args = arguments()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bihuan-evidence-")
    wf = os.path.join(tmp, "workflows")
    os.makedirs(wf)
    with open(os.path.join(wf, "evidence.json"), "w") as f:
        json.dump(DEFINITION, f, ensure_ascii=False)
    files = {}
    for name, data in [("kitchen.png", png(1200, 800, (200, 40, 40))), ("sink.png", png(600, 900, (40, 60, 200))),
                       ("report.pdf", PDF), ("notes.txt", b"plain words, not evidence\n")]:
        files[name] = os.path.join(tmp, name)
        with open(files[name], "wb") as f:
            f.write(data)
    server = Server.with_config(args.cli, tmp, {
        "dataDir": os.path.join(tmp, "data"), "workflowDirs": [wf],
        "server": {"listen": "127.0.0.1:0", "tokens": token_entries(TOKENS)},
    })
    driver = None
    try:
        base = server.base
        status, doc = api(base, "POST", "/v1/instances", INSPECTOR,
                          {"definition": "console.evidence", "businessKey": "ZG-2023-0042",
                           "data": {"shop": "天河路 12 号 惠民餐馆", "inspector": "IN0007"}})
        assert status == 201, doc
        iid = doc["id"]

        driver = chrome(args)
        wait = WebDriverWait(driver, 20)
        sign_in(driver, wait, base, INSPECTOR)
        driver.get(f"{base}/#/instance/{iid}")
        form = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "form.event-form[data-event=submit]")))
        photos = form.find_element(By.CSS_SELECTOR, '[data-pointer="/payload/photos"] input[type=file]')
        letter = form.find_element(By.CSS_SELECTOR, '[data-pointer="/payload/letter"] input[type=file]')
        # A text file is refused at its field (415 from the server).
        letter.send_keys(files["notes.txt"])
        err = wait.until(EC.visibility_of_element_located(
            (By.CSS_SELECTOR, '[data-pointer="/payload/letter"] .error')))
        check("notes.txt" in err.text, f"a text file is refused at the letter's field ({err.text})")
        photos.send_keys(files["kitchen.png"] + "\n" + files["sink.png"])
        letter.send_keys(files["report.pdf"])
        wait.until(lambda d: len(form.find_elements(By.CSS_SELECTOR, "li.uploaded")) == 3)
        check(not form.find_elements(By.CSS_SELECTOR, "li.uploading"), "every chosen file uploaded")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "state"), "待复查"))

        # The timeline's newest step: two thumbnails from the previews, the letter as a file.
        step = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#timeline li.step .files")))
        loaded = "return [...arguments[0].querySelectorAll('button.file.image img')].filter(i => i.complete && i.naturalWidth > 0).length"
        wait.until(lambda d: d.execute_script(loaded, step) == 2
                   and len(step.find_elements(By.CSS_SELECTOR, "button.file.no-preview")) == 1)
        sizes = driver.execute_script(
            "return [...arguments[0].querySelectorAll('button.file.image img')].map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.src])",
            step)
        check([s[1:3] for s in sizes] == [[320, 213], [213, 320]],
              f"the thumbnails are the server's previews, fitted to 320 pixels ({[s[1:3] for s in sizes]})")
        check(all(s[3].startswith("blob:") for s in sizes), "thumbnails are blob: URLs (the token stays in a header)")
        check("证据文件" in step.text, "the step names its files in Chinese")
        data_files = driver.find_elements(By.CSS_SELECTOR, '#data tr[data-member="photos"] button.file')
        check(len(data_files) == 2, "the data table shows the photos as files")
        check(len(driver.find_elements(By.CSS_SELECTOR, '#data tr[data-member="letter"] button.file')) == 1,
              "and the letter")
        no_horizontal_scroll(driver, "instance with evidence")
        shot(driver, args.shots, "instance-evidence-zh.png")

        # A tap opens the photo full size.
        step.find_element(By.CSS_SELECTOR, "button.file.image").click()
        img = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "dialog.evidence-view img")))
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img))
        check(driver.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img) == [1200, 800],
              "the dialog shows the file itself, full size")
        shot(driver, args.shots, "instance-evidence-open-zh.png")
        driver.find_element(By.CSS_SELECTOR, "dialog.evidence-view button").click()
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog.evidence-view"))

        # What the server answered, by caller: the inspector's files, nobody else's.
        addresses = [b.get_attribute("data-address") for b in step.find_elements(By.CSS_SELECTOR, "button.file")]
        check(len(addresses) == 3, f"three files in the step ({addresses})")
        for a in addresses:
            st, _, _ = request(base, "GET", f"/v1/instances/{iid}/attachments/{a}", INSPECTOR)
            check(st == 200, f"the inspector reads {a[:19]}")
            st, _, _ = request(base, "GET", f"/v1/instances/{iid}/attachments/{a}", OTHER)
            check(st == 404, f"the other inspector gets 404 for {a[:19]}")
            st, _, _ = request(base, "GET", f"/v1/instances/{iid}/attachments/{a}/preview", OTHER)
            check(st == 404, f"and 404 for its preview")

        # English.
        driver.find_element(By.ID, "lang").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "state"), "Re-check due"))
        step = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#timeline li.step .files")))
        wait.until(lambda d: len(step.find_elements(By.CSS_SELECTOR, "button.file.image img")) == 2)
        check("Evidence files" in step.text, "the step names its files in English")
        shot(driver, args.shots, "instance-evidence-en.png")
        # The 415 of the text file; the 404 no-preview of the PDF (the console asks for every
        # file's preview: it does not know a file's type before).
        browser_log_checks(driver, base, expected=("status of 415", "/preview - Failed to load resource: the server responded with a status of 404"))

        # The other inspector may not see the case at all.
        driver.execute_script("sessionStorage.clear()")
        sign_in(driver, wait, base, OTHER)
        driver.get(f"{base}/#/instance/{iid}")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "main .notice, main .failure, main .bad")))
        check(not driver.find_elements(By.CSS_SELECTOR, "ul.evidence"), "no files for the other inspector")
    except Exception:
        on_failure(driver, tmp)
        raise
    finally:
        close(driver, server, tmp)
    return verdict(started)


if __name__ == "__main__":
    sys.exit(main())
