#!/usr/bin/python3
"""torch_reference.py: cellsight's network built independently in PyTorch, to
write the golden fixture that tests/test_golden.c checks the C core against.

    /usr/bin/python3 tools/torch_reference.py [OUT_DIR]   (default tests/data/golden)

For each case it writes two safetensors files:
  CASE.safetensors           the weights, named as this module's state_dict
                             (conv1.weight [32,1,3,3], ..., fc2.bias), with
                             __metadata__ {arch, classes, tile, crop_bottom};
  CASE_expected.safetensors  input [B,tile,tile] (one channel, so channels-last
                             is NCHW less the C axis), labels [B] and
                             class_weight [K] (as F32), probs [B,K], loss [1],
                             grad.NAME (every gradient); and for the pooled
                             case adam.NAME (the weights after one Adam step)
                             and adam2.NAME (after a second forward, backward
                             and step, where the betas show). Adam is one loop
                             over all parameters, so the small case covers it
                             and the paper's stays under 300 KB.
The reference runs in float64, so that it is the exact answer the C core's
float32 approximates. Dropout is identity here (eval mode), as the C test runs
its forward pass with train = 0. Debian's python3-torch 1.13 suffices.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

PAPER_ARCH = "conv32,conv32,conv64,gap,drop0.5,dense32,drop0.5,dense"
CASES = [
    # name, arch, tile, classes, batch, class weights (None: unweighted), Adam steps
    ("paper_k2", PAPER_ARCH, 24, 2, 4, None, 0),
    ("pooled_k3", "conv8,pool,conv8,gap,dense16,dense", 25, 3, 4, [1.0, 2.0, 0.5], 2),
]


class Net(torch.nn.Module):
    """The arch string's layers: convN (3x3 valid + ReLU), pool (2x2 max), gap,
    dropP, denseN (+ ReLU), dense (the output: 1 unit for 2 classes, else K)."""

    def __init__(self, arch, classes):
        super().__init__()
        self.steps, c, nconv, nfc = [], 1, 0, 0
        for tok in arch.split(","):
            if tok.startswith("conv"):
                nconv += 1
                name, out = f"conv{nconv}", int(tok[4:])
                setattr(self, name, torch.nn.Conv2d(c, out, 3))
                self.steps.append(("conv", name))
                c = out
            elif tok.startswith("dense"):
                nfc += 1
                name = f"fc{nfc}"
                out = int(tok[5:]) if tok[5:] else (1 if classes == 2 else classes)
                setattr(self, name, torch.nn.Linear(c, out))
                self.steps.append(("dense" if tok[5:] else "output", name))
                c = out
            elif tok.startswith("drop"):
                self.steps.append(("drop", float(tok[4:])))
            else:
                self.steps.append((tok, None))

    def forward(self, x):  # x [B, 1, H, W] -> logits [B, nout]
        for kind, arg in self.steps:
            if kind == "conv":
                x = F.relu(getattr(self, arg)(x))
            elif kind == "pool":
                x = F.max_pool2d(x, 2)
            elif kind == "gap":
                x = x.mean(dim=(2, 3))
            elif kind == "drop":
                x = F.dropout(x, arg, self.training)
            elif kind == "dense":
                x = F.relu(getattr(self, arg)(x))
            else:
                x = getattr(self, arg)(x)
        return x


def loss_of(logits, labels, class_weight, classes):
    """Mean cross-entropy, weighted as sum(w_y * l) / sum(w_y)."""
    if classes == 2:
        w = torch.ones(len(labels), dtype=logits.dtype) if class_weight is None else class_weight[labels]
        l = F.binary_cross_entropy_with_logits(logits[:, 0], labels.to(logits.dtype), reduction="none")
        return (w * l).sum() / w.sum()
    return F.cross_entropy(logits, labels, weight=class_weight)


def probs_of(logits, classes):
    if classes == 2:
        s = torch.sigmoid(logits[:, 0])
        return torch.stack([1 - s, s], dim=1)
    return torch.softmax(logits, dim=1)


def f32(t):
    return t.detach().to(torch.float32)


def write_case(out_dir, name, arch, tile, classes, batch, weights, adam_steps):
    torch.manual_seed(2019)
    net = Net(arch, classes).double().eval()
    x = torch.randn(batch, 1, tile, tile, dtype=torch.float64)
    labels = torch.arange(batch) % classes
    cw = None if weights is None else torch.tensor(weights, dtype=torch.float64)
    # The C core reads float32 weights and inputs: start the reference from exactly those.
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(f32(p).double())
        x = f32(x).double()

    meta = {"arch": arch, "classes": ",".join(f"class{k}" for k in range(classes)),
            "tile": str(tile), "crop_bottom": "0"}
    safetensors_io.save(os.path.join(out_dir, f"{name}.safetensors"),
                        {k: f32(v) for k, v in net.state_dict().items()}, meta)

    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    expected = {"input": f32(x[:, 0]), "labels": labels.to(torch.float32)}
    if cw is not None:
        expected["class_weight"] = f32(cw)
    for step in range(1, max(adam_steps, 1) + 1):
        opt.zero_grad()
        logits = net(x)
        loss = loss_of(logits, labels, cw, classes)
        loss.backward()
        if step == 1:
            expected["probs"] = f32(probs_of(logits, classes))
            expected["loss"] = f32(loss.reshape(1))
            expected.update({f"grad.{k}": f32(p.grad) for k, p in net.named_parameters()})
        if adam_steps:
            opt.step()
            prefix = "adam." if step == 1 else f"adam{step}."
            expected.update({prefix + k: f32(p) for k, p in net.named_parameters()})
    safetensors_io.save(os.path.join(out_dir, f"{name}_expected.safetensors"), expected,
                        {"torch": torch.__version__})
    print(f"{name}: loss {expected['loss'].item():.6f}")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "golden")
    os.makedirs(out_dir, exist_ok=True)
    for case in CASES:
        write_case(out_dir, *case)


if __name__ == "__main__":
    main()
