/* queue.js: classifying: the images given, one card each, sent to the worker
   one at a time with the model, crop and averaging in use; all of them again
   after a change of those; Stop, Clear and the CSV downloads. */
import { $, saveFile } from "./dom.js";
import { engine } from "./engine.js";
import { activeModel, cropBottom, ttaArg, umPerPx } from "./models.js";
import { THUMBNAIL_SIDE, imagesCsv, makeCard, renderCard, renderTable, setCardWaiting, tilesCsv } from "./results.js";

const work = {
  items: [],     // one per image: {name, file, card, result?, error?, ms?, decoder?, classes?, info?}
  queue: [],     // items waiting for the worker
  generation: 0, // counts changes of model, crop or averaging, which make results stale
  running: false,
  stopped: false,
  skipped: "",   // the note on the files of the last folder that were not images
};

export function setNotice(text) {
  $("notice").textContent = text;
}

// The note on files passed over, shown now and again when the run ends.
export function noteSkipped(note) {
  work.skipped = note;
  if (note) setNotice(note);
}

function showTable() {
  const model = activeModel();
  renderTable(work.items, model && model.info ? model.info.classes : []);
}

export function enqueue(files) {
  if (!files.length) return;
  work.stopped = false;
  for (const { file, name } of files) {
    const item = { file, name, card: makeCard(name) };
    work.items.push(item);
    work.queue.push(item);
    $("cards").append(item.card);
  }
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
    delete item.error;
    setCardWaiting(item);
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
      $("progress-text").textContent = `Classifying ${item.name} (${done + 1} of ${total})`;
    };
    show(0);
    await classify(item, (d, n) => show(n ? d / n : 0));
    done++;
    showTable();
  }
  work.running = false;
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
      const reply = await engine.call("classify",
        { key: model.key, file: item.file, name: item.name, cropBottom: cropBottom(), thumbnailSide: THUMBNAIL_SIDE,
          tta: ttaArg(), umPerPx: umPerPx() },
        { onProgress });
      outcome = { result: reply.result, ms: reply.ms, decoder: reply.decoder, classes: model.info.classes,
        info: model.info };
    } catch (e) {
      outcome = { error: e.message };
    }
  }
  if (generation !== work.generation) return; // stale: the item is queued again
  Object.assign(item, outcome);
  renderCard(item);
}

// Stops the image under way and those waiting.
export function stop() {
  work.stopped = true;
  engine.cancel();
  for (const item of work.queue) {
    item.error = "Not classified: stopped.";
    renderCard(item);
  }
  work.queue = [];
  showTable();
}

export function clear() {
  for (const item of work.items) {
    const img = item.card.querySelector(".thumb img");
    if (img.src) URL.revokeObjectURL(img.src);
  }
  work.items = [];
  work.queue = [];
  work.skipped = "";
  $("cards").replaceChildren();
  $("results").hidden = true;
}

// The CSV of the images (tiles: of every tile), of the model they were classified with.
export function downloadCsv(tiles) {
  const done = work.items.filter((item) => item.result);
  if (tiles) saveFile("cellsight-tiles.csv", tilesCsv(done), "text/csv");
  else saveFile("cellsight-results.csv", imagesCsv(done), "text/csv");
}
