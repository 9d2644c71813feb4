// tests/guests/dir_watch.c as a component (through the Preview 1 adapter): a
// component's WASI directories are not revoked with the epoch
// (docs/decisions/0007), and this shows it.
#define WEFT_CELL_IMPLEMENTATION
#include "weft_cell.h"
#include "../../guests/dir_watch.c"
