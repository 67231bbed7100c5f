#!/usr/bin/python3
"""Heads on a base's frozen pooled features, outside the library: is the head
what holds head-mode fine-tuning back on a pair of lines the base never saw
(issue 15's "standardized features and a larger head")? Each pair is trained
on one image a line and tested on the line's other image, and back, seeds 1-3;
prints each head's tile accuracy (threshold 0.5) and ROC AUC, the mean of the
six runs. The heads, all trained as head mode trains (Adam, lr 1e-3, 60 epochs,
batches of 32, binary cross-entropy), on the tiles as they are (no 8 views):

  pre        the base's fc1 (ReLU) and a new output unit: what head mode does
  fresh      the same shape, fc1 new too; fresh512: fc1 of 512 units
  std_pre    pre on features standardized by the training tiles' mean and
             deviation (fc1 changed to the same function of them at the start)
  std_fresh  fresh on standardized features; std_fresh512 likewise
  logreg     a logistic regression on standardized features

    build/native/tools/bench.d/dump_features model/base.safetensors F.bin \\
        DATA/SKBR3/*.jpg DATA/BT474/*.jpg DATA/A549/*.jpg DATA/PC3/*.jpg
    tools/head_probe.py F.bin model/base.safetensors pre,fresh,std_fresh [WEIGHT_DECAY]

F.bin holds two images a line, the lines in that order (dump_features' format).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io  # noqa: E402
from cv_pool import auc  # noqa: E402

PAIRS = {"skbr3-bt474": (0, 2), "a549-pc3": (4, 6)}  # the first image of each line in F.bin


def read_features(path):
    raw, out, at = open(path, "rb").read(), [], 0
    while at < len(raw):
        d, n = np.frombuffer(raw, np.int32, 2, at)
        at += 8
        out.append(np.frombuffer(raw, np.float32, n * d, at).reshape(n, d).copy())
        at += n * d * 4
    return out


def train(kind, X, y, seed, fc1, weight_decay):
    """A head of this kind fitted on features X [n, D], labels y [n]; returns its predictor."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    X, y = torch.tensor(X), torch.tensor(y, dtype=torch.float32)
    mu, sd = X.mean(0), X.std(0) + 1e-6
    std = kind.startswith("std") or kind == "logreg"
    Z = (X - mu) / sd if std else X
    if kind == "logreg":
        net = torch.nn.Linear(X.shape[1], 1)
    else:
        width = 512 if kind.endswith("512") else fc1[0].shape[0]
        l1, out = torch.nn.Linear(X.shape[1], width), torch.nn.Linear(width, 1)
        if kind in ("pre", "std_pre"):
            w, b = fc1[0].clone(), fc1[1].clone()
            if std:  # fc1 of standardized features, the same function at the start
                b, w = b + w @ mu, w * sd
            l1.weight.data, l1.bias.data = w, b
        net = torch.nn.Sequential(l1, torch.nn.ReLU(), out)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=weight_decay)
    for _ in range(60):
        perm = torch.randperm(len(Z), generator=g)
        for s in range(0, len(Z), 32):
            idx = perm[s:s + 32]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(Z[idx]).squeeze(1), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()

    def predict(Xt):
        Xt = torch.tensor(Xt)
        with torch.no_grad():
            return torch.sigmoid(net((Xt - mu) / sd if std else Xt).squeeze(1)).numpy()
    return predict


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    feats = read_features(sys.argv[1])
    tensors, _ = safetensors_io.load(sys.argv[2])
    fc1 = torch.tensor(tensors["fc1.weight"]), torch.tensor(tensors["fc1.bias"])
    weight_decay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    for kind in sys.argv[3].split(","):
        res = {}
        for name, (a, b) in PAIRS.items():
            accs, aucs = [], []
            for seed in (1, 2, 3):
                for d in (0, 1):  # which image of each line trains
                    tr, te = (feats[a + d], feats[b + d]), (feats[a + 1 - d], feats[b + 1 - d])
                    ytr = np.r_[np.zeros(len(tr[0])), np.ones(len(tr[1]))]
                    yte = np.r_[np.zeros(len(te[0])), np.ones(len(te[1]))]
                    p = train(kind, np.concatenate(tr), ytr, seed, fc1, weight_decay)(np.concatenate(te))
                    accs.append(((p >= 0.5) == yte).mean())
                    aucs.append(auc(p.tolist(), (yte == 1).tolist()))
            res[name] = np.mean(accs), np.mean(aucs)
        print(f"{kind} (weight decay {weight_decay:g}): " +
              ", ".join(f"{k} {v[0]:.3f} (AUC {v[1]:.3f})" for k, v in res.items()) +
              f"; mean {np.mean([v[0] for v in res.values()]):.3f}", flush=True)


main()
