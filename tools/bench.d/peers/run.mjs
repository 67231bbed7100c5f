/* run.mjs: tools/bench's measurements and report (tools/bench builds and
   installs what they need, then runs this).

     node run.mjs --native DIR --wasm DIR --site DIR --model FILE --onnx FILE --image FILE
                  [--seconds S] [--runs N] [--json] [--skip-tfjs-train] [--only REGEX]

   Each figure comes from its own process, one at a time, so that they do not
   compete for the cores; each is the best of short runs (S seconds of them for
   tiles per second, N runs for a whole image). Peak memory is the process's
   maximum resident set (/usr/bin/time), or the page's renderer process in
   Chromium. Output: Markdown tables with cellsight's ratio to each peer and
   the Done-when targets of issue 6, or with --json a JSON list of rows
   {engine, target, task, threads, tiles_per_s, ...}. --only: just the
   measurements whose progress line matches REGEX (e.g. "pytorch|onnx"). */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    native: { type: "string" },
    wasm: { type: "string" },
    site: { type: "string" },
    model: { type: "string" },
    onnx: { type: "string" },
    image: { type: "string" },
    seconds: { type: "string", default: "2" },
    runs: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
    "skip-tfjs-train": { type: "boolean", default: false },
    only: { type: "string" },
  },
});
for (const k of ["native", "wasm", "site", "model", "onnx", "image"]) {
  if (!opts[k]) {
    console.error(`run.mjs: --${k} is missing (run tools/bench)`);
    process.exit(2);
  }
}
const here = path.dirname(fileURLToPath(import.meta.url));
const seconds = opts.seconds, runs = Number(opts.runs);
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);
const TFJS_LIMIT = Number(process.env.CS_BENCH_TFJS_LIMIT) || 300; // seconds for one TensorFlow.js cpu training step of 2 tiles
const TIME = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : null;
const rows = [];
let failures = 0;
const loadBefore = os.loadavg();
const startedAt = new Date();

// Runs a program; its stdout, wall seconds and peak resident memory (MB).
function run(cmd, args, { env, timeout } = {}) {
  const rss = path.join(os.tmpdir(), `cellsight-bench-rss-${process.pid}`);
  const [file, argv] = TIME ? [TIME, ["-f", "%M", "-o", rss, cmd, ...args]] : [cmd, args];
  const start = performance.now();
  const p = spawnSync(file, argv, { encoding: "utf8", maxBuffer: 1 << 26, env: { ...process.env, ...env },
    ...(timeout ? { timeout: timeout * 1000, killSignal: "SIGKILL" } : {}) });
  const secs = (performance.now() - start) / 1000;
  if (p.error?.code === "ETIMEDOUT") throw Object.assign(new Error(`stopped after ${timeout} s`), { timedOut: true });
  if (p.error) throw p.error;
  if (p.status !== 0) {
    throw new Error(`${path.basename(cmd)} ${args.join(" ")} exited with ${p.status}: ${
      (p.stderr || "").trim().split("\n").slice(-3).join(" | ")}`);
  }
  let peakMb = null;
  if (TIME) {
    const kb = Number(fs.readFileSync(rss, "utf8").trim().split("\n").pop());
    fs.rmSync(rss, { force: true });
    if (kb > 0) peakMb = Math.round(kb / 1024);
  }
  return { stdout: p.stdout, secs, peakMb };
}

const jsonLines = (text) => text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));

// One measurement: rows it adds, or a failure row for each figure it would have given.
function measure(label, expected, fn) {
  if (opts.only && !new RegExp(opts.only, "i").test(label)) return;
  log(label);
  try {
    const got = fn();
    if (!got.length) throw new Error("it printed no figures");
    rows.push(...got);
  } catch (e) {
    failures++;
    log(`  failed: ${e.message}`);
    for (const r of expected) rows.push({ ...r, tiles_per_s: null, error: e.message, ...(e.extra || {}) });
  }
}

