/* n-gram backoff scoring of a packed corpus: the loop behind seqkit.lm.ngram.NGramLM.score_packed
 * (and the ARPA parser that fills its tables, at the end).
 *
 * Written for seqkit; compiled at first use by seqkit/native.py and called through ctypes.
 * It computes exactly what the numpy path of NGramLM.score_packed computes, one token at a time:
 *
 *   found[1] = w;  found[k] = id of the k-gram (found[k-1] at the previous position, w), -1 if absent
 *   log10 p(w | h) = logp_m[found[m]] + sum over c = m..N-1 of logbo_c[context c-gram]
 *                    (m = the longest order found; a context c-gram is found[c] at the previous position)
 *
 * Each order k >= 2 has an open-addressing hash table of 24-byte slots {key, log10 p, log10 backoff},
 * half full, probed linearly from the Fibonacci hash of the key, its keys in the order of their home
 * slots (see TABLE_PAD: a miss stops early). An n-gram's id is its slot's position, and a
 * k-gram's key is (slot of its (k-1)-gram prefix) * V + w, so one probe gives the n-gram, its values and
 * the id the next order needs: one cache miss per order, as in KenLM's probing tables.
 * (The values stay float64, so a probability of 1 is exactly 1, as on the numpy path.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ORDER 16
#define GOLDEN 0x9E3779B97F4A7C15ULL
#define UNK 0
#define BOS 1
#define EOS 2

typedef struct { int64_t key; double logp, logbo; } Slot;

/* A table of `size` home slots plus TABLE_PAD overflow slots after them (no wrap-around), filled in the
 * order of the keys' home slots (ngram_table_fill): the keys then lie sorted by home, so a probe that
 * meets a key whose home is past its own knows its key is absent -- a miss ends as soon as a hit would,
 * instead of at the next empty slot (linear probing's long misses, at up to 3/4 full). */
#define TABLE_PAD 4096

/* The Fibonacci hash of the key scaled to [0, size): any size, not only powers of two, so a table can be
 * exactly as full as chosen; and monotone in the hash, which the order by home relies on. */
static inline uint64_t home_of(int64_t key, int64_t size) {
    return (uint64_t)(((unsigned __int128)((uint64_t)key * GOLDEN) * (uint64_t)size) >> 64);
}

static inline int64_t find(const Slot *slots, int64_t size, int64_t key) {
    uint64_t home = home_of(key, size);
    for (uint64_t pos = home;; pos++) {
        int64_t k = slots[pos].key;
        if (k == key) return (int64_t)pos;
        if (k < 0 || home_of(k, size) > home) return -1;
    }
}

/* Put n keys (with their log10 p and backoff) into an empty table, in the order of their home slots (a
 * counting sort; file order among equal homes); slot[i] = where key i went. Returns -1, or the smallest i
 * whose key is already in the table, -2 when the overflow slots run out (the caller takes a bigger
 * table), -3 when out of memory. */
int64_t ngram_table_fill(Slot *table, int64_t size, int64_t n, const int64_t *keys, const double *logp,
                         const double *logbo, int64_t *slot) {
    int64_t end = size + TABLE_PAD, twice = -1;
    int64_t *first = calloc((size_t)size + 1, sizeof(int64_t)), *by_home = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    if (!first || !by_home) { free(first); free(by_home); return -3; }
    for (int64_t i = 0; i < n; i++) first[home_of(keys[i], size) + 1]++;
    for (int64_t h = 0; h < size; h++) first[h + 1] += first[h];
    for (int64_t i = 0; i < n; i++) by_home[first[home_of(keys[i], size)]++] = i;
    free(first);
    for (int64_t j = 0; j < n; j++) {
        int64_t i = by_home[j], key = keys[i];
        int64_t pos = (int64_t)home_of(key, size);
        int dup = 0;
        while (table[pos].key >= 0) {
            if (table[pos].key == key) { dup = 1; break; }
            if (++pos >= end) { free(by_home); return -2; }
        }
        if (dup) {
            if (twice < 0 || i < twice) twice = i;
            continue;
        }
        table[pos].key = key;
        table[pos].logp = logp[i];
        table[pos].logbo = logbo ? logbo[i] : 0.0;
        slot[i] = pos;
    }
    free(by_home);
    return twice;
}

