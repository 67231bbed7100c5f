/* expect.js: the line each image should be, for the verdicts on its card and
   in the CSVs. Every image's line is the results' choice (queue.js); an
   image's own line, which wins over it, is its card's choice or a row of an
   expected-lines CSV: the CLI's --expect-csv file (columns file,expected),
   whose rows are kept so that images dropped later get theirs. An image's own
   line is always one of the model's classes: a CSV's other lines are named,
   not applied, and a new model's unknown ones are cleared. */

import { engine } from "./engine.js";

// The last CSV picked: its bytes, which the core reads again for the images
// dropped later, and its lines.
let csv = null; // {bytes, lines: Set}

// The line an item is judged against ("": none).
export const expectedOf = (item, every) => item.own || every;

/* ---------------------------------------------------------------- the CSV */

// An expected-lines CSV's bytes as the core reads them (worker:
// expectedLines): {rows, lines, expected}, expected[i] the line of names[i]
// ("": none) by the CLI's rule. Throws the core's sentence.
const readLines = (bytes, names) => engine.call("expectedLines", { csv: bytes, names });

// The CSV picked (a File) read and kept: its rows. Throws an Error of one sentence.
export async function readExpectCsv(file) {
  let bytes, read;
  try {
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (e) {
    throw new Error(`Could not read ${file.name}: ${e.message}.`);
  }
  try {
    read = await readLines(bytes, []);
  } catch (e) {
    throw new Error(`${file.name} is not an expected-lines CSV: ${e.message}.`);
  }
  csv = { bytes, lines: new Set(read.lines) };
  return read.rows;
}

// The kept CSV's lines given to the items it names (by their names as the
// page has them: a dropped folder's relative path), if the model knows them.
// Resolves to the items set and the lines it does not know.
export async function applyCsvLines(items, classes) {
  const set = [], unknown = new Set();
  if (!csv || !items.length) return { set, unknown };
  const { expected } = await readLines(csv.bytes, items.map((item) => item.name));
  items.forEach((item, i) => {
    const line = expected[i];
    if (!line) return;
    if (!classes.includes(line)) {
      unknown.add(line);
    } else {
      item.own = line;
      set.push(item);
    }
  });
  return { set, unknown };
}

// The kept CSV's lines that are none of classes.
export const unknownCsvLines = (classes) => new Set(Array.from(csv ? csv.lines : []).filter((line) => !classes.includes(line)));

const lineList = (lines) => Array.from(lines).slice(0, 3).join(", ") + (lines.size > 3 ? ", …" : "");

// What the CSV did, in a sentence or two. loaded: {file, images} when it was
// just picked; absent for images dropped after.
export function csvNote({ set, unknown }, loaded) {
  const s = (n) => (n === 1 ? "" : "s");
  const did = loaded ? `${loaded.file} sets the expected line of ${set.length} of the ${loaded.images} ` +
    `image${s(loaded.images)} here, and of those it names that are dropped later.` : "";
  const skipped = unknown.size ? ` Lines this model does not know, not applied: ${lineList(unknown)}.` : "";
  return (did + skipped).trim();
}

// After a change of model: the own lines it does not know cleared; what was, in a sentence ("" if none).
export function clearUnknownLines(items, classes) {
  const cleared = items.filter((item) => item.own && !classes.includes(item.own));
  const lines = new Set(cleared.map((item) => item.own));
  for (const item of cleared) delete item.own;
  return cleared.length ? `This model does not know the expected line${lines.size === 1 ? "" : "s"} ${lineList(lines)} ` +
    `of ${cleared.length} image${cleared.length === 1 ? "" : "s"}: ${cleared.length === 1 ? "it takes" : "they take"} ` +
    "the line of every image again." : "";
}

/* ---------------------------------------------------------------- a card's choice */

let onOwnLine = () => {};
// fn(item, line) when a card's choice changes ("": as for every image).
export const whenOwnLineChosen = (fn) => (onOwnLine = fn);

// A classified card's choice of its image's own line, among its model's classes.
export function showOwnChoice(card, item) {
  const label = card.querySelector(".own-expected"), select = label.querySelector("select");
  label.hidden = !item.result;
  if (label.hidden) return;
  select.replaceChildren(new Option("As for every image", ""), ...item.classes.map((c) => new Option(c, c)));
  select.value = item.own || "";
  select.setAttribute("aria-label", `Expected line of ${item.name}`);
  select.onchange = () => onOwnLine(item, select.value);
}
