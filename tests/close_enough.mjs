// close_enough.mjs A B [TOL]: exits 0 if files A and B hold the same text but for
// numbers that differ by at most TOL (default 1e-4), as the same CSV or JSON
// from two builds of cellsight should; otherwise prints the first difference.
import { readFileSync } from "node:fs";

const [a, b, tol = "1e-4"] = process.argv.slice(2);
const number = /-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|-?inf|nan/gi;

// Splits text into alternating words and numbers: [text, number, text, ..., text].
function pieces(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(number)) {
    out.push(text.slice(last, m.index), m[0]);
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

const [pa, pb] = [a, b].map((f) => pieces(readFileSync(f, "utf8")));
let worst = 0;
for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
  const [x, y] = [pa[i] ?? "", pb[i] ?? ""];
  const isNumber = i % 2 === 1;
  const gap = isNumber ? Math.abs(Number(x) - Number(y)) : 0;
  if (isNumber && x !== y && !(gap <= Number(tol))) {
    console.error(`${a} and ${b} differ: ${x} vs ${y} (tolerance ${tol}) after "${pa[i - 1].slice(-60)}"`);
    process.exit(1);
  }
  if (!isNumber && x !== y) {
    console.error(`${a} and ${b} differ: "${x.slice(0, 80)}" vs "${y.slice(0, 80)}"`);
    process.exit(1);
  }
  if (isNumber) worst = Math.max(worst, gap);
}
console.log(`same text; numbers within ${worst.toExponential(1)}`);
