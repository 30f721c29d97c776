/* Matrix products for a few rows -- the decoder step of one sentence's beam -- in int8 and in float32
 * (seqkit.seq2seq.linear_kernel compiles this at first use through seqkit.native and calls it through ctypes).
 * torch's kernels spend 15-20 us (fbgemm, int8) or 5-230 us (oneDNN, float32, most of it fetching the
 * weights) on the products of a 5-row step; these loops run at the speed the weights arrive.
 *
 * int8_linear: out (m x n) = x (m x k) W^T (+ bias) (then max(0, .) when relu), where
 *   - each row i of x is quantized on its own (asymmetric, unsigned 8 bits): with lo = min(0, min x_i),
 *     hi = max(0, max x_i), s_i = (hi - lo) / 255 (1 when hi == lo), z_i = round(-lo / s_i),
 *     u_ij = clamp(round(x_ij / s_i) + z_i, 0, 255), so x_ij ~ s_i (u_ij - z_i) and 0 is exact;
 *   - W's row j is int8 with scale w_j (x W^T ~ sum_k s_i (u_ik - z_i) w_j q_jk);
 *   - so out_ij = s_i w_j (sum_k u_ik q_jk - z_i rowsum_j) + bias_j, the sum in exact int32
 *     (255 * 127 * k fits for k < 66,000).
 * (The arithmetic of dynamic int8 quantization: Jacob et al. 2018, "Quantization and Training of Neural
 * Networks for Efficient Integer-Arithmetic-Only Inference".) The weight comes packed
 * (seqkit.seq2seq.linear_kernel.SmallRows): n rounded up to a multiple of B = linear_kernel_int8_block() with
 * zero rows, k to a multiple of 4 with zero columns, as blocks of B outputs, each [k / 4][B outputs][4 bytes].
 * rowsum (n rounded up to B) holds sum_k q_jk.
 *   - AVX512-VNNI (B = 16): one 64-byte load holds 4 consecutive weights of 16 outputs, the operand of
 *     vpdpbusd (16 lanes of u8 x s8 dot products of 4).
 *   - AVX2 (B = 8): a 16-byte load of 4 outputs' 4 weights, widened to int16 (vpmovsxbw), against the row's 4
 *     values as int16 (vpmaddwd: pairs of products summed into int32). Every product and pair is exact, so
 *     the sums are VNNI's: the full 0..255 range, no int16 saturation (vpmaddubsw's u8 x s8 pairs can
 *     overflow int16 with it, which is why fbgemm halves the range on such CPUs).
 *
 * f32_linear: the same product in float32 (rowsum and wscale unused), the weight packed as blocks of 16
 * outputs, each [k][16 outputs] (weight k of 16 outputs: one AVX-512 FMA's operand, two AVX2 ones).
 *
 * Both keep a tile of sums in registers while the weights stream past once: up to 6 rows x 64 outputs with
 * AVX-512 (32 registers), 6 rows x 16 (float32) or 8 (int8) outputs with AVX2 (16 registers). Without
 * either, the same sums run in plain C (seqkit then uses torch's kernels). Written for seqkit.
 * Return 0, or -1 when scratch cannot be allocated.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#include <immintrin.h>
#define SEQKIT_VNNI 1
#define I8_BLOCK 16
typedef uint8_t quantized; /* vpdpbusd's unsigned bytes */
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SEQKIT_AVX2 1
#define I8_BLOCK 8
typedef int16_t quantized; /* vpmaddwd's int16 (the values 0..255) */
#else
#define I8_BLOCK 16
typedef uint8_t quantized;
#endif

