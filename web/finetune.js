/* finetune.js: the page's "Teach" panel, fine-tuning in the browser (issue 5).

   The user names a bin per class (starting from the current model's classes)
   and drops whole images on each, and picks the model to start from (a base,
   metadata role "base", when one is listed, else the model in use); the C core (apps/wasm/wasm_finetune.c) trains in a
   Web Worker of its own, which Cancel simply ends, so the model in use is
   never touched and classifying goes on meanwhile. Every fine-tuned model is
   stored in IndexedDB (store.js) the moment training ends, listed in the model
   picker (with Download and Delete) and kept across reloads.

   app.js calls startFinetune with what the panel needs of the page; the panel
   follows the model in use through models.onChange. */
import { drawCharts } from "./charts.js";
import { MODE } from "./constants.js";
import { $, byName, classColour, el, percent, saveFile } from "./dom.js";
import { savedModels } from "./store.js";

const MAX_THUMBNAILS = 12; // per bin; the rest are listed by count
const MAX_BINS = 12;       // shown at once; more classes are found by name (a model of 1000 classes)
const OPEN_KEY = "cellsight.teach.open"; // sessionStorage: whether the panel is open
const MAX_NAMED_LINES = 5; // a start's lines named in full in its option; more are shortened
const NOT_LASTING = "This browser has not promised to keep what it stores, so it may clear this model without " +
  "a word (Safari after 7 days without a visit, any browser when the disk runs short, a private window when " +
  "it closes). Download it to be sure to keep it.";

/* -------------------------------------------------------------- state */

let page = null;          // what the panel needs of the page (startFinetune)
const ui = {};            // elements of the panel, by name
let bins = [];            // [{name, files: [{file, name}]}]
let binsFromModel = null; // key of the model the bins were named after, while empty
let startChosen = null;   // key of the model the user chose to start from (startModel)
let defaults = {};        // mode -> {epochs, lr, ...} from the C core
let run = null;           // the training under way: {cancel}
let notStored = 0;        // trained models the browser would not store, numbered
let lasting = false;      // whether the browser has promised to keep its storage (savedModels.lasting)
let unsavedError = false; // whether the error shown is keep()'s advice to download a model
let advice = null;        // the status's advice to download a model: {key, done}, the status before it
let binsVersion = 0;      // counts changes to the bins (names, images)
let trainedVersion = 0;   // binsVersion of the last training that ended with a model

const modelKeyOf = (id) => `saved:${id}`;
const isSaved = (model) => model && model.saved;
// Fine-tuned models that leaving the page would lose: neither stored nor
// downloaded (and not deleted, which asks first).
const unsaved = () => Array.from(page.models.picker.models.values())
  .filter((m) => isSaved(m) && typeof m.saved.id !== "number" && !m.saved.downloaded);

/* -------------------------------------------------------------- the panel */

