#!/usr/bin/env node
/* tools/screenshots.mjs --url URL --out DIR: screenshots of the page's main
   states, for the README, in Debian's Chromium through playwright-core (as the
   browser tests drive it; tools/screenshots serves the page and runs this):
   empty, the sample images' results with each shipped model, the Teach panel,
   a card's overlay as its PNG export, and a phone's screen of results. */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { chromium } = createRequire(path.join(root, "tests", "browser", "package.json"))("playwright-core");
const { values: opts } = parseArgs({ options: { url: { type: "string" }, out: { type: "string" } } });
if (!opts.url || !opts.out) {
  console.error("usage: tools/screenshots.mjs --url URL --out DIR");
  process.exit(2);
}
fs.mkdirSync(opts.out, { recursive: true });

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const DESKTOP = { width: 1280, height: 900 }, PHONE = { width: 390, height: 844 };
const BINARY = "model/t47d-vs-mdamb231.safetensors", THIRTY = "model/azgcb30.safetensors"; // picker keys

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
const saved = [];

async function open(viewport) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(opts.url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
  return page;
}

// The sample images classified with the model file `model` (of the picker).
async function classifySamples(page, model) {
  await page.selectOption("#model-select", model);
  await page.waitForFunction((m) => globalThis.cellsight.activeModel()?.key === m && globalThis.cellsight.activeModel().info, model);
  await page.click("#samples-button");
  await page.waitForFunction(() => document.querySelectorAll("#cards .card").length > 0 &&
    !document.querySelector("#cards .card.waiting"), undefined, { timeout: 600_000 });
  await page.waitForFunction(() => Array.from(document.querySelectorAll("#cards .thumb img")).every((i) => i.complete && i.naturalWidth));
}

// The screen with the element at its top (a little above it), as a person scrolls to it.
async function shot(page, name, selector) {
  if (selector) await page.$eval(selector, (e) => scrollTo(0, e.getBoundingClientRect().top + scrollY - 12));
  const file = path.join(opts.out, `${name}.png`);
  await page.screenshot({ path: file });
  saved.push(file);
}

let page = await open(DESKTOP);
await shot(page, "empty");
await classifySamples(page, BINARY);
await shot(page, "results-t47d-vs-mdamb231", "#drop-zone");
const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#cards .overlay-download").first().click()]);
const overlay = path.join(opts.out, "overlay.png");
await download.saveAs(overlay);
saved.push(overlay);
await page.click("#clear-button");
await classifySamples(page, THIRTY);
await shot(page, "results-azgcb30", "#results");
await shot(page, "teach", "#teach");
await page.context().close();

page = await open(PHONE);
await classifySamples(page, BINARY);
await shot(page, "phone", "#results");
await page.context().close();
await browser.close();
for (const file of saved) console.log(file);
