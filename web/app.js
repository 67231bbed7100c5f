/* app.js: the cellsight page's entry. The worker (worker.js, through
   engine.js) does the work; intake.js turns what the user drops, picks or
   pastes into images for queue.js to classify; results.js shows them and
   writes the CSVs; models.js is the model picker; finetune.js the Teach
   panel. ES modules: web/build.mjs bundles them into one classic script for
   the self-contained cellsight.html, which runs from file://.

   self.cellsight: the page's state, for the console and the browser tests. */
import { BUILD } from "./build-id.js";
import { $ } from "./dom.js";
import { Engine, assets, bundle, engine } from "./engine.js";
import { startFinetune } from "./finetune.js";
import { byImageName, droppedFiles, fromInput, skippedNote, wireIntake } from "./intake.js";
import { foldOnPhones } from "./layout.js";
import { activeModel, addModelOption, cropBottom, umChoice, umPerPx, modelBytes, modelFileName, onModelChange, picker,
  isBaseModel, modelClasses, removeModel, selectModel, showModelError, showTta, ttaArg, ttaChoice } from "./models.js";
import { wirePager } from "./pager.js";
import { whenOwnLineChosen } from "./expect.js";
import { clear, downloadCsv, enqueue, expectedChoices, loadExpectCsv, reclassifyAll, setExpected, setNotice, setOwnExpected,
  stop } from "./queue.js";
import { renderLegend } from "./results.js";
import { savedModels } from "./store.js";
import { offerUpdate, watchForUpdates } from "./update.js";

self.cellsight = { picker, activeModel, savedModels, engine, build: BUILD };

async function loadSamples(list) {
  try {
    const files = await Promise.all(list.map(async (s) =>
      ({ file: new Blob([await assets.bytes(s.file)]), name: s.name })));
    enqueue(files);
  } catch (e) {
    setNotice(`Could not load the sample images: ${e.message}`);
  }
}

// The model's settings (picker, crop, averaging) and the results' buttons.
function wireControls(list) {
  $("um-per-px").value = umChoice.get();
  $("model-select").addEventListener("change", (e) => selectModel(e.target.value));
  $("crop-bottom").addEventListener("change", () => reclassifyAll());
  $("um-per-px").addEventListener("change", () => {
    umChoice.set($("um-per-px").value.trim());
    reclassifyAll();
  });
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
  $("model-remove").addEventListener("click", () => removeModel(activeModel()));
  $("stop-button").addEventListener("click", stop);
  $("clear-button").addEventListener("click", clear);
  $("download-csv").addEventListener("click", () => downloadCsv(false));
  $("download-tiles-csv").addEventListener("click", () => downloadCsv(true));
  wirePager();
}

async function registerServiceWorker() {
  const pill = $("offline-status");
  if (bundle) {
    pill.textContent = "Self-contained page: works offline";
    pill.hidden = false;
    return;
  }
  if (!("serviceWorker" in navigator) || !location.protocol.startsWith("http")) return;
  try {
    watchForUpdates(await navigator.serviceWorker.register("sw.js"));
    await navigator.serviceWorker.ready;
    pill.textContent = "Ready to work offline";
    pill.hidden = false;
  } catch (e) {
    console.warn("cellsight: no offline copy:", e);
  }
}

// What the Teach panel needs of the page.
const teachContext = () => ({
  engine,
  newEngine: () => new Engine(),
  models: { picker, active: activeModel, add: addModelOption, remove: removeModel, select: selectModel,
    bytes: modelBytes, fileName: modelFileName, classes: modelClasses, isBase: isBaseModel, onChange: onModelChange,
    showError: showModelError },
  settings: { cropBottom, umPerPx, tta: ttaArg },
  files: { droppedFiles, fromInput, byImageName, skippedNote },
});

async function start() {
  registerServiceWorker();
  const [{ version, build, threads, simd }, list] = await Promise.all([
    engine.call("init", { cancelFlag: engine.cancelFlag }), assets.list()]);
  if (build !== BUILD) { // this page's files and its worker's are of two builds: neither runs with the other
    offerUpdate();
    throw new Error("this page and its worker are of two versions: reload the page");
  }
  $("version").textContent = version;
  $("engine").textContent = `WebAssembly ${simd ? "SIMD" : "without SIMD"}, ${threads} thread${threads === 1 ? "" : "s"}`;
  if (list.credit) {
    $("samples-credit").querySelector("p").textContent = list.credit;
    $("samples-credit").hidden = false;
  }
  wireIntake();
  foldOnPhones();
  wireControls(list);
  onModelChange((model) => {
    renderLegend(model.info.classes);
    expectedChoices(model.info.classes);
    reclassifyAll();
  });
  $("expected-line").addEventListener("change", (e) => setExpected(e.target.value));
  $("expected-csv").addEventListener("change", (e) => {
    if (e.target.files[0]) loadExpectCsv(e.target.files[0]);
    e.target.value = ""; // the same file again, edited, is a change
  });
  whenOwnLineChosen(setOwnExpected);
  for (const m of list.models)
    addModelOption({ key: m.file, label: m.name, file: m.file, card: m.card, default: m.default,
      classes: m.classes, role: m.role });
  const first = list.models.find((m) => m.default) || list.models[0];
  if (first) await selectModel(first.file);
  else showModelError("No model ships with this page yet: load a .safetensors file.");
  await startFinetune(teachContext()); // the Teach panel, saved models
  document.body.dataset.ready = "true";
}

start().catch((e) => {
  showModelError(`cellsight could not start: ${e.message}`);
  document.body.dataset.ready = "error";
});