function build() {
  const section = el("section", { id: "teach", className: "panel teach" });
  section.setAttribute("aria-labelledby", "teach-title");
  section.innerHTML = `
    <details id="teach-details" open>
    <summary><h2 id="teach-title">Teach: fine-tune the model on your own cells</h2></summary>
    <p class="help">One bin per cell line: name it, then drop whole microscope images of that line on it
      (or add them with its button), or drop a folder holding one folder of images per cell line anywhere
      on this panel. Training runs on this computer; no image leaves it. Validation goes by image:
      per class, half the images validate (a class of one image: a band of its rows), never tiles of a
      training image.</p>
    <div id="teach-find-row" class="teach-row" hidden>
      <label for="teach-find">Find a class</label>
      <input id="teach-find" type="search" autocomplete="off" aria-describedby="teach-shown">
      <span id="teach-shown" class="help"></span>
    </div>
    <div class="bins" id="teach-bins"></div>
    <p id="teach-note" class="help" role="status" hidden></p>
    <div class="teach-row">
      <input id="teach-folder" class="visually-hidden" type="file" multiple webkitdirectory>
      <label class="button small" for="teach-folder">Choose a folder of class folders…</label>
      <button id="teach-add-bin" class="button small" type="button">Add a class</button>
      <button id="teach-reset-bins" class="button small" type="button">Start again from the model's classes</button>
    </div>
    <div class="teach-options">
      <div class="field teach-start">
        <label for="teach-start">Start from</label>
        <select id="teach-start" aria-describedby="teach-start-lines"></select>
        <span id="teach-start-lines" class="help"></span>
      </div>
      <fieldset class="teach-mode">
        <legend>What learns</legend>
        <label><input type="radio" name="teach-mode" value="${MODE.head}" checked>
          <span><strong>Head</strong>: the last layers only, on frozen features. Seconds to a minute.</span></label>
        <label><input type="radio" name="teach-mode" value="${MODE.full}">
          <span><strong>Full</strong>: every layer, with augmentation. Minutes to hours; carries better to cultures that grew denser since the images you teach.</span></label>
      </fieldset>
      <div class="field">
        <label for="teach-epochs">Epochs (at most)</label>
        <input id="teach-epochs" type="number" min="1" max="1000" step="1">
      </div>
      <div class="field">
        <label for="teach-lr">Learning rate</label>
        <input id="teach-lr" type="number" min="0.000001" max="1" step="any">
      </div>
      <label class="teach-validate"><input id="teach-validate" type="checkbox" checked>
        <span><strong>Validate</strong> on half of each class's images, held out of training: the
          figures, the calibration and the "unknown" threshold come from them. Unticked, every image
          trains and the last epoch is kept, with no figures.</span></label>
      <label class="teach-validate"><input id="teach-refit" type="checkbox" checked>
        <span><strong>Then train again on every image</strong>, the validation images too, as many
          epochs: the model you get, with the validated run's figures and calibration, "unknown"
          set anew. Head mode's default: it carries better to images taken another day.</span></label>
    </div>
    <div class="teach-row">
      <button id="teach-train" class="button primary" type="button">Train</button>
      <button id="teach-cancel" class="button" type="button" hidden>Cancel</button>
      <span id="teach-summary" class="help"></span>
    </div>
    <p id="teach-error" class="error" role="alert" hidden></p>
    <div id="teach-progress" class="teach-progress" hidden>
      <progress id="teach-bar" max="1" value="0" aria-labelledby="teach-status"></progress>
      <span id="teach-status" aria-live="polite"></span>
    </div>
    <div id="teach-charts" class="teach-charts" hidden>
      <figure><figcaption>Loss</figcaption><svg id="teach-loss" viewBox="0 0 320 160" role="img" aria-label="Training and validation loss by epoch"></svg></figure>
      <figure><figcaption>Tile accuracy</figcaption><svg id="teach-acc" viewBox="0 0 320 160" role="img" aria-label="Training and validation accuracy by epoch"></svg></figure>
      <p class="chart-key"><span class="key-train"></span>training <span class="key-val"></span>validation <span class="key-best"></span>kept epoch</p>
    </div>
    <div id="teach-result" class="teach-result" hidden></div>
    </details>`;
  for (const node of section.querySelectorAll("[id^=teach-]")) ui[node.id.slice(6)] = node;
  ui.section = section;
  $("results").after(section); // the results first, right under the drop zone
  rememberOpen(ui.details);

  ui["add-bin"].addEventListener("click", () => {
    bins.push({ name: "", files: [] });
    binsFromModel = null;
    renderBins();
    ui.bins.querySelector(`.bin[data-bin="${bins.length - 1}"] .bin-name`).focus();
  });
  ui["reset-bins"].addEventListener("click", () => {
    if (bins.some((b) => b.files.length) && !confirm("Empty every bin and start again from the model's classes?")) return;
    binsFromModel = null;
    seedBins(true);
  });
  ui.folder.addEventListener("change", () => {
    addFolders(page.files.fromInput(ui.folder));
  });
  // A drop anywhere else on the panel: class folders (a drop on a bin is the bin's).
  for (const type of ["dragenter", "dragover", "dragleave"])
    section.addEventListener(type, (e) => (e.preventDefault(), e.stopPropagation()));
  section.addEventListener("drop", async (e) => {
    e.preventDefault();
    e.stopPropagation();
    addFolders(await page.files.droppedFiles(e.dataTransfer));
  });
  for (const radio of section.querySelectorAll("input[name=teach-mode]"))
    radio.addEventListener("change", () => applyDefaults());
  ui.start.addEventListener("change", () => {
    startChosen = ui.start.value;
    renderStart();
    updateSummary();
  });
  ui.train.addEventListener("click", () => train());
  ui.cancel.addEventListener("click", () => run && run.cancel());
  for (const input of [ui.epochs, ui.lr]) input.addEventListener("input", updateSummary);
  ui.validate.addEventListener("change", () => (ui.refit.disabled = !ui.validate.checked));
  ui.find.addEventListener("input", showBins);
}

