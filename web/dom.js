/* dom.js: small helpers for the page's elements, colours and numbers, shared
   by the classifier's modules and the Teach panel. */

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export const percent = (x) => `${(100 * x).toFixed(1)}%`;

// Okabe & Ito's colour-blind-safe palette, then evenly spread hues.
const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442"];
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
