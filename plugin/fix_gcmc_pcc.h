// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs: fix gcmc/pcc -- grand-canonical Monte Carlo filling of a periodic
   cell around a frozen core (periodic configuration construction,
   doc/design/pcc.md §2, §12). Insertion anywhere in the box, deletion and
   translation of inserted atoms, full-energy acceptance with the current
   pair style, a saturation stop like fix halt.
------------------------------------------------------------------------- */

#ifndef EIPGS_FIX_GCMC_PCC_H
#define EIPGS_FIX_GCMC_PCC_H

#include "fix.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace LAMMPS_NS {
class Compute;
}

namespace EIPGS {

class Random;

class FixGcmcPcc : public LAMMPS_NS::Fix {
 public:
  FixGcmcPcc(LAMMPS_NS::LAMMPS *, int, char **);
  ~FixGcmcPcc() override;
  int setmask() override;
  void init() override;
  void pre_exchange() override;
  void post_run() override;
  double compute_vector(int) override;

 private:
  // positional arguments
  int nevery_mc, ntrials, itype;
  std::uint64_t seed;
  double temperature, mu;
  // keywords
  int coregroup, corebit;
  int centergroup, centerbit;
  double center_radius;
  double overlap_dmin;
  LAMMPS_NS::bigint max_atoms;
  LAMMPS_NS::bigint saturate_k;
  double displace, translate_fraction;

  std::unique_ptr<Random> random;    // identical stream on every rank (doc/design/plugin.md §9.6)
  LAMMPS_NS::Compute *c_pe;

  // thermodynamics (doc/design/plugin.md §9.3)
  double beta, zz, sigma_v, volume;

  double energy_stored;
  LAMMPS_NS::bigint ngas;    // inserted atoms: fix group, type itype, not core

  // statistics, cumulative over the fix's lifetime
  double ninsert_attempts, ninsert_successes;
  double ndelete_attempts, ndelete_successes;
  double ntranslate_attempts, ntranslate_successes;
  double pe_per_atom;

  // saturation state, reset when a run starts its first Monte Carlo cycle
  bool fresh_run;
  int saturated;
  LAMMPS_NS::bigint rejected_in_row, attempts_since_growth, ngas_max;

  void attempt_insertion();
  void attempt_deletion();
  void attempt_translation();
  double energy_full();
  void reneighbor_all();
  bool is_candidate(int i) const;
  LAMMPS_NS::bigint count_candidates() const;
  LAMMPS_NS::tagint pick_candidate();
  bool position_allowed(const double *xtrial, LAMMPS_NS::tagint skip) const;
  void remove_atom_by_tag(LAMMPS_NS::tagint tag);
  void remove_local(int i);
  void after_natoms_change();
  bool accept(double log_probability);
};

}    // namespace EIPGS

#endif
