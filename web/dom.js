/* dom.js: small helpers for the page's elements, colours and numbers, shared
   by the classifier's modules and the Teach panel. */

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export const percent = (x) => `${(100 * x).toFixed(1)}%`;

// File names in order ("img2" before "img10"): one collator, not one a
// comparison as localeCompare's options make (150 ms for 1,000 names, against 1).
export const byName = new Intl.Collator("en", { numeric: true }).compare;

// 30 colours told apart (every two at least 25 apart in CIELAB, Delta E 1976):
// Okabe & Ito's 7 colour-blind-safe ones first (a model of a few classes), then
// colorcet's `glasbey` (Glasbey et al. 2007, "Colour displays for categorical
// images") in its order, kept if of lightness 35-85 and chroma 25 or more (seen
// over a gray image) and 25 or more from every colour before it. Beyond 30,
// evenly spread hues: many classes are told apart by their names, always shown
// beside a colour.
const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
  "#d60000", "#8c3bff", "#018700", "#bcb6ff", "#95b577", "#bf03b8", "#8e7900", "#ff7266", "#eb0077",
  "#03c600", "#9c3b4f", "#8287ff", "#54621f", "#c49e72", "#038287", "#69e680", "#85a301", "#00d6d4",
  "#da95ff", "#a00072", "#8c54b1", "#1859ff", "#8c5926"];
export const classColour = (k) => PALETTE[k] || `hsl(${(k * 137.5) % 360} 65% 50%)`;

// Hands data (a string or bytes) to the browser as a download named filename.
export function saveFile(filename, data, type) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = el("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
