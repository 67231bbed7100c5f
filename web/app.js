/* app.js: the cellsight page. The worker (worker.js) does the work; this file
   turns what the user drops, picks or pastes into requests, and results into
   pictures, a table and CSV files. A classic script (no modules), so that the
   self-contained cellsight.html can inline it and run from file://. */
"use strict";

// Set by the self-contained cellsight.html: the worker's source and the files
// (models, samples) that a served page fetches instead.
const bundle = self.CELLSIGHT_BUNDLE || null;

const $ = (id) => document.getElementById(id);
const THUMBNAIL_SIDE = 768; // pixels, the longer side; sharp at twice a card's width

/* ---------------------------------------------------------------- the worker */

class Engine {
  constructor() {
    this.worker = bundle
      ? new Worker(URL.createObjectURL(new Blob([bundle.worker], { type: "text/javascript" })))
      : new Worker("worker.js");
    this.nextId = 1;
    this.pending = new Map();
    // Stops work under way; shared memory needs a cross-origin-isolated page.
    this.cancelFlag = self.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;
    this.worker.onmessage = ({ data }) => {
      const call = this.pending.get(data.id);
      if (!call) return;
      if (data.type === "progress") {
        if (call.onProgress) call.onProgress(data.done, data.total, data);
        return;
      }
      this.pending.delete(data.id);
      if (data.type === "error") call.reject(new Error(data.message));
      else call.resolve(data);
    };
    this.worker.onerror = (event) => {
      const error = new Error(`the worker failed: ${event.message || "unknown error"}`);
      for (const call of this.pending.values()) call.reject(error);
      this.pending.clear();
    };
  }

  // Asks the worker to stop the request under way, where the page can (not
  // from file://, where it runs to its end), and every one after it until
  // resume().
  cancel() {
    if (this.cancelFlag) Atomics.store(this.cancelFlag, 0, 1);
  }

  resume() {
    if (this.cancelFlag) Atomics.store(this.cancelFlag, 0, 0);
  }

  // Resolves with the worker's "done" message, rejects with its error.
  call(type, args = {}, { transfer = [], onProgress = null } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, type, ...args }, transfer);
    });
  }
}

/* ---------------------------------------------------------------- shipped files */

// assets.json: {models: [{file, name, default}], samples: [{file, name}], credit}
const assets = {
  async list() {
    if (bundle) return bundle.assets;
    const response = await fetch("assets.json");
    if (!response.ok) throw new Error(`assets.json: ${response.status} ${response.statusText}`);
    return response.json();
  },
  async bytes(file) {
    if (bundle) {
      const text = atob(bundle.files[file]);
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      return bytes.buffer;
    }
    const response = await fetch(file);
    if (!response.ok) throw new Error(`${file}: ${response.status} ${response.statusText}`);
    return response.arrayBuffer();
  },
};

/* ---------------------------------------------------------------- numbers and CSV */

// As the CLI prints them, printf("%.6f"), which rounds an exact tie to even
// where toFixed rounds it up; a tie is n / 128 for an odd n.
function formatNumber(x) {
  const n = x * 128;
  if (!Number.isInteger(n) || n % 2 === 0) return x.toFixed(6);
  const k = Math.floor(x * 1e6);
  return ((k % 2 === 0 ? k : k + 1) / 1e6).toFixed(6);
}
const percent = (x) => `${(100 * x).toFixed(1)}%`;

