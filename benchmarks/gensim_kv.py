"""seqkit's KeyedVectors against gensim's on the same vectors, method by method.

Both load the same file (default: gensim's own ``lee_fasttext.vec`` test vectors, 1,762 words x 10;
``--vectors`` takes any word2vec/GloVe file) and answer the same queries; the table prints each
method, a short form of both answers and whether they are equal (keys identical, numbers within 1e-5).

    python benchmarks/gensim_kv.py [--vectors FILE]

gensim is a seqkit dependency, so it is always there; the default vectors are small enough that the
smoke test (``tests/benchmarks``) runs the script as it is.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import header
from gensim.models import KeyedVectors as GensimKV
from gensim.test.utils import datapath

from seqkit.embeddings.keyedvectors import KeyedVectors
from seqkit.embeddings.vectors import load_vectors


def same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and a and isinstance(a[0], tuple):
        return [k for k, _ in a] == [k for k, _ in b] and np.allclose([v for _, v in a], [v for _, v in b], atol=1e-5)
    if isinstance(a, (list, tuple, np.ndarray)) and not isinstance(a, str):
        a, b = list(a), list(b)
        if a and isinstance(a[0], str):
            return a == b
        return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=1e-5)
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) < 1e-5
    return a == b


def short(x) -> str:
    if isinstance(x, list) and x and isinstance(x[0], tuple):
        return ", ".join(f"{k} {v:.3f}" for k, v in x[:3])
    if isinstance(x, (list, np.ndarray)):
        return ", ".join(f"{v:.4f}" if not isinstance(v, str) else v for v in list(x)[:3])
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", default=datapath("lee_fasttext.vec"))
    args = ap.parse_args()
    header(["gensim"])
    ours = load_vectors(args.vectors, cache=False)
    theirs = GensimKV.load_word2vec_format(args.vectors)
    w = [k for k in ours.index_to_key[:200] if k.isalpha()][:8]
    rows = [
        ("most_similar(w0)", lambda kv: kv.most_similar(w[0], topn=5)),
        ("most_similar(+w1 +w2 -w3)", lambda kv: kv.most_similar(positive=[w[1], w[2]], negative=[w[3]], topn=5)),
        ("most_similar_cosmul(+w1 +w2 -w3)",
         lambda kv: kv.most_similar_cosmul(positive=[w[1], w[2]], negative=[w[3]], topn=5)),
        ("similar_by_word(w4)", lambda kv: kv.similar_by_word(w[4], topn=5)),
        ("similar_by_key(w4)", lambda kv: kv.similar_by_key(w[4], topn=5)),
        ("similar_by_vector(v(w5))", lambda kv: kv.similar_by_vector(kv[w[5]], topn=5)),
        ("similarity(w0, w1)", lambda kv: float(kv.similarity(w[0], w[1]))),
        ("distance(w0, w1)", lambda kv: float(kv.distance(w[0], w[1]))),
        ("distances(w0, [w1 w2 w3])", lambda kv: kv.distances(w[0], w[1:4])),
        ("n_similarity([w0 w1], [w2 w3])", lambda kv: float(kv.n_similarity(w[0:2], w[2:4]))),
        ("doesnt_match(w0..w4 + w7)", lambda kv: kv.doesnt_match(w[0:5] + [w[7]])),
        ("closer_than(w0, w6)", lambda kv: sorted(kv.closer_than(w[0], w[6]))),
        ("rank(w0, w6)", lambda kv: kv.rank(w[0], w[6])),
        ("index_to_key[:5] (file order)", lambda kv: list(kv.index_to_key[:5])),
        ("add_vectors then most_similar(new)", lambda kv: _add(kv, w)),
    ]
    print(f"vectors: {args.vectors} ({len(ours)} words x {ours.vector_size}); words: {' '.join(w)}\n")
    print("| method | seqkit | gensim | equal |")
    print("| --- | --- | --- | --- |")
    all_equal = True
    for name, fn in rows:
        a, b = fn(ours), fn(theirs)
        ok = same(a, b)
        all_equal &= ok
        print(f"| `{name}` | {short(a)} | {short(b)} | {'yes' if ok else 'NO'} |")
    print(f"\nall equal: {all_equal}")


def _add(kv, w):
    rng = np.random.default_rng(0)
    vec = rng.normal(size=(2, kv.vector_size)).astype(np.float32)
    kv.add_vectors(["zz_new1", "zz_new2"], vec)
    if not isinstance(kv, KeyedVectors):
        kv.fill_norms(force=True)  # gensim keeps stale norms after add_vectors
    return kv.most_similar("zz_new1", topn=5)


if __name__ == "__main__":
    main()
