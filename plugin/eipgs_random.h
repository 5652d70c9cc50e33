// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs: a small header-only random number generator (xoshiro256** seeded
   through splitmix64). Our own, so that the plugin needs no private LAMMPS
   header (random_park.h; doc/design/plugin.md §10) and so that a stream seeded
   identically on every rank yields identical draws there (§9.6).
------------------------------------------------------------------------- */

#ifndef EIPGS_RANDOM_H
#define EIPGS_RANDOM_H

#include <cmath>
#include <cstdint>

namespace EIPGS {

class Random {
 public:
  explicit Random(std::uint64_t seed) { reseed(seed); }

  void reseed(std::uint64_t seed)
  {
    // splitmix64 expands one 64-bit seed into the 256-bit state; it never yields an all-zero
    // state, which xoshiro cannot leave.
    for (auto &word : s) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
    have_gauss = false;
  }

  std::uint64_t next()
  {
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }

  // uniform in [0, 1): the top 53 bits as a double mantissa
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // uniform integer in [0, n), n > 0 (Lemire-free modulo is fine: n is tiny against 2^64)
  std::uint64_t below(std::uint64_t n) { return next() % n; }

  // standard normal (Marsaglia polar method, second value cached)
  double gaussian()
  {
    if (have_gauss) {
      have_gauss = false;
      return cached;
    }
    double u, v, r2;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      r2 = u * u + v * v;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double f = std::sqrt(-2.0 * std::log(r2) / r2);
    cached = u * f;
    have_gauss = true;
    return v * f;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s[4];
  bool have_gauss = false;
  double cached = 0.0;
};

}    // namespace EIPGS

#endif
