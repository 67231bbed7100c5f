/* The page, driven in Debian's Chromium as a person would use it: a picked
   model, test-time averaging, TIFFs, pasted images, threads, a large image.
   Every figure the page shows is checked against the native CLI's
   `predict --csv` on the same model and images. The core tests, in every
   browser tested, are core.mjs's.

   Run by tests/stage_browser.sh, which serves the site and sets
   CS_URL (the served page), CS_DIST (its folder), CS_CLI (the native CLI),
   CS_MODEL (the page's default model) and CS_OUT (screenshots, downloads). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { pngTransfer } from "./expect.mjs";
import { assertMatchesCli, cli, dropFiles, newContext, openPage, parseCsv, shot, shownResults, TOLERANCE,
  waitForResults } from "./chromium.mjs";

const { CS_URL, CS_DIST, CS_CLI, CS_MODEL, CS_OUT } = process.env;
assert.ok(CS_URL && CS_DIST && CS_CLI && CS_MODEL && CS_OUT, "run me through tests/stage_browser.sh");

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const samplesDir = path.join(repo, "web", "samples");
const SAMPLES = fs.readdirSync(samplesDir).filter((f) => /\.jpe?g$/i.test(f)).sort()
  .map((f) => path.join(samplesDir, f));
const expected = cli(CS_MODEL, SAMPLES);
// Both CSVs, the page's and the CLI's, end with a tta column (the averaging used, as a model file names
// it), um_per_px and scale.
const modelTta = (model) => (/^tta +dihedral8/m.test(execFileSync(CS_CLI, ["info", model], { encoding: "utf8" }))
  ? "dihedral8" : "none");

const syntheticImages = (page, specs) => page.evaluateHandle(pngTransfer, specs);

/* ---------------------------------------------------------------- tests */