// Open or closed as the user left it, for the rest of the session.
function rememberOpen(details) {
  try {
    details.open = sessionStorage.getItem(OPEN_KEY) !== "closed";
    details.addEventListener("toggle", () => sessionStorage.setItem(OPEN_KEY, details.open ? "open" : "closed"));
  } catch {
    // no sessionStorage (a sandboxed frame): open, as it starts
  }
}

const mode = () => ui.section.querySelector("input[name=teach-mode]:checked").value;

function applyDefaults() {
  const d = defaults[mode()];
  if (!d) return;
  ui.epochs.value = d.epochs;
  ui.lr.value = Number(d.lr.toPrecision(6)); // 0.001, not float32's 0.00100000005
  ui.refit.checked = d.refit;
  updateSummary();
}

// The bins take the current model's classes while the user has put nothing in them.
function seedBins(force = false) {
  const model = page.models.active();
  if (!model || !model.info) return;
  if (!force && (bins.some((b) => b.files.length) || binsFromModel === null && bins.length)) return;
  bins = model.info.classes.map((name) => ({ name, files: [] }));
  binsFromModel = model.key;
  renderBins();
}

function renderBins() {
  binsVersion++;
  showBins();
  updateSummary();
}

// Every bin, or for many classes MAX_BINS of them: those being named, then
// those whose name holds what the find box does, those with images first.
function showBins() {
  const many = bins.length > MAX_BINS;
  const query = many ? ui.find.value.trim().toLowerCase() : "";
  const rank = (bin) => (!bin.name.trim() ? 0 : bin.files.length ? 1 : 2);
  const found = bins.map((bin, i) => ({ bin, i }))
    .filter(({ bin }) => !rank(bin) || bin.name.toLowerCase().includes(query))
    .sort((a, b) => rank(a.bin) - rank(b.bin));
  const shown = many ? found.slice(0, MAX_BINS) : found;
  ui.bins.replaceChildren(...shown.map(({ bin, i }) => renderBin(bin, i)));
  ui["find-row"].hidden = !many;
  ui.shown.textContent = many ? `${shown.length} of ${bins.length} classes shown` +
    (found.length > shown.length ? ": type part of a name to find another, or drop a folder of class folders." : ".") : "";
}

function renderBin(bin, i) {
  const node = el("div", { className: "bin" });
  node.dataset.bin = i;
  node.style.setProperty("--bin-colour", classColour(i));
  const name = el("input", { className: "bin-name", type: "text", value: bin.name, placeholder: "cell line" });
  name.setAttribute("aria-label", `Name of class ${i + 1}`);
  name.addEventListener("input", () => {
    bin.name = name.value;
    binsVersion++;
    binsFromModel = null;
    updateSummary();
  });
  const remove = el("button", { className: "button small bin-remove", type: "button", textContent: "Remove" });
  remove.title = "Remove this class and its images";
  remove.addEventListener("click", () => {
    if (bin.files.length && !confirm(`Remove the class "${bin.name}" and its ${bin.files.length} image(s)?`)) return;
    bins.splice(i, 1);
    binsFromModel = null;
    renderBins();
  });
  const count = el("span", { className: "bin-count" });
  count.textContent = `${bin.files.length} image${bin.files.length === 1 ? "" : "s"}`;
  const picker = el("input", { type: "file", multiple: true, className: "visually-hidden", accept: "image/*,.pgm,.ppm,.pnm,.tga" });
  picker.id = `teach-bin-file-${i}`;
  picker.addEventListener("change", () => {
    addFiles(bin, Array.from(picker.files).map((file) => ({ file, name: file.name })));
    picker.value = "";
  });
  const pick = el("label", { className: "button small", htmlFor: picker.id, textContent: "Add images…" });
  const drop = el("div", { className: "bin-drop" }, el("span", { textContent: "Drop images here " }), picker, pick);
  const list = el("ul", { className: "bin-files" });
  bin.files.slice(0, MAX_THUMBNAILS).forEach((f, k) => list.append(renderFile(bin, f, k)));
  if (bin.files.length > MAX_THUMBNAILS)
    list.append(el("li", { className: "bin-more", textContent: `and ${bin.files.length - MAX_THUMBNAILS} more` }));
  node.append(el("div", { className: "bin-head" }, el("span", { className: "swatch" }), name, count, remove), drop, list);

  // A drop on a bin is for the bin, not for the classifier (app.js listens on the document).
  for (const type of ["dragenter", "dragover", "dragleave", "drop"])
    node.addEventListener(type, (e) => {
      e.preventDefault();
      e.stopPropagation();
      node.classList.toggle("dragging", type === "dragenter" || type === "dragover");
    });
  node.addEventListener("drop", async (e) => addFiles(bin, await page.files.droppedFiles(e.dataTransfer)));
  return node;
}

