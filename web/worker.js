/* worker.js: cellsight's Web Worker. It owns the WASM module and the models
   loaded into it, and does all the heavy work (decoding, tiling, the network)
   so that the page stays responsive on a 4000 x 4000 image.

   Protocol. The page posts {id, type, ...}; the worker answers each request
   with {id, type: "done", ...} or {id, type: "error", message}, and may post
   {id, type: "progress", done, total} before that. Requests run one at a time
   in the order they arrive. Once its module is up, the worker posts {type:
   "started"}, unasked.

     init {cancelFlag}                            -> {version, build, threads, simd}
       cancelFlag: an Int32Array on a SharedArrayBuffer (cross-origin-isolated
       pages only, else null); the page stores 1 in it to stop the request
       under way, which then fails with the core's "cancelled" message.
     checkModel {size}                            -> {}
       a model file's size (File.size) against the core's limit, before the
       page reads the file; refused with the core's message.
     loadModel {key, bytes: ArrayBuffer, name}    -> {info}  (replaces the model under key)
       info: csw_model_info's, and info.csv: the model's texts as CSV cells
       by the core's rule (model: name, the file's; classes; heads: p_<class>).
     freeModel {key}                              -> {}
     verdicts {key, rows: [{predicted, known, expected}]} -> {verdicts}
       cs_verdict's word for each row ("consistent", "inconsistent", "unknown").
     expectedLines {csv: Uint8Array, names}       -> {rows, lines, expected}
       an expected-lines CSV's bytes read by the core (cs_expected_lines_read;
       refused with its message): its rows, its lines (each once), and the
       line of each of names by the core's rule (cs_expected_line; "": none).
     memory {}                                    -> {models, heapInUse}
       the models loaded and not freed, the heap's bytes in use (malloc's).
     classify {key, file: Blob, name, cropBottom, thumbnailSide, tta, umPerPx}
                                                  -> {result, decoder, ms}
       cropBottom < 0 takes the model's; umPerPx (> 0) is the pixel size
       of files that state none; tta is a TTA_ARG (absent: the
       model's). result is what apps/wasm/wasm_api.c emits (result.tta:
       whether the 8 flips and rotations were averaged; result.csvFile:
       name as a CSV cell by the core's rule).
     imageNames {names}                           -> {images}
       images[i]: whether names[i] ("folder/file" or "file") is an image's
       name by the core's rule (cs_image_name), as the CLI's folder walk and
       data sets decide.

   Fine-tuning's requests (trainDefaults, finetune) are in finetune-worker.js,
   the calls into the module's C API in bridge.js. A classic worker script
   (importScripts loads the module): web/build.mjs bundles these modules into
   one. tools/bench reads modulePromise, at the bundle's top level. */
import { BUILD, buildUrl } from "./build-id.js";
import { EVENT, TTA_ARG } from "./constants.js";
import { browserPixels, cString, csvCell, isCoreFormat, lastError, readImage, toHeap, withEvents } from "./bridge.js";
import { finetuneHandlers } from "./finetune-worker.js";
import { hasSimd } from "./simd.js";

// The self-contained cellsight.html runs this file from a blob with the module
// prepended (one thread; engine.js picks it as below). A served page loads the
// module beside it: without SIMD when the browser lacks it, else the pthread
// build when cross-origin isolated (shared memory allowed) and it is there,
// else the single-thread one, each of this worker's own build. Returns the
// threads to use.
function loadModule() {
  if (typeof CellsightModule !== "undefined") return 1;
  if (!hasSimd()) {
    importScripts(buildUrl("cellsight-web-nosimd.js"));
    return 1;
  }
  if (self.crossOriginIsolated) {
    try {
      importScripts(buildUrl("cellsight-web-mt.js"));
      return Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 16));
    } catch {
      // not in this build: the single-thread module below
    }
  }
  importScripts(buildUrl("cellsight-web.js"));
  return 1;
}
const threads = loadModule();

// Each pthread's Web Worker is started before the module runs (poolSize, read
// by the pthread build), and loads the module from its URL.
const modulePromise = (async () => {
  const M = await CellsightModule(threads > 1
    ? { poolSize: threads - 1, mainScriptUrlOrBlob: new URL(buildUrl("cellsight-web-mt.js"), self.location.href).href }
    : {});
  M._cs_set_threads(threads);
  return M;
})();
// Tells the page the module is up (engine.js replaces a worker that never says so).
modulePromise.then(() => self.postMessage({ type: "started" }), () => {});
const models = new Map(); // key -> pointer to a cs_model in the module's heap

// The page's flag to stop the request under way (init), if it can share one.
let cancelFlag = null;
const isCancelled = () => cancelFlag !== null && Atomics.load(cancelFlag, 0) !== 0;

