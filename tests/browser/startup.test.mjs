/* A page worker whose module never starts is replaced (web/engine.js): Firefox
   now and then never starts one. Here the first worker's script never
   arrives; the page gets ready all the same, on the second worker, and says
   why it took longer in the console.

   Run by tests/stage_browser.sh (CS_URL). */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { BROWSERS } from "./drivers.mjs";

let browser;
before(async () => (browser = await BROWSERS.chromium()));
after(async () => browser?.close());

test("chromium: a worker that never starts is replaced, and the page gets ready", async () => {
  const session = await browser.session();
  const console = [];
  let requests = 0;
  try {
    const page = await session.open(process.env.CS_URL, {
      readyTimeout: 60_000,
      beforeGoto: async (raw) => {
        raw.on("console", (m) => console.push(m.text()));
        await raw.route(/\/worker\.js(\?|$)/, (route) => {
          if (++requests > 1) route.continue(); // the first is never answered
        });
      },
    });
    assert.ok(requests >= 1, "the first worker's script was held back");
    assert.ok(console.some((t) => /the engine did not start in 10 s: starting it again/.test(t)), console.join("\n"));
    assert.notEqual(await page.evaluate(() => document.getElementById("model-summary").textContent), "");
    assert.deepEqual(page.problems, []);
  } finally {
    await session.close();
  }
});
