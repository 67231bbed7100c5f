/* results.js: what the page shows of classified images: a card per image with
   its thumbnail, each tile coloured by its vote, the table of every image, the
   legend, and the two CSV files, as the CLI writes them. */
import { renderBars } from "./bars.js";
import { TTA_NAME } from "./constants.js";
import { $, classColour, percent } from "./dom.js";
import { showOwnChoice } from "./expect.js";
import { CROPPED, downloadOverlay, hatchPattern, tileAlpha } from "./overlay.js";

export const THUMBNAIL_SIDE = 768; // pixels, the longer side; sharp at twice a card's width

/* ---------------------------------------------------------------- CSV */

// As the CLI prints them, printf("%.6f"), which rounds an exact tie to even
// where toFixed rounds it up; a tie is n / 128 for an odd n.
export function formatNumber(x) {
  const n = x * 128;
  if (!Number.isInteger(n) || n % 2 === 0) return x.toFixed(6);
  const k = Math.floor(x * 1e6);
  return ((k % 2 === 0 ? k : k + 1) / 1e6).toFixed(6);
}

// Text cells (file, class and model names) come made by the core's rule
// (cs_csv_field, through the worker: result.csvFile, info.csv); numbers and
// the fixed words need none.
const csvLine = (fields) => fields.join(",") + "\n";

// The last columns of the CSVs: tta, the model file's values for the averaging
// used; um_per_px and scale, as the module formats them for both CSVs; model,
// model_hash and crop_bottom, what made the row, as the CLI writes them.
const ttaValue = (r) => (r.tta ? TTA_NAME.on : TTA_NAME.off);
// Then ood_score (the image's; a tile row: the tile's) and known, as the
// module writes them; with an expected line, expected (one of the model's
// classes, so its cell is made already) and the core's verdict.
const lastColumns = (item, score, expecting) => {
  const { result: r, info } = item;
  const cols = [ttaValue(r), r.pixelSize.um, r.pixelSize.scale, info.csv.model, info.hash, r.cropBottom, score,
    r.ood.knownText];
  const k = info.classes.indexOf(item.expected);
  return expecting ? [...cols, k >= 0 ? info.csv.classes[k] : "", item.verdict || ""] : cols;
};
const lastHeads = (expecting) => ["tta", "um_per_px", "scale", "model", "model_hash", "crop_bottom",
  "ood_score", "known", ...(expecting ? ["expected", "verdict"] : [])];
const expecting = (done) => done.some((item) => item.expected);

// file,predicted_class,confidence,tiles,p_<class>... as `cellsight predict --csv`,
// then tta (dihedral8 or none, as `predict --tta` / `--no-tta`), um_per_px (the
// image's pixel size, empty if not known), scale (model pixels per image
// pixel, 1 unless resampled), model, model_hash and crop_bottom: tiles counts
// the tiles that vote (not background). done: items of one model (item.info).
export function imagesCsv(done) {
  const { csv: cells } = done[0].info;
  const ex = expecting(done);
  let csv = csvLine(["file", "predicted_class", "confidence", "tiles", ...cells.heads, ...lastHeads(ex)]);
  for (const item of done) {
    const r = item.result;
    csv += csvLine([r.csvFile, cells.classes[r.predicted], formatNumber(r.confidence), r.nforeground,
      ...Array.from(r.probs, formatNumber), ...lastColumns(item, r.ood.score, ex)]);
  }
  return csv;
}

// file,x,y,background,predicted_class,confidence,p_<class>... as `predict --csv --tiles`,
// then the same last columns; x, y in the image's own pixels.
export function tilesCsv(done) {
  const { csv: cells } = done[0].info;
  const K = cells.classes.length;
  const ex = expecting(done);
  let csv = csvLine(["file", "x", "y", "background", "predicted_class", "confidence", ...cells.heads, ...lastHeads(ex)]);
  for (const item of done) {
    const r = item.result, t = r.tiles;
    for (let i = 0; i < r.ntiles; i++) {
      const p = t.probs.subarray(i * K, (i + 1) * K);
      csv += csvLine([r.csvFile, t.x[i], t.y[i], t.background[i], cells.classes[t.predicted[i]],
        formatNumber(p[t.predicted[i]]), ...Array.from(p, formatNumber), ...lastColumns(item, r.ood.tiles[i] ?? "", ex)]);
    }
  }
  return csv;
}