const handlers = {
  async init(M, { cancelFlag: flag }) {
    cancelFlag = flag || null;
    return { version: M.UTF8ToString(M._csw_version()), build: BUILD, threads: M._cs_threads(), simd: hasSimd() };
  },

  async checkModel(M, { size }) {
    if (!M._csw_model_check(size)) throw new Error(lastError(M));
    return {};
  },

  async imageNames(M, { names }) {
    const encoder = new TextEncoder();
    return {
      images: names.map((name) => {
        const ptr = toHeap(M, encoder.encode(`${name}\0`));
        const image = M._csw_image_name(ptr) !== 0;
        M._free(ptr);
        return image;
      }),
    };
  },

  async loadModel(M, { key, bytes, name = "" }) {
    const data = new Uint8Array(bytes);
    const ptr = toHeap(M, data);
    const model = M._csw_model_load(ptr, data.length) >>> 0;
    M._free(ptr);
    if (!model) throw new Error(lastError(M));
    const json = M._csw_model_info(model) >>> 0;
    if (!json) {
      M._csw_model_free(model);
      throw new Error(lastError(M));
    }
    const info = JSON.parse(M.UTF8ToString(json));
    M._free(json);
    info.csv = { model: csvCell(M, name), classes: info.classes.map((c) => csvCell(M, c)),
      heads: info.classes.map((c) => csvCell(M, `p_${c}`)) };
    if (models.has(key)) M._csw_model_free(models.get(key));
    models.set(key, model);
    return { info };
  },

  async freeModel(M, { key }) {
    if (models.has(key)) M._csw_model_free(models.get(key));
    models.delete(key);
    return {};
  },

  async memory(M) {
    return { models: M._csw_models_live(), heapInUse: M._csw_heap_in_use() };
  },

  async classify(M, { key, file, name = "", cropBottom, thumbnailSide, tta = TTA_ARG.model, umPerPx = 0 }, progress) {
    const model = models.get(key);
    if (!model) throw new Error(`no model "${key}" is loaded`);
    const start = performance.now();
    const bytes = await readImage(M, file);
    let result = null;
    const events = {
      [EVENT.result]: (r) => (result = r),
      [EVENT.progress]: ({ done, total }) => (progress(done, total), isCancelled()),
    };
    const decoder = await withEvents(M, events, async () => {
      const ptr = toHeap(M, bytes);
      let ok = M._csw_classify_file_tta(model, ptr, bytes.length, cropBottom, thumbnailSide, tta, umPerPx);
      M._free(ptr);
      if (ok) return "stb";
      if (isCoreFormat(bytes)) throw new Error(lastError(M));
      const image = await browserPixels(M, file, bytes, lastError(M));
      const rgba = toHeap(M, image.data);
      ok = M._csw_classify_rgba_tta(model, rgba, image.width, image.height, cropBottom, thumbnailSide, tta,
        umPerPx);
      M._free(rgba);
      if (!ok) throw new Error(lastError(M));
      return "browser";
    });
    result.csvFile = csvCell(M, name);
    return { result, decoder, ms: performance.now() - start };
  },

  // cs_verdict of each row {predicted, known, expected}, by the core's rule.
  async verdicts(M, { key, rows }) {
    const model = models.get(key);
    if (!model) throw new Error(`no model "${key}" is loaded`);
    const encoder = new TextEncoder();
    return { verdicts: rows.map(({ predicted, known, expected }) => {
      const ptr = toHeap(M, encoder.encode(`${expected}\0`));
      const verdict = M.UTF8ToString(M._csw_verdict(model, predicted, known, ptr));
      M._free(ptr);
      return verdict;
    }) };
  },

  async expectedLines(M, { csv, names }) {
    const ptr = toHeap(M, csv);
    const table = M._csw_expected_read(ptr, csv.length) >>> 0;
    M._free(ptr);
    if (!table) throw new Error(lastError(M));
    try {
      const rows = M._csw_expected_rows(table);
      const lines = new Set(Array.from({ length: rows }, (_, i) => M.UTF8ToString(M._csw_expected_row_line(table, i))));
      const expected = names.map((name) => {
        const namePtr = cString(M, name);
        const line = M._csw_expected_line(table, namePtr) >>> 0;
        M._free(namePtr);
        return line ? M.UTF8ToString(line) : "";
      });
      return { rows, lines: Array.from(lines), expected };
    } finally {
      M._csw_expected_free(table);
    }
  },

  ...finetuneHandlers,
};

function transferables(reply) {
  const r = reply.result;
  if (!r) return [];
  return [r.probs.buffer, r.tiles.x.buffer, r.tiles.y.buffer, r.tiles.background.buffer,
    r.tiles.predicted.buffer, r.tiles.probs.buffer, r.thumbnail.gray.buffer];
}

let queue = Promise.resolve();
self.onmessage = ({ data: { id, type, ...args } }) => {
  queue = queue.then(async () => {
    try {
      const handler = handlers[type];
      if (!handler) throw new Error(`unknown request "${type}"`);
      const M = await modulePromise;
      const progress = (done, total, extra) =>
        self.postMessage({ id, type: "progress", done, total, ...extra });
      const reply = await handler(M, args, progress);
      self.postMessage({ id, type: "done", ...reply }, transferables(reply));
    } catch (e) {
      self.postMessage({ id, type: "error", message: e && e.message ? e.message : String(e) });
    }
  });
};
