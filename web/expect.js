/* expect.js: the line each image should be, for the verdicts on its card and
   in the CSVs. Every image's line is the results' choice (queue.js); an
   image's own line, which wins over it, is its card's choice or a row of an
   expected-lines CSV: the CLI's --expect-csv file (columns file,expected),
   whose rows are kept so that images dropped later get theirs. An image's own
   line is always one of the model's classes: a CSV's other lines are named,
   not applied, and a new model's unknown ones are cleared. */

// The last CSV's rows: image name -> line.
let csvRows = new Map();

// The line an item is judged against ("": none).
export const expectedOf = (item, every) => item.own || every;

/* ---------------------------------------------------------------- the CSV */

// The records of a CSV as the CLI's csv.c reads them (RFC 4180: quoted fields
// may hold commas, doubled quotes and line breaks; \r before \n dropped).
// Unlike the CLI, a last row without its line break counts.
function records(text) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') field += text[i++];
      else quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n") {
      row.push(field.endsWith("\r") ? field.slice(0, -1) : field);
      rows.push(row);
      row = [];
      field = "";
    } else {
      field += c;
    }
  }
  if (quoted) throw new Error("it ends inside a quoted field");
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

// A cell's text as the core's rule wrote it (cs_csv_text: a formula's ' dropped).
const cellText = (field) => (field.startsWith("'") ? field.slice(1) : field);

// The rows of an expected-lines CSV's text: name -> line. Rows without a file
// are passed over, as the CLI does, and so are blank lines and rows without a
// line. Throws an Error of one sentence for a CSV that is not one.
export function parseExpectCsv(text) {
  const [header, ...rows] = records(text.replace(/^\uFEFF/, "")); // a spreadsheet's byte-order mark
  const heads = (header || []).map(cellText);
  const fc = heads.indexOf("file"), ec = heads.indexOf("expected");
  if (fc < 0 || ec < 0) throw new Error("it needs a header row with the columns file and expected");
  const lines = new Map();
  rows.forEach((row, i) => {
    if (row.length === 1 && !row[0]) return;
    if (row.length <= Math.max(fc, ec)) throw new Error(`row ${i + 2} is not a whole row of file and expected`);
    const file = cellText(row[fc]), line = cellText(row[ec]);
    if (file && line) lines.set(file, line);
  });
  return lines;
}

// The CSV picked (a File) read and kept; throws an Error of one sentence.
export async function readExpectCsv(file) {
  let text;
  try {
    text = await file.text();
  } catch (e) {
    throw new Error(`Could not read ${file.name}: ${e.message}.`);
  }
  try {
    csvRows = parseExpectCsv(text);
  } catch (e) {
    throw new Error(`${file.name} is not an expected-lines CSV: ${e.message}.`);
  }
  return csvRows.size;
}

// An image's line in the CSV, by its name as the page has it (a dropped
// folder's relative path), else by its base name: the CLI's rule (expect.c).
function csvLine(name) {
  const slash = name.lastIndexOf("/");
  return csvRows.get(name) ?? (slash >= 0 ? csvRows.get(name.slice(slash + 1)) : undefined);
}

// The kept CSV's lines given to the items it names, if the model knows them.
// Returns the items set and the lines it does not know.
export function applyCsvLines(items, classes) {
  const set = [], unknown = new Set();
  for (const item of items) {
    const line = csvLine(item.name);
    if (line === undefined) continue;
    if (!classes.includes(line)) {
      unknown.add(line);
    } else {
      item.own = line;
      set.push(item);
    }
  }
  return { set, unknown };
}

// The kept CSV's lines that are none of classes.
export const unknownCsvLines = (classes) => new Set(Array.from(csvRows.values()).filter((line) => !classes.includes(line)));

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
