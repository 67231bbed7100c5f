/* sw.js: the service worker that keeps cellsight working with the network off.

   On install it caches every file of the site; web/build.mjs writes their list
   and a hash of their contents (the build's name, as web/build-id.js has it)
   into PRECACHE below. From then on it answers from that cache first. A new
   build has a new hash, hence a new sw.js, which the browser installs beside
   the old one, with a cache of its own, and leaves waiting while pages of the
   old build are open: they go on loading their own build's files (a page asks
   for its worker and module with ?build=, answered from that build's cache),
   never a mix of two builds. The page offers "A new version is ready: reload"
   (web/update.js), whose button tells the new one to take over ("activate"),
   and its cache then replaces the old cache. */
"use strict";

const PRECACHE = {"version":"dev","files":[]}; // written by web/build.mjs
const CACHE = `cellsight-${PRECACHE.version}`;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // "reload": straight from the server, not from the browser's HTTP cache.
    await cache.addAll(PRECACHE.files.map((file) => new Request(file, { cache: "reload" })));
    // The first build takes over at once: no page of another build to keep whole, and Firefox
    // took about 2 s longer a first visit (and once never got ready) without it. A later one
    // waits for "activate".
    if (!self.registration.active) await self.skipWaiting();
  })());
});

self.addEventListener("message", (event) => {
  if (event.data === "activate") self.skipWaiting();
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
    const build = new URL(event.request.url).searchParams.get("build");
    const cacheName = build ? `cellsight-${build}` : CACHE;
    const hit = await caches.match(event.request, { cacheName, ignoreSearch: true });
    return hit || fetch(event.request);
  })());
});
