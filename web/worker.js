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
     checkModel {size}                            -> {}
       a model file's size (File.size) against the core's limit, before the
       page reads the file; refused with the core's message.
     loadModel {key, bytes: ArrayBuffer}          -> {info}  (replaces the model under key)
     freeModel {key}                              -> {}
     classify {key, file: Blob, cropBottom, thumbnailSide, tta}
                                                  -> {result, decoder, ms}
       cropBottom < 0 takes the model's, and so does tta < 0 (or absent); tta 0:
       one pass a tile, 1: the mean over its 8 flips and rotations. result is
       what apps/wasm/wasm_api.c emits (result.tta: whether the 8 were averaged).
     imageNames {names}                           -> {images}
       images[i]: whether names[i] ("folder/file" or "file") is an image's
       name by the core's rule (cs_image_name), as the CLI's folder walk and
       data sets decide.

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

// Throws the core's message (cs_image_check, as the CLI words it) unless a file
// of `bytes` (-1: not known) and an image of w x h (0: not known) are within
// the limits. A width over 2^31 must not wrap to a negative int on its way in.
function checkImage(M, bytes, w = 0, h = 0) {
  const int = (v) => Math.min(v, 0x7fffffff);
  if (!M._csw_image_check(bytes, int(w), int(h))) throw new Error(lastError(M));
}

// An image file's bytes, read only once its size is known to be within the
// limit: a 5 GB file dropped by mistake is refused, not copied into memory.
async function readImage(M, file) {
  checkImage(M, file.size);
  return new Uint8Array(await file.arrayBuffer());
}

// Width and height from the header of the formats only the browser decodes for
// us, WebP (VP8, VP8L, VP8X) and AVIF/HEIF (the largest 'ispe' of meta/iprp/
// ipco), without decoding anything; null for another format or a header cut short.
function browserImageSize(b) {
  const tag = (i) => String.fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3]);
  const u32be = (i) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  const u24le = (i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
  if (b.length >= 30 && tag(0) === "RIFF" && tag(8) === "WEBP") {
    if (tag(12) === "VP8X") return { width: 1 + u24le(24), height: 1 + u24le(27) };
    if (tag(12) === "VP8 ") return { width: (b[26] | (b[27] << 8)) & 0x3fff, height: (b[28] | (b[29] << 8)) & 0x3fff };
    if (tag(12) === "VP8L" && b[20] === 0x2f) {
      const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
    }
    return null;
  }
  if (b.length < 12 || tag(4) !== "ftyp") return null;
  let largest = null;
  const boxes = (start, end) => {
    for (let i = start; i + 8 <= end;) {
      let size = u32be(i), header = 8;
      if (size === 1 && i + 16 <= end) (size = u32be(i + 8) * 2 ** 32 + u32be(i + 12)), (header = 16);
      else if (size === 0) size = end - i;
      if (size < header) return;
      const type = tag(i + 4), inner = Math.min(i + size, end);
      if (type === "meta") boxes(i + header + 4, inner); // a full box: version and flags first
      else if (type === "iprp" || type === "ipco") boxes(i + header, inner);
      else if (type === "ispe" && i + header + 12 <= end) {
        const width = u32be(i + header + 4), height = u32be(i + header + 8);
        if (!largest || width * height > largest.width * largest.height) largest = { width, height };
      }
      i += size;
    }
  };
  boxes(0, b.length);
  return largest;
}

// RGBA pixels of a file stb cannot read (stbMessage says why), decoded by the
// browser if it can. The size is checked against the core's limits first: from
// the header for WebP and AVIF, before anything is decoded, and for any other
// format from the decoded bitmap, before a canvas of 4 bytes a pixel is made.
async function browserPixels(M, blob, bytes, stbMessage) {
  const header = browserImageSize(bytes);
  if (header) checkImage(M, -1, header.width, header.height);
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  } catch {
    throw new Error(`${stbMessage}, nor one this browser can decode`);
  }
  try {
    checkImage(M, -1, bitmap.width, bitmap.height);
  } catch (e) {
    bitmap.close();
    throw e;
  }
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
    const bytes = await readImage(M, file);
    let result = null;
    M.onResult = (r) => (result = r);
    M.onProgress = (done, total) => progress(done, total);

    const ptr = toHeap(M, bytes);
    let ok = M._csw_classify_file_tta(model, ptr, bytes.length, cropBottom, thumbnailSide, tta);
    M._free(ptr);
    let decoder = "stb";
    if (!ok && !isStbFormat(bytes)) {
      const image = await browserPixels(M, file, bytes, lastError(M));
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
