#!/usr/bin/env node
/* make_model.mjs OUT.safetensors [CLASSES] [SEED] [KEY=VALUE...]: a
   paper-architecture model with seeded Glorot-uniform weights, for the browser
   tests to run when no trained model ships in model/ yet; KEY=VALUE pairs go
   into its metadata too (e.g. tta=dihedral8). Its predictions mean nothing;
   the tests only need the page and the native CLI to agree on them. */
import fs from "node:fs";

const [out, classList = "T47D,MDAMB231", seedText = "1", ...pairs] = process.argv.slice(2);
if (!out || pairs.some((p) => !/^\w+=/.test(p))) {
  console.error("usage: make_model.mjs OUT.safetensors [CLASSES] [SEED] [KEY=VALUE...]");
  process.exit(2);
}
const classes = classList.split(",");
const nout = classes.length === 2 ? 1 : classes.length; // two classes: one sigmoid unit

// mulberry32: a tiny seeded generator, enough for test weights.
let seed = Number(seedText) >>> 0;
function uniform() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// name, shape, fan_in, fan_out of the paper's network (PyTorch layouts).
const layers = [
  ["conv1", [32, 1, 3, 3], 9, 288],
  ["conv2", [32, 32, 3, 3], 288, 288],
  ["conv3", [64, 32, 3, 3], 288, 576],
  ["fc1", [32, 64], 64, 32],
  ["fc2", [nout, 32], 32, nout],
];
const tensors = [];
for (const [name, shape, fanIn, fanOut] of layers) {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const weight = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => (2 * uniform() - 1) * limit);
  const bias = Float32Array.from({ length: shape[0] }, () => 0.05 * (2 * uniform() - 1));
  tensors.push([`${name}.weight`, shape, weight], [`${name}.bias`, [shape[0]], bias]);
}

const header = {
  __metadata__: {
    arch: "conv32,conv32,conv64,gap,drop0.5,dense32,drop0.5,dense",
    classes: classes.join(","),
    tile: "128",
    crop_bottom: "96",
    note: "random weights made by tests/browser/make_model.mjs for the browser tests",
    ...Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)])),
  },
};
let offset = 0;
for (const [name, shape, data] of tensors) {
  header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + data.byteLength] };
  offset += data.byteLength;
}
let json = JSON.stringify(header);
json += " ".repeat((8 - (json.length % 8)) % 8); // keeps the data 8-byte aligned
const length = Buffer.alloc(8);
length.writeBigUInt64LE(BigInt(json.length));
fs.writeFileSync(out, Buffer.concat([length, Buffer.from(json),
  ...tensors.map(([, , data]) => Buffer.from(data.buffer))]));