function renderFile(bin, f, k) {
  const img = el("img", { alt: "", loading: "lazy", decoding: "async" });
  img.src = f.url || (f.url = URL.createObjectURL(f.file));
  img.onerror = () => img.remove(); // PGM, TGA: the browser cannot show them; the core reads them
  const remove = el("button", { type: "button", className: "bin-file-remove", textContent: "×" });
  remove.setAttribute("aria-label", `Remove ${f.name}`);
  remove.addEventListener("click", () => {
    URL.revokeObjectURL(f.url);
    bin.files.splice(k, 1);
    renderBins();
  });
  const item = el("li", { title: f.name }, img, el("span", { textContent: f.name }), remove);
  return item;
}

// A bin is a class folder: it takes the files that are images by their
// names, as the CLI's data sets do (cs_image_name), and names the others.
async function addFiles(bin, files) {
  const named = await page.files.byImageName(files).catch((e) => showError(e.message));
  if (!named) return;
  const { images, skipped } = named;
  showNote(page.files.skippedNote(skipped));
  if (!bins.includes(bin)) return; // removed meanwhile
  images.sort((a, b) => byName(a.name, b.name));
  bin.files.push(...images);
  binsFromModel = null;
  renderBins();
}

// Files named "class/file" or "parent/class/file" (a dropped or picked folder)
// go to the bin of their class, made if need be. Of the bins still as the
// model named them, and empty, those without a folder go.
async function addFolders(files) {
  const named = await page.files.byImageName(files).catch((e) => showError(e.message));
  if (!named) return;
  const { images, skipped } = named;
  showNote(page.files.skippedNote(skipped));
  let parts = images.map((f) => f.name.split("/"));
  if (parts.length && parts.every((p) => p.length >= 3 && p[0] === parts[0][0])) parts = parts.map((p) => p.slice(1));
  const loose = parts.filter((p) => p.length < 2).length;
  if (!images.length || loose) {
    showError(loose ? `${loose} image(s) are not in a class folder: drop them on a bin instead.`
      : "No images there: drop a folder holding one folder of images per cell line.");
    if (!images.length || loose === images.length) return;
  } else {
    showError("");
  }
  if (binsFromModel !== null && !bins.some((b) => b.files.length)) { // the model's order, where it fits
    const named = new Set(parts.filter((p) => p.length >= 2).map((p) => p[0]));
    bins = bins.filter((b) => named.has(b.name.trim()));
  }
  images.forEach((f, i) => {
    if (parts[i].length < 2) return;
    const name = parts[i][0];
    let bin = bins.find((b) => b.name.trim() === name);
    if (!bin) bins.push((bin = { name, files: [] }));
    bin.files.push({ file: f.file, name: parts[i].slice(1).join("/") });
  });
  for (const bin of bins) bin.files.sort((a, b) => byName(a.name, b.name));
  binsFromModel = null;
  renderBins();
}

// What is wrong with the bins, or "".
function problem() {
  if (bins.length < 2) return "Two classes at least are needed.";
  const names = bins.map((b) => b.name.trim());
  if (names.some((n) => !n)) return "Every class needs a name.";
  if (names.some((n) => n.includes(","))) return "Class names cannot contain commas.";
  if (new Set(names).size !== names.length) return "Two classes have the same name.";
  const empty = bins.find((b) => !b.files.length);
  if (empty) return `Drop at least one image on "${empty.name.trim()}".`;
  if (!(Number(ui.epochs.value) >= 1)) return "Epochs must be at least 1.";
  if (!(Number(ui.lr.value) > 0)) return "The learning rate must be above 0.";
  if (!startModel()) return "No model to start from: load one.";
  return "";
}

function updateSummary() {
  const images = bins.reduce((n, b) => n + b.files.length, 0);
  const wrong = problem();
  ui.summary.textContent = wrong || `${images} images in ${bins.length} classes, starting from ` +
    `${startModel().label}.`;
  ui.train.disabled = !!wrong || !!run;
}

/* -------------------------------------------------------------- where training starts */

