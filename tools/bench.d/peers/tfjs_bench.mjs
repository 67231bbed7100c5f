/* tfjs_bench.mjs: TensorFlow.js on cellsight's network, for tools/bench.

     node tfjs_bench.mjs --backend wasm|cpu --task infer|train [--seconds S] [--batch B]

   wasm: @tensorflow/tfjs-backend-wasm (SIMD; no threads in node); inference at
   batch 1 and 32. cpu: the plain-JS backend, the only one of TensorFlow.js
   that trains convolutions off a GPU (the wasm backend has no
   Conv2DBackpropFilter); training at batch B (default 2: a step takes
   minutes). Prints JSON rows, one a line, as cellsight_bench --json does.
   Inference rates are the best of repeated runs for about S seconds after one
   to warm up; training runs steps until S seconds have passed (at least one,
   no warm-up, since one step is already long) and keeps the best. The weights
   are random: the time does not depend on them. */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

const { values: opts } = parseArgs({
  options: {
    backend: { type: "string", default: "wasm" },
    task: { type: "string", default: "infer" },
    seconds: { type: "string", default: "2" },
    batch: { type: "string", default: "2" },
  },
});
const seconds = Number(opts.seconds);
if (!["wasm", "cpu"].includes(opts.backend) || !["infer", "train"].includes(opts.task)) {
  console.error("usage: node tfjs_bench.mjs --backend wasm|cpu --task infer|train [--seconds S] [--batch B]");
  process.exit(2);
}

const here = path.dirname(fileURLToPath(import.meta.url));
setWasmPaths(path.join(here, "node_modules", "@tensorflow", "tfjs-backend-wasm", "dist") + path.sep);
if (!(await tf.setBackend(opts.backend))) throw new Error(`TensorFlow.js backend ${opts.backend} did not start`);
await tf.ready();

const TILE = 128;
// ScaffoldNet (Akogo & Palmer 2019), channels last as TensorFlow.js wants it.
const model = tf.sequential({
  layers: [
    tf.layers.conv2d({ inputShape: [TILE, TILE, 1], filters: 32, kernelSize: 3, activation: "relu" }),
    tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: "relu" }),
    tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu" }),
    tf.layers.globalAveragePooling2d({}),
    tf.layers.dropout({ rate: 0.5 }),
    tf.layers.dense({ units: 32, activation: "relu" }),
    tf.layers.dropout({ rate: 0.5 }),
    tf.layers.dense({ units: 1, activation: "sigmoid" }),
  ],
});

const tiles = (batch) => tf.tidy(() => tf.sin(tf.range(0, batch * TILE * TILE)).mul(1.5).reshape([batch, TILE, TILE, 1]));
const row = (task, batch, rate) => console.log(JSON.stringify({
  engine: `tfjs-${opts.backend}`, target: "wasm-node", task, threads: 1, tiles_per_s: +rate.toPrecision(4),
  batch, version: tf.version.tfjs,
}));

if (opts.task === "infer") {
  for (const batch of [1, 32]) {
    const x = tiles(batch);
    const run = async () => { const y = model.predict(x); await y.data(); y.dispose(); };
    await run();
    let best = 0;
    const start = performance.now();
    do {
      const t = performance.now();
      await run();
      best = Math.max(best, batch / ((performance.now() - t) / 1000));
    } while (performance.now() - start < seconds * 1000);
    row(`infer${batch}`, batch, best);
    x.dispose();
  }
} else {
  const batch = Number(opts.batch);
  model.compile({ optimizer: tf.train.adam(1e-3, 0.9, 0.999), loss: "binaryCrossentropy" });
  const x = tiles(batch), y = tf.tensor2d(Array.from({ length: batch }, (_, i) => [i % 2]));
  let best = 0;
  const start = performance.now();
  do {
    const t = performance.now();
    await model.trainOnBatch(x, y);
    best = Math.max(best, batch / ((performance.now() - t) / 1000));
  } while (performance.now() - start < seconds * 1000);
  // Named as the task the ratio compares with (ours at batch 32); "batch" says what it ran.
  row("train32", batch, best);
}