/* row i of x (k floats) -> u (kp values, the padding 0), its scale and zero point */
static void quantize_row(const float *x, int64_t k, int64_t kp, quantized *u, float *scale, int32_t *zero)
{
    float lo = 0.0f, hi = 0.0f;
    for (int64_t c = 0; c < k; c++) {
        lo = x[c] < lo ? x[c] : lo;
        hi = x[c] > hi ? x[c] : hi;
    }
    float s = (hi - lo) / 255.0f;
    if (!(s > 0.0f) || !isfinite(s)) s = 1.0f;
    float z = nearbyintf(-lo / s);
    z = z < 0.0f ? 0.0f : (z > 255.0f ? 255.0f : z);
    float inv = 1.0f / s;
    for (int64_t c = 0; c < k; c++) {
        float v = nearbyintf(x[c] * inv) + z;
        u[c] = (quantized)(v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v));
    }
    for (int64_t c = k; c < kp; c++) u[c] = 0;
    *scale = s;
    *zero = (int32_t)z;
}

/* out[c] for the I8_BLOCK outputs of block b from their int32 sums */
static inline void finish(const int32_t *acc, int64_t b, int64_t n, float s, int32_t z, const int32_t *rowsum,
                          const float *wscale, const float *bias, int relu, float *out)
{
    for (int64_t l = 0; l < I8_BLOCK; l++) {
        int64_t c = b * I8_BLOCK + l;
        if (c >= n) break;
        float v = (float)(acc[l] - z * rowsum[c]) * (s * wscale[c]) + (bias ? bias[c] : 0.0f);
        out[c] = relu && v < 0.0f ? 0.0f : v;
    }
}

#if defined(SEQKIT_VNNI) || defined(SEQKIT_AVX2)
#define TILE_ROWS 6
/* The sums of a tile: rows x0..x5 (the first R) against the weight vectors w0..w3 (the first NB: 1, 2 or
 * 4), over `steps` steps: at step q, LOAD(w, q) is a vector of weights, BCAST(x, q) row x's operand,
 * MADD(c, x, w) adds their products to c. The accumulators are named (gcc keeps an array of them in
 * registers less reliably), the unused ones optimized away, and gathered in acc[r][j] at the end. */
#define TILE_ROW(x, c0, c1, c2, c3, BCAST, MADD)                                   \
    do {                                                                          \
        __typeof__(c0) xv = BCAST(x, q);                                          \
        c0 = MADD(c0, xv, v0);                                                    \
        if (NB > 1) c1 = MADD(c1, xv, v1);                                        \
        if (NB > 2) {                                                             \
            c2 = MADD(c2, xv, v2);                                                \
            c3 = MADD(c3, xv, v3);                                                \
        }                                                                         \
    } while (0)
#define TILE_SUMS(T, ZERO, steps, LOAD, BCAST, MADD)                                                     \
    T a00 = ZERO, a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00, a20 = a00, \
      a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00, a40 = a00, a41 = a00,  \
      a42 = a00, a43 = a00, a50 = a00, a51 = a00, a52 = a00, a53 = a00;                                   \
    for (int64_t q = 0; q < (steps); q++) {                                                              \
        T v0 = LOAD(w0, q), v1 = v0, v2 = v0, v3 = v0;                                                    \
        if (NB > 1) v1 = LOAD(w1, q);                                                                     \
        if (NB > 2) {                                                                                     \
            v2 = LOAD(w2, q);                                                                             \
            v3 = LOAD(w3, q);                                                                             \
        }                                                                                                 \
        TILE_ROW(x0, a00, a01, a02, a03, BCAST, MADD);                                                    \
        if (R > 1) TILE_ROW(x1, a10, a11, a12, a13, BCAST, MADD);                                         \
        if (R > 2) TILE_ROW(x2, a20, a21, a22, a23, BCAST, MADD);                                         \
        if (R > 3) TILE_ROW(x3, a30, a31, a32, a33, BCAST, MADD);                                         \
        if (R > 4) TILE_ROW(x4, a40, a41, a42, a43, BCAST, MADD);                                         \
        if (R > 5) TILE_ROW(x5, a50, a51, a52, a53, BCAST, MADD);                                         \
    }                                                                                                     \
    T acc[TILE_ROWS][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23},              \
                           {a30, a31, a32, a33}, {a40, a41, a42, a43}, {a50, a51, a52, a53}}