// The model training starts from: the user's choice while it is listed, else
// the last base listed (one the user loaded comes after a shipped one), else
// the model in use.
function startModel() {
  const models = page.models.picker.models;
  if (startChosen && models.has(startChosen)) return models.get(startChosen);
  const bases = Array.from(models.values()).filter(page.models.isBase);
  return bases.length ? bases[bases.length - 1] : page.models.active();
}

// "Base (base.safetensors): 26 lines (A431, A549, …, T47D)": a model by its
// name and the lines it knows, a long list shortened (startLines has it all).
function startText(model) {
  const name = model.saved ? model.saved.name : page.models.fileName(model);
  const classes = page.models.classes(model);
  const shown = classes.length > MAX_NAMED_LINES ? [...classes.slice(0, 2), "…", classes[classes.length - 1]] : classes;
  return (page.models.isBase(model) ? `Base (${name})` : name) +
    (classes.length ? `: ${classes.length} lines (${shown.join(", ")})` : "");
}

function startLines(model) {
  const classes = page.models.classes(model);
  return (page.models.isBase(model) ? "A base for fine-tuning" : "A classifier") +
    (classes.length ? `, of ${classes.length} lines: ${classes.join(", ")}.` : ".");
}

// Every model of the picker, the start selected and its lines in full.
function renderStart() {
  const start = startModel();
  ui.start.replaceChildren(...Array.from(page.models.picker.models.values(), (model) => {
    const option = new Option(startText(model), model.key, false, model === start);
    option.title = page.models.classes(model).join(", ");
    return option;
  }));
  ui["start-lines"].textContent = start ? startLines(start) : "";
}

/* -------------------------------------------------------------- training */

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = !message;
  unsavedError = false;
}

function showNote(message) {
  ui.note.textContent = message;
  ui.note.hidden = !message;
}

