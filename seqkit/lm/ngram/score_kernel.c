/* n-gram backoff scoring of a packed corpus: the loop behind seqkit.lm.ngram.NGramLM.score_packed.
 *
 * Written for seqkit; compiled at first use by seqkit/native.py and called through ctypes.
 * It computes exactly what the numpy path of NGramLM.score_packed computes, one token at a time:
 *
 *   found[1] = w;  found[k] = id of the k-gram (found[k-1] at the previous position, w), -1 if absent
 *   log10 p(w | h) = logp_m[found[m]] + sum over c = m..N-1 of logbo_c[context c-gram]
 *                    (m = the longest order found; a context c-gram is found[c] at the previous position)
 *
 * Each order k >= 2 has an open-addressing hash table of 16-byte slots {key, log10 p, log10 backoff},
 * probed linearly from the Fibonacci hash of the key. An n-gram's id is its slot's position, and a
 * k-gram's key is (slot of its (k-1)-gram prefix) * V + w, so one probe gives the n-gram, its values and
 * the id the next order needs: one cache miss per order, as in KenLM's probing tables.
 * (log10 values are float32 here, as in KenLM; the numpy path keeps float64.)
 */
#include <stdint.h>

#define MAX_ORDER 16
#define GOLDEN 0x9E3779B97F4A7C15ULL
#define BOS 1

typedef struct { int64_t key; float logp, logbo; } Slot;

static inline int64_t find(const Slot *slots, int bits, int64_t key) {
    uint64_t mask = (1ULL << bits) - 1;
    uint64_t pos = ((uint64_t)key * GOLDEN) >> (64 - bits);
    for (;;) {
        int64_t k = slots[pos].key;
        if (k == key) return (int64_t)pos;
        if (k < 0) return -1;
        pos = (pos + 1) & mask;
    }
}

/* ids: (T,) token ids, each sentence "<s> ... </s>". Writes one (log10 p, matched order) per token
 * that is not <s>, in order; returns how many. tables[k] and bits[k] for order k+1 >= 2 (tables[0]
 * unused: unigrams are logp1[w], logbo1[w]). */
int64_t ngram_score(int order, int64_t V, const int32_t *ids, int64_t T,
                    const Slot *const *tables, const int32_t *bits,
                    const double *logp1, const double *logbo1,
                    double *out_logp, int32_t *out_order) {
    int64_t prev[MAX_ORDER + 1], cur[MAX_ORDER + 1];
    double prev_bo[MAX_ORDER + 1], cur_bo[MAX_ORDER + 1];
    int64_t n = 0;
    if (order > MAX_ORDER) return -1;
    for (int k = 0; k <= order; k++) prev[k] = -1;
    for (int64_t t = 0; t < T; t++) {
        int64_t w = ids[t];
        if (w == BOS) {  /* a sentence starts: only the unigram <s> is a context */
            prev[1] = BOS;
            prev_bo[1] = logbo1[BOS];
            for (int k = 2; k <= order; k++) prev[k] = -1;
            continue;
        }
        cur[1] = w;
        cur_bo[1] = logbo1[w];
        double lp = logp1[w];
        int m = 1;
        for (int k = 2; k <= order; k++) {
            int64_t p = prev[k - 1];
            int64_t at = p >= 0 ? find(tables[k - 1], bits[k - 1], p * V + w) : -1;
            cur[k] = at;
            if (at >= 0) {
                const Slot *s = tables[k - 1] + at;
                cur_bo[k] = s->logbo;
                lp = s->logp;
                m = k;
            }
        }
        for (int c = m; c < order; c++)
            if (prev[c] >= 0) lp += prev_bo[c];
        out_logp[n] = lp;
        out_order[n] = m;
        n++;
        for (int k = 1; k <= order; k++) {
            prev[k] = cur[k];
            prev_bo[k] = cur_bo[k];
        }
    }
    return n;
}