/* every row against one group of blocks, TILE_ROWS rows at a time: the group's weights stay in the
 * first-level cache while the rows pass (TILE(R, NB) calls the tile function with constant R and NB) */
#define TILES(NB)                                                                 \
    do {                                                                          \
        int64_t i = 0;                                                            \
        for (; i + TILE_ROWS <= m; i += TILE_ROWS) TILE(TILE_ROWS, NB);           \
        switch (m - i) {                                                          \
        case 5: TILE(5, NB); break;                                               \
        case 4: TILE(4, NB); break;                                               \
        case 3: TILE(3, NB); break;                                               \
        case 2: TILE(2, NB); break;                                               \
        case 1: TILE(1, NB); break;                                               \
        }                                                                         \
    } while (0)
#endif

#ifdef SEQKIT_VNNI
/* int8: 4 weights of 16 outputs (64 bytes); 4 bytes of a row broadcast; u8 x s8 dot products of 4 */
#define LOAD_I8(w, q) _mm512_loadu_si512((const void *)((w) + (q) * 64))
static inline __m512i bcast_u8x4(const uint8_t *p)
{
    int32_t four;
    memcpy(&four, p, 4);
    return _mm512_set1_epi32(four);
}
#define BCAST_U8X4(x, q) bcast_u8x4((x) + (q) * 4)
/* float32: weight q of 16 outputs; element q of a row broadcast; fused multiply-add */
#define LOAD_F32(w, q) _mm512_loadu_ps((w) + (q) * 16)
#define BCAST_F32(x, q) _mm512_set1_ps((x)[q])
#define FMADD(c, x, w) _mm512_fmadd_ps(x, w, c)

/* rows [i, i + R) of u against blocks [b, b + NB), R x NB accumulators in registers, then their outputs */
static inline __attribute__((always_inline)) void tile(int R, int NB, const uint8_t *u, int64_t i, int64_t kp,
                                                       int64_t k4, const int8_t *packed, int64_t b, int64_t n,
                                                       const float *scale, const int32_t *zero,
                                                       const int32_t *rowsum, const float *wscale,
                                                       const float *bias, int relu, float *out,
                                                       int64_t out_stride)
{
    const int8_t *w0 = packed + b * k4 * 64, *w1 = w0 + k4 * 64, *w2 = w1 + k4 * 64, *w3 = w2 + k4 * 64;
    const uint8_t *x0 = u + i * kp, *x1 = x0 + kp, *x2 = x1 + kp, *x3 = x2 + kp, *x4 = x3 + kp, *x5 = x4 + kp;
    TILE_SUMS(__m512i, _mm512_setzero_si512(), k4, LOAD_I8, BCAST_U8X4, _mm512_dpbusd_epi32);
    for (int j = 0; j < NB; j++) {
        int64_t c = (b + j) * 16; /* the block's first output; rowsum is padded to whole blocks */
        __mmask16 keep = n - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - c)) - 1);
        __m512i sums = _mm512_loadu_si512((const void *)(rowsum + c));
        __m512 ws = _mm512_maskz_loadu_ps(keep, wscale + c);
        __m512 bs = bias ? _mm512_maskz_loadu_ps(keep, bias + c) : _mm512_setzero_ps();
        for (int r = 0; r < R; r++) {
            __m512i centred = _mm512_sub_epi32(acc[r][j], _mm512_mullo_epi32(_mm512_set1_epi32(zero[i + r]), sums));
            __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(centred), _mm512_mul_ps(_mm512_set1_ps(scale[i + r]), ws), bs);
            if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
            _mm512_mask_storeu_ps(out + (i + r) * out_stride + c, keep, v);
        }
    }
}

/* all m rows against blocks [b, b + NB), with the block count NB a constant in each branch */
#define ALL_ROWS()                                                                \
    do {                                                                          \
        if (NB == 4)                                                              \
            TILES(4);                                                             \
        else                                                                      \
            TILES(1);                                                             \
    } while (0)
