"""The vision chapters: CNNs from LeNet to DenseNet, convolution and batch norm from scratch,
shapes and sizes, the course's basics, image data on plain torch, training through the shared trainer.

Optimizers from scratch are in :mod:`seqkit.optim`.
"""

from seqkit.vision.basics import (
    MLPScratch,
    cross_entropy,
    dropout_layer,
    k_fold,
    k_fold_split,
    log_softmax,
    polynomial_data,
    softmax,
    synthetic_data,
    train_linreg,
)
from seqkit.vision.batchnorm import BatchNorm, batch_norm
from seqkit.vision.conv import Conv2D, conv2d, corr2d, corr2d_multi_in, corr2d_multi_in_out, pool2d
from seqkit.vision.data import (
    ImageBatches,
    ImageData,
    load_digits,
    load_idx_dataset,
    load_images,
    read_idx,
    resize,
)
from seqkit.vision.models import MODELS, build_model
from seqkit.vision.shapes import count_params, receptive_field, summary
from seqkit.vision.training import classify_step, evaluate, train_classifier

__all__ = [
    "MLPScratch", "cross_entropy", "dropout_layer", "k_fold", "k_fold_split", "log_softmax", "polynomial_data", "softmax",
    "synthetic_data", "train_linreg", "BatchNorm", "batch_norm", "Conv2D", "conv2d", "corr2d",
    "corr2d_multi_in", "corr2d_multi_in_out", "pool2d", "ImageBatches", "ImageData", "load_digits",
    "load_idx_dataset", "load_images", "read_idx", "resize", "MODELS", "build_model", "count_params",
    "receptive_field", "summary", "classify_step", "evaluate", "train_classifier",
]