/* ---------------------------------------------------------------- cards */

export function makeCard(name) {
  const card = document.createElement("article");
  card.className = "card waiting";
  card.innerHTML = `
    <div class="thumb"><img alt="" tabindex="0"><p class="tile-info" aria-live="polite"></p></div>
    <div class="card-body">
      <h3 class="file-name"></h3>
      <p class="verdict">Waiting…</p>
      <p class="ood" hidden></p>
      <p class="expect" hidden></p>
      <label class="own-expected" hidden>Expected line <select></select></label>
      <ul class="probs"></ul>
      <p class="pixel-size"></p>
      <p class="meta"></p>
      <button class="button small overlay-download" type="button" hidden>Download overlay (PNG)</button>
    </div>`;
  card.querySelector(".file-name").textContent = name;
  card.querySelector(".file-name").title = name;
  card.querySelector(".overlay-download").setAttribute("aria-label", `Download overlay (PNG) of ${name}, with legend`);
  return card;
}

export function setCardWaiting(item) {
  item.card.className = "card waiting";
  item.card.querySelector(".verdict").textContent = "Waiting…";
}

export function renderCard(item) {
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
    card.querySelector(".pixel-size").textContent = "";
    card.querySelector(".overlay-download").hidden = true;
    return;
  }
  card.className = "card";
  verdict.removeAttribute("role");
  const classes = item.classes;
  verdict.innerHTML = `<span class="swatch"></span><strong></strong><span class="confidence"></span>`;
  verdict.querySelector(".swatch").style.background = classColour(r.predicted);
  verdict.querySelector("strong").textContent = classes[r.predicted];
  verdict.querySelector(".confidence").textContent = decisionText(r, classes, item.info.threshold) ||
    ` ${percent(r.confidence)}`;
  renderBars(probs, classes, r.probs);
  showOod(card, item);
  showOwnChoice(card, item);
  card.querySelector(".pixel-size").textContent = pixelSizeText(r.pixelSize);
  const background = r.ntiles - r.nforeground;
  card.dataset.tiles = r.nforeground;
  meta.textContent = `${r.ntiles} tiles${background ? `, ${background} of them background` : ""} · ` +
    `${(item.ms / 1000).toFixed(2)} s · ${r.width} x ${r.height} px · ` +
    (r.tta ? "averages 8 rotations and flips of each tile" : "each tile seen once (no averaging of rotations and flips)") +
    (item.decoder === "browser" ? " · decoded by the browser" : "");
  img.alt = `${item.name} with its ${r.ntiles} tiles coloured by predicted class; ` +
    "arrow keys step through the tiles' figures";
  followTiles(img, card.querySelector(".tile-info"), item);
  const overlay = card.querySelector(".overlay-download");
  overlay.hidden = false;
  overlay.onclick = () => downloadOverlay(item, keepThumbnail(item));
  showThumbnail(img, keepThumbnail(item));
}

// Whether the image looks like any of the model's lines, and if a line is
// expected, the verdict: in words and a mark, the colour only a further cue.
const VERDICT_WORDS = {
  consistent: (exp) => `✓ ${exp}, as expected`,
  inconsistent: (exp, got) => `✗ Not ${exp}: looks like ${got}`,
  unknown: (exp) => `? Not ${exp}: looks like none of this model's lines`,
};
export function showOod(card, item) {
  const r = item.result, ood = card.querySelector(".ood"), expect = card.querySelector(".expect");
  ood.hidden = !r || r.ood.known !== 0;
  // Measured: new images of a known line days older or from another well are flagged as often
  // as not (model/azgcb30.md), so the words name both causes.
  ood.textContent = "⚠ Looks like none of this model's lines, or a culture unlike the images it learnt " +
    "them from (another density or well): the prediction below is the nearest of them.";
  expect.hidden = !r || !item.expected || !item.verdict;
  if (expect.hidden) return;
  expect.className = `expect ${item.verdict}`;
  expect.textContent = VERDICT_WORDS[item.verdict](item.expected, item.classes[r.predicted]);
}

