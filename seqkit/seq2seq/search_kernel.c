/* Beam search's choice of candidates at each step, in one pass over the log-probabilities
 * (seqkit.seq2seq.search compiles this at first use through seqkit.native and calls it through ctypes).
 *
 * best_candidates: for each of n sentences, whose `width` hypotheses are rows s * width + r of `values`
 * (vocab numbers each, rows row_stride floats apart), the k best of values[row][c] + scores[row] over its
 * width x vocab extensions: out_values[s * k + j] and out_ids[s * k + j] = r * vocab + c, best first, equal
 * values by smaller id. That is what torch's (values + scores[:, None]).view(n, width * vocab).topk(k) gives
 * (the same sums, rounded once), read once instead of through several passes of torch operations.
 *
 * Each sentence keeps its k best so far in a small heap whose root is the worst of them; a new extension
 * enters only when it beats the root, which after the first few rows almost none does, so the scan is a
 * comparison per number (16 at a time where AVX-512 is compiled in, 8 with AVX). NaN never enters (torch ranks it first).
 * Written for seqkit. Returns 0, or -1 when k is out of range.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

/* NaN by its bits: the kernels are compiled with -ffast-math, under which x != x may be folded away */
static inline int is_nan(float v)
{
    uint32_t b;
    memcpy(&b, &v, 4);
    return (b & 0x7fffffffu) > 0x7f800000u;
}

/* the heap of k (value, id) pairs, root = worst: smaller value, or equal value and larger id */
static inline int worse(float va, int64_t ia, float vb, int64_t ib)
{
    return va < vb || (va == vb && ia > ib);
}

static void sift_down(float *hv, int64_t *hi, int64_t k, int64_t p)
{
    for (;;) {
        int64_t c = 2 * p + 1;
        if (c >= k) return;
        if (c + 1 < k && worse(hv[c + 1], hi[c + 1], hv[c], hi[c])) c++;
        if (!worse(hv[c], hi[c], hv[p], hi[p])) return;
        float tv = hv[c]; hv[c] = hv[p]; hv[p] = tv;
        int64_t ti = hi[c]; hi[c] = hi[p]; hi[p] = ti;
        p = c;
    }
}

/* offer (v, id); ids come in increasing order, so an equal value never replaces the root */
static inline void offer(float *hv, int64_t *hi, int64_t k, int64_t *filled, float v, int64_t id)
{
    if (*filled < k) {
        int64_t p = (*filled)++;
        hv[p] = v; hi[p] = id;
        while (p > 0) { /* sift up */
            int64_t up = (p - 1) / 2;
            if (!worse(hv[p], hi[p], hv[up], hi[up])) break;
            float tv = hv[p]; hv[p] = hv[up]; hv[up] = tv;
            int64_t ti = hi[p]; hi[p] = hi[up]; hi[up] = ti;
            p = up;
        }
    } else if (v > hv[0]) {
        hv[0] = v; hi[0] = id;
        sift_down(hv, hi, k, 0);
    }
}

int best_candidates(int64_t n, int64_t width, int64_t vocab, const float *values, int64_t row_stride,
                    const float *scores, int64_t k, float *out_values, int64_t *out_ids)
{
    if (k < 1 || k > width * vocab) return -1;
    for (int64_t s = 0; s < n; s++) {
        float *hv = out_values + s * k;
        int64_t *hi = out_ids + s * k, filled = 0;
        for (int64_t r = 0; r < width; r++) {
            const float *x = values + (s * width + r) * row_stride;
            float add = scores[s * width + r];
            int64_t base = r * vocab, c = 0;
            for (; c < vocab && filled < k; c++)
                if (!is_nan(x[c] + add)) offer(hv, hi, k, &filled, x[c] + add, base + c);
#if defined(__AVX512F__)
            if (filled == k) {
                __m512 plus = _mm512_set1_ps(add);
                for (; c + 16 <= vocab; c += 16) {
                    __m512 v = _mm512_add_ps(_mm512_loadu_ps(x + c), plus);
                    __mmask16 better = _mm512_cmp_ps_mask(v, _mm512_set1_ps(hv[0]), _CMP_GT_OQ);
                    while (better) {
                        int j = __builtin_ctz(better);
                        better &= better - 1;
                        offer(hv, hi, k, &filled, x[c + j] + add, base + c + j);
                    }
                }
            }
#elif defined(__AVX__)
            if (filled == k) {
                __m256 plus = _mm256_set1_ps(add);
                for (; c + 8 <= vocab; c += 8) {
                    __m256 v = _mm256_add_ps(_mm256_loadu_ps(x + c), plus);
                    int better = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(hv[0]), _CMP_GT_OQ));
                    while (better) {
                        int j = __builtin_ctz((unsigned)better);
                        better &= better - 1;
                        offer(hv, hi, k, &filled, x[c + j] + add, base + c + j);
                    }
                }
            }
#endif
            for (; c < vocab; c++) {
                float v = x[c] + add;
                if (!is_nan(v) && (filled < k || v > hv[0])) offer(hv, hi, k, &filled, v, base + c);
            }
        }
        /* best first: insertion sort of the k pairs (k is twice the beam) */
        for (int64_t a = 1; a < filled; a++) {
            float v = hv[a];
            int64_t id = hi[a], b = a - 1;
            while (b >= 0 && worse(hv[b], hi[b], v, id)) {
                hv[b + 1] = hv[b]; hi[b + 1] = hi[b];
                b--;
            }
            hv[b + 1] = v; hi[b + 1] = id;
        }
        for (int64_t a = filled; a < k; a++) { /* only NaN everywhere: nothing entered */
            hv[a] = -INFINITY; hi[a] = a;
        }
    }
    return 0;
}
