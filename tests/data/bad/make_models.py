#!/usr/bin/env python3
"""make_models.py: writes the bad model files of this folder, each one defect
away from control.safetensors (a valid two-class model, "conv2,gap,dense" on
128-pixel tiles), so that a loader refusing it can only be refusing the defect.
Standard library only; run from this folder. The files are committed."""
import json
import math
import struct

ARCH = "conv2,gap,dense"
SHAPES = {"conv1.weight": [2, 1, 3, 3], "conv1.bias": [2], "fc1.weight": [1, 2], "fc1.bias": [1]}
META = {"arch": ARCH, "classes": "A,B", "tile": "128", "crop_bottom": "0"}


def weights(shape, seed):
    n = math.prod(shape)
    return [round(math.sin(seed * 7.1 + i * 1.3) * 0.5, 4) for i in range(n)]


def encode(header, data, header_len=None):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    n = len(h) if header_len is None else header_len
    return struct.pack("<Q", n) + h + data


def model(shapes=SHAPES, meta=META, dtype=None, values=None, offsets=None, header_len=None):
    """A safetensors file of float32 weights; each argument changes one thing."""
    header, data = ({"__metadata__": dict(meta)} if meta else {}), b""
    for i, (name, shape) in enumerate(shapes.items()):
        raw = struct.pack(f"<{math.prod(shape)}f", *(values or {}).get(name, weights(shape, i)))
        info = {"dtype": (dtype or {}).get(name, "F32"), "shape": shape,
                "data_offsets": [len(data), len(data) + len(raw)]}
        header[name] = info
        data += raw
    for name, pair in (offsets or {}).items():
        header[name]["data_offsets"] = pair
    return encode(header, data, header_len)


def without(d, key):
    return {k: v for k, v in d.items() if k != key}


FILES = {
    "control.safetensors": model(),
    # The 8-byte length: so large that 8 + length wraps around a 64-bit size_t.
    "header_length_overflow.safetensors": model(header_len=2**64 - 4),
    "header_length_past_end.safetensors": model(header_len=4096),
    "offsets_out_of_range.safetensors": model(offsets={"fc1.weight": [32, 1 << 40]}),
    "offsets_reversed.safetensors": model(offsets={"conv1.bias": [80, 72]}),
    # Same bytes, other type: I32 has the size of F32, so only the dtype is wrong.
    "wrong_dtype.safetensors": model(dtype={"conv1.weight": "I32"}),
    "missing_tensor.safetensors": model(shapes=without(SHAPES, "fc1.bias")),
    # Three classes named, but the output layer has the one unit of two classes.
    "class_count_mismatch.safetensors": model(meta={**META, "classes": "A,B,C"}),
    "nan_weight.safetensors": model(values={"conv1.bias": [0.1, float("nan")]}),
    "long_class_name.safetensors": model(meta={**META, "classes": "A," + "B" * 4000}),
    # A header of 2 MiB, over the 1 MiB limit on metadata (CS_MAX_META_BYTES).
    "huge_metadata.safetensors": model(meta={**META, "notes": "x" * (2 << 20)}),
    "header_not_json.safetensors": struct.pack("<Q", 16) + b"{not json}      ",
}

if __name__ == "__main__":
    for name, data in FILES.items():
        with open(name, "wb") as f:
            f.write(data)
