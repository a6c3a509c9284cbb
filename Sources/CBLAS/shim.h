#ifndef PIPPS_CBLAS_SHIM_H
#define PIPPS_CBLAS_SHIM_H
// Debian's OpenBLAS (pthread variant); pkg-config `openblas` puts its include directory first, so this
// is OpenBLAS's cblas.h with openblas_set_num_threads.
#include <cblas.h>
#endif