test("a picked model and picked images; a new crop classifies again", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);

  // A model of three classes (softmax), loaded from a file as a user would.
  const threeLines = path.join(CS_OUT, "three-lines.safetensors");
  execFileSync(process.execPath, [path.join(repo, "tests", "browser", "make_model.mjs"), threeLines,
    "T47D,MDAMB231,MCF7", "7"]);
  await page.setInputFiles("#model-file", threeLines);
  await page.locator("#model-summary", { hasText: "3 classes: T47D, MDAMB231, MCF7" }).waitFor();
  assert.match(await page.locator("#model-select option:checked").textContent(), /three-lines\.safetensors/);

  await page.setInputFiles("#file-input", SAMPLES);
  await waitForResults(page, SAMPLES.length);
  assertMatchesCli(await shownResults(page), SAMPLES, cli(threeLines, SAMPLES));
  await shot(page, "03-picked-model-and-images");

  // Another crop: every image is classified again, as the CLI's --crop-bottom does.
  await page.fill("#crop-bottom", "0");
  // Blurring fires the change event, which sets every card waiting before it returns.
  await page.locator("#crop-bottom").blur();
  await waitForResults(page, SAMPLES.length);
  assertMatchesCli(await shownResults(page), SAMPLES, cli(threeLines, SAMPLES, "--crop-bottom", "0"));
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("the averaging switch: on by the model's tta, off as `predict --no-tta`, said in the card and the CSV, kept across visits", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  // The shipped model (trained, tta in its metadata) unless this build has none: then random weights with tta.
  let model = CS_MODEL;
  if (modelTta(CS_MODEL) !== "dihedral8") {
    model = path.join(CS_OUT, "with-tta.safetensors");
    execFileSync(process.execPath, [path.join(repo, "tests", "browser", "make_model.mjs"), model,
      "T47D,MDAMB231", "11", "tta=dihedral8"]);
  }
  const selectModel = async () => {
    if (model === CS_MODEL) return; // the page's default
    await page.setInputFiles("#model-file", model);
    await page.locator("#model-select option:checked", { hasText: "with-tta.safetensors" }).waitFor({ state: "attached" });
  };
  await selectModel();
  const box = page.getByRole("checkbox", { name: /Average over 8 flips\/rotations/ });
  assert.equal(await box.isChecked(), true, "a model with tta in its metadata ticks the box");
  assert.match(await page.locator("#tta-help").textContent(), /validated with it/);

  // One row of tiles (1040 - 896 = 144 rows) keeps the 8 passes a tile quick.
  await page.fill("#crop-bottom", "896");
  await page.locator("#crop-bottom").blur();
  const sample = SAMPLES[0], name = path.basename(sample);
  const crop = ["--crop-bottom", "896"];
  const downloadTiles = async () => {
    const [download] = await Promise.all([page.waitForEvent("download"),
      page.getByRole("button", { name: "Download tile CSV" }).click()]);
    return parseCsv(fs.readFileSync(await download.path(), "utf8"));
  };
  // The page's tile CSV against the CLI's with these flags: the tile probabilities.
  const tileProbs = (csv, flags) => {
    const want = cli(model, [sample], "--tiles", ...crop, ...flags);
    assert.deepEqual(csv.header, want.header);
    assert.equal(csv.rows.length, want.rows.length);
    const tta = csv.header.indexOf("tta");
    csv.rows.forEach((row, i) => assert.equal(row[tta], want.rows[i][tta], `tile ${i}: tta`));
    return csv.rows.map((row, i) => row.slice(6, tta).map((p, k) => {
      assert.ok(Math.abs(Number(p) - Number(want.rows[i][6 + k])) <= TOLERANCE, `tile ${i}: ${p} vs ${want.rows[i][6 + k]}`);
      return Number(p);
    }));
  };
  await dropFiles(page, [sample]);
  await waitForResults(page, 1);
  assertMatchesCli(await shownResults(page), [sample], cli(model, [sample], ...crop));
  assertMatchesCli(await shownResults(page), [sample], cli(model, [sample], ...crop, "--tta"));
  assert.match(await page.locator("#cards .card .meta").textContent(), /averages 8 rotations and flips of each tile/);
  const onTiles = await downloadTiles();
  assert.equal(onTiles.rows[0][onTiles.header.indexOf("tta")], "dihedral8");
  const on = tileProbs(onTiles, ["--tta"]);

  // Cleared: the image is classified again, one pass a tile, as --no-tta.
  await box.uncheck();
  await waitForResults(page, 1);
  const noTta = cli(model, [sample], ...crop, "--no-tta");
  assertMatchesCli(await shownResults(page), [sample], noTta);
  assert.match(await page.locator("#cards .card .meta").textContent(), /each tile seen once/);
  const off = tileProbs(await downloadTiles(), ["--no-tta"]);
  const largest = Math.max(...on.flatMap((probs, i) => probs.map((p, k) => Math.abs(p - off[i][k]))));
  assert.ok(largest > 2 * TOLERANCE, `the averaging changed no tile by more than ${largest}`);
  const [download] = await Promise.all([page.waitForEvent("download"),
    page.getByRole("button", { name: "Download CSV", exact: true }).click()]);
  const csv = parseCsv(fs.readFileSync(await download.path(), "utf8"));
  assert.deepEqual(csv.header, noTta.header);
  const tta = csv.header.indexOf("tta");
  assert.deepEqual([csv.rows[0][0], csv.rows[0][tta]], [name, "none"]);
  assert.equal(noTta.rows[0][tta], "none", "predict --no-tta says so in its tta column");
  await shot(page, "04b-averaging-off");

  // The choice outlives the visit, whatever the model says, until "Model's default".
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  await selectModel();
  assert.equal(await box.isChecked(), false, "the cleared box was not remembered");
  await page.getByRole("button", { name: "Averaging: the model's default" }).click();
  assert.equal(await box.isChecked(), true);
  assert.equal(await page.evaluate(() => localStorage.getItem("cellsight.tta")), null);
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("TIFFs (8-bit, 16-bit, float, LZW, Deflate, tiled, multi-page, BigTIFF, OME) and 16-bit PNG and PGM are decoded by the module as the CLI decodes them", async () => {
  const tiffDir = path.join(repo, "tests", "data", "tiff");
  const files = ["cells.png", "gray8.tif", "lzw.tif", "deflate.tif", "tiled.tif", "gray16.tif", "gray12.tif",
    "float.tif", "pages.tif", "bigtiff.tif", "ome.ome.tif", "rgb16.tif", "gray12.png", "gray12.pgm"]
    .map((f) => path.join(tiffDir, f));
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  await page.fill("#crop-bottom", "0"); // 256 x 128 fixtures: two tiles
  await page.locator("#crop-bottom").blur();
  await dropFiles(page, files);
  await waitForResults(page, files.length);
  const shown = await shownResults(page);
  const want = cli(CS_MODEL, files, "--crop-bottom", "0");
  assertMatchesCli(shown, files, want);
  // The same pixels as the PNG: the same figures, to the CSV's 6 decimals.
  const png = want.rows.find((r) => r[0] === "cells.png");
  const um = want.header.indexOf("um_per_px");
  for (const row of want.rows) assert.deepEqual(row.slice(1, um), png.slice(1, um), `${row[0]} is not the PNG's pixels`);
  await shot(page, "tiff");
  await context.close();
});

test("pixel size: each card says the size used and where it came from; one typed for files without it", async () => {
  const tiffDir = path.join(repo, "tests", "data", "tiff");
  const files = ["cells.png", "um_cm.tif", "um_ome_nm.ome.tif"].map((f) => path.join(tiffDir, f));
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  await page.fill("#crop-bottom", "0");
  await page.locator("#crop-bottom").blur();
  await dropFiles(page, files);
  await waitForResults(page, files.length);
  const sizes = async () => Object.fromEntries(await page.$$eval("#cards .card", (cards) =>
    cards.map((c) => [c.querySelector(".file-name").textContent, c.querySelector(".pixel-size").textContent])));
  let shown = await sizes();
  assert.match(shown["um_cm.tif"], /^Pixel size 0.6215 µm \(TIFF resolution\), resampled x0.5 to the model's 1.243 µm\.$/);
  assert.match(shown["um_ome_nm.ome.tif"], /0.6215 µm \(OME-XML\), resampled x0.5/);
  assert.match(shown["cells.png"], /^Pixel size not stated: classified as it is/);
  // Twice the magnification comes back to the crop's figures.
  const results = await shownResults(page);
  const png = results.find((r) => r.file === "cells.png");
  for (const r of results) assert.deepEqual(r.probs, png.probs, `${r.file}: not the crop's probabilities`);

  // A size typed for files that state none, as predict --um-per-px: the PNG is resampled x2.
  await page.getByLabel("Pixel size of images that do not state it (µm)").fill("2.486");
  await page.locator("#um-per-px").blur();
  await page.waitForFunction(() => /the size you gave/.test(document.querySelector("#cards .card .pixel-size").textContent));
  await waitForResults(page, files.length);
  shown = await sizes();
  assert.match(shown["cells.png"], /^Pixel size 2.486 µm \(the size you gave\), resampled x2 to the model's 1.243 µm\.$/);
  assert.match(shown["um_cm.tif"], /0.6215 µm \(TIFF resolution\)/, "a size the file states is kept");
  const want = cli(CS_MODEL, files, "--crop-bottom", "0", "--um-per-px", "2.486");
  assertMatchesCli(await shownResults(page), files, want);
  const [download] = await Promise.all([page.waitForEvent("download"),
    page.getByRole("button", { name: "Download CSV", exact: true }).click()]);
  const csv = parseCsv(fs.readFileSync(await download.path(), "utf8"));
  assert.deepEqual(csv.header, want.header);
  const um = csv.header.indexOf("um_per_px");
  for (const row of csv.rows)
    assert.deepEqual(row.slice(um, um + 2), want.rows.find((w) => w[0] === row[0]).slice(um, um + 2),
      `${row[0]}: um_per_px, scale`);
  await shot(page, "pixel-size");
  // Kept for the session.
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  assert.equal(await page.inputValue("#um-per-px"), "2.486");
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("pasted images: a PNG decoded as the CLI decodes it, a WebP by the browser", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  const png = await page.evaluate(async () => {
    const canvas = new OffscreenCanvas(512, 352);
    const ctx = canvas.getContext("2d");
    for (let i = 0; i < 400; i++) {
      ctx.fillStyle = `hsl(${(i * 53) % 360} 40% ${25 + ((i * 17) % 60)}%)`;
      ctx.beginPath();
      ctx.arc((i * 89) % 512, (i * 37) % 352, 3 + (i % 11), 0, 2 * Math.PI);
      ctx.fill();
    }
    const files = [await canvas.convertToBlob({ type: "image/png" }),
      await canvas.convertToBlob({ type: "image/webp", quality: 0.9 })];
    const dt = new DataTransfer();
    for (const blob of files) dt.items.add(new File([blob], "image", { type: blob.type }));
    document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true }));
    const bytes = new Uint8Array(await files[0].arrayBuffer());
    return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
  });
  await waitForResults(page, 2);
  const pngFile = path.join(CS_OUT, "pasted.png");
  fs.writeFileSync(pngFile, Buffer.from(png, "base64"));
  const shown = await shownResults(page);
  assert.equal(shown.length, 2);
  const [fromPng, fromWebp] = [".png", ".webp"].map((ext) => shown.find((r) => r.file.endsWith(ext)));
  assert.ok(fromPng && fromWebp, `pasted files are named by type: ${shown.map((r) => r.file)}`);
  const want = cli(CS_MODEL, [pngFile]);
  want.rows[0][0] = fromPng.file;
  assertMatchesCli([fromPng], [fromPng.file], want);
  const metas = await page.locator("#cards .card .meta").allTextContents();
  assert.equal(metas.filter((m) => m.includes("decoded by the browser")).length, 1, metas.join(" / "));
  assert.ok(fromWebp.tiles > 0 && fromWebp.probs.every((p) => p >= 0 && p <= 1));
  await shot(page, "05-pasted");
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("threads: the served page (cross-origin isolated) runs the pthread build, file:// one thread, with the same figures", async () => {
  const sample = SAMPLES[0]; // 1408 x 1040
  const run = async (url) => {
    const context = await newContext({ viewport: { width: 1280, height: 900 } });
    const page = await openPage(context, url);
    const isolated = await page.evaluate(() => self.crossOriginIsolated);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const engine = await page.locator("#engine").textContent();
    const started = Date.now();
    await dropFiles(page, [sample]);
    await waitForResults(page, 1);
    const ms = Date.now() - started;
    const shown = await shownResults(page);
    assertMatchesCli(shown, [sample], expected);
    assert.deepEqual(page.problems, []);
    await context.close();
    return { isolated, cores, engine, ms, probs: shown[0].probs };
  };
  const served = await run(CS_URL);
  const local = await run(`file://${path.join(CS_DIST, "cellsight.html")}`);
  console.log(`${path.basename(sample)}: served "${served.engine}" ${served.ms} ms, ` +
    `file:// "${local.engine}" ${local.ms} ms (drop to result)`);
  assert.equal(served.isolated, true, "tools/serve sends COOP/COEP");
  const want = Math.min(served.cores, 16);
  assert.equal(served.engine, `WebAssembly SIMD, ${want} thread${want === 1 ? "" : "s"}`);
  assert.equal(local.isolated, false);
  assert.equal(local.engine, "WebAssembly SIMD, 1 thread");
  served.probs.forEach((p, k) => assert.ok(Math.abs(p - local.probs[k]) <= TOLERANCE,
    `p[${k}]: ${p} with threads, ${local.probs[k]} without`));
});

test("a 4000 x 4000 image is decoded and classified off the page's thread", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  // Crop all but one row of tiles: the whole image is still decoded, the test stays quick.
  await page.fill("#crop-bottom", String(4000 - 128));
  await page.locator("#crop-bottom").blur();
  const dataTransfer = await syntheticImages(page, [["big.png", 4000]]);
  // The longest the page's thread went without running a timer while the worker was busy.
  await page.evaluate(() => {
    self.longestStall = 0;
    let last = performance.now();
    self.stallTimer = setInterval(() => {
      const now = performance.now();
      self.longestStall = Math.max(self.longestStall, now - last);
      last = now;
    }, 10);
  });
  const started = Date.now();
  await page.dispatchEvent("#drop-zone", "drop", { dataTransfer });
  await waitForResults(page, 1);
  const seconds = (Date.now() - started) / 1000;
  const stall = await page.evaluate(() => (clearInterval(self.stallTimer), self.longestStall));
  const card = page.locator("#cards .card").first();
  assert.equal(await card.getAttribute("class"), "card", await card.locator(".verdict").textContent());
  assert.match(await card.locator(".meta").textContent(), /31 tiles .* 4000 x 4000 px/);
  console.log(`4000 x 4000 PNG: ${seconds.toFixed(1)} s in the worker, the page's longest stall ${stall.toFixed(0)} ms`);
  // Decoding and classifying on the page's thread would stall it for all of that time.
  assert.ok(stall < 1000, `the page stalled for ${stall.toFixed(0)} ms`);
  await shot(page, "08-large-image");
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("a model still loading does not take the place of one chosen after it", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  const [first, other] = await page.evaluate(() =>
    [cellsight.picker.active, Array.from(cellsight.picker.models.keys())
      .find((k) => k !== cellsight.picker.active && !cellsight.picker.models.get(k).info)]);
  assert.ok(other, "a second model, not loaded yet");
  // The second chosen, then the first again before the second has loaded (two
  // quick choices; Playwright's own round trips would let the load finish).
  await page.evaluate(([a, b]) => {
    const select = document.getElementById("model-select");
    for (const key of [a, b]) {
      select.value = key;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }, [other, first]);
  await page.waitForFunction((key) => Boolean(cellsight.picker.models.get(key).info), other);
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 100)));
  assert.equal(await page.evaluate(() => cellsight.picker.active), first);
  assert.equal(await page.inputValue("#model-select"), first);
  assert.deepEqual(page.problems, []);
  await context.close();
});