// cellsight_bench --json: its peak row goes onto the inference and training
// rows; its image row (a noise image classified in the process: no decoding,
// no start-up) onto the whole-image rows measured from the real entry points.
const networkImage = new Map(); // "target/threads" -> seconds
function ours(lines, peakMb) {
  const peaks = new Map(lines.filter((r) => r.engine === "peak").map((r) => [`${r.target}/${r.threads}`, r]));
  const program = (r) => r.engine === "cellsight" && r.task === "image" && r.seconds === undefined;
  for (const r of lines.filter(program)) {
    if (r.tiles_per_s > 0) networkImage.set(`${r.target}/${r.threads}`, (r.tiles ?? 77) / r.tiles_per_s);
  }
  return lines.filter((r) => r.engine === "cellsight" && !program(r)).map((r) => {
    const peak = peaks.get(`${r.target}/${r.threads}`);
    return {
      ...r, ...(r.peak_rss_mb === undefined && peakMb ? { peak_rss_mb: peakMb } : {}),
      ...(peak && (r.task === "infer32" || r.task === "train32") ? {
        peak_gflops: peak.gflops, peak_fraction: r.task === "infer32" ? peak.fraction_infer32 : peak.fraction_train32,
        executed_peak_fraction: r.task === "infer32" ? peak.executed_fraction_infer32 : peak.executed_fraction_train32,
      } : {}),
    };
  });
}

const benchRows = (engine, target, threads, tasks) => tasks.map((task) => ({ engine, target, task, threads }));
const native = (name) => path.join(opts.native, name);
const node = process.execPath;
// Natively: every core, and 1.
const cores = os.availableParallelism();
const threadCounts = cores > 1 ? [cores, 1] : [1];

for (const threads of threadCounts) {
  measure(`cellsight native, ${threads} thread(s)`, benchRows("cellsight", "native", threads, ["infer1", "infer32", "train32"]), () => {
    const r = run(native("tools/bench.d/cellsight_bench"), ["--json", "--threads", `${threads}`, "--seconds", seconds]);
    return ours(jsonLines(r.stdout), r.peakMb);
  });
}

let imageTiles = 77;
for (const threads of threadCounts) {
  measure(`cellsight native, whole image, ${threads} thread(s)`, benchRows("cellsight", "native", threads, ["image"]), () => {
    const times = [];
    let peakMb = 0, tiles = null;
    for (let i = 0; i < runs; i++) {
      const r = run(native("cellsight"), ["predict", "--model", opts.model, "--threads", `${threads}`, "--tiles", opts.image]);
      times.push(r.secs);
      peakMb = Math.max(peakMb, r.peakMb ?? 0);
      tiles = r.stdout.trim().split("\n").length - 1; // a header, then one line a tile
    }
    imageTiles = tiles;
    const best = Math.min(...times);
    return [{ engine: "cellsight", target: "native", task: "image", threads, tiles_per_s: +(tiles / best).toFixed(2),
      seconds: +best.toFixed(3), first_seconds: +times[0].toFixed(3), tiles, peak_rss_mb: peakMb || null }];
  });
}

measure("cellsight WASM in node, 1 thread", benchRows("cellsight", "wasm-node", 1, ["infer1", "infer32", "train32"]), () => {
  const r = run(node, [path.join(opts.wasm, "tools/bench.d/cellsight_bench.js"), "--json", "--seconds", seconds]);
  return ours(jsonLines(r.stdout), r.peakMb);
});

// The page's fallback for browsers without WebAssembly SIMD: the same C, scalar.
measure("cellsight WASM without SIMD in node, 1 thread",
  benchRows("cellsight", "wasm-node-nosimd", 1, ["infer1", "infer32", "train32"]), () => {
    const r = run(node, [path.join(opts.wasm, "tools/bench.d/cellsight_bench_nosimd.js"), "--json", "--seconds", seconds]);
    return ours(jsonLines(r.stdout).map((row) => ({ ...row, target: "wasm-node-nosimd" })), r.peakMb);
  });

measure("cellsight WASM in node, whole image", benchRows("cellsight", "wasm-node", 1, ["image"]), () => {
  const r = run(node, [path.join(here, "node_image.mjs"), "--module", path.join(opts.wasm, "web/cellsight-web.js"),
    "--model", opts.model, "--image", opts.image, "--runs", `${runs}`]);
  return jsonLines(r.stdout).map((row) => ({ ...row, peak_rss_mb: r.peakMb }));
});

