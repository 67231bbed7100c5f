/* build-id.js: which build of the page this is. web/build.mjs writes the hash
   of the build's files in place of "dev", into the page's copy and into the
   worker's bundle, so that the page asks its service worker for the worker
   and the module of its own build (sw.js), and knows a worker of another
   build when it meets one. */
export const BUILD = "dev";

// A URL of this build's copy of file, which sw.js answers from this build's cache.
export const buildUrl = (file) => `${file}?build=${BUILD}`;
