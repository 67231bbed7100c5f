/* queue.js: classifying: the images given, one card each (a page of them on
   show, pager.js), sent to the worker one at a time with the model, crop and
   averaging in use; all of them again after a change of those; Stop, Clear
   and the CSV downloads. */
import { $, saveFile } from "./dom.js";
import { engine } from "./engine.js";
import { applyCsvLines, clearUnknownLines, csvNote, expectedOf, readExpectCsv, unknownCsvLines } from "./expect.js";
import { activeModel, cropBottom, ensureLoaded, ttaArg, umPerPx } from "./models.js";
import { refreshCard, showPage } from "./pager.js";
import { partialText, progressText, tally } from "./progress.js";
import { THUMBNAIL_SIDE, imagesCsv, keepThumbnail, renderRow, renderTable, tilesCsv } from "./results.js";

const work = {
  items: [],     // one per image: {name, file, card?, result?, thumbnail?, error?, ms?, decoder?, classes?, model?, info?,
                 //  own?, expected?, verdict?}
  queue: [],     // items waiting for the worker
  generation: 0, // counts changes of model, crop or averaging, which make results stale
  running: false,
  stopped: false,
  skipped: "",   // the note on the files of the last folder that were not images
  expected: "",  // the line every image should be ("": not said); an item's own (item.own) wins
};

export function setNotice(text) {
  $("notice").textContent = text;
}

// The note on files passed over, shown now and again when the run ends.
export function noteSkipped(note) {
  work.skipped = note;
  if (note) setNotice(note);
}

function classesInUse() {
  const model = activeModel();
  return model && model.info ? model.info.classes : [];
}

function showTable() {
  renderTable(work.items, classesInUse());
  showPartial();
}

// An image's card (if on show), row and the CSVs' note. Not the whole table
// again, and its rows a few times a second, not an image at a time: a
// thousand rows take tens of milliseconds to lay out after any change.
const changedRows = new Set();
let rowsTimer = 0;
function showItem(item) {
  refreshCard(item);
  changedRows.add(item);
  rowsTimer = rowsTimer || setTimeout(showRows, 250);
  showPartial();
}

function showRows() {
  clearTimeout(rowsTimer);
  rowsTimer = 0;
  for (const item of changedRows) renderRow(item, classesInUse());
  changedRows.clear();
}

// Mid-run the CSVs hold the images done so far: said beside their buttons.
function showPartial() {
  const note = partialText(tally(work.items));
  $("csv-partial").textContent = note ? `The CSVs now hold ${note}.` : "";
  $("csv-partial").hidden = !note;
}

export function enqueue(files) {
  if (!files.length) return;
  work.stopped = false;
  const items = files.map(({ file, name }) => ({ file, name }));
  work.items.push(...items);
  work.queue.push(...items);
  applyCsvTo(items);
  showPage(work.items);
  $("results").hidden = false;
  showTable();
  if (!work.running) run();
}

// After a change of model, crop or averaging, nothing stale stays on show or in the CSV.
export function reclassifyAll() {
  work.generation++;
  if (!work.items.length) return;
  work.queue = work.items.slice();
  for (const item of work.items) {
    delete item.result;
    delete item.thumbnail;
    delete item.error;
    refreshCard(item);
  }
  showTable();
  if (!work.running) run();
}

async function run() {
  work.running = true;
  engine.resume();
  const started = performance.now();
  let done = 0;
  $("progress-area").hidden = false;
  while (work.queue.length && !work.stopped) {
    const item = work.queue.shift();
    const total = done + 1 + work.queue.length;
    const show = (fraction) => {
      $("progress").value = (done + fraction) / total;
      $("progress-text").textContent = progressText(item.name, done, fraction, total,
        (performance.now() - started) / 1000);
    };
    show(0);
    await classify(item, (d, n) => show(n ? d / n : 0));
    done++;
  }
  work.running = false;
  showRows();
  $("progress-area").hidden = true;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  setNotice((work.stopped ? "Stopped." : `Classified ${done} image${done === 1 ? "" : "s"} in ${seconds} s.`) +
    (work.skipped ? ` ${work.skipped}` : ""));
}

