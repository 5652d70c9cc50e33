// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs: pair_style mtp, a Moment Tensor Potential from an MLIP-3 .mtp or
   .almtp file (doc/pair_mtp.md).
------------------------------------------------------------------------- */

#ifndef EIPGS_PAIR_MTP_H
#define EIPGS_PAIR_MTP_H

#include "mtp/mtp_forces.h"

#include "pair.h"

#include <memory>
#include <string>
#include <vector>

namespace EIPGS {

class PairMtp : public LAMMPS_NS::Pair {
 public:
  PairMtp(LAMMPS_NS::LAMMPS *);
  ~PairMtp() override;

  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  int pack_reverse_comm(int, int, double *) override;
  void unpack_reverse_comm(int, int *, double *) override;
  double memory_usage() override;

 private:
  void allocate();
  void read_potential(const std::string &file);

  std::unique_ptr<MtpForceEvaluator> evaluator;
  std::string potential_file;
  std::vector<int> type_species;    // [ntypes + 1]: 0-based MTP species, -1 = NULL
  double cut_mtp = 0.0;

  // Per-centre neighbour buffers (reused).
  std::vector<double> nb_rij, nb_dv;
  std::vector<int> nb_species, nb_index;

  // newton_pair off: ghost contributions (force, per-atom virial, centroid virial) collected here
  // and summed onto their owners by our own reverse communication.
  std::vector<double> ghost_sum;
  int ghost_width = 0;
};

}    // namespace EIPGS

#endif
