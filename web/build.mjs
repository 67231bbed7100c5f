#!/usr/bin/env node
/* web/build.mjs: assembles the static site around the WASM module.

   node web/build.mjs --module build/wasm/web/cellsight-web.js [--out dist] [--models model]

   The output folder gets the page (index.html, style.css, finetune.css, and
   app.js with the ES modules it imports), worker.js (the worker's modules
   bundled into one classic script, which importScripts the module), the
   module, its build without SIMD (cellsight-web-nosimd.js, beside it), its
   pthread variant (cellsight-web-mt.js + .worker.js) when built beside it, the models (*.safetensors of --models) and the sample images of
   web/samples, assets.json listing those two (with the models' cards), sw.js with the list of files to
   cache for offline use and the build's hash (also written into build-id.js, for the page and the
   worker), and cellsight.html: the whole page in one file, every
   script, style, model and sample inlined, that works opened from file:// with
   no server (the file a lab copies onto a USB stick), where ES modules cannot
   load: its scripts are bundled too. No npm dependencies. */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values: opts } = parseArgs({
  options: {
    module: { type: "string" },
    out: { type: "string", default: path.join(root, "dist") },
    models: { type: "string", default: path.join(root, "model") },
  },
});
if (!opts.module) {
  console.error("usage: node web/build.mjs --module cellsight-web.js [--out DIR] [--models DIR]");
  process.exit(2);
}

const STATIC = ["index.html", "style.css", "finetune.css"];
const DEFAULT_MODEL = "t47d-vs-mdamb231.safetensors";
const IMAGE = /\.(jpe?g|png|bmp|gif|pgm|ppm|tga|webp)$/i;
const out = path.resolve(opts.out);
if (fs.existsSync(path.join(out, ".git")) || out === root) throw new Error(`refusing to empty ${out}`);

const read = (file) => fs.readFileSync(file);
const write = (file, data) => {
  fs.mkdirSync(path.dirname(path.join(out, file)), { recursive: true });
  fs.writeFileSync(path.join(out, file), data);
};
const listDir = (dir, pattern) =>
  fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => pattern.test(f)).sort() : [];

// What the page shows of a model before it loads one: its classes and role
// (metadata), and the model picker's label naming them; a base (role "base",
// the Teach panel's default start) is a classifier too, and its label says so.
function modelFacts(file) {
  const name = path.basename(file, ".safetensors");
  let classes = [], role = "";
  try {
    const bytes = read(file);
    const meta = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString()).__metadata__ || {};
    classes = (meta.classes || "").split(",").filter(Boolean);
    role = meta.role || "";
  } catch {
    // the page's loader gives the real error when someone picks it
  }
  const lines = classes.length > 4 ? `${classes.length} cell lines` : classes.join(" vs ");
  const label = `${name}${lines ? `: ${lines}` : ""}${role === "base" ? " (base for fine-tuning)" : ""}`;
  return { name: label, classes, role };
}

/* A small bundler for web/'s ES modules, for the scripts that cannot be
   modules: the worker (importScripts, which loads the Emscripten module, works
   in classic workers only) and the page opened from file://. The modules use
   two forms only: `import { a, b as c } from "./x.js";` and `export` before a
   declaration. Each module imported runs once, in dependency order, in a
   function that returns its exports; the entry's code is the script's own. */
function parseModule(file) {
  let body = read(path.join(root, "web", file)).toString();
  const imports = [], exports = [];
  body = body.replace(/^import\s*\{([^}]*)\}\s*from\s*"\.\/([\w.-]+\.js)";[ \t]*\n/gm, (_, names, from) => {
    imports.push({ names: names.trim().replace(/\s+as\s+/g, ": "), file: from });
    return "";
  });
  body = body.replace(/^export\s+((?:async\s+)?(?:function|class|const|let)\s+([\w$]+))/gm, (_, declaration, name) => {
    exports.push(name);
    return declaration;
  });
  const left = body.match(/^\s*(import|export)\b.*$/m);
  if (left) throw new Error(`web/${file}: the bundler cannot take "${left[0].trim()}"`);
  return { imports, exports, body };
}

