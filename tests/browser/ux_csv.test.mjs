/* Issue 19, items 1, 2 and 8, in Chromium as a biologist meets them: a card
   never contradicts its bars (a two-class model's threshold says what
   decided); files and classes named as spreadsheet formulas give CSV cells no
   spreadsheet runs, by the CLI's own rule; both CSVs record which model (name,
   short hash), crop and averaging made them, as the CLI's do; the main panel
   speaks plainly, the table in percentages as the cards; the class-name limit
   is the README's.

   Run by tests/stage_browser.sh (CS_URL, CS_CLI, CS_OUT). */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { dropFiles, newContext, openPage, parseCsv, shot, shownResults, waitForResults } from "./chromium.mjs";

const { CS_URL, CS_CLI, CS_OUT } = process.env;
assert.ok(CS_URL && CS_CLI && CS_OUT, "run me through tests/stage_browser.sh");

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const SAMPLE = path.join(repo, "web", "samples", "T47D_F9_1_00d00h00m.jpg");
const FORMULA_START = /^[=+\-@\t\r]/;

// A random-weights model (tests/browser/make_model.mjs) of these classes and metadata.
function makeModel(name, classes, ...pairs) {
  const file = path.join(CS_OUT, name);
  execFileSync(process.execPath, [path.join(repo, "tests", "browser", "make_model.mjs"), file, classes, "5", ...pairs]);
  return file;
}

// The native CLI's CSV of files (names as given, from their folder).
const cliCsv = (model, dir, names, ...flags) => parseCsv(execFileSync(CS_CLI,
  ["predict", "--model", model, "--csv", ...flags, "--", ...names], { cwd: dir, encoding: "utf8" }));

async function loadModel(page, file) {
  await page.setInputFiles("#model-file", file);
  await page.locator("#model-select option:checked", { hasText: path.basename(file) }).waitFor({ state: "attached" });
}

async function download(page, label) {
  const [file] = await Promise.all([page.waitForEvent("download"),
    page.getByRole("button", { name: label, exact: true }).click()]);
  return fs.readFileSync(await file.path(), "utf8");
}

