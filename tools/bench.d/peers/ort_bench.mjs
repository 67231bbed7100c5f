/* ort_bench.mjs: ONNX Runtime on cellsight's network (the ONNX file that
   torch_bench.py --export-onnx writes), for tools/bench.

     node ort_bench.mjs --engine node|web --model FILE.onnx [--threads N] [--seconds S]

   --engine node: onnxruntime-node, the native library inside the npm package.
   --engine web: onnxruntime-web's WASM backend (SIMD) running in node.
   Prints JSON rows, one a line, as cellsight_bench --json does: inference
   tiles per second at batch 1 and 32, each the best of repeated runs for about
   S seconds after one to warm up. */
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    engine: { type: "string", default: "node" },
    model: { type: "string" },
    threads: { type: "string", default: "1" },
    seconds: { type: "string", default: "2" },
  },
});
const threads = Number(opts.threads), seconds = Number(opts.seconds);
if (!opts.model || !["node", "web"].includes(opts.engine)) {
  console.error("usage: node ort_bench.mjs --engine node|web --model FILE.onnx [--threads N] [--seconds S]");
  process.exit(2);
}

let ort, sessionOptions;
if (opts.engine === "node") {
  ort = (await import("onnxruntime-node")).default;
  sessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential",
    graphOptimizationLevel: "all", executionProviders: ["cpu"] };
} else {
  ort = await import("onnxruntime-web");
  ort.env.wasm.numThreads = threads; // 1: no workers, the single-thread SIMD build
  ort.env.wasm.simd = true;
  sessionOptions = { graphOptimizationLevel: "all", executionProviders: ["wasm"] };
}
const session = await ort.InferenceSession.create(opts.model, sessionOptions);

const TILE = 128;
async function bestRate(batch) {
  const data = new Float32Array(batch * TILE * TILE);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i) * 1.5;
  const feeds = { x: new ort.Tensor("float32", data, [batch, 1, TILE, TILE]) };
  await session.run(feeds);
  let best = 0;
  const start = performance.now();
  do {
    const t = performance.now();
    await session.run(feeds);
    best = Math.max(best, batch / ((performance.now() - t) / 1000));
  } while (performance.now() - start < seconds * 1000);
  return best;
}

const engine = opts.engine === "node" ? "onnxruntime-node" : "onnxruntime-web";
const target = opts.engine === "node" ? "native" : "wasm-node";
const version = opts.engine === "node" ? ort.env.versions.node : ort.env.versions.web;
for (const [task, batch] of [["infer1", 1], ["infer32", 32]]) {
  const rate = await bestRate(batch);
  console.log(JSON.stringify({ engine, target, task, threads, tiles_per_s: +rate.toFixed(2), version }));
}
await session.release();
