/* simd.js: whether this browser runs WebAssembly SIMD, which the main build
   of the module needs; browsers without it get cellsight-web-nosimd.js, the
   same C compiled to scalar code (slower; docs/speed.md). */

// The smallest module with a SIMD opcode: (func (result v128) i32.const 0 i8x16.splat).
export const PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
  10, 8, 1, 6, 0, 65, 0, 253, 15, 11]);

export const hasSimd = () => WebAssembly.validate(PROBE);