/* The per-token backoff walk, shared by both entry points: scores word w from state prev (ids and
 * backoffs of the n-grams ending at the previous token), leaves the new state in cur. */
typedef struct {
    int order;
    int64_t V;
    const Slot *const *tables;
    const int64_t *sizes;
    const double *logp1, *logbo1;
} Model;

static inline double step(const Model *M, int64_t w, const int64_t *prev, const double *prev_bo,
                          int64_t *cur, double *cur_bo, int32_t *matched) {
    /* Every order's key is known before any probe (it needs only the previous token's state), so
     * all the probes' first cache lines are requested at once: the misses overlap instead of queueing. */
    for (int k = 2; k <= M->order; k++) {
        int64_t p = prev[k - 1];
        if (p >= 0) {
            uint64_t pos = home_of(p * M->V + w, M->sizes[k - 1]);
            __builtin_prefetch(M->tables[k - 1] + pos);
        }
    }
    cur[1] = w;
    cur_bo[1] = M->logbo1[w];
    double lp = M->logp1[w];
    int m = 1;
    for (int k = 2; k <= M->order; k++) {
        int64_t p = prev[k - 1];
        int64_t at = p >= 0 ? find(M->tables[k - 1], M->sizes[k - 1], p * M->V + w) : -1;
        cur[k] = at;
        if (at >= 0) {
            const Slot *s = M->tables[k - 1] + at;
            cur_bo[k] = s->logbo;
            lp = s->logp;
            m = k;
        }
    }
    for (int c = m; c < M->order; c++)
        if (prev[c] >= 0) lp += prev_bo[c];
    *matched = m;
    return lp;
}

static inline void start_sentence(const Model *M, int64_t *prev, double *prev_bo) {
    prev[1] = BOS;
    prev_bo[1] = M->logbo1[BOS];
    for (int k = 2; k <= M->order; k++) prev[k] = -1;
}

/* ids: (T,) token ids, each sentence "<s> ... </s>". Writes one (log10 p, matched order) per token
 * that is not <s>, in order; returns how many. tables[k] and sizes[k] for order k+1 >= 2 (tables[0]
 * unused: unigrams are logp1[w], logbo1[w]). */
int64_t ngram_score(int order, int64_t V, const int32_t *ids, int64_t T,
                    const Slot *const *tables, const int64_t *sizes,
                    const double *logp1, const double *logbo1,
                    double *out_logp, int32_t *out_order) {
    Model M = {order, V, tables, sizes, logp1, logbo1};
    int64_t a[MAX_ORDER + 1], b[MAX_ORDER + 1];
    double abo[MAX_ORDER + 1], bbo[MAX_ORDER + 1];
    int64_t *prev = a, *cur = b;
    double *prev_bo = abo, *cur_bo = bbo;
    int64_t n = 0;
    if (order > MAX_ORDER) return -1;
    for (int k = 0; k <= order; k++) prev[k] = cur[k] = -1;
    for (int64_t t = 0; t < T; t++) {
        int64_t w = ids[t];
        if (w == BOS) {
            start_sentence(&M, prev, prev_bo);
            continue;
        }
        out_logp[n] = step(&M, w, prev, prev_bo, cur, cur_bo, &out_order[n]);
        n++;
        int64_t *t1 = prev; prev = cur; cur = t1;
        double *t2 = prev_bo; prev_bo = cur_bo; cur_bo = t2;
    }
    return n;
}

/* ---- straight from text: the words are looked up here too, no Python object per token ---------- */

