/* Issue 19, items 3, 9 and 10, in Debian's Chromium at a desktop's 1280 x 900
   and a phone's 390 x 844: results and Download CSV right under the drop zone
   (positions, Tab presses), the Teach panel and the phone's settings folded
   away for the session, a card's bars sorted with the top 5 shown, 30 classes
   in colours told apart, names of 127 characters without a page wider than
   the screen, 1000 classes in a page of bounded height, and a card's overlay
   as a PNG with a legend (also when pressed before the card's heatmap has
   loaded).

   Run by tests/stage_browser.sh (CS_URL, CS_OUT, ...): e.g.
   CS_BROWSER_TESTS=tests/browser/ux_layout.test.mjs bash tests/stage_browser.sh */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { dropFiles, newContext, openPage, shot, waitForResults } from "./chromium.mjs";

const { CS_URL, CS_OUT } = process.env;
assert.ok(CS_URL && CS_OUT, "run me through tests/stage_browser.sh");

const here = path.dirname(fileURLToPath(import.meta.url));
const samplesDir = path.join(here, "..", "..", "web", "samples");
const SAMPLES = fs.readdirSync(samplesDir).filter((f) => /\.jpe?g$/i.test(f)).sort()
  .map((f) => path.join(samplesDir, f));
const DESKTOP = { width: 1280, height: 900 }, PHONE = { width: 390, height: 844 };

// The 30 lines of the AZGCB images, as the shipped azgcb30 model names them (its weights: random here).
const LINES = ["A431", "A549", "BT474", "HCC1395", "HCC2279", "HCC70", "HCC78", "HCC827", "HS-5", "HT1080",
  "Hop62", "KELLY", "KPL4", "LNCAP", "LU99", "LUHMES", "MCF10A", "MDAMB231", "MiaPaca2", "NCIH1933",
  "NCIH1975", "NCIH2030", "NCIH2073", "NCIH358", "PC3", "SKBR3", "SNU1411", "SNU601", "SUM149PT", "T47D"];

function makeModel(name, classes, seed = 3) {
  const file = path.join(CS_OUT, name);
  execFileSync(process.execPath, [path.join(here, "make_model.mjs"), file, classes.join(","), String(seed)]);
  return file;
}

async function openWith(viewport, model, classes) {
  const context = await newContext({ viewport });
  const page = await openPage(context, CS_URL);
  await page.setInputFiles("#model-file", model);
  await page.waitForFunction((n) => globalThis.cellsight.activeModel()?.info?.classes.length === n, classes.length);
  return { context, page };
}

// Whether the page is wider than the window: a sideways scroll.
const overflow = (page) => page.evaluate(() =>
  ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));

