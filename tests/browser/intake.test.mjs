/* Which files the page takes as images: the core's one rule (cs_image_name)
   through the WASM module, as the CLI's folder walk (predict) and data sets
   (eval, train, finetune) follow it. A folder picked on the drop zone, a folder
   of class folders picked on the Teach panel, and loose files dropped on a
   bin and picked with its button, each holding a macOS "._" file, a notes.txt
   and a .JFIF image: the page takes and skips what the CLI takes and skips,
   a .safetensors file in the folder too (skipped, not loaded as a model).

   Run by tests/stage_browser.sh (CS_URL, CS_CLI, CS_RANDOM_MODEL, CS_OUT). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { newContext, openPage, parseCsv, shot, useRandomModel, waitForResults } from "./chromium.mjs";

const { CS_URL, CS_CLI, CS_RANDOM_MODEL, CS_OUT } = process.env;
assert.ok(CS_URL && CS_CLI && CS_RANDOM_MODEL && CS_OUT, "run me through tests/stage_browser.sh");

const train = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "data", "train");
const JPEG = path.join(train, "T47D", "T47D_F6_05d21h_x0_y0.jpg");
const JPEG2 = path.join(train, "MDAMB231", "MDAMB231_G7_04d00h_x0_y0.jpg");
// AppleDouble: what macOS leaves beside a file copied to a USB stick.
const APPLE_DOUBLE = Buffer.concat([Buffer.from([0, 5, 22, 7, 0, 2, 0, 0]), Buffer.from("Mac OS X        ")]);

// Writes files {relative path: bytes or a file to copy} under dir (emptied first).
function makeTree(dir, files) {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [name, what] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (Buffer.isBuffer(what) || typeof what !== "string" || !fs.existsSync(what)) fs.writeFileSync(file, what);
    else fs.copyFileSync(what, file);
  }
}

// The names in a bin, as the panel lists them.
const binFiles = (page, i) => page.$$eval(`#teach-bins .bin[data-bin='${i}'] .bin-files li > span`,
  (spans) => spans.map((s) => s.textContent));

test("a folder on the drop zone: the page classifies the files the CLI's predict takes from it", async () => {
  const parent = path.join(CS_OUT, "intake-predict");
  makeTree(parent, {
    "cells/._b.JFIF": APPLE_DOUBLE, "cells/notes.txt": "plate 3, 10x\n", "cells/b.JFIF": JPEG,
    "cells/c.jpg": JPEG2, "cells/.thumbnails/d.jpg": JPEG, "cells/sub/e.HEIC": "not really a HEIC image",
    "cells/sub/Thumbs.db": "", "cells/model.safetensors": CS_RANDOM_MODEL,
  });
  const folder = path.join(parent, "cells");
  // The CLI: rows for what it reads, errors for what it takes but cannot read, notes for what it skips.
  const run = spawnSync(CS_CLI, ["predict", "--model", CS_RANDOM_MODEL, "--csv", "--crop-bottom", "0", folder],
    { encoding: "utf8", cwd: parent });
  const rel = (p) => path.relative(parent, path.resolve(parent, p));
  const cliRead = parseCsv(run.stdout).rows.map((r) => rel(r[0]));
  const cliSkipped = [...run.stderr.matchAll(/^cellsight: skipped (.*): not an image file \(by its name\)$/gm)]
    .map((m) => rel(m[1]));
  const cliFailed = [...run.stderr.matchAll(/^cellsight: (\S+?\.HEIC)\b/gm)].map((m) => rel(m[1]));
  assert.deepEqual(cliRead.sort(), ["cells/b.JFIF", "cells/c.jpg"], run.stderr);
  assert.deepEqual(cliSkipped.sort(), ["cells/model.safetensors", "cells/notes.txt", "cells/sub/Thumbs.db"], run.stderr);
  assert.deepEqual(cliFailed, ["cells/sub/e.HEIC"], run.stderr);

  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  await useRandomModel(page);
  await page.setInputFiles("#folder-input", folder);
  await waitForResults(page, 3);
  const cards = await page.$$eval("#cards .card", (list) => list.map((card) => ({
    file: card.querySelector(".file-name").textContent, failed: card.classList.contains("failed") })));
  assert.deepEqual(cards.filter((c) => !c.failed).map((c) => c.file), cliRead.sort());
  assert.deepEqual(cards.filter((c) => c.failed).map((c) => c.file), cliFailed);
  const notice = await page.textContent("#notice");
  assert.match(notice,
    /Skipped cells\/model\.safetensors, cells\/notes\.txt, cells\/sub\/Thumbs\.db: not image files \(by their names\)\. A model file is loaded when picked or dropped on its own\./);
  // A model file in a folder is not loaded (one dropped or picked on its own is).
  const yours = `${path.basename(CS_RANDOM_MODEL)} (yours)`;
  assert.deepEqual(await page.$$eval("#model-select option", (options) =>
    options.map((o) => o.textContent).filter((t) => t.endsWith("(yours)"))), [yours]);
  assert.equal(await page.locator("#model-select option:checked").textContent(), yours);
  assert.doesNotMatch(notice, /\._b|thumbnails/, "hidden files and folders are passed over without a word");
  await shot(page, "intake-01-folder");
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("the Teach panel takes, from a folder, a drop on a bin and a bin's picker, what the CLI's data sets take", async () => {
  const data = path.join(CS_OUT, "intake-teach");
  makeTree(data, {
    "T47D/._a.jpg": APPLE_DOUBLE, "T47D/notes.txt": "plate 3, 10x\n", "T47D/a.JFIF": JPEG,
    "T47D/b.jpg": JPEG, "MDAMB231/._c.jpeg": APPLE_DOUBLE, "MDAMB231/c.jpeg": JPEG2,
    "MDAMB231/readme.md": "# plate 3\n",
  });
  // The CLI's data set of that folder: the images it evaluates, the files it skips.
  const run = spawnSync(CS_CLI, ["eval", "--model", CS_RANDOM_MODEL, "--data", data, "--crop-bottom", "0", "--json"],
    { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).images, 3);
  const note = run.stderr.match(/^cellsight: skipped 2 files of .* that are not images \(by their name\): (.*)$/m);
  assert.ok(note, run.stderr);
  assert.deepEqual(note[1].split(" ").sort(), ["MDAMB231/readme.md", "T47D/notes.txt"]);

  const context = await newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await openPage(context, CS_URL);
  await useRandomModel(page);
  const names = await page.$$eval("#teach-bins .bin-name", (inputs) => inputs.map((i) => i.value));
  assert.deepEqual(names, ["T47D", "MDAMB231"]);

  // The folder of class folders, picked with the panel's button.
  await page.setInputFiles("#teach-folder", data);
  await page.locator("#teach-bins .bin[data-bin='0'] .bin-count", { hasText: "2 images" }).waitFor();
  await page.locator("#teach-bins .bin[data-bin='1'] .bin-count", { hasText: "1 image" }).waitFor();
  assert.deepEqual(await binFiles(page, 0), ["a.JFIF", "b.jpg"]);
  assert.deepEqual(await binFiles(page, 1), ["c.jpeg"]);
  assert.equal(await page.textContent("#teach-note"),
    "Skipped intake-teach/MDAMB231/readme.md, intake-teach/T47D/notes.txt: not image files (by their names).");
  assert.equal(await page.isHidden("#teach-error"), true, await page.textContent("#teach-error"));
  await shot(page, "intake-02-teach-folder");

  // Loose files dropped on a bin, as a file manager hands them over.
  const loose = ["._a.jpg", "notes.txt", "a.JFIF"].map((f) => path.join(data, "T47D", f));
  const dataTransfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const { name, b64 } of list)
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
    return dt;
  }, loose.map((f) => ({ name: path.basename(f), b64: fs.readFileSync(f).toString("base64") })));
  await page.dispatchEvent("#teach-bins .bin[data-bin='1']", "drop", { dataTransfer });
  await page.locator("#teach-bins .bin[data-bin='1'] .bin-count", { hasText: "2 images" }).waitFor();
  assert.deepEqual(await binFiles(page, 1), ["c.jpeg", "a.JFIF"]);
  assert.equal(await page.textContent("#teach-note"),
    "Skipped ._a.jpg, notes.txt: not image files (by their names).");

  // The same files picked with the bin's "Add images…".
  await page.setInputFiles("#teach-bin-file-0", loose);
  await page.locator("#teach-bins .bin[data-bin='0'] .bin-count", { hasText: "3 images" }).waitFor();
  assert.deepEqual(await binFiles(page, 0), ["a.JFIF", "b.jpg", "a.JFIF"]);
  assert.equal(await page.locator("#cards .card").count(), 0, "nothing was classified");
  await shot(page, "intake-03-teach-bins");
  assert.deepEqual(page.problems, []);
  await context.close();
});