static inline uint64_t fnv1a(const uint8_t *s, int64_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (int64_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Fill vtable ((1 << vbits) x 2 int64, all -1) with (hash, id) of the n words, word i being the bytes
 * words[offsets[i] .. offsets[i+1]). */
void ngram_vocab_index(const uint8_t *words, const int64_t *offsets, int64_t n, int64_t *vtable, int vbits) {
    uint64_t mask = (1ULL << vbits) - 1;
    for (int64_t id = 0; id < n; id++) {
        uint64_t h = fnv1a(words + offsets[id], offsets[id + 1] - offsets[id]);
        uint64_t pos = (h * GOLDEN) >> (64 - vbits);
        while (vtable[2 * pos + 1] >= 0) pos = (pos + 1) & mask;
        vtable[2 * pos] = (int64_t)h;
        vtable[2 * pos + 1] = id;
    }
}

static inline int64_t vocab_find(const int64_t *vtable, int vbits, const uint8_t *words, const int64_t *offsets,
                                 const uint8_t *w, int64_t len) {
    uint64_t mask = (1ULL << vbits) - 1;
    uint64_t h = fnv1a(w, len);
    uint64_t pos = (h * GOLDEN) >> (64 - vbits);
    for (;;) {
        int64_t id = vtable[2 * pos + 1];
        if (id < 0) return -1;
        if ((uint64_t)vtable[2 * pos] == h && offsets[id + 1] - offsets[id] == len) {
            const uint8_t *v = words + offsets[id];
            int64_t i = 0;
            while (i < len && v[i] == w[i]) i++;
            if (i == len) return id;
        }
        pos = (pos + 1) & mask;
    }
}

static inline int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* text: the corpus, lines joined by '\n' (no final one), ASCII whitespace between words. Scores every
 * word and each line's </s> as ngram_score does for the packed ids (unknown words as <unk>, flagged);
 * out_sentence gets the line of each scored token. Returns how many tokens were scored. */
int64_t ngram_score_text(int order, int64_t V, const uint8_t *text, int64_t len,
                         const int64_t *vtable, int vbits, const uint8_t *vwords, const int64_t *voffsets,
                         const Slot *const *tables, const int64_t *sizes,
                         const double *logp1, const double *logbo1,
                         double *out_logp, int32_t *out_order, uint8_t *out_oov, int64_t *out_sentence) {
    Model M = {order, V, tables, sizes, logp1, logbo1};
    int64_t a[MAX_ORDER + 1], b[MAX_ORDER + 1];
    double abo[MAX_ORDER + 1], bbo[MAX_ORDER + 1];
    int64_t *prev = a, *cur = b;
    double *prev_bo = abo, *cur_bo = bbo;
    int64_t n = 0, sentence = 0, i = 0;
    if (order > MAX_ORDER) return -1;
    for (int k = 0; k <= order; k++) prev[k] = cur[k] = -1;
    start_sentence(&M, prev, prev_bo);
    for (;;) {
        while (i < len && is_space(text[i])) i++;
        if (i >= len || text[i] == '\n') {  /* the end of a line: its </s> */
            out_logp[n] = step(&M, EOS, prev, prev_bo, cur, cur_bo, &out_order[n]);
            out_oov[n] = 0;
            out_sentence[n] = sentence;
            n++;
            if (i >= len) break;
            i++;
            sentence++;
            start_sentence(&M, prev, prev_bo);
            continue;
        }
        int64_t start = i;
        while (i < len && !is_space(text[i]) && text[i] != '\n') i++;
        int64_t w = vocab_find(vtable, vbits, vwords, voffsets, text + start, i - start);
        uint8_t oov = w < 0;
        if (oov) w = UNK;
        if (w == BOS) {  /* a literal <s> starts a sentence, as in the packed ids */
            sentence++;
            start_sentence(&M, prev, prev_bo);
            continue;
        }
        out_logp[n] = step(&M, w, prev, prev_bo, cur, cur_bo, &out_order[n]);
        out_oov[n] = oov;
        out_sentence[n] = sentence;
        n++;
        int64_t *t1 = prev; prev = cur; cur = t1;
        double *t2 = prev_bo; prev_bo = cur_bo; cur_bo = t2;
    }
    return n;
}

/* ---- reading ARPA sections: the text parsed straight into the tables above ---------------------------
 *
 * ngram_arpa_section parses the lines of one "\k-grams:" section, from text[0] up to an empty line, a line
 * that starts with '\' or text[limit] (lines end with '\n'; fields are split on ASCII blanks, as KenLM
 * splits them, so a CR before the '\n' is a blank): log10 p, k words, then an optional log10 backoff.
 * The first n lines are parsed (the count the header declares), any more only counted. Order 1 hands
 * back where each word is (the caller builds the vocabulary); order k >= 2 looks its words up in the
 * vocabulary table (a word equal to the one above it in the same column is not looked up again), walks
 * its context through the tables of orders 2..k-1 (reusing the walk of the line above for the words it
 * shares) and hands back its key in order k's table (out_ref; ngram_table_fill puts them in) and in
 * the sorted tables (out_key: rank_prev of the context's slot, then the word).
 * Returns 0, or an error code with err = {line index in the section, field index, fields on the line,
 * offset of the line}; info = {lines in the section, offset of the line after them}. */

enum { ARPA_OK, ARPA_FIELDS, ARPA_NUMBER, ARPA_WORD, ARPA_CONTEXT };

static const double POW10[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};


/* The decimal number s[0 .. n) as the correctly rounded double (as Python's float() reads it). Plain
 * decimals of up to 15 digits are exact integers scaled by an exact power of ten -- one correctly rounded
 * IEEE operation (Clinger's fast path); anything else goes to strtod, which also rounds correctly. */
static int parse_number(const uint8_t *s, int64_t n, double *out) {
    int64_t i = 0;
    int neg = 0;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) { neg = s[0] == '-'; i = 1; }
    uint64_t m = 0;
    int digits = 0, frac = 0, seen = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (m || s[i] != '0') digits++;
        m = m * 10 + (uint64_t)(s[i] - '0');
        i++; seen++;
        if (digits > 15) goto slow;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (m || s[i] != '0') digits++;
            m = m * 10 + (uint64_t)(s[i] - '0');
            i++; seen++; frac++;
            if (digits > 15 || frac > 22) goto slow;
        }
    }
    if (i != n || !seen) goto slow;  /* an exponent, inf, nan, or not a number */
    {
        volatile double v = (double)m;  /* volatile: one division, never a multiply by a rounded reciprocal */
        v = v / POW10[frac];
        *out = neg ? -v : v;
        return 1;
    }
