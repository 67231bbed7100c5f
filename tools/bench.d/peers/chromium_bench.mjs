/* chromium_bench.mjs: cellsight's WASM build in headless Chromium (Debian's
   chromium through playwright-core), for tools/bench.

     node chromium_bench.mjs --site DIR --bench-module FILE.js --image FILE [--seconds S] [--runs N]
                             [--tiles T]

   DIR is a built site (web/build.mjs's output, with a default model); FILE.js
   is cellsight_bench_web.js, the benchmark program as a classic script.
   Measured, each printed as a JSON row on a line as cellsight_bench --json does:
   - tiles per second (inference at batch 1 and 32, training at batch 32) and
     the WASM SIMD128 peak, from the benchmark program run in a Web Worker of a
     page that tools/serve.mjs serves with COOP/COEP (cross-origin isolated);
   - the page itself (DIR/index.html served the same way, then
     DIR/cellsight.html opened from file://) classifying IMAGE dropped on it as
     a person drops it: seconds from the drop to the result card, the best of N
     drops after the page is ready (the first is reported too), the peak
     resident memory of the page's renderer process (page and workers) and
     the size of the worker's WASM heap. T, the tiles in IMAGE's grid (77 for
     1408 x 1040 with a 96 px crop), turns seconds into tiles per second. */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: opts } = parseArgs({
  options: {
    site: { type: "string" },
    "bench-module": { type: "string" },
    image: { type: "string" },
    seconds: { type: "string", default: "2" },
    runs: { type: "string", default: "3" },
    tiles: { type: "string", default: "77" },
  },
});
if (!opts.site || !opts["bench-module"] || !opts.image) {
  console.error("usage: node chromium_bench.mjs --site DIR --bench-module FILE.js --image FILE [--seconds S] [--runs N] [--tiles T]");
  process.exit(2);
}
const site = path.resolve(opts.site);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const row = (fields) => console.log(JSON.stringify({ engine: "cellsight", target: "wasm-chromium", ...fields }));

// The benchmark program beside the site, with an empty page to start its worker from.
fs.copyFileSync(opts["bench-module"], path.join(site, "cellsight_bench_web.js"));
fs.writeFileSync(path.join(site, "bench.html"), "<!doctype html><title>cellsight bench</title>\n");

async function serve() {
  const server = spawn(process.execPath, [path.join(repo, "tools", "serve.mjs"), "--root", site, "--port", "0"],
    { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/^serving .* on (http\S+)/m);
      if (m) resolve(m[1].replace(/\/?$/, "/"));
    });
    server.on("exit", (code) => reject(new Error(`tools/serve.mjs exited with ${code}: ${out}`)));
  });
  return { server, url };
}

// The benchmark program in a worker of the page: its --json lines.
async function benchProgram(page, args) {
  return page.evaluate(async (args) => {
    const script = new URL("cellsight_bench_web.js", location.href).href;
    const source = `importScripts(${JSON.stringify(script)});
      onmessage = async ({ data }) => {
        const lines = [];
        const M = await CellsightBench({ print: (l) => lines.push(l), printErr: (l) => lines.push("stderr: " + l) });
        M.callMain(data);
        postMessage({ lines, isolated: self.crossOriginIsolated });
      };`;
    const worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
    const reply = await new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => resolve(data);
      worker.onerror = (e) => reject(new Error(e.message || "the benchmark worker failed"));
      worker.postMessage(args);
    });
    worker.terminate();
    return reply;
  }, args);
}

// Drops the image on the page `runs` times; seconds from each drop to its result card.
async function classifyTimes(page, image, runs) {
  const b64 = fs.readFileSync(image).toString("base64");
  const times = [];
  for (let i = 0; i < runs; i++) {
    times.push(await page.evaluate(async ({ b64, name }) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: "image/jpeg" }));
      const cards = document.getElementById("cards");
      const before = cards.querySelectorAll(".card").length;
      const finished = () => {
        const all = cards.querySelectorAll(".card");
        return all.length > before && !cards.querySelector(".card.waiting");
      };
      const done = new Promise((resolve) => {
        const observer = new MutationObserver(() => {
          if (finished()) observer.disconnect(), resolve(performance.now());
        });
        observer.observe(cards, { childList: true, subtree: true, attributes: true });
      });
      const start = performance.now();
      document.getElementById("drop-zone").dispatchEvent(
        new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
      const end = await done;
      const failed = cards.querySelector(".card.failed");
      if (failed) throw new Error(`the page failed on the image: ${failed.textContent.trim().slice(0, 200)}`);
      return (end - start) / 1000;
    }, { b64, name: path.basename(image) }));
  }
  return times;
}

