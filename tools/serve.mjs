#!/usr/bin/env node
/* tools/serve.mjs: a small static file server for dist/ (node only, no npm).

   node tools/serve.mjs [--root dist] [--port 8080]   (--port 0: any free port)

   Listens on 127.0.0.1 only and prints "serving DIR on URL" once it listens.
   Sends COOP/COEP so that the page is cross-origin isolated (WASM threads need
   SharedArrayBuffer), and no-cache so that a new build is seen at once. */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    root: { type: "string", default: path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist") },
    port: { type: "string", default: "8080" },
  },
});
const root = path.resolve(opts.root);

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".bmp": "image/bmp",
  ".webp": "image/webp",
  ".md": "text/markdown; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

const HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-cache",
};

function send(res, status, text) {
  res.writeHead(status, { ...HEADERS, "Content-Type": "text/plain; charset=utf-8" });
  res.end(`${text}\n`);
}

const server = http.createServer((req, res) => {
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "method not allowed");
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, "http://localhost").pathname);
  } catch {
    return send(res, 400, "bad request");
  }
  if (pathname.endsWith("/")) pathname += "index.html";
  const file = path.join(root, pathname);
  if (!file.startsWith(root + path.sep)) return send(res, 403, "forbidden");
  fs.stat(file, (err, stat) => {
    if (err || !stat.isFile()) return send(res, 404, `not found: ${pathname}`);
    res.writeHead(200, {
      ...HEADERS,
      "Content-Type": TYPES[path.extname(file).toLowerCase()] || "application/octet-stream",
      "Content-Length": stat.size,
      "Last-Modified": stat.mtime.toUTCString(),
    });
    if (req.method === "HEAD") return res.end();
    fs.createReadStream(file).pipe(res);
  });
});

server.on("error", (e) => {
  console.error(`tools/serve: ${e.code === "EADDRINUSE" ? `port ${opts.port} is in use: try --port N` : e.message}`);
  process.exit(1);
});
server.listen(Number(opts.port), "127.0.0.1", () => {
  console.log(`serving ${root} on http://127.0.0.1:${server.address().port}/`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