slow: {
        char buf[128];
        if (n <= 0 || n >= (int64_t)sizeof buf) return 0;
        for (int64_t j = 0; j < n; j++) {
            if (s[j] == 'x' || s[j] == 'X' || s[j] == '_') return 0;  /* strtod's hex floats: not ARPA */
            buf[j] = (char)s[j];
        }
        buf[n] = 0;
        char *end;
        *out = strtod(buf, &end);
        return end == buf + n;
    }
}

#define ARPA_MAX_FIELDS (MAX_ORDER + 3)

static inline int empty_line(const uint8_t *text, int64_t pos, int64_t limit) {
    return pos >= limit || text[pos] == '\n' || text[pos] == '\\' ||
           (text[pos] == '\r' && (pos + 1 >= limit || text[pos + 1] == '\n'));
}

/* vocab_find with the word's hash already computed (and its slot prefetched) */
static inline int64_t vocab_find_hashed(const int64_t *vtable, int vbits, const uint8_t *words, const int64_t *offsets,
                                        uint64_t h, const uint8_t *w, int64_t len) {
    uint64_t mask = (1ULL << vbits) - 1;
    uint64_t pos = (h * GOLDEN) >> (64 - vbits);
    for (;;) {
        int64_t id = vtable[2 * pos + 1];
        if (id < 0) return -1;
        if ((uint64_t)vtable[2 * pos] == h && offsets[id + 1] - offsets[id] == len && !memcmp(words + offsets[id], w, len))
            return id;
        pos = (pos + 1) & mask;
    }
}

static inline int64_t skip_line(const uint8_t *text, int64_t pos, int64_t limit) {
    const uint8_t *nl = memchr(text + pos, '\n', (size_t)(limit - pos));
    return nl ? nl - text + 1 : limit;
}

/* Lines go through in batches, stage by stage (fields and numbers, word ids, the context walk one order
 * at a time, the inserts), and each stage first requests the memory every line of the batch will probe:
 * the cache misses of a batch overlap instead of queueing. The first mistake in file order is reported. */
#define BATCH 32

typedef struct {
    int64_t pos, fs[ARPA_MAX_FIELDS], fe[ARPA_MAX_FIELDS], ids[MAX_ORDER + 1], ps[MAX_ORDER + 1];
    uint64_t hash[MAX_ORDER + 1];
    double lp, bo;
    int nf, same;
} ArpaLine;