// CIELAB (D65) of a CSS rgb() colour, for Delta E 1976.
function lab(css) {
  const [r, g, b] = css.match(/\d+/g).slice(0, 3).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const f = (t) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  const x = f((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047), y = f(0.2126 * r + 0.7152 * g + 0.0722 * b);
  const z = f((0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883);
  return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
}

for (const [size, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
  test(`30 classes, ${size}: results and Download CSV right under the drop zone, bars sorted, 5 shown, colours told apart`, async () => {
    const model = makeModel("thirty-lines.safetensors", LINES);
    const { context, page } = await openWith(viewport, model, LINES);
    await dropFiles(page, SAMPLES);
    await waitForResults(page, SAMPLES.length);
    await shot(page, `layout-30-${size}`);

    // Within the first two screens of the page: Download CSV, and the first card's name and verdict.
    const top = (selector) => page.$eval(selector, (e) => e.getBoundingClientRect().top + scrollY);
    const bottom = (selector) => page.$eval(selector, (e) => e.getBoundingClientRect().bottom + scrollY);
    const card = await top("#cards .card"), download = await bottom("#download-csv");
    assert.ok(download <= 2 * viewport.height, `Download CSV down to y = ${download}`);
    const verdict = await bottom("#cards .card .verdict");
    assert.ok(verdict <= 2 * viewport.height, `the first result card at y = ${card}, its verdict down to ${verdict}`);
    assert.ok(card < await top("#teach"), "the results come before the Teach panel");

    // Few Tab presses from the model picker to Download CSV.
    await page.focus("#model-select");
    let presses = 0;
    while (presses < 200 && await page.evaluate(() => document.activeElement.id) !== "download-csv") {
      await page.keyboard.press("Tab");
      presses++;
    }
    assert.ok(presses <= 20, `${presses} Tab presses from the model picker to Download CSV`);
    console.log(`30 classes, ${size}: Download CSV down to y = ${Math.round(download)}, the first card from ` +
      `y = ${Math.round(card)}, its verdict down to ${Math.round(verdict)}; ${presses} Tab presses from the picker`);

    // Each card: its bars sorted by probability, 5 of 30 shown, the rest on demand; a name beside each colour.
    for (const bars of await page.$$eval("#cards .card .probs", (lists) => lists.map((ul) =>
      Array.from(ul.querySelectorAll("li[data-class]"), (li) => ({
        p: Number(li.dataset.probability), shown: li.querySelector(".class-name").getBoundingClientRect().height > 0,
        name: li.querySelector(".class-name").textContent, k: Number(li.dataset.class) }))))) {
      assert.equal(bars.length, 30);
      bars.forEach((b, i) => i && assert.ok(bars[i - 1].p >= b.p, `bar ${i}: ${bars[i - 1].p} before ${b.p}`));
      assert.deepEqual(bars.map((b) => b.shown), bars.map((_, i) => i < 5), "the top 5 shown");
      bars.forEach((b) => assert.equal(b.name, LINES[b.k]));
    }
    const more = page.locator("#cards .card").first().getByRole("button", { name: "All 30 classes" });
    await more.click();
    assert.equal(await page.locator("#cards .card").first().locator(".probs li[data-class]:visible").count(), 30);
    await page.locator("#cards .card").first().getByRole("button", { name: "Top 5 only" }).click();
    assert.equal(await page.locator("#cards .card").first().locator(".probs li[data-class]:visible").count(), 5);

    // 30 colours, every two at least 20 apart (Delta E 1976); each bar in its class's colour.
    const colours = await page.$$eval("#legend .legend-classes .swatch", (s) => s.map((e) => getComputedStyle(e).backgroundColor));
    assert.equal(colours.length, 30);
    let closest = Infinity;
    colours.forEach((a, i) => colours.slice(0, i).forEach((b) => {
      closest = Math.min(closest, Math.hypot(...lab(a).map((v, c) => v - lab(b)[c])));
    }));
    assert.ok(closest >= 20, `two of the 30 class colours are only ${closest.toFixed(1)} apart`);
    const barColours = await page.$$eval("#cards .card .probs li[data-class]", (lis) =>
      lis.map((li) => [Number(li.dataset.class), getComputedStyle(li.querySelector(".bar span")).backgroundColor]));
    for (const [k, colour] of barColours) assert.equal(colour, colours[k]);

    const { scroll, client } = await overflow(page);
    assert.ok(scroll <= client, `the page is ${scroll} px wide in ${client}`);
    assert.deepEqual(page.problems, []);
    await context.close();
  });
}

test("the Teach panel folds away, and stays so for the session", async () => {
  const context = await newContext({ viewport: DESKTOP });
  const page = await openPage(context, CS_URL);
  assert.equal(await page.locator("#teach-bins").isVisible(), true);
  await page.getByText("Teach: fine-tune the model on your own cells").click();
  assert.equal(await page.locator("#teach-bins").isVisible(), false);
  await page.reload();
  await page.waitForSelector("body[data-ready=true]");
  assert.equal(await page.locator("#teach-bins").isVisible(), false, "closed again after a reload");
  await page.getByText("Teach: fine-tune the model on your own cells").click();
  assert.equal(await page.locator("#teach-bins").isVisible(), true);
  await context.close();
});

test("phone: the settings fold stays open or closed across reloads, as the user left it", async () => {
  const context = await newContext({ viewport: PHONE });
  const page = await openPage(context, CS_URL);
  const button = page.locator("#more-settings");
  const crop = page.locator("#crop-bottom");
  const state = async () => [await button.getAttribute("aria-expanded"), await crop.isVisible()];
  const reload = async () => {
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
  };
  assert.deepEqual(await state(), ["false", false], "folded on a first visit");
  await button.click();
  assert.deepEqual(await state(), ["true", true]);
  await reload();
  assert.deepEqual(await state(), ["true", true], "folded again after a reload");
  await button.click();
  await reload();
  assert.deepEqual(await state(), ["false", false], "open again after a reload");
  assert.deepEqual(page.problems, []);
  await context.close();
});

// 127 characters each, the longest a model may name a class, told apart at the end only: words, and
// words without a space between them, which no line break stops.
const LONG = [..."AB"].map((c) => "NCI-H1299 lung carcinoma ".repeat(6).slice(0, 126) + c)
  .concat("NCI-H1299_lung_carcinoma_".repeat(6).slice(0, 126) + "C");

for (const [size, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
  test(`class names of 127 characters, ${size}: no page wider than the screen, the whole name to read`, async () => {
    assert.ok(LONG.every((n) => n.length === 127));
    const model = makeModel("long-names.safetensors", LONG);
    const { context, page } = await openWith(viewport, model, LONG);
    await dropFiles(page, [SAMPLES[0]]);
    await waitForResults(page, 1);
    await page.locator("#legend").scrollIntoViewIfNeeded();
    await shot(page, `long-names-${size}`);
    const { scroll, client } = await overflow(page);
    assert.ok(scroll <= client, `the page is ${scroll} px wide in ${client}`);
    // On the card: every name whole, as text or on hover (title), none wider than the card.
    const names = await page.$$eval("#cards .card .class-name", (spans) => spans.map((s) =>
      ({ text: s.textContent, title: s.title, fits: s.getBoundingClientRect().right <= s.closest(".card").getBoundingClientRect().right })));
    assert.deepEqual(names.map((n) => n.text).sort(), LONG);
    for (const n of names) assert.ok(n.title === n.text && n.fits, `${n.text}: cut off, or not whole on hover`);
    const verdict = await page.$eval("#cards .card .verdict strong", (s) => ({ text: s.textContent,
      fits: s.getBoundingClientRect().right <= s.closest(".card").getBoundingClientRect().right }));
    assert.ok(LONG.includes(verdict.text) && verdict.fits, `the verdict ${verdict.text} is cut off`);
    // The legend: each name within the page.
    for (const right of await page.$$eval("#legend span", (spans) => spans.map((s) => s.getBoundingClientRect().right)))
      assert.ok(right <= viewport.width, `a legend entry reaches x = ${right}`);
    assert.deepEqual(await page.$$eval("#teach-bins .bin-name", (inputs) => inputs.map((i) => i.value)), LONG);
    assert.deepEqual(page.problems, []);
    await context.close();
  });
}

test("1000 classes: a compact Teach view found by name, a page of bounded height", async () => {
  const classes = Array.from({ length: 1000 }, (_, i) => `line${String(i + 1).padStart(4, "0")}`);
  const model = makeModel("thousand-classes.safetensors", classes);
  const { context, page } = await openWith(DESKTOP, model, classes);
  const height = () => page.evaluate(() => document.documentElement.scrollHeight);
  assert.ok(await page.locator("#teach-bins .bin").count() <= 12);
  assert.ok(await height() < 4000, `the page is ${await height()} px high`);
  assert.match(await page.locator("#teach-shown").textContent(), /of 1000 classes shown/);

  // Found by name, and images dropped on it stay in that class.
  await page.getByLabel("Find a class").fill("line0999");
  assert.deepEqual(await page.$$eval("#teach-bins .bin-name", (inputs) => inputs.map((i) => i.value)), ["line0999"]);
  await dropFiles(page, [SAMPLES[0]]); // classified meanwhile
  await page.evaluate((files) => {
    const dt = new DataTransfer();
    for (const { name, b64 } of files) dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
    document.querySelector("#teach-bins .bin").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true }));
  }, [{ name: path.basename(SAMPLES[1]), b64: fs.readFileSync(SAMPLES[1]).toString("base64") }]);
  await page.locator("#teach-bins .bin .bin-count", { hasText: "1 image" }).waitFor();
  assert.equal(await page.$eval("#teach-bins .bin", (b) => b.dataset.bin), "998");
  await page.getByLabel("Find a class").fill("");
  assert.equal(await page.locator("#teach-bins .bin").count(), 12);

  await waitForResults(page, 1);
  assert.equal(await page.locator("#cards .card .probs li[data-class]:visible").count(), 5);
  assert.ok(await height() < 5000, `with a result, the page is ${await height()} px high`);
  await shot(page, "thousand-classes");
  const { scroll, client } = await overflow(page);
  assert.ok(scroll <= client, `the page is ${scroll} px wide in ${client}`);
  assert.deepEqual(page.problems, []);
  await context.close();
});

// The PNG's width and height, from its IHDR chunk.
function pngSize(bytes) {
  assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "a PNG signature");
  assert.equal(bytes.toString("latin1", 12, 16), "IHDR");
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

test("a card's overlay downloads as a PNG: the heatmap, and a legend beneath it", async () => {
  const model = makeModel("three-lines.safetensors", ["T47D", "MDAMB231", "MCF7"], 7);
  const { context, page } = await openWith(DESKTOP, model, ["T47D", "MDAMB231", "MCF7"]);
  await dropFiles(page, [SAMPLES[0]]);
  await waitForResults(page, 1);
  const [download] = await Promise.all([page.waitForEvent("download"),
    page.getByRole("button", { name: /^Download overlay \(PNG\) of .*, with legend$/ }).click()]);
  assert.equal(download.suggestedFilename(), `${path.basename(SAMPLES[0]).replace(/\.[^.]*$/, "")}-overlay.png`);
  const bytes = fs.readFileSync(await download.path());
  fs.writeFileSync(path.join(CS_OUT, "overlay.png"), bytes);
  const { width, height } = pngSize(bytes);
  const thumb = await page.$eval("#cards .card .thumb img", (img) => ({ width: img.naturalWidth, height: img.naturalHeight }));
  assert.equal(width, Math.max(thumb.width, 480));
  assert.ok(height >= thumb.height + 60 && height <= thumb.height + 400, `${height} px high, the heatmap ${thumb.height}`);

  // In the page: the heatmap's pixels on top; beneath, ink, and the swatch of a class the tiles voted for.
  const seen = await page.evaluate(async ([b64, colours]) => {
    const png = await createImageBitmap(new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]));
    const img = document.querySelector("#cards .card .thumb img");
    const draw = (source, w, h) => {
      const ctx = new OffscreenCanvas(w, h).getContext("2d");
      ctx.drawImage(source, 0, 0);
      return ctx.getImageData(0, 0, w, h).data;
    };
    const out = draw(png, png.width, png.height), own = draw(img, img.naturalWidth, img.naturalHeight);
    let diff = 0;
    for (let y = 0; y < img.naturalHeight; y++)
      for (let x = 0; x < img.naturalWidth; x++)
        for (let c = 0; c < 3; c++) diff += Math.abs(out[4 * (y * png.width + x) + c] - own[4 * (y * img.naturalWidth + x) + c]);
    let ink = 0;
    const swatches = colours.map(() => 0);
    for (let i = 4 * img.naturalHeight * png.width; i < out.length; i += 4) {
      if (out[i] + out[i + 1] + out[i + 2] < 600) ink++;
      colours.forEach((rgb, k) => {
        if (rgb.every((v, c) => Math.abs(out[i + c] - v) <= 3)) swatches[k]++;
      });
    }
    return { meanDiff: diff / (3 * img.naturalWidth * img.naturalHeight), ink, swatches };
  }, [bytes.toString("base64"), await page.$$eval("#legend .swatch:not(.hatched):not(.cropped)", (s) => s.map((e) => {
    // A class's swatch in the PNG: its colour at a sure tile's strength (0.62) over mid gray.
    const [r, g, b] = getComputedStyle(e).backgroundColor.match(/\d+/g).map(Number);
    return [r, g, b].map((v) => Math.round(0.62 * v + 0.38 * 128));
  }))]);
  assert.ok(seen.meanDiff < 1, `the PNG's heatmap differs from the card's by ${seen.meanDiff} a channel`);
  assert.ok(seen.ink > 500, "text in the legend");
  assert.ok(seen.swatches.some((n) => n >= 100), `a class's swatch in the legend: ${seen.swatches}`);
  assert.deepEqual(page.problems, []);
  await context.close();
});

