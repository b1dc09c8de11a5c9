"""11. The model summary: each layer's output shape and parameter count, as a table
and as a flow chart of boxes with shapes (seed 002 asks for such a diagram)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

from aelab.analysis.base import Analysis, AnalysisResult, Table, register_analysis
from aelab.analysis.figures import figure
from aelab.models.layers import ACTIVATION_TYPES


def leaves(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules without children, in definition order: the layers a summary lists."""
    return [(n, m) for n, m in module.named_modules() if not list(m.children())]


@dataclass
class Layer:
    part: str  # encoder / decoder
    name: str
    kind: str
    shape: tuple[int, ...]
    params: int


def describe(m: nn.Module) -> str:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        k, s = m.kernel_size, m.stride
        return f"{type(m).__name__} {k[0]}x{k[1]}" + (f" /{s[0]}" if s[0] > 1 else "") + f", {m.out_channels} ch"
    if isinstance(m, nn.Linear):
        return f"Linear {m.in_features}→{m.out_features}"
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        return f"{type(m).__name__} {m.kernel_size}"
    return type(m).__name__


@torch.inference_mode()
def trace(model, input_shape, device) -> list[Layer]:
    """Layers in the order they run for one input: encode, then decode."""
    layers: list[Layer] = []
    part = ["encoder"]

    def hook(name):
        def record(m, _inputs, out):
            if isinstance(out, torch.Tensor):
                layers.append(Layer(part[0], name, describe(m), tuple(out.shape[1:]), sum(p.numel() for p in m.parameters())))
        return record

    hooks = [m.register_forward_hook(hook(n)) for n, m in leaves(model)]
    try:
        model.eval()
        z = model.encode(torch.zeros(1, *input_shape, device=device))
        part[0] = "decoder"
        model.decode(z)
    finally:
        for h in hooks:
            h.remove()
    return layers


def off_the_path(model: nn.Module, traced: list[Layer]) -> list[Layer]:
    """Parameters that encode-then-decode never runs (a VAE's log-variance head, a learned
    sigma): listed too, so the parts add up to the model's total."""
    seen = {layer.name for layer in traced}
    part = lambda name: next((p for p in ("encoder", "decoder") if name.startswith(p)), "other")  # noqa: E731
    out = [Layer(part(n), n, f"{describe(m)} (off the code path: used by the loss)", (), sum(p.numel() for p in m.parameters()))
           for n, m in leaves(model) if n not in seen and any(True for _ in m.parameters())]
    for owner, module in model.named_modules():
        if list(module.children()):  # a parameter held by a module that is not a layer
            for n, p in module.named_parameters(recurse=False):
                name = f"{owner}.{n}" if owner else n
                out.append(Layer(part(name), name, "parameter (off the code path: used by the loss)", tuple(p.shape), p.numel()))
    return out


def merge_activations(layers: list[Layer]) -> list[Layer]:
    """'Conv2d 5x5 /2, 32 ch' + 'ReLU' -> one box 'Conv2d 5x5 /2, 32 ch + ReLU'."""
    names = {cls.__name__ for cls in ACTIVATION_TYPES}
    out: list[Layer] = []
    for layer in layers:
        if out and layer.kind in names and out[-1].part == layer.part and out[-1].shape == layer.shape:
            out[-1] = Layer(layer.part, out[-1].name, f"{out[-1].kind} + {layer.kind}", layer.shape, out[-1].params)
        else:
            out.append(layer)
    return out


def fmt_shape(shape) -> str:
    return "×".join(map(str, shape))


