"""Recipes: the pipeline runner and run-directory owner (:mod:`~seqkit.recipes.pipeline`), recipe
YAML loading and validation (:mod:`~seqkit.recipes.config`), and each domain's stages (``nmt``,
``lm_ngram``, ``lm_rnn``, ``word2vec``, ``vision``).

This layer sits above the library packages: it imports them, they never import it.
"""