// Two classes are decided by the model's threshold on the second's probability
// (cs_model_decide), not by the larger bar: where the two differ, what decided,
// in the bars' own figures; "" where the larger bar decided.
export function decisionText(r, classes, threshold) {
  if (r.probs.length !== 2 || r.probs[r.predicted] >= r.probs[1 - r.predicted]) return "";
  const p = r.probs[1];
  let digits = 1; // enough to tell the probability from the threshold
  while (digits < 4 && (100 * p).toFixed(digits) === (100 * threshold).toFixed(digits)) digits++;
  const pc = (x) => `${(100 * x).toFixed(digits)}%`;
  return r.predicted === 1
    ? `: its probability ${pc(p)} is ${p > threshold ? "above" : "at"} this model's threshold of ${pc(threshold)}`
    : `: ${classes[1]}'s probability ${pc(p)} is below this model's threshold of ${pc(threshold)}`;
}

const SOURCE_NAME = { given: "the size you gave" };
const microns = (x) => `${Number(x.toPrecision(4))} µm`;

// The pixel size a result was classified at: the image's, where it came
// from, and whether it was resampled to the model's.
export function pixelSizeText(ps) {
  const model = ps.modelUm > 0 ? `the model's ${microns(ps.modelUm)}` : "";
  if (!ps.um)
    return model ? `Pixel size not stated: classified as it is, as if ${model} (give it under the settings if not)`
      : "Pixel size not stated; the model states none either.";
  const own = `Pixel size ${ps.um} µm (${SOURCE_NAME[ps.source] || ps.source})`;
  if (ps.scale !== "1") return `${own}, resampled x${ps.scale} to ${model}.`;
  return model ? `${own}: within 5% of ${model}, not resampled.` : `${own}; the model states none: not resampled.`;
}

// A classified item's thumbnail, drawn once into a compressed copy that the
// item keeps (a promise of a JPEG blob): its pixels are let go, so that a
// folder of a thousand images holds a thousand JPEGs, not their pixels, and
// a card made again (pager.js) shows it without the worker.
export function keepThumbnail(item) {
  if (!item.thumbnail) {
    const canvas = drawThumbnail(item.result);
    item.thumbnail = new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
    delete item.result.thumbnail;
  }
  return item.thumbnail;
}

// A compressed copy in an <img>, not a live canvas per image: hundreds of
// canvases would hold hundreds of megabytes.
function showThumbnail(img, thumbnail) {
  thumbnail.then((blob) => {
    if (!img.isConnected) return; // its card was dropped meanwhile
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
  });
}

// A tile's figures, shown under the thumbnail: the tile under the pointer
// (hover or tap), or, with the thumbnail focused, the one the arrow keys step to.
function followTiles(img, info, item) {
  const r = item.result;
  const columns = Math.max(1, r.tiles.y.filter((y) => y === r.tiles.y[0]).length);
  let current = 0;
  const show = (text) => (info.textContent = img.title = text);
  img.onpointermove = img.onclick = (event) => show(describeTileAt(img, item, event));
  img.onfocus = () => r.ntiles && show(describeTile(item, current));
  img.onblur = () => show("");
  // The pointer leaving (Firefox: also when the page scrolls under it) keeps a focused tile's figures.
  img.onpointerleave = () => document.activeElement !== img && show("");
  img.onkeydown = (event) => {
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns }[event.key];
    if (!step || !r.ntiles) return;
    event.preventDefault();
    current = Math.min(r.ntiles - 1, Math.max(0, current + step));
    show(describeTile(item, current));
  };
}

function describeTile(item, i) {
  const r = item.result, K = r.probs.length;
  const probs = item.classes.map((name, k) => `${name} ${percent(r.tiles.probs[i * K + k])}`);
  return `Tile ${i + 1} of ${r.ntiles}, at (${r.tiles.x[i]}, ${r.tiles.y[i]}): ${probs.join(", ")}` +
    (r.tiles.background[i] ? " (background: does not vote)" : "");
}