@register_analysis
class ModelSummary(Analysis):
    name, title, order = "summary", "Model summary", 110
    note = ("Follow the image's shape through the network: the encoder shrinks it to the code, the decoder "
            "mirrors it back; the parameter counts show where the model's capacity sits.")

    def run(self, ctx) -> AnalysisResult:
        layers = trace(ctx.model, ctx.image_shape, ctx.device)
        extra = off_the_path(ctx.model, layers)
        listed = [x for x in layers if x.part == "encoder"] + [x for x in extra if x.part == "encoder"]
        listed += [x for x in layers if x.part == "decoder"] + [x for x in extra if x.part != "encoder"]
        total = sum(p.numel() for p in ctx.model.parameters())
        per_part = {p: sum(layer.params for layer in listed if layer.part == p) for p in ("encoder", "decoder", "other")}
        table = Table("Layers in the order they run", ["part", "layer", "type", "output shape", "parameters"],
                      [[layer.part, layer.name, layer.kind, fmt_shape(layer.shape) or "–", f"{layer.params:,}"] for layer in listed]
                      + [["", "total", "", "", f"{total:,}"]])
        numbers = {"parameters": total, "encoder_parameters": per_part["encoder"], "decoder_parameters": per_part["decoder"],
                   "input_shape": list(ctx.image_shape), "code_shape": list(ctx.code_shape), "layers": len(layers)}
        if per_part["other"]:
            numbers["other_parameters"] = per_part["other"]
        return AnalysisResult(numbers, [("flow", flow_chart(merge_activations(layers), ctx.image_shape, ctx.code_shape))], [table])


def flow_chart(layers: list[Layer], input_shape, code_shape):
    """Encoder down the left column, decoder up the right one: the autoencoder's 'U'."""
    enc = [("input", fmt_shape(input_shape), 0)] + [(layer.kind, fmt_shape(layer.shape), layer.params) for layer in layers if layer.part == "encoder"]
    dec = [(layer.kind, fmt_shape(layer.shape), layer.params) for layer in layers if layer.part == "decoder"]  # in running order
    rows = max(len(enc), len(dec))
    fig = figure(10, 0.62 * rows + 0.9)
    ax = fig.add_subplot()
    ax.set_xlim(0, 10)
    ax.set_ylim(-0.6, rows + 0.2)
    ax.axis("off")
    # encoder box i at the i-th row from the top; decoder box j so that the output ends on the top row
    enc_pos = [(2.4, rows - 0.5 - i) for i in range(len(enc))]
    dec_pos = [(7.6, rows - 0.5 - (len(dec) - 1 - j)) for j in range(len(dec))]
    for items, positions, colour in ((enc, enc_pos, "#dbe9f6"), (dec, dec_pos, "#fde2cf")):
        for (kind, shape, params), (x, y) in zip(items, positions):
            ax.add_patch(FancyBboxPatch((x - 2.1, y - 0.3), 4.2, 0.6, boxstyle="round,pad=0.02,rounding_size=0.12", fc=colour, ec="0.45", lw=0.8))
            ax.text(x, y + 0.1, kind, ha="center", va="center", fontsize=8.5)
            ax.text(x, y - 0.16, f"→ {shape}" + (f"   ({params:,} parameters)" if params else ""), ha="center", va="center", fontsize=7.5, color="0.25")
    for positions, step in ((enc_pos, -0.3), (dec_pos, 0.3)):
        for (x, y0), (_, y1) in zip(positions, positions[1:]):
            ax.add_patch(FancyArrowPatch((x, y0 + step), (x, y1 - step), arrowstyle="-|>", mutation_scale=10, color="0.4"))
    if dec_pos:
        (xe, ye), (xd, yd) = enc_pos[-1], dec_pos[0]
        ax.add_patch(FancyArrowPatch((xe + 2.1, ye), (xd - 2.1, yd), arrowstyle="-|>", mutation_scale=12, color="#c0392b", lw=1.5))
        ax.text(5, (ye + yd) / 2 - 0.45, f"code {fmt_shape(code_shape)}", ha="center", va="center", fontsize=10, color="#c0392b", weight="bold")
    ax.text(2.4, rows, "encoder", ha="center", va="bottom", fontsize=10, weight="bold")
    ax.text(7.6, rows, "decoder (runs bottom to top)", ha="center", va="bottom", fontsize=10, weight="bold")
    return fig
