/* engine.js: the page's side of its Web Worker (worker.js), which owns the
   WASM module: requests as promises, progress, cancelling; and the shipped
   files (models, samples), fetched or, in the self-contained cellsight.html,
   read from the bundle. */

import { buildUrl } from "./build-id.js";
import { hasSimd } from "./simd.js";

// Set by the self-contained cellsight.html: the worker's source, the module's
// two builds (with and without SIMD) to put before it, and the files (models,
// samples) that a served page fetches instead.
export const bundle = self.CELLSIGHT_BUNDLE || null;

// A fresh worker's module starts within STARTUP_MS (then twice, three times
// that), or the worker is replaced; it starts in 1-4 s on a busy 2-core machine.
const STARTUP_MS = 10_000, STARTUP_TRIES = 3;

export class Engine {
  constructor() {
    this.nextId = 1;
    this.pending = new Map();
    this.epoch = 0; // counts fresh workers: the models loaded in the one before are gone
    // Stops work under way; shared memory needs a cross-origin-isolated page.
    this.cancelFlag = self.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;
    this.startWorker();
  }

  // Firefox now and then never starts a fresh worker's module: the pthreads'
  // own workers are never even fetched (about 1 first visit in 40 on a busy
  // 2-core machine). So what is sent to a worker before it says "started" is
  // kept, and a worker silent for STARTUP_MS is replaced by a fresh one, sent
  // the same again; after STARTUP_TRIES workers the requests fail.
  startWorker(tries = 1) {
    this.stopWatchdog();
    this.starting = [];
    this.tries = tries;
    this.watchdog = setTimeout(() => this.replaceSilent(), STARTUP_MS * tries);
    this.worker = bundle
      ? new Worker(URL.createObjectURL(new Blob([hasSimd() ? bundle.module : bundle.moduleNoSimd, "\n", bundle.worker],
        { type: "text/javascript" })))
      : new Worker(buildUrl("worker.js"));
    this.worker.onmessage = ({ data }) => {
      if (data.type === "started") {
        this.stopWatchdog();
        this.starting = null;
        return;
      }
      const call = this.pending.get(data.id);
      if (!call) return;
      if (data.type === "progress") {
        if (call.onProgress) call.onProgress(data.done, data.total, data);
        return;
      }
      this.pending.delete(data.id);
      if (data.type === "error") call.reject(new Error(data.message));
      else call.resolve(data);
    };
    this.worker.onerror = (event) => this.failAll(new Error(`the worker failed: ${event.message || "unknown error"}`));
  }

  stopWatchdog() {
    clearTimeout(this.watchdog);
    this.watchdog = null;
  }

  replaceSilent() {
    const seconds = (STARTUP_MS * this.tries) / 1000, resend = this.starting;
    this.worker.terminate();
    if (this.tries >= STARTUP_TRIES) {
      this.starting = this.watchdog = null;
      this.dead = new Error(`the engine did not start in ${seconds} s: reload the page`);
      this.failAll(this.dead);
      return;
    }
    console.warn(`cellsight: the engine did not start in ${seconds} s: starting it again`);
    this.startWorker(this.tries + 1);
    for (const message of resend) this.post(message);
  }

  failAll(error) {
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }

  // Stops the request under way and every one after it until resume(): through
  // the shared flag where the page has shared memory; else (file://) by ending
  // the worker, whose requests fail with message, and starting a fresh one.
  cancel(message) {
    if (this.cancelFlag) Atomics.store(this.cancelFlag, 0, 1);
    else this.restart(message);
  }

  restart(message) {
    this.worker.terminate();
    this.failAll(new Error(message));
    this.epoch++;
    this.startWorker();
    this.call("init", { cancelFlag: null }).catch(() => {}); // a failure shows on the next request
  }

  resume() {
    if (this.cancelFlag) Atomics.store(this.cancelFlag, 0, 0);
  }

  // Resolves with the worker's "done" message, rejects with its error.
  call(type, args = {}, { onProgress = null } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.dead) return reject(this.dead);
      this.pending.set(id, { resolve, reject, onProgress });
      this.post({ id, type, ...args });
    });
  }

  post(message) {
    this.starting?.push(message);
    this.worker.postMessage(message);
  }

  // Ends the worker and its module: a training's worker, to cancel it.
  terminate() {
    this.stopWatchdog();
    this.worker.terminate();
  }
}

// The page's one worker for classifying and everything else but training.
export const engine = new Engine();

// assets.json: {models: [{file, name, classes, role, default, card}], samples: [{file, name}], credit}; each of
// this page's build (sw.js).
export const assets = {
  async list() {
    if (bundle) return bundle.assets;
    const response = await fetch(buildUrl("assets.json"));
    if (!response.ok) throw new Error(`assets.json: ${response.status} ${response.statusText}`);
    return response.json();
  },
  async bytes(file) {
    if (bundle) {
      const text = atob(bundle.files[file]);
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      return bytes.buffer;
    }
    const response = await fetch(buildUrl(file));
    if (!response.ok) throw new Error(`${file}: ${response.status} ${response.statusText}`);
    return response.arrayBuffer();
  },
};
