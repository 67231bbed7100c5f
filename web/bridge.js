/* bridge.js: the worker's side of the WASM module's C API (apps/wasm/*.c):
   bytes and strings into its heap, its one error channel (csw_error) and its
   one callback (Module.onEvent), the core's limits on images, and the images
   only the browser decodes. */

// The message of the call that failed last, whichever it was.
export const lastError = (M) => M.UTF8ToString(M._csw_error());

// Runs fn (which calls into the module; it may be async) with the module's
// events going to handlers[kind], kind one of EVENT; others are ignored. A
// progress handler's true return cancels the work under way. Requests run one
// at a time, so one handler set at a time is enough.
export async function withEvents(M, handlers, fn) {
  M.onEvent = (kind, payload) => (handlers[kind] ? handlers[kind](payload) : false);
  try {
    return await fn();
  } finally {
    M.onEvent = null;
  }
}

// Copies bytes into the module's heap; the caller frees the pointer. In the
// pthread build, through the memory itself: another thread may have grown it
// since M.HEAPU8 was made (the single-thread build exports no wasmMemory).
export function toHeap(M, bytes) {
  const ptr = M._malloc(Math.max(bytes.length, 1)) >>> 0;
  if (!ptr) throw new Error(`not enough memory for ${M.UTF8ToString(M._csw_mib(bytes.length))}`);
  (M.wasmMemory ? new Uint8Array(M.wasmMemory.buffer) : M.HEAPU8).set(bytes, ptr);
  return ptr;
}

// A NUL-terminated UTF-8 copy of s in the heap; the caller frees it.
export const cString = (M, s) => toHeap(M, new TextEncoder().encode(`${s}\0`));

// text (a file, class or model name) as a cell of the page's CSVs, by the
// core's one rule (cs_csv_field: quoted as needed, and a ' before a text a
// spreadsheet would run as a formula), as the CLI writes it.
export function csvCell(M, text) {
  const ptr = cString(M, text);
  const cell = M._csw_csv_field(ptr) >>> 0;
  M._free(ptr);
  if (!cell) throw new Error(lastError(M));
  const out = M.UTF8ToString(cell);
  M._free(cell);
  return out;
}

// The formats the module decodes (the CLI's: stb's, and TIFF by libtiff, classic
// or BigTIFF); anything else may still be one the browser knows (WebP, AVIF), but
// a broken JPEG or TIFF is reported, never patched up by a more forgiving decoder
// into numbers the CLI would not give.
export function isCoreFormat(b) {
  const starts = (...sig) => sig.every((v, i) => b[i] === v);
  return starts(0xff, 0xd8, 0xff) || starts(0x89, 0x50, 0x4e, 0x47) ||
    starts(0x47, 0x49, 0x46, 0x38) || starts(0x42, 0x4d) ||
    (b[0] === 0x50 && (b[1] === 0x35 || b[1] === 0x36)) ||
    starts(0x49, 0x49, 0x2a, 0) || starts(0x4d, 0x4d, 0, 0x2a) ||
    starts(0x49, 0x49, 0x2b, 0) || starts(0x4d, 0x4d, 0, 0x2b);
}

// Throws the core's message (cs_image_check, as the CLI words it) unless a file
// of `bytes` (-1: not known) and an image of w x h (0: not known) are within
// the limits. A width over 2^31 must not wrap to a negative int on its way in.
export function checkImage(M, bytes, w = 0, h = 0) {
  const int = (v) => Math.min(v, 0x7fffffff);
  if (!M._csw_image_check(bytes, int(w), int(h))) throw new Error(lastError(M));
}

// An image file's bytes, read only once its size is known to be within the
// limit: a 5 GB file dropped by mistake is refused, not copied into memory.
export async function readImage(M, file) {
  checkImage(M, file.size);
  return new Uint8Array(await file.arrayBuffer());
}

// Width and height from the header of the formats only the browser decodes for
// us, WebP (VP8, VP8L, VP8X) and AVIF/HEIF (the largest 'ispe' of meta/iprp/
// ipco), without decoding anything; null for another format or a header cut short.
function browserImageSize(b) {
  const tag = (i) => String.fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3]);
  const u32be = (i) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  const u24le = (i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
  if (b.length >= 30 && tag(0) === "RIFF" && tag(8) === "WEBP") {
    if (tag(12) === "VP8X") return { width: 1 + u24le(24), height: 1 + u24le(27) };
    if (tag(12) === "VP8 ") return { width: (b[26] | (b[27] << 8)) & 0x3fff, height: (b[28] | (b[29] << 8)) & 0x3fff };
    if (tag(12) === "VP8L" && b[20] === 0x2f) {
      const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
    }
    return null;
  }
  if (b.length < 12 || tag(4) !== "ftyp") return null;
  let largest = null;
  const boxes = (start, end) => {
    for (let i = start; i + 8 <= end;) {
      let size = u32be(i), header = 8;
      if (size === 1 && i + 16 <= end) (size = u32be(i + 8) * 2 ** 32 + u32be(i + 12)), (header = 16);
      else if (size === 0) size = end - i;
      if (size < header) return;
      const type = tag(i + 4), inner = Math.min(i + size, end);
      if (type === "meta") boxes(i + header + 4, inner); // a full box: version and flags first
      else if (type === "iprp" || type === "ipco") boxes(i + header, inner);
      else if (type === "ispe" && i + header + 12 <= end) {
        const width = u32be(i + header + 4), height = u32be(i + header + 8);
        if (!largest || width * height > largest.width * largest.height) largest = { width, height };
      }
      i += size;
    }
  };
  boxes(0, b.length);
  return largest;
}

// RGBA pixels of a file the core cannot read (coreMessage says why), decoded by the
// browser if it can. The size is checked against the core's limits first: from
// the header for WebP and AVIF, before anything is decoded, and for any other
// format from the decoded bitmap, before a canvas of 4 bytes a pixel is made.
export async function browserPixels(M, blob, bytes, coreMessage) {
  const header = browserImageSize(bytes);
  if (header) checkImage(M, -1, header.width, header.height);
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  } catch {
    throw new Error(`${coreMessage}, nor one this browser can decode`);
  }
  try {
    checkImage(M, -1, bitmap.width, bitmap.height);
  } catch (e) {
    bitmap.close();
    throw e;
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}