const seconds = (s) => !isFinite(s) ? "?" : s < 60 ? `${Math.max(1, Math.round(s))} s` :
  s < 3600 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${(s / 3600).toFixed(1)} h`;

async function train() {
  const wrong = problem();
  if (wrong) return showError(wrong);
  const base = startModel();
  showError("");
  const m = mode(), epochs = Math.round(Number(ui.epochs.value)), lr = Number(ui.lr.value);
  const classes = bins.map((b) => b.name.trim());
  const version = binsVersion;
  const images = bins.flatMap((b, label) =>
    b.files.map((f) => ({ file: f.file, label, name: `${classes[label]}/${f.name}` })));
  const history = [];
  const trainer = page.newEngine();
  let cancel;
  const cancelled = new Promise((_, reject) => (cancel = () => reject(new Error("cancelled"))));
  run = { cancel };
  ui.train.disabled = true;
  ui.cancel.hidden = false;
  ui.progress.hidden = false;
  ui.charts.hidden = false;
  ui.result.hidden = true;
  ui.bar.value = 0;
  ui.status.textContent = "Starting…";
  advice = null;
  drawCharts(ui, history, epochs);
  const refit = ui.validate.checked && ui.refit.checked;
  const started = performance.now();
  try {
    const bytes = await page.models.bytes(base);
    const reply = await Promise.race([cancelled, trainer.call("finetune", {
      base: { bytes, name: page.models.fileName(base) }, images, classes, mode: m, epochs, lr,
      cropBottom: page.settings.cropBottom(), umPerPx: page.settings.umPerPx(), validate: ui.validate.checked,
      refit, seed: 1,
      tta: page.settings.tta(), // the figures shown are those of classifying as the page will
    }, { onProgress: (done, total, { status }) => onStatus(status, done, total, m, history, epochs, refit) })]);
    const ms = performance.now() - started;
    ui.bar.value = 1;
    ui.status.textContent = `Done in ${seconds(ms / 1000)}. Saving…`;
    const saved = await keep(reply, { classes, mode: m, base: base.label });
    trainedVersion = version;
    const done = `Done in ${seconds(ms / 1000)}.`;
    ui.status.textContent = done + (!saved.stored ? " Not saved in this browser: download it."
      : lasting ? " Saved in this browser." : " Saved in this browser for now, which may clear it: download it to keep it.");
    if (!saved.stored || !lasting) advice = { key: saved.model.key, done };
    ui.section.dataset.trainedMs = Math.round(ms);
    showResult(saved.model, reply, history);
  } catch (e) {
    if (e.message === "cancelled") {
      ui.status.textContent = "Cancelled. The model in use is unchanged.";
    } else {
      ui.status.textContent = "Training failed.";
      showError(e.message);
    }
  } finally {
    trainer.terminate(); // frees the module and its memory; a cancel ends it here
    run = null;
    ui.cancel.hidden = true;
    updateSummary();
  }
}

// A refit's second run (every image) fills the bar's second half; the charts
// stay the validated run's.
function onStatus(s, done, total, m, history, epochs, refit) {
  if (!s) return;
  if (s.reading) {
    ui.bar.value = 0;
    ui.status.textContent = `Reading image ${done + 1} of ${total}…`;
    return;
  }
  // Head mode spends most of its time on the frozen layers' features (epoch 0).
  const featureShare = m === MODE.head ? 0.9 : 0;
  const [from, span] = refit ? [s.refit ? 0.5 : 0, 0.5] : [0, 1];
  const again = s.refit ? "Training again on every image: " : "";
  if (s.epoch === 0) {
    ui.bar.value = from + span * featureShare * (s.step / s.steps);
    ui.status.textContent = `${again}features of the frozen layers: ${Math.round(100 * s.step / s.steps)}%, ` +
      `about ${seconds(s.eta)} left, then the training itself`;
    return;
  }
  if (s.calibrating) { // after the epochs: the bar stays where they left it
    ui.status.textContent = `Calibrating: the validation tiles in their 8 flips/rotations, as the model ` +
      `will classify them: ${Math.round(100 * s.step / s.steps)}%, about ${seconds(s.eta)} left`;
    return;
  }
  const fraction = (s.epoch - 1 + s.step / s.steps) / s.epochs;
  ui.bar.value = from + span * (featureShare + (1 - featureShare) * fraction);
  if (s.refit) {
    ui.status.textContent = `${again}epoch ${s.epoch} of ${s.epochs}: loss ${s.trainLoss.toFixed(3)}, ` +
      `accuracy ${percent(s.trainAcc)} · about ${seconds(s.eta)} left`;
    return;
  }
  ui.status.textContent = `Epoch ${s.epoch} of ${s.epochs}: loss ${s.trainLoss.toFixed(3)}, ` +
    `accuracy ${percent(s.trainAcc)}` +
    (isFinite(s.valAcc) ? `; validation loss ${s.valLoss.toFixed(3)}, accuracy ${percent(s.valAcc)}` : "") +
    ` · about ${seconds(s.eta)} left (less if validation stops improving)`;
  const point = { epoch: s.epoch + (s.step === s.steps ? 0 : s.step / s.steps - 1), trainLoss: s.trainLoss, trainAcc: s.trainAcc };
  if (s.step === s.steps) Object.assign(point, { valLoss: s.valLoss, valAcc: s.valAcc, best: s.best, done: true });
  if (history.length && !history[history.length - 1].done) history.pop(); // the running point
  history.push(point);
  drawCharts(ui, history, epochs);
}

/* -------------------------------------------------------------- results */

const stamp = (d) => d.toISOString().slice(0, 16).replace("T", " ");

// Stores the new model at once, then lists it in the picker.
async function keep(reply, { classes, mode: m, base }) {
  const created = new Date();
  const name = `${classes.join(" vs ")}, ${m} mode, ${stamp(created)}`;
  const fileName = `cellsight-${classes.join("-")}-${m}-${created.toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-")}.safetensors`
    .replace(/[^A-Za-z0-9._-]+/g, "_");
  const record = { name, fileName, created: created.toISOString(), bytes: reply.bytes, classes, mode: m, base,
    figures: reply.figures };
  let stored = true;
  try {
    record.id = await savedModels.put(record);
    lasting = await savedModels.lasting();
    if (!lasting) askToLast();
  } catch (e) {
    stored = false;
    record.id = `unsaved-${++notStored}`;
    showError(`This browser would not store the model (${e.message}): download it before leaving the page.`);
    unsavedError = true;
  }
  const model = listModel(record);
  renderStart();
  return { model, stored };
}

// Asks the browser to promise to keep its storage, without waiting: Firefox
// answers only once the user answers its prompt, and the new model must show
// meanwhile. A promise given later takes the warnings back.
function askToLast() {
  savedModels.lasting(true).then((granted) => {
    if (!granted || lasting) return;
    lasting = true;
    $("teach-not-lasting")?.remove();
    ui.savedTools.querySelector("#saved-not-lasting").hidden = true;
    const model = advice && page.models.picker.models.get(advice.key);
    if (model && typeof model.saved.id === "number") { // stored: only the promise was missing
      ui.status.textContent = `${advice.done} Saved in this browser.`;
      advice = null;
    }
  });
}