test("a two-class model's threshold: the card says what decided when it is not the larger bar", async () => {
  // The image's probability of the second class, then a threshold on the other side of it from 0.5.
  const plain = makeModel("plain.safetensors", "T47D,MDAMB231");
  const p1 = Number(cliCsv(plain, path.dirname(SAMPLE), [path.basename(SAMPLE)]).rows[0][5]);
  const threshold = Number((p1 < 0.5 ? p1 / 2 : (p1 + 1) / 2).toFixed(6));
  const model = makeModel("thresholded.safetensors", "T47D,MDAMB231", `threshold=${threshold}`);
  const want = cliCsv(model, path.dirname(SAMPLE), [path.basename(SAMPLE)]);
  const predicted = want.rows[0][1];

  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  await loadModel(page, plain);
  await dropFiles(page, [SAMPLE]);
  await waitForResults(page, 1);
  assert.doesNotMatch(await page.locator("#cards .card .verdict").textContent(), /threshold/,
    "the larger bar decided: nothing to explain");

  await loadModel(page, model);
  await waitForResults(page, 1);
  const [shown] = await shownResults(page);
  assert.equal(shown.predicted, predicted, "the page decides as the CLI does");
  const bars = shown.probs;
  assert.ok(bars[predicted === "MDAMB231" ? 1 : 0] < bars[predicted === "MDAMB231" ? 0 : 1],
    "the test's threshold makes the headline's class the smaller bar");
  const verdict = await page.locator("#cards .card .verdict").textContent();
  const pc = (x) => `${(100 * x).toFixed(1)}%`;
  assert.equal(verdict.trim(), p1 < 0.5
    ? `MDAMB231: its probability ${pc(p1)} is above this model's threshold of ${pc(threshold)}`
    : `T47D: MDAMB231's probability ${pc(p1)} is below this model's threshold of ${pc(threshold)}`);
  await shot(page, "ux-csv-threshold");
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("files and classes named as formulas: both CSVs are the CLI's, no cell a formula; they say which model, crop and averaging", async () => {
  const model = makeModel("formula-classes.safetensors", "=T47D,-MDAMB231", "crop_bottom=896");
  const dir = path.join(CS_OUT, "hostile");
  fs.mkdirSync(dir, { recursive: true });
  const names = ["=1+1.jpg", "+cmd.jpg", "@SUM(1).jpg", "-2+3.jpg"];
  for (const name of names) fs.copyFileSync(SAMPLE, path.join(dir, name));

  const context = await newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await openPage(context, CS_URL);
  await loadModel(page, model);
  await dropFiles(page, names.map((n) => path.join(dir, n)));
  await waitForResults(page, names.length);

  const hash = createHash("sha256").update(fs.readFileSync(model)).digest("hex").slice(0, 12);
  for (const [label, flags] of [["Download CSV", []], ["Download tile CSV", ["--tiles"]]]) {
    const text = await download(page, label);
    const csv = parseCsv(text), want = cliCsv(model, dir, names, ...flags);
    assert.deepEqual(csv.header, want.header, `${label}: the CLI's columns`);
    assert.deepEqual(csv.header.slice(csv.header.indexOf("model"), csv.header.indexOf("model") + 3),
      ["model", "model_hash", "crop_bottom"]);
    const cells = [csv.header, ...csv.rows].flat();
    assert.deepEqual(cells.filter((c) => FORMULA_START.test(c)), [], `${label}: cells a spreadsheet runs`);
    const col = (name) => csv.header.indexOf(name);
    const key = (r) => r.slice(0, flags.length ? 3 : 1).join(",");
    const byKey = new Map(want.rows.map((r) => [key(r), r]));
    assert.equal(csv.rows.length, want.rows.length);
    for (const row of csv.rows) {
      const cli = byKey.get(key(row));
      assert.ok(cli, `${label}: no CLI row ${key(row)}`);
      for (const name of ["file", "predicted_class", "tta", "model", "model_hash", "crop_bottom"])
        assert.equal(row[col(name)], cli[col(name)], `${label}, ${key(row)}: ${name}`);
      assert.deepEqual(row.slice(col("model"), col("model") + 3), ["formula-classes.safetensors", hash, "896"]);
      assert.ok(!Number.isNaN(Number(row[col("p_=T47D")])), "a probability is a number");
    }
    assert.deepEqual(new Set(csv.rows.map((r) => r[0])), new Set(names.map((n) => `'${n}`)));
    // As text, too: the quoted name still starts with its ' (quoting alone does not stop a formula).
    assert.ok(!/(^|,)"?[=+\-@]/m.test(text), `${label}: ${text.slice(0, 400)}`);
  }
  // The page's own wording stays the name's: only the CSV cell gets the '.
  assert.deepEqual((await shownResults(page)).map((r) => r.file).sort(), [...names].sort());
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("words people read: plain main panel, percentages in the table as on the cards, the class-name limit the README's", async () => {
  const model = makeModel("averaging.safetensors", "T47D,MDAMB231", "tta=dihedral8", "crop_bottom=896",
    "protocol=ours", "epochs=8");
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  await loadModel(page, model);
  await page.getByRole("checkbox", { name: /Average over 8/ }).check();
  const summary = await page.locator("#model-summary").textContent();
  const help = await page.locator("#tta-help").textContent();
  for (const jargon of [/conv32/, /protocol/, /\bours\b/, /dihedral8/, /\btta\b/])
    assert.doesNotMatch(`${summary} ${help}`, jargon, `jargon in the main panel: ${summary} ${help}`);
  assert.match(help, /averages 8 rotations and flips of each tile/);
  // The metadata view keeps every word of it.
  const metadata = await page.locator("#model-metadata").textContent();
  for (const kept of ["conv32", "ours", "dihedral8"]) assert.ok(metadata.includes(kept), `${kept} in the metadata view`);

  await dropFiles(page, [SAMPLE]);
  await waitForResults(page, 1);
  assert.match(await page.locator("#cards .card .meta").textContent(), /averages 8 rotations and flips of each tile/);
  const card = Object.fromEntries(await page.$$eval("#cards .card .probs li", (items) => items.map((li) =>
    [li.querySelector(".class-name").textContent, li.querySelector(".value").textContent])));
  const heads = await page.locator("#results-table thead th").allTextContents();
  const row = await page.locator("#results-table tbody tr").first().locator("td").allTextContents();
  for (const name of ["T47D", "MDAMB231"]) {
    const value = row[heads.indexOf(name)];
    assert.equal(value, card[name], `${name}: the table's probability as the card's`);
    assert.match(value, /^\d+\.\d%$/);
  }

  // 127 bytes a class name loads, as the README says; 128 does not.
  const readme = fs.readFileSync(path.join(repo, "README.md"), "utf8");
  assert.match(readme, /class names of at most\s+127 bytes/);
  const long = makeModel("long-names.safetensors", `${"x".repeat(127)},b`);
  await loadModel(page, long);
  await page.locator("#model-summary", { hasText: "x".repeat(127) }).waitFor();
  await page.setInputFiles("#model-file", makeModel("too-long.safetensors", `${"y".repeat(128)},b`));
  await page.locator("#model-error", { hasText: "longer than 127 bytes" }).waitFor();
  assert.deepEqual(page.problems, []);
  await context.close();
});
