#!/usr/bin/python3
"""check_torch_interop.py: a model made in PyTorch must load in cellsight and
predict what PyTorch predicts.

Builds the network of an arch string (the paper's by default) as a
torch.nn.Module whose parameters are named as cellsight names its tensors
(conv1.weight, ..., fc2.bias), gives it random weights, saves them as
safetensors with tools/safetensors_io.py, and writes the probabilities
PyTorch gives for a few standardized tiles. Two fixtures are written:

  NAME.safetensors          the model (metadata: tile, and arch and classes
                            unless they are the defaults a loader must assume)
  NAME_tiles.safetensors    tiles [N, tile, tile] F32 and probs [N, K] F32
  pytorch/NAME_tileI.pgm    the same tiles as 8-bit images, before standardization
  pytorch/NAME_probs.csv    file,p_class0,...: PyTorch's probabilities for each image

tests/test_pytorch_model.c checks cs_net_forward against the tiles, and
tests/cli_pytorch_model.sh `cellsight predict` against the images. With --cli
this script runs that check itself (exit status 1 if a probability is more
than 1e-4 away from PyTorch's).

  tools/check_torch_interop.py                      # remake the committed fixtures
  tools/check_torch_interop.py --out /tmp/x --cli build/native/cellsight
"""
import argparse
import csv
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

PAPER_ARCH = "conv32,conv32,conv64,gap,drop0.5,dense32,drop0.5,dense"
STD_FLOOR = 1e-3
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

# The committed fixtures: the paper's network (two classes, one sigmoid unit,
# no arch or classes in its metadata, as a PyTorch user might save it), and a
# network with pooling and a softmax over three classes.
FIXTURES = [
    dict(name="good_pytorch", arch=PAPER_ARCH, classes=2, tile=16, seed=1),
    dict(name="good_pytorch_k3", arch="conv8,pool,conv8,gap,drop0.5,dense16,drop0.5,dense",
         classes=3, tile=16, seed=2),
]


class ScaffoldNet(torch.nn.Module):
    """The layers of an arch string, named conv1, conv2, ..., fc1, fc2, ... in order."""

    def __init__(self, arch, classes):
        super().__init__()
        self.steps, c, count = [], 1, {"conv": 0, "fc": 0}
        tokens = arch.split(",")
        for i, tok in enumerate(tokens):
            if tok.startswith("conv"):
                count["conv"] += 1
                name = f"conv{count['conv']}"
                setattr(self, name, torch.nn.Conv2d(c, int(tok[4:]), 3))
                c = int(tok[4:])
                self.steps.append((name, True))
            elif tok.startswith("dense"):
                count["fc"] += 1
                name = f"fc{count['fc']}"
                out = int(tok[5:]) if tok != "dense" else (1 if classes == 2 else classes)
                setattr(self, name, torch.nn.Linear(c, out))
                c = out
                self.steps.append((name, tok != "dense"))
            elif tok == "pool":
                self.steps.append(("pool", False))
            elif tok == "gap":
                self.steps.append(("gap", False))
            elif tok.startswith("drop"):
                self.steps.append(("drop" + tok[4:], False))
            else:
                raise ValueError(f"unknown layer {tok}")
        self.classes = classes

    def forward(self, x):  # x: [B, 1, tile, tile]
        for name, relu in self.steps:
            if name == "pool":
                x = torch.nn.functional.max_pool2d(x, 2)
            elif name == "gap":
                x = x.mean(dim=(2, 3))
            elif name.startswith("drop"):
                x = torch.nn.functional.dropout(x, float(name[4:]), self.training)
            else:
                x = getattr(self, name)(x)
                if relu:
                    x = torch.relu(x)
        if self.classes == 2:
            s = torch.sigmoid(x[:, 0])
            return torch.stack([1 - s, s], dim=1)
        return torch.softmax(x, dim=1)


def standardize(t):
    """As cellsight: (x - mean) / max(std, 1e-3), the population std."""
    return (t - t.mean()) / max(t.std(), STD_FLOOR)


def make(fx, out, ntiles):
    torch.manual_seed(fx["seed"])
    net = ScaffoldNet(fx["arch"], fx["classes"]).eval()
    with torch.no_grad():  # PyTorch's initial weights, made bolder so that tiles differ clearly
        for p in net.parameters():
            p.mul_(3)
    # Gray images as cellsight sees them, 8-bit pixels / 255, then standardized:
    # oriented stripes over noise, so that a kernel read transposed or flipped shows.
    rng = np.random.default_rng(fx["seed"])
    y, x = np.mgrid[0:fx["tile"], 0:fx["tile"]]
    pixels = []
    for _ in range(ntiles):
        a, b, phase = rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5), rng.uniform(0, 6.3)
        img = 128 + 90 * np.sin(a * x + b * y + phase) + rng.normal(0, 20, x.shape)
        pixels.append(np.clip(img, 0, 255).astype(np.uint8))
    pixels = np.stack(pixels)
    tiles = np.stack([standardize(p.astype(np.float64) / 255) for p in pixels]).astype(np.float32)
    with torch.no_grad():
        probs = net(torch.from_numpy(tiles)[:, None]).numpy().astype(np.float32)

    meta = {"tile": str(fx["tile"])}
    if fx["arch"] != PAPER_ARCH:
        meta["arch"] = fx["arch"]
        meta["classes"] = ",".join(f"class{k}" for k in range(fx["classes"]))
    model = os.path.join(out, fx["name"] + ".safetensors")
    safetensors_io.save(model, net.state_dict(), meta)
    safetensors_io.save(os.path.join(out, fx["name"] + "_tiles.safetensors"),
                        {"tiles": tiles, "probs": probs})

    os.makedirs(os.path.join(out, "pytorch"), exist_ok=True)
    expected = os.path.join(out, "pytorch", fx["name"] + "_probs.csv")
    with open(expected, "w") as f:
        f.write("file," + ",".join(f"p_class{k}" for k in range(fx["classes"])) + "\n")
        for i, (p, prob) in enumerate(zip(pixels, probs)):
            image = f"{fx['name']}_tile{i}.pgm"
            with open(os.path.join(out, "pytorch", image), "wb") as g:
                g.write(b"P5 %d %d 255\n" % (p.shape[1], p.shape[0]) + p.tobytes())
            f.write(image + "," + ",".join(f"{v:.9g}" for v in prob) + "\n")
    return model, expected


def check_cli(cli, model, expected):
    """cellsight predict on the one-tile images must give PyTorch's probabilities."""
    with open(expected) as f:
        want = {r["file"]: r for r in csv.DictReader(f)}
    folder = os.path.dirname(expected)
    images = [os.path.join(folder, name) for name in want]
    run = subprocess.run([cli, "predict", "--model", model, "--csv", *images],
                         capture_output=True, text=True, check=True)
    rows = list(csv.DictReader(run.stdout.splitlines()))
    worst = max(abs(float(r[k]) - float(want[os.path.basename(r["file"])][k]))
                for r in rows for k in r if k.startswith("p_"))
    print(f"{os.path.basename(model)}: largest difference from PyTorch {worst:.2e} over {len(rows)} images")
    return worst <= 1e-4 and len(rows) == len(images)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "models"))
    ap.add_argument("--tiles", type=int, default=6)
    ap.add_argument("--cli", help="the cellsight CLI to compare with")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ok = True
    for fx in FIXTURES:
        model, expected = make(fx, args.out, args.tiles)
        if args.cli:
            ok = check_cli(args.cli, model, expected) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