function listModel(record) {
  const model = { key: modelKeyOf(record.id), label: `${record.name} (fine-tuned)`, bytes: record.bytes, saved: record };
  page.models.add(model);
  return model;
}

function showResult(model, reply, history) {
  const { info, figures } = reply;
  const md = info.metadata;
  const K = info.classes.length;
  const n = (v) => Number(v).toLocaleString("en");
  ui.result.replaceChildren();
  ui.result.append(el("h3", { textContent: "The new model" }));
  const facts = el("dl", { className: "teach-figures" });
  const fact = (term, value, key) => {
    const dd = el("dd", { textContent: value });
    if (key) dd.dataset.key = key;
    facts.append(el("dt", { textContent: term }), dd);
  };
  const validated = figures.valImages > 0, classified = figures.classified;
  // Training judges each epoch by one pass a tile (the model's metadata, as
  // `cellsight finetune` records it); the page classifies as its box "Average
  // over 8 flips/rotations" says, so the validation images are also shown so.
  const averaging = (c) => (c.tta ? "averaged over 8 flips/rotations" : "one pass a tile");
  if (classified) {
    fact("Validation tiles, classified here", `${percent(classified.accuracy)} right, loss ` +
      `${classified.loss.toFixed(4)} (${averaging(classified)}, as the box above says)`, "val_classified");
    Object.assign(facts.lastChild.dataset, { accuracy: classified.accuracy, loss: classified.loss,
      tiles: classified.tiles, tta: classified.tta });
  }
  if (validated) {
    fact("Validation tile accuracy in training (one pass a tile)", percent(Number(md.val_tile_accuracy)),
      "val_tile_accuracy");
    fact("Validation loss in training", Number(md.val_loss).toFixed(4), "val_loss");
  }
  // After a refit the model trained on every image; the figures are the validated run's.
  const refit = md.refit_epochs !== undefined;
  fact("Trained on", `${figures.trainImages + (refit ? figures.valImages : 0)} images, ${n(md.train_tiles)} tiles` +
    (md.mode === MODE.head ? " (each tile in its 8 flips and rotations)" : ""));
  fact("Validated on", validated ? `${figures.valImages} images, ${n(md.val_tiles)} tiles` : "nothing: every image trained");
  fact("Epochs", `${md.epochs_run} run of ${md.epochs}; kept epoch ${md.best_epoch}` +
    (validated ? " (lowest validation loss)" : " (the last)"));
  if (refit) fact("Then trained again", `on every image, the validation images too, for ${md.refit_epochs} ` +
    "epochs: the model you get. Its calibration is the validated run's, its \"unknown\" threshold set " +
    "the same way for the new weights; the validation figures above are of that run, whose weights " +
    "were set aside.", "refit");
  if (K === 2) fact("Threshold", `${md.classes.split(",")[1]} when its probability is at least ${Number(md.threshold).toFixed(3)}`);
  ui.result.append(facts);
  if (classified) ui.result.append(confusionTable(info.classes, classified.confusion,
    `Validation tiles classified here (${averaging(classified)})`));
  else if (validated) ui.result.append(confusionTable(info.classes, figures.confusion,
    "Validation tiles in training (one pass a tile; the validated run)"));

  const use = el("button", { id: "teach-use", className: "button primary", type: "button", textContent: "Use this model" });
  use.addEventListener("click", async () => {
    await page.models.select(model.key);
    $("results").scrollIntoView({ behavior: "smooth", block: "start" });
  });
  const get = el("button", { id: "teach-download", className: "button", type: "button", textContent: "Download .safetensors" });
  get.addEventListener("click", () => downloadModel(model));
  ui.result.append(el("div", { className: "teach-row" }, use, get,
    el("span", { className: "help", textContent: `Listed in the model picker as "${model.label}".` })));
  if (typeof model.saved.id === "number" && !lasting)
    ui.result.append(el("p", { id: "teach-not-lasting", className: "warning", textContent: NOT_LASTING }));
  ui.result.hidden = false;
}

