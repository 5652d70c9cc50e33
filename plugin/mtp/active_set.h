// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs numerical core (no LAMMPS headers): the active set of an .almtp
   file, grades gamma = max_j |(b A^-1)_j| and MaxVol row swaps.
   Math and format: doc/design/mtp.md §3-§5.
------------------------------------------------------------------------- */

#ifndef EIPGS_ACTIVE_SET_H
#define EIPGS_ACTIVE_SET_H

#include "mtp_potential.h"

#include <string>
#include <utility>
#include <vector>

namespace EIPGS {

// The selection state of an .almtp: A (m x m, row-major), S = (A^-1)^T (row-major), the link
// table, the weights, plus the verbatim text part and configuration part so the file can be
// written back after swaps (§4).
class ActiveSet {
 public:
  ActiveSet() = default;
  // A fresh state from given matrices (row-major m x m each); no text or configuration part.
  ActiveSet(int m, std::vector<double> a, std::vector<double> s);

  int size() const { return m_; }
  const double *a() const { return a_.data(); }
  const double *s() const { return s_.data(); }
  double a_at(int i, int j) const { return a_[(size_t) i * m_ + j]; }
  double s_at(int i, int j) const { return s_[(size_t) i * m_ + j]; }

  // gamma = max_j |c_j| with c = S b (§3.1). Bit-identical to the batched grades() for the
  // same row: both go through the same kernel with the same summation order.
  double grade(const double *row) const;
  // gammas of nrows rows stored with leading dimension ld (>= m), written to out[0..nrows-1].
  // Blocked like a GEMM (Gamma = B S^T) so S streams through the cache once per block of rows.
  void grades(int nrows, const double *rows, int ld, double *out) const;
  // c = S b (length m).
  void coefficients(const double *row, double *c) const;
  // Index j0 = argmax_j |c_j| (first on ties) and its value c_j0.
  std::pair<int, double> max_coefficient(const double *row) const;

  // MaxVol step (§5): replace row j0 = argmax |c| of A by `row` and update S with the
  // Sherman-Morrison rank-1 formula S <- S - (S v) (x) S[j0,:] / c_j0, v = row - A[j0]; |det A|
  // grows by |c_j0|. The link of row j0 becomes (cfg_index, eqn_index). Returns j0.
  // Throws AlmtpError if c_j0 is 0 (the row lies in the span of the others: no swap possible).
  int swap_in(const double *row, int cfg_index = -1, int eqn_index = -1);
  // Same, only if max |c| > threshold (MaxVol tau, e.g. 1.001); returns -1 when nothing swapped.
  int swap_in_if_above(const double *row, double threshold, int cfg_index = -1, int eqn_index = -1);
  // S recomputed from A by Gauss-Jordan with partial pivoting (numerical hygiene after many
  // swaps, §5); A stays exact.
  void reinvert();
  // max |A S^T - I| (§4 validation).
  double identity_error() const;
  // log |det A| changes by log|c_j0| at each swap; tracked since load.
  double log_det_change() const { return log_det_change_; }

  // File metadata (§4).
  double energy_weight = 0.0, force_weight = 0.0, stress_weight = 0.0, site_en_weight = 0.0;
  int weight_scaling = 2;
  std::vector<std::pair<int, int>> links;    // m entries (cfg_index, eqn_index), -1 -1 = unfilled
  std::string text_part;                     // bytes before the first '#', verbatim
  std::string configurations;                // bytes after the '#' that ends the link table
  int configuration_count() const;           // number of BEGIN_CFG in `configurations`
  int unfilled_rows() const;

  // Writes an .almtp: the original text part, the current selection block, the configuration
  // part as read. Throws AlmtpError on I/O failure.
  void write_almtp(const std::string &path) const;

 private:
  void build_padded();
  void update_padded_rows();

  int m_ = 0;
  std::vector<double> a_, s_;
  // S^T padded to ld_ columns (a multiple of the kernel width) for the GEMM kernel:
  // st_[k * ld_ + j] = S[j][k]; columns j >= m are zero.
  std::vector<double> st_;
  int ld_ = 0;
  mutable std::vector<double> zero_;    // padding row for incomplete tiles
  double log_det_change_ = 0.0;
};

// The whole .almtp: the MTP and its active set.
struct Almtp {
  MtpPotential potential;
  ActiveSet active_set;
  std::string path;
};

// Reads and validates an .almtp (§1, §4). `max_identity_error` bounds max |A S^T - I|.
// Refuses cfg-mode active sets (§3.2: per-atom grades need site_en_weight != 0).
Almtp read_almtp(const std::string &path, double max_identity_error = 1e-4);
// Same from bytes already in memory (`source` names them in messages).
Almtp parse_almtp(const std::string &bytes, const std::string &source,
                  double max_identity_error = 1e-4);

}    // namespace EIPGS

#endif
