#include "FastMath.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Compiled with -ffp-contract=off (Package.swift): the portable form must not fuse multiply-adds,
// so that it rounds exactly as the Swift scalar fastExp does.

static const double magic = 6755399441055744.0;  // 1.5 * 2^52: adding and subtracting it rounds to an integer

static inline double exp_one(double x) {
    double y = x < -708.0 ? -708.0 : (x > 709.0 ? 709.0 : x);
    double shifted = y * 1.4426950408889634 + magic;
    double k = shifted - magic;
    double r = (y - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800;
    p = p * r + 1.0 / 479001600;
    p = p * r + 1.0 / 39916800;
    p = p * r + 1.0 / 3628800;
    p = p * r + 1.0 / 362880;
    p = p * r + 1.0 / 40320;
    p = p * r + 1.0 / 5040;
    p = p * r + 1.0 / 720;
    p = p * r + 1.0 / 120;
    p = p * r + 1.0 / 24;
    p = p * r + 1.0 / 6;
    p = p * r + 0.5;
    p = p * r + 1;
    p = p * r + 1;
    uint64_t s, m;
    memcpy(&s, &shifted, sizeof s);
    memcpy(&m, &magic, sizeof m);
    uint64_t bits = ((s - m) + 1023) << 52;  // low bits of `shifted` hold k, |k| <= 1023
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    double result = p * scale;
    return x != x ? x : result;
}

void pipps_exp_inplace_portable(double *values, size_t count) {
    for (size_t i = 0; i < count; i++) values[i] = exp_one(values[i]);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
static void exp_avx2(double *values, size_t count) {
    const __m256d low = _mm256_set1_pd(-708.0), high = _mm256_set1_pd(709.0), shift = _mm256_set1_pd(magic);
    const __m256d log2e = _mm256_set1_pd(1.4426950408889634);
    const __m256d ln2high = _mm256_set1_pd(6.93147180369123816490e-01), ln2low = _mm256_set1_pd(1.90821492927058770002e-10);
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        __m256d x = _mm256_loadu_pd(values + i);
        // max(x, low) with x first: a NaN lane gives `low` here and is restored below.
        __m256d y = _mm256_min_pd(_mm256_max_pd(x, low), high);
        __m256d shifted = _mm256_fmadd_pd(y, log2e, shift);
        __m256d k = _mm256_sub_pd(shifted, shift);
        __m256d r = _mm256_fnmadd_pd(k, ln2low, _mm256_fnmadd_pd(k, ln2high, y));
        __m256d p = _mm256_set1_pd(1.0 / 6227020800);
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 479001600));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 39916800));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 3628800));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 362880));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 40320));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 5040));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 720));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 120));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 24));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 6));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.5));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
        __m256i kbits = _mm256_sub_epi64(_mm256_castpd_si256(shifted), _mm256_castpd_si256(shift));
        __m256i bits = _mm256_slli_epi64(_mm256_add_epi64(kbits, _mm256_set1_epi64x(1023)), 52);
        __m256d result = _mm256_mul_pd(p, _mm256_castsi256_pd(bits));
        __m256d isNaN = _mm256_cmp_pd(x, x, _CMP_UNORD_Q);
        _mm256_storeu_pd(values + i, _mm256_blendv_pd(result, x, isNaN));
    }
    pipps_exp_inplace_portable(values + i, count - i);
}
#endif

typedef void (*exp_loop)(double *, size_t);

static exp_loop choose(void) {
    const char *forced = getenv("PIPPS_EXP_KERNEL");
    if (forced && strcmp(forced, "portable") == 0) return pipps_exp_inplace_portable;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return exp_avx2;
#endif
    return pipps_exp_inplace_portable;
}

// Chosen once; a race at the first call only makes two threads choose the same loop.
static _Atomic(exp_loop) chosen = NULL;

static exp_loop loop(void) {
    exp_loop f = chosen;
    if (!f) {
        f = choose();
        chosen = f;
    }
    return f;
}

void pipps_exp_inplace(double *values, size_t count) { loop()(values, count); }

const char *pipps_exp_kernel(void) {
#if defined(__x86_64__)
    if (loop() == exp_avx2) return "avx2-fma";
#endif
    return "portable";
}
