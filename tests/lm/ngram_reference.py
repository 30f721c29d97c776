"""The ARPA backoff rule with dicts and a loop: the slow, obvious reference the fast paths are tested against."""

import numpy as np

from seqkit.lm.ngram.arpa import ngram_words


def reference(lm, sentence, bos=True, eos=True):
    """log10 p per token by the ARPA backoff rule with dicts (slow, obvious); ``bos=False`` starts
    in the empty context, ``eos=False`` leaves out ``</s>``."""
    table = {}
    for k, words in enumerate(ngram_words(lm), 1):
        bo = lm.logbo[k - 1] if k < lm.order else np.zeros(len(words))
        for row, lp, b in zip(words, lm.logp[k - 1], bo):
            table[tuple(lm.vocab.tokens[w] for w in row)] = (lp, b)

    def logp(gram):
        if gram in table:
            return table[gram][0]
        return (table[gram[:-1]][1] if gram[:-1] in table else 0.0) + logp(gram[1:])

    words = [w if w in lm.vocab else "<unk>" for w in sentence.split()] + (["</s>"] if eos else [])
    tokens = (["<s>"] if bos else []) + words
    first = 1 if bos else 0
    return [logp(tuple(tokens[max(0, i - lm.order + 1): i + 1])) for i in range(first, len(tokens))]
