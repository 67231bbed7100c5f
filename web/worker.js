/* worker.js: cellsight's Web Worker. It owns the WASM module and the models
   loaded into it, and does all the heavy work (decoding, tiling, the network)
   so that the page stays responsive on a 4000 x 4000 image.

   Protocol. The page posts {id, type, ...}; the worker answers each request
   with {id, type: "done", ...} or {id, type: "error", message}, and may post
   {id, type: "progress", done, total} before that. Requests run one at a time
   in the order they arrive.

     init {cancelFlag}                            -> {version, threads}
       cancelFlag: an Int32Array on a SharedArrayBuffer (cross-origin-isolated
       pages only, else null); the page stores 1 in it to stop the request
       under way, which then fails with the core's "cancelled" message.
     loadModel {key, bytes: ArrayBuffer}          -> {info}  (replaces the model under key)
     freeModel {key}                              -> {}
     classify {key, file: Blob, cropBottom, thumbnailSide, tta}
                                                  -> {result, decoder, ms}
       cropBottom < 0 takes the model's, and so does tta < 0 (or absent); tta 0:
       one pass a tile, 1: the mean over its 8 flips and rotations. result is
       what src/wasm_api.c emits (result.tta: whether the 8 were averaged).

   Fine-tuning's requests (trainDefaults, finetune) are in finetune-worker.js. */
"use strict";

// The self-contained cellsight.html runs this file from a blob with the module
// prepended (one thread). A served page loads the module beside it: the
// pthread build when cross-origin isolated (shared memory allowed) and it is
// there, else the single-thread one. Returns the threads to use.
function loadModule() {
  if (typeof CellsightModule !== "undefined") return 1;
  if (self.crossOriginIsolated) {
    try {
      importScripts("cellsight-web-mt.js");
      return Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 16));
    } catch {
      // not in this build: the single-thread module below
    }
  }
  importScripts("cellsight-web.js");
  return 1;
}
const threads = loadModule();
if (!self.finetuneHandlers) importScripts("finetune-worker.js");

// Each pthread's Web Worker is started before the module runs (poolSize, read
// by the pthread build), and loads the module from its URL.
const modulePromise = (async () => {
  const M = await CellsightModule(threads > 1
    ? { poolSize: threads - 1, mainScriptUrlOrBlob: new URL("cellsight-web-mt.js", self.location.href).href }
    : {});
  M._cs_set_threads(threads);
  return M;
})();
const models = new Map(); // key -> pointer to a cs_model in the module's heap

function lastError(M) {
  return M.UTF8ToString(M._csw_error());
}

// Copies bytes into the module's heap; the caller frees the pointer. In the
// pthread build, through the memory itself: another thread may have grown it
// since M.HEAPU8 was made (the single-thread build exports no wasmMemory).
function toHeap(M, bytes) {
  const ptr = M._malloc(Math.max(bytes.length, 1)) >>> 0;
  if (!ptr) throw new Error(`not enough memory for ${bytes.length} bytes`);
  (M.wasmMemory ? new Uint8Array(M.wasmMemory.buffer) : M.HEAPU8).set(bytes, ptr);
  return ptr;
}

// The formats stb decodes (the CLI's); anything else may still be one the
// browser knows (WebP, AVIF), but a broken JPEG is reported, never patched up
// by a more forgiving decoder into numbers the CLI would not give.
function isStbFormat(b) {
  const starts = (...sig) => sig.every((v, i) => b[i] === v);
  return starts(0xff, 0xd8, 0xff) || starts(0x89, 0x50, 0x4e, 0x47) ||
    starts(0x47, 0x49, 0x46, 0x38) || starts(0x42, 0x4d) ||
    (b[0] === 0x50 && (b[1] === 0x35 || b[1] === 0x36));
}

async function browserPixels(blob) {
  const bitmap = await createImageBitmap(blob, {
    colorSpaceConversion: "none", premultiplyAlpha: "none",
  });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

const handlers = {
  async init(M, { cancelFlag }) {
    if (cancelFlag) M.isCancelled = () => Atomics.load(cancelFlag, 0) !== 0;
    return { version: M.UTF8ToString(M._csw_version()), threads: M._cs_threads() };
  },

  async loadModel(M, { key, bytes }) {
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
    if (models.has(key)) M._csw_model_free(models.get(key));
    models.set(key, model);
    return { info };
  },

  async freeModel(M, { key }) {
    if (models.has(key)) M._csw_model_free(models.get(key));
    models.delete(key);
    return {};
  },

  async classify(M, { key, file, cropBottom, thumbnailSide, tta = -1 }, progress) {
    const model = models.get(key);
    if (!model) throw new Error(`no model "${key}" is loaded`);
    const start = performance.now();
    const bytes = new Uint8Array(await file.arrayBuffer());
    let result = null;
    M.onResult = (r) => (result = r);
    M.onProgress = (done, total) => progress(done, total);

    const ptr = toHeap(M, bytes);
    let ok = M._csw_classify_file_tta(model, ptr, bytes.length, cropBottom, thumbnailSide, tta);
    M._free(ptr);
    let decoder = "stb";
    if (!ok && !isStbFormat(bytes)) {
      const stbMessage = lastError(M);
      let image;
      try {
        image = await browserPixels(file);
      } catch {
        throw new Error(`${stbMessage}, nor one this browser can decode`);
      }
      const rgba = toHeap(M, image.data);
      ok = M._csw_classify_rgba_tta(model, rgba, image.width, image.height, cropBottom, thumbnailSide, tta);
      M._free(rgba);
      decoder = "browser";
    }
    if (!ok) throw new Error(lastError(M));
    return { result, decoder, ms: performance.now() - start };
  },

  ...self.finetuneHandlers,
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
