/* overlay.js: the heatmap of a card (the image as the network saw it, each
   tile coloured by the class it votes for) and its export as a PNG for
   reports, with a legend beneath: the image's and the model's names, the
   classes the tiles vote for (colour and name), what a colour's strength
   means, background tiles and the cropped strip. */
import { classColour, percent, saveFile } from "./dom.js";

const PAD = 14, LINE = 22, SWATCH = 14, GAP = 6;
const FONT = "13px system-ui, \"DejaVu Sans\", sans-serif", BOLD = `600 ${FONT}`;
const MIN_WIDTH = 480;  // pixels: a narrow image still gets a legend one can read
const MAX_CLASSES = 12; // in the legend: those most tiles vote for, then a count of the rest
const GRAY = "#808080"; // under the legend's swatches, as the image is under the tiles

// A tile's colour: the class it votes for, stronger the surer it is (1/K: as good as chance).
export const tileAlpha = (p, K) => 0.12 + 0.5 * Math.max(0, (p - 1 / K) / (1 - 1 / K));

export function hatchPattern(ctx) {
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

export const CROPPED = "rgba(20, 24, 32, 0.6)";

// The card's heatmap with the legend beneath, as a PNG blob. From the
// heatmap's own blob (thumbnail: a promise of it), not the card's <img>, which
// may not have loaded it yet when the button is pressed.
export async function overlayPng(item, thumbnail) {
  const heatmap = await createImageBitmap(await thumbnail);
  const width = Math.max(heatmap.width, MIN_WIDTH);
  const legendHeight = drawLegend(document.createElement("canvas").getContext("2d"), item, width, 0, false);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = heatmap.height + legendHeight;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(heatmap, 0, 0);
  drawLegend(ctx, item, width, heatmap.height, true);
  heatmap.close();
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the browser made no PNG"))), "image/png"));
}

export async function downloadOverlay(item, thumbnail) {
  const base = item.name.split("/").pop().replace(/\.[^.]*$/, "");
  saveFile(`${base}-overlay.png`, await overlayPng(item, thumbnail), "image/png");
}

// Lays the legend out from y = top across width and, if paint, draws it; returns its height.
function drawLegend(ctx, item, width, top, paint) {
  ctx.textBaseline = "middle";
  const write = (text, x, y, font) => {
    if (!paint) return;
    ctx.font = font;
    ctx.fillStyle = "#1d2430";
    ctx.fillText(text, x, y + LINE / 2);
  };
  let y = top + PAD;
  for (const [text, font] of [[item.name, BOLD], [`Model: ${item.model}`, FONT]]) {
    ctx.font = font;
    for (const line of fitLines(ctx, text, width - 2 * PAD)) {
      write(line, PAD, y, font);
      y += LINE;
    }
  }
  y += GAP;
  let x = PAD;
  for (const entry of legendEntries(item)) {
    ctx.font = FONT;
    const lines = fitLines(ctx, entry.label, width - 2 * PAD - entry.width - GAP);
    const need = entry.width + GAP + Math.max(...lines.map((l) => ctx.measureText(l).width));
    if (x > PAD && x + need > width - PAD) {
      x = PAD;
      y += LINE;
    }
    if (paint) entry.paint(ctx, x, y + (LINE - SWATCH) / 2, entry.width);
    lines.forEach((line, i) => write(line, x + entry.width + GAP, y + i * LINE, FONT));
    y += (lines.length - 1) * LINE;
    x = lines.length > 1 ? width : x + need + 3 * GAP; // after a long entry, a new row
  }
  return y + LINE + PAD - top;
}

// The text in lines no wider than width, broken at spaces where it can be.
function fitLines(ctx, text, width) {
  const lines = [];
  let line = "";
  for (const part of text.split(/(?<= )/)) {
    for (const ch of ctx.measureText(part).width > width ? Array.from(part) : [part]) {
      if (line && ctx.measureText(line + ch).width > width) {
        lines.push(line.trimEnd());
        line = "";
      }
      line += ch;
    }
  }
  return [...lines, line.trimEnd()];
}

const swatch = (fill, alpha = 1) => (ctx, x, y, w) => {
  ctx.fillStyle = GRAY;
  ctx.fillRect(x, y, w, SWATCH);
  ctx.globalAlpha = alpha;
  ctx.fillStyle = fill === "hatch" ? hatchPattern(ctx) : fill;
  ctx.fillRect(x, y, w, SWATCH);
  ctx.globalAlpha = 1;
};

// The legend's entries, {label, width, paint(ctx, x, y, width)}, for the tiles of this image.
function legendEntries(item) {
  const r = item.result, K = item.classes.length;
  const votes = new Map();
  let background = 0;
  for (let i = 0; i < r.ntiles; i++) {
    if (r.tiles.background[i]) background++;
    else votes.set(r.tiles.predicted[i], (votes.get(r.tiles.predicted[i]) || 0) + 1);
  }
  const ranked = [...votes].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const entries = ranked.slice(0, MAX_CLASSES).map(([k, n]) => ({
    label: `${item.classes[k]}: ${n} tile${n === 1 ? "" : "s"}`, width: SWATCH, paint: swatch(classColour(k), tileAlpha(1, K)),
  }));
  if (ranked.length > MAX_CLASSES)
    entries.push({ label: `and ${ranked.length - MAX_CLASSES} more classes`, width: 0, paint: () => {} });
  const colour = classColour(ranked.length ? ranked[0][0] : r.predicted);
  entries.push({
    label: `colour strength: the tile's probability of its class, from ${percent(1 / K)} (chance) to 100%`,
    width: 64,
    paint: (ctx, x, y, w) => {
      for (let i = 0; i < w; i++) swatch(colour, tileAlpha(1 / K + (1 - 1 / K) * (i / (w - 1)), K))(ctx, x + i, y, 1);
    },
  });
  if (background) entries.push({ label: "background tile: does not vote", width: SWATCH, paint: swatch("hatch") });
  if (r.cropBottom > 0) entries.push({ label: "cropped off before tiling", width: SWATCH, paint: swatch(CROPPED) });
  return entries;
}
