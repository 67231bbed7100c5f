/* Issue 14's per-image expected line on the page, in Chromium: a card's own
   choice wins over the line of every image, and an expected-lines CSV (the
   CLI's --expect-csv file) gives the images it names theirs, those dropped
   after too; both CSVs' expected and verdict are the CLI's predict
   --expect-csv's over the same files with the same CSV. A bad CSV is said in
   a sentence; a model that does not know the lines clears them, and says so.

   Run by tests/stage_browser.sh (CS_URL, CS_CLI, CS_MODEL: the shipped binary
   model, the page's default; CS_OUT). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { cli, dropFiles, newContext, openPage, parseCsv, shot, useRandomModel, waitForResults } from "./chromium.mjs";
import { dropInPage } from "./expect.mjs";

const { CS_URL, CS_CLI, CS_MODEL, CS_OUT } = process.env;
assert.ok(CS_URL && CS_CLI && CS_MODEL && CS_OUT, "run me through tests/stage_browser.sh");

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const OTHER = path.join(repo, "tests", "data", "other", "A549_G7_00d12h_x0_y0.jpg");
const [T47D, MDAMB231] = ["T47D_F9_1_00d00h00m.jpg", "MDAMB231_G7_1_00d06h00m.jpg"]
  .map((f) => path.join(repo, "web", "samples", f));
const base = (f) => path.basename(f);

function writeOut(name, text) {
  const file = path.join(CS_OUT, name);
  fs.writeFileSync(file, text);
  return file;
}

async function download(page, label) {
  const [file] = await Promise.all([page.waitForEvent("download"),
    page.getByRole("button", { name: label, exact: true }).click()]);
  return parseCsv(fs.readFileSync(await file.path(), "utf8"));
}

// Each card's own choice and verdict ("" when it shows none), by file.
const cards = (page) => page.evaluate(() => Object.fromEntries(Array.from(document.querySelectorAll("#cards .card"), (card) => {
  const expect = card.querySelector(".expect"), choice = card.querySelector(".own-expected");
  return [card.querySelector(".file-name").textContent, {
    own: choice.hidden ? null : choice.querySelector("select").value,
    verdict: expect.hidden ? "" : expect.className.replace("expect ", ""),
    words: expect.hidden ? "" : expect.textContent,
  }];
})));

const settled = (page, count) => page.waitForFunction((n) => {
  const shown = document.querySelectorAll("#cards .card:not(.waiting) .own-expected:not([hidden])");
  return shown.length === n;
}, count);

// The CLI's CSV run in folder dir, its files named as given (cli(): by base name).
const cliIn = (dir, model, files, ...flags) => parseCsv(execFileSync(CS_CLI,
  ["predict", "--model", model, "--csv", ...flags, ...files], { cwd: dir, encoding: "utf8" }));

// Both of the page's CSVs carry the CLI's expected, verdict and known for
// every row; cliCsv(flags): the CLI's CSV with flags added.
async function assertCsvsAreTheClis(page, cliCsv) {
  for (const [label, tiles] of [["Download CSV", []], ["Download tile CSV", ["--tiles"]]]) {
    const csv = await download(page, label);
    const want = cliCsv(tiles);
    assert.deepEqual(csv.header, want.header, `${label}: the CLI's columns`);
    const key = (r) => (tiles.length ? r.slice(0, 3).join(",") : r[0]);
    const rows = new Map(want.rows.map((r) => [key(r), r]));
    assert.equal(csv.rows.length, want.rows.length, `${label}: the CLI's rows`);
    for (const row of csv.rows) {
      const other = rows.get(key(row));
      assert.ok(other, `${label}: the CLI has a row ${key(row)}`);
      for (const name of ["known", "expected", "verdict"])
        assert.equal(row[csv.header.indexOf(name)], other[csv.header.indexOf(name)], `${label} ${key(row)}: ${name}`);
    }
  }
}

test("a card's own expected line wins over every image's; its verdict and the CSVs follow", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  const files = [OTHER, T47D];
  await dropFiles(page, files);
  await waitForResults(page, files.length);
  await settled(page, files.length);

  await page.selectOption("#expected-line", "T47D");
  // From the thumbnail, Tab reaches the card's choice; the arrow keys pick a line as a person does.
  const choice = page.getByRole("combobox", { name: `Expected line of ${base(T47D)}` });
  await page.locator("#cards .card", { hasText: base(T47D) }).locator(".thumb img").focus();
  await page.keyboard.press("Tab");
  assert.ok(await choice.evaluate((e) => e === document.activeElement), "Tab from the thumbnail reaches the choice");
  await page.keyboard.press("ArrowDown"); // T47D
  await page.keyboard.press("ArrowDown"); // MDAMB231
  await page.waitForFunction((f) => Array.from(document.querySelectorAll("#cards .card"))
    .find((c) => c.querySelector(".file-name").textContent === f).querySelector(".expect").textContent.includes("MDAMB231"),
  base(T47D));
  let shown = await cards(page);
  assert.equal(shown[base(T47D)].own, "MDAMB231");
  assert.match(shown[base(T47D)].words, /Not MDAMB231/);
  assert.match(shown[base(OTHER)].words, /Not T47D/, "the other card keeps the line of every image");

  // The line of every image changed: the card's own stays.
  await page.selectOption("#expected-line", "");
  await page.waitForFunction(() => document.querySelectorAll("#cards .card .expect:not([hidden])").length === 1);
  shown = await cards(page);
  assert.equal(shown[base(T47D)].own, "MDAMB231");
  assert.equal(shown[base(OTHER)].verdict, "");
  await shot(page, "expect-own");
  const own = writeOut("expect-own.csv", `file,expected\n${base(T47D)},MDAMB231\n`);
  await assertCsvsAreTheClis(page, (flags) => cli(CS_MODEL, files, "--expect-csv", own, ...flags));

  // Back to "as for every image": no verdict, no columns.
  await choice.selectOption({ label: "As for every image" });
  await page.waitForFunction(() => document.querySelectorAll("#cards .card .expect:not([hidden])").length === 0);
  assert.ok(!(await download(page, "Download CSV")).header.includes("expected"));
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("an expected-lines CSV sets the lines of the images it names, dropped before and after", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  await dropFiles(page, [OTHER, T47D]);
  await waitForResults(page, 2);

  // A bad CSV: one sentence, nothing changed.
  await page.setInputFiles("#expected-csv", writeOut("not-lines.csv", "name,line\na.jpg,T47D\n"));
  await page.locator("#expected-note", { hasText: "not-lines.csv is not an expected-lines CSV" }).waitFor();
  assert.match(await page.locator("#expected-note").textContent(), /needs the columns file and expected\.$/);
  await page.setInputFiles("#expected-csv", writeOut("torn.csv", 'file,expected\n"a.jpg,T47D\n'));
  await page.locator("#expected-note", { hasText: "torn.csv is not an expected-lines CSV: row 2 opens a quote that is never closed." }).waitFor();
  assert.equal((await cards(page))[base(T47D)].verdict, "");

  // The files in a folder, as the CLI names them run there: two dropped, and
  // a folder "later" of two picked after the CSV.
  const dir = path.join(CS_OUT, "expect-files");
  fs.mkdirSync(path.join(dir, "later"), { recursive: true });
  for (const f of [OTHER, T47D]) fs.copyFileSync(f, path.join(dir, base(f)));
  for (const f of [T47D, MDAMB231]) fs.copyFileSync(f, path.join(dir, "later", base(f)));
  const names = [base(OTHER), base(T47D), `later/${base(MDAMB231)}`, `later/${base(T47D)}`];

  // As a spreadsheet saves it (a byte-order mark, CRLF, a note column with a
  // comma in quotes, a blank row). By base name, quoted as the CLI writes
  // cells; a folder's file by its name, which wins over its base name's row
  // (the CLI's rule); a row of a folder not dropped; a line the model does not
  // know, named.
  const csvFile = writeOut("expect-lines.csv", [
    "\uFEFFfile,expected,note",
    `${base(OTHER)},MDAMB231,"flask 3, passage 12"`,
    "",
    `"${base(T47D)}",T47D`,
    `${base(MDAMB231)},T47D`,
    `later/${base(T47D)},MDAMB231`,
    `elsewhere/${base(OTHER)},T47D`,
    "SHSY5Y_1.jpg,SH-SY5Y",
    "",
  ].join("\r\n"));
  await page.setInputFiles("#expected-csv", csvFile);
  await page.locator("#expected-note", { hasText: "expect-lines.csv sets the expected line of 2 of the 2 images here" }).waitFor();
  assert.match(await page.locator("#expected-note").textContent(), /does not know, not applied: SH-SY5Y\./);
  await page.waitForFunction(() => document.querySelectorAll("#cards .card .expect:not([hidden])").length === 2);

  await page.setInputFiles("#folder-input", path.join(dir, "later"));
  await waitForResults(page, names.length);
  await page.waitForFunction((n) => document.querySelectorAll("#cards .card .expect:not([hidden])").length === n, names.length);
  const shown = await cards(page);
  assert.deepEqual(names.map((f) => shown[f].own), ["MDAMB231", "T47D", "T47D", "MDAMB231"]);
  assert.match(shown[`later/${base(MDAMB231)}`].words, /Not T47D/);
  await shot(page, "expect-csv");
  await assertCsvsAreTheClis(page, (flags) => cliIn(dir, CS_MODEL, names, "--expect-csv", csvFile, ...flags));

  // A model of other lines: the images' own lines are cleared, and said so.
  const otherModel = path.join(CS_OUT, "other-lines.safetensors");
  execFileSync("node", [path.join(here, "make_model.mjs"), otherModel, "A549,HeLa"]);
  await page.setInputFiles("#model-file", otherModel);
  await page.locator("#expected-note", { hasText: "This model does not know the expected lines MDAMB231, T47D of 4 images" }).waitFor();
  await waitForResults(page, names.length);
  await settled(page, names.length);
  assert.deepEqual(Object.values(await cards(page)).map((c) => [c.own, c.verdict]), names.map(() => ["", ""]));
  assert.ok(!(await download(page, "Download CSV")).header.includes("expected"));
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("a card's choice on a phone fits its card", async () => {
  const context = await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await openPage(context, CS_URL);
  await dropFiles(page, [T47D]);
  await waitForResults(page, 1);
  await settled(page, 1);
  const choice = page.getByRole("combobox", { name: `Expected line of ${base(T47D)}` });
  await choice.selectOption({ label: "T47D" });
  await page.locator("#cards .card .expect.consistent, #cards .card .expect.inconsistent, #cards .card .expect.unknown").waitFor();
  const [card, label] = await Promise.all([page.locator("#cards .card").boundingBox(),
    page.locator("#cards .card .own-expected").boundingBox()]);
  assert.ok(label.x >= card.x + 8 && label.x + label.width <= card.x + card.width - 8, "the choice within its card's margins");
  await shot(page, "expect-phone");
  await context.close();
});

test("an image's own line lives with the image, not its card: the pager's pages keep it", async () => {
  const context = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await openPage(context, CS_URL);
  await useRandomModel(page);
  const folder = path.join(CS_OUT, "expect-pager");
  fs.mkdirSync(folder, { recursive: true });
  const files = Array.from({ length: 49 }, (_, i) => path.join(folder, `field${String(i + 1).padStart(2, "0")}.jpg`));
  for (const f of files) fs.copyFileSync(OTHER, f);
  const b64 = fs.readFileSync(OTHER).toString("base64");
  await page.evaluate(dropInPage, ["#drop-zone", files.map((f) => ({ name: base(f), b64 }))]);
  await page.waitForFunction(() => /Classified 49 images/.test(document.querySelector("#notice").textContent), null,
    { timeout: 120_000 });

  // The 49th image's line from a CSV while its card is not made; the first's by its card.
  await page.setInputFiles("#expected-csv", writeOut("expect-pager.csv", "file,expected\nfield49.jpg,MDAMB231\n"));
  await page.locator("#expected-note", { hasText: "sets the expected line of 1 of the 49 images here" }).waitFor();
  const choiceOf = (f) => page.getByRole("combobox", { name: `Expected line of ${f}` });
  await choiceOf("field01.jpg").selectOption({ label: "T47D" });
  await page.getByRole("button", { name: /next/i }).click();
  assert.equal(await choiceOf("field49.jpg").inputValue(), "MDAMB231");
  await choiceOf("field49.jpg").selectOption({ label: "T47D" });
  await page.locator("#cards .card .expect:not([hidden])").waitFor();
  await page.getByRole("button", { name: /previous/i }).click();
  assert.equal(await choiceOf("field01.jpg").inputValue(), "T47D");
  assert.equal(await page.locator("#cards .card .expect:not([hidden])").count(), 1, "the first page: one card with a line");
  const set = writeOut("expect-pager-cli.csv", "file,expected\nfield01.jpg,T47D\nfield49.jpg,T47D\n");
  await assertCsvsAreTheClis(page, (flags) =>
    cli(process.env.CS_RANDOM_MODEL, files, "--crop-bottom", "0", "--expect-csv", set, ...flags));
  assert.deepEqual(page.problems, []);
  await context.close();
});
