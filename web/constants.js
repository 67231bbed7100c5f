/* constants.js: the values the page and its worker share with the C core,
   spelled once. */

// Test-time averaging as a model file's metadata and the CLI's CSVs name it
// (the tta column): the 8 flips and rotations, or one pass a tile.
export const TTA_NAME = { on: "dihedral8", off: "none" };

// The tta argument of csw_classify_file_tta, csw_classify_rgba_tta and
// csw_finetune_tta: the model's own choice, one pass a tile, or the 8 averaged.
export const TTA_ARG = { model: -1, off: 0, on: 1 };

// Fine-tuning's modes (cs_train_defaults): the last layers only, or every layer.
export const MODE = { head: "head", full: "full" };

// The kinds of Module.onEvent(kind, payload), the module's one callback
// (apps/wasm/wasm_api.c, wasm_finetune.c). A progress handler's true return
// cancels the work under way.
export const EVENT = {
  progress: "progress",            // {done, total}: tiles classified so far
  result: "result",                // one classification's result
  trainProgress: "train_progress", // a cs_train_status, after every batch
  trainResult: "train_result",     // {confusion, trainImages, valImages, valTileAccuracy}
  valClassified: "val_classified", // {confusion, tiles, accuracy, loss, tta}
  modelBytes: "model_bytes",       // Uint8Array: the model as a .safetensors file
};
