/* The Teach panel's "Start from" choice (issue 15), in Debian's Chromium, on
   pages built here with the models each test needs (web/build.mjs), so that
   what model/ holds does not change what is tested:
   - with one classifier shipped, the start is the model in use until a base
     (metadata role "base", tests/data/base/tiny_base.safetensors) is loaded;
     then the base is preselected, whichever model is in use; a start picked
     with the keyboard and one picked with the mouse are what the fine-tunes
     start from, as their records and metadata say;
   - a base shipped in model/ is listed in the model picker as a classifier,
     its label saying it is a base, and the Teach panel starts from it.

   Run by tests/stage_browser.sh (CS_MODULE, CS_MODEL, CS_OUT). */
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { newContext, openPage, shot } from "./chromium.mjs";

const { CS_MODULE, CS_MODEL, CS_OUT } = process.env;
assert.ok(CS_MODULE && CS_MODEL && CS_OUT, "run me through tests/stage_browser.sh");

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const trainDir = path.join(repo, "tests", "data", "train");
const BASE = path.join(repo, "tests", "data", "base", "tiny_base.safetensors");
const CLASSIFIER_KEY = `model/${path.basename(CS_MODEL)}`;
const imagesOf = (line) => fs.readdirSync(path.join(trainDir, line)).sort().map((f) => path.join(trainDir, line, f));

const servers = [];
after(() => servers.forEach((s) => s.kill()));

// A page of these model files, built and served; resolves with its URL.
function site(name, models) {
  const dir = path.join(CS_OUT, `startfrom-${name}`), modelDir = path.join(dir, "models");
  fs.mkdirSync(modelDir, { recursive: true });
  for (const m of models) fs.copyFileSync(m, path.join(modelDir, path.basename(m)));
  execFileSync(process.execPath, [path.join(repo, "web", "build.mjs"), "--module", CS_MODULE,
    "--out", path.join(dir, "dist"), "--models", modelDir], { stdio: "ignore" });
  const server = spawn(process.execPath, [path.join(repo, "tools", "serve.mjs"), "--root", path.join(dir, "dist"),
    "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  servers.push(server);
  return new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (d) => {
      const m = (out += d).match(/^serving .* on (http\S+)/m);
      if (m) resolve(m[1]);
    });
    server.on("exit", (code) => reject(new Error(`tools/serve.mjs exited with ${code}: ${out}`)));
  });
}

// What the Start from field shows: the chosen key, every option's text and title, the lines beside it.
const startShown = (page) => page.evaluate(() => {
  const select = document.getElementById("teach-start");
  return {
    value: select.value,
    options: Array.from(select.options, (o) => ({ key: o.value, text: o.textContent, title: o.title })),
    lines: document.getElementById("teach-start-lines").textContent,
    label: select.labels[0]?.textContent,
  };
});

// Both bins (the model in use names them) given their images.
async function fillBins(page) {
  const names = await page.$$eval("#teach-bins .bin-name", (inputs) => inputs.map((i) => i.value));
  for (const [i, line] of names.entries()) {
    await page.setInputFiles(`#teach-bin-file-${i}`, imagesOf(line));
    await page.locator(`#teach-bins .bin[data-bin='${i}'] .bin-count`, { hasText: `${imagesOf(line).length} images` })
      .waitFor();
  }
}

// Head mode, a few epochs; resolves with the record of the model it kept.
async function fineTune(page) {
  const before = await page.evaluate(async () => (await cellsight.savedModels.list()).length);
  await page.fill("#teach-epochs", "3");
  await page.click("#teach-train");
  await page.locator("#teach-result").waitFor({ state: "visible", timeout: 300_000 });
  await page.waitForFunction(() => /^Done in/.test(document.getElementById("teach-status").textContent));
  const records = await page.evaluate(async () => (await cellsight.savedModels.list()).map((r) => {
    const bytes = ArrayBuffer.isView(r.bytes) ? new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength)
      : new Uint8Array(r.bytes);
    const length = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
    const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))).__metadata__;
    return { base: r.base, mode: r.mode, created: r.created, meta };
  }));
  assert.equal(records.length, before + 1, "the fine-tuned model is kept");
  return records.sort((a, b) => a.created.localeCompare(b.created)).pop();
}

