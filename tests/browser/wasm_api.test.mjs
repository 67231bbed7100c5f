/* The C API of the page's WASM module (apps/wasm/wasm_api.c), called from node as
   web/worker.js calls it: models from bytes, images from file bytes and from
   RGBA pixels, the crop override, progress and results through Module.onEvent,
   cancelling and error messages.

   Run by tests/stage_browser.sh, which sets CS_MODULE (the built module),
   CS_CLI (the native CLI) and CS_RANDOM_MODEL: a model of random weights, as
   the API is under test here, not the weights (the shipped model averages 8
   symmetries of every tile, 8 times the work). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { toHeap } from "../../web/bridge.js";

const { CS_MODULE, CS_RANDOM_MODEL, CS_CLI } = process.env;
assert.ok(CS_MODULE && CS_RANDOM_MODEL && CS_CLI, "run me through tests/stage_browser.sh");
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const sample = path.join(repo, "web", "samples",
  fs.readdirSync(path.join(repo, "web", "samples")).find((f) => /\.jpe?g$/i.test(f)));

const M = await createRequire(import.meta.url)(CS_MODULE)();
const error = () => M.UTF8ToString(M._csw_error());

function withHeap(bytes, fn) {
  const ptr = M._malloc(bytes.length) >>> 0;
  M.HEAPU8.set(bytes, ptr);
  try {
    return fn(ptr, bytes.length);
  } finally {
    M._free(ptr);
  }
}

function loadModel(bytes) {
  const model = withHeap(bytes, (ptr, n) => M._csw_model_load(ptr, n) >>> 0);
  assert.ok(model, error());
  return model;
}

// Runs one classification; returns the emitted result, or null and the message.
// onProgress({done, total}), if given, has the progress events; its true return cancels.
function classify(call, onProgress = () => false) {
  let result = null;
  M.onEvent = (kind, payload) => (kind === "result" ? (result = payload) : kind === "progress" && onProgress(payload));
  const ok = call();
  M.onEvent = null;
  return ok ? { result } : { result: null, message: error() };
}

const model = loadModel(fs.readFileSync(CS_RANDOM_MODEL));
const infoJson = M._csw_model_info(model) >>> 0;
const info = JSON.parse(M.UTF8ToString(infoJson));
M._free(infoJson);

test("a model's description: classes, crop, metadata", () => {
  assert.deepEqual(info.classes, info.metadata.classes.split(","));
  assert.equal(info.classes.length, 2);
  assert.equal(info.crop_bottom, Number(info.metadata.crop_bottom));
  assert.equal(info.tile, 128);
  assert.ok(info.params > 0);
});

test("a broken model is refused with the loader's message", () => {
  const bytes = Buffer.from("\x10\0\0\0\0\0\0\0{\"a\":1}");
  assert.equal(withHeap(bytes, (ptr, n) => M._csw_model_load(ptr, n)), 0);
  assert.match(error(), /\S{10,}/);
});

test("an image file gives the CLI's probabilities, tiles and thumbnail", () => {
  const bytes = fs.readFileSync(sample);
  const progress = [];
  const { result: r } = classify(() => withHeap(bytes, (ptr, n) => M._csw_classify_file_tta(model, ptr, n, -1, 300, -1, 0)),
    ({ done, total }) => void progress.push([done, total]));
  assert.ok(r, error());
  const [, row] = execFileSync(CS_CLI, ["predict", "--model", CS_RANDOM_MODEL, "--csv", sample], { encoding: "utf8" })
    .trim().split("\n").map((line) => line.split(","));
  assert.equal(r.predicted, info.classes.indexOf(row[1]));
  assert.equal(r.nforeground, Number(row[3]));
  r.probs.forEach((p, k) => assert.ok(Math.abs(p - Number(row[4 + k])) <= 1e-4));
  assert.equal(r.cropBottom, info.crop_bottom);
  assert.equal(r.ntiles, r.cols * r.rows);
  assert.equal(r.tiles.probs.length, r.ntiles * 2);
  // The smallest whole step that fits 1408 x 1040 in 300: 5.
  assert.deepEqual([r.thumbnail.width, r.thumbnail.height], [Math.floor(1408 / 5), Math.floor(1040 / 5)]);
  assert.equal(r.thumbnail.gray.length, r.thumbnail.width * r.thumbnail.height);
  assert.ok(progress.length > 1 && progress.at(-1)[0] === progress.at(-1)[1] && progress.at(-1)[1] === r.ntiles);
});

test("RGBA pixels give what the file of the same pixels gives; the crop can be overridden", () => {
  // A gray PGM, and the same pixels as RGBA: gray (77 g + 150 g + 29 g) >> 8 is g again.
  const w = 400, h = 300;
  const gray = Uint8Array.from({ length: w * h }, (_, i) => (i * 7919 + (i % w) * 31) % 251);
  const pgm = Buffer.concat([Buffer.from(`P5\n${w} ${h}\n255\n`), gray]);
  const rgba = new Uint8Array(w * h * 4);
  gray.forEach((g, i) => rgba.set([g, g, g, 255], 4 * i));
  for (const crop of [-1, 0]) {
    const fromFile = classify(() => withHeap(pgm, (ptr, n) => M._csw_classify_file_tta(model, ptr, n, crop, 64, -1, 0))).result;
    const fromRgba = classify(() => withHeap(rgba, (ptr) => M._csw_classify_rgba_tta(model, ptr, w, h, crop, 64, -1, 0))).result;
    assert.ok(fromFile && fromRgba, error());
    assert.deepEqual(fromRgba, fromFile);
    assert.equal(fromFile.rows, Math.floor((h - (crop < 0 ? info.crop_bottom : crop)) / info.tile));
  }
});

test("test-time averaging per classification: the model's, off and on, as the CLI's --no-tta and --tta", () => {
  // One row of 11 tiles (1040 - 896 = 144 rows): 88 forward passes with the 8 symmetries.
  const crop = 896;
  const bytes = fs.readFileSync(sample);
  const run = (tta) => {
    const { result } = classify(() => withHeap(bytes, (ptr, n) => M._csw_classify_file_tta(model, ptr, n, crop, 64, tta, 0)));
    assert.ok(result, error());
    return result;
  };
  const cli = (...flags) => {
    const [header, ...rows] = execFileSync(CS_CLI, ["predict", "--model", CS_RANDOM_MODEL, "--csv", "--tiles",
      "--crop-bottom", `${crop}`, ...flags, sample], { encoding: "utf8" }).trim().split("\n");
    const tta = header.split(",").indexOf("tta");
    return rows.map((line) => line.split(",").slice(6, tta).map(Number));
  };
  const [byModel, off, on] = [-1, 0, 1].map(run);
  assert.equal(info.tta, 0, "the random model has no tta in its metadata");
  assert.deepEqual([byModel.tta, off.tta, on.tta], [false, false, true]);
  assert.deepEqual(off.tiles.probs, byModel.tiles.probs);
  for (const [r, want] of [[off, cli("--no-tta")], [on, cli("--tta")]]) {
    assert.equal(want.length, r.ntiles);
    want.forEach((probs, i) => probs.forEach((p, k) =>
      assert.ok(Math.abs(r.tiles.probs[i * 2 + k] - p) <= 1e-4, `tile ${i}, class ${k}: ${r.tiles.probs[i * 2 + k]} vs ${p}`)));
  }
  // Random weights give probabilities near 0.5 either way; still, on and off must differ by more
  // than the tolerance above, or the comparisons with the CLI could not tell them apart.
  const largest = Math.max(...on.tiles.probs.map((p, i) => Math.abs(p - off.tiles.probs[i])));
  assert.ok(largest > 2e-4, `averaging the 8 symmetries changed no tile by more than ${largest}`);
});

test("bad images, cancelling: messages, never an abort", () => {
  const text = Buffer.from("not an image at all");
  const notImage = classify(() => withHeap(text, (ptr, n) => M._csw_classify_file_tta(model, ptr, n, -1, 64, -1, 0)));
  assert.equal(notImage.result, null);
  assert.match(notImage.message, /not an image/);

  const truncated = fs.readFileSync(sample).subarray(0, 5000);
  const cut = classify(() => withHeap(truncated, (ptr, n) => M._csw_classify_file_tta(model, ptr, n, -1, 64, -1, 0)));
  assert.equal(cut.result, null);
  assert.ok(cut.message.length > 10);

  const tiny = new Uint8Array(50 * 50 * 4);
  const small = classify(() => withHeap(tiny, (ptr) => M._csw_classify_rgba_tta(model, ptr, 50, 50, 0, 64, -1, 0)));
  assert.equal(small.result, null);
  assert.ok(small.message.length > 10);

  const bytes = fs.readFileSync(sample);
  const cancelled = classify(() => withHeap(bytes, (ptr, n) => M._csw_classify_file_tta(model, ptr, n, -1, 64, -1, 0)),
    () => true);
  assert.equal(cancelled.result, null);
  assert.match(cancelled.message, /cancelled/);
});

test("pixel size: the file's or the one given brings an image to the model's; the CSV texts are the CLI's", () => {
  const shipped = loadModel(fs.readFileSync(path.join(repo, "model", "t47d-vs-mdamb231.safetensors")));
  const tiff = path.join(repo, "tests", "data", "tiff");
  const run = (file, um) => classify(() => withHeap(fs.readFileSync(path.join(tiff, file)),
    (ptr, n) => M._csw_classify_file_tta(shipped, ptr, n, 0, 64, 0, um)));
  const png = run("cells.png", 0).result, big = run("um_cm.tif", 0).result, given = run("cells.png", 2.486).result;
  assert.ok(png && big && given, error());
  assert.deepEqual([png.pixelSize.um, png.pixelSize.source, png.pixelSize.scale], ["", "", "1"]);
  assert.ok(Math.abs(png.pixelSize.modelUm - 1.243) < 1e-6);
  // Twice the magnification, each pixel 2 x 2: area averages give the crop's pixels back.
  assert.deepEqual([big.pixelSize.um, big.pixelSize.source, big.pixelSize.scale], ["0.6215", "TIFF resolution", "0.5"]);
  assert.deepEqual(Array.from(big.probs), Array.from(png.probs));
  assert.deepEqual(Array.from(big.tiles.x), [0, 256]);
  assert.ok(big.width === 512 && Math.abs(big.pixelSize.scaleX - 0.5) < 1e-6);
  // The size given for a file that states none, as predict --um-per-px.
  const [head, row] = execFileSync(CS_CLI, ["predict", "--model", path.join(repo, "model", "t47d-vs-mdamb231.safetensors"),
    "--csv", "--crop-bottom", "0", "--no-tta", "--um-per-px", "2.486", path.join(tiff, "cells.png")], { encoding: "utf8" })
    .trim().split("\n").map((line) => line.split(","));
  const cli = Object.fromEntries(head.map((h, i) => [h, row[i]]));
  assert.deepEqual([given.pixelSize.um, given.pixelSize.source, given.pixelSize.scale], [cli.um_per_px, "given", cli.scale]);
  assert.equal(given.nforeground, Number(cli.tiles));
  assert.ok(Math.abs(given.probs[0] - Number(cli.p_T47D)) <= 1e-6);
  // A size no microscope has is refused with the library's message.
  const bad = run("cells.png", 500);
  assert.equal(bad.result, null);
  assert.match(bad.message, /not a microscope's/);
  M._csw_model_free(shipped);
});

test("the page's own messages give sizes in MiB as the core's do (toHeap short of memory)", () => {
  const starved = Object.create(M, { _malloc: { value: () => 0 } });
  assert.throws(() => toHeap(starved, new Uint8Array(3 << 20)), /^Error: not enough memory for 3 MiB$/);
  assert.throws(() => toHeap(starved, new Uint8Array((5 << 20) + 1)), /^Error: not enough memory for 5\.1 MiB$/);
});

test("an expected-lines CSV: rows, lines by the CLI's rule, and a bad one's message", () => {
  const cstr = (s) => new TextEncoder().encode(`${s}\0`);
  const read = (text) => withHeap(new TextEncoder().encode(text), (ptr, n) => M._csw_expected_read(ptr, n) >>> 0);
  const table = read('\uFEFFfile,expected\r\nrun/a.jpg,T47D\r\n"b,1.jpg",MDAMB231\r\nstack.tif,T47D');
  assert.ok(table, error());
  assert.equal(M._csw_expected_rows(table), 3);
  const lineOf = (name) => {
    const line = withHeap(cstr(name), (ptr) => M._csw_expected_line(table, ptr) >>> 0);
    return line ? M.UTF8ToString(line) : null;
  };
  assert.deepEqual(["run/a.jpg", "other/a.jpg", "a.jpg", "d/b,1.jpg", "stack.tif#2", "c.jpg"].map(lineOf),
    ["T47D", null, null, "MDAMB231", "T47D", null]);
  assert.deepEqual([0, 1, 2].map((i) => M.UTF8ToString(M._csw_expected_row_line(table, i))).sort(),
    ["MDAMB231", "T47D", "T47D"]);
  M._csw_expected_free(table);
  assert.equal(read("file,expected\na.jpg,T47D\nb.jpg\n"), 0);
  assert.equal(error(), "row 3 is not a whole row of file and expected");
});