int ngram_arpa_section(const uint8_t *text, int64_t limit, int64_t n, int k, int has_backoff,
                       const int64_t *vtable, int vbits, const uint8_t *vwords, const int64_t *voffsets, int64_t V,
                       Slot *const *tables, const int64_t *sizes, const int64_t *rank_prev,
                       double *out_logp, double *out_logbo, int64_t *out_ref, int64_t *out_key, int64_t *err,
                       int64_t *info) {
    ArpaLine batch[BATCH + 1];  /* batch[0]: the last line of the previous batch */
    int have_prev = 0, code = ARPA_OK;
    int64_t pos = 0, line = 0;  /* line: index of batch[1] in the section */
    if (k < 1 || k > MAX_ORDER) return ARPA_FIELDS;
    while (!code && !empty_line(text, pos, limit) && line < n) {
        /* stage 1: fields and numbers (a mistake ends the batch before its line) */
        int m = 0, stop_code = ARPA_OK, stop_field = 0;
        while (m < BATCH && line + m < n && !empty_line(text, pos, limit)) {
            ArpaLine *L = &batch[m + 1];
            int nf = 0;
            int64_t p = pos;
            L->pos = pos;
            for (;;) {
                while (p < limit && is_space(text[p])) p++;
                if (p >= limit || text[p] == '\n') break;
                int64_t a = p;
                while (p < limit && !is_space(text[p]) && text[p] != '\n') p++;
                if (nf < ARPA_MAX_FIELDS) { L->fs[nf] = a; L->fe[nf] = p; }
                nf++;
            }
            L->nf = nf;
            pos = p < limit ? p + 1 : limit;
            m++;
            if (nf != k + 1 && !(has_backoff && nf == k + 2)) { stop_code = ARPA_FIELDS; stop_field = -1; break; }
            L->bo = 0.0;
            if (!parse_number(text + L->fs[0], L->fe[0] - L->fs[0], &L->lp)) { stop_code = ARPA_NUMBER; break; }
            if (nf == k + 2 && !parse_number(text + L->fs[k + 1], L->fe[k + 1] - L->fs[k + 1], &L->bo)) {
                stop_code = ARPA_NUMBER;
                stop_field = k + 1;
                break;
            }
            if (k >= 2) {  /* the words' hashes (a word equal to the one above it is not looked up) */
                const ArpaLine *P = &batch[m - 1];
                int match = have_prev || m > 1;
                L->same = 0;
                for (int j = 0; j < k; j++) {
                    int64_t a = L->fs[j + 1], len = L->fe[j + 1] - a;
                    if (match && len == P->fe[j + 1] - P->fs[j + 1] && !memcmp(text + a, text + P->fs[j + 1], len)) {
                        L->same = j + 1;
                        continue;
                    }
                    match = 0;
                    L->hash[j] = fnv1a(text + a, len);
                    __builtin_prefetch(vtable + 2 * ((L->hash[j] * GOLDEN) >> (64 - vbits)));
                }
            }
        }
        int stop = stop_code ? m - 1 : m;  /* lines batch[1 .. stop] are well formed */
        for (int i = 1; i <= stop; i++) {
            out_logp[line + i - 1] = batch[i].lp;
            out_logbo[line + i - 1] = batch[i].bo;
        }
        if (k == 1) {
            for (int i = 1; i <= stop; i++) {
                out_ref[2 * (line + i - 1)] = batch[i].fs[1];
                out_ref[2 * (line + i - 1) + 1] = batch[i].fe[1] - batch[i].fs[1];
            }
        } else {
            /* stage 2: word ids */
            for (int i = 1; i <= stop; i++) {
                ArpaLine *L = &batch[i];
                for (int j = 0; j < k; j++) {
                    if (j < L->same) { L->ids[j] = batch[i - 1].ids[j]; continue; }
                    int64_t a = L->fs[j + 1];
                    L->ids[j] = vocab_find_hashed(vtable, vbits, vwords, voffsets, L->hash[j], text + a, L->fe[j + 1] - a);
                    if (L->ids[j] < 0) { stop = i - 1; stop_code = ARPA_WORD; stop_field = j + 1; break; }
                }
            }
            /* stage 3: the context walk, one order at a time (ps[j] reused while the first j words agree) */
            for (int i = 1; i <= stop; i++) batch[i].ps[1] = batch[i].ids[0];
            for (int j = 2; j < k; j++) {
                for (int i = 1; i <= stop; i++) {
                    const ArpaLine *L = &batch[i];
                    if (L->same < j)
                        __builtin_prefetch(tables[j - 1] + home_of(L->ps[j - 1] * V + L->ids[j - 1], sizes[j - 1]));
                }
                for (int i = 1; i <= stop; i++) {
                    ArpaLine *L = &batch[i];
                    if (L->same >= j) { L->ps[j] = batch[i - 1].ps[j]; continue; }
                    L->ps[j] = find(tables[j - 1], sizes[j - 1], L->ps[j - 1] * V + L->ids[j - 1]);
                    if (L->ps[j] < 0) { stop = i - 1; stop_code = ARPA_CONTEXT; stop_field = -1; break; }
                }
            }
            /* stage 4: the keys (inserted by ngram_table_fill, in the order of their homes) */
            for (int i = 1; i <= stop; i++)
                if (rank_prev) __builtin_prefetch(rank_prev + batch[i].ps[k - 1]);
            for (int i = 1; i <= stop; i++) {
                const ArpaLine *L = &batch[i];
                out_ref[line + i - 1] = L->ps[k - 1] * V + L->ids[k - 1];
                out_key[line + i - 1] = (rank_prev ? rank_prev[L->ps[k - 1]] : L->ps[k - 1]) * V + L->ids[k - 1];
            }
        }
        if (stop_code) {
            const ArpaLine *L = &batch[stop + 1];
            code = stop_code;
            err[0] = line + stop;
            err[1] = stop_field;
            err[2] = L->nf;
            err[3] = L->pos;
            line += stop;
            pos = L->pos;
            break;
        }
        line += m;
        batch[0] = batch[m];
        have_prev = 1;
    }
    /* more lines than declared, or a mistake on this line: it and the rest of the section only counted */
    while (!empty_line(text, pos, limit)) {
        pos = skip_line(text, pos, limit);
        line++;
    }
    info[0] = line;
    info[1] = pos;
    return code;
}

