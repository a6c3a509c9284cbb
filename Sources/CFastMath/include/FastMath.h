#ifndef PIPPS_FAST_MATH_H
#define PIPPS_FAST_MATH_H

#include <stddef.h>

/// e^x for every element of `values`, in place: the algorithm of LinearAlgebra's `fastExp`
/// (range reduction by ln 2, a degree-13 Taylor polynomial, 2^k from the exponent bits; inputs
/// clamped to [-708, 709], NaN kept). On x86-64 CPUs with AVX2 and FMA four lanes at a time with
/// fused multiply-adds (within 4e-16 of the exact value, as tested; not bit-identical to the portable form);
/// elsewhere a portable loop whose results equal the scalar `fastExp` bit for bit.
void pipps_exp_inplace(double *values, size_t count);

/// The portable loop, whatever the CPU (tests compare the two).
void pipps_exp_inplace_portable(double *values, size_t count);

/// Which loop `pipps_exp_inplace` uses: "avx2-fma" or "portable". The environment variable
/// PIPPS_EXP_KERNEL=portable forces the portable loop (so that the exponentials, though not
/// OpenBLAS, which also picks its kernels per CPU, repeat bit for bit across CPUs); it is read once, at the first call.
const char *pipps_exp_kernel(void);

#endif
