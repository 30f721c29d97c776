"""Shapes and sizes: conv/pool output sizes, parameter counts, receptive fields, a layer summary.

These are the numbers the chapters work out by hand (a 3x256x256 image into a 1000-unit dense layer
costs 196,609,000 parameters; d2l's LeNet has 61,706), computed from the model itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import torch
from torch import nn

from seqkit.errors import SeqkitError

_POOLS = (nn.MaxPool2d, nn.AvgPool2d)


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a conv/pool along one axis: floor((n + 2p - d(k - 1) - 1) / s) + 1."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise SeqkitError(f"a kernel of {kernel} (padding {padding}) does not fit an input of {size}",
                          fix="use a larger input resolution, more padding or a smaller kernel")
    return out


def layer_output_shape(layer: nn.Module, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Output (C, H, W) of one Conv2d / MaxPool2d / AvgPool2d for an input (C, H, W), by the formula."""
    c, h, w = shape
    if isinstance(layer, nn.Conv2d):
        (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.stride, layer.dilation
        ph, pw = _pair(layer.padding) if not isinstance(layer.padding, str) else ((kh - 1) // 2, (kw - 1) // 2)
        return (layer.out_channels, conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw))
    if isinstance(layer, _POOLS):
        (kh, kw), (sh, sw), (ph, pw) = (_pair(layer.kernel_size), _pair(layer.stride or layer.kernel_size),
                                         _pair(layer.padding))
        return (c, conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw))
    raise SeqkitError(f"no output-shape formula for {type(layer).__name__}")


def count_params(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters in ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def dense_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """Parameters of a fully connected layer: n_in * n_out weights (+ n_out biases)."""
    return n_in * n_out + (n_out if bias else 0)


def conv_params(c_in: int, c_out: int, kernel: int | tuple[int, int], bias: bool = True) -> int:
    """Parameters of a Conv2d: c_out * c_in * kh * kw weights (+ c_out biases)."""
    kh, kw = _pair(kernel)
    return c_out * c_in * kh * kw + (c_out if bias else 0)


def multihead_attention_weights(num_heads: int, head_dim: int) -> int:
    """Weights of multi-head attention with per-head d x d query/key/value maps and an hd x d output.

    Each of the h heads has three d x d matrices (3hd^2), and the output projection maps the
    concatenated hd features back to d (hd^2): 4hd^2 in all.
    """
    return 3 * num_heads * head_dim * head_dim + num_heads * head_dim * head_dim


def receptive_field(layers: Iterable[nn.Module | tuple[int, int]]) -> int:
    """Receptive field (in input pixels, along one axis) of the last layer of a chain.

    ``layers`` are Conv2d / pooling modules or ``(kernel, stride)`` pairs, in order. Each layer widens
    the field by (k - 1) times the product of the strides before it (the "jump"); other layers
    (activations, norms) leave it unchanged. Two stacked 3x3 convolutions see 5x5.
    """
    field, jump = 1, 1
    for layer in layers:
        if isinstance(layer, tuple):
            kernel, stride = layer
        elif isinstance(layer, nn.Conv2d):
            kernel = (layer.kernel_size[0] - 1) * layer.dilation[0] + 1
            stride = layer.stride[0]
        elif isinstance(layer, _POOLS):
            kernel = _pair(layer.kernel_size)[0]
            stride = _pair(layer.stride or layer.kernel_size)[0]
        elif isinstance(layer, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten, nn.Linear)):
            return -1  # the whole input from here on: no finite local field to report
        else:
            continue
        field += (kernel - 1) * jump
        jump *= stride
    return field


def _chain(model: nn.Module) -> list[tuple[str, nn.Module]] | None:
    """The leaf layers of a model made only of nested ``nn.Sequential``, in order; None otherwise."""
    out: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, module: nn.Module) -> bool:
        children = list(module.named_children())
        if not children:
            out.append((prefix, module))
            return True
        if not isinstance(module, nn.Sequential):
            return False
        return all(walk(f"{prefix}.{name}" if prefix else name, child) for name, child in children)

    return out if walk("", model) else None


@dataclasses.dataclass
class LayerInfo:
    """One row of :func:`summary`: a layer, its output shape, parameters and receptive field."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    receptive_field: int | None = None


@dataclasses.dataclass
class Summary:
    """What :func:`summary` measured; ``str(summary)`` is the printed table with a total line."""

    rows: list[LayerInfo]
    total_params: int
    input_shape: tuple[int, ...]

    def __str__(self) -> str:
        show_rf = any(r.receptive_field is not None for r in self.rows)
        header = ["layer", "type", "output shape", "params"] + (["receptive field"] if show_rf else [])
        table = [header]
        for r in self.rows:
            row = [r.name, r.kind, "x".join(map(str, r.output_shape)), f"{r.params:,}"]
            if show_rf:
                rf = r.receptive_field
                row.append("" if rf is None else ("all" if rf < 0 else f"{rf}x{rf}"))
            table.append(row)
        total = ["total", "", "x".join(map(str, self.input_shape)) + " in", f"{self.total_params:,}"]
        total += [""] * (len(header) - len(total))
        widths = [max(len(row[i]) for row in table + [total]) for i in range(len(header))]
        right = {3}

        def fmt(row: list[str]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(row, widths))).rstrip()

        rule = "-" * len(fmt(header))
        return "\n".join([fmt(header), rule, *map(fmt, table[1:]), rule, fmt(total)])


def summary(model: nn.Module, input_shape: tuple[int, ...]) -> Summary:
    """Run one dummy example of ``input_shape`` (C, H, W) through ``model`` and tabulate its layers.

    A row is each leaf module (or each top-level block, for models that branch, such as Inception
    or residual blocks) with its output shape (batch dimension dropped) and its parameter count.
    The receptive-field column is filled for plain chains of layers (LeNet, AlexNet, VGG, NiN).
    """
    chain = _chain(model)
    if chain is not None:
        targets = chain
    else:  # a branching model: one row per top-level block, descending into Sequentials
        targets = []

        def collect(prefix: str, module: nn.Module) -> None:
            for name, child in module.named_children():
                full = f"{prefix}.{name}" if prefix else name
                if isinstance(child, nn.Sequential):
                    collect(full, child)
                else:
                    targets.append((full, child))

        collect("", model)
    shapes: dict[int, tuple[int, ...]] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, key=id(m): shapes.__setitem__(key, tuple(out.shape[1:])))
             for _, m in targets]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    except RuntimeError as exc:
        raise SeqkitError(f"input {'x'.join(map(str, input_shape))} does not fit the model: {exc}".splitlines()[0],
                          fix="check the channels and use a larger resolution") from None
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    rows, seen = [], []
    for name, module in targets:
        if id(module) not in shapes:
            continue
        seen.append(module)
        rf = receptive_field(m for _, m in chain[:chain.index((name, module)) + 1]) if chain is not None else None
        rows.append(LayerInfo(name, type(module).__name__, shapes[id(module)], count_params(module), rf))
    return Summary(rows, count_params(model), tuple(input_shape))
