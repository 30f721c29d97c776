/* Skip-gram / CBOW with negative sampling: the inner loop of seqkit.embeddings.word2vec.
 *
 * Written for seqkit from the algorithm (Mikolov et al. 2013); compiled at first use by
 * seqkit/embeddings/kernel.py and called through ctypes, which releases the GIL, so several
 * Python threads train the same matrices at once without locks ("Hogwild", Recht et al. 2011).
 *
 * One call trains one chunk of sentences:
 *   for each sentence: drop words by subsampling (keep with probability keep[w]),
 *   for each kept position i: draw a reduced window r uniform in 1..window,
 *     skip-gram: every context word c within r of i predicts the centre word
 *                (input row c, output rows: centre = label 1, `negative` noise words = label 0);
 *     CBOW:      the mean of the context rows predicts the centre word; the input error is added
 *                to every context row.
 *   the learning rate decays linearly with the words all threads have processed so far.
 * Noise words come from an alias table (Walker 1977) of unigram^0.75, so drawing one is O(1).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* xorshift64* (Vigna 2016): small, fast, good enough for sampling. */
static inline uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* splitmix64: turns a (seed, chunk) number into a well mixed non-zero state. */
static uint64_t rng_seed(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z ? z : 1;
}

/* uniform float in [0, 1) from the top 24 bits */
static inline float rng_unit(uint64_t *s) { return (float)(rng_next(s) >> 40) * (1.0f / 16777216.0f); }

static inline int32_t draw_noise(uint64_t *s, const float *prob, const int32_t *alias, int64_t n) {
    uint64_t r = rng_next(s);
    int64_t i = (int64_t)(((r >> 32) * (uint64_t)n) >> 32);
    float u = (float)(r & 0xFFFFFFu) * (1.0f / 16777216.0f);
    return u < prob[i] ? (int32_t)i : alias[i];
}

static inline float dot(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int k = 0; k < n; k++) s += a[k] * b[k];
    return s;
}

static inline void axpy(float g, const float *x, float *y, int n) {
    for (int k = 0; k < n; k++) y[k] += g * x[k];
}

/* sigmoid(f) and -log(sigmoid(f)) tabulated on [-TABLE_MAX, TABLE_MAX]: a table read is several times
 * cheaper than expf + log1pf, and a step of 16/4096 keeps the sigmoid within 0.001 of exact. */
#define TABLE_SIZE 4096
#define TABLE_MAX 8.0f
static float sigmoid_table[TABLE_SIZE + 1];
static float neglogsig_table[TABLE_SIZE + 1];
static int tables_ready = 0;

static void init_tables(void) {
    if (__atomic_load_n(&tables_ready, __ATOMIC_ACQUIRE)) return;
    for (int k = 0; k <= TABLE_SIZE; k++) {
        double f = ((double)k / TABLE_SIZE * 2.0 - 1.0) * TABLE_MAX;
        sigmoid_table[k] = (float)(1.0 / (1.0 + exp(-f)));
        neglogsig_table[k] = (float)log1p(exp(-f));
    }
    __atomic_store_n(&tables_ready, 1, __ATOMIC_RELEASE);
}

/* One logistic step: h (the input vector) against output row `target` with `label`.
 * Accumulates the input gradient into `err`, updates the output row in place, adds the loss. */
static inline void logistic_step(const float *h, float *err, float *wout, int dim, int32_t target,
                                 float label, float alpha, int want_loss, double *loss) {
    float *v = wout + (int64_t)target * dim;
    float f = dot(h, v, dim);
    float p;
    if (f >= TABLE_MAX) {
        p = 1.0f;
        if (want_loss && label < 0.5f) *loss += f;
    } else if (f <= -TABLE_MAX) {
        p = 0.0f;
        if (want_loss && label > 0.5f) *loss += -f;
    } else {
        int k = (int)((f + TABLE_MAX) * (TABLE_SIZE / (2.0f * TABLE_MAX)) + 0.5f);
        p = sigmoid_table[k];
        /* -log sigmoid(f) for label 1; -log(1 - sigmoid(f)) = -log sigmoid(-f) for label 0 */
        if (want_loss) *loss += label > 0.5f ? neglogsig_table[k] : neglogsig_table[TABLE_SIZE - k];
    }
    float g = (label - p) * alpha;
    axpy(g, v, err, dim);
    axpy(g, h, v, dim);
}

/* The steps of one prediction: h against the centre word (label 1) and `negative` noise words
 * (label 0; a draw of the centre itself is skipped). `err` is zeroed, then holds h's gradient. */
static inline void predict_centre(const float *h, float *err, float *wout, int dim, int32_t centre,
                                  int negative, uint64_t *rng, const float *noise_prob,
                                  const int32_t *noise_alias, int64_t n_words, float alpha,
                                  int want_loss, double *loss) {
    memset(err, 0, sizeof(float) * (size_t)dim);
    logistic_step(h, err, wout, dim, centre, 1.0f, alpha, want_loss, loss);
    for (int k = 0; k < negative; k++) {
        int32_t noise = draw_noise(rng, noise_prob, noise_alias, n_words);
        if (noise == centre) continue;
        logistic_step(h, err, wout, dim, noise, 0.0f, alpha, want_loss, loss);
    }
}

