/* core.mjs: the page's core tests, one body for every browser (drivers.mjs):
   classify dropped images as the native CLI does, download both CSVs, bad
   input, Stop, the offline service worker, the single file from file://, a
   head-mode Teach run, and accessibility (axe-core, the keyboard). core.<browser>.test.mjs registers them for a browser,
   its name in each test's name.

   Run by tests/stage_browser.sh (CS_URL, CS_DIST, CS_CLI, CS_MODEL, CS_OUT; see page.test.mjs). */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { BROWSERS } from "./drivers.mjs";
import { assertMatchesCli, cli, parseCsv, pngTransfer, readResults, resultsReady, TOLERANCE } from "./expect.mjs";

const { CS_URL, CS_DIST, CS_CLI, CS_MODEL, CS_OUT } = process.env;
assert.ok(CS_URL && CS_DIST && CS_CLI && CS_MODEL && CS_OUT, "run me through tests/stage_browser.sh");

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const samplesDir = path.join(repo, "web", "samples");
export const SAMPLES = fs.readdirSync(samplesDir).filter((f) => /\.jpe?g$/i.test(f)).sort()
  .map((f) => path.join(samplesDir, f));
const trainDir = path.join(repo, "tests", "data", "train");
const imagesOf = (line) => fs.readdirSync(path.join(trainDir, line)).sort().map((f) => path.join(trainDir, line, f));
const singleFile = `file://${path.join(CS_DIST, "cellsight.html")}`;

const AXE = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "node_modules", "axe-core",
  "axe.min.js"), "utf8");

