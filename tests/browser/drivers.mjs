/* drivers.mjs: one small page API over two browsers, so that a test body runs
   in both: Debian's Chromium through playwright-core and Debian's Firefox ESR
   through puppeteer-core (WebDriver BiDi; playwright-core cannot drive a stock
   Firefox). A session is a fresh profile's worth of storage (a browser context);
   its pages offer evaluate, waitFor, fill, click, press, setFiles, drop,
   download, reload, shot, and collect the page's uncaught errors in page.problems.
   session.open(url, {readyTimeout, beforeGoto}): beforeGoto(raw) is given the
   browser's own page before it loads url (for listeners and routes). */
import fs from "node:fs";
import path from "node:path";
import { dropInPage, filePayload } from "./expect.mjs";

const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
// Longer than the longest wait of any test (a head-mode Teach run: 300 s).
const PROTOCOL_TIMEOUT = 400_000;
// A wait, not a measure: a browser's first page of a session, its profile and
// the modules' compiled code all new, has taken over a minute on a busy CI machine.
const READY_TIMEOUT = 120_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// What both drivers do the same way, through evaluate.
class PageBase {
  problems = [];
  evaluate(fn, arg) { return this.page.evaluate(fn, arg); }
  evaluateHandle(fn, arg) { return this.page.evaluateHandle(fn, arg); }
  async ready(timeout = READY_TIMEOUT) {
    try {
      await this.waitFor(() => document.body?.dataset.ready === "true", undefined, timeout);
    } catch (e) { // what the page had got to, to tell a stuck service worker from a stuck module
      const state = await this.evaluate(async () => {
        const r = await Promise.race([navigator.serviceWorker?.getRegistration(),
          new Promise((resolve) => setTimeout(resolve, 3000))]);
        return JSON.stringify({ ready: document.body?.dataset.ready, document: document.readyState,
          worker: r && [r.installing, r.waiting, r.active].map((w) => w?.state),
          controller: navigator.serviceWorker?.controller?.state, engine: document.getElementById("engine")?.textContent,
          model: document.getElementById("model-summary")?.textContent,
          // the files fetched to the end, in ms since the page began: one missing is one still waiting
          fetched: performance.getEntriesByType("resource").map((e) =>
            `${e.name.replace(/^.*\//, "")} ${Math.round(e.startTime)}-${Math.round(e.responseEnd)}`),
          now: Math.round(performance.now()) });
      }).catch((why) => `unknown (${why.message})`);
      throw new Error(`the page was not ready in ${timeout / 1000} s: ${state}`, { cause: e });
    }
  }
  // Types a value and leaves the field: its change event, once.
  async fillAndLeave(selector, value) {
    await this.fill(selector, String(value));
    await this.evaluate((s) => document.querySelector(s).blur(), selector);
  }
  drop(selector, files) {
    return this.evaluate(dropInPage, [selector, filePayload(files)]);
  }
  press(key) { return this.page.keyboard.press(key); }
  text(selector) {
    return this.evaluate((s) => document.querySelector(s)?.textContent ?? null, selector);
  }
  visible(selector) {
    return this.evaluate((s) => {
      const e = document.querySelector(s);
      return Boolean(e && !e.closest("[hidden]") && e.getClientRects().length);
    }, selector);
  }
  async waitVisible(selector, timeout = 30_000) {
    await this.waitFor((s) => {
      const e = document.querySelector(s);
      return Boolean(e && !e.closest("[hidden]") && e.getClientRects().length);
    }, selector, timeout);
  }
  shot(name) {
    return this.page.screenshot({ path: path.join(process.env.CS_OUT, `${this.browser}-${name}.png`), fullPage: true });
  }
}

/* ---------------------------------------------------------------- Chromium */

class ChromiumPage extends PageBase {
  browser = "chromium";
  constructor(page) {
    super();
    this.page = page;
    page.on("pageerror", (e) => this.problems.push(e.message));
  }
  waitFor(fn, arg, timeout = 30_000) { return this.page.waitForFunction(fn, arg, { timeout }); }
  fill(selector, value) { return this.page.fill(selector, value); }
  click(selector) { return this.page.click(selector); }
  setFiles(selector, files) { return this.page.setInputFiles(selector, files); }
  async reload() { await this.page.reload(); await this.ready(); }
  // Clicks selector and resolves with the bytes of the file it downloads.
  async download(selector) {
    const [download] = await Promise.all([this.page.waitForEvent("download"), this.page.click(selector)]);
    return fs.readFileSync(await download.path());
  }
}