/* ---- writing ARPA sections ------------------------------------------------------------------------ */

#include <math.h>

/* x as "%.6f" (an infinite or NaN value as -99, the ARPA convention): rounded half to even at the 6th
 * decimal, "-" only when the rounded value is not 0. Returns the bytes written, or -1 when |x| >= 1000. */
static inline int format6(double x, uint8_t *o) {
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    if (((b >> 52) & 0x7ff) == 0x7ff) x = -99.0;  /* bit test: -ffast-math may assume isfinite() */
    int neg = x < 0;
    int64_t v = (int64_t)nearbyint(fabs(x) * 1e6);
    int64_t whole = v / 1000000, frac = v % 1000000;
    if (whole > 999) return -1;
    int n = 0;
    if (neg && v > 0) o[n++] = '-';
    if (whole >= 100) o[n++] = (uint8_t)('0' + whole / 100);
    if (whole >= 10) o[n++] = (uint8_t)('0' + whole / 10 % 10);
    o[n++] = (uint8_t)('0' + whole % 10);
    o[n++] = '.';
    int hi = (int)(frac / 1000), lo = (int)(frac % 1000);
    o[n] = (uint8_t)('0' + hi / 100); o[n + 1] = (uint8_t)('0' + hi / 10 % 10); o[n + 2] = (uint8_t)('0' + hi % 10);
    o[n + 3] = (uint8_t)('0' + lo / 100); o[n + 4] = (uint8_t)('0' + lo / 10 % 10); o[n + 5] = (uint8_t)('0' + lo % 10);
    return n + 6;
}

/* The lines "log10 p \t w1 ... wk [\t log10 backoff] \n" of n rows of one section into out (room for
 * n * (24 + k * (longest word + 1)) bytes): words (n, k) word ids, vwords/voffsets the vocabulary's UTF-8
 * bytes end to end; logbo NULL for the top order. Returns the bytes written, or -(row + 1) for a row with
 * a value too large to write. */
int64_t ngram_arpa_format(int64_t n, int k, const int32_t *words, const double *logp, const double *logbo,
                          const uint8_t *vwords, const int64_t *voffsets, uint8_t *out) {
    uint8_t *o = out;
    for (int64_t i = 0; i < n; i++) {
        int m = format6(logp[i], o);
        if (m < 0) return -(i + 1);
        o += m;
        *o++ = '\t';
        for (int j = 0; j < k; j++) {
            int64_t w = words[i * k + j], len = voffsets[w + 1] - voffsets[w];
            memcpy(o, vwords + voffsets[w], (size_t)len);
            o += len;
            *o++ = j < k - 1 ? ' ' : (logbo ? '\t' : '\n');
        }
        if (logbo) {
            m = format6(logbo[i], o);
            if (m < 0) return -(i + 1);
            o += m;
            *o++ = '\n';
        }
    }
    return o - out;
}
