#!/usr/bin/env python3
"""make_bad.py: the bad model files that ../models lacks, each one defect away
from ../models/good_tiny.safetensors, and the bad images that ../images lacks
(standard library only; run from this folder; the files are committed).
tests/cli_badinput.sh runs the CLI on every folder's bad files."""
import json
import struct


def read(path):
    """(header dict, data bytes) of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def write(path, header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


if __name__ == "__main__":
    header, data = read("../models/good_tiny.safetensors")
    meta = header["__metadata__"]

    # A 2 MiB metadata string: the header is over CS_MAX_META_BYTES (1 MiB).
    write("huge_metadata.safetensors", {**header, "__metadata__": {**meta, "notes": "x" * (2 << 20)}}, data)

    # conv1.bias's data_offsets run backwards: [end, begin].
    begin, end = header["conv1.bias"]["data_offsets"]
    write("offsets_reversed.safetensors",
          {**header, "conv1.bias": {**header["conv1.bias"], "data_offsets": [end, begin]}}, data)

    # A valid 16-bit PPM, which stb 2.27 cannot turn to gray safely: refused.
    with open("ppm16.ppm", "wb") as f:
        f.write(b"P6\n4 4\n65535\n" + bytes(range(96)))

    # A valid GIF of a 20000 x 20000 canvas (within the pixel limit) holding a
    # 1 x 1 frame: stb 2.27 would zero 9 bytes a pixel of canvas (3.6 GB) before
    # reading the frame. Refused from its header.
    with open("huge.gif", "wb") as f:
        f.write(b"GIF89a" + struct.pack("<HHBBB", 20000, 20000, 0, 0, 0)
                + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0x80) + bytes([0, 0, 0, 255, 255, 255])
                + bytes([2, 2, 0x44, 0x01, 0]) + b"\x3b")  # LZW: clear, pixel 0, end (3-bit codes)

    # The header of a progressive colour JPEG (SOF2, 3 components at 1x1) of
    # 20000 x 20000: stb 2.27 would hold 10 bytes a pixel (4 GB) decoding it.
    with open("huge_progressive.jpg", "wb") as f:
        f.write(b"\xff\xd8\xff\xc2" + struct.pack(">HBHHB", 17, 8, 20000, 20000, 3)
                + bytes([1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]) + b"\xff\xd9")
