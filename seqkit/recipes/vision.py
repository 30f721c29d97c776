"""The vision recipe stages: train a CNN through the shared trainer, then report its test accuracy.

Recipes ``vision_lenet`` and ``vision_resnet`` list these stages:

==================  ==============================================================================
``vision.train``    loads the images (``data.name``: ``digits`` offline, ``fashion-mnist`` or ``mnist``
                    from IDX files), resizes and standardizes them, builds ``model.name``, trains it
                    with a :mod:`seqkit.optim` optimizer through :class:`~seqkit.train.Trainer`
                    (``train/metrics.jsonl``, ``train/curves.png``: loss, train/test accuracy,
                    images/s) -> the model folder ``model/`` (``model.safetensors``, ``model.json``)
``vision.evaluate`` reloads the saved model, measures train and test accuracy -> ``scores.json`` and
                    the line ``test acc 0.98xx``
==================  ==============================================================================
"""

from __future__ import annotations

import shutil

import torch

from seqkit.errors import SeqkitError
from seqkit.io import atomic_dir, load_json, save_json
from seqkit.recipes.pipeline import Run, stage
from seqkit.settings import problems
from seqkit.train import load_weights, save_weights
from seqkit.vision.data import ImageData, load_images
from seqkit.vision.models import build_model
from seqkit.vision.shapes import count_params
from seqkit.vision.training import evaluate, init_cnn, train_classifier


def check(cfg: dict) -> list[str]:
    """Every bad value of a vision recipe's config, one line each."""
    from seqkit.vision.data import ImageDataConfig
    from seqkit.vision.models import MODELS
    from seqkit.vision.training import ClassifierTrainConfig

    found = problems(ImageDataConfig, cfg.get("data"), "data")
    found += problems(ClassifierTrainConfig, cfg.get("train"), "train")
    model = cfg.get("model") or {}
    if model.get("name") not in MODELS:
        found.append(f"model.name: must be one of {', '.join(MODELS)}, got {model.get('name')!r}")
    if model.get("width") is not None and not model["width"] > 0:
        found.append(f"model.width: must be > 0, got {model['width']!r}")
    return found


def _data(run: Run) -> ImageData:
    d = run.cfg.data
    return load_images(d.name, resolution=d.resolution, standardize=bool(d.standardize), root=d.root,
                       download=bool(d.download), seed=int(run.cfg.seed or 0), test_fraction=float(d.test_fraction))


def _model_options(run: Run) -> dict:
    return {k: v for k, v in run.cfg.model.items() if k != "name" and v is not None}


@stage("vision.train", uses=("data", "model", "train"), distributed=True, check=check)
def train_stage(run: Run) -> dict:
    """Train model.name on data.name with the shared Trainer; save the final weights."""
    cfg, tcfg = run.cfg, run.cfg.train
    data = _data(run)
    c, h, w = data.image_shape
    seed = int(cfg.seed or 0)
    torch.manual_seed(seed)
    model = init_cnn(build_model(cfg.model.name, in_channels=c, num_classes=data.num_classes, resolution=(h, w),
                                 **_model_options(run)))
    n_params = count_params(model)
    run.log(f"{cfg.model.name}: {n_params:,} parameters; {len(data.X_train):,} training and "
            f"{len(data.X_test):,} test images of {c}x{h}x{w}")
    train_dir = run.path("train")
    if not cfg.get("resume") and train_dir.exists() and run.is_main:
        shutil.rmtree(train_dir)  # a fresh run: no stale checkpoints or metrics
    opt_options = {"weight_decay": float(tcfg.weight_decay)} if tcfg.weight_decay else {}
    result = train_classifier(model, data, epochs=int(tcfg.epochs), batch_size=int(tcfg.batch_size),
                              optimizer=tcfg.optimizer, lr=float(tcfg.lr), optimizer_options=opt_options,
                              schedule=tcfg.schedule, warmup=int(tcfg.warmup), lr_factor=float(tcfg.lr_factor),
                              milestones=list(tcfg.milestones) if tcfg.milestones else None,
                              run_dir=train_dir, device=run.device, seed=seed, progress=bool(tcfg.progress),
                              resume=bool(cfg.get("resume")))
    if run.is_main:
        with atomic_dir(run.path("model"), "model") as folder:  # weights and their description, whole
            save_weights(folder / "model.safetensors", model.state_dict())
            save_json(folder / "model.json", {"name": cfg.model.name, "in_channels": c,
                                              "num_classes": data.num_classes, "resolution": [h, w],
                                              "options": _model_options(run)})
    run.log(f"loss {result['train_loss']:.3f}, train acc {result['train_acc']:.3f}, "
            f"test acc {result['test_acc']:.3f}; {result['examples_per_s']:,.0f} examples/s, "
            f"{result['seconds']:.1f}s")
    run.log_metrics({"train_acc": result["train_acc"], "test_acc": result["test_acc"],
                     "examples_per_s": round(result["examples_per_s"], 1)})
    return {**result, "parameters": n_params, "files": ["model/model.safetensors", "model/model.json"]}


@stage("vision.evaluate", uses=("data", "model", "train"))
def evaluate_stage(run: Run) -> dict:
    """Reload the trained model and report its train and test accuracy -> scores.json."""
    info = load_json(run.path("model/model.json"))
    try:
        model = build_model(info["name"], in_channels=info["in_channels"], num_classes=info["num_classes"],
                            resolution=tuple(info["resolution"]), **info["options"])
    except (KeyError, TypeError) as exc:
        raise SeqkitError(f"model.json lacks or mistypes {exc}", path=run.path("model/model.json"),
                          fix="re-run the train stage (force=true)") from None
    model.load_state_dict(load_weights(run.path("model/model.safetensors")))
    data = _data(run)
    train, test = evaluate(model, data.X_train, data.y_train), evaluate(model, data.X_test, data.y_test)
    scores = {"train_acc": train["acc"], "test_acc": test["acc"], "test_loss": test["loss"],
              "test_images": len(data.X_test)}
    save_json(run.path("scores.json"), scores)
    run.log(f"train acc {train['acc']:.4f}")
    run.log(f"test acc {test['acc']:.4f}")
    run.log_metrics({"test_acc": test["acc"]})
    return {**scores, "files": ["scores.json"]}
