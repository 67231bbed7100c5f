# Toolchain for clang --target=wasm32-wasi with Debian's wasi-libc
# (apt-get install wasi-libc libclang-rt-14-dev-wasm32 lld-14).
set(CMAKE_SYSTEM_NAME WASI)
set(CMAKE_SYSTEM_PROCESSOR wasm32)
# CMake has no platform file for WASI: ours is cmake/Platform/WASI.cmake.
if(NOT "${CMAKE_CURRENT_LIST_DIR}" IN_LIST CMAKE_MODULE_PATH)
  list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
endif()
set(CMAKE_C_COMPILER clang)
set(CMAKE_C_COMPILER_TARGET wasm32-wasi)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_CROSSCOMPILING_EMULATOR node ${CMAKE_CURRENT_LIST_DIR}/../tools/wasi-run.mjs)
# node:wasi keeps the module's memory as it was at start and misses memory.grow
# (nodejs/node#51303): a program that grows its heap may crash node with
# SIGSEGV at exit. Start with 1 GiB (only the pages touched are ever committed)
# so that no test or training run needs to grow.
# The stack: 8 MiB as the Emscripten builds have (-sTOTAL_STACK), not wasm-ld's 64 KiB,
# which decoding a PNG inside a test's frames overflowed, silently, into static data.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,--initial-memory=1073741824 -Wl,-z,stack-size=8388608")
