/* expect.mjs: what the browser tests check, whichever browser runs them: the
   native CLI's CSV (CS_CLI) for the same files, the page's results read off
   its cards (readResults, resultsReady: functions run in the page), and
   whether the two agree to TOLERANCE. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const TOLERANCE = 1e-4;
// The columns both CSVs end with (more may follow: read them by name).
export const LAST_COLUMNS = ["tta", "um_per_px", "scale", "model", "model_hash", "crop_bottom", "ood_score", "known"];

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

// The page's results are the CLI's (want: cli()) for these files, to TOLERANCE.
export function assertMatchesCli(shown, files, want) {
  assert.deepEqual(shown.map((r) => r.file).sort(), files.map((f) => path.basename(f)).sort());
  assert.deepEqual(want.header.slice(-LAST_COLUMNS.length), LAST_COLUMNS, `the CLI's CSV ends with ${LAST_COLUMNS}`);
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

// In the page: whether count cards show and none is still waiting.
export function resultsReady(count) {
  const cards = document.querySelectorAll("#cards .card");
  return cards.length >= count && !document.querySelector("#cards .card.waiting");
}

// In the page: what it shows for each image: predicted class, tiles and every probability.
export function readResults() {
  return Array.from(document.querySelectorAll("#cards .card:not(.failed)"), (card) => ({
    file: card.querySelector(".file-name").textContent,
    predicted: card.querySelector(".verdict strong").textContent,
    tiles: Number(card.dataset.tiles),
    // The bars are sorted by probability; data-class is each one's class index.
    probs: Array.from(card.querySelectorAll(".probs li[data-class]"), (li) => [Number(li.dataset.class), Number(li.dataset.probability)])
      .sort((a, b) => a[0] - b[0]).map(([, p]) => p),
  }));
}

// Files to drop, as dropInPage takes them.
export const filePayload = (files) =>
  files.map((f) => ({ name: path.basename(f), b64: fs.readFileSync(f).toString("base64") }));

// In the page: files dropped on an element, as a file manager's drag hands them over.
export function dropInPage([selector, items]) {
  const dt = new DataTransfer();
  for (const { name, b64 } of items) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], name, { type: /\.jpe?g$/i.test(name) ? "image/jpeg" : "" }));
  }
  document.querySelector(selector).dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
}

// In the page: a DataTransfer of PNG files drawn there, [name, side] each: a
// drop of large images without large fixtures.
export async function pngTransfer(specs) {
  const dt = new DataTransfer();
  for (const [name, side] of specs) {
    const canvas = new OffscreenCanvas(side, side);
    const ctx = canvas.getContext("2d");
    for (let i = 0; i < side; i++) {
      ctx.fillStyle = `hsl(${(i * 47) % 360} 30% ${30 + ((i * 13) % 50)}%)`;
      ctx.fillRect((i * 97) % (side - 100), (i * 61) % (side - 100), 40 + (i % 90), 30 + (i % 70));
    }
    dt.items.add(new File([await canvas.convertToBlob({ type: "image/png" })], name, { type: "image/png" }));
  }
  return dt;
}
