#!/usr/bin/python3
"""make_corpus.py: writes the small model files of this folder, good and bad,
with Python's own json and tools/safetensors_io.py rather than cellsight's
writer, so that reading them also checks that we read what others write.
Run from anywhere; the files are committed, this only remakes them.
(good_pytorch*.safetensors and pytorch*_tiles.safetensors come from
tools/check_torch_interop.py.)"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools"))
import safetensors_io  # noqa: E402

rng = np.random.default_rng(2019)
META = {"arch": "conv4,gap,dense", "classes": "a,b", "tile": "8", "crop_bottom": "0",
        "standardize": "tile: (gray / 255 - mean) / max(std, 0.001)"}


def tiny():
    """The weights of arch conv4,gap,dense for two classes, as PyTorch names them."""
    f = lambda *shape: rng.uniform(-0.5, 0.5, shape).astype(np.float32)  # noqa: E731
    return {"conv1.weight": f(4, 1, 3, 3), "conv1.bias": f(4), "fc1.weight": f(1, 4), "fc1.bias": f(1)}


def path(name):
    return os.path.join(HERE, name + ".safetensors")


def save(name, tensors, meta=META):
    safetensors_io.save(path(name), tensors, meta)


def raw(name, header, data=b""):
    """A file of exactly this header (dict or bytes) and data."""
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    with open(path(name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def tensor_entries(tensors):
    header, offset = {}, 0
    for k, v in tensors.items():
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [offset, offset + v.nbytes]}
        offset += v.nbytes
    return header, b"".join(v.tobytes() for v in tensors.values())


good = tiny()
save("good_tiny", good)
with open(path("good_tiny"), "rb") as f:
    good_bytes = f.read()

open(path("bad_empty"), "wb").close()
raw("bad_not_json", b"this is not json")
with open(path("bad_header_length"), "wb") as f:
    f.write(b"\xff" * 8 + good_bytes[8:])
with open(path("bad_truncated"), "wb") as f:
    f.write(good_bytes[:-3])

header, data = tensor_entries(good)
header["conv1.bias"]["data_offsets"] = [144, 99999]
raw("bad_offsets", {"__metadata__": META, **header}, data)

save("bad_dtype", {**good, "conv1.weight": good["conv1.weight"].astype(np.float64)})
save("bad_shape", {**good, "conv1.weight": good["conv1.weight"].reshape(4, 9)})
save("bad_missing_tensor", {k: v for k, v in good.items() if k != "fc1.bias"})
save("bad_extra_tensor", {**good, "fc2.weight": good["fc1.weight"]})
save("bad_class_count", good, {**META, "classes": "a,b,c"})
raw("bad_metadata_type", {"__metadata__": {**META, "tile": 8}, **header}, data)
save("bad_class_name", good, {**META, "classes": "a," + "x" * 200})
nan = good["conv1.weight"].copy()
nan[0, 0, 1, 1] = np.nan
save("bad_nan", {**good, "conv1.weight": nan})
