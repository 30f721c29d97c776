/* Greedy token-budget batching (seqkit/data/parallel_batches.py, ParallelBatches._chunk).
 * Rows come in planning order; a batch of k rows costs k * (max src + max tgt) ("src+tgt") or
 * k * max tgt ("tgt"). A row that would push the batch over max_tokens starts the next batch
 * (a batch always takes at least one row). Writes the start of every batch into starts and
 * returns how many batches there are. Lengths are int32 (ParallelBatches keeps them so). */
#include <stdint.h>

int64_t chunk_by_tokens(const int32_t *src, const int32_t *tgt, int64_t n, int64_t max_tokens,
                        int tgt_only, int64_t *starts) {
    int64_t n_batches = 0, begin = 0, max_s = 0, max_t = 0;
    if (n == 0) return 0;
    starts[n_batches++] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t s = src[i] > max_s ? src[i] : max_s;
        int64_t t = tgt[i] > max_t ? tgt[i] : max_t;
        int64_t cost = (i - begin + 1) * (tgt_only ? t : s + t);
        if (cost > max_tokens && i > begin) {
            starts[n_batches++] = i;
            begin = i;
            s = src[i];
            t = tgt[i];
        }
        max_s = s;
        max_t = t;
    }
    return n_batches;
}
