"""Opens a report in headless Chromium (Debian's /usr/bin/chromium, driven by
playwright) and fails unless every image loaded, nothing was logged to the
console as an error, no request failed, and a full-page screenshot is not
blank. Usage: report_check.py INDEX.html SCREENSHOT.png"""

import os
import sys

from PIL import Image
from playwright.sync_api import sync_playwright

page_path, shot = sys.argv[1], sys.argv[2]
problems = []
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url}"))
    page.goto("file://" + os.path.abspath(page_path), wait_until="load")
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.getAttribute('src'), e.complete && e.naturalWidth > 0])"
    )
    title = page.title()
    page.screenshot(path=shot, full_page=True)
    browser.close()

if not images:
    problems.append("no images on the page")
problems += [f"image did not load: {src}" for src, ok in images if not ok]
grey = Image.open(shot).convert("L")
width, height = grey.size
inked = sum(grey.histogram()[:200])
share = inked / (width * height)
if share < 0.01:
    problems.append(f"screenshot {width}x{height} is blank ({share:.2%} of pixels inked)")
if problems:
    print(f"report check: {page_path}:", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(
    f"report check: {page_path}: '{title}', {len(images)} images loaded, no console errors, "
    f"screenshot {width}x{height} with {share:.1%} of pixels inked"
)
