/* ux_life.test.mjs: the page's life over time (issue 19, items 5 to 7), in
   Chromium: Stop in the single-file page ends its worker; a page only ever
   runs files of its own build, and offers a new one when it waits; a model
   file loaded again replaces its twin, and a loaded model can be removed, its
   memory given back.

   Run by tests/stage_browser.sh (CS_URL, CS_DIST, CS_CLI, CS_MODEL, CS_MODULE, CS_RANDOM_MODEL, CS_OUT). */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { BROWSERS } from "./drivers.mjs";
import { assertMatchesCli, cli, pngTransfer, readResults, resultsReady } from "./expect.mjs";

const { CS_DIST, CS_MODEL, CS_MODULE, CS_RANDOM_MODEL, CS_OUT } = process.env;
assert.ok(CS_DIST && CS_MODEL && CS_MODULE && CS_RANDOM_MODEL && CS_OUT, "run me through tests/stage_browser.sh");

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const samplesDir = path.join(repo, "web", "samples");
const SAMPLE = path.join(samplesDir, fs.readdirSync(samplesDir).filter((f) => /\.jpe?g$/i.test(f)).sort()[0]);
const trainDir = path.join(repo, "tests", "data", "train");
const imagesOf = (line) => fs.readdirSync(path.join(trainDir, line)).sort().map((f) => path.join(trainDir, line, f));

let browser;
before(async () => (browser = await BROWSERS.chromium()));
after(async () => browser?.close());

async function inSession(body) {
  const session = await browser.session();
  try {
    await body(session);
  } finally {
    await session.close();
  }
}

const dropTransfer = (page, dt) => page.evaluate((t) => document.getElementById("drop-zone")
  .dispatchEvent(new DragEvent("drop", { dataTransfer: t, bubbles: true, cancelable: true })), dt);

test("Stop in the single-file page (file://, no shared memory) ends the worker: idle at once, no result after it", () =>
  inSession(async (s) => {
    const page = await s.open(`file://${path.join(CS_DIST, "cellsight.html")}`);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
    // One row of tiles of the sample (1040 - 896 = 144 rows), set first: a change of crop classifies all again.
    await page.fillAndLeave("#crop-bottom", 896);
    // 1794 tiles, each seen 8 times by the shipped model: a minute or so on one thread.
    await dropTransfer(page, await page.evaluateHandle(pngTransfer, [["large.png", 6000]]));
    await page.waitFor(() => document.getElementById("progress").value > 0, undefined, 120_000);
    await page.click("#stop-button");
    // Idle within seconds, not when the image would have been done.
    await page.waitFor(() => document.getElementById("progress-area").hidden, undefined, 5_000);
    assert.match(await page.text("#notice"), /^Stopped\./);
    assert.match(await page.text("#cards .card.failed .verdict"), /stopped/);
    // Usable again: the next image is classified (by a fresh worker, the model loaded into it again).
    await page.drop("#drop-zone", [SAMPLE]);
    await page.waitFor(resultsReady, 2, 60_000);
    assertMatchesCli(await page.evaluate(readResults), [SAMPLE], cli(CS_MODEL, [SAMPLE], "--crop-bottom", "896"));
    // The stopped image never shows a result: the worker that had it is gone.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.deepEqual(await page.evaluate(() => Array.from(document.querySelectorAll("#cards .card"),
      (card) => [card.querySelector(".file-name").textContent, card.classList.contains("failed")])),
    [["large.png", true], [path.basename(SAMPLE), false]]);
    assert.deepEqual(page.problems, []);
  }));

test("a model file loaded 3 times is one entry; removed, the picker falls back to a shipped model; memory returns", () =>
  inSession(async (s) => {
    const page = await s.open();
    const memory = () => page.evaluate(() => cellsight.engine.call("memory"));
    const options = () => page.evaluate(() => Array.from(document.getElementById("model-select").options,
      (o) => o.textContent));
    const shipped = await options();
    assert.equal(await page.visible("#model-remove"), false, "a shipped model cannot be removed");
    const before = await memory();
    const name = path.basename(CS_RANDOM_MODEL), key = `user:${name}`;
    let once = null;
    for (let i = 0; i < 3; i++) {
      const previous = await page.evaluate((k) => Boolean(self.previousModel = cellsight.picker.models.get(k)), key);
      await page.setFiles("#model-file", CS_RANDOM_MODEL);
      await page.waitFor((k) => cellsight.activeModel()?.key === k && cellsight.activeModel() !== self.previousModel &&
        cellsight.activeModel().info, key);
      assert.equal(previous, i > 0, "the model is listed before this load from the loads before");
      assert.deepEqual(await options(), [...shipped, `${name} (yours)`], `after load ${i + 1}`);
      const now = await memory();
      if (i === 0) once = now;
      assert.equal(now.models, before.models + 1, `after load ${i + 1}: models alive in the module`);
      // The replaced one's bytes are freed: the heap in use stays where one load left it.
      assert.ok(now.heapInUse - once.heapInUse < fs.statSync(CS_RANDOM_MODEL).size / 2,
        `after load ${i + 1}: ${now.heapInUse} bytes in use, ${once.heapInUse} after the first`);
    }
    assert.equal(await page.visible("#model-remove"), true);
    await page.click("#model-remove");
    await page.waitFor(() => cellsight.activeModel()?.file && document.getElementById("model-remove").hidden);
    assert.deepEqual(await options(), shipped);
    assert.match(await page.evaluate(() => document.getElementById("model-select").selectedOptions[0].textContent),
      new RegExp(`^${path.basename(CS_MODEL, ".safetensors")}`));
    const removed = await memory();
    assert.equal(removed.models, before.models);
    assert.ok(removed.heapInUse - before.heapInUse < fs.statSync(CS_RANDOM_MODEL).size / 2,
      `after removing it: ${removed.heapInUse} bytes in use, ${before.heapInUse} before loading it`);
    await page.drop("#drop-zone", [SAMPLE]); // and the page still classifies
    await page.waitFor(resultsReady, 1, 60_000);
    assert.deepEqual(page.problems, []);
  }));

