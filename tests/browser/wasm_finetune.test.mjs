/* Fine-tuning's C API in the page's WASM module (apps/wasm/wasm_finetune.c), called
   from node as web/finetune-worker.js calls it: the same split, tiles and
   figures as `cellsight finetune` on the same images, progress and cancelling,
   the confusion matrix, and clear messages for bad input.

   Run by tests/stage_browser.sh (CS_MODULE, CS_MODEL, CS_CLI, CS_OUT). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const { CS_MODULE, CS_MODEL, CS_CLI, CS_OUT } = process.env;
assert.ok(CS_MODULE && CS_MODEL && CS_CLI && CS_OUT, "run me through tests/stage_browser.sh");
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const trainDir = path.join(repo, "tests", "data", "train");

const M = await createRequire(import.meta.url)(CS_MODULE)();
const error = () => M.UTF8ToString(M._csw_error());

function heap(bytes) {
  const ptr = M._malloc(Math.max(bytes.length, 1)) >>> 0;
  M.HEAPU8.set(bytes, ptr);
  return ptr;
}
const cString = (s) => heap(new TextEncoder().encode(`${s}\0`));

function loadModel() {
  const bytes = fs.readFileSync(CS_MODEL), ptr = heap(bytes);
  const model = M._csw_model_load(ptr, bytes.length) >>> 0;
  M._free(ptr);
  assert.ok(model, error());
  return model;
}

function metadata(model) {
  const json = M._csw_model_info(model) >>> 0;
  const info = JSON.parse(M.UTF8ToString(json));
  M._free(json);
  return info.metadata;
}

// A data set of the fixture crops, labelled by the model's class order.
function dataset(classes) {
  const ds = M._csw_dataset_new() >>> 0;
  classes.forEach((c, label) => {
    for (const f of fs.readdirSync(path.join(trainDir, c)).sort()) {
      const bytes = fs.readFileSync(path.join(trainDir, c, f)), ptr = heap(bytes), name = cString(`${c}/${f}`);
      assert.equal(M._csw_dataset_add_file(ds, ptr, bytes.length, label, name, 0), 1, error());
      M._free(ptr);
      M._free(name);
    }
  });
  return ds;
}

// Runs fn with the module's events (Module.onEvent) going to handlers by kind.
function withEvents(handlers, fn) {
  M.onEvent = (kind, payload) => (handlers[kind] ? handlers[kind](payload) : false);
  try {
    return fn();
  } finally {
    M.onEvent = null;
  }
}

// csw_finetune_tta with strings, tta -1 (no classifying of the validation
// images afterwards), refit -1 (the mode's default); returns {ok, message, result, statuses}.
function finetune(model, ds, classes, mode, { epochs = 3, lr = 0, crop = 0, validate = 1, refit = -1, cancelAt = 0 } = {}) {
  const statuses = [];
  let result = null;
  const args = [classes.join(","), mode, "base.safetensors"].map(cString);
  const ok = withEvents({
    train_progress: (s) => (statuses.push(s), cancelAt > 0 && statuses.length >= cancelAt),
    train_result: (r) => (result = r),
  }, () => M._csw_finetune_tta(model, ds, args[0], args[1], epochs, lr, crop, validate, 1, args[2], -1, refit));
  args.forEach((p) => M._free(p));
  return { ok, message: ok ? "" : error(), result, statuses };
}

const base = loadModel();
const classes = JSON.parse(M.UTF8ToString(M._csw_model_info(base))).classes;

test("head mode: the CLI's split, tiles and figures; the confusion matrix; the refit; the file's metadata", () => {
  const model = loadModel(), ds = dataset(classes);
  const { ok, message, result, statuses } = finetune(model, ds, classes, "head");
  assert.equal(ok, 1, message);
  const md = metadata(model);
  assert.equal(md.mode, "head");
  assert.equal(md.base_model, "base.safetensors");
  assert.equal(md.epochs, "3");
  assert.equal(md.crop_bottom, "0");
  // Features first (epoch 0), then every epoch with its validation figures,
  // then (TTA on) the validation tiles scored in 8 views for the temperature;
  // then head mode's refit, on every image: its features, its epochs, no validation.
  const validated = statuses.filter((s) => !s.refit), refit = statuses.filter((s) => s.refit);
  assert.ok(validated[0].epoch === 0 && validated.some((s) => s.epoch === 3 && s.step === s.steps));
  const calibrating = validated.filter((s) => s.calibrating);
  assert.ok(calibrating.length > 0 && calibrating.at(-1) === validated.at(-1) && calibrating.at(-1).step === calibrating.at(-1).steps,
    "the calibrating pass ends the validated run");
  assert.ok(refit.every((s) => !s.calibrating), "the refit has no validation tiles to score");
  const ends = validated.filter((s) => s.epoch > 0 && !s.calibrating && s.step === s.steps);
  assert.ok(ends.every((s) => Number.isFinite(s.valLoss) && s.valAcc >= 0 && s.valAcc <= 1 && s.eta >= 0));
  assert.equal(statuses.indexOf(refit[0]), validated.length, "the refit comes after the validated run");
  assert.ok(refit[0].epoch === 0 && refit.some((s) => s.epoch === 3 && s.step === s.steps && Number.isNaN(s.valLoss)));
  assert.equal(md.refit_epochs, "3");
  // The confusion matrix counts the validation tiles of val_tile_accuracy.
  const K = classes.length, c = Array.from(result.confusion);
  assert.equal(c.length, K * K);
  assert.equal(c.reduce((a, b) => a + b, 0), Number(md.val_tiles));
  const hits = classes.reduce((n, _, k) => n + c[k * K + k], 0);
  assert.ok(Math.abs(hits / Number(md.val_tiles) - Number(md.val_tile_accuracy)) < 1e-5);
  assert.equal(result.trainImages + result.valImages, 6);

  // `cellsight finetune` on the same images: the same split and tiles, the
  // same figures but for float rounding (SIMD widths, threads).
  const out = path.join(CS_OUT, "wasm-finetune-cli.safetensors");
  execFileSync(CS_CLI, ["finetune", "--model", CS_MODEL, "--data", trainDir, "--classes", classes.join(","),
    "--mode", "head", "--epochs", "3", "--crop-bottom", "0", "--threads", "1", "--out", out], { stdio: "ignore" });
  const bytes = fs.readFileSync(out);
  const cli = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString()).__metadata__;
  const names = (list) => list.split(",").map((n) => n.split("/").slice(-2).join("/")).sort();
  assert.deepEqual(names(md.val_images), names(cli.val_images));
  assert.deepEqual(names(md.train_images), names(cli.train_images));
  for (const k of ["train_tiles", "val_tiles", "epochs_run", "tta", "lr", "augment", "val_split"]) assert.equal(md[k], cli[k], k);
  assert.equal(md.val_split, undefined, "every image trained: no split left to calibrate on");
  assert.equal(cli.refit_epochs, "3");
  assert.equal(md.train_images.split(",").length, 6, "the refit trained on every image");
  for (const k of ["val_loss", "threshold", "temperature"])
    assert.ok(Math.abs(Number(md[k]) - Number(cli[k])) < 1e-3, `${k} ${md[k]} here, ${cli[k]} from the CLI`);

  // The bytes for the download are the model.
  let saved = null;
  assert.equal(withEvents({ model_bytes: (b) => (saved = b) }, () => M._csw_model_bytes(model)), 1, error());
  const again = heap(saved), reloaded = M._csw_model_load(again, saved.length) >>> 0;
  M._free(again);
  assert.deepEqual(metadata(reloaded), md);
  [model, reloaded].forEach((m) => M._csw_model_free(m));
  M._csw_dataset_free(ds);
});

// (A whole full-mode epoch is minutes here; test_finetune.c runs one on small tiles.)
test("new classes resize the output layer; no validation; a full-mode run under way cancels, saying so", () => {
  const model = loadModel(), ds = dataset(classes);
  const renamed = classes.map((c) => `${c}-mine`);
  const resized = finetune(model, ds, renamed, "head", { epochs: 1 });
  assert.equal(resized.ok, 1, resized.message);
  assert.equal(metadata(model).classes, renamed.join(","));
  M._csw_model_free(model);

  // Without validation every image trains; no figures, the last epoch kept.
  const all = loadModel();
  const unvalidated = finetune(all, ds, classes, "head", { epochs: 2, validate: 0 });
  assert.equal(unvalidated.ok, 1, unvalidated.message);
  assert.equal(unvalidated.result.trainImages, 6);
  assert.equal(unvalidated.result.valImages, 0);
  assert.ok(Array.from(unvalidated.result.confusion).every((n) => n === 0));
  const md = metadata(all);
  assert.deepEqual([md.val_images, md.val_tiles, md.val_tile_accuracy, md.best_epoch], ["", "0", "none", "2"]);
  assert.equal(md.val_split, undefined, "no split to record");
  M._csw_model_free(all);

  const other = loadModel();
  const cancelled = finetune(other, ds, classes, "full", { cancelAt: 2 });
  assert.equal(cancelled.ok, 0);
  assert.match(cancelled.message, /cancelled/);
  assert.equal(cancelled.statuses.length, 2);
  assert.ok(cancelled.statuses.every((s) => s.epoch === 1), "full mode has no feature phase");
  M._csw_model_free(other);
  M._csw_dataset_free(ds);
});

test("bad input: messages, never an abort", () => {
  const ds = M._csw_dataset_new() >>> 0, name = cString("notes.txt");
  const text = heap(new TextEncoder().encode("not an image at all"));
  assert.equal(M._csw_dataset_add_file(ds, text, 19, 0, name, 0), 0);
  assert.match(error(), /not an image/);
  M._free(text);
  M._free(name);

  const model = loadModel(), images = dataset(classes);
  assert.match(finetune(model, images, classes, "fast").message, /neither head nor full/);
  assert.match(finetune(model, images, [classes[0]], "head").message, /2 to/);
  assert.match(finetune(model, images, [...classes, "third"], "head").message, /third has no training tiles/);
  const dup = loadModel();
  assert.ok(finetune(dup, images, [classes[0], classes[0]], "head").message.length > 10);
  // A crop that leaves no whole tile.
  const cropped = loadModel();
  assert.match(finetune(cropped, images, classes, "head", { crop: 200 }).message, /smaller than one 128-pixel tile|no training tiles/);
  [model, dup, cropped].forEach((m) => M._csw_model_free(m));
  M._csw_dataset_free(images);
  M._csw_dataset_free(ds);
});
