#!/usr/bin/env node
// wasi-run.mjs: runs a WASI command module (e.g. build/wasi/cellsight.wasm)
// under node's node:wasi with the whole file system preopened as "/", the
// arguments and environment passed through, and its exit code as ours (134
// if it traps).
//   node tools/wasi-run.mjs program.wasm [args...]
// WASI has no current folder: wasi-libc resolves relative paths against "/"
// until the program calls chdir(getenv("PWD")), so PWD is set to ours.
import { readFile } from 'node:fs/promises';
import process from 'node:process';

process.removeAllListeners('warning'); // node:wasi's "experimental feature" notice
const { WASI } = await import('node:wasi');

const [wasmPath, ...args] = process.argv.slice(2);
if (!wasmPath) {
  console.error('usage: node tools/wasi-run.mjs program.wasm [args...]');
  process.exit(2);
}
const wasi = new WASI({
  version: 'preview1',
  args: [wasmPath, ...args],
  env: { ...process.env, PWD: process.cwd() },
  preopens: { '/': '/' },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
// Exit at once: node 20 can crash in its own teardown after a long WASI run.
// A trap (abort(), a bad memory access) is a crash: 134 as a native SIGABRT,
// never 1, which means bad input.
let code;
try {
  code = wasi.start(instance);
} catch (e) {
  if (!(e instanceof WebAssembly.RuntimeError)) throw e;
  console.error(`${wasmPath} crashed: ${e.stack}`);
  code = 134;
}
process.exit(code);
