/* models.js: the model picker and the settings that go with a model: the
   shipped models and the user's own, loaded into the worker on first use;
   the bottom crop; test-time averaging. Whoever needs to know of a change of
   model (the results, the Teach panel) listens with onModelChange. */
import { TTA_ARG } from "./constants.js";
import { $ } from "./dom.js";
import { assets, engine } from "./engine.js";

export const picker = {
  models: new Map(), // key -> {key, label, file (shipped, with card, default, classes, role) or bytes (user's,
                     //        with user or saved), info once loaded}
  active: null,      // key of the model in use
};

export const activeModel = () => picker.models.get(picker.active);

const listeners = [];
export const onModelChange = (listener) => listeners.push(listener);

export function cropBottom() {
  const value = $("crop-bottom").value.trim();
  return /^\d+$/.test(value) ? Number(value) : -1; // -1: the model's
}

/* The pixel size (micrometres) of images whose files state none, as
   `predict --um-per-px`: 0 when the box is empty or not a number (the worker
   refuses one out of range, with the CLI's message). Kept for the session. */
const UM_KEY = "cellsight.um_per_px";
export const umChoice = {
  get() {
    try {
      return sessionStorage.getItem(UM_KEY) || "";
    } catch {
      return "";
    }
  },
  set(value) {
    try {
      if (value) sessionStorage.setItem(UM_KEY, value);
      else sessionStorage.removeItem(UM_KEY);
    } catch {
      // not kept; the box still works for this page
    }
  },
};

export function umPerPx() {
  const value = Number($("um-per-px").value.trim());
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/* Test-time averaging (the 8 flips and rotations of each tile): the box shows
   what the next classification uses. Until the user ticks or clears it, it
   follows the model's metadata (tta); their choice is kept (localStorage),
   for every model and the next visit, until "Model's default". */
const TTA_KEY = "cellsight.tta";
export const ttaChoice = {
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

// The box's state as the worker's tta argument.
export const ttaArg = () => ($("tta").checked ? TTA_ARG.on : TTA_ARG.off);

export function showTta(model) {
  const byModel = Boolean(model.info.tta), choice = ttaChoice.get();
  $("tta").checked = choice ? choice === "on" : byModel;
  $("tta-help").textContent = byModel
    ? "This model was validated with it: it averages 8 rotations and flips of each tile. Off: each tile seen " +
      "once, 8 times quicker, probabilities a little different from the validated ones."
    : "This model was validated without it (each tile seen once). On: averages 8 rotations and flips of each " +
      "tile, 8 times slower.";
}

export function showModelError(message) {
  $("model-error").textContent = message;
  $("model-error").hidden = !message;
}

// In words people read; the layers, the training protocol and the rest are
// in the metadata view.
function describeModel({ info }) {
  return `${info.classes.length} classes: ${info.classes.join(", ")}. ` +
    `${info.tile} x ${info.tile} pixel tiles, ${info.params.toLocaleString("en")} parameters.`;
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

// A model's classes and whether it is a base (metadata role "base": the Teach
// panel's default start), known before it is loaded for a shipped model
// (assets.json) or a fine-tuned one (its record; a fine-tune is no base).
export const modelClasses = (model) => model.info?.classes || model.classes || model.saved?.classes || [];
export const isBaseModel = (model) => (model.info ? model.info.metadata.role : model.role) === "base";

// The bytes of a model's file: the user's own, or a shipped one's.
export const modelBytes = async (model) => model.bytes || (await assets.bytes(model.file));

// The name of a model's file without its folders, as the CLI names a model in
// its CSVs (model) and a fine-tuned model's metadata its base: the shipped
// file's, the user's, or the one a fine-tuned model downloads as.
export function modelFileName(model) {
  if (model.saved) return model.saved.fileName;
  if (model.file) return model.file.split("/").pop();
  return model.key.replace(/^user:/, "");
}

// Loads model.key in the worker unless it is there already (a worker started
// afresh by Stop has none).
export async function ensureLoaded(model) {
  if (model.info && model.epoch === engine.epoch) return;
  const epoch = engine.epoch;
  const reply = await engine.call("loadModel", { key: model.key, bytes: await modelBytes(model), name: modelFileName(model) });
  model.info = reply.info;
  model.epoch = epoch;
}

// Selections in flight: a model that finishes loading after a later choice
// (the user's, or the page's own) must not take its place.
let selections = 0;

export async function selectModel(key) {
  const model = picker.models.get(key), ticket = ++selections;
  try {
    await ensureLoaded(model);
  } catch (e) {
    if (ticket !== selections) return;
    showModelError(`${model.label}: ${e.message}`);
    $("model-select").value = picker.active || "";
    return;
  }
  if (ticket !== selections) return;
  showModelError("");
  picker.active = key;
  $("model-select").value = key;
  $("crop-bottom").value = model.info.crop_bottom;
  showTta(model);
  $("model-remove").hidden = !model.user;
  $("model-summary").textContent = describeModel(model);
  showModelDetails(model);
  for (const listener of listeners) listener(model);
}

const optionOf = (key) => Array.from($("model-select").options).find((o) => o.value === key);

// Lists the model; one of a key listed already takes that entry's place.
export function addModelOption(model) {
  picker.models.set(model.key, model);
  const option = optionOf(model.key);
  if (option) option.textContent = model.label;
  else $("model-select").append(new Option(model.label, model.key));
}

// Takes the model out of the picker and the worker; the page's default model
// (else another shipped one, else any) takes its place if it was in use.
export async function removeModel(model) {
  picker.models.delete(model.key);
  const option = optionOf(model.key);
  if (option) option.remove();
  engine.call("freeModel", { key: model.key }).catch(() => {});
  if (picker.active !== model.key) return;
  const models = Array.from(picker.models.values());
  const next = models.find((m) => m.default) || models.find((m) => m.file) || models[0];
  picker.active = null;
  if (next) await selectModel(next.key);
}

// A .safetensors file the user picked or dropped: its size checked against the
// core's limit before it is read (a 5 GB file dropped by mistake is refused,
// not copied into memory), then validated by the C loader. A file of the name
// of one loaded before takes its place, in the picker and in the worker (which
// frees the one before): loading a file again gives no twin and no lost memory.
export async function loadUserModel(file) {
  const key = `user:${file.name}`;
  let model;
  try {
    await engine.call("checkModel", { size: file.size });
    model = { key, label: `${file.name} (yours)`, bytes: await file.arrayBuffer(), user: true };
    await ensureLoaded(model);
  } catch (e) {
    showModelError(`${file.name} is not a model cellsight can use: ${e.message}`);
    return;
  }
  addModelOption(model);
  await selectModel(key);
}
