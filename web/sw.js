/* sw.js: the service worker that keeps cellsight working with the network off.

   On install it caches every file of the site; web/build.mjs writes their list
   and a hash of their contents into PRECACHE below. From then on it answers
   from that cache first. A new build has a new hash, hence a new sw.js, which
   the browser installs in place of the old one and whose cache replaces the
   old cache. */
"use strict";

const PRECACHE = {"version":"dev","files":[]}; // written by web/build.mjs
const CACHE = `cellsight-${PRECACHE.version}`;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // "reload": straight from the server, not from the browser's HTTP cache.
    await cache.addAll(PRECACHE.files.map((file) => new Request(file, { cache: "reload" })));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys())
      if (key.startsWith("cellsight-") && key !== CACHE) await caches.delete(key);
  })());
  // Claimed, not waited on: Firefox can leave a worker whose activate step
  // waits on its claim "activating" for good, and every request of the page
  // waiting with it (about 1 first visit in 10).
  self.clients.claim().catch(() => {});
});

self.addEventListener("fetch", (event) => {
  if (event.request.method !== "GET") return;
  event.respondWith((async () => {
    const hit = await caches.match(event.request, { cacheName: CACHE, ignoreSearch: true });
    return hit || fetch(event.request);
  })());
});