// args: more command-line flags for this browser.
async function chromiumDriver({ args = [] } = {}) {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: [...CHROMIUM_FLAGS, ...args] });
  return {
    name: "chromium",
    canPickFolders: true,
    async session({ viewport = { width: 1280, height: 900 } } = {}) {
      const context = await browser.newContext({ viewport, acceptDownloads: true });
      return {
        async open(url = process.env.CS_URL, { readyTimeout, beforeGoto } = {}) {
          const page = new ChromiumPage(await context.newPage());
          await beforeGoto?.(page.page);
          await page.page.goto(url);
          await page.ready(readyTimeout);
          return page;
        },
        setOffline: (offline) => context.setOffline(offline),
        close: () => context.close(),
      };
    },
    close: () => browser.close(),
  };
}

/* ---------------------------------------------------------------- Firefox */

class FirefoxPage extends PageBase {
  browser = "firefox";
  constructor(page, downloads) {
    super();
    this.page = page;
    this.downloads = downloads;
    page.on("pageerror", (e) => this.problems.push(e.message));
  }
  waitFor(fn, arg, timeout = 30_000) { return this.page.waitForFunction(fn, { timeout, polling: 100 }, arg); }
  fill(selector, value) { return this.page.locator(selector).fill(value); }
  click(selector) { return this.page.locator(selector).click(); }
  async setFiles(selector, files) {
    await (await this.page.waitForSelector(selector)).uploadFile(...(Array.isArray(files) ? files : [files]));
  }
  async reload() { await this.page.reload(); await this.ready(); }
  // Firefox writes downloads into the context's folder: the new file, once
  // complete (no .part beside it) and no longer growing.
  async download(selector) {
    const before = new Set(fs.readdirSync(this.downloads));
    await this.click(selector);
    for (let waited = 0, lastSize = -1; waited < 30_000; waited += 100) {
      await sleep(100);
      const names = fs.readdirSync(this.downloads);
      const added = names.filter((n) => !before.has(n) && !n.endsWith(".part"));
      if (added.length !== 1 || names.some((n) => n.endsWith(".part"))) continue;
      const file = path.join(this.downloads, added[0]);
      const size = fs.statSync(file).size;
      if (size > 0 && size === lastSize) return fs.readFileSync(file);
      lastSize = size;
    }
    throw new Error(`no download from ${selector} in 30 s`);
  }
}

let profiles = 0;
// prefs: Firefox preferences for this browser, e.g. to answer the storage prompt.
async function firefoxDriver({ prefs = {} } = {}) {
  const { default: puppeteer } = await import("puppeteer-core");
  const browser = await puppeteer.launch({ browser: "firefox", executablePath: "/usr/bin/firefox-esr", headless: true,
    protocolTimeout: PROTOCOL_TIMEOUT, extraPrefsFirefox: prefs });
  return {
    name: "firefox",
    canPickFolders: false, // WebDriver BiDi's input.setFiles takes files only
    async session({ viewport = { width: 1280, height: 900 } } = {}) {
      const downloads = path.join(process.env.CS_OUT, "firefox-downloads", `${process.pid}-${++profiles}`);
      fs.mkdirSync(downloads, { recursive: true });
      const context = await browser.createBrowserContext({ downloadBehavior: { policy: "allow", downloadPath: downloads } });
      const pages = [];
      let offline = false;
      return {
        async open(url = process.env.CS_URL, { readyTimeout, beforeGoto } = {}) {
          const tab = await context.newPage();
          await beforeGoto?.(tab);
          await tab.setViewport(viewport);
          const page = new FirefoxPage(tab, downloads);
          pages.push(page);
          if (offline) await tab.setOfflineMode(true);
          await tab.goto(url);
          await page.ready(readyTimeout);
          return page;
        },
        async setOffline(on) {
          offline = on;
          await Promise.all(pages.map((p) => p.page.setOfflineMode(on)));
        },
        close: () => context.close(),
      };
    },
    close: () => browser.close(),
  };
}

export const BROWSERS = { chromium: chromiumDriver, firefox: firefoxDriver };
