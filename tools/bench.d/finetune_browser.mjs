#!/usr/bin/env node
/* tools/bench.d/finetune_browser.mjs: one fine-tune in the page's Teach panel,
   in headless Chromium, timed (tools/bench_finetune runs it).

   node tools/bench.d/finetune_browser.mjs --url URL --data DIR --classes A,B
        [--mode head|full] [--epochs N] [--out DIR]

   The page's default model is the base. Each bin gets the images of
   DIR/<class>; Train is clicked; the time is the page's own, from the click
   to the model's arrival (reading the images, the features, every epoch),
   before it is stored. Prints it with the validation figures. */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
// playwright-core as the browser tests install it (never playwright, which downloads browsers).
const { chromium } = createRequire(path.join(repo, "tests", "browser", "package.json"))("playwright-core");

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" }, data: { type: "string" }, classes: { type: "string" },
    mode: { type: "string", default: "head" }, epochs: { type: "string", default: "0" },
    out: { type: "string", default: "." },
  },
});
if (!opts.url || !opts.data || !opts.classes) {
  console.error("usage: finetune_browser.mjs --url URL --data DIR --classes A,B [--mode head|full] [--epochs N] [--out DIR]");
  process.exit(2);
}
const classes = opts.classes.split(",");
const IMAGE = /\.(jpe?g|png|bmp|gif|pgm|ppm|tga|webp)$/i;
const filesOf = (c) => fs.readdirSync(path.join(opts.data, c)).filter((f) => IMAGE.test(f)).sort()
  .map((f) => path.join(opts.data, c, f));

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(opts.url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
  // As many bins as classes, named and filled.
  while ((await page.locator("#teach-bins .bin").count()) > classes.length)
    await page.click("#teach-bins .bin:last-child .bin-remove");
  while ((await page.locator("#teach-bins .bin").count()) < classes.length) await page.click("#teach-add-bin");
  for (const [i, c] of classes.entries()) {
    await page.fill(`#teach-bins .bin[data-bin='${i}'] .bin-name`, c);
    await page.setInputFiles(`#teach-bin-file-${i}`, filesOf(c));
  }
  await page.check(`input[name=teach-mode][value=${opts.mode}]`);
  if (Number(opts.epochs) > 0) await page.fill("#teach-epochs", opts.epochs);
  const images = classes.map((c) => filesOf(c).length).reduce((a, b) => a + b, 0);
  console.error(`finetune_browser: ${images} images of ${classes.join(", ")}, ${opts.mode} mode`);
  await page.click("#teach-train");
  await page.locator("#teach-result").waitFor({ state: "visible", timeout: 3_600_000 });
  const ms = Number(await page.getAttribute("#teach", "data-trained-ms"));
  const figures = await page.$$eval("#teach-result .teach-figures dt", (dts) =>
    Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  await page.screenshot({ path: path.join(opts.out, "finetune-browser.png"), fullPage: true });
  const engine = await page.textContent("#engine"); // e.g. "WebAssembly SIMD, 2 threads"
  console.log(`page (headless Chromium, ${engine}): ${(ms / 1000).toFixed(1)} s, ` +
    `validation tile accuracy ${figures["Validation tile accuracy in training (one pass a tile)"]}`);
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k}: ${v}`);
} finally {
  await browser.close();
}