#define TILE(R, NB) tile(R, NB, u, i, kp, k4, packed, b, n, scale, zero, rowsum, wscale, bias, relu, out, out_stride)
static void block_rows(int NB, int64_t m, const uint8_t *u, int64_t kp, int64_t k4, const int8_t *packed, int64_t b,
                       int64_t n, const float *scale, const int32_t *zero, const int32_t *rowsum,
                       const float *wscale, const float *bias, int relu, float *out, int64_t out_stride)
{
    ALL_ROWS();
}
#undef TILE

/* float32: rows [i, i + R) of x against blocks [b, b + NB) */
static inline __attribute__((always_inline)) void ftile(int R, int NB, const float *x, int64_t x_stride, int64_t i,
                                                        int64_t k, const float *packed, int64_t b, int64_t n,
                                                        const float *bias, int relu, float *out, int64_t out_stride)
{
    const float *w0 = packed + b * k * 16, *w1 = w0 + k * 16, *w2 = w1 + k * 16, *w3 = w2 + k * 16;
    const float *x0 = x + i * x_stride, *x1 = x0 + x_stride, *x2 = x1 + x_stride, *x3 = x2 + x_stride,
                *x4 = x3 + x_stride, *x5 = x4 + x_stride;
    TILE_SUMS(__m512, _mm512_setzero_ps(), k, LOAD_F32, BCAST_F32, FMADD);
    for (int j = 0; j < NB; j++) {
        int64_t c = (b + j) * 16;
        __mmask16 keep = n - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - c)) - 1);
        __m512 bs = bias ? _mm512_maskz_loadu_ps(keep, bias + c) : _mm512_setzero_ps();
        for (int r = 0; r < R; r++) {
            __m512 v = _mm512_add_ps(acc[r][j], bs);
            if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
            _mm512_mask_storeu_ps(out + (i + r) * out_stride + c, keep, v);
        }
    }
}

#define TILE(R, NB) ftile(R, NB, x, x_stride, i, k, packed, b, n, bias, relu, out, out_stride)
static void fblock_rows(int NB, int64_t m, const float *x, int64_t x_stride, int64_t k, const float *packed,
                        int64_t b, int64_t n, const float *bias, int relu, float *out, int64_t out_stride)
{
    ALL_ROWS();
}
#undef TILE
#endif

#ifdef SEQKIT_AVX2
/* lanes [0, count) of 8 all ones: the mask of AVX2's masked loads and stores at a block's ragged end */
static inline __m256i first_lanes(int64_t count)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count < 8 ? count : 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* int8: 4 outputs' 4 weights (16 bytes) widened to int16; a row's 4 values (int16, 8 bytes) broadcast;
 * vpmaddwd's pairs of exact products added to int32 lanes (output o's two pairs in lanes 2o, 2o + 1) */
#define LOAD_I8W(w, q) _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)((w) + (q) * 32)))
static inline __m256i bcast_i16x4(const int16_t *p)
{
    int64_t four;
    memcpy(&four, p, 8);
    return _mm256_set1_epi64x(four);
}
#define BCAST_I16X4(x, q) bcast_i16x4((x) + (q) * 4)
#define MADDWD(c, x, w) _mm256_add_epi32(c, _mm256_madd_epi16(x, w))
/* float32: 8 of weight q's 16 outputs; element q of a row broadcast; fused multiply-add */
#define LOAD_F32H(w, q) _mm256_loadu_ps((w) + (q) * 16)
#define BCAST_F32H(x, q) _mm256_set1_ps((x)[q])
#define FMADDH(c, x, w) _mm256_fmadd_ps(x, w, c)

