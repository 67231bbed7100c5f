/* chromium_bench.mjs: cellsight's WASM build in headless Chromium (Debian's
   chromium through playwright-core), for tools/bench.

     node chromium_bench.mjs --site DIR --bench-module FILE.js [--bench-module-mt FILE_MT.js]
                             --image FILE [--seconds S] [--runs N] [--tiles T] [--threads P]

   DIR is a built site (web/build.mjs's output, with a default model and the
   pthread build cellsight-web-mt.js beside cellsight-web.js); FILE.js is
   cellsight_bench_web.js, the benchmark program as a classic script, and
   FILE_MT.js its pthread build (cellsight_bench_web_mt.js, with its
   .worker.js beside it), run with P threads (default: every core).
   Measured, each printed as a JSON row on a line as cellsight_bench --json does:
   - tiles per second (inference at batch 1 and 32, training at batch 32) and
     the WASM SIMD128 peak, from the benchmark program run in a Web Worker of a
     page that tools/serve.mjs serves with COOP/COEP (cross-origin isolated):
     FILE.js on 1 thread, then FILE_MT.js on P;
   - the page itself (DIR/index.html served the same way, then
     DIR/cellsight.html opened from file://) classifying IMAGE dropped on it as
     a person drops it: seconds from the drop to the result card, the best of N
     drops after the page is ready (the first is reported too), the peak
     resident memory of the page's renderer process (page and workers) and
     the size of the worker's WASM heap. T, the tiles in IMAGE's grid (77 for
     1408 x 1040 with a 96 px crop), turns seconds into tiles per second.
     The served page must be cross-origin isolated and run the pthread build
     (a shared WASM heap), file:// the single-thread one: anything else fails
     rather than print a mislabelled figure. Each row's threads are the ones
     the page's module reports (cs_threads), one a core as web/worker.js picks. */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { chromiumProcesses } from "../chromium_procs.mjs";

const { values: opts } = parseArgs({
  options: {
    site: { type: "string" },
    "bench-module": { type: "string" },
    image: { type: "string" },
    seconds: { type: "string", default: "2" },
    runs: { type: "string", default: "3" },
    tiles: { type: "string", default: "77" },
    "bench-module-mt": { type: "string" },
    threads: { type: "string", default: String(os.availableParallelism()) },
  },
});
if (!opts.site || !opts["bench-module"] || !opts.image) {
  console.error("usage: node chromium_bench.mjs --site DIR --bench-module FILE.js [--bench-module-mt FILE_MT.js] " +
    "--image FILE [--seconds S] [--runs N] [--tiles T] [--threads P]");
  process.exit(2);
}
const site = path.resolve(opts.site);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const row = (fields) => console.log(JSON.stringify({ engine: "cellsight", target: "wasm-chromium", ...fields }));

// The benchmark programs beside the site (the pthread one with its threads'
// script), with an empty page to start their workers from.
fs.copyFileSync(opts["bench-module"], path.join(site, "cellsight_bench_web.js"));
if (opts["bench-module-mt"]) {
  fs.copyFileSync(opts["bench-module-mt"], path.join(site, "cellsight_bench_web_mt.js"));
  fs.copyFileSync(opts["bench-module-mt"].replace(/\.js$/, ".worker.js"), path.join(site, "cellsight_bench_web_mt.worker.js"));
}
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

