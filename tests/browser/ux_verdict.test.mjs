/* Issue 14 on the page, in Chromium: an image of a line the model does not
   know is shown as none of its lines; with an expected line, each card gives
   the verdict in words, and both CSVs carry known, expected and verdict as the
   CLI's predict --expect writes them.

   Run by tests/stage_browser.sh (CS_URL, CS_CLI, CS_MODEL: the shipped binary
   model, the page's default; CS_OUT). */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { cli, dropFiles, newContext, openPage, parseCsv, shot, waitForResults } from "./chromium.mjs";

const { CS_URL, CS_CLI, CS_MODEL, CS_OUT } = process.env;
assert.ok(CS_URL && CS_CLI && CS_MODEL && CS_OUT, "run me through tests/stage_browser.sh");

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const OTHER = path.join(repo, "tests", "data", "other", "A549_G7_00d12h_x0_y0.jpg");
const OWN = ["T47D_F9_1_00d00h00m.jpg", "MDAMB231_G7_1_00d06h00m.jpg"].map((f) => path.join(repo, "web", "samples", f));
const FILES = [OTHER, ...OWN];

async function download(page, label) {
  const [file] = await Promise.all([page.waitForEvent("download"),
    page.getByRole("button", { name: label, exact: true }).click()]);
  return parseCsv(fs.readFileSync(await file.path(), "utf8"));
}

// Each card's name, whether it says "none of this model's lines", and its verdict line.
const cards = (page) => page.evaluate(() => Array.from(document.querySelectorAll("#cards .card"), (card) => ({
  file: card.querySelector(".file-name").textContent,
  unknown: !card.querySelector(".ood").hidden && /none of this model's lines/.test(card.querySelector(".ood").textContent),
  verdict: card.querySelector(".expect").hidden ? "" : card.querySelector(".expect").className.replace("expect ", ""),
  words: card.querySelector(".expect").textContent,
})));

// The columns of a CSV by name, per file (base name).
const byFile = (csv, names) => new Map(csv.rows.map((r) =>
  [path.basename(r[0]), Object.fromEntries(names.map((n) => [n, r[csv.header.indexOf(n)]]))]));

test("an image of another line is shown as unknown; the expected line's verdicts are the CLI's", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  await dropFiles(page, FILES);
  await waitForResults(page, FILES.length);

  const want = cli(CS_MODEL, FILES, "--expect", "T47D");
  const cliCols = byFile(want, ["known", "ood_score", "expected", "verdict"]);
  assert.equal(cliCols.get(path.basename(OTHER)).known, "no", "the CLI calls the A549 crop unknown");
  let shown = await cards(page);
  for (const c of shown) {
    assert.equal(c.unknown, cliCols.get(c.file).known === "no", `${c.file}: unknown as the CLI says`);
    assert.equal(c.verdict, "", `${c.file}: no verdict before a line is expected`);
  }
  let csv = await download(page, "Download CSV");
  assert.ok(!csv.header.includes("verdict"), "no verdict column before a line is expected");
  const pageCols = byFile(csv, ["known", "ood_score"]);
  for (const [file, c] of pageCols) {
    assert.equal(c.known, cliCols.get(file).known, `${file}: known`);
    assert.ok(Math.abs(Number(c.ood_score) - Number(cliCols.get(file).ood_score)) <= 1e-4 * Number(c.ood_score));
  }

  await page.selectOption("#expected-line", "T47D");
  await page.waitForFunction(() => Array.from(document.querySelectorAll("#cards .card .expect")).every((e) => !e.hidden));
  shown = await cards(page);
  for (const c of shown) assert.equal(c.verdict, cliCols.get(c.file).verdict, `${c.file}: the CLI's verdict`);
  const words = Object.fromEntries(shown.map((c) => [c.file, c.words]));
  assert.match(words[path.basename(OTHER)], /Not T47D: looks like none of this model's lines/);
  assert.match(words[path.basename(OWN[0])], /T47D, as expected/);
  assert.match(words[path.basename(OWN[1])], /Not T47D: looks like MDAMB231/);
  await shot(page, "verdicts");
  // The sentence on what decided the A549 crop (below the threshold) sits beside the class
  // name without squeezing it to a letter a line.
  const names = await page.evaluate(() => Array.from(document.querySelectorAll("#cards .card .verdict strong"),
    (s) => ({ name: s.textContent, high: s.getBoundingClientRect().height / parseFloat(getComputedStyle(s).fontSize) })));
  for (const n of names) assert.ok(n.high < 2, `${n.name}: on one line beside its swatch, not ${n.high.toFixed(1)} font sizes high`);

  for (const [label, flags, key] of [["Download CSV", [], (r) => r[0]], ["Download tile CSV", ["--tiles"], (r) => r.slice(0, 3).join(",")]]) {
    csv = await download(page, label);
    const cliCsv = flags.length ? cli(CS_MODEL, FILES, "--expect", "T47D", ...flags) : want;
    assert.deepEqual(csv.header, cliCsv.header, `${label}: the CLI's columns`);
    const rows = new Map(cliCsv.rows.map((r) => [key(r), r]));
    for (const row of csv.rows) {
      const other = rows.get(key(row));
      for (const name of ["known", "expected", "verdict"])
        assert.equal(row[csv.header.indexOf(name)], other[csv.header.indexOf(name)], `${label} ${key(row)}: ${name}`);
    }
  }

  // Not said again: no verdicts on the cards or in the CSV.
  await page.selectOption("#expected-line", "");
  await page.waitForFunction(() => Array.from(document.querySelectorAll("#cards .card .expect")).every((e) => e.hidden));
  assert.ok(!(await download(page, "Download CSV")).header.includes("expected"));
  await context.close();
});