async function classify(item, onProgress) {
  const model = activeModel();
  const generation = work.generation;
  let outcome;
  if (!model) {
    outcome = { error: "No model is loaded: load a .safetensors file above." };
  } else {
    try {
      await ensureLoaded(model);
      const reply = await engine.call("classify",
        { key: model.key, file: item.file, name: item.name, cropBottom: cropBottom(), thumbnailSide: THUMBNAIL_SIDE,
          tta: ttaArg(), umPerPx: umPerPx() },
        { onProgress });
      outcome = { result: reply.result, ms: reply.ms, decoder: reply.decoder, classes: model.info.classes,
        model: model.label, info: model.info };
    } catch (e) {
      outcome = { error: e.message };
    }
  }
  if (generation !== work.generation) return; // stale: the item is queued again
  delete item.thumbnail;
  Object.assign(item, outcome, { expected: expectedOf(item, work.expected) });
  if (item.result) await judge([item]);
  if (item.result) keepThumbnail(item);
  showItem(item);
}

// The core's verdict (worker: verdicts) on each classified item against its
// expected line; none without one.
async function judge(items) {
  for (const item of items) delete item.verdict;
  const rows = items.filter((item) => item.result && item.expected);
  const model = activeModel();
  if (!rows.length || !model) return;
  try {
    await ensureLoaded(model);
    const { verdicts } = await engine.call("verdicts", { key: model.key, rows: rows.map((item) =>
      ({ predicted: item.result.predicted, known: item.result.ood.known, expected: item.expected })) });
    rows.forEach((item, i) => (item.verdict = verdicts[i]));
  } catch (e) {
    setNotice(`No verdicts: ${e.message}`);
  }
}

// The expected line's choices: "not said", then the model's classes. The
// images' own lines this model does not know are cleared, and said so.
export function expectedChoices(classes) {
  const select = $("expected-line");
  select.replaceChildren(new Option("Not said", ""), ...classes.map((c) => new Option(c, c)));
  select.value = classes.includes(work.expected) ? work.expected : "";
  work.expected = select.value;
  showExpectNote(clearUnknownLines(work.items, classes));
}

function showExpectNote(text) {
  $("expected-note").textContent = text;
  $("expected-note").hidden = !text;
}

// Items' verdicts again after a change of their expected lines, on cards and in the CSVs.
async function rejudge(items) {
  for (const item of items) item.expected = expectedOf(item, work.expected);
  await judge(items);
  for (const item of items) showItem(item);
}

// A new expected line for every image but those with their own.
export function setExpected(line) {
  work.expected = line;
  return rejudge(work.items);
}

// An image's own expected line (its card's choice; "": as for every image).
export function setOwnExpected(item, line) {
  item.own = line;
  return rejudge([item]);
}

// An expected-lines CSV (a File) picked: its lines to the images it names,
// now and when they are dropped.
export async function loadExpectCsv(file) {
  try {
    await readExpectCsv(file);
  } catch (e) {
    showExpectNote(e.message);
    return;
  }
  let applied;
  try {
    applied = await applyCsvLines(work.items, classesInUse());
  } catch (e) {
    showExpectNote(`${file.name}: ${e.message}.`);
    return;
  }
  showExpectNote(csvNote({ set: applied.set, unknown: unknownCsvLines(classesInUse()) },
    { file: file.name, images: work.items.length }));
  await rejudge(applied.set);
}

// The kept CSV's lines to images just dropped. The worker answers before it
// classifies them (it takes requests in turn), but those classified already
// are judged again all the same.
async function applyCsvTo(items) {
  try {
    const applied = await applyCsvLines(items, classesInUse());
    const note = csvNote(applied);
    if (note) showExpectNote(note);
    await rejudge(applied.set);
  } catch (e) {
    showExpectNote(`No expected lines from the CSV: ${e.message}.`);
  }
}

const STOPPED = "Not classified: stopped.";

// Stops the image under way and those waiting.
export function stop() {
  work.stopped = true;
  engine.cancel(STOPPED);
  for (const item of work.queue) {
    item.error = STOPPED;
    showItem(item);
  }
  work.queue = [];
}

export function clear() {
  work.items = [];
  work.queue = [];
  work.skipped = "";
  showPage(work.items);
  $("results").hidden = true;
}

// The CSV of the images (tiles: of every tile), of the model they were classified with.
// Mid-run, of the images done so far, said in the notice and the file's name.
export function downloadCsv(tiles) {
  const done = work.items.filter((item) => item.result);
  const count = tally(work.items);
  const partial = count.running ? `-${count.done}-of-${count.total}` : "";
  if (tiles) saveFile(`cellsight-tiles${partial}.csv`, tilesCsv(done), "text/csv");
  else saveFile(`cellsight-results${partial}.csv`, imagesCsv(done), "text/csv");
  if (partial) setNotice(`Downloaded ${tiles ? "the tile CSV" : "the CSV"} of ${partialText(count)}: ` +
    "download it again when the run ends for every image.");
}