// In Chromium: the benchmark program on 1 thread and (its pthread build) on
// every core; the page served (cross-origin isolated: the pthread build, a
// thread a core) and from file:// (1 thread).
measure("cellsight WASM in headless Chromium (benchmark program, then the page served and from file://)",
  [...threadCounts.flatMap((t) => benchRows("cellsight", "wasm-chromium", t, ["infer1", "infer32", "train32"])),
    { ...benchRows("cellsight", "wasm-chromium", cores, ["image"])[0], page: "served" },
    { ...benchRows("cellsight", "wasm-chromium", 1, ["image"])[0], page: "file" }], () => {
    const r = run(node, [path.join(here, "chromium_bench.mjs"), "--site", opts.site,
      "--bench-module", path.join(opts.wasm, "tools/bench.d/cellsight_bench_web.js"),
      "--bench-module-mt", path.join(opts.wasm, "tools/bench.d/cellsight_bench_web_mt.js"), "--threads", `${cores}`,
      "--image", opts.image, "--seconds", seconds, "--runs", `${runs}`, "--tiles", `${imageTiles}`]);
    return ours(jsonLines(r.stdout), null);
  });

for (const threads of threadCounts) {
  measure(`PyTorch, ${threads} thread(s)`, benchRows("pytorch", "native", threads, ["infer1", "infer32", "train32"]), () => {
    const r = run("/usr/bin/python3", [path.join(here, "torch_bench.py"), "--threads", `${threads}`, "--seconds", seconds]);
    return jsonLines(r.stdout).map((row) => ({ ...row, peak_rss_mb: r.peakMb }));
  });
}
for (const threads of threadCounts) {
  measure(`onnxruntime-node, ${threads} thread(s)`, benchRows("onnxruntime-node", "native", threads, ["infer1", "infer32"]), () => {
    const r = run(node, [path.join(here, "ort_bench.mjs"), "--engine", "node", "--model", opts.onnx,
      "--threads", `${threads}`, "--seconds", seconds]);
    return jsonLines(r.stdout).map((row) => ({ ...row, peak_rss_mb: r.peakMb }));
  });
}
measure("onnxruntime-web (WASM SIMD) in node, 1 thread", benchRows("onnxruntime-web", "wasm-node", 1, ["infer1", "infer32"]), () => {
  const r = run(node, [path.join(here, "ort_bench.mjs"), "--engine", "web", "--model", opts.onnx, "--threads", "1",
    "--seconds", seconds]);
  return jsonLines(r.stdout).map((row) => ({ ...row, peak_rss_mb: r.peakMb }));
});
measure("TensorFlow.js wasm backend in node", benchRows("tfjs-wasm", "wasm-node", 1, ["infer1", "infer32"]), () => {
  const r = run(node, [path.join(here, "tfjs_bench.mjs"), "--backend", "wasm", "--task", "infer", "--seconds", seconds]);
  return jsonLines(r.stdout).map((row) => ({ ...row, peak_rss_mb: r.peakMb }));
});
if (!opts["skip-tfjs-train"]) {
  measure("TensorFlow.js cpu backend in node, training at batch 2 (one step takes minutes)",
    benchRows("tfjs-cpu", "wasm-node", 1, ["train32"]), () => {
      // One step; a machine so slow that it takes over TFJS_LIMIT seconds gets a bound instead.
      let r;
      try {
        r = run(node, [path.join(here, "tfjs_bench.mjs"), "--backend", "cpu", "--task", "train", "--batch", "2",
          "--seconds", "0"], { timeout: TFJS_LIMIT });
      } catch (e) {
        if (e.timedOut) e.extra = { batch: 2, tiles_per_s_below: +(2 / TFJS_LIMIT).toPrecision(3) };
        throw e;
      }
      return jsonLines(r.stdout).map((row) => ({ ...row, peak_rss_mb: r.peakMb }));
    });
}

/* ---------------------------------------------------------------- report */

for (const r of rows) {
  const s = r.engine === "cellsight" && r.task === "image" && networkImage.get(`${r.target}/${r.threads}`);
  if (s) r.network_seconds = +s.toFixed(3);
}

if (opts.json) {
  console.log(`[\n${rows.map((r) => `  ${JSON.stringify(r)}`).join(",\n")}\n]`);
  process.exit(failures && rows.some((r) => r.engine === "cellsight" && r.error) ? 1 : 0);
}

const find = (engine, target, task, threads, extra = {}) => rows.find((r) => r.engine === engine &&
  r.target === target && r.task === task && r.threads === threads &&
  Object.entries(extra).every(([k, v]) => r[k] === v));
