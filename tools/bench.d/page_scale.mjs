#!/usr/bin/env node
/* tools/bench.d/page_scale.mjs: the page at scale, in headless Chromium
   (tools/bench_page runs it).

   node tools/bench.d/page_scale.mjs --url URL --image FILE [--tta] COUNTS...

   For each count N, a fresh Chromium opens the page (its default model,
   averaging off unless --tta) and is given a folder of N hard links to FILE
   through "Choose a folder…", as a person picks one. Measured until the page
   says "Classified N images in S s" (S, the page's own clock, is the time):
   - the peak resident memory (VmHWM) of the page's renderer process (the
     page, its worker and the WASM heap) and of every Chromium process summed
     (the browser process holds the thumbnails' blobs), and the peak of the
     page's JavaScript heap and of its DOM nodes (CDP Performance.getMetrics,
     every 250 ms);
   - responsiveness: the longest task of the page's thread (PerformanceObserver,
     "longtask") and the longest delay of a click (one every 300 ms, its
     handler's start less the event's time stamp; the median and the worst)
     from the files' arrival in the page to the end; and of the longest
     animation frame ("long-animation-frame"), the part in scripts and the
     part in style, layout and paint (what a long task was);
   Prints a row a count, ending with the machine's load average (1 minute)
   before and after it: on a shared machine the page's thread also waits for a
   core, and the delays say as much about the load as about the page. */
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chromiumProcesses } from "./chromium_procs.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
// playwright-core as the browser tests install it (never playwright, which downloads browsers).
const { chromium } = createRequire(path.join(repo, "tests", "browser", "package.json"))("playwright-core");
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const { values: opts, positionals: counts } = parseArgs({
  options: { url: { type: "string" }, image: { type: "string" }, tta: { type: "boolean", default: false } },
  allowPositionals: true,
});
if (!opts.url || !opts.image || !counts.length || counts.some((n) => !/^\d+$/.test(n))) {
  console.error("usage: page_scale.mjs --url URL --image FILE [--tta] COUNTS...");
  process.exit(2);
}

// A folder of n hard links to the image, named as a plate's fields.
function folderOf(n) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cellsight-page-"));
  const folder = path.join(dir, `plate-${n}`);
  fs.mkdirSync(folder);
  for (let k = 0; k < n; k++) {
    const well = Math.floor(k / 9) % 96;
    fs.linkSync(opts.image, path.join(folder,
      `P${Math.floor(k / 864)}_${"ABCDEFGH"[Math.floor(well / 12)]}${String(well % 12 + 1).padStart(2, "0")}_${k % 9 + 1}.jpg`));
  }
  return { dir, folder };
}

// In the page, before the images: long tasks and click delays, kept in
// self.bench, from the moment the page has the files (the browser's own
// making of a thousand File objects, in the task that then hands them to the
// page, is not the page's: a task counts from that moment on).
function watchPage() {
  self.bench = { since: Infinity, longest: 0, delays: [], frame: { duration: 0, scripts: 0, render: 0 } };
  document.getElementById("folder-input").addEventListener("change", () => (self.bench.since = performance.now()),
    { capture: true, once: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) // the part of a task after the files' arrival
      self.bench.longest = Math.max(self.bench.longest, e.startTime + e.duration - Math.max(e.startTime, self.bench.since));
  }).observe({ type: "longtask" });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.startTime < self.bench.since || e.duration <= self.bench.frame.duration) continue;
      self.bench.frame = { duration: e.duration, scripts: e.scripts.reduce((sum, s) => sum + s.duration, 0),
        render: e.renderStart ? e.startTime + e.duration - e.renderStart : 0 };
    }
  }).observe({ type: "long-animation-frame" });
  addEventListener("pointerdown", (e) => {
    if (e.timeStamp >= self.bench.since) self.bench.delays.push(performance.now() - e.timeStamp);
  }, true);
}

async function measure(browserServer, n) {
  const browser = await chromium.connect(browserServer.wsEndpoint());
  const { dir, folder } = folderOf(n);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(opts.url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
    await page.setChecked("#tta", opts.tta);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Performance.enable");
    const peak = { heap: 0, nodes: 0 };
    const sample = async () => {
      const { metrics } = await cdp.send("Performance.getMetrics");
      const get = (name) => metrics.find((m) => m.name === name).value;
      peak.heap = Math.max(peak.heap, get("JSHeapUsedSize"));
      peak.nodes = Math.max(peak.nodes, get("Nodes"));
    };
    await page.evaluate(watchPage);
    const sampler = setInterval(() => sample().catch(() => {}), 250);
    const clicker = setInterval(() => page.mouse.click(4, 4).catch(() => {}), 300);
    await page.setInputFiles("#folder-input", folder);
    const notice = page.locator("#notice", { hasText: `Classified ${n} images in` });
    await notice.waitFor({ timeout: 3_600_000 });
    clearInterval(sampler);
    clearInterval(clicker);
    await sample();
    const seconds = Number((await notice.textContent()).match(/in ([\d.]+) s/)[1]);
    const { longest, delays, frame } = await page.evaluate(() => self.bench);
    const procs = [...chromiumProcesses(browserServer.process().pid).values()];
    const renderer = Math.max(...procs.filter((p) => p.renderer).map((p) => p.hwmKb));
    const all = procs.reduce((sum, p) => sum + p.hwmKb, 0);
    if (errors.length) throw new Error(`the page failed: ${errors.join("; ")}`);
    const rows = await page.locator("#results-table tbody tr").count();
    if (rows !== n) throw new Error(`the table has ${rows} rows, not ${n}`);
    return { seconds, renderer: renderer / 1024, all: all / 1024, heap: peak.heap / 2 ** 20, nodes: peak.nodes,
      longest, frame, delays: delays.sort((a, b) => a - b) };
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const median = (sorted) => (sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN);

const head = ["images", "seconds", "images/s", "renderer MiB", "all procs MiB", "JS heap MiB", "DOM nodes",
  "longest task ms", "click delay ms: median, worst", "load average: before, after",
  "longest frame ms: all, scripts, style+layout+paint"];
const loadAverage = () => os.loadavg()[0].toFixed(1);
console.log(head.join(" | "));
for (const n of counts.map(Number)) {
  const browserServer = await chromium.launchServer({ executablePath: "/usr/bin/chromium", args: FLAGS });
  try {
    const load = loadAverage();
    const r = await measure(browserServer, n);
    console.log([n, r.seconds.toFixed(1), (n / r.seconds).toFixed(1), r.renderer.toFixed(0), r.all.toFixed(0),
      r.heap.toFixed(1), r.nodes, r.longest.toFixed(0),
      `${median(r.delays).toFixed(0)}, ${Math.max(0, ...r.delays).toFixed(0)} (${r.delays.length} clicks)`,
      `${load}, ${loadAverage()}`, [r.frame.duration, r.frame.scripts, r.frame.render].map((x) => x.toFixed(0)).join(", ")]
      .join(" | "));
  } finally {
    await browserServer.close();
  }
}
