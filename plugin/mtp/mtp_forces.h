// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs numerical core (no LAMMPS headers): MTP site energies and their
   positional derivatives dV_i/dr_ij, for pair_style mtp.
   Math: doc/design/mtp.md §1.2-§1.3 (forward), §2 (adjoint sweep).
------------------------------------------------------------------------- */

#ifndef EIPGS_MTP_FORCES_H
#define EIPGS_MTP_FORCES_H

#include "mtp_potential.h"

#include <string>
#include <vector>

namespace EIPGS {

// The MTP of an .mtp or .almtp file given as bytes: only the text part (everything before the
// first '#') is read, so a plain .mtp, an .almtp in either selection mode and a file whose
// active set is damaged all give the same potential. Throws AlmtpError naming `source`.
MtpPotential parse_mtp_potential(const std::string &bytes, const std::string &source);

// Site energy V_i and its gradient with respect to every neighbour displacement, by one forward
// pass and one reverse (adjoint) sweep through the moment contractions:
//   g = dV/dM for all moments (reverse sweep of alpha_index_times),
//   dV/dr_j = sum_k g_k d/dr_j [ f_{mu_k}(r_j) U_k(r_j) ]   over the basic moments k.
// The last sum is regrouped per angular factor and per radial function, so the cost per
// neighbour is O(N_basic + K R + n_angular), never a forward derivative per basis function.
// One instance per thread; work buffers are reused, no allocation per atom once warm.
class MtpForceEvaluator {
 public:
  explicit MtpForceEvaluator(const MtpPotential &potential);

  double cutoff() const { return rcut_; }
  const MtpPotential &potential() const { return pot_; }

  // tc: species of the centre; n neighbours with displacements rij[3j..3j+2] (neighbour minus
  // centre) and species sp[j]. Neighbours with r >= R_cut are ignored (strict, §1.2) and get a
  // zero gradient. Writes dv[3j..3j+2] = dV_i/d rij_j and returns V_i.
  double site(int tc, int n, const double *rij, const int *sp, double *dv);

  // V_i only (forward pass), e.g. for finite differences.
  double energy(int tc, int n, const double *rij, const int *sp);

 private:
  double forward(int tc, int n, const double *rij, const int *sp, bool derivatives);
  void reserve(int n);

  MtpPotential pot_;
  int C_, K_, R_, nbasic_, nmom_, nlin_, nang_;
  double rcut_, rmin_, scale_;
  std::vector<int> mu_, ang_;            // per basic moment: radial function and angular factor
  std::vector<int> ang_parent_, ang_axis_;    // factor = parent factor * unit[axis]
  std::vector<int> ang_exp_;             // [3 * q]: exponents a, b, c of factor q
  std::vector<int> ang_dec_;             // [3 * q]: factor with that exponent lowered by one, or -1
  std::vector<int> t0_, t1_, t3_;
  std::vector<double> tmult_;
  std::vector<double> seed_;             // dV/dM from the linear part (constant)

  // Work buffers, [component][neighbour] with row stride cap_.
  int cap_ = 0, nused_ = 0;
  std::vector<int> idx_;                 // [cap] input index of each used neighbour
  std::vector<double> x_;                // [3][cap] unit vectors
  std::vector<double> r_;                // [cap]
  std::vector<double> q_, dq_;           // [R][cap] radial basis and d/dr
  std::vector<double> f_, df_;           // [K][cap] radial functions and d/dr
  std::vector<double> ua_;               // [n_angular][cap]
  std::vector<double> h_;                // [n_angular][cap] sum_{k: ang_k = q} g_k f_{mu_k}
  std::vector<double> gm_;               // [K][cap] sum_{k: mu_k = mu} g_k U_k
  std::vector<double> moments_, adj_;    // N_mom
  std::vector<int> species_start_;       // [C+1] first used neighbour of each species
  std::vector<int> fill_;                // [C] scratch for the grouping
};

}    // namespace EIPGS

#endif
