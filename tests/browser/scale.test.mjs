/* The page at scale (issue 16, item 4; issue 19, item 4): 300 images dropped
   at once give a CSV of 300 rows, a table of 300 rows and one page of cards
   (the others made when their page is chosen, from the thumbnails kept);
   while a run goes on, the progress line says done of total and the time
   left, and a CSV taken mid-run says which part of the images it holds. The
   images are drawn in the page; the model is a small random one without
   test-time averaging, to stay quick. Timings are tools/bench_page's.

   Run by tests/stage_browser.sh (CS_URL, CS_RANDOM_MODEL, CS_OUT). */
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import { newContext, openPage, parseCsv, shot, useRandomModel } from "./chromium.mjs";
import { pngTransfer } from "./expect.mjs";
import { partialText, secondsLeft, tally, timeLeftText } from "../../web/progress.js";

const { CS_URL, CS_RANDOM_MODEL, CS_OUT } = process.env;
assert.ok(CS_URL && CS_RANDOM_MODEL && CS_OUT, "run me through tests/stage_browser.sh");

const PAGE_SIZE = 48; // web/pager.js
const names = (n, side) => Array.from({ length: n }, (_, i) => [`well-${String(i + 1).padStart(3, "0")}.png`, side]);

async function drop(page, specs) {
  const dataTransfer = await page.evaluateHandle(pngTransfer, specs);
  await page.dispatchEvent("#drop-zone", "drop", { dataTransfer });
}

async function download(page, button) {
  const [file] = await Promise.all([page.waitForEvent("download"), page.click(button)]);
  return { name: file.suggestedFilename(), csv: parseCsv(fs.readFileSync(await file.path(), "utf8")) };
}

test("the time left is the CLI's estimate; a partial CSV's words", () => {
  // predict's: 30 s for 10 images of 40, 30 * 30 / 10 s left.
  assert.equal(secondsLeft(30, 10, 40), 90);
  assert.equal(secondsLeft(2, 0.5, 4), 14);
  assert.ok(Number.isNaN(secondsLeft(3, 0, 40)), "nothing done: no estimate yet");
  assert.equal(timeLeftText(90), "about 2 min left");
  assert.equal(timeLeftText(7.4), "about 7 s left");
  assert.equal(timeLeftText(3 * 3600 + 5 * 60), "about 3 h 05 min left");
  assert.equal(timeLeftText(NaN), "estimating the time left…");
  const items = [...Array(289).fill({ result: {} }), ...Array(11).fill({})];
  assert.equal(partialText(tally(items)), "289 of 300 images; 11 still running");
  assert.equal(partialText(tally([{ result: {} }, { error: "x" }, {}])),
    "1 of 3 images; 1 still running; 1 could not be classified");
  assert.equal(partialText(tally([{ result: {} }, { error: "x" }])), "", "nothing running: the CSV is whole");
});

test("300 images dropped: the CSV's 300 rows, the table's, one page of cards at a time", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await openPage(context, CS_URL);
  await useRandomModel(page);
  const specs = names(300, 160); // one tile each
  await drop(page, specs);
  // While it runs: done of total and the time left.
  await page.waitForFunction(() => /\(\d+ of 300\) · about \d+ (s|min) left$/
    .test(document.getElementById("progress-text").textContent), null, { timeout: 60_000, polling: 20 });
  await page.locator("#notice", { hasText: "Classified 300 images" }).waitFor({ timeout: 300_000 });

  assert.equal(await page.locator("#results-table tbody tr").count(), 300);
  assert.equal(await page.locator("#results-table tbody td.muted").count(), 0, "no row left waiting");
  assert.equal(await page.locator("#cards .card").count(), PAGE_SIZE, "one page of cards");
  assert.equal(await page.locator("#cards .card:not(.failed) .verdict strong").count(), PAGE_SIZE);
  assert.ok(await page.locator("#csv-partial").isHidden(), "the CSV is whole: nothing said");
  const { name, csv } = await download(page, "#download-csv");
  assert.equal(name, "cellsight-results.csv");
  assert.equal(csv.rows.length, 300);
  assert.deepEqual(csv.rows.map((r) => r[csv.header.indexOf("file")]), specs.map(([n]) => n));
  assert.ok(csv.rows.every((r) => Number(r[csv.header.indexOf("tiles")]) === 1), "every image classified");

  // The last page: its cards, made from the thumbnails kept.
  const last = 300 - (300 % PAGE_SIZE || PAGE_SIZE);
  await page.selectOption("#card-page", String(last));
  assert.deepEqual(await page.locator("#cards .card .file-name").allTextContents(),
    specs.slice(last).map(([n]) => n));
  await page.waitForFunction(() => Array.from(document.querySelectorAll("#cards .card .thumb img"))
    .every((img) => img.complete && img.naturalWidth > 0));
  await page.click("#card-prev");
  assert.equal(await page.locator("#cards .card .file-name").first().textContent(), specs[last - PAGE_SIZE][0]);
  await shot(page, "scale-300");
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("a CSV taken mid-run says what it holds; the time left is shown", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await openPage(context, CS_URL);
  await useRandomModel(page);
  await drop(page, names(20, 1024)); // 64 tiles each: a run of seconds
  // Some images in, several to go (checked every frame: one image may take less than a poll of a locator).
  const progress = await (await page.waitForFunction(() => {
    const text = document.getElementById("progress-text").textContent, m = text.match(/\((\d+) of 20\)/);
    return m && Number(m[1]) >= 4 && Number(m[1]) <= 15 && text;
  }, null, { timeout: 120_000 })).jsonValue();
  assert.match(progress, /^Classifying well-\d{3}\.png \(\d+ of 20\) · about \d+ (s|min) left$/);
  assert.match(await page.textContent("#csv-partial"), /^The CSVs now hold \d+ of 20 images; \d+ still running\.$/);

  const { name, csv } = await download(page, "#download-csv");
  const notice = await page.textContent("#notice");
  const [, done, running] = notice.match(/^Downloaded the CSV of (\d+) of 20 images; (\d+) still running: /) || [];
  assert.ok(done, notice);
  assert.equal(name, `cellsight-results-${done}-of-20.csv`);
  assert.equal(csv.rows.length, Number(done));
  assert.equal(Number(done) + Number(running), 20);
  assert.ok(Number(running) > 0);
  await shot(page, "scale-partial-csv");

  await page.click("#stop-button");
  await page.locator("#notice", { hasText: "Stopped." }).waitFor();
  assert.ok(await page.locator("#csv-partial").isHidden(), "stopped: nothing still running");
  assert.deepEqual(page.problems, []);
  await context.close();
});