function describeTileAt(img, item, event) {
  const r = item.result;
  const box = img.getBoundingClientRect();
  const x = ((event.clientX - box.left) / box.width) * r.width;
  const y = ((event.clientY - box.top) / box.height) * r.height;
  for (let i = 0; i < r.ntiles; i++) {
    const tx = r.tiles.x[i], ty = r.tiles.y[i];
    if (x >= tx && x < tx + r.tile / r.pixelSize.scaleX && y >= ty && y < ty + r.tile / r.pixelSize.scaleY)
      return describeTile(item, i);
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
    // A tile covers tile / scale of the image's own pixels.
    const x = r.tiles.x[i] * sx, y = r.tiles.y[i] * sy;
    const w = (r.tile / r.pixelSize.scaleX) * sx, h = (r.tile / r.pixelSize.scaleY) * sy;
    if (r.tiles.background[i]) {
      ctx.fillStyle = hatch;
    } else {
      const k = r.tiles.predicted[i];
      ctx.globalAlpha = tileAlpha(r.tiles.probs[i * K + k], K);
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
    ctx.fillStyle = CROPPED;
    ctx.fillRect(0, y, t.width, t.height - y);
  }
  return canvas;
}

/* ---------------------------------------------------------------- table and legend */

// The table of every item (classes: the model in use's), and the CSV buttons,
// which need one item classified. A thousand rows take a layout of hundreds of
// milliseconds: they are made fifty a frame (rows made in several tasks before
// a frame are laid out in that frame at once), so that the page answers input
// between, and a new call stops an older one's making. Its columns have set
// widths (a fixed table layout), so that a row changed does not make the
// browser measure every cell of every row again; a cell too narrow ends in "…"
// and tells the whole in its title.
const COLUMN_REM = [18, 9, 6.5, 4.5]; // File, Predicted, Confidence, Tiles; then each class
const CLASS_COLUMN_REM = 6;
const ROWS_A_FRAME = 50;
let tableCalls = 0;

// Resolves once the browser has drawn a frame, or after 100 ms: a hidden page draws none.
function afterFrame() {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 100);
    requestAnimationFrame(() => setTimeout(() => {
      clearTimeout(timer);
      resolve();
    }));
  });
}

export async function renderTable(items, classes) {
  const call = ++tableCalls;
  const table = $("results-table");
  const head = document.createElement("tr");
  const cols = document.createElement("colgroup");
  let width = 0;
  for (const [i, label] of ["File", "Predicted", "Confidence", "Tiles", ...classes].entries()) {
    head.append(Object.assign(document.createElement("th"), { scope: "col", textContent: label, title: label }));
    const rem = COLUMN_REM[i] ?? CLASS_COLUMN_REM;
    cols.append(Object.assign(document.createElement("col"), { style: `width: ${rem}rem` }));
    width += rem;
  }
  head.cells[3].title = "Tiles that vote: the background ones do not";
  table.querySelector("colgroup")?.remove();
  table.tHead.before(cols);
  table.style.width = `max(100%, ${width}rem)`;
  table.tHead.replaceChildren(head);
  const body = table.tBodies[0];
  body.replaceChildren();
  enableDownloads(items.some((item) => item.result));
  for (const [i, item] of items.entries()) {
    if (i && i % ROWS_A_FRAME === 0) {
      await afterFrame();
      if (call !== tableCalls) return;
    }
    item.row = body.insertRow();
    renderRow(item, classes);
  }
}

// An item's row of the table, as the item stands, if the table has it yet.
export function renderRow(item, classes) {
  const row = item.row;
  if (!row || !row.isConnected) return;
  row.replaceChildren();
  Object.assign(row.insertCell(), { textContent: item.name, title: item.name });
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
    const predicted = item.classes[r.predicted];
    Object.assign(row.insertCell(), { textContent: predicted, title: predicted });
    row.insertCell().textContent = percent(r.confidence);
    row.insertCell().textContent = r.nforeground;
    for (const p of r.probs) row.insertCell().textContent = percent(p); // as on the cards; the CSV keeps numbers
    enableDownloads(true);
  }
}

function enableDownloads(any) {
  $("download-csv").disabled = !any;
  $("download-tiles-csv").disabled = !any;
}

const LEGEND_OPEN = 8; // classes; more are listed on demand, to keep the cards near the top

export function renderLegend(classes) {
  const legend = $("legend");
  legend.replaceChildren();
  let list = legend;
  if (classes.length > LEGEND_OPEN) {
    list = document.createElement("details");
    list.className = "legend-classes";
    list.innerHTML = `<summary>Colours of the ${classes.length} classes</summary>`;
    legend.append(list);
  }
  classes.forEach((name, k) => {
    const span = document.createElement("span");
    span.innerHTML = `<i class="swatch"></i>`;
    span.firstChild.style.background = classColour(k);
    span.append(name);
    list.append(span);
  });
  legend.insertAdjacentHTML("beforeend",
    `<span><i class="swatch hatched"></i>background tile</span>` +
    `<span><i class="swatch cropped"></i>cropped strip</span>` +
    `<span class="muted">Stronger colour: surer tile.</span>`);
}
