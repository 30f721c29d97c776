"""The web page in a real headless browser: type a sentence, read its translation and attention table;
a longer text fills in a sentence at a time with its progress (the stream, held a step at a time by the
test); a translation that looks like markup stays text; a server of two models lets the user pick one.

Runs Debian's Chromium (``apt-get install chromium``) through Playwright's Python package; skipped,
saying why, when either is absent (Playwright's own browser download needs the internet).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from seqkit.serve import libretranslate as lt
from seqkit.serve.app import create_app
from seqkit.serve.engine import run_info
from seqkit.serve.limits import Limits
from seqkit.serve.routing import Model

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


class Stepped:
    """The real engine, a step at a time: each call waits for one release of :attr:`steps`."""

    def __init__(self, engine):
        self.engine, self.steps, self.calls = engine, threading.Semaphore(0), []
        self.settings, self.tokenizer, self.preprocess = engine.settings, engine.tokenizer, engine.preprocess

    def translate_scored(self, sentences, settings=None, attention=False):
        self.calls.append(list(sentences))
        assert self.steps.acquire(timeout=60)
        return self.engine.translate_scored(sentences, settings, attention=attention)


def text_of(page, selector):
    return page.eval_on_selector(selector, "e => e.textContent")


def test_a_long_text_fills_in_a_sentence_at_a_time_with_its_progress(browser, engine, tiny_run, live_server):
    text = "The cat eats. I am here!\nWhere is the station?"
    sentences = lt.template(text).sentences
    want = [hyps[0].text for hyps in engine.translate_scored(sentences, beam=2)]
    stepped = Stepped(engine)
    with live_server(create_app(stepped, info=run_info(tiny_run), limits=Limits(max_wait_ms=0))) as (url, _):
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_function("document.getElementById('info').textContent.includes('BLEU')")
        page.fill("#source", text)
        page.fill("#beam", "2")
        stepped.steps.release()  # the first sentence is decoded; the next two are held
        page.click("#translate")
        page.wait_for_function("document.getElementById('progress').textContent === '1 / 3 sentences'")
        assert text_of(page, "#output") == want[0]
        assert page.get_attribute("#bar", "value") == "1" and page.get_attribute("#bar", "max") == "3"
        assert page.locator("#heatmap tbody tr").count() > 0  # the first sentence's attention
        assert page.is_disabled("#translate") and page.is_visible("#stop")
        stepped.steps.release()
        page.wait_for_function("document.getElementById('progress').textContent === '3 / 3 sentences'")
        assert text_of(page, "#output") == f"{want[0]} {want[1]}\n{want[2]}"  # the text's own spaces and breaks
        assert stepped.calls == [sentences[:1], sentences[1:]]
        assert page.is_enabled("#translate") and not page.is_visible("#stop")
        page.close()


def test_a_translation_that_looks_like_markup_stays_text(browser, engine, live_server):
    class Marking:  # as if the model wrote markup: the page must show it, not run it
        settings = engine.settings

        def translate_scored(self, sentences, settings=None, attention=False):
            out = engine.translate_scored(sentences, settings, attention=attention)
            for hyps in out:
                hyps[0].text = '<img src=x onerror="window.pwned=1"><b>bold</b>'
            return out

    with live_server(create_app(Marking(), attention=False)) as (url, _):
        page = browser.new_page()
        page.goto(url + "/")
        page.fill("#source", "The cat eats.")
        page.click("#translate")
        page.wait_for_function("document.getElementById('progress').textContent === '1 / 1 sentences'")
        assert text_of(page, "#output") == '<img src=x onerror="window.pwned=1"><b>bold</b>'
        assert page.locator("#output *").count() == 0 and page.evaluate("window.pwned") is None
        page.close()


def test_with_two_models_the_page_picks_the_pair(browser, engine, tiny_run, tiny_run_fr_en, live_server):
    from seqkit.seq2seq.engines import load_translator

    fr_en = load_translator(tiny_run_fr_en)
    sentence = "Le chat mange."
    want = fr_en.translate_scored([sentence], beam=2)[0][0].text
    models = [Model(engine, run_info(tiny_run)), Model(fr_en, run_info(tiny_run_fr_en))]
    with live_server(create_app(models)) as (url, _):
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_function("document.getElementById('pair').options.length === 2")
        assert page.is_visible("#pair") and text_of(page, "#info").startswith("en → fr · transformer")
        page.select_option("#pair", label="fr → en")
        assert text_of(page, "#info").startswith("fr → en · transformer")
        page.fill("#source", sentence)
        page.fill("#beam", "2")
        page.click("#translate")
        page.wait_for_function("document.getElementById('progress').textContent === '1 / 1 sentences'")
        assert text_of(page, "#output") == want
        page.close()
