// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs numerical core (no LAMMPS headers): the MTP of an MLIP-3 .almtp
   file and the parameter gradient b_i = dV_i/dtheta of one site energy.
   Math and file format: doc/design/mtp.md §1-§2.
------------------------------------------------------------------------- */

#ifndef EIPGS_MTP_POTENTIAL_H
#define EIPGS_MTP_POTENTIAL_H

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

namespace EIPGS {

// Every problem with an .almtp file (format, counts, values, mode) is reported with this type;
// the message names the file and says what is wrong.
class AlmtpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The MTP text part (doc/design/mtp.md §1.1), with the derived layout of theta (§1.4).
struct MtpPotential {
  int species_count = 0;           // C
  int radial_basis_size = 0;       // R
  int radial_funcs_count = 0;      // K
  double scaling = 1.0;            // global scaling times the optional basis scaling (§1.2)
  double min_dist = 0.0;           // R_min
  double max_dist = 0.0;           // R_cut
  bool repulsive = false;          // RBChebyshev_repuls: r clamped to R_min
  std::vector<int> species_labels;              // labels of the s1-s2 headers, first appearance
  std::vector<double> radial_coeffs;            // [C][C][K][R], file order
  int alpha_moments_count = 0;                  // N_mom
  std::vector<std::array<int, 4>> alpha_index_basic;    // {mu, a, b, c}
  std::vector<std::array<int, 4>> alpha_index_times;    // {i0, i1, mult, i3}
  std::vector<int> alpha_moment_mapping;                // N_lin
  std::vector<double> species_coeffs;                   // C
  std::vector<double> moment_coeffs;                    // N_lin

  int basic_count() const { return (int) alpha_index_basic.size(); }
  int scalar_moments() const { return (int) alpha_moment_mapping.size(); }
  int radial_param_count() const
  {
    return species_count * species_count * radial_funcs_count * radial_basis_size;
  }
  // m = C^2 K R + C + N_lin (§1.4): the length of b and the active-set size.
  int param_count() const { return radial_param_count() + species_count + scalar_moments(); }
  double cutoff() const { return max_dist; }
};

// Parses the text part of an .almtp/.mtp (everything before the first '#') and validates it.
// `source` names the file in error messages.
MtpPotential parse_mtp_text(const std::string &text, const std::string &source);

// Evaluates one neighbourhood: site energy V_i and the row b_i in MLIP-3's parameter order.
// Holds its work buffers, so one evaluator per thread/fix; no allocation per atom once warm.
class MtpEvaluator {
 public:
  explicit MtpEvaluator(const MtpPotential &potential);

  int param_count() const { return m_; }
  double cutoff() const { return rcut_; }

  // tc: species index of the central atom; n neighbours with displacements rij[3*j..3*j+2]
  // (position of j minus position of i) and species indices sp[j]. Neighbours with r >= R_cut
  // are ignored (strict r < R_cut, §1.2). The sum runs over neighbours in the given order, so
  // callers that need bit-identical results across decompositions pass a canonical order.
  // Writes b[0..m-1] (§2) and returns V_i (§1.3).
  double row(int tc, int n, const double *rij, const int *sp, double *b);

  // Site energy only (forward pass), e.g. for finite-difference checks.
  double energy(int tc, int n, const double *rij, const int *sp);

  // Radial basis Q_beta(r), beta = 0..R-1 (§1.2); exposed for unit tests.
  void radial_basis(double r, double *q) const;

 private:
  double forward(int tc, int n, const double *rij, const int *sp);
  void reserve(int n);

  MtpPotential pot_;
  int C_, K_, R_, nbasic_, nmom_, nlin_, m_, nang_;
  double rcut_, rmin_, scale_;
  std::vector<int> mu_, ang_;                   // per basic moment: mu and its angular factor
  std::vector<int> ang_parent_, ang_axis_;      // angular factor = parent factor * unit[axis]
  std::vector<int> t0_, t1_, t3_;               // alpha_index_times split for a tight loop
  std::vector<double> tmult_;
  std::vector<int> run_start_;                  // runs of alpha_index_times with one target
  // Work buffers, grown on demand and reused (per-atom allocation would dominate the cost).
  // Per-neighbour arrays are [component][neighbour] with row stride cap_.
  int cap_ = 0;
  std::vector<double> x_;        // [3][cap] displacements, then unit vectors, of used neighbours
  std::vector<double> r_;        // [cap]
  std::vector<int> nsp_;         // [cap] species of each used neighbour
  std::vector<double> q_;        // [R][cap] radial basis
  std::vector<double> f_;        // [K][cap] radial functions
  std::vector<double> ua_;       // [n_angular][cap] distinct factors x^a y^b z^c / r^(a+b+c)
  std::vector<double> gmu_;      // [K][cap] G[mu][j] (and scratch)
  std::vector<double> moments_;  // N_mom
  std::vector<double> adj_;      // N_mom adjoint g = dV/dM
  int nused_ = 0;
};

}    // namespace EIPGS

#endif