/* rows [i, i + R) of u against block b (8 outputs: outputs 0-3 in w0's sums, 4-7 in w1's) */
static inline __attribute__((always_inline)) void tile2(int R, int NB, const int16_t *u, int64_t i, int64_t kp,
                                                        int64_t k4, const int8_t *packed, int64_t b, int64_t n,
                                                        const float *scale, const int32_t *zero,
                                                        const int32_t *rowsum, const float *wscale,
                                                        const float *bias, int relu, float *out,
                                                        int64_t out_stride)
{
    const int8_t *w0 = packed + b * k4 * 32, *w1 = w0 + 16, *w2 = w0, *w3 = w0;
    const int16_t *x0 = u + i * kp, *x1 = x0 + kp, *x2 = x1 + kp, *x3 = x2 + kp, *x4 = x3 + kp, *x5 = x4 + kp;
    (void)w2, (void)w3;
    TILE_SUMS(__m256i, _mm256_setzero_si256(), k4, LOAD_I8W, BCAST_I16X4, MADDWD);
    int64_t c = b * 8;
    __m256i keep = first_lanes(n - c);
    __m256i sums = _mm256_loadu_si256((const __m256i *)(rowsum + c)); /* padded to whole blocks */
    __m256 ws = _mm256_maskload_ps(wscale + c, keep);
    __m256 bs = bias ? _mm256_maskload_ps(bias + c, keep) : _mm256_setzero_ps();
    for (int r = 0; r < R; r++) {
        /* lanes (o0, o1, o4, o5 | o2, o3, o6, o7) after the pairwise add; then in output order */
        __m256i total = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xD8);
        __m256i centred = _mm256_sub_epi32(total, _mm256_mullo_epi32(_mm256_set1_epi32(zero[i + r]), sums));
        __m256 v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(centred), _mm256_mul_ps(_mm256_set1_ps(scale[i + r]), ws), bs);
        if (relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
        _mm256_maskstore_ps(out + (i + r) * out_stride + c, keep, v);
    }
}

#define TILE(R, NB) tile2(R, NB, u, i, kp, k4, packed, b, n, scale, zero, rowsum, wscale, bias, relu, out, out_stride)
static void block_rows2(int64_t m, const int16_t *u, int64_t kp, int64_t k4, const int8_t *packed, int64_t b,
                        int64_t n, const float *scale, const int32_t *zero, const int32_t *rowsum,
                        const float *wscale, const float *bias, int relu, float *out, int64_t out_stride)
{
    TILES(2);
}
#undef TILE