function csvField(value) {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const csvLine = (fields) => fields.map(csvField).join(",") + "\n";

// The tta column of the CSVs: the model file's values for the averaging used.
const ttaValue = (r) => (r.tta ? "dihedral8" : "none");

// file,predicted_class,confidence,tiles,p_<class>... as `cellsight predict --csv`,
// then tta (dihedral8 or none, as `predict --tta` / `--no-tta`): tiles counts the
// tiles that vote (not background).
function imagesCsv(classes, done) {
  let csv = csvLine(["file", "predicted_class", "confidence", "tiles", ...classes.map((c) => `p_${c}`), "tta"]);
  for (const { name, result: r } of done)
    csv += csvLine([name, classes[r.predicted], formatNumber(r.confidence), r.nforeground,
      ...Array.from(r.probs, formatNumber), ttaValue(r)]);
  return csv;
}

// file,x,y,background,predicted_class,confidence,p_<class>... as `predict --csv --tiles`, then tta.
function tilesCsv(classes, done) {
  const K = classes.length;
  let csv = csvLine(["file", "x", "y", "background", "predicted_class", "confidence",
    ...classes.map((c) => `p_${c}`), "tta"]);
  for (const { name, result: r } of done) {
    const t = r.tiles;
    for (let i = 0; i < r.ntiles; i++) {
      const p = t.probs.subarray(i * K, (i + 1) * K);
      csv += csvLine([name, t.x[i], t.y[i], t.background[i], classes[t.predicted[i]],
        formatNumber(p[t.predicted[i]]), ...Array.from(p, formatNumber), ttaValue(r)]);
    }
  }
  return csv;
}

function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const a = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/* ---------------------------------------------------------------- colours */

// Okabe & Ito's colour-blind-safe palette, then evenly spread hues.
const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442"];
const classColour = (k) => PALETTE[k] || `hsl(${(k * 137.5) % 360} 65% 50%)`;

function hatchPattern(ctx) {
  const tile = document.createElement("canvas");
  tile.width = tile.height = 8;
  const t = tile.getContext("2d");
  t.fillStyle = "rgba(255, 255, 255, 0.18)";
  t.fillRect(0, 0, 8, 8);
  t.strokeStyle = "rgba(40, 40, 40, 0.55)";
  t.lineWidth = 1.5;
  t.beginPath();
  t.moveTo(-2, 10);
  t.lineTo(10, -2);
  t.stroke();
  return ctx.createPattern(tile, "repeat");
}

/* ---------------------------------------------------------------- state */

const engine = new Engine();
const state = {
  models: new Map(),  // key -> {key, label, file (shipped) or bytes (user's), info once loaded}
  active: null,       // key of the model in use
  items: [],          // one per image: {name, file, card, result?, error?, ms?, decoder?}
  queue: [],          // items waiting for the worker
  generation: 0,      // counts changes of model, crop or averaging, which make results stale
  running: false,
  stopped: false,
  userModels: 0,
  skipped: "",        // the note on the files of the last folder that were not images
};

const activeModel = () => state.models.get(state.active);

function cropBottom() {
  const value = $("crop-bottom").value.trim();
  return /^\d+$/.test(value) ? Number(value) : -1; // -1: the model's
}

/* Test-time averaging (the 8 flips and rotations of each tile): the box shows
   what the next classification uses. Until the user ticks or clears it, it
   follows the model's metadata (tta); their choice is kept (localStorage),
   for every model and the next visit, until "Model's default". */
const TTA_KEY = "cellsight.tta";
const ttaChoice = {
  get() {
    try {
      return localStorage.getItem(TTA_KEY); // "on", "off" or null
    } catch {
      return null; // storage blocked: the model's default each visit
    }
  },
  set(value) {
    try {
      if (value === null) localStorage.removeItem(TTA_KEY);
      else localStorage.setItem(TTA_KEY, value);
    } catch {
      // not kept; the box still works for this visit
    }
  },
};

function showTta(model) {
  const byModel = Boolean(model.info.tta), choice = ttaChoice.get();
  $("tta").checked = choice ? choice === "on" : byModel;
  $("tta-help").textContent = byModel
    ? "This model was validated with it (tta dihedral8 in its metadata). Off: one pass a tile, 8 times quicker, " +
      "probabilities a little different from the validated ones."
    : "This model was validated without it (one pass a tile). On: each tile also seen in its 8 flips and " +
      "rotations and the results averaged, 8 times slower.";
}

/* ---------------------------------------------------------------- models */

function showModelError(message) {
  $("model-error").textContent = message;
  $("model-error").hidden = !message;
}

function describeModel({ info }) {
  const { protocol, epochs } = info.metadata; // written by cellsight train
  const trained = [protocol && `${protocol} protocol`, epochs && `${epochs} epochs`].filter(Boolean);
  return `${info.classes.length} classes: ${info.classes.join(", ")}. ` +
    `${info.tile} x ${info.tile} tiles, ${info.params.toLocaleString("en")} parameters (${info.arch}).` +
    (trained.length ? ` Trained: ${trained.join(", ")}.` : "");
}

// Loads model.key in the worker unless it is there already.
async function ensureLoaded(model) {
  if (model.info) return;
  const bytes = model.bytes || (await assets.bytes(model.file));
  const reply = await engine.call("loadModel", { key: model.key, bytes });
  model.info = reply.info;
}

// Selections in flight: a model that finishes loading after a later choice
// (the user's, or the page's own) must not take its place.
let selections = 0;

async function selectModel(key) {
  const model = state.models.get(key), ticket = ++selections;
  try {
    await ensureLoaded(model);
  } catch (e) {
    if (ticket !== selections) return;
    showModelError(`${model.label}: ${e.message}`);
    $("model-select").value = state.active || "";
    return;
  }
  if (ticket !== selections) return;
  showModelError("");
  state.active = key;
  $("model-select").value = key;
  $("crop-bottom").value = model.info.crop_bottom;
  showTta(model);
  $("model-summary").textContent = describeModel(model);
  showModelDetails(model);
  renderLegend();
  reclassifyAll();
  document.dispatchEvent(new CustomEvent("cellsight:model", { detail: { key } }));
}

// The shipped model's card (Markdown, shown as text) and every metadata entry.
function showModelDetails(model) {
  $("model-card").textContent = model.card || "";
  $("model-card").hidden = !model.card;
  const list = $("model-metadata");
  list.replaceChildren();
  for (const [key, value] of Object.entries(model.info.metadata)) {
    list.append(Object.assign(document.createElement("dt"), { textContent: key }),
      Object.assign(document.createElement("dd"), { textContent: value }));
  }
}

function addModelOption(model) {
  state.models.set(model.key, model);
  $("model-select").append(new Option(model.label, model.key));
}

// A .safetensors file the user picked or dropped: its size checked against the
// core's limit before it is read (a 5 GB file dropped by mistake is refused,
// not copied into memory), then validated by the C loader.
async function loadUserModel(file) {
  const key = `user:${++state.userModels}:${file.name}`;
  let model;
  try {
    await engine.call("checkModel", { size: file.size });
    model = { key, label: `${file.name} (yours)`, bytes: await file.arrayBuffer() };
    await ensureLoaded(model);
  } catch (e) {
    showModelError(`${file.name} is not a model cellsight can use: ${e.message}`);
    return;
  }
  addModelOption(model);
  await selectModel(key);
}

/* ---------------------------------------------------------------- classification */

function enqueue(files) {
  if (!files.length) return;
  state.stopped = false;
  for (const { file, name } of files) {
    const item = { file, name, card: makeCard(name) };
    state.items.push(item);
    state.queue.push(item);
    $("cards").append(item.card);
  }
  $("results").hidden = false;
  renderTable();
  if (!state.running) run();
}

// After a change of model, crop or averaging, nothing stale stays on show or in the CSV.
function reclassifyAll() {
  state.generation++;
  if (!state.items.length) return;
  state.queue = state.items.slice();
  for (const item of state.items) {
    delete item.result;
    delete item.error;
    setCardWaiting(item);
  }
  renderTable();
  if (!state.running) run();
}

async function run() {
  state.running = true;
  engine.resume();
  const started = performance.now();
  let done = 0;
  $("progress-area").hidden = false;
  while (state.queue.length && !state.stopped) {
    const item = state.queue.shift();
    const total = done + 1 + state.queue.length;
    const show = (fraction) => {
      $("progress").value = (done + fraction) / total;
      $("progress-text").textContent = `Classifying ${item.name} (${done + 1} of ${total})`;
    };
    show(0);
    await classify(item, (d, n) => show(n ? d / n : 0));
    done++;
    renderTable();
  }
  state.running = false;
  $("progress-area").hidden = true;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  setNotice((state.stopped ? "Stopped." : `Classified ${done} image${done === 1 ? "" : "s"} in ${seconds} s.`) +
    (state.skipped ? ` ${state.skipped}` : ""));
}

async function classify(item, onProgress) {
  const model = activeModel();
  const generation = state.generation;
  let outcome;
  if (!model) {
    outcome = { error: "No model is loaded: load a .safetensors file above." };
  } else {
    try {
      const reply = await engine.call("classify",
        { key: model.key, file: item.file, cropBottom: cropBottom(), thumbnailSide: THUMBNAIL_SIDE,
          tta: $("tta").checked ? 1 : 0 },
        { onProgress });
      outcome = { result: reply.result, ms: reply.ms, decoder: reply.decoder, classes: model.info.classes };
    } catch (e) {
      outcome = { error: e.message };
    }
  }
  if (generation !== state.generation) return; // stale: the item is queued again
  Object.assign(item, outcome);
  renderCard(item);
}

/* ---------------------------------------------------------------- drawing results */

function makeCard(name) {
  const card = document.createElement("article");
  card.className = "card waiting";
  card.innerHTML = `
    <div class="thumb"><img alt=""></div>
    <div class="card-body">
      <h3 class="file-name"></h3>
      <p class="verdict">Waiting…</p>
      <ul class="probs"></ul>
      <p class="meta"></p>
    </div>`;
  card.querySelector(".file-name").textContent = name;
  card.querySelector(".file-name").title = name;
  return card;
}

function setCardWaiting(item) {
  item.card.className = "card waiting";
  item.card.querySelector(".verdict").textContent = "Waiting…";
}

function renderCard(item) {
  const { card, result: r } = item;
  const verdict = card.querySelector(".verdict");
  const probs = card.querySelector(".probs");
  const meta = card.querySelector(".meta");
  const img = card.querySelector(".thumb img");
  probs.replaceChildren();
  if (item.error) {
    card.className = "card failed";
    verdict.textContent = item.error;
    verdict.setAttribute("role", "alert");
    meta.textContent = "";
    return;
  }
  card.className = "card";
  verdict.removeAttribute("role");
  const classes = item.classes;
  verdict.innerHTML = `<span class="swatch"></span><strong></strong> <span class="confidence"></span>`;
  verdict.querySelector(".swatch").style.background = classColour(r.predicted);
  verdict.querySelector("strong").textContent = classes[r.predicted];
  verdict.querySelector(".confidence").textContent = percent(r.confidence);
  classes.forEach((name, k) => {
    const li = document.createElement("li");
    li.innerHTML = `<span class="class-name"></span><span class="bar" aria-hidden="true"><span></span></span><span class="value"></span>`;
    li.querySelector(".class-name").textContent = name;
    li.querySelector(".bar span").style.width = `${100 * r.probs[k]}%`;
    li.querySelector(".bar span").style.background = classColour(k);
    li.querySelector(".value").textContent = percent(r.probs[k]);
    li.dataset.probability = r.probs[k];
    probs.append(li);
  });
  const background = r.ntiles - r.nforeground;
  card.dataset.tiles = r.nforeground;
  meta.textContent = `${r.ntiles} tiles${background ? `, ${background} of them background` : ""} · ` +
    `${(item.ms / 1000).toFixed(2)} s · ${r.width} x ${r.height} px · ` +
    (r.tta ? "averaged over 8 flips/rotations" : "one pass a tile (no flip/rotation averaging)") +
    (item.decoder === "browser" ? " · decoded by the browser" : "");
  img.alt = `${item.name} with its ${r.ntiles} tiles coloured by predicted class`;
  img.onmousemove = (event) => (img.title = describeTileAt(img, item, event));
  showThumbnail(img, drawThumbnail(r));
  delete r.thumbnail; // drawn: a folder of hundreds of images must not keep every pixel
}

// A compressed copy in an <img>, not a live canvas per image: hundreds of
// canvases would hold hundreds of megabytes.
function showThumbnail(img, canvas) {
  canvas.toBlob((blob) => {
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
  }, "image/jpeg", 0.9);
}

// Hovering over a tile shows its figures.
function describeTileAt(img, item, event) {
  const r = item.result;
  const box = img.getBoundingClientRect();
  const x = ((event.clientX - box.left) / box.width) * r.width;
  const y = ((event.clientY - box.top) / box.height) * r.height;
  const K = r.probs.length;
  for (let i = 0; i < r.ntiles; i++) {
    const tx = r.tiles.x[i], ty = r.tiles.y[i];
    if (x < tx || x >= tx + r.tile || y < ty || y >= ty + r.tile) continue;
    const probs = item.classes.map((name, k) => `${name} ${percent(r.tiles.probs[i * K + k])}`);
    return `Tile at (${tx}, ${ty}): ${probs.join(", ")}` +
      (r.tiles.background[i] ? " (background: does not vote)" : "");
  }
  return y >= r.height - r.cropBottom ? "Cropped off before tiling" : "Not tiled (a partial tile)";
}

// The image as the network saw it (gray), each tile coloured by its vote.
function drawThumbnail(r) {
  const t = r.thumbnail;
  const canvas = document.createElement("canvas");
  canvas.width = t.width;
  canvas.height = t.height;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(t.width, t.height);
  for (let i = 0; i < t.gray.length; i++) {
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = t.gray[i];
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);

  const sx = t.width / r.width, sy = t.height / r.height;
  const K = r.probs.length;
  const hatch = hatchPattern(ctx);
  // Tiles: the predicted class's colour, stronger the surer the network is.
  for (let i = 0; i < r.ntiles; i++) {
    const x = r.tiles.x[i] * sx, y = r.tiles.y[i] * sy, w = r.tile * sx, h = r.tile * sy;
    if (r.tiles.background[i]) {
      ctx.fillStyle = hatch;
    } else {
      const k = r.tiles.predicted[i];
      const sureness = (r.tiles.probs[i * K + k] - 1 / K) / (1 - 1 / K);
      ctx.globalAlpha = 0.12 + 0.5 * Math.max(0, sureness);
      ctx.fillStyle = classColour(k);
    }
    ctx.fillRect(x, y, w, h);
    ctx.globalAlpha = 1;
    ctx.strokeStyle = "rgba(255, 255, 255, 0.45)";
    ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
  }
  // The bottom strip that was cropped off before tiling.
  if (r.cropBottom > 0) {
    const y = (r.height - Math.min(r.cropBottom, r.height)) * sy;
    ctx.fillStyle = "rgba(20, 24, 32, 0.6)";
    ctx.fillRect(0, y, t.width, t.height - y);
  }
  return canvas;
}

/* ---------------------------------------------------------------- table and legend */

function finished() {
  return state.items.filter((item) => item.result);
}

function renderTable() {
  const model = activeModel();
  const classes = model && model.info ? model.info.classes : [];
  const head = document.createElement("tr");
  for (const label of ["File", "Predicted", "Confidence", "Tiles", ...classes])
    head.append(Object.assign(document.createElement("th"), { scope: "col", textContent: label }));
  head.cells[3].title = "Tiles that vote: the background ones do not";
  $("results-table").tHead.replaceChildren(head);
  const body = $("results-table").tBodies[0];
  body.replaceChildren();
  for (const item of state.items) {
    const row = body.insertRow();
    row.insertCell().textContent = item.name;
    if (item.error) {
      const cell = row.insertCell();
      cell.colSpan = 3 + classes.length;
      cell.className = "error";
      cell.textContent = item.error;
    } else if (!item.result) {
      const cell = row.insertCell();
      cell.colSpan = 3 + classes.length;
      cell.className = "muted";
      cell.textContent = "waiting…";
    } else {
      const r = item.result;
      row.insertCell().textContent = item.classes[r.predicted];
      row.insertCell().textContent = percent(r.confidence);
      row.insertCell().textContent = r.nforeground;
      for (const p of r.probs) row.insertCell().textContent = formatNumber(p);
    }
  }
  const any = finished().length > 0;
  $("download-csv").disabled = !any;
  $("download-tiles-csv").disabled = !any;
}

function renderLegend() {
  const model = activeModel();
  const legend = $("legend");
  legend.replaceChildren();
  model.info.classes.forEach((name, k) => {
    const span = document.createElement("span");
    span.innerHTML = `<i class="swatch"></i>`;
    span.firstChild.style.background = classColour(k);
    span.append(name);
    legend.append(span);
  });
  legend.insertAdjacentHTML("beforeend",
    `<span><i class="swatch hatched"></i>background tile</span>` +
    `<span><i class="swatch cropped"></i>cropped strip</span>` +
    `<span class="muted">Stronger colour: surer tile.</span>`);
}

/* ---------------------------------------------------------------- input */

function setNotice(text) {
  $("notice").textContent = text;
}

// Files from a drop: folders are walked (DataTransfer entries), passing over
// hidden entries in them as the CLI's folder walk does. A file's name has a
// "/" if it was met in a folder, and none if it was dropped as such.
async function droppedFiles(dataTransfer) {
  const entries = Array.from(dataTransfer.items || [])
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (!entries.length || entries.some((entry) => !entry))
    return Array.from(dataTransfer.files, (file) => ({ file, name: file.name }));
  const out = [];
  const walk = async (entry, inFolder) => {
    if (inFolder && entry.name.startsWith(".")) return;
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      out.push({ file, name: entry.fullPath.replace(/^\//, "") });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child, true);
      }
    }
  };
  for (const entry of entries) await walk(entry, false);
  return out;
}

// Which files are images by their names ("a/b.jpg": b.jpg's): the core's one
// rule (cs_image_name), which the CLI's folder walk and data sets follow too,
// asked of the worker, which answers once its module is ready.
// Resolves with {images, skipped}.
async function byImageName(files) {
  if (!files.length) return { images: [], skipped: [] };
  const { images } = await engine.call("imageNames", { names: files.map((f) => f.name) });
  return { images: files.filter((_, i) => images[i]), skipped: files.filter((_, i) => !images[i]) };
}

// What was skipped, as the CLI says it ("skipped notes.txt: not an image file
// (by its name)"), naming a few; "" if nothing was.
function skippedNote(skipped) {
  if (!skipped.length) return "";
  const names = skipped.map((f) => f.name).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const few = names.slice(0, 3).join(", ");
  const more = skipped.length > 3 ? ` and ${skipped.length - 3} more` : "";
  return skipped.length === 1 ? `Skipped ${few}: not an image file (by its name).`
    : `Skipped ${few}${more}: not image files (by their names).`;
}

// Files given as such: a .safetensors one goes to the model picker, any other
// to the classifier, tried whatever its name as the CLI tries a file named on
// its command line. Of those met in a folder, as the CLI's folder walk, only
// the images by their names; the rest, a .safetensors file too, are named in a
// note (a folder of images with a model beside them classifies the images).
async function accept(files) {
  const images = [], inFolders = [];
  for (const f of files) {
    if (f.name.includes("/")) inFolders.push(f);
    else if (/\.safetensors$/i.test(f.name)) await loadUserModel(f.file);
    else images.push(f);
  }
  try {
    const named = await byImageName(inFolders);
    images.push(...named.images);
    state.skipped = skippedNote(named.skipped) + (named.skipped.some((f) => /\.safetensors$/i.test(f.name))
      ? " A model file is loaded when picked or dropped on its own." : "");
  } catch (e) {
    state.skipped = `The folder's files could not be looked through: ${e.message}`;
  }
  if (state.skipped) setNotice(state.skipped);
  images.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
  enqueue(images);
}

// Files picked, or the files of a picked folder (named "folder/..."), less
// hidden entries inside it, as droppedFiles.
function fromInput(input) {
  const files = Array.from(input.files)
    .map((file) => ({ file, name: file.webkitRelativePath || file.name }))
    .filter(({ name }) => !name.split("/").slice(1).some((part) => part.startsWith(".")));
  input.value = "";
  return files;
}

async function loadSamples(list) {
  try {
    const files = await Promise.all(list.map(async (s) =>
      ({ file: new Blob([await assets.bytes(s.file)]), name: s.name })));
    enqueue(files);
  } catch (e) {
    setNotice(`Could not load the sample images: ${e.message}`);
  }
}

function wireInput(list) {
  const zone = $("drop-zone");
  let depth = 0; // dragenter/dragleave pairs, children included
  document.addEventListener("dragenter", (e) => {
    e.preventDefault();
    depth++;
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (e) => e.preventDefault());
  // Anywhere on the page: a stray drop must not navigate away from the results.
  document.addEventListener("drop", async (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    accept(await droppedFiles(e.dataTransfer));
  });
  document.addEventListener("paste", (e) => {
    const files = Array.from(e.clipboardData ? e.clipboardData.files : []);
    if (!files.length) return;
    e.preventDefault();
    const stamp = new Date().toLocaleTimeString("en-GB").replace(/:/g, "-");
    const name = (file, i) =>
      `pasted-${stamp}${files.length > 1 ? `-${i + 1}` : ""}.${file.type.split("/")[1] || "png"}`;
    accept(files.map((file, i) => ({ file, name: name(file, i) })));
  });
  $("file-input").addEventListener("change", (e) => accept(fromInput(e.target)));
  $("folder-input").addEventListener("change", (e) => accept(fromInput(e.target)));
  $("model-file").addEventListener("change", (e) => {
    const [file] = e.target.files;
    e.target.value = "";
    if (file) loadUserModel(file);
  });
  $("model-select").addEventListener("change", (e) => selectModel(e.target.value));
  $("crop-bottom").addEventListener("change", () => reclassifyAll());
  $("crop-reset").addEventListener("click", () => {
    const model = activeModel();
    if (!model) return;
    $("crop-bottom").value = model.info.crop_bottom;
    reclassifyAll();
  });
  $("tta").addEventListener("change", () => {
    ttaChoice.set($("tta").checked ? "on" : "off");
    reclassifyAll();
  });
  $("tta-reset").addEventListener("click", () => {
    const model = activeModel();
    ttaChoice.set(null);
    if (!model) return;
    const before = $("tta").checked;
    showTta(model);
    if ($("tta").checked !== before) reclassifyAll();
  });
  $("samples-button").addEventListener("click", () => loadSamples(list.samples));
  $("samples-button").hidden = !list.samples.length;
  $("stop-button").addEventListener("click", () => {
    state.stopped = true;
    engine.cancel();
    for (const item of state.queue) {
      item.error = "Not classified: stopped.";
      renderCard(item);
    }
    state.queue = [];
    renderTable();
  });
  $("clear-button").addEventListener("click", () => {
    for (const item of state.items) {
      const img = item.card.querySelector(".thumb img");
      if (img.src) URL.revokeObjectURL(img.src);
    }
    state.items = [];
    state.queue = [];
    state.skipped = "";
    $("cards").replaceChildren();
    $("results").hidden = true;
  });
  const classesOfResults = () => finished()[0].classes;
  $("download-csv").addEventListener("click", () =>
    download("cellsight-results.csv", imagesCsv(classesOfResults(), finished())));
  $("download-tiles-csv").addEventListener("click", () =>
    download("cellsight-tiles.csv", tilesCsv(classesOfResults(), finished())));
}

/* ---------------------------------------------------------------- start */

async function registerServiceWorker() {
  const pill = $("offline-status");
  if (bundle) {
    pill.textContent = "Self-contained page: works offline";
    pill.hidden = false;
    return;
  }
  if (!("serviceWorker" in navigator) || !location.protocol.startsWith("http")) return;
  try {
    await navigator.serviceWorker.register("sw.js");
    await navigator.serviceWorker.ready;
    pill.textContent = "Ready to work offline";
    pill.hidden = false;
  } catch (e) {
    console.warn("cellsight: no offline copy:", e);
  }
}

async function start() {
  registerServiceWorker();
  const [{ version, threads }, list] = await Promise.all([
    engine.call("init", { cancelFlag: engine.cancelFlag }), assets.list()]);
  $("version").textContent = version;
  $("engine").textContent = `WebAssembly SIMD, ${threads} thread${threads === 1 ? "" : "s"}`;
  if (list.credit) {
    $("samples-credit").querySelector("p").textContent = list.credit;
    $("samples-credit").hidden = false;
  }
  wireInput(list);
  for (const m of list.models) addModelOption({ key: m.file, label: m.name, file: m.file, card: m.card });
  const first = list.models.find((m) => m.default) || list.models[0];
  if (first) await selectModel(first.file);
  else showModelError("No model ships with this page yet: load a .safetensors file.");
  if (typeof Finetune !== "undefined") await Finetune.start(); // the Teach panel, saved models
  document.body.dataset.ready = "true";
}

start().catch((e) => {
  showModelError(`cellsight could not start: ${e.message}`);
  document.body.dataset.ready = "error";
});
