"""LibreTranslate's API beside seqkit's own: texts cut into sentences and joined again (markup kept),
its request and error shapes in-process, and the ``libretranslatepy`` client against a real server."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from seqkit.serve import libretranslate as lt
from seqkit.serve.app import create_app
from seqkit.serve.engine import run_info
from seqkit.serve.limits import Limits

TEXT = "The cat eats.  I am here!\nWhere is the station?"
SENTENCES = ["The cat eats.", "I am here!", "Where is the station?"]


def best(engine, sentences):
    return [hyps[0].text for hyps in engine.translate_scored(sentences)]


# -- cutting and joining ---------------------------------------------------------------------------------
def test_a_text_is_cut_into_sentences_and_joined_with_its_own_spaces():
    t = lt.template(" " + TEXT + "\n")
    assert t.sentences == SENTENCES
    assert t.fill(["A.", "B!", "C?"]) == " A.  B!\nC?\n"
    assert lt.template("").sentences == [] and lt.template("  \n ").fill([]) == "  \n "
    assert lt.template("No end mark").sentences == ["No end mark"]
    assert lt.template("Dr.Who is here. Yes.").sentences == ["Dr.Who is here.", "Yes."]


def test_html_keeps_its_markup_and_translates_only_text():
    page = ('<p class="green">Hello there. How are you?</p><br/><script>var a = "x. y";</script>'
            '<!-- note --><b>Fish &amp; chips</b>')
    t = lt.template(page, "html")
    assert t.sentences == ["Hello there.", "How are you?", "Fish & chips"]
    assert t.fill(["Salut.", "Ça va ?", "Poisson & frites <b>"]) == (
        '<p class="green">Salut. Ça va ?</p><br/><script>var a = "x. y";</script>'
        "<!-- note --><b>Poisson &amp; frites &lt;b&gt;</b>")


@pytest.mark.parametrize("values, says", [
    ({"source": "en", "target": "fr"}, "Invalid request: missing q parameter"),
    ({"q": 3, "source": "en", "target": "fr"}, "q must be a text or a list of texts"),
    ({"q": ["a", 1], "source": "en", "target": "fr"}, "q must be a text or a list of texts"),
    ({"q": "a", "source": "en"}, "missing target parameter"),
    ({"q": "a", "source": "en", "target": "fr", "format": "pdf"}, "format must be text or html"),
    ({"q": "a", "source": "en", "target": "fr", "alternatives": 9}, "alternatives must be an integer from 0 to 3"),
    ({"q": "a", "source": "en", "target": "fr", "alternatives": True}, "alternatives must be an integer"),
])
def test_bad_requests_name_the_parameter(values, says):
    with pytest.raises(lt.LTError, match=says) as exc:
        lt.parse(values, "application/json")
    assert exc.value.status == 400


def test_a_form_is_read_as_libretranslatepy_sends_it():
    req = lt.parse(b"q=The+cat.&source=en&target=fr&api_key=k", "application/x-www-form-urlencoded")
    assert (req.texts, req.single, req.source, req.target, req.format) == (["The cat."], True, "en", "fr", "text")
    req = lt.parse(b"q=a&q=b&target=fr&alternatives=2", "application/x-www-form-urlencoded")
    assert (req.texts, req.single, req.source, req.alternatives) == (["a", "b"], False, "auto", 2)


# -- the API in-process ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(engine, tiny_run):
    with TestClient(create_app(engine, info=run_info(tiny_run)), base_url="http://localhost") as c:
        yield c


def test_translate_a_text_and_a_list(client, engine):
    r = client.post("/translate", json={"q": TEXT, "source": "en", "target": "fr"})
    assert r.status_code == 200
    a, b, c = best(engine, SENTENCES)
    assert r.json() == {"translatedText": f"{a}  {b}\n{c}"}
    r = client.post("/translate", json={"q": [SENTENCES[0], "", SENTENCES[2]], "source": "auto", "target": "fr",
                                        "format": "text"})
    assert r.status_code == 200
    assert r.json() == {"translatedText": [a, "", c],
                        "detectedLanguage": [{"confidence": 100.0, "language": "en"}] * 3}


def test_alternatives_html_and_forms(client, engine):
    r = client.post("/translate", json={"q": SENTENCES[0], "source": "auto", "target": "fr", "alternatives": 2})
    assert r.status_code == 200
    nbest = [h.text for h in engine.translate_scored(SENTENCES[:1], beam=5, nbest=3)[0]]
    assert r.json() == {"translatedText": nbest[0], "alternatives": nbest[1:],
                        "detectedLanguage": {"confidence": 100.0, "language": "en"}}
    r = client.post("/translate", json={"q": f"<p>{SENTENCES[0]}</p>", "source": "en", "target": "fr",
                                        "format": "html"})
    assert r.json() == {"translatedText": f"<p>{best(engine, SENTENCES[:1])[0]}</p>"}
    r = client.post("/translate", data={"q": SENTENCES[0], "source": "en", "target": "fr"})
    assert r.status_code == 200 and r.json() == {"translatedText": best(engine, SENTENCES[:1])[0]}


def test_languages_lists_the_models_pair(client):
    assert client.get("/languages").json() == [{"code": "en", "name": "English", "targets": ["fr"]},
                                               {"code": "fr", "name": "French", "targets": []}]
    # LibreTranslate answers POST too; libretranslatepy 2.1.0 (pyproject's lower bound) asks with it
    assert client.post("/languages", data={}).json() == client.get("/languages").json()


@pytest.mark.parametrize("body, status, says", [
    ({"q": "a", "source": "de", "target": "fr"}, 400, "de is not supported as a source language; this server "
                                                      "translates en to fr (see /languages)"),
    ({"q": "a", "source": "en", "target": "es"}, 400, "es is not supported as a target language"),
    ({"q": "x" * 1001, "source": "en", "target": "fr"}, 400, "sentences.0 has 1,001 characters; the limit is 1,000"),
    ({"q": "a", "target": "fr", "alternatives": "many"}, 400, "alternatives must be an integer"),
])
def test_errors_are_libretranslates_shape(client, body, status, says):
    r = client.post("/translate", json=body)
    assert r.status_code == status and set(r.json()) == {"error"}
    assert says in r.json()["error"] and "\n" not in r.json()["error"]


def test_the_work_budget_and_cross_site_forms_hold_for_this_dialect_too(engine):
    with TestClient(create_app(engine, info={"src": "en", "tgt": "fr"}, limits=Limits(max_work=50)),
                    base_url="http://localhost") as c:
        r = c.post("/translate", json={"q": TEXT, "source": "en", "target": "fr"})
        assert r.status_code == 400 and "this server's budget is 50 per request" in r.json()["error"]
        r = c.post("/translate", data={"q": "a", "source": "en", "target": "fr"}, headers={"origin": "http://evil.example"})
        assert r.status_code == 403
        r = c.post("/translate", data={"sentences": "a"})  # not LibreTranslate's, and seqkit's API takes JSON only
        assert r.status_code == 415 and r.json()["detail"].startswith("the body must be JSON")
        r = c.post("/translate", content=json.dumps({"q": "a", "target": "fr"}), headers={"content-type": "text/plain"})
        assert r.status_code == 415


# -- the published client against a real server ------------------------------------------------------------
def test_the_libretranslatepy_client_round_trip(server, engine):
    api = pytest.importorskip("libretranslatepy", reason="pip install libretranslatepy").LibreTranslateAPI
    from urllib.error import HTTPError

    client = api(server.url)
    a, b, c = best(engine, SENTENCES)
    assert client.translate(TEXT, "en", "fr") == f"{a}  {b}\n{c}"
    assert client.translate(SENTENCES[0], "auto", "fr") == a
    assert client.languages() == [{"code": "en", "name": "English", "targets": ["fr"]},
                                  {"code": "fr", "name": "French", "targets": []}]
    with pytest.raises(HTTPError) as exc:
        client.translate("a", "en", "de")
    assert exc.value.code == 400 and "de is not supported as a target language" in json.loads(exc.value.read())["error"]
    assert httpx.get(server.url + "/health", timeout=30).json()["status"] == "ok"
