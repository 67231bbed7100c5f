/* The Teach panel (fine-tuning in the browser), driven in Debian's Chromium as
   a person would use it: fill two bins with images (one by a drop, one by its
   picker), train in head mode, see the accuracy, use the new model, reload
   and find it still listed, download it and check that the native CLI
   predicts with it what the page predicts; and, in the self-contained page
   from file://, fill the bins from a folder and cancel a full-mode run, after
   which the model in use classifies exactly as before.

   Run by tests/stage_browser.sh (CS_URL, CS_DIST, CS_CLI, CS_OUT; see page.test.mjs).
   The images are the committed 384 x 256 crops of tests/data/train. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { LAST_COLUMNS, newContext, openPage, shot } from "./chromium.mjs";

const { CS_URL, CS_DIST, CS_CLI, CS_OUT } = process.env;
assert.ok(CS_URL && CS_DIST && CS_CLI && CS_OUT, "run me through tests/stage_browser.sh");

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const trainDir = path.join(repo, "tests", "data", "train");
const imagesOf = (line) => fs.readdirSync(path.join(trainDir, line)).sort().map((f) => path.join(trainDir, line, f));
const T47D = imagesOf("T47D"), MDAMB231 = imagesOf("MDAMB231");
const TOLERANCE = 1e-4;

// The page's bottom crop, typed in and left (its change event, once).
async function setCrop(page, px) {
  await page.fill("#crop-bottom", String(px));
  await page.locator("#crop-bottom").blur();
}

// A DataTransfer of files, as a file manager's drag hands them over.
function dataTransfer(page, files) {
  const payload = files.map((f) => ({ name: path.basename(f), b64: fs.readFileSync(f).toString("base64") }));
  return page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const { name, b64 } of list)
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type: "image/jpeg" }));
    return dt;
  }, payload);
}

// Images to classify, dropped on the page's drop zone; resolves with the cards' figures.
async function classify(page, files) {
  await page.evaluate(() => document.getElementById("clear-button").click());
  await page.dispatchEvent("#drop-zone", "drop", { dataTransfer: await dataTransfer(page, files) });
  return shown(page, files.length);
}

async function shown(page, count) {
  await page.waitForFunction((n) => {
    const cards = document.querySelectorAll("#cards .card");
    return cards.length === n && !document.querySelector("#cards .card.waiting");
  }, count, { timeout: 120_000 });
  return page.$$eval("#cards .card", (cards) => cards.map((card) => {
    // The bars are sorted by probability; data-class is each one's class index.
    const bars = Array.from(card.querySelectorAll(".probs li[data-class]"))
      .sort((a, b) => a.dataset.class - b.dataset.class);
    return {
      file: card.querySelector(".file-name").textContent,
      predicted: card.querySelector(".verdict strong")?.textContent,
      probs: bars.map((li) => Number(li.dataset.probability)),
      classes: bars.map((li) => li.querySelector(".class-name").textContent),
    };
  }));
}

// Trains for some epochs, as a person starts it, and waits for the result.
async function trainFor(page, epochs) {
  await page.fill("#teach-epochs", String(epochs));
  await page.click("#teach-train");
  await page.locator("#teach-result").waitFor({ state: "visible", timeout: 300_000 });
}

// The bins: T47D's images dropped on the first, MDAMB231's picked for the second.
// Resolves with the class names in the model's (and the bins') order.
async function fillBins(page) {
  const names = await page.$$eval("#teach-bins .bin-name", (inputs) => inputs.map((i) => i.value));
  const modelClasses = await page.evaluate(() => cellsight.activeModel().info.classes);
  assert.deepEqual(names, modelClasses, "the bins start from the model's classes");
  assert.deepEqual([...names].sort(), ["MDAMB231", "T47D"]);
  const t47d = names.indexOf("T47D"), mdamb231 = names.indexOf("MDAMB231");
  await page.dispatchEvent(`#teach-bins .bin[data-bin='${t47d}']`, "drop", { dataTransfer: await dataTransfer(page, T47D) });
  await page.setInputFiles(`#teach-bin-file-${mdamb231}`, MDAMB231);
  await page.locator(`#teach-bins .bin[data-bin='${t47d}'] .bin-count`, { hasText: `${T47D.length} images` }).waitFor();
  await page.locator(`#teach-bins .bin[data-bin='${mdamb231}'] .bin-count`, { hasText: `${MDAMB231.length} images` }).waitFor();
  return names;
}

function safetensorsMetadata(file) {
  const bytes = fs.readFileSync(file);
  return JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString()).__metadata__;
}

test("head mode: trained, kept across a reload, downloaded, and the CLI predicts as the page", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
  let page = await openPage(context);
  // The crops have no overlay strip: nothing to crop, for training and classifying alike.
  await setCrop(page, 0);
  // The page's averaging over 8 flips/rotations on: the panel's figures must honour it too.
  await page.check("#tta");
  const classes = await fillBins(page);
  // From the model in use, whatever base model/ may ship (startfrom.test.mjs tests the default).
  await page.selectOption("#teach-start", "model/t47d-vs-mdamb231.safetensors");
  assert.equal(await page.locator("#cards .card").count(), 0, "a drop on a bin is not classified");
  assert.equal(await page.locator("input[name=teach-mode]:checked").getAttribute("value"), "head");
  // Validated only (no refit): the validation images can then be classified with the model.
  await page.uncheck("#teach-refit");
  await page.fill("#teach-epochs", "20");
  await shot(page, "finetune-01-bins");
  const before = await classify(page, [T47D[0]]);

  await page.click("#teach-train");
  await page.locator("#teach-cancel").waitFor({ state: "visible" });
  await page.locator("#teach-result").waitFor({ state: "visible", timeout: 300_000 });
  const accuracy = await page.textContent("#teach-result dd[data-key=val_tile_accuracy]");
  assert.match(accuracy, /^\d+(\.\d)?%$/, "the validation accuracy is shown");
  // The validation tiles as the page classifies them, with the box's averaging: figures and confusion matrix.
  const classified = await page.$eval("#teach-result dd[data-key=val_classified]", (dd) => ({ ...dd.dataset }));
  assert.equal(classified.tta, "true", "the Teach panel's figures average over 8 flips/rotations, as the box says");
  assert.match(await page.textContent("#teach-result dd[data-key=val_classified]"), /averaged over 8 flips\/rotations/);
  const confusion = await page.$$eval("#teach-result table.confusion tbody td", (cells) => cells.map((c) => Number(c.textContent)));
  assert.equal(confusion.length, 4);
  const hits = confusion[0] + confusion[3], tiles = confusion.reduce((a, b) => a + b, 0);
  assert.equal(tiles, Number(classified.tiles));
  assert.ok(tiles > 0);
  assert.ok(Math.abs(hits / tiles - Number(classified.accuracy)) < 1e-9, `${classified.accuracy} is what the confusion matrix says`);
  assert.match(await page.textContent("#teach-result table.confusion caption"), /averaged over 8 flips\/rotations/);
  assert.ok(await page.locator("#teach-loss polyline.chart-val").getAttribute("points"), "the validation loss is drawn");
  const ms = Number(await page.getAttribute("#teach", "data-trained-ms"));
  console.log(`head mode on ${T47D.length + MDAMB231.length} crops: validation tile accuracy ${accuracy}, ${(ms / 1000).toFixed(1)} s`);
  await shot(page, "finetune-02-trained");

  // Listed at once, stored before anyone clicks anything.
  const option = page.locator("#model-select option", { hasText: "(fine-tuned)" });
  assert.equal(await option.count(), 1);
  const label = await option.textContent();
  assert.match(label, new RegExp(`${classes.join(" vs ")}, head mode`));
  const stored = await page.evaluate(async () => (await cellsight.savedModels.list()).length);
  assert.equal(stored, 1);

  // "Use this model": the image on show is classified again with it.
  await page.click("#teach-use");
  await page.waitForFunction((l) => document.getElementById("model-select").selectedOptions[0].textContent === l, label);
  const after = await shown(page, 1);
  assert.notDeepEqual(after[0].probs, before[0].probs, "classified again with the new model");

  // A reload: still there, and usable.
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  assert.equal(await page.locator("#model-select option", { hasText: label }).count(), 1, "kept across a reload");
  const key = await page.locator("#model-select option", { hasText: label }).getAttribute("value");
  await page.selectOption("#model-select", key);
  await page.locator("#saved-download").waitFor({ state: "visible" });
  assert.equal(await page.inputValue("#crop-bottom"), "0", "the crop the model was trained with");
  const image = MDAMB231[0];
  const onPage = (await classify(page, [image]))[0];

  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#saved-download")]);
  assert.match(download.suggestedFilename(), /\.safetensors$/);
  const file = path.join(CS_OUT, download.suggestedFilename());
  await download.saveAs(file);
  const meta = safetensorsMetadata(file);
  assert.equal(meta.classes, classes.join(","));
  assert.equal(meta.mode, "head");
  assert.equal(meta.tta, "dihedral8", "the averaging its figures were measured with");
  assert.equal(meta.epochs, "20");
  assert.equal(meta.base_model, "t47d-vs-mdamb231.safetensors");
  assert.equal(meta.val_split, "images 2/2", "the split, as the CLI records it");
  assert.equal(meta.val_tile_accuracy && `${(100 * Number(meta.val_tile_accuracy)).toFixed(1)}%`, accuracy);
  for (const k of ["train_images", "val_images", "train_tiles", "val_tiles", "val_loss", "epochs_run", "best_epoch"])
    assert.ok(meta[k], `metadata ${k}`);
  assert.equal(meta.train_images.split(",").length + meta.val_images.split(",").length, T47D.length + MDAMB231.length);
  for (const c of classes) assert.match(meta.val_images, new RegExp(`(^|,)${c}/`), `a ${c} image validates`);
  assert.equal(Number(classified.tiles), Number(meta.val_tiles), "the same validation tiles as training's");

  // The panel's figures are `cellsight eval --tta` of the new model on the validation images, not --no-tta's.
  const valDir = path.join(CS_OUT, "finetune-val");
  for (const name of meta.val_images.split(",")) {
    const [line, image] = name.split("/");
    fs.mkdirSync(path.join(valDir, line), { recursive: true });
    fs.copyFileSync(path.join(trainDir, line, image), path.join(valDir, line, image));
  }
  const evaluate = (flag, model = file) => JSON.parse(execFileSync(CS_CLI, ["eval", "--model", model, "--data", valDir,
    "--json", flag], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
  const [averaged, onePass] = [evaluate("--tta"), evaluate("--no-tta")];
  assert.equal(averaged.tiles, tiles);
  assert.deepEqual(averaged.confusion.flat(), confusion);
  assert.ok(Math.abs(averaged.tile_accuracy - Number(classified.accuracy)) < 1e-9);
  // A validated model's tile loss is small (near 0.001 here): compared to the
  // float rounding between the builds (and eval's six digits), not to 1e-4.
  const close = Math.max(1e-6, 1e-5 * averaged.tile_loss);
  assert.ok(Math.abs(averaged.tile_loss - Number(classified.loss)) <= close,
    `validation loss ${classified.loss} on the page, ${averaged.tile_loss} from eval --tta`);
  assert.ok(Math.abs(averaged.tile_loss - onePass.tile_loss) > 10 * close,
    `eval --tta and --no-tta differ by only ${Math.abs(averaged.tile_loss - onePass.tile_loss)}: the test cannot tell them apart`);

  // The native CLI reads it and predicts what the page predicted.
  const csv = execFileSync(CS_CLI, ["predict", "--model", file, "--csv", image], { encoding: "utf8" })
    .trim().split("\n").map((line) => line.split(","));
  assert.deepEqual(csv[0].slice(4), [...classes.map((c) => `p_${c}`), ...LAST_COLUMNS]);
  assert.equal(onPage.predicted, csv[1][1]);
  onPage.probs.forEach((p, k) => assert.ok(Math.abs(p - Number(csv[1][4 + k])) <= TOLERANCE,
    `p_${onPage.classes[k]}: ${p} on the page, ${csv[1][4 + k]} from the CLI`));

  // The file loads again in the page, as any model file does.
  await page.setInputFiles("#model-file", file);
  await page.waitForFunction(() => document.getElementById("model-select").selectedOptions[0].textContent.endsWith("(yours)"));
  const again = await shown(page, 1);
  onPage.probs.forEach((p, k) => assert.ok(Math.abs(p - again[0].probs[k]) <= TOLERANCE));

  // Delete asks first; declined, it stays; accepted, it goes, from storage too.
  await page.selectOption("#model-select", key);
  page.once("dialog", (d) => d.dismiss());
  await page.click("#saved-delete");
  assert.equal(await page.locator("#model-select option", { hasText: label }).count(), 1);
  page.once("dialog", (d) => d.accept());
  await page.click("#saved-delete");
  await page.locator("#model-select option", { hasText: label }).waitFor({ state: "detached" });
  assert.equal(await page.evaluate(async () => (await cellsight.savedModels.list()).length), 0);
  assert.doesNotMatch(await page.locator("#model-select option:checked").textContent(), /fine-tuned/);
  await shot(page, "finetune-03-after-reload");

  // The box cleared, the same training (the same seed, so the same weights,
  // but a temperature fitted on one pass a tile): its validation images now
  // classified one pass a tile, as `eval --no-tta` of the model it makes.
  const shipped = await page.$$eval("#model-select option", (options) =>
    options.map((o) => o.value).find((v) => /t47d-vs-mdamb231\.safetensors$/.test(v)));
  await page.selectOption("#model-select", shipped);
  await page.waitForFunction(() => /t47d-vs-mdamb231/.test(cellsight.picker.active));
  await setCrop(page, 0);
  await page.uncheck("#tta");
  await page.selectOption("#teach-start", shipped); // the base shipped beside it is the default start
  await fillBins(page);
  await page.uncheck("#teach-refit");
  await trainFor(page, 20);
  const plain = await page.$eval("#teach-result dd[data-key=val_classified]", (dd) => ({ ...dd.dataset }));
  assert.equal(plain.tta, "false");
  // Measured one pass a tile, it predicts so, wherever it goes.
  const [plainDownload] = await Promise.all([page.waitForEvent("download"), page.click("#teach-download")]);
  const plainFile = path.join(CS_OUT, `plain-${plainDownload.suggestedFilename()}`);
  await plainDownload.saveAs(plainFile);
  assert.equal(safetensorsMetadata(plainFile).tta, "none", "a model measured one pass a tile records no averaging");
  assert.match(await page.textContent("#teach-result table.confusion caption"), /one pass a tile/);
  const [plainOnePass, plainAveraged] = [evaluate("--no-tta", plainFile), evaluate("--tta", plainFile)];
  assert.ok(Math.abs(plainOnePass.tile_loss - Number(plain.loss)) <= close,
    `validation loss ${plain.loss} on the page with the box cleared, ${plainOnePass.tile_loss} from eval --no-tta`);
  assert.ok(Math.abs(plainAveraged.tile_loss - plainOnePass.tile_loss) > 10 * close,
    `eval --tta and --no-tta of the plain model differ by only ${Math.abs(plainAveraged.tile_loss - plainOnePass.tile_loss)}`);
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("head mode refits by default: trained again on every image, the validated run's figures shown as such", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
  const page = await openPage(context);
  await setCrop(page, 0);
  await page.selectOption("#teach-start", await page.inputValue("#model-select"));
  const classes = await fillBins(page);
  assert.ok(await page.isChecked("#teach-refit"), "head mode's default");
  await page.check("input[name=teach-mode][value=full]");
  assert.ok(!(await page.isChecked("#teach-refit")), "full mode's default");
  await page.check("input[name=teach-mode][value=head]");
  assert.ok(await page.isChecked("#teach-refit"));
  await page.uncheck("#teach-validate");
  assert.ok(await page.isDisabled("#teach-refit"), "nothing to refit after without validation");
  await page.check("#teach-validate");
  assert.ok(await page.isEnabled("#teach-refit"));
  await trainFor(page, 3);
  assert.match(await page.textContent("#teach-result dd[data-key=refit]"), /^on every image, the validation images too, for 3 epochs/);
  assert.equal(await page.locator("#teach-result dd[data-key=val_classified]").count(), 0,
    "its weights trained on the validation images: not classified as if unseen");
  assert.match(await page.textContent("#teach-result table.confusion caption"), /Validation tiles in training/);
  const confusion = await page.$$eval("#teach-result table.confusion tbody td", (cells) => cells.map((c) => Number(c.textContent)));
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#teach-download")]);
  const file = path.join(CS_OUT, `refit-${download.suggestedFilename()}`);
  await download.saveAs(file);
  const meta = safetensorsMetadata(file);
  assert.equal(meta.refit_epochs, "3");
  assert.equal(meta.val_split, undefined);
  assert.equal(confusion.reduce((a, b) => a + b, 0), Number(meta.val_tiles), "the validated run's tiles");
  assert.equal(meta.train_images.split(",").length, T47D.length + MDAMB231.length, "every image trained");
  assert.equal(meta.classes, classes.join(","));
  assert.deepEqual(page.problems, []);
  await context.close();
});

// From file:// this time (the self-contained page, its worker inlined), the
// bins filled from a folder of class folders.
test("a full-mode run cancelled leaves the model in use as it was", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await openPage(context, `file://${path.join(CS_DIST, "cellsight.html")}`);
  await setCrop(page, 0);
  const image = [T47D[1]];
  const before = await classify(page, image);
  const model = await page.inputValue("#model-select");
  const classes = await page.evaluate(() => cellsight.activeModel().info.classes);
  await page.setInputFiles("#teach-folder", trainDir);
  for (const [i, c] of classes.entries())
    await page.locator(`#teach-bins .bin[data-bin='${i}'] .bin-count`, { hasText: `${imagesOf(c).length} images` }).waitFor();
  assert.deepEqual(await page.$$eval("#teach-bins .bin-name", (inputs) => inputs.map((i) => i.value)), classes,
    "the folders fill the model's bins, in its order");
  await page.check("input[name=teach-mode][value=full]");
  assert.ok(Number(await page.inputValue("#teach-epochs")) > 1, "full mode's own defaults");
  await page.click("#teach-train");
  // Under way: past reading the images, into the first epoch.
  await page.locator("#teach-status", { hasText: /^Epoch 1 of/ }).waitFor({ timeout: 120_000 });
  await shot(page, "finetune-04-full-running");
  await page.click("#teach-cancel");
  await page.locator("#teach-status", { hasText: "Cancelled" }).waitFor();
  assert.ok(await page.locator("#teach-cancel").isHidden());
  assert.ok(await page.locator("#teach-result").isHidden());
  assert.equal(await page.locator("#model-select option", { hasText: "(fine-tuned)" }).count(), 0);
  assert.equal(await page.evaluate(async () => (await cellsight.savedModels.list()).length), 0);
  assert.equal(await page.inputValue("#model-select"), model);
  const after = await classify(page, image);
  assert.deepEqual(after, before, "the model in use classifies exactly as before");
  // And the panel is ready for another run.
  assert.ok(await page.locator("#teach-train").isEnabled());
  assert.deepEqual(page.problems, []);
  await context.close();
});

// Storage the browser has not promised to keep (best effort: Safari clears it
// after 7 days without a visit, any browser when the disk runs short, a
// private window when it closes) loses a model without a word: the page says
// so when training ends and wherever the model is listed, until it is promised.
test("a browser that may clear its storage: the new model comes with the advice to download it", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 1000 } });
  await context.addInitScript(() => {
    const promised = async () => localStorage.getItem("test-storage") === "lasting";
    navigator.storage.persisted = promised;
    navigator.storage.persist = promised;
  });
  const page = await openPage(context);
  await setCrop(page, 0);
  await fillBins(page);
  await trainFor(page, 3);
  assert.match(await page.textContent("#teach-status"), /Saved in this browser for now, which may clear it: download it to keep it\.$/);
  const warning = page.locator("#teach-not-lasting");
  assert.match(await warning.textContent(), /may clear this model without a word .*Download it to be sure to keep it\./);
  assert.equal(await page.evaluate(async () => (await cellsight.savedModels.list()).length), 1, "stored all the same");
  await page.click("#teach-use");
  await page.locator("#saved-not-lasting").waitFor({ state: "visible" });
  await shot(page, "finetune-05-not-lasting");

  // Once the browser promises to keep it: no warning.
  await page.evaluate(() => localStorage.setItem("test-storage", "lasting"));
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  const key = await page.locator("#model-select option", { hasText: "(fine-tuned)" }).getAttribute("value");
  await page.selectOption("#model-select", key);
  await page.locator("#saved-download").waitFor({ state: "visible" });
  assert.equal(await page.isHidden("#saved-not-lasting"), true);
  assert.deepEqual(page.problems, []);
  await context.close();
});

// Reloads the page, which must not ask first (nothing would be lost).
async function reloadWithoutAsking(page, why) {
  const dialogs = [];
  page.on("dialog", (d) => (dialogs.push(d.type()), d.accept()));
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  assert.deepEqual(dialogs, [], why);
}

// Images sorted into bins are the user's labelling: leaving the page before a
// training has used them asks first; once trained on, it does not.
test("bins a training has not used yet: leaving the page asks first", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await openPage(context);
  await setCrop(page, 0); // also the user's first gesture, without which no browser asks
  await fillBins(page);
  const asked = page.waitForEvent("dialog");
  await page.close({ runBeforeUnload: true });
  const dialog = await asked;
  assert.equal(dialog.type(), "beforeunload");
  await dialog.dismiss(); // staying
  assert.equal(page.isClosed(), false);

  await trainFor(page, 1);
  await reloadWithoutAsking(page, "asked although a training had used the bins");
  assert.deepEqual(page.problems, []);
  await context.close();
});

// A browser that will not store the model (a full disk, storage blocked): the
// page says to download it and asks before it is left until it is; once
// downloaded, nothing would be lost, and leaving does not ask.
test("a model the browser would not store: leaving asks until it is downloaded", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
  await context.addInitScript(() => {
    IDBObjectStore.prototype.add = () => { throw new DOMException("the disk is full", "QuotaExceededError"); };
  });
  const page = await openPage(context);
  await setCrop(page, 0);
  await fillBins(page);
  await trainFor(page, 1);
  assert.match(await page.textContent("#teach-status"), /Not saved in this browser: download it\.$/);
  assert.match(await page.textContent("#teach-error"), /would not store the model \(the disk is full\): download it/);
  // The bins have been used: the model alone is what leaving would lose.
  const asked = page.waitForEvent("dialog");
  await page.close({ runBeforeUnload: true });
  const dialog = await asked;
  assert.equal(dialog.type(), "beforeunload");
  await dialog.dismiss();

  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#teach-download")]);
  assert.match(download.suggestedFilename(), /\.safetensors$/);
  assert.ok(fs.statSync(await download.path()).size > 0);
  assert.equal(await page.isHidden("#teach-error"), true, "the advice to download it goes once it is");
  assert.match(await page.textContent("#teach-status"), /^Done in .*\. Downloaded\.$/, "the status still says to download it");
  await reloadWithoutAsking(page, "asked although the model had been downloaded");
  assert.deepEqual(page.problems, []);
  await context.close();
});
