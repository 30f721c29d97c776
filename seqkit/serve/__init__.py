"""``seqkit serve``: translation over HTTP -- a JSON API, a micro-batching queue and a web page.

Application layer, like :mod:`seqkit.cli`: the library never imports it. ``app.py`` builds the
FastAPI app around an engine (``create_app``), ``limits.py`` every limit of a request, the queue and
the connections (one object; the flags come from it), ``batcher.py`` is the queue that decodes
concurrent requests together in one worker thread, ``server.py`` runs the app under uvicorn with
guards against slow clients, ``engine.py`` loads the engine of a run and says what the server needs
of it, ``routing.py`` picks the model of a request's language pair when several are served,
``libretranslate.py`` is LibreTranslate's API, ``static/index.html`` is the page at ``/``. Needs the ``serve`` extra
(``pip install 'seqkit[serve]'``: FastAPI and uvicorn).
"""

from __future__ import annotations

from seqkit.serve.batcher import MicroBatcher, Options
from seqkit.serve.engine import Engine, run_info
from seqkit.serve.limits import Limits

__all__ = ["Engine", "Limits", "MicroBatcher", "Options", "run_info"]