/* Train on sentences [s_begin, s_end) of the id corpus.
 *   corpus: int32 ids of in-vocabulary words; sent_start: n_sent+1 offsets into corpus.
 *   keep:   per-word probability of keeping an occurrence (subsampling).
 *   progress: words (before subsampling) processed by all threads, shared and atomic.
 *   out: [0] loss sum, [1] number of logistic steps (positive ones), [2] words processed.
 * Returns 0, or -1 when a buffer could not be allocated. */
int sgns_train_chunk(float *win, float *wout, int dim,
                     const int32_t *corpus, const int64_t *sent_start, int64_t s_begin, int64_t s_end,
                     const float *keep, const float *noise_prob, const int32_t *noise_alias, int64_t n_words,
                     int sg, int window, int negative,
                     float alpha0, float min_alpha, int64_t total_words, int64_t *progress,
                     uint64_t seed, int want_loss, double *out) {
    int64_t max_len = 0;
    for (int64_t s = s_begin; s < s_end; s++) {
        int64_t len = sent_start[s + 1] - sent_start[s];
        if (len > max_len) max_len = len;
    }
    int32_t *sent = (int32_t *)malloc(sizeof(int32_t) * (size_t)(max_len + 1));
    float *err = (float *)malloc(sizeof(float) * (size_t)dim);
    float *h = (float *)malloc(sizeof(float) * (size_t)dim);
    if (!sent || !err || !h) {
        free(sent); free(err); free(h);
        return -1;
    }
    init_tables();
    uint64_t rng = rng_seed(seed);
    double loss = 0.0, steps = 0.0;
    int64_t words = 0, unreported = 0;
    float alpha = alpha0;
    const float decay = alpha0 - min_alpha;

    for (int64_t s = s_begin; s < s_end; s++) {
        /* recompute the learning rate from everyone's progress every ~10k words */
        if (unreported >= 10000 || s == s_begin) {
            int64_t done = __atomic_add_fetch(progress, unreported, __ATOMIC_RELAXED);
            unreported = 0;
            alpha = alpha0 - decay * (float)((double)done / (double)total_words);
            if (alpha < min_alpha) alpha = min_alpha;
        }
        int64_t a = sent_start[s], b = sent_start[s + 1];
        int n = 0;
        for (int64_t i = a; i < b; i++) {
            int32_t w = corpus[i];
            if (keep[w] >= 1.0f || rng_unit(&rng) < keep[w]) sent[n++] = w;
        }
        words += b - a;
        unreported += b - a;
        for (int i = 0; i < n; i++) {
            int r = window - (int)(rng_next(&rng) % (uint64_t)window); /* 1..window */
            int lo = i - r < 0 ? 0 : i - r;
            int hi = i + r >= n ? n - 1 : i + r;
            int32_t centre = sent[i];
            if (sg) {
                for (int j = lo; j <= hi; j++) {
                    if (j == i) continue;
                    float *in = win + (int64_t)sent[j] * dim;
                    predict_centre(in, err, wout, dim, centre, negative, &rng, noise_prob, noise_alias,
                                   n_words, alpha, want_loss, &loss);
                    axpy(1.0f, err, in, dim);
                    steps += 1.0;
                }
            } else {
                int count = hi - lo;
                if (count <= 0) continue;
                memset(h, 0, sizeof(float) * (size_t)dim);
                for (int j = lo; j <= hi; j++)
                    if (j != i) axpy(1.0f, win + (int64_t)sent[j] * dim, h, dim);
                float inv = 1.0f / (float)count;
                for (int k = 0; k < dim; k++) h[k] *= inv;
                predict_centre(h, err, wout, dim, centre, negative, &rng, noise_prob, noise_alias,
                               n_words, alpha, want_loss, &loss);
                for (int j = lo; j <= hi; j++)
                    if (j != i) axpy(1.0f, err, win + (int64_t)sent[j] * dim, dim);
                steps += 1.0;
            }
        }
    }
    __atomic_add_fetch(progress, unreported, __ATOMIC_RELAXED);
    free(sent); free(err); free(h);
    out[0] = loss;
    out[1] = steps;
    out[2] = (double)words;
    return 0;
}

/* Draw n noise words (for testing the sampler against its formula). */
void sgns_draw_noise(const float *noise_prob, const int32_t *noise_alias, int64_t n_words, uint64_t seed,
                     int64_t n, int32_t *out) {
    uint64_t rng = rng_seed(seed);
    for (int64_t i = 0; i < n; i++) out[i] = draw_noise(&rng, noise_prob, noise_alias, n_words);
}

/* Subsample a corpus once (for testing the kept fraction against its formula). Returns the kept count. */
int64_t sgns_subsample(const int32_t *corpus, int64_t n, const float *keep, uint64_t seed, int32_t *out) {
    uint64_t rng = rng_seed(seed);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t w = corpus[i];
        if (keep[w] >= 1.0f || rng_unit(&rng) < keep[w]) out[m++] = w;
    }
    return m;
}