// The modules file imports, directly or not, in an order that runs each after
// those it imports, file last.
function moduleOrder(file, order = [], visiting = new Set()) {
  if (order.includes(file)) return order;
  if (visiting.has(file)) throw new Error(`web/${file} imports itself through ${[...visiting].join(", ")}`);
  visiting.add(file);
  for (const dep of parseModule(file).imports) moduleOrder(dep.file, order, visiting);
  visiting.delete(file);
  order.push(file);
  return order;
}

function bundleModules(entry) {
  const name = (file) => `module_${file.replace(/\W/g, "_")}`;
  const parts = moduleOrder(entry).map((file) => {
    const { imports, exports, body } = parseModule(file);
    const code = imports.map((i) => `const { ${i.names} } = ${name(i.file)};\n`).join("") + body;
    return file === entry ? `// web/${file}\n${code}`
      : `// web/${file}\nconst ${name(file)} = (() => {\n${code}return { ${exports.join(", ")} };\n})();\n`;
  });
  return `"use strict";\n${parts.join("\n")}`;
}

// The page's modules as they are, for a served page; the worker bundled.
const PAGE = [...STATIC, ...moduleOrder("app.js"), "worker.js"];
fs.rmSync(out, { recursive: true, force: true });
for (const file of PAGE) write(file, file === "worker.js" ? bundleModules(file) : read(path.join(root, "web", file)));
write("cellsight-web.js", read(opts.module));
// The pthread variant beside the module (web/CMakeLists.txt), which worker.js
// picks on a cross-origin-isolated page; cellsight.html keeps the single thread.
const threaded = ["cellsight-web-mt.js", "cellsight-web-mt.worker.js"];
const threadedFiles = threaded.every((f) => fs.existsSync(path.join(path.dirname(opts.module), f))) ? threaded : [];
for (const file of threadedFiles) write(file, read(path.join(path.dirname(opts.module), file)));
// The build without SIMD, for browsers that lack it (worker.js and engine.js pick it).
const NOSIMD = "cellsight-web-nosimd.js";
const noSimd = path.join(path.dirname(opts.module), NOSIMD);
if (!fs.existsSync(noSimd)) throw new Error(`${noSimd} is missing: build the target cellsight-web-nosimd`);
write(NOSIMD, read(noSimd));

// Each model's card (model/<name>.md) goes along as text, for the page to show.
const cardOf = (file) => {
  const card = path.join(opts.models, file.replace(/\.safetensors$/, ".md"));
  return fs.existsSync(card) ? read(card).toString() : "";
};
const models = listDir(opts.models, /\.safetensors$/).map((file) => ({
  file: `model/${file}`, ...modelFacts(path.join(opts.models, file)), default: false,
  card: cardOf(file),
}));
const byDefault = models.find((m) => m.file === `model/${DEFAULT_MODEL}`) || models[0];
if (byDefault) byDefault.default = true;
for (const m of models) write(m.file, read(path.join(opts.models, path.basename(m.file))));