const fmt = (v, digits = 1) => (v === null || v === undefined ? "-" : v >= 100 ? v.toFixed(0) : v.toFixed(digits));
const ratio = (a, b) => (a?.tiles_per_s && b?.tiles_per_s ? a.tiles_per_s / b.tiles_per_s : null);
const table = (head, body) => [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`,
  ...body.map((r) => `| ${r.join(" | ")} |`)].join("\n");
const NAMES = { "onnxruntime-node": "onnxruntime-node", pytorch: "PyTorch", "onnxruntime-web": "onnxruntime-web",
  "tfjs-wasm": "TensorFlow.js wasm", "tfjs-cpu": "TensorFlow.js cpu (batch 2)" };
const TASKS = { infer1: "inference, batch 1", infer32: "inference, batch 32", train32: "training, batch 32" };
const PEERS = { native: ["onnxruntime-node", "pytorch"], "wasm-node": ["onnxruntime-web", "tfjs-wasm", "tfjs-cpu"],
  "wasm-node-nosimd": [], "wasm-chromium": [] };

function cpuModel() {
  const p = spawnSync("lscpu", [], { encoding: "utf8" });
  const m = (p.stdout || "").match(/^Model name:\s*(.+)$/m);
  return m ? m[1].trim() : os.cpus()[0]?.model ?? "unknown CPU";
}
const load = (l) => l.map((x) => x.toFixed(1)).join(" ");
const out = [];
out.push(`${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC, ${cpuModel()}, ${cores} core${cores > 1 ? "s" : ""}, ` +
  `${Math.round(os.totalmem() / 2 ** 30)} GiB; load average (1, 5, 15 min) ${load(loadBefore)} before the run, ` +
  `${load(os.loadavg())} after.`, "");
out.push("Tiles per second (1 tile = 128 x 128 = 0.84 GFLOP forward), the best of short runs; " +
  "in brackets cellsight's speed over the peer's.", "");
const body = [];
for (const target of ["native", "wasm-node", "wasm-node-nosimd", "wasm-chromium"]) {
  for (const task of ["infer1", "infer32", "train32"]) {
    for (const threads of target.startsWith("wasm-node") ? [1] : [...threadCounts].reverse()) {
      const me = find("cellsight", target, task, threads);
      if (!me) continue;
      const peers = PEERS[target].map((e) => find(e, target, task, threads)).filter(Boolean)
        .map((p) => (p.tiles_per_s_below ? `${NAMES[p.engine]} < ${p.tiles_per_s_below} (> ${fmt(ratio(me,
          { tiles_per_s: p.tiles_per_s_below }), 0)}x; ${p.error})` : p.error ? `${NAMES[p.engine]} failed` : `${NAMES[p.engine]} ${fmt(p.tiles_per_s, p.tiles_per_s < 1 ? 3 : 1)} (${fmt(ratio(me, p), 2)}x)`));
      body.push([target, TASKS[task], threads, me.error ? "failed" : fmt(me.tiles_per_s), peers.join(", ") || "-",
        me.peak_rss_mb ? `${me.peak_rss_mb} MB` : "-"]);
    }
  }
}
out.push(table(["target", "task", "threads", "cellsight", "peers (tiles/s, cellsight's ratio)", "peak memory"], body), "");

out.push(`Whole ${imageTiles}-tile image (${path.basename(opts.image)}), seconds from the file to the result: the ` +
  `best of ${runs} runs, and the first (natively: \`cellsight predict\`, start-up and decoding included; in node: ` +
  "the page's WASM module; in Chromium: the page, from the drop to the result card, served cross-origin isolated " +
  "with its pthread build, a thread a core, and from file:// with its single-thread build). Network only: a noise " +
  "image classified inside the benchmark program.", "");
const images = rows.filter((r) => r.engine === "cellsight" && r.task === "image").map((r) => [
  r.target + (r.page ? (r.page === "served" ? `, served${r.isolated ? " (cross-origin isolated)" : ""}` : ", file://") : ""),
  r.threads, r.error ? "failed" : fmt(r.seconds, 2), fmt(r.first_seconds, 2), fmt(r.network_seconds, 2),
  r.peak_rss_mb ? `${r.peak_rss_mb} MB` : "-", r.wasm_heap_mb ? `${r.wasm_heap_mb} MB` : "-"]);
out.push(table(["where", "threads", "seconds", "first", "network only", "peak memory", "WASM heap"], images), "");

out.push("Multiply-add peak (a microbenchmark of independent vector FMA chains, every thread at once) and the " +
  "share of it the network reaches at batch 32, read two ways: effective, counting the direct convolution's " +
  "FLOPs (training 3 times the forward), which exceeds 100% where Winograd's F(4x4, 3x3) needs fewer " +
  "multiplies; and executed, counting the multiply-adds the kernels do (Winograd's elementwise products, " +
  "not its transforms).", "");
const peaks = [];
for (const [target, threads] of [...threadCounts.map((t) => ["native", t]).reverse(), ["wasm-node", 1],
  ["wasm-node-nosimd", 1], ...threadCounts.map((t) => ["wasm-chromium", t]).reverse()]) {
  const inf = find("cellsight", target, "infer32", threads), tr = find("cellsight", target, "train32", threads);
  if (!inf?.peak_gflops) continue;
  const pct = (v) => (v ? `${fmt(100 * v, 0)}%` : "-");
  peaks.push([target, threads, fmt(inf.peak_gflops), pct(inf.peak_fraction), pct(inf.executed_peak_fraction),
    pct(tr?.peak_fraction), pct(tr?.executed_peak_fraction)]);
}
out.push(table(["target", "threads", "peak GFLOP/s", "inference, effective (direct FLOPs)",
  "inference, executed multiply-adds", "training, effective (direct FLOPs)", "training, executed multiply-adds"],
peaks), "");

// Issue 6's Done-when.
const targets = [];
const check = (what, need, value, ok, shown) => targets.push([what, need, value === null ? "-" : shown,
  value === null ? "not measured" : ok ? "yes" : "no"]);
const all = threadCounts[0], allText = `${all} thread${all > 1 ? "s" : ""}`;
{
  const r = ratio(find("cellsight", "native", "infer32", all), find("onnxruntime-node", "native", "infer32", all));
  check(`native inference, ${allText}, batch 32, over onnxruntime-node`, ">= 1.1x", r, r >= 1.1, `${fmt(r, 2)}x`);
}
{
  const r = ratio(find("cellsight", "native", "train32", all), find("pytorch", "native", "train32", all));
  check(`native training, ${allText}, over PyTorch`, ">= 2x", r, r >= 2, `${fmt(r, 2)}x`);
}
for (const peer of ["onnxruntime-web", "tfjs-wasm"]) {
  const r = ratio(find("cellsight", "wasm-node", "infer32", 1), find(peer, "wasm-node", "infer32", 1));
  check(`WASM inference in node, 1 thread, batch 32, over ${NAMES[peer]}`, ">= 1.2x", r, r >= 1.2, `${fmt(r, 2)}x`);
}
{
  const v = find("cellsight", "wasm-node", "train32", 1)?.tiles_per_s ?? null;
  check("WASM training in node, 1 thread", ">= 10 tiles/s", v, v >= 10, `${fmt(v)} tiles/s`);
}
for (const [page, limit] of [["served", 1.0], ["file", 2.5]]) {
  const r = rows.find((x) => x.engine === "cellsight" && x.target === "wasm-chromium" && x.task === "image" &&
    x.page === page);
  const v = r?.seconds ?? null;
  check(`the page in Chromium, ${imageTiles}-tile image, ${page === "served" ? "cross-origin isolated" : "file://"}` +
    (r?.threads > 1 ? ` (${r.threads} threads)` : ", 1 thread"), `< ${limit.toFixed(1)} s`, v, v < limit, `${fmt(v, 2)} s`);
}
for (const [target, threads] of [...threadCounts.map((t) => ["native", t]).reverse(), ["wasm-node", 1]]) {
  // Measured: the executed multiply-adds' share; the effective one (direct FLOPs) in brackets.
  const r = find("cellsight", target, "infer32", threads);
  const v = r?.executed_peak_fraction ?? null, eff = r?.peak_fraction;
  check(`convolutions' share of the peak, ${target}, ${threads} thread${threads > 1 ? "s" : ""}`, ">= 60%", v, v >= 0.6,
    `${fmt(100 * v, 0)}% executed (${eff ? `${fmt(100 * eff, 0)}%` : "-"} effective, direct FLOPs)`);
}
out.push("Issue 6's targets:", "", table(["target", "needed", "measured", "met"], targets));
const failed = rows.filter((r) => r.error && !r.tiles_per_s_below);
if (failed.length) {
  out.push("", "Failed:", ...[...new Set(failed.map((r) => `- ${r.engine} ${r.target}: ${r.error}`))]);
}
console.log(out.join("\n"));
process.exit(failed.some((r) => r.engine === "cellsight") ? 1 : 0);
