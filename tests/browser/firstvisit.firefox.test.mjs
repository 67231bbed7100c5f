/* The served page's first visit, 20 times over in Firefox ESR, each in fresh
   storage (no service worker yet): ready every time. A service worker that
   waited on clients.claim() inside its activate step left Firefox's worker
   "activating" and the page's requests waiting forever, on about 1 first
   visit in 10. And Firefox now and then never starts the page worker's
   module (about 1 first visit in 40 on a busy machine), a worker the page
   replaces after 10 s (web/engine.js; tests/browser/startup.test.mjs).

   Run by tests/stage_browser.sh (CS_URL, CS_OUT). */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { BROWSERS } from "./drivers.mjs";

const VISITS = 20;
let browser;
before(async () => (browser = await BROWSERS.firefox()));
after(async () => browser?.close());

test(`firefox: the served page is ready on each of ${VISITS} first visits`, async () => {
  const failed = [];
  for (let visit = 1; visit <= VISITS; visit++) {
    const session = await browser.session();
    try {
      const page = await session.open(process.env.CS_URL, { readyTimeout: 20_000 });
      // The worker installed and in control: the next visit would be offline-ready.
      await page.waitFor(() => navigator.serviceWorker.controller !== null, undefined, 20_000);
    } catch (e) {
      failed.push(`visit ${visit}: ${e.message.split("\n")[0]}`);
    } finally {
      await session.close();
    }
  }
  assert.deepEqual(failed, [], `${failed.length} of ${VISITS} first visits never became ready`);
});
