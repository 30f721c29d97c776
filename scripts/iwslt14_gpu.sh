#!/usr/bin/env bash
# IWSLT14 de->en on one GPU with fairseq's transformer_iwslt_de_en shape (recipes/nmt_iwslt14.yaml).
#
#   bash scripts/iwslt14_gpu.sh DATA_DIR [RUN_DIR] [extra key=value overrides ...]
#
# DATA_DIR holds {train,valid,test}.{de,en}: the tokenized, lowercased text fairseq's
# examples/translation/prepare-iwslt14.sh leaves in iwslt14.tokenized.de-en/tmp/ (before its BPE).
# What it runs: bf16 autocast, 8,192-token batches (fairseq's example uses 4,096 on one GPU with
# --update-freq; seqkit's token budget counts source + target), validation every 2,000 updates, the
# mean of the 3 best checkpoints as the model, beam 5. It prints the test scores at the end: sacreBLEU's
# and the tokenized BLEU papers report (the published fairseq figure for this shape is about 34-35 on
# this test set, tokenized, lowercased). Not yet run by the project on a GPU (no session had one).
set -euo pipefail
data_dir=${1:?usage: bash scripts/iwslt14_gpu.sh DATA_DIR [RUN_DIR] [key=value ...]}
run_dir=${2:-runs/nmt_iwslt14/gpu-$(date +%Y%m%d-%H%M%S)}
shift $(( $# >= 2 ? 2 : 1 ))
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: this script is for a GPU machine')"
for split in train valid test; do
    for lang in de en; do
        [[ -s "$data_dir/$split.$lang" ]] || { echo "missing $data_dir/$split.$lang (see the header of this script)" >&2; exit 2; }
    done
done
seqkit recipe run nmt_iwslt14 "data.dir=$data_dir" "run_dir=$run_dir" device=cuda train.amp=bf16 \
    train.max_tokens=8192 train.max_time=null "$@"
python - "$run_dir" <<'PY'
import json, sys
s = json.load(open(f"{sys.argv[1]}/scores.json"))
print(f"sacreBLEU {s['bleu']} ({s['bleu_signature']})")
print(f"tokenized BLEU {s.get('bleu_tokenized')} cased, {s.get('bleu_tokenized_lc')} lowercased ({s.get('bleu_tokenized_signature')})")
PY
