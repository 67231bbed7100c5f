# cs_link_tiff(TARGET VARIANT): links libtiff (and zlib, for Deflate) to TARGET.
# VARIANT native: Debian's libtiff-dev. Otherwise (wasm, wasm-mt, wasi, fuzz): the static
# libraries tools/build_deps builds from Debian's source packages into the cache folder,
# $CS_DEPS_CACHE or ~/.cache/cellsight, the same place it writes them.
set(CS_DEPS_CACHE "$ENV{CS_DEPS_CACHE}" CACHE PATH "tools/build_deps's output folder")
if(NOT CS_DEPS_CACHE)
  set(CS_DEPS_CACHE "$ENV{HOME}/.cache/cellsight")
endif()

function(cs_link_tiff target variant)
  if(variant STREQUAL "native")
    find_package(TIFF REQUIRED)
    target_link_libraries(${target} PUBLIC TIFF::TIFF)
    return()
  endif()
  set(dir ${CS_DEPS_CACHE}/${variant})
  if(NOT EXISTS ${dir}/lib/libtiff.a OR NOT EXISTS ${dir}/lib/libz.a)
    message(FATAL_ERROR "${dir}/lib/libtiff.a is missing: run tools/build_deps ${variant} "
      "(tools/setup --web and --test do)")
  endif()
  target_include_directories(${target} SYSTEM PUBLIC ${dir}/include)
  target_link_libraries(${target} PUBLIC ${dir}/lib/libtiff.a ${dir}/lib/libz.a)
endfunction()
