/* wasm.h: what apps/wasm's files share. The page's worker reads one error,
   csw_error(), whichever call failed: every call that can fail returns 0 or
   NULL and leaves its message here. */
#ifndef CELLSIGHT_WASM_H
#define CELLSIGHT_WASM_H

#include "cellsight.h"

extern cs_error csw_last_error;

#endif
