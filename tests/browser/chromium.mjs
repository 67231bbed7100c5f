/* chromium.mjs: what the page tests share: Debian's Chromium launched once per
   test file with the flags this machine needs, opening the page, screenshots,
   dropping files, reading the results off the page and the native CLI's
   (CS_CLI) for the same files. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
});
after(async () => {
  await browser?.close();
});

export const newContext = (options) => browser.newContext(options);

// Opens url and waits until the page says it is ready; page.problems collects its errors.
export async function openPage(context, url = process.env.CS_URL) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  page.problems = problems;
  return page;
}

export const shot = (page, name) =>
  page.screenshot({ path: path.join(process.env.CS_OUT, `${name}.png`), fullPage: true });

export const TOLERANCE = 1e-4;
// The columns both CSVs end with.
export const LAST_COLUMNS = ["tta", "um_per_px", "scale"];

export function parseCsv(text) {
  const rows = [];
  for (const line of text.split("\n").filter(Boolean)) {
    const fields = [];
    for (const m of line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)) {
      fields.push(m[1].startsWith('"') ? m[1].slice(1, -1).replace(/""/g, '"') : m[1]);
      if (!m[2]) break;
    }
    rows.push(fields);
  }
  return { header: rows[0], rows: rows.slice(1) };
}

// The native CLI's CSV for images (optionally per tile), rows keyed by base name.
export function cli(model, images, ...flags) {
  const csv = parseCsv(execFileSync(process.env.CS_CLI, ["predict", "--model", model, "--csv", ...flags, ...images],
    { encoding: "utf8", maxBuffer: 1 << 26 }));
  for (const row of csv.rows) row[0] = path.basename(row[0]);
  return csv;
}

export async function waitForResults(page, count) {
  await page.waitForFunction((n) => {
    const cards = document.querySelectorAll("#cards .card");
    return cards.length >= n && !document.querySelector("#cards .card.waiting");
  }, count, { timeout: 120_000 });
}

// What the page shows for each image: predicted class, tiles and every probability.
export function shownResults(page) {
  return page.$$eval("#cards .card:not(.failed)", (cards) => cards.map((card) => ({
    file: card.querySelector(".file-name").textContent,
    predicted: card.querySelector(".verdict strong").textContent,
    tiles: Number(card.dataset.tiles),
    probs: Array.from(card.querySelectorAll(".probs li"), (li) => Number(li.dataset.probability)),
  })));
}

// The page's results are the CLI's (want: cli()) for these files, to TOLERANCE.
export function assertMatchesCli(shown, files, want) {
  assert.deepEqual(shown.map((r) => r.file).sort(), files.map((f) => path.basename(f)).sort());
  assert.deepEqual(want.header.slice(-3), LAST_COLUMNS, "the CLI's CSV ends with tta, um_per_px, scale");
  const classes = want.header.filter((h) => h.startsWith("p_")).map((h) => h.replace(/^p_/, ""));
  for (const r of shown) {
    const row = want.rows.find((e) => e[0] === r.file);
    assert.ok(row, `the CLI has no row for ${r.file}`);
    assert.equal(r.predicted, row[1], `${r.file}: predicted class`);
    assert.equal(r.tiles, Number(row[3]), `${r.file}: tiles`);
    assert.equal(r.probs.length, classes.length);
    r.probs.forEach((p, k) => assert.ok(Math.abs(p - Number(row[4 + k])) <= TOLERANCE,
      `${r.file}: p_${classes[k]} is ${p} on the page, ${row[4 + k]} from the CLI`));
  }
}

// Drops files on the drop zone as a person dragging them from a file manager.
export async function dropFiles(page, files) {
  const payload = files.map((f) => ({ name: path.basename(f), b64: fs.readFileSync(f).toString("base64") }));
  const dataTransfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const { name, b64 } of list) {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], name, { type: /\.jpe?g$/i.test(name) ? "image/jpeg" : "" }));
    }
    return dt;
  }, payload);
  await page.dispatchEvent("#drop-zone", "drop", { dataTransfer });
}
