#ifndef PIPPS_CLAPACKE_SHIM_H
#define PIPPS_CLAPACKE_SHIM_H
// Complex numbers as plain structs: Swift does not import C's `double _Complex`.
#define LAPACK_COMPLEX_STRUCTURE
#include <lapacke.h>
#endif