// A benchmark program (file name in the site) in a worker of the page, with
// poolSize pthreads loaded before it starts: its --json lines.
async function benchProgram(page, file, args, poolSize = 0) {
  return page.evaluate(async ({ file, args, poolSize }) => {
    const script = new URL(file, location.href).href;
    // The pthreads' workers load the script and its .worker.js from the site, not the blob's URL.
    const source = `importScripts(${JSON.stringify(script)});
      onmessage = async ({ data }) => {
        const lines = [];
        const M = await CellsightBench({ print: (l) => lines.push(l), printErr: (l) => lines.push("stderr: " + l),
          poolSize: ${poolSize}, mainScriptUrlOrBlob: ${JSON.stringify(script)},
          locateFile: (f) => new URL(f, ${JSON.stringify(script)}).href });
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
  }, { file, args, poolSize });
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
const renderers = (rootPid) => new Map([...chromiumProcesses(rootPid)]
  .filter(([, p]) => p.renderer).map(([pid, p]) => [pid, p.hwmKb]));

// The page worker's module: its WASM heap (bytes), whether that is shared
// (only the pthread build's is), its threads (cs_threads) and the module
// scripts the worker loaded.
async function pageModule(page) {
  if (process.env.CS_BENCH_DEBUG) console.error("workers:", page.workers().map((w) => w.url()));
  for (const worker of page.workers()) {
    try {
      return await worker.evaluate(async () => {
        const M = await modulePromise; // worker.js's module
        const memory = M.wasmMemory ? M.wasmMemory.buffer : M.HEAPU8.buffer;
        return {
          bytes: memory.byteLength, threads: M._cs_threads(),
          shared: typeof SharedArrayBuffer !== "undefined" && memory instanceof SharedArrayBuffer,
          scripts: performance.getEntriesByType("resource").map((e) => e.name.split("/").pop())
            .filter((n) => /^cellsight-web/.test(n)),
        };
      });
    } catch (e) {
      if (process.env.CS_BENCH_DEBUG) console.error(worker.url(), e.message);
      // another worker (the service worker's, a pthread)
    }
  }
  throw new Error("no worker of the page has the module (web/worker.js's modulePromise)");
}

// Throws unless the page ran the build it is labelled with: served, cross-origin
// isolated with the pthread build (a shared heap, every core); from file://, one thread.
function checkBuild(label, isolated, module, cores) {
  const problems = [];
  if (label === "served") {
    if (!isolated) problems.push("the page is not cross-origin isolated (are tools/serve.mjs's COOP/COEP headers sent?)");
    if (!module.shared) problems.push(`its module is the single-thread build (no shared heap; loaded: ${module.scripts.join(", ") || "?"})`);
    const want = Math.max(1, Math.min(cores, 16)); // web/worker.js: one thread a core, at most 16
    if (module.threads !== want) problems.push(`its module runs ${module.threads} thread(s), not ${want} (one a core)`);
  } else {
    if (isolated || module.shared || module.threads !== 1) problems.push(`from file:// it should run one thread without shared memory, not ${module.threads} (isolated ${isolated}, shared ${module.shared})`);
  }
  if (problems.length) throw new Error(`${label} page: ${problems.join("; ")}`);
}

async function pageFigures(context, url, label) {
  const known = new Set(renderers(browserPid).keys());
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
  const { isolated, cores, engine } = await page.evaluate(() => ({ isolated: self.crossOriginIsolated,
    cores: navigator.hardwareConcurrency, engine: document.getElementById("engine").textContent }));
  const module = await pageModule(page);
  checkBuild(label, isolated, module, cores);
  const times = await classifyTimes(page, opts.image, Number(opts.runs));
  const peaks = [...renderers(browserPid)].filter(([pid]) => !known.has(pid)).map(([, kb]) => kb);
  if (errors.length) throw new Error(`${label}: ${errors.join("; ")}`);
  const tiles = await page.$eval("#cards .card:last-child", (c) => Number(c.dataset.tiles) || null).catch(() => null);
  const best = Math.min(...times);
  const heap = await pageModule(page); // grown by now
  row({
    task: "image", page: label, isolated, threads: module.threads,
    pthreads: module.shared, engine_shown: engine, seconds: +best.toFixed(3), first_seconds: +times[0].toFixed(3),
    tiles_per_s: +(Number(opts.tiles) / best).toFixed(2), tiles: Number(opts.tiles), voting_tiles: tiles,
    peak_rss_mb: peaks.length ? Math.round(Math.max(...peaks) / 1024) : null,
    wasm_heap_mb: Math.round(heap.bytes / 2 ** 20),
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
  const programs = [["cellsight_bench_web.js", 1]];
  if (opts["bench-module-mt"] && Number(opts.threads) > 1) programs.push(["cellsight_bench_web_mt.js", Number(opts.threads)]);
  for (const [file, threads] of programs) {
    const { lines, isolated } = await benchProgram(page, file,
      ["--json", "--seconds", opts.seconds, "--target", "wasm-chromium", "--threads", `${threads}`], threads - 1);
    const rows = lines.map((line) => {
      if (!line.startsWith("{")) throw new Error(`${file} in Chromium: ${lines.join("\n")}`);
      return JSON.parse(line);
    });
    // A pthread build that could not start its threads would give 1-thread figures under a 2-thread label.
    const wrong = rows.find((r) => r.threads !== threads);
    if (wrong) throw new Error(`${file} in Chromium ran ${wrong.threads} thread(s), not ${threads} (isolated: ${isolated})`);
    if (threads > 1 && !isolated) throw new Error(`${file}: the bench page is not cross-origin isolated`);
    for (const r of rows) console.log(JSON.stringify({ ...r, isolated, ...(threads > 1 ? { pthreads: true } : {}) }));
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