const samplesDir = path.join(root, "web", "samples");
const samples = listDir(samplesDir, IMAGE).map((file) => ({ file: `samples/${file}`, name: file }));
for (const s of samples) write(s.file, read(path.join(samplesDir, s.name)));
// The samples' attribution, shown on the page: their README (Markdown as plain
// text: paragraphs kept, marks dropped).
const creditFile = listDir(samplesDir, /^(readme|attribution|credits?)(\.(md|txt))?$/i)[0];
const credit = creditFile
  ? read(path.join(samplesDir, creditFile)).toString()
    .replace(/^#.*$/gm, "").replace(/`/g, "").trim().split(/\n\s*\n/)
    .map((paragraph) => paragraph.replace(/\n(?!- )/g, " ").replace(/ +/g, " ")).join("\n\n")
  : "";

const assets = { models, samples, credit };
write("assets.json", JSON.stringify(assets, null, 2) + "\n");

// sw.js caches every file above; the hash of their contents names the cache.
const cached = ["assets.json", "cellsight-web.js", NOSIMD, ...threadedFiles, ...PAGE, ...models.map((m) => m.file),
  ...samples.map((s) => s.file)];
const hash = crypto.createHash("sha256");
for (const file of cached) hash.update(file).update(read(path.join(out, file)));
const precache = { version: hash.digest("hex").slice(0, 16), files: ["./", ...cached] };
// The hash is the build's name: in build-id.js, for the page and (bundled) the
// worker, which load each other's files by it (?build=, sw.js) and compare it.
const BUILD_PLACEHOLDER = 'const BUILD = "dev";';
const stamp = (code, file) => {
  if (!code.includes(BUILD_PLACEHOLDER)) throw new Error(`${file} has lost web/build-id.js's ${BUILD_PLACEHOLDER}`);
  return code.replace(BUILD_PLACEHOLDER, () => `const BUILD = ${JSON.stringify(precache.version)};`);
};
for (const file of ["build-id.js", "worker.js"]) write(file, stamp(read(path.join(out, file)).toString(), file));
const swTemplate = read(path.join(root, "web", "sw.js")).toString();
const placeholder = '{"version":"dev","files":[]}';
if (!swTemplate.includes(placeholder)) throw new Error("web/sw.js has lost its PRECACHE placeholder");
write("sw.js", swTemplate.replace(placeholder, JSON.stringify(precache)));

// cellsight.html: the page with everything inlined, app.js bundled. The worker runs from a blob
// of the module (with or without SIMD) followed by worker.js; files are base64 in CELLSIGHT_BUNDLE.
function inline(tag, text, file) {
  if (text.toLowerCase().includes(`</${tag}`)) throw new Error(`${file} contains </${tag}>, which would end the inlined block`);
  return text;
}
const text = (file) => read(path.join(out, file)).toString();
const bundle = {
  module: text("cellsight-web.js"),
  moduleNoSimd: text(NOSIMD),
  worker: text("worker.js"),
  assets,
  files: Object.fromEntries([...models, ...samples].map((a) => [a.file, read(path.join(out, a.file)).toString("base64")])),
};
const bundleJson = JSON.stringify(bundle).replace(/</g, "\\u003c");
let html = text("index.html");
const swap = (from, to) => {
  if (!html.includes(from)) throw new Error(`index.html no longer contains ${from}`);
  html = html.replace(from, () => to);
};
swap('<link rel="stylesheet" href="style.css">', `<style>\n${inline("style", text("style.css"), "style.css")}</style>`);
swap('<link rel="stylesheet" href="finetune.css">',
  `<style>\n${inline("style", text("finetune.css"), "finetune.css")}</style>`);
swap('<script type="module" src="app.js"></script>',
  `<script>self.CELLSIGHT_BUNDLE = ${bundleJson};</script>\n` +
  `<script>\n${inline("script", stamp(bundleModules("app.js"), "app.js's bundle"), "app.js's bundle")}</script>`);
write("cellsight.html", html);

const size = (file) => `${(fs.statSync(path.join(out, file)).size / 1024).toFixed(0)} KiB`;
console.log(`web/build.mjs: ${out}: ${models.length} model(s), ${samples.length} sample(s), ` +
  `cellsight-web.js ${size("cellsight-web.js")}, ${NOSIMD} ${size(NOSIMD)}, ` +
  (threadedFiles.length ? `cellsight-web-mt.js ${size("cellsight-web-mt.js")}, ` : "no pthread build, ") +
  `cellsight.html ${size("cellsight.html")}`);