// Chromium's renderer processes under the browser's process: pid -> peak
// resident memory (VmHWM, kB). A page and its workers live in one renderer.
function renderers(rootPid) {
  const procs = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      procs.push({ pid: Number(pid), ppid });
    } catch {
      // gone meanwhile
    }
  }
  const tree = new Set([rootPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (!tree.has(p.pid) && tree.has(p.ppid)) tree.add(p.pid), (grew = true);
  }
  const peaks = new Map();
  for (const pid of tree) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--type=renderer")) continue;
      const hwm = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+)/m);
      if (hwm) peaks.set(pid, Number(hwm[1]));
    } catch {
      // gone meanwhile
    }
  }
  return peaks;
}

// The worker's WASM heap (bytes), and whether it is shared (a pthread build).
async function wasmHeap(page) {
  if (process.env.CS_BENCH_DEBUG) console.error("workers:", page.workers().map((w) => w.url()));
  for (const worker of page.workers()) {
    try {
      return await worker.evaluate(async () => {
        const M = await modulePromise; // worker.js's module
        return { bytes: M.HEAPU8.buffer.byteLength, shared: typeof SharedArrayBuffer !== "undefined" && M.HEAPU8.buffer instanceof SharedArrayBuffer };
      });
    } catch (e) {
      if (process.env.CS_BENCH_DEBUG) console.error(worker.url(), e.message);
      // another worker (the service worker's, a pthread)
    }
  }
  return { bytes: null, shared: false };
}

async function pageFigures(context, url, label) {
  const known = new Set(renderers(browserPid).keys());
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
  const isolated = await page.evaluate(() => self.crossOriginIsolated);
  const times = await classifyTimes(page, opts.image, Number(opts.runs));
  const heap = await wasmHeap(page);
  const peaks = [...renderers(browserPid)].filter(([pid]) => !known.has(pid)).map(([, kb]) => kb);
  if (errors.length) throw new Error(`${label}: ${errors.join("; ")}`);
  const tiles = await page.$eval("#cards .card:last-child", (c) => Number(c.dataset.tiles) || null).catch(() => null);
  const best = Math.min(...times);
  row({
    task: "image", page: label, isolated, threads: heap.shared ? os.availableParallelism() : 1,
    pthreads: heap.shared, seconds: +best.toFixed(3), first_seconds: +times[0].toFixed(3),
    tiles_per_s: +(Number(opts.tiles) / best).toFixed(2), tiles: Number(opts.tiles), voting_tiles: tiles,
    peak_rss_mb: peaks.length ? Math.round(Math.max(...peaks) / 1024) : null,
    wasm_heap_mb: heap.bytes === null ? null : Math.round(heap.bytes / 2 ** 20),
  });
  await page.close();
}

const { server, url } = await serve();
const browserServer = await chromium.launchServer({ executablePath: "/usr/bin/chromium", args: FLAGS });
const browserPid = browserServer.process().pid;
const browser = await chromium.connect(browserServer.wsEndpoint());
try {
  // A fresh profile each: no cache or service worker carried from one page to the next.
  let context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${url}bench.html`);
  const { lines, isolated } = await benchProgram(page, ["--json", "--seconds", opts.seconds, "--target", "wasm-chromium"]);
  for (const line of lines) {
    if (!line.startsWith("{")) throw new Error(`cellsight_bench in Chromium: ${lines.join("\n")}`);
    console.log(JSON.stringify({ ...JSON.parse(line), isolated }));
  }
  await context.close();

  context = await browser.newContext();
  await pageFigures(context, `${url}index.html`, "served");
  await context.close();
  context = await browser.newContext();
  await pageFigures(context, pathToFileURL(path.join(site, "cellsight.html")).href, "file");
  await context.close();
} finally {
  await browser.close();
  await browserServer.close();
  server.kill();
}
