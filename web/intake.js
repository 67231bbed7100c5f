/* intake.js: files into the page: dropped (folders walked), picked, a
   picked folder, pasted; which of them are images by the core's rule for
   names; a .safetensors file to the model picker. */
import { $, byName } from "./dom.js";
import { engine } from "./engine.js";
import { loadUserModel } from "./models.js";
import { enqueue, noteSkipped } from "./queue.js";

// Files from a drop: folders are walked (DataTransfer entries), passing over
// hidden entries in them as the CLI's folder walk does. A file's name has a
// "/" if it was met in a folder, and none if it was dropped as such.
export async function droppedFiles(dataTransfer) {
  const entries = Array.from(dataTransfer.items || [])
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (!entries.length || entries.some((entry) => !entry))
    return Array.from(dataTransfer.files, (file) => ({ file, name: file.name }));
  const out = [];
  const walk = async (entry, inFolder) => {
    if (inFolder && entry.name.startsWith(".")) return;
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      out.push({ file, name: entry.fullPath.replace(/^\//, "") });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child, true);
      }
    }
  };
  for (const entry of entries) await walk(entry, false);
  return out;
}

// Which files are images by their names ("a/b.jpg": b.jpg's): the core's one
// rule (cs_image_name), which the CLI's folder walk and data sets follow too,
// asked of the worker, which answers once its module is ready.
// Resolves with {images, skipped}.
export async function byImageName(files) {
  if (!files.length) return { images: [], skipped: [] };
  const { images } = await engine.call("imageNames", { names: files.map((f) => f.name) });
  return { images: files.filter((_, i) => images[i]), skipped: files.filter((_, i) => !images[i]) };
}

// What was skipped, as the CLI says it ("skipped notes.txt: not an image file
// (by its name)"), naming a few; "" if nothing was.
export function skippedNote(skipped) {
  if (!skipped.length) return "";
  const names = skipped.map((f) => f.name).sort(byName);
  const few = names.slice(0, 3).join(", ");
  const more = skipped.length > 3 ? ` and ${skipped.length - 3} more` : "";
  return skipped.length === 1 ? `Skipped ${few}: not an image file (by its name).`
    : `Skipped ${few}${more}: not image files (by their names).`;
}

// Files given as such: a .safetensors one goes to the model picker, any other
// to the classifier, tried whatever its name as the CLI tries a file named on
// its command line. Of those met in a folder, as the CLI's folder walk, only
// the images by their names; the rest, a .safetensors file too, are named in a
// note (a folder of images with a model beside them classifies the images).
async function accept(files) {
  const images = [], inFolders = [];
  let skipped;
  for (const f of files) {
    if (f.name.includes("/")) inFolders.push(f);
    else if (/\.safetensors$/i.test(f.name)) await loadUserModel(f.file);
    else images.push(f);
  }
  try {
    const named = await byImageName(inFolders);
    images.push(...named.images);
    skipped = skippedNote(named.skipped) + (named.skipped.some((f) => /\.safetensors$/i.test(f.name))
      ? " A model file is loaded when picked or dropped on its own." : "");
  } catch (e) {
    skipped = `The folder's files could not be looked through: ${e.message}`;
  }
  noteSkipped(skipped);
  images.sort((a, b) => byName(a.name, b.name));
  enqueue(images);
}

// Files picked, or the files of a picked folder (named "folder/..."), less
// hidden entries inside it, as droppedFiles.
export function fromInput(input) {
  const files = Array.from(input.files)
    .map((file) => ({ file, name: file.webkitRelativePath || file.name }))
    .filter(({ name }) => !name.split("/").slice(1).some((part) => part.startsWith(".")));
  input.value = "";
  return files;
}

// Drops anywhere on the page, pastes, and the file pickers.
export function wireIntake() {
  const zone = $("drop-zone");
  let depth = 0; // dragenter/dragleave pairs, children included
  document.addEventListener("dragenter", (e) => {
    e.preventDefault();
    depth++;
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (e) => e.preventDefault());
  // Anywhere on the page: a stray drop must not navigate away from the results.
  document.addEventListener("drop", async (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    accept(await droppedFiles(e.dataTransfer));
  });
  document.addEventListener("paste", (e) => {
    const files = Array.from(e.clipboardData ? e.clipboardData.files : []);
    if (!files.length) return;
    e.preventDefault();
    const stamp = new Date().toLocaleTimeString("en-GB").replace(/:/g, "-");
    const name = (file, i) =>
      `pasted-${stamp}${files.length > 1 ? `-${i + 1}` : ""}.${file.type.split("/")[1] || "png"}`;
    accept(files.map((file, i) => ({ file, name: name(file, i) })));
  });
  $("file-input").addEventListener("change", (e) => accept(fromInput(e.target)));
  $("folder-input").addEventListener("change", (e) => accept(fromInput(e.target)));
  $("model-file").addEventListener("change", (e) => {
    const [file] = e.target.files;
    e.target.value = "";
    if (file) loadUserModel(file);
  });
}