// axe-core's WCAG 2.x A and AA rules on the page as it is: no violation of impact serious or critical.
async function assertAccessible(page, state) {
  if (!(await page.evaluate(() => Boolean(self.axe)))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => (await axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")}`));
  assert.deepEqual(violations, [], `${state}: axe-core's serious or critical violations`);
}

// What Tab reaches, in order, from the top of the page: each element by id, or
// its class and text; until: stop on the element it matches.
async function tabStops(page, until = null) {
  await page.evaluate(() => { // Tab starts from an element focused above everything, out of the tab order
    const start = Object.assign(document.createElement("span"), { id: "tab-start", tabIndex: -1 });
    document.body.prepend(start);
    start.focus();
  });
  const stops = [];
  for (let i = 0; i < 300; i++) {
    await page.press("Tab");
    const stop = await page.evaluate((selector) => {
      const e = document.activeElement;
      if (!e || e === document.body || (selector && e.matches(selector))) return null;
      return e.id || `${e.className || e.tagName.toLowerCase()}: ${(e.textContent || e.getAttribute("alt") || "").trim().slice(0, 30)}`;
    }, until);
    if (stop === null || stop === stops[0]) break;
    stops.push(stop);
  }
  await page.evaluate(() => document.getElementById("tab-start").remove());
  return stops;
}

const waitForResults = (page, count) => page.waitFor(resultsReady, count, 120_000);
const shownResults = (page) => page.evaluate(readResults);

// The CSV's rows against the CLI's (want), matched by key: the same columns, classes, tiles and
// figures to TOLERANCE, but for the columns skip.
function assertCsvMatches(csv, want, key, skip) {
  assert.deepEqual(csv.header, want.header);
  assert.equal(csv.rows.length, want.rows.length);
  const byKey = new Map(want.rows.map((r) => [key(r), r]));
  for (const row of csv.rows) {
    const wanted = byKey.get(key(row));
    assert.ok(wanted, `no CLI row ${key(row)}`);
    row.forEach((v, k) => {
      if (skip.has(k)) return;
      // Scores are not probabilities: to TOLERANCE of their size.
      const scale = csv.header[k] === "ood_score" ? Math.max(1, Math.abs(Number(wanted[k]))) : 1;
      if (Number.isNaN(Number(v)) || /^\d+$/.test(v)) assert.equal(v, wanted[k], `${key(row)}: ${csv.header[k]}`);
      else assert.ok(Math.abs(Number(v) - Number(wanted[k])) <= TOLERANCE * scale, `${key(row)}: ${csv.header[k]} ${v} vs ${wanted[k]}`);
    });
    // Formatted as the CLI formats them: the same number of decimals.
    assert.deepEqual(row.map((v) => v.split(".")[1]?.length), wanted.map((v) => v.split(".")[1]?.length));
  }
}

export function coreTests(name, options) {
  let browser;
  before(async () => (browser = await BROWSERS[name](options)));
  after(async () => browser?.close());
  // A test with a fresh session (storage of its own), closed after.
  const inSession = (title, body, sessionOptions) => test(`${name}: ${title}`, async () => {
    const session = await browser.session(sessionOptions);
    try {
      await body(session);
    } finally {
      await session.close();
    }
  });

  inSession("dropped images are classified as the native CLI classifies them; both CSVs are the CLI's", async (s) => {
    const page = await s.open();
    await page.drop("#drop-zone", SAMPLES);
    await waitForResults(page, SAMPLES.length);
    const expected = cli(CS_MODEL, SAMPLES);
    assertMatchesCli(await shownResults(page), SAMPLES, expected);
    assert.equal(await page.evaluate(() => document.querySelectorAll("#results-table tbody tr").length), SAMPLES.length);
    await page.shot("dropped");
    assertCsvMatches(parseCsv(String(await page.download("#download-csv"))), expected, (r) => r[0], new Set());
    assertCsvMatches(parseCsv(String(await page.download("#download-tiles-csv"))), cli(CS_MODEL, SAMPLES, "--tiles"),
      (r) => r.slice(0, 3).join(","), new Set([4])); // 4: the tile's predicted class, a coin toss near 0.5
    assert.deepEqual(page.problems, []);
  });

  inSession("a file that is not an image and a broken model get clear errors; the page keeps working", async (s) => {
    const page = await s.open();
    const notImage = path.join(CS_OUT, "notes.txt");
    fs.writeFileSync(notImage, "cell counts: 12, 15, 9\n");
    await page.drop("#drop-zone", [notImage]);
    await page.waitFor(() => document.querySelector("#cards .card.failed"));
    assert.equal(await page.text("#cards .card.failed .file-name"), "notes.txt");
    assert.match(await page.text("#cards .card.failed .verdict"), /not an image/i);
    const modelBefore = await page.evaluate(() => document.getElementById("model-select").selectedOptions[0].textContent);
    const badModel = path.join(CS_OUT, "broken.safetensors");
    fs.writeFileSync(badModel, Buffer.from("this is not a model, only some text pretending to be one"));
    await page.setFiles("#model-file", badModel);
    await page.waitVisible("#model-error");
    assert.match(await page.text("#model-error"), /broken\.safetensors is not a model cellsight can use: \S+/);
    assert.equal(await page.evaluate(() => document.getElementById("model-select").selectedOptions[0].textContent),
      modelBefore, "the model in use is still the one before");
    await page.setFiles("#file-input", [SAMPLES[0]]);
    await waitForResults(page, 2);
    assertMatchesCli(await shownResults(page), [SAMPLES[0]], cli(CS_MODEL, [SAMPLES[0]]));
    await page.shot("errors");
  });

  inSession("Stop halts the image under way and the ones waiting", async (s) => {
    const page = await s.open();
    await page.fillAndLeave("#crop-bottom", 0);
    // Stopped during the first (961 tiles: seconds however fast), the second never starts.
    const pngs = await page.evaluateHandle(pngTransfer, [["a.png", 4000], ["b.png", 300]]);
    await page.evaluate((dt) => document.getElementById("drop-zone")
      .dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true })), pngs);
    await page.waitFor(() => document.getElementById("progress").value > 0);
    await page.click("#stop-button");
    await waitForResults(page, 2);
    const verdicts = await page.evaluate(() => Array.from(document.querySelectorAll("#cards .card.failed .verdict"),
      (v) => v.textContent));
    assert.equal(verdicts.length, 2, verdicts.join(" / "));
    assert.match(verdicts[0], /^cancelled after \d+ of 961 tiles/);
    assert.match(verdicts[1], /stopped/);
    assert.equal(await page.visible("#progress-area"), false);
  });

  inSession("after one visit the page classifies with the network cut (service worker)", async (s) => {
    const page = await s.open();
    await page.waitFor(() => /offline/.test(document.getElementById("offline-status").textContent) &&
      navigator.serviceWorker.controller !== null, undefined, 60_000);
    await s.setOffline(true);
    await page.reload();
    if (browser.canPickFolders) {
      // A folder (one image: the shipped model's work is 8 times a plain one's), with a hidden file passed over.
      const folder = path.join(CS_OUT, `${name}-folder`);
      fs.mkdirSync(folder, { recursive: true });
      fs.copyFileSync(SAMPLES[0], path.join(folder, path.basename(SAMPLES[0])));
      fs.writeFileSync(path.join(folder, ".DS_Store"), "not an image");
      await page.setFiles("#folder-input", folder);
    } else {
      await page.setFiles("#file-input", [SAMPLES[0]]);
    }
    await waitForResults(page, 1);
    assert.equal(await page.evaluate(() => document.querySelectorAll("#cards .card").length), 1, "the hidden file was skipped");
    const shown = await shownResults(page);
    assertMatchesCli(shown.map((r) => ({ ...r, file: path.basename(r.file) })), [SAMPLES[0]], cli(CS_MODEL, [SAMPLES[0]]));
    await page.shot("offline");
  });

  inSession("the self-contained cellsight.html classifies from file://", async (s) => {
    await s.setOffline(true);
    const page = await s.open(singleFile);
    // One row of tiles per image (1040 - 896 = 144 rows): the test stays quick.
    await page.fillAndLeave("#crop-bottom", 896);
    await page.click("#samples-button");
    await waitForResults(page, SAMPLES.length);
    assertMatchesCli(await shownResults(page), SAMPLES, cli(CS_MODEL, SAMPLES, "--crop-bottom", "896"));
    await page.shot("file-url");
    assert.deepEqual(page.problems, []);
  });

  // Head mode on the committed 384 x 256 crops of tests/data/train: the result
  // shows without waiting on any prompt, and the CLI predicts with the
  // downloaded model what the page predicts.
  inSession("a head-mode Teach run shows its figures, and its model predicts in the CLI as in the page", async (s) => {
    const page = await s.open();
    await page.fillAndLeave("#crop-bottom", 0); // the crops have no overlay strip
    const classes = await page.evaluate(() => cellsight.activeModel().info.classes);
    for (const [i, c] of classes.entries()) {
      await page.drop(`#teach-bins .bin[data-bin='${i}']`, imagesOf(c));
      await page.waitFor(([k, n]) => document.querySelector(`#teach-bins .bin[data-bin='${k}'] .bin-count`)
        ?.textContent.includes(`${n} images`), [i, imagesOf(c).length]);
    }
    await page.fill("#teach-epochs", "10");
    await page.click("#teach-train");
    await page.waitVisible("#teach-result", 300_000);
    assert.match(await page.text("#teach-result dd[data-key=val_tile_accuracy]"), /^\d+(\.\d)?%$/);
    assert.match(await page.text("#teach-status"), /^Done in .*Saved in this browser/);
    assert.equal(await page.evaluate(async () => (await cellsight.savedModels.list()).length), 1);
    await page.shot("teach-trained");
    await page.click("#teach-use");
    await page.waitFor(() => /\(fine-tuned\)$/.test(document.getElementById("model-select").selectedOptions[0].textContent));
    const image = imagesOf(classes[1])[0];
    await page.drop("#drop-zone", [image]);
    await waitForResults(page, 1);
    const file = path.join(CS_OUT, `${name}-head.safetensors`);
    fs.writeFileSync(file, await page.download("#teach-download"));
    assertMatchesCli(await shownResults(page), [image], cli(file, [image]));
    assert.deepEqual(page.problems, []);
  }, { viewport: { width: 1280, height: 1000 } });

  // Empty, with results, and with a trained model in the Teach panel: axe-core
  // finds nothing serious; every control is reached by Tab; a tile's figures
  // are read with the keyboard alone.
  inSession("accessibility: axe-core in the main states, every control by keyboard, tile figures without hover", async (s) => {
    const page = await s.open();
    await assertAccessible(page, "empty");
    await page.fillAndLeave("#crop-bottom", 0);
    const classes = await page.evaluate(() => cellsight.activeModel().info.classes);
    for (const [i, c] of classes.entries()) await page.drop(`#teach-bins .bin[data-bin='${i}']`, imagesOf(c).slice(0, 2));
    await page.fill("#teach-epochs", "2");
    await page.click("#teach-train");
    await page.waitVisible("#teach-result", 300_000);
    await page.drop("#drop-zone", [imagesOf(classes[0])[0]]);
    await waitForResults(page, 1);
    await assertAccessible(page, "results and a trained model");

    // First the thumbnail, by Tab (a walk past the last control leaves the document, in Firefox).
    await tabStops(page, "#cards .card .thumb img");
    assert.match(await page.text("#cards .card .tile-info"), /^Tile 1 of \d+, at \(0, 0\): /);
    await page.press("ArrowRight");
    assert.match(await page.text("#cards .card .tile-info"), /^Tile 2 of \d+, at \(128, 0\): .*\d%/);
    await page.shot("keyboard");
    const stops = await tabStops(page);
    for (const id of ["model-select", "model-file", "crop-bottom", "um-per-px", "tta", "file-input", "folder-input", "samples-button",
      "download-csv", "download-tiles-csv", "clear-button", "teach-folder", "teach-add-bin", "teach-start", "teach-epochs", "teach-lr",
      "teach-validate", "teach-refit", "teach-train", "teach-use", "teach-download"])
      assert.ok(stops.includes(id), `Tab never reaches #${id}: ${stops.join(", ")}`);
    for (const stop of ["bin-name", "bin-remove", "table-scroll", "img:"])
      assert.ok(stops.some((x) => x.includes(stop)), `Tab never reaches a ${stop}: ${stops.join(", ")}`);
  }, { viewport: { width: 1280, height: 1000 } });
}