// Rows: true class; columns: predicted class; cells shaded by their share of the row.
function confusionTable(classes, confusion, what) {
  const K = classes.length;
  const table = el("table", { className: "confusion" });
  table.append(el("caption", { textContent: `${what}: true class (rows) by predicted class (columns)` }));
  const head = table.createTHead().insertRow();
  head.append(el("th", { textContent: "" }), ...classes.map((c) => el("th", { scope: "col", textContent: c })));
  const body = table.createTBody();
  for (let t = 0; t < K; t++) {
    const row = body.insertRow();
    row.append(el("th", { scope: "row", textContent: classes[t] }));
    const total = confusion.slice(t * K, (t + 1) * K).reduce((a, b) => a + b, 0);
    for (let p = 0; p < K; p++) {
      const count = confusion[t * K + p];
      const cell = row.insertCell();
      cell.textContent = count;
      cell.className = t === p ? "hit" : count ? "miss" : "";
      cell.style.setProperty("--share", total ? count / total : 0);
    }
  }
  return el("div", { className: "table-scroll" }, table);
}

// keep()'s "download it before leaving", once no model needs it.
function clearUnsavedError() {
  if (unsavedError && !unsaved().length) showError("");
}

// A model downloaded is safe: leaving the page no longer asks for it.
function downloadModel(model) {
  model.saved.downloaded = true;
  clearUnsavedError();
  if (advice && advice.key === model.key) { // the advice to download it is taken
    ui.status.textContent = `${advice.done} Downloaded.`;
    advice = null;
  }
  saveFile(model.saved.fileName, model.saved.bytes, "application/octet-stream");
}

/* -------------------------------------------------------------- the picker's saved models */

function buildPickerTools() {
  const tools = el("div", { className: "field saved-tools", hidden: true });
  tools.innerHTML = `<span class="label">Fine-tuned model</span>
    <div class="inline"><button id="saved-download" class="button small" type="button">Download</button>
    <button id="saved-delete" class="button small" type="button">Delete…</button></div>
    <p id="saved-not-lasting" class="warning" hidden></p>`;
  tools.querySelector("#saved-not-lasting").textContent = NOT_LASTING;
  $("model-select").closest(".field").after(tools);
  ui.savedTools = tools;
  tools.querySelector("#saved-download").addEventListener("click", () => downloadModel(page.models.active()));
  tools.querySelector("#saved-delete").addEventListener("click", () => deleteModel(page.models.active()));
}

async function deleteModel(model) {
  if (!isSaved(model)) return;
  if (!confirm(`Delete the fine-tuned model "${model.saved.name}" from this browser? ` +
    "Download it first if you may want it again.")) return;
  try {
    if (typeof model.saved.id === "number") await savedModels.remove(model.saved.id);
  } catch (e) {
    page.models.showError(`Could not delete ${model.saved.name}: ${e.message}`);
    return;
  }
  const removed = page.models.remove(model);
  clearUnsavedError();
  await removed;
}

function onModelChange() {
  const model = page.models.active();
  if (ui.savedTools) {
    ui.savedTools.hidden = !isSaved(model);
    ui.savedTools.querySelector("#saved-not-lasting").hidden = lasting || !isSaved(model) ||
      typeof model.saved.id !== "number"; // one not stored at all is under the page's own warning
  }
  if (binsFromModel !== null || !bins.length) seedBins();
  renderStart();
  updateSummary();
}

/* -------------------------------------------------------------- start */

// Builds the panel and lists the saved models; context: what it needs of the
// page (app.js's teachContext): {engine, newEngine, models: {picker, active,
// add, remove, select, bytes, onChange, showError}, settings: {cropBottom,
// tta}, files: {droppedFiles, fromInput, byImageName, skippedNote}}.
export async function startFinetune(context) {
  page = context;
  build();
  buildPickerTools();
  page.models.onChange(onModelChange);
  window.addEventListener("beforeunload", (e) => {
    // A training under way, a model neither stored nor downloaded, or images
    // sorted into bins (the user's labelling) that no training has used yet.
    const untrained = binsVersion !== trainedVersion && bins.some((b) => b.files.length);
    if (!run && !unsaved().length && !untrained) return;
    e.preventDefault();
    e.returnValue = "";
  });
  try {
    const replies = await Promise.all([MODE.head, MODE.full]
      .map((mode) => page.engine.call("trainDefaults", { mode })));
    defaults = { [MODE.head]: replies[0].defaults, [MODE.full]: replies[1].defaults };
    applyDefaults();
  } catch (e) {
    showError(`Fine-tuning is not available: ${e.message}`);
  }
  try {
    const records = await savedModels.list();
    lasting = await savedModels.lasting();
    records.sort((a, b) => a.created.localeCompare(b.created));
    for (const record of records) listModel(record);
  } catch (e) {
    showError(`The fine-tuned models saved in this browser cannot be read: ${e.message}`);
  }
  onModelChange();
}
