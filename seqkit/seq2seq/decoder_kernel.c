/* One incremental step of a pre-norm Transformer decoder, every layer in one call
 * (seqkit.seq2seq.decoder_kernel compiles this at first use through seqkit.native and calls it through ctypes).
 *
 * At one sentence's beam (five rows), a step of the 3-layer base model is some 700 small torch operations
 * whose dispatch from Python costs more than their arithmetic. This file strings the same arithmetic
 * together in C: the products are linear_kernel.c's int8_linear or f32_linear and the attention is
 * attention_kernel.c's decode_attention and memory_attention, called through the function pointers
 * Python hands over (each file is compiled on its own), so the numbers are those of the Python path up
 * to the layer norms' float rounding (tests/seq2seq/test_decoder_kernel.py).
 *
 * For each layer l, with x (n x d) the rows' residual stream (updated in place):
 *   x += W_o  self_attention(W_qkv LN_0(x))          (writes the new keys and values into the cache)
 *   x += W_o' cross_attention(W_q LN_1(x), memory)    (the `group` rows of a sentence share its memory)
 *   x += W_2  relu(W_1 LN_2(x))
 * then x = LN_final(x). LayerNorm: (x - mean) / sqrt(biased variance + eps) * weight + bias.
 *
 * decoder_log_probs adds the step's two ends, where Python would dispatch another twenty operations: before the
 * stack, x_i = E[t_i] * sqrt(d) + P[pos] (E the embedding table, float32 or int8 rows times their scales, P the
 * sinusoids); after it, the output projection (the same linear kernels) and a log-softmax over each row,
 * written over the logits: v - (max + log sum exp(v - max)).
 * Written for seqkit from the Transformer's definition (Vaswani et al. 2017; pre-norm: Xiong et al. 2020).
 * Returns 0, or a kernel's nonzero code (scratch memory could not be allocated).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int (*linear_fn)(int64_t m, int64_t n, int64_t k, const float *x, int64_t x_stride, const void *packed,
                         const int32_t *rowsum, const float *wscale, const float *bias, int relu, float *out,
                         int64_t out_stride);
typedef int (*self_fn)(int64_t n, int64_t heads, int64_t dh, int64_t t, const float *qkv, int64_t qkv_stride,
                       float *cache, int64_t row_stride, int64_t pos_stride, int64_t v_offset, const int32_t *origin,
                       int64_t origin_stride, float *out, int64_t out_stride, float scale);
typedef int (*cross_fn)(int64_t sentences, int64_t group, int64_t heads, int64_t dh, const float *q, int64_t q_stride,
                        const float *k, const float *v, int64_t s_stride, int64_t h_stride, int64_t p_stride,
                        const int64_t *lengths, float *out, int64_t out_stride, float scale);

/* a Linear as linear_kernel.py's SmallRows (int8) or SmallRowsF32 holds it, with its kernel */
typedef struct {
    linear_fn fn;
    const void *packed;
    const int32_t *rowsum;
    const float *scales, *bias;
    int64_t out_features, in_features;
    int64_t relu;
} Linear;

/* a decoder layer: its three norms, six Linears and this step's memory keys and values */
typedef struct {
    const float *norm_weight[3], *norm_bias[3];
    Linear qkv, self_out, cross_q, cross_out, ff1, ff2;
    const float *memory_k, *memory_v;
    int64_t memory_strides[3]; /* sentence, head, position (floats) */
} Layer;

typedef struct {
    self_fn self_attention;
    cross_fn cross_attention;
    int64_t layers, d, heads, ff;
    float eps;
    const Layer *layer;
    const float *final_weight, *final_bias;
    /* the ends (decoder_log_probs) */
    const void *embed_rows;    /* (vocab, d): int8 rows times embed_scales (one per row), or float32 (scales NULL) */
    const float *embed_scales;
    int64_t vocab;
    float embed_multiplier;    /* sqrt(d) */
    const float *positions;    /* (max_positions, d) */
    int64_t max_positions;
    Linear projection;         /* d -> its out_features */
} Decoder;

static void layer_norm(int64_t n, int64_t d, const float *x, const float *w, const float *b, float eps, float *y)
{
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * d;
        float mean = 0.0f, var = 0.0f;
        for (int64_t c = 0; c < d; c++) mean += row[c];
        mean /= (float)d;
        for (int64_t c = 0; c < d; c++) var += (row[c] - mean) * (row[c] - mean);
        float inv = 1.0f / sqrtf(var / (float)d + eps);
        for (int64_t c = 0; c < d; c++) y[i * d + c] = (row[c] - mean) * inv * w[c] + b[c];
    }
}

static int apply(const Decoder *dec, const Linear *lin, int64_t n, const float *x, float *out)
{
    return lin->fn(n, lin->out_features, lin->in_features, x, lin->in_features, lin->packed, lin->rowsum,
                       lin->scales, lin->bias, (int)lin->relu, out, lin->out_features);
}

static void add(int64_t count, float *x, const float *y)
{
    for (int64_t c = 0; c < count; c++) x[c] += y[c];
}

/* n rows (sentences x group) at position pos; cache: this step's KVCache (slots x capacity x layers x 2 x d),
 * strides in floats; lengths (sentences,) the memory's real positions */
