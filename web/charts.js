/* charts.js: the Teach panel's two charts, loss and tile accuracy by epoch,
   as SVG: training's running line, validation's points at each epoch's end,
   and the epoch kept. */

// history: [{epoch, trainLoss, trainAcc, valLoss?, valAcc?, best?, done?}];
// svgs: {loss, acc}, the two <svg> elements.
export function drawCharts(svgs, history, epochs) {
  const last = history.length ? Math.ceil(history[history.length - 1].epoch) : 1;
  const xmax = Math.max(2, Math.min(epochs, Math.max(last, 10)));
  const losses = history.flatMap((p) => [p.trainLoss, p.valLoss]).filter(isFinite);
  const lmax = Math.max(0.1, ...losses) * 1.05;
  chart(svgs.loss, history, xmax, 0, lmax, "trainLoss", "valLoss");
  chart(svgs.acc, history, xmax, 0, 1, "trainAcc", "valAcc");
}

function chart(svg, history, xmax, ymin, ymax, trainKey, valKey) {
  const W = 320, H = 160, L = 36, R = 8, T = 8, B = 22;
  const x = (e) => L + (W - L - R) * e / xmax;
  const y = (v) => T + (H - T - B) * (1 - (v - ymin) / (ymax - ymin));
  const line = (points) => points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
  const fmt = (v) => (ymax <= 1.0001 && ymin === 0 && ymax === 1 ? `${Math.round(v * 100)}%` : v.toFixed(2));
  let s = `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" class="chart-area"/>`;
  for (const v of [ymin, (ymin + ymax) / 2, ymax])
    s += `<text x="${L - 4}" y="${y(v) + 4}" class="chart-tick" text-anchor="end">${fmt(v)}</text>`;
  s += `<text x="${L}" y="${H - 6}" class="chart-tick">0</text>` +
    `<text x="${W - R}" y="${H - 6}" class="chart-tick" text-anchor="end">epoch ${xmax}</text>`;
  const trainPts = [[0, NaN], ...history.map((p) => [p.epoch, p[trainKey]])].filter((p) => isFinite(p[1]));
  const valPts = history.filter((p) => p.done && isFinite(p[valKey])).map((p) => [p.epoch, p[valKey]]);
  s += `<polyline class="chart-train" points="${line(trainPts)}"/>`;
  const now = trainPts[trainPts.length - 1]; // where training is, seen even before a line
  if (now) s += `<circle class="chart-now" cx="${x(now[0])}" cy="${y(now[1])}" r="2.5"/>`;
  s += `<polyline class="chart-val" points="${line(valPts)}"/>`;
  const kept = history.filter((p) => p.best && isFinite(p[valKey])).pop();
  if (kept) s += `<circle class="chart-best" cx="${x(kept.epoch)}" cy="${y(kept[valKey])}" r="4"/>`;
  svg.innerHTML = s;
}
