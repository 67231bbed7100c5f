/* The bad-input corpus through the page, as through the CLI (tests/cli_badinput.sh):
   every image file of tests/data/images and tests/data/bad dropped at once, every
   bad model file (tests/data/models/bad_*, tests/data/bad) picked in turn. Each
   file the native CLI refuses gets the CLI's one-sentence message on the page,
   each it reads the CLI's figures; the model in use stays, and afterwards a good
   image still classifies as the CLI classifies it.

   Run by tests/stage_browser.sh (CS_URL, CS_CLI, CS_RANDOM_MODEL, CS_OUT). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { assertMatchesCli, cli, dropFiles, newContext, openPage, parseCsv, shot, shownResults,
  waitForResults } from "./chromium.mjs";

const { CS_URL, CS_CLI, CS_RANDOM_MODEL, CS_OUT } = process.env;
assert.ok(CS_URL && CS_CLI && CS_RANDOM_MODEL && CS_OUT, "run me through tests/stage_browser.sh");

const data = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "data");
const filesOf = (dir, keep) => fs.readdirSync(path.join(data, dir)).filter(keep).sort()
  .map((f) => path.join(data, dir, f));
const IMAGES = [...filesOf("images", () => true),
  ...filesOf("bad", (f) => !/\.(safetensors|py|md)$/.test(f))];
const BAD_MODELS = [...filesOf("models", (f) => /^bad_.*\.safetensors$/.test(f)),
  ...filesOf("bad", (f) => f.endsWith(".safetensors"))];
// Formats stb does not read but Chromium does, and their size: the page falls
// back to the browser's decoder, and the C core judges the pixels it gives.
const BROWSER_DECODES = new Map([["tiny.webp", [16, 16]]]);
const GOOD = path.join(data, "train", "T47D", "T47D_F6_05d21h_x0_y0.jpg");

// What the native CLI says of one file: {csv} if it reads it, else {message}
// (stderr's first line less "cellsight: " and the path, which the page does not show).
function cliSays(file, ...args) {
  const run = spawnSync(CS_CLI, [...args, file], { encoding: "utf8" });
  if (run.status === 0) return { csv: parseCsv(run.stdout) };
  assert.equal(run.status, 1, `${CS_CLI} ${args.join(" ")} ${file}: exit ${run.status}: ${run.stderr}`);
  const line = run.stderr.split("\n")[0].replace(/^cellsight: /, "");
  return { message: line.startsWith(`${file}: `) ? line.slice(file.length + 2) : line };
}

// The page with a model without test-time averaging (a plain pass a tile),
// picked as a person picks it, and every row of tiles: quick.
async function openQuickPage() {
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  const model = path.basename(CS_RANDOM_MODEL);
  await page.setInputFiles("#model-file", CS_RANDOM_MODEL);
  await page.locator("#model-select option:checked", { hasText: model }).waitFor({ state: "attached" });
  await page.fill("#crop-bottom", "0");
  await page.locator("#crop-bottom").blur();
  return { context, page, model };
}

test("every file of the bad-input corpus gets a clear error on the page, and the page keeps working", async () => {
  assert.ok(IMAGES.length >= 30 && BAD_MODELS.length >= 15, `corpus: ${IMAGES.length} images, ${BAD_MODELS.length} models`);
  const { context, page, model } = await openQuickPage();

  await dropFiles(page, IMAGES);
  await waitForResults(page, IMAGES.length);
  const cards = await page.$$eval("#cards .card", (list) => list.map((card) => ({
    file: card.querySelector(".file-name").textContent,
    failed: card.classList.contains("failed"),
    verdict: card.querySelector(".verdict").textContent,
    meta: card.querySelector(".meta").textContent,
  })));
  assert.deepEqual(cards.map((c) => c.file).sort(), IMAGES.map((f) => path.basename(f)).sort());
  const shown = await shownResults(page);
  let refused = 0;
  for (const file of IMAGES) {
    const name = path.basename(file);
    const card = cards.find((c) => c.file === name);
    const said = cliSays(file, "predict", "--model", CS_RANDOM_MODEL, "--csv", "--crop-bottom", "0");
    if (said.csv) {
      assert.ok(!card.failed, `${name}: the CLI reads it, the page says "${card.verdict}"`);
      said.csv.rows[0][0] = name;
      assertMatchesCli(shown.filter((r) => r.file === name), [name], said.csv);
    } else if (BROWSER_DECODES.has(name)) {
      // As the CLI takes a gray image of that size.
      const [w, h] = BROWSER_DECODES.get(name);
      const same = path.join(CS_OUT, `${name}.pgm`);
      fs.writeFileSync(same, Buffer.concat([Buffer.from(`P5\n${w} ${h}\n255\n`), Buffer.alloc(w * h, 128)]));
      const { message } = cliSays(same, "predict", "--model", CS_RANDOM_MODEL, "--csv", "--crop-bottom", "0");
      if (message) assert.equal(card.verdict, message, name);
      else assert.ok(!card.failed && card.meta.includes("decoded by the browser"), `${name}: ${card.verdict}`);
    } else {
      refused++;
      assert.ok(card.failed, `${name}: the CLI says "${said.message}", the page shows a result`);
      // The C core's sentence; for what is not a format stb knows, the page adds
      // that the browser could not decode it either.
      assert.ok(card.verdict === said.message || card.verdict === `${said.message}, nor one this browser can decode`,
        `${name}: the page says "${card.verdict}", the CLI "${said.message}"`);
      assert.ok(card.verdict.length < 200, `${name}: "${card.verdict}" is not one short sentence`);
    }
  }
  console.log(`${IMAGES.length} image files: ${refused} refused with the CLI's message, the others read as the CLI reads them`);
  await shot(page, "09-bad-images");

  for (const file of BAD_MODELS) {
    const name = path.basename(file);
    await page.setInputFiles("#model-file", file);
    const error = page.locator("#model-error", { hasText: name });
    await error.waitFor({ state: "visible" });
    const { message } = cliSays(file, "info");
    assert.ok(message, `the CLI reads ${name}`);
    assert.equal(await error.textContent(), `${name} is not a model cellsight can use: ${message}`);
    assert.match(await page.locator("#model-select option:checked").textContent(), new RegExp(model));
  }
  console.log(`${BAD_MODELS.length} bad model files: each refused with the CLI's message`);
  await shot(page, "10-bad-models");

  // Still working: a good image, with the model that was in use all along.
  const before = await page.locator("#cards .card").count();
  await dropFiles(page, [GOOD]);
  await waitForResults(page, before + 1);
  const good = (await shownResults(page)).filter((r) => r.file === path.basename(GOOD));
  assertMatchesCli(good, [GOOD], cli(CS_RANDOM_MODEL, [GOOD], "--crop-bottom", "0"));
  assert.deepEqual(page.problems, []);
  await context.close();
});

// WebP (VP8X) and AVIF headers claiming w x h, with no pixels: only a decoder
// would find out that nothing follows.
function webpHeader(w, h) {
  const b = Buffer.alloc(30);
  b.write("RIFF", 0);
  b.writeUInt32LE(22, 4);
  b.write("WEBPVP8X", 8);
  b.writeUInt32LE(10, 16);
  b.writeUIntLE(w - 1, 24, 3);
  b.writeUIntLE(h - 1, 27, 3);
  return b;
}
function avifHeader(w, h) {
  const box = (type, ...parts) => {
    const body = Buffer.concat(parts);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(8 + body.length, 0);
    head.write(type, 4);
    return Buffer.concat([head, body]);
  };
  const u32 = (...values) => Buffer.concat(values.map((v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; }));
  return Buffer.concat([box("ftyp", Buffer.from("avif"), u32(0), Buffer.from("avifmif1")),
    box("meta", u32(0), box("iprp", box("ipco", box("ispe", u32(0, w, h)))))]);
}

test("too large an image is refused before it is read, or before the browser decodes it, with the CLI's message", async () => {
  const { context, page } = await openQuickPage();

  // A file one byte over the limit (sparse: no disk, no memory), picked as a
  // person picks it; WebP and AVIF files whose headers claim more pixels, or
  // longer sides, than the core takes; and a good image beside them.
  const dir = path.join(CS_OUT, "limits");
  fs.mkdirSync(dir, { recursive: true });
  const big = path.join(dir, "stitched-scan.jpg");
  fs.closeSync(fs.openSync(big, "w"));
  fs.truncateSync(big, 2 ** 30 + 1);
  const claims = { "wide.webp": webpHeader(30000, 20000), "long.webp": webpHeader(100000, 100000),
    "plate.avif": avifHeader(30000, 30000) };
  for (const [name, bytes] of Object.entries(claims)) fs.writeFileSync(path.join(dir, name), bytes);
  const good = path.join(dir, path.basename(GOOD));
  fs.copyFileSync(GOOD, good);

  // The worker's reads and the browser's decodes, recorded by file name. The
  // big file may not be read at all (were it, this test would not copy a GiB).
  const worker = page.workers().find((w) => /\/worker\.js(\?|$)/.test(w.url()));
  assert.ok(worker, `the page's worker: ${page.workers().map((w) => w.url())}`);
  await worker.evaluate(() => {
    self.seen = { read: [], decoded: [] };
    const arrayBuffer = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = function () {
      self.seen.read.push(this.name);
      return this.size > 2 ** 30 ? Promise.reject(new Error("read despite its size")) : arrayBuffer.call(this);
    };
    const decode = self.createImageBitmap;
    self.createImageBitmap = function (source, ...rest) {
      self.seen.decoded.push(source.name);
      return decode.call(this, source, ...rest);
    };
  });
  const files = [big, ...Object.keys(claims).map((name) => path.join(dir, name)), good];
  await page.setInputFiles("#file-input", files);
  await waitForResults(page, files.length);
  const verdicts = Object.fromEntries(await page.$$eval("#cards .card", (cards) => cards.map((card) =>
    [card.querySelector(".file-name").textContent, card.classList.contains("failed") ? card.querySelector(".verdict").textContent : null])));
  await shot(page, "11-limits");

  // The CLI's words: for the big file its own (it checks the size before reading too),
  // for the claims those for a PGM header claiming as much.
  const args = ["predict", "--model", CS_RANDOM_MODEL, "--csv", "--crop-bottom", "0"];
  assert.equal(verdicts["stitched-scan.jpg"], cliSays(big, ...args).message);
  assert.match(verdicts["stitched-scan.jpg"], /^the image file has 1024.1 MiB, over the limit of 1024 MiB$/);
  for (const [name, [w, h]] of [["wide.webp", [30000, 20000]], ["long.webp", [100000, 100000]], ["plate.avif", [30000, 30000]]]) {
    const pgm = path.join(dir, `${name}.pgm`);
    fs.writeFileSync(pgm, `P5\n${w} ${h}\n255\n`);
    const { message } = cliSays(pgm, ...args);
    assert.match(message, /over the limit/);
    assert.equal(verdicts[name], message, name);
  }
  const seen = await worker.evaluate(() => self.seen);
  assert.ok(!seen.read.includes("stitched-scan.jpg"), `the big file was read: ${seen.read}`);
  assert.deepEqual(seen.decoded, [], "the browser decoded an image over the limits");
  assert.equal(verdicts[path.basename(GOOD)], null, "the good image beside them is classified");
  assertMatchesCli((await shownResults(page)).filter((r) => r.file === path.basename(GOOD)), [GOOD],
    cli(CS_RANDOM_MODEL, [GOOD], "--crop-bottom", "0"));
  assert.deepEqual(page.problems, []);
  await context.close();
  fs.rmSync(dir, { recursive: true });
});

test("too large a model file is refused before it is read, with the core's message", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  const inUse = await page.locator("#model-select option:checked").textContent();
  // One byte over the limit (sparse: no disk, no memory), picked and dropped.
  const dir = path.join(CS_OUT, "model-limit");
  fs.mkdirSync(dir, { recursive: true });
  const big = path.join(dir, "stitched.safetensors");
  fs.closeSync(fs.openSync(big, "w"));
  fs.truncateSync(big, 256 * 2 ** 20 + 1);
  // The page's reads of files, by name: the big one may not be read at all.
  await page.evaluate(() => {
    self.seen = [];
    const arrayBuffer = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = function () {
      self.seen.push(this.name);
      return this.size > 256 * 2 ** 20 ? Promise.reject(new Error("read despite its size")) : arrayBuffer.call(this);
    };
  });
  // The core's words, as cs_model_read gives them (the CLI's info adds the path).
  const message = "the model file has 256.1 MiB, more than the limit of 256 MiB";
  const { message: cliMessage } = cliSays(big, "info");
  assert.equal(cliMessage.replace(` ${big}`, ""), message);
  await page.setInputFiles("#model-file", big);
  const error = page.locator("#model-error", { hasText: "stitched.safetensors" });
  await error.waitFor({ state: "visible" });
  assert.equal(await error.textContent(), `stitched.safetensors is not a model cellsight can use: ${message}`);
  // Dropped: the same. The sparse file reaches the page through a file input
  // of the test's own, so that its bytes are never copied into a DataTransfer.
  const dropped = path.join(dir, "dropped.safetensors");
  fs.renameSync(big, dropped);
  await page.evaluate(() => document.body.append(Object.assign(document.createElement("input"),
    { type: "file", id: "test-carrier", hidden: true })));
  await page.setInputFiles("#test-carrier", dropped);
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(document.getElementById("test-carrier").files[0]);
    document.getElementById("drop-zone").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  const droppedError = page.locator("#model-error", { hasText: "dropped.safetensors" });
  await droppedError.waitFor({ state: "visible" });
  assert.equal(await droppedError.textContent(), `dropped.safetensors is not a model cellsight can use: ${message}`);
  assert.deepEqual(await page.evaluate(() => self.seen), [], "a model file over the limit was read");
  assert.equal(await page.locator("#model-select option:checked").textContent(), inUse, "the model in use stays");
  await shot(page, "12-model-limit");
  assert.deepEqual(page.problems, []);
  await context.close();
  fs.rmSync(dir, { recursive: true });
});