test("Download overlay pressed before the card's heatmap has loaded still downloads it", async () => {
  const model = makeModel("three-lines.safetensors", ["T47D", "MDAMB231", "MCF7"], 7);
  const context = await newContext({ viewport: DESKTOP });
  // The heatmap's JPEG (the card's thumbnail) comes 3 s late, as on a slow machine.
  await context.addInitScript(() => {
    const toBlob = HTMLCanvasElement.prototype.toBlob;
    HTMLCanvasElement.prototype.toBlob = function (callback, type, ...rest) {
      if (type !== "image/jpeg") return toBlob.call(this, callback, type, ...rest);
      return toBlob.call(this, (blob) => setTimeout(() => callback(blob), 3000), type, ...rest);
    };
  });
  const page = await openPage(context, CS_URL);
  await page.setInputFiles("#model-file", model);
  await page.waitForFunction(() => globalThis.cellsight.activeModel()?.info?.classes.length === 3);
  await dropFiles(page, [SAMPLES[0]]);
  await waitForResults(page, 1);
  const button = page.getByRole("button", { name: /^Download overlay \(PNG\) of .*, with legend$/ });
  await button.waitFor();
  assert.equal(await page.$eval("#cards .card .thumb img", (img) => img.complete && img.naturalWidth), 0,
    "the heatmap had loaded already: the test would prove nothing");
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 20_000 }), button.click()]);
  const { width, height } = pngSize(fs.readFileSync(await download.path()));
  await page.waitForFunction(() => document.querySelector("#cards .card .thumb img").naturalWidth > 0);
  const thumb = await page.$eval("#cards .card .thumb img", (img) => ({ width: img.naturalWidth, height: img.naturalHeight }));
  assert.equal(width, Math.max(thumb.width, 480));
  assert.ok(height >= thumb.height + 60, `${height} px high, the heatmap ${thumb.height}`);
  assert.deepEqual(page.problems, []);
  await context.close();
});
