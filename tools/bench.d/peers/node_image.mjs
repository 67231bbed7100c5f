/* node_image.mjs: the page's WASM module (cellsight-web.js) classifying a
   whole image in node, as the page's worker does, for tools/bench.

     node node_image.mjs --module cellsight-web.js --model FILE.safetensors --image FILE [--runs N]

   Prints one JSON row: the best of N runs (the first is reported too) in
   seconds, from the image file's bytes to the result, decoding included. */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    module: { type: "string" },
    model: { type: "string" },
    image: { type: "string" },
    runs: { type: "string", default: "3" },
  },
});
if (!opts.module || !opts.model || !opts.image) {
  console.error("usage: node node_image.mjs --module cellsight-web.js --model FILE --image FILE [--runs N]");
  process.exit(2);
}

const CellsightModule = createRequire(import.meta.url)(path.resolve(opts.module));
const M = await CellsightModule();
const toHeap = (bytes) => {
  const ptr = M._malloc(bytes.length) >>> 0;
  M.HEAPU8.set(bytes, ptr);
  return ptr;
};
const fail = () => {
  throw new Error(M.UTF8ToString(M._csw_error()));
};

const modelBytes = fs.readFileSync(opts.model);
const modelPtr = toHeap(modelBytes);
const model = M._csw_model_load(modelPtr, modelBytes.length) >>> 0;
M._free(modelPtr);
if (!model) fail();

const image = fs.readFileSync(opts.image);
let result = null;
M.onEvent = (kind, payload) => (kind === "result" && (result = payload), false);
const times = [];
for (let i = 0; i < Number(opts.runs); i++) {
  const start = performance.now();
  const ptr = toHeap(image);
  const ok = M._csw_classify_file_tta(model, ptr, image.length, -1, 768, -1);
  M._free(ptr);
  if (!ok) fail();
  times.push((performance.now() - start) / 1000);
}
const best = Math.min(...times);
console.log(JSON.stringify({
  engine: "cellsight", target: "wasm-node", task: "image", threads: 1, tiles_per_s: +(result.ntiles / best).toFixed(2),
  seconds: +best.toFixed(3), first_seconds: +times[0].toFixed(3), tiles: result.ntiles,
  voting_tiles: result.nforeground, wasm_heap_mb: Math.round(M.HEAPU8.length / 2 ** 20),
}));
M._csw_model_free(model);