/* float32: rows [i, i + R) of x against block b (16 outputs, two vectors) */
static inline __attribute__((always_inline)) void ftile2(int R, int NB, const float *x, int64_t x_stride, int64_t i,
                                                         int64_t k, const float *packed, int64_t b, int64_t n,
                                                         const float *bias, int relu, float *out,
                                                         int64_t out_stride)
{
    const float *w0 = packed + b * k * 16, *w1 = w0 + 8, *w2 = w0, *w3 = w0;
    const float *x0 = x + i * x_stride, *x1 = x0 + x_stride, *x2 = x1 + x_stride, *x3 = x2 + x_stride,
                *x4 = x3 + x_stride, *x5 = x4 + x_stride;
    (void)w2, (void)w3;
    TILE_SUMS(__m256, _mm256_setzero_ps(), k, LOAD_F32H, BCAST_F32H, FMADDH);
    for (int j = 0; j < NB; j++) {
        int64_t c = b * 16 + j * 8;
        if (c >= n) break;
        __m256i keep = first_lanes(n - c);
        __m256 bs = bias ? _mm256_maskload_ps(bias + c, keep) : _mm256_setzero_ps();
        for (int r = 0; r < R; r++) {
            __m256 v = _mm256_add_ps(acc[r][j], bs);
            if (relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
            _mm256_maskstore_ps(out + (i + r) * out_stride + c, keep, v);
        }
    }
}

#define TILE(R, NB) ftile2(R, NB, x, x_stride, i, k, packed, b, n, bias, relu, out, out_stride)
static void fblock_rows2(int64_t m, const float *x, int64_t x_stride, int64_t k, const float *packed, int64_t b,
                         int64_t n, const float *bias, int relu, float *out, int64_t out_stride)
{
    TILES(2);
}
#undef TILE
#endif

/* 2 when this build has the AVX512-VNNI loops, 1 the AVX2 ones (seqkit uses the kernels only then), 0 the
 * plain C ones */
int linear_kernel_simd(void)
{
#if defined(SEQKIT_VNNI)
    return 2;
#elif defined(SEQKIT_AVX2)
    return 1;
#else
    return 0;
#endif
}

/* the outputs per block of int8_linear's packed weight (the header) */
int linear_kernel_int8_block(void)
{
    return I8_BLOCK;
}

int int8_linear(int64_t m, int64_t n, int64_t k, const float *x, int64_t x_stride, const int8_t *packed,
                const int32_t *rowsum, const float *wscale, const float *bias, int relu, float *out,
                int64_t out_stride)
{
    int64_t k4 = (k + 3) / 4, kp = k4 * 4, blocks = (n + I8_BLOCK - 1) / I8_BLOCK;
    quantized *u = malloc(sizeof(quantized) * (size_t)(m * kp) + 64);
    float *scale = malloc(sizeof(float) * (size_t)(m > 0 ? m : 1));
    int32_t *zero = malloc(sizeof(int32_t) * (size_t)(m > 0 ? m : 1));
    if (!u || !scale || !zero) {
        free(u); free(scale); free(zero);
        return -1;
    }
    for (int64_t i = 0; i < m; i++) quantize_row(x + i * x_stride, k, kp, u + i * kp, scale + i, zero + i);
#if defined(SEQKIT_VNNI)
    for (int64_t b = 0; b < blocks;) {
        int NB = blocks - b >= 4 ? 4 : 1;
        block_rows(NB, m, u, kp, k4, packed, b, n, scale, zero, rowsum, wscale, bias, relu, out, out_stride);
        b += NB;
    }
#elif defined(SEQKIT_AVX2)
    for (int64_t b = 0; b < blocks; b++)
        block_rows2(m, u, kp, k4, packed, b, n, scale, zero, rowsum, wscale, bias, relu, out, out_stride);
#else
    int32_t sums[I8_BLOCK];
    for (int64_t i = 0; i < m; i++)
        for (int64_t b = 0; b < blocks; b++) {
            const int8_t *w = packed + b * k4 * 4 * I8_BLOCK;
            for (int l = 0; l < I8_BLOCK; l++) sums[l] = 0;
            for (int64_t q = 0; q < k4; q++)
                for (int l = 0; l < I8_BLOCK; l++) {
                    int32_t t = 0;
                    for (int e = 0; e < 4; e++)
                        t += (int32_t)u[i * kp + q * 4 + e] * (int32_t)w[(q * I8_BLOCK + l) * 4 + e];
                    sums[l] += t;
                }
            finish(sums, b, n, scale[i], zero[i], rowsum, wscale, bias, relu, out + i * out_stride);
        }
#endif
    free(u); free(scale); free(zero);
    return 0;
}

int f32_linear(int64_t m, int64_t n, int64_t k, const float *x, int64_t x_stride, const float *packed,
               const int32_t *rowsum, const float *wscale, const float *bias, int relu, float *out,
               int64_t out_stride)
{
    (void)rowsum;
    (void)wscale;
    int64_t blocks = (n + 15) / 16;
#if defined(SEQKIT_VNNI)
    for (int64_t b = 0; b < blocks;) {
        int NB = blocks - b >= 4 ? 4 : 1;
        fblock_rows(NB, m, x, x_stride, k, packed, b, n, bias, relu, out, out_stride);
        b += NB;
    }
#elif defined(SEQKIT_AVX2)
    for (int64_t b = 0; b < blocks; b++) fblock_rows2(m, x, x_stride, k, packed, b, n, bias, relu, out, out_stride);
#else
    for (int64_t i = 0; i < m; i++)
        for (int64_t b = 0; b < blocks; b++)
            for (int l = 0; l < 16 && b * 16 + l < n; l++) {
                const float *w = packed + b * k * 16 + l;
                float v = bias ? bias[b * 16 + l] : 0.0f;
                for (int64_t q = 0; q < k; q++) v += x[i * x_stride + q] * w[q * 16];
                out[i * out_stride + b * 16 + l] = relu && v < 0.0f ? 0.0f : v;
            }
#endif
    return 0;
}
