/* chromium.mjs: what the page tests share: Debian's Chromium launched once per
   test file with the flags this machine needs, opening the page, screenshots,
   dropping files, reading the results off the page and the native CLI's
   (CS_CLI) for the same files. */
import path from "node:path";
import { after, before } from "node:test";
import { chromium } from "playwright-core";
import { dropInPage, filePayload, readResults, resultsReady } from "./expect.mjs";

export { assertMatchesCli, cli, LAST_COLUMNS, parseCsv, TOLERANCE } from "./expect.mjs";

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
});
after(async () => {
  await browser?.close();
});

export const newContext = (options) => browser.newContext(options);

// Opens url and waits until the page says it is ready; page.problems collects its errors.
export async function openPage(context, url = process.env.CS_URL) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  page.problems = problems;
  return page;
}

// The small random model (CS_RANDOM_MODEL, no test-time averaging) picked as
// a person picks a model file, and no strip cropped: quick.
export async function useRandomModel(page) {
  await page.setInputFiles("#model-file", process.env.CS_RANDOM_MODEL);
  await page.locator("#model-select option:checked", { hasText: path.basename(process.env.CS_RANDOM_MODEL) })
    .waitFor({ state: "attached" });
  await page.fill("#crop-bottom", "0");
  await page.locator("#crop-bottom").blur();
}

export const shot = (page, name) =>
  page.screenshot({ path: path.join(process.env.CS_OUT, `${name}.png`), fullPage: true });

export const waitForResults = (page, count) => page.waitForFunction(resultsReady, count, { timeout: 120_000 });
export const shownResults = (page) => page.evaluate(readResults);

// Drops files on the drop zone as a person dragging them from a file manager.
export const dropFiles = (page, files) => page.evaluate(dropInPage, ["#drop-zone", filePayload(files)]);
