/* finetune-worker.js: the fine-tuning requests of cellsight's Web Worker
   (worker.js merges them into its handlers). The page runs a training in a
   worker of its own, which it ends to cancel: a training never holds up
   classification, and a cancel cannot leave anything half done.

     trainDefaults {mode}                          -> {defaults}
       {epochs, lr, patience, crops_per_image, batch, refit} of a MODE
     finetune {base: {bytes, name}, images: [{file: Blob, label, name}],
               classes: [names], mode, epochs, lr, cropBottom, validate, refit, seed, tta,
               umPerPx}
                                                   -> {bytes, info, figures}
       progress: {done, total, status}, status as apps/wasm/wasm_finetune.c reports
       it; figures: {confusion, trainImages, valImages, valTileAccuracy,
       classified}, classified (when validated, not refit) the validation tiles as the
       page classifies them with tta (the page's box, TTA_ARG.off or .on):
       {confusion, tiles, accuracy, loss, tta}. epochs, lr <= 0 and
       cropBottom < 0 take the defaults; validate: half of each class's
       images validate (else none do, and the last epoch is kept); refit (with
       validate): then train again on every image (undefined: the mode's default); umPerPx
       (> 0): the pixel size of images whose files state none. The images
       train at the base's pixel size (resampled to it), which the model keeps. */
import { EVENT } from "./constants.js";
import { browserPixels, cString, isCoreFormat, lastError, readImage, toHeap, withEvents } from "./bridge.js";

// One image into the data set: the core first, as the CLI; the browser's decoder
// only for what the core cannot read at all.
async function addImage(M, ds, { file, label, name }, umPerPx) {
  let bytes;
  try {
    bytes = await readImage(M, file);
  } catch (e) {
    throw new Error(`${name}: ${e.message}`);
  }
  const namePtr = cString(M, name);
  try {
    const ptr = toHeap(M, bytes);
    let ok = M._csw_dataset_add_file(ds, ptr, bytes.length, label, namePtr, umPerPx);
    M._free(ptr);
    if (ok) return;
    const message = lastError(M);
    if (isCoreFormat(bytes)) throw new Error(`${name}: ${message}`);
    let image;
    try {
      image = await browserPixels(M, file, bytes, message);
    } catch (e) {
      throw new Error(`${name}: ${e.message}`);
    }
    const rgba = toHeap(M, image.data);
    ok = M._csw_dataset_add_rgba(ds, rgba, image.width, image.height, label, namePtr, umPerPx);
    M._free(rgba);
    if (!ok) throw new Error(`${name}: ${lastError(M)}`);
  } finally {
    M._free(namePtr);
  }
}

// Trains model (a pointer) on the data set ds; resolves with the new file's
// bytes and the figures the module reports.
function train(M, model, ds, { base, classes, mode, epochs, lr, cropBottom, validate, refit, seed, tta }, progress) {
  let figures = null, classified = null, bytes = null, last = 0;
  const events = {
    [EVENT.trainResult]: (f) => (figures = f),
    [EVENT.valClassified]: (c) => (classified = c),
    [EVENT.modelBytes]: (b) => (bytes = b),
    // Every epoch's end, and otherwise a few times a second.
    [EVENT.trainProgress]: (status) => {
      const now = performance.now();
      if (status.step === status.steps || now - last > 150) {
        last = now;
        progress(status.step, status.steps, { status });
      }
      return false;
    },
  };
  const strings = [classes.join(","), mode, base.name].map((s) => cString(M, s));
  return withEvents(M, events, () => {
    const [classList, modeName, baseName] = strings;
    if (!M._csw_finetune_tta(model, ds, classList, modeName, epochs, lr, cropBottom, validate ? 1 : 0, seed,
      baseName, tta, refit === undefined ? -1 : refit ? 1 : 0)) throw new Error(lastError(M));
    if (!M._csw_model_bytes(model)) throw new Error(lastError(M));
    return { bytes: bytes.buffer, figures: { ...figures, classified } };
  }).finally(() => strings.forEach((s) => M._free(s)));
}

export const finetuneHandlers = {
  async trainDefaults(M, { mode }) {
    const modePtr = cString(M, mode);
    const json = M._csw_train_defaults(modePtr) >>> 0;
    M._free(modePtr);
    if (!json) throw new Error(lastError(M));
    const defaults = JSON.parse(M.UTF8ToString(json));
    M._free(json);
    return { defaults };
  },

  async finetune(M, { base, images, umPerPx = 0, ...options }, progress) {
    const baseBytes = new Uint8Array(base.bytes);
    const basePtr = toHeap(M, baseBytes);
    const model = M._csw_model_load(basePtr, baseBytes.length) >>> 0;
    M._free(basePtr);
    if (!model) throw new Error(`${base.name}: ${lastError(M)}`);
    const ds = M._csw_dataset_new() >>> 0;
    try {
      if (!ds) throw new Error(lastError(M));
      for (let i = 0; i < images.length; i++) {
        progress(i, images.length, { status: { reading: true } });
        await addImage(M, ds, images[i], umPerPx);
      }
      const { bytes, figures } = await train(M, model, ds, { base, ...options }, progress);
      const json = M._csw_model_info(model) >>> 0;
      if (!json) throw new Error(lastError(M));
      const info = JSON.parse(M.UTF8ToString(json));
      M._free(json);
      return { bytes, info, figures };
    } finally {
      if (ds) M._csw_dataset_free(ds);
      M._csw_model_free(model);
    }
  },
};