/* ---------------------------------------------------------------- updates */

// A build of the page into site, marked (after it is built, as a deployment's
// own difference would be) so that each of its page and its worker says which
// build it came from: self.testBuild.
function deploy(site, mark, models) {
  execFileSync(process.execPath, [path.join(repo, "web", "build.mjs"), "--module", CS_MODULE, "--out", site,
    "--models", models], { stdio: "ignore" });
  for (const file of ["app.js", "worker.js"])
    fs.appendFileSync(path.join(site, file), `\nself.testBuild = ${JSON.stringify(mark)};\n`);
  return JSON.parse(fs.readFileSync(path.join(site, "sw.js"), "utf8").match(/const PRECACHE = (\{.*\});/)[1]).version;
}

function serve(site) {
  const server = spawn(process.execPath, [path.join(repo, "tools", "serve.mjs"), "--root", site, "--port", "0"],
    { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/^serving .* on (http\S+)/m);
      if (m) resolve({ server, url: m[1] });
    });
    server.on("exit", (code) => reject(new Error(`tools/serve.mjs exited with ${code}: ${out}`)));
  });
}

// The builds of the page's classifying and training workers (not the pthreads'), once each has loaded.
async function workerBuilds(page, count) {
  for (let waited = 0; waited < 60_000; waited += 200) {
    const workers = page.page.workers().filter((w) => /\/worker\.js(\?|$)/.test(w.url()));
    const marks = await Promise.all(workers.map((w) => w.evaluate(() => self.testBuild).catch(() => undefined)));
    if (marks.length >= count && marks.every(Boolean)) return marks;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`fewer than ${count} workers of the page loaded in 60 s`);
}

// Picks the model "second" as a person does, once it is loaded.
async function pickSecond(page) {
  await page.page.selectOption("#model-select", "model/second.safetensors");
  await page.waitFor(() => cellsight.activeModel()?.key === "model/second.safetensors");
}

test("a new build deployed: the open page runs only its own build's files, offers the new one, which then runs entirely", async () => {
  const site = path.join(CS_OUT, "update-site"), modelsA = path.join(CS_OUT, "update-models-a"),
    modelsB = path.join(CS_OUT, "update-models-b");
  // Each build ships a model of the same file name, "second", with classes of its own.
  for (const [dir, build] of [[modelsA, "A"], [modelsB, "B"]]) {
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(CS_RANDOM_MODEL, path.join(dir, "t47d-vs-mdamb231.safetensors"));
    execFileSync(process.execPath, [path.join(repo, "tests", "browser", "make_model.mjs"),
      path.join(dir, "second.safetensors"), `${build}1,${build}2,${build}3`]);
  }
  deploy(site, "A", modelsA);
  const { server, url } = await serve(site);
  try {
    await inSession(async (s) => {
      const first = await s.open(url);
      await first.waitFor(() => navigator.serviceWorker.controller !== null, undefined, 60_000);
      await first.page.close();

      const buildB = deploy(site, "B", modelsB);
      const page = await s.open(url);
      page.page.on("dialog", (dialog) => dialog.accept()); // leaving with images in the Teach bins asks first
      assert.equal(await page.evaluate(() => self.testBuild), "A", "the visit after the deployment is served the old page");
      // Build B installed in the background...
      await page.waitFor(async (b) => (await caches.keys()).includes(`cellsight-${b}`) &&
        !(await navigator.serviceWorker.getRegistration()).installing, buildB, 60_000);
      // ...and the old page's workers, its first and one it starts now (a Teach run's), are its own build's...
      for (const [i, c] of (await page.evaluate(() => cellsight.activeModel().info.classes)).entries())
        await page.drop(`#teach-bins .bin[data-bin='${i}']`, imagesOf(c));
      await page.click("#teach-train");
      assert.deepEqual(await workerBuilds(page, 2), ["A", "A"]);
      await page.click("#teach-cancel");
      // ...and so is a shipped model it loads on first use.
      await pickSecond(page);
      assert.deepEqual(await page.evaluate(() => cellsight.activeModel().info.classes), ["A1", "A2", "A3"]);
      await page.waitVisible("#update-notice");
      assert.equal((await page.text("#update-notice")).replace(/\s+/g, " ").trim(), "A new version is ready: reload");

      await page.click("#update-reload");
      await page.waitFor(() => self.testBuild === "B" && document.body.dataset.ready === "true", undefined, 60_000);
      assert.deepEqual(await workerBuilds(page, 1), ["B"]);
      assert.equal(await page.evaluate(() => cellsight.build), buildB);
      await pickSecond(page);
      assert.deepEqual(await page.evaluate(() => cellsight.activeModel().info.classes), ["B1", "B2", "B3"]);
      assert.equal(await page.visible("#update-notice"), false);
      await page.fillAndLeave("#crop-bottom", 896);
      await page.drop("#drop-zone", [SAMPLE]);
      await page.waitFor(resultsReady, 1, 60_000);
      assert.equal(await page.evaluate(() => document.querySelectorAll("#cards .card:not(.failed)").length), 1);
      assert.deepEqual(page.problems, []);
    });
  } finally {
    server.kill();
  }
});
