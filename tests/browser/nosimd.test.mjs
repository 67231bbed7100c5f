/* The build without WebAssembly SIMD. Its module holds no SIMD instruction
   (binaryen validates it as plain WebAssembly, as it refuses the main build);
   and in a browser that truly lacks SIMD, Chromium whose V8 may not use
   SSE4.1 (as on a CPU without it, where V8 refuses WebAssembly SIMD), the
   page picks it by feature detection, says so in its footer, and gives the
   probabilities of the SIMD build (Firefox's, the same images) to 1e-5,
   served and from file://.

   Run by tests/stage_browser.sh (CS_URL, CS_DIST, CS_CLI, CS_MODEL, CS_OUT). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { PROBE } from "../../web/simd.js";
import { SAMPLES } from "./core.mjs";
import { BROWSERS } from "./drivers.mjs";
import { assertMatchesCli, cli, readResults, resultsReady } from "./expect.mjs";

const { CS_URL, CS_DIST, CS_MODEL, CS_OUT } = process.env;
const SAME = 1e-5;

test("cellsight-web-nosimd.js is plain WebAssembly; cellsight-web.js is not", () => {
  const plain = (module) => {
    const js = fs.readFileSync(path.join(CS_DIST, module), "utf8");
    const wasm = path.join(CS_OUT, module.replace(/\.js$/, ".wasm"));
    fs.writeFileSync(wasm, Buffer.from(js.match(/data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)/)[1], "base64"));
    // The features Emscripten's own code may use, and not SIMD.
    return spawnSync("wasm-opt", ["--mvp-features", "--enable-mutable-globals", "--enable-sign-ext",
      "--enable-bulk-memory", "--enable-nontrapping-float-to-int", wasm, "-o", "/dev/null"]).status === 0;
  };
  assert.equal(plain("cellsight-web-nosimd.js"), true, "the no-SIMD build uses SIMD");
  assert.equal(plain("cellsight-web.js"), false, "the check cannot tell SIMD: the main build passed it");
});

let noSimd, simd;
before(async () => {
  noSimd = await BROWSERS.chromium({ args: ["--js-flags=--no-enable-sse4-1"] });
  simd = await BROWSERS.firefox();
});
after(async () => Promise.all([noSimd?.close(), simd?.close()]));

// The samples classified (one row of tiles each: 1040 - 896 rows cropped) in browser at url.
async function classify(browser, url) {
  const session = await browser.session();
  try {
    const page = await session.open(url);
    await page.fillAndLeave("#crop-bottom", 896);
    await page.drop("#drop-zone", SAMPLES);
    await page.waitFor(resultsReady, SAMPLES.length, 300_000);
    assert.deepEqual(page.problems, []);
    return { engine: await page.text("#engine"), results: await page.evaluate(readResults),
      simd: await page.evaluate((probe) => WebAssembly.validate(new Uint8Array(probe)), Array.from(PROBE)) };
  } finally {
    await session.close();
  }
}

test("a browser without WebAssembly SIMD runs the no-SIMD build, says so, and gives the SIMD build's probabilities", async () => {
  const want = await classify(simd, CS_URL);
  assert.equal(want.simd, true);
  assert.match(want.engine, /^WebAssembly SIMD, /);
  for (const url of [CS_URL, `file://${path.join(CS_DIST, "cellsight.html")}`]) {
    const got = await classify(noSimd, url);
    assert.equal(got.simd, false, "this Chromium still validates SIMD");
    assert.equal(got.engine, "WebAssembly without SIMD, 1 thread", url);
    assertMatchesCli(got.results, SAMPLES, cli(CS_MODEL, SAMPLES, "--crop-bottom", "896"));
    for (const r of got.results) {
      const w = want.results.find((x) => x.file === r.file);
      assert.equal(r.tiles, w.tiles);
      r.probs.forEach((p, k) => assert.ok(Math.abs(p - w.probs[k]) <= SAME,
        `${r.file}, ${url}: p[${k}] ${p} without SIMD, ${w.probs[k]} with`));
    }
  }
});