int decoder_step(const Decoder *dec, int64_t n, int64_t group, float *x, int64_t pos, float *cache,
                 int64_t cache_row_stride, int64_t cache_pos_stride, int64_t cache_layer_stride,
                 int64_t cache_v_offset, const int32_t *origin, int64_t origin_stride, const int64_t *lengths,
                 float *out)
{
    int64_t d = dec->d, dh = d / dec->heads, wide = 3 * d > dec->ff ? 3 * d : dec->ff;
    float *h = malloc(sizeof(float) * (size_t)(n * d)), *a = malloc(sizeof(float) * (size_t)(n * d));
    float *big = malloc(sizeof(float) * (size_t)(n * wide)), *o = malloc(sizeof(float) * (size_t)(n * d));
    int code = (h && a && big && o) ? 0 : -1;
    float scale = 1.0f / sqrtf((float)dh);
    for (int64_t l = 0; l < dec->layers && !code; l++) {
        const Layer *L = dec->layer + l;
        layer_norm(n, d, x, L->norm_weight[0], L->norm_bias[0], dec->eps, h);
        if ((code = apply(dec, &L->qkv, n, h, big))) break;
        if ((code = dec->self_attention(n, dec->heads, dh, pos, big, 3 * d, cache + l * cache_layer_stride,
                                        cache_row_stride, cache_pos_stride, cache_v_offset, origin, origin_stride,
                                        a, d, scale)))
            break;
        if ((code = apply(dec, &L->self_out, n, a, o))) break;
        add(n * d, x, o);
        layer_norm(n, d, x, L->norm_weight[1], L->norm_bias[1], dec->eps, h);
        if ((code = apply(dec, &L->cross_q, n, h, big))) break;
        if ((code = dec->cross_attention(n / group, group, dec->heads, dh, big, d, L->memory_k, L->memory_v,
                                         L->memory_strides[0], L->memory_strides[1], L->memory_strides[2], lengths,
                                         a, d, scale)))
            break;
        if ((code = apply(dec, &L->cross_out, n, a, o))) break;
        add(n * d, x, o);
        layer_norm(n, d, x, L->norm_weight[2], L->norm_bias[2], dec->eps, h);
        if ((code = apply(dec, &L->ff1, n, h, big))) break;
        if ((code = apply(dec, &L->ff2, n, big, o))) break;
        add(n * d, x, o);
    }
    if (!code) layer_norm(n, d, x, dec->final_weight, dec->final_bias, dec->eps, out);
    free(h); free(a); free(big); free(o);
    return code;
}

/* row i of log_probs (count numbers): v - (max + log sum exp(v - max)), in place */
static void log_softmax_row(int64_t count, float *v)
{
    float top = -INFINITY;
    for (int64_t c = 0; c < count; c++) top = v[c] > top ? v[c] : top;
    float sum = 0.0f;
    for (int64_t c = 0; c < count; c++) sum += expf(v[c] - top);
    float norm = top + logf(sum);
    for (int64_t c = 0; c < count; c++) v[c] -= norm;
}

/* the whole step from the previous tokens (n,) to the next token's log-probabilities (n x projection's outputs);
 * the other arguments as decoder_step's. Returns -2 for a token outside the table or a position past the
 * sinusoids (the caller checks both first), else decoder_step's code. */
int decoder_log_probs(const Decoder *dec, int64_t n, int64_t group, const int64_t *tokens, int64_t pos, float *cache,
                      int64_t cache_row_stride, int64_t cache_pos_stride, int64_t cache_layer_stride,
                      int64_t cache_v_offset, const int32_t *origin, int64_t origin_stride, const int64_t *lengths,
                      float *log_probs)
{
    int64_t d = dec->d, vocab_out = dec->projection.out_features;
    if (pos < 0 || pos >= dec->max_positions) return -2;
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= dec->vocab) return -2;
    float *x = malloc(sizeof(float) * (size_t)(n * d)), *h = malloc(sizeof(float) * (size_t)(n * d));
    int code = (x && h) ? 0 : -1;
    const float *p = dec->positions + pos * d;
    for (int64_t i = 0; i < n && !code; i++) {
        if (dec->embed_scales) {
            const int8_t *row = (const int8_t *)dec->embed_rows + tokens[i] * d;
            float s = dec->embed_scales[tokens[i]];
            for (int64_t c = 0; c < d; c++) x[i * d + c] = (float)row[c] * s * dec->embed_multiplier + p[c];
        } else {
            const float *row = (const float *)dec->embed_rows + tokens[i] * d;
            for (int64_t c = 0; c < d; c++) x[i * d + c] = row[c] * dec->embed_multiplier + p[c];
        }
    }
    if (!code)
        code = decoder_step(dec, n, group, x, pos, cache, cache_row_stride, cache_pos_stride, cache_layer_stride,
                            cache_v_offset, origin, origin_stride, lengths, h);
    if (!code) code = apply(dec, &dec->projection, n, h, log_probs);
    for (int64_t i = 0; i < n && !code; i++) log_softmax_row(vocab_out, log_probs + i * vocab_out);
    free(x); free(h);
    return code;
}
