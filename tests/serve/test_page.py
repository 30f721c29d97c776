"""The web page in a real headless browser: type a sentence, read its translation and attention table.

Runs Debian's Chromium (``apt-get install chromium``) through Playwright's Python package; skipped,
saying why, when either is absent (Playwright's own browser download needs the internet).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SEQKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright: pip install playwright")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"needs Chromium at {CHROMIUM}: apt-get install chromium (or set SEQKIT_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_typing_a_sentence_shows_its_translation_and_attention(browser, server, engine, tmp_path):
    sentence = "The cat eats the fish."
    [best] = engine.translate_scored([sentence], beam=5, attention=True)[0]
    page = browser.new_page()
    page.goto(server.url + "/")
    page.wait_for_function("document.getElementById('info').textContent.includes('BLEU')")
    assert page.text_content("#info").startswith("en → fr · transformer · test BLEU ")
    page.fill("#source", sentence)
    page.click("#translate")
    page.wait_for_function("document.getElementById('output').textContent.length > 0")
    assert page.text_content("#output") == best.text
    # the heatmap: a header row of source labels, then one row per output piece and </s>
    rows = page.locator("#heatmap tbody tr")
    assert rows.count() == len(best.pieces) + 1
    assert page.locator("#heatmap thead th").count() == len(best.src_pieces) + 2  # corner + pieces + </s>
    assert page.text_content("#heatmap tbody tr:last-child th") == "</s>"
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    if os.environ.get("SEQKIT_SCREENSHOT"):  # keep a copy to look at
        shutil.copy(tmp_path / "page.png", os.environ["SEQKIT_SCREENSHOT"])
    # a request over the limits shows the server's one-line reason, not a broken page
    page.fill("#source", "x" * 1001)
    page.click("#translate")
    page.wait_for_function("document.getElementById('error').textContent.length > 0")
    assert page.text_content("#error") == "422: sentences.0 has 1,001 characters; the limit is 1,000: " \
                                           "split it into shorter sentences"
    page.close()