test("Start from: the model in use, a loaded base preselected, the chosen start is what fine-tunes start from", async () => {
  const url = await site("classifier", [CS_MODEL]);
  const context = await newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await openPage(context, url);
  const classifier = await page.evaluate(() => cellsight.activeModel().label);

  // No base listed: the model in use, named with its lines.
  let start = await startShown(page);
  assert.equal(start.label, "Start from");
  assert.equal(start.value, CLASSIFIER_KEY);
  assert.deepEqual(start.options.map((o) => o.key), [CLASSIFIER_KEY]);
  assert.match(start.options[0].text, /^t47d-vs-mdamb231\.safetensors: 2 lines \((T47D|MDAMB231), (T47D|MDAMB231)\)$/);
  assert.match(start.lines, /^A classifier, of 2 lines: /);

  // A base loaded as a person loads a model file: listed in both pickers, and the start.
  await page.setInputFiles("#model-file", BASE);
  await page.locator("#model-select option:checked", { hasText: "tiny_base.safetensors" }).waitFor({ state: "attached" });
  await page.selectOption("#model-select", CLASSIFIER_KEY); // back to the shipped model to classify with
  await page.waitForFunction((k) => cellsight.activeModel().key === k, CLASSIFIER_KEY);
  await page.fill("#crop-bottom", "0"); // the crops have no overlay strip
  await page.locator("#crop-bottom").blur();
  await fillBins(page);
  start = await startShown(page);
  assert.equal(start.value, "user:tiny_base.safetensors", "a base is preselected, not the model in use");
  assert.equal(start.options.length, 2);
  const baseOption = start.options.find((o) => o.key === start.value);
  assert.equal(baseOption.text, "Base (tiny_base.safetensors): 2 lines (MDAMB231, T47D)");
  assert.equal(baseOption.title, "MDAMB231, T47D");
  assert.equal(start.lines, "A base for fine-tuning, of 2 lines: MDAMB231, T47D.");
  assert.match(await page.textContent("#teach-summary"), /starting from tiny_base\.safetensors \(yours\)\.$/);
  await shot(page, "startfrom-01-base-preselected");

  // The shipped classifier picked with the keyboard: labelled and reached by Tab.
  await page.focus("#teach-bins .bin-name");
  let focused = "";
  for (let i = 0; i < 40 && focused !== "teach-start"; i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => document.activeElement.id);
  }
  assert.equal(focused, "teach-start", "Tab reaches the Start from choice");
  await page.keyboard.press(start.options.findIndex((o) => o.key === CLASSIFIER_KEY) === 0 ? "Home" : "End");
  await page.waitForFunction((k) => document.getElementById("teach-start").value === k, CLASSIFIER_KEY);
  const summary = await page.textContent("#teach-summary");
  assert.ok(summary.endsWith(`starting from ${classifier}.`), summary);
  const fromClassifier = await fineTune(page);
  assert.equal(fromClassifier.base, classifier, "the record names the start chosen");
  assert.equal(fromClassifier.meta.base_model, "t47d-vs-mdamb231.safetensors");
  assert.equal(fromClassifier.meta.mode, "head");
  assert.equal((await startShown(page)).value, CLASSIFIER_KEY, "the choice stays, with a new model listed");
  assert.equal((await startShown(page)).options.length, 3, "the new model is listed to start from too");

  // The base picked with the mouse: the next fine-tune starts from it, and is a classifier.
  await page.click("#teach-start");
  await page.selectOption("#teach-start", "user:tiny_base.safetensors");
  const fromBase = await fineTune(page);
  assert.equal(fromBase.base, "tiny_base.safetensors (yours)");
  assert.equal(fromBase.meta.base_model, "tiny_base.safetensors");
  assert.equal(fromBase.meta.arch, "conv8,pool,conv8,gap,dense", "the base's network, not the model in use's");
  assert.equal(fromBase.meta.role, "classifier", "a fine-tune of a base is no base");
  await shot(page, "startfrom-02-trained");
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("a base shipped in model/ is a classifier in the picker, labelled a base, and the Teach panel's start", async () => {
  const url = await site("shipped-base", [CS_MODEL, BASE]);
  const assets = JSON.parse(fs.readFileSync(path.join(CS_OUT, "startfrom-shipped-base", "dist", "assets.json"), "utf8"));
  const base = assets.models.find((m) => m.file === "model/tiny_base.safetensors");
  assert.equal(base.role, "base");
  assert.deepEqual(base.classes, ["MDAMB231", "T47D"]);
  assert.equal(assets.models.find((m) => m.file === CLASSIFIER_KEY).role, "");

  const context = await newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await openPage(context, url);
  assert.equal(await page.evaluate(() => cellsight.activeModel().key), CLASSIFIER_KEY, "the page's default model is in use");
  const label = await page.textContent("#model-select option[value='model/tiny_base.safetensors']");
  assert.equal(label, "tiny_base: MDAMB231 vs T47D (base for fine-tuning)");
  assert.equal((await startShown(page)).value, "model/tiny_base.safetensors", "the shipped base is the start");
  // It classifies, as any model of the picker.
  await page.selectOption("#model-select", "model/tiny_base.safetensors");
  await page.waitForFunction(() => cellsight.activeModel().info?.metadata.role === "base");
  assert.match(await page.textContent("#model-summary"), /^2 classes: MDAMB231, T47D\./);
  assert.deepEqual(page.problems, []);
  await context.close();
});
