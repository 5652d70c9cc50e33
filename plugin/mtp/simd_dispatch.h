// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs MTP core: run-time selection of an AVX2 code path on x86-64 ELF
   targets (GCC/Clang function multiversioning). Elsewhere (aarch64, macOS)
   the attribute is empty and the portable code is compiled once. Results
   are bit-identical either way: FMA contraction is not enabled.
------------------------------------------------------------------------- */

#ifndef EIPGS_MTP_SIMD_DISPATCH_H
#define EIPGS_MTP_SIMD_DISPATCH_H

#if defined(__x86_64__) && defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#define EIPGS_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define EIPGS_AVX2_CLONES
#endif

#endif
