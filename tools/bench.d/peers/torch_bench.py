#!/usr/bin/python3
"""torch_bench.py: PyTorch (Debian's python3-torch) on cellsight's network, for tools/bench.

    /usr/bin/python3 torch_bench.py [--threads N] [--seconds S] [--export-onnx FILE]

Prints JSON rows, one a line, as cellsight_bench --json does: tiles per second
for inference at batch 1 and 32 (eval mode, no autograd) and training at batch
32 (forward, backward, Adam, dropout on), each the best of repeated steps for
about S seconds after one to warm up.
--export-onnx writes the same network (with its sigmoid) as ONNX, batch size
free, for onnxruntime-node and onnxruntime-web, and measures nothing.
The network is tools/torch_reference.py's, the one the golden test checks the
C core against."""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from torch_reference import PAPER_ARCH, Net  # noqa: E402

TILE = 128


class WithSigmoid(torch.nn.Module):
    """The network as the page uses it: the probability of the second class."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.sigmoid(self.net(x))


def best_rate(step, batch, seconds):
    step()
    best, start = 0.0, time.perf_counter()
    while True:
        t = time.perf_counter()
        step()
        best = max(best, batch / (time.perf_counter() - t))
        if time.perf_counter() - start >= seconds:
            return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--export-onnx")
    args = ap.parse_args()
    torch.manual_seed(1)
    net = Net(PAPER_ARCH, 2)

    if args.export_onnx:
        torch.onnx.export(WithSigmoid(net).eval(), torch.randn(1, 1, TILE, TILE), args.export_onnx,
                          input_names=["x"], output_names=["p"],
                          dynamic_axes={"x": {0: "batch"}, "p": {0: "batch"}}, opset_version=13)
        return

    torch.set_num_threads(args.threads)
    x32 = torch.randn(32, 1, TILE, TILE)
    x1 = x32[:1].clone()
    labels = (torch.arange(32) % 2).float()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999))

    def infer(x):
        def step():
            with torch.inference_mode():
                torch.sigmoid(net(x))
        return step

    def train():
        opt.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(net(x32)[:, 0], labels)
        loss.backward()
        opt.step()

    net.eval()
    rates = {"infer1": best_rate(infer(x1), 1, args.seconds),
             "infer32": best_rate(infer(x32), 32, args.seconds)}
    net.train()
    rates["train32"] = best_rate(train, 32, args.seconds)
    for task, rate in rates.items():
        print(json.dumps({"engine": "pytorch", "target": "native", "task": task,
                          "threads": args.threads, "tiles_per_s": round(rate, 2),
                          "version": torch.__version__}))


if __name__ == "__main__":
    main()
