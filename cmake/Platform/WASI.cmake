# Platform/WASI: what CMake should know of CMAKE_SYSTEM_NAME WASI (wasm32-wasi
# with wasi-libc), which it has no file for; without one it warns "System is
# unknown to cmake". cmake/wasi.cmake puts this folder on CMAKE_MODULE_PATH.
# Programs are single static .wasm modules: no shared libraries, no rpath.
set(WASI 1)
set(CMAKE_EXECUTABLE_SUFFIX .wasm)
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set_property(GLOBAL PROPERTY TARGET_SUPPORTS_SHARED_LIBS FALSE)
