// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs: fix mtp/grade -- MLIP-3-compatible per-atom extrapolation grades
   of a moment tensor potential (.almtp with an nbh-mode active set),
   evaluated every N steps while any other pair style drives the dynamics.

   fix ID group-ID mtp/grade N file.almtp [species s1 ... sNtypes]
                                          [select gs] [break gb] [error yes|no]

   Math: doc/design/mtp.md; LAMMPS mechanics: doc/design/plugin.md §4, §5, §7.
   User documentation: doc/fix_mtp_grade.md.
------------------------------------------------------------------------- */

#ifndef EIPGS_FIX_MTP_GRADE_H
#define EIPGS_FIX_MTP_GRADE_H

#include "fix.h"

#include "mtp/active_set.h"
#include "mtp/mtp_potential.h"

#include <memory>
#include <string>
#include <vector>

namespace EIPGS {

class FixMtpGrade : public LAMMPS_NS::Fix {
 public:
  FixMtpGrade(LAMMPS_NS::LAMMPS *, int, char **);
  ~FixMtpGrade() override;
  int setmask() override;
  void init() override;
  void init_list(int, LAMMPS_NS::NeighList *) override;
  void setup(int) override;
  void end_of_step() override;
  void post_run() override;
  double compute_scalar() override;
  double compute_vector(int) override;
  double memory_usage() override;

  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  void set_arrays(int) override;
  int pack_exchange(int, double *) override;
  int unpack_exchange(int, double *) override;

  // ------------------------------------------------------------------ public C++ API
  // For other styles of this plugin (fix cluster/sample). Find the fix with
  // modify->get_fix_by_id(id) and check strcmp(fix->style, "mtp/grade") == 0 before the cast.

  // The MTP cutoff R_cut (Angstrom): neighbours with r < R_cut enter a row.
  double mtp_cutoff() const { return potential.cutoff(); }
  // The active set used for grading (A, S = (A^-1)^T, links, write_almtp()). Callers that swap
  // rows in (ActiveSet::swap_in) must do the identical swaps on every MPI rank, then call
  // regrade() so that f_ID and the global outputs refer to the new active set.
  ActiveSet &active_set() { return aset; }
  // MTP species index (0-based) of LAMMPS atom type `type` (1..ntypes), -1 if excluded (NULL).
  int species_of_type(int type) const { return type_species[type]; }
  // Parameter count m = length of a row.
  int row_length() const { return potential.param_count(); }
  // The row b_i = dV_i/dtheta (length row_length()) of local atom `ilocal`, computed from this
  // fix's neighbour list. Valid on steps on which the grades were evaluated (setup and
  // multiples of N), until atoms move. Returns false (row untouched) if the atom's type is
  // excluded or ilocal is not a local atom. Local operation, no communication.
  bool neighbourhood_row(int ilocal, double *row);
  // Re-evaluates all grades (f_ID and the global outputs) against the current active set (the
  // occasional neighbour list is rebuilt for the current coordinates); the break threshold is not
  // applied. Collective: call on all ranks, e.g. after identical swaps on every rank.
  void regrade();
  // Keep the rows of the graded atoms from each evaluation, so that regrade() on the same step
  // only recomputes gamma = max |S b| from them instead of rebuilding the neighbour list and every
  // row (rows depend on positions only, which cannot change within a step: the grades are
  // bit-identical). Costs m doubles per graded local atom; fix cluster/sample asks for it when it
  // swaps rows in (update_active yes).
  void keep_rows_for_regrade() { keep_rows = true; }
  // Path of the .almtp file as given in the fix command.
  const char *almtp_path() const { return path.c_str(); }

 private:
  void evaluate(bool apply_break);
  int gather_neighbours(int i);
  void report_nonfinite(LAMMPS_NS::bigint count, LAMMPS_NS::tagint first, LAMMPS_NS::tagint partner);

  std::string path;
  MtpPotential potential;
  ActiveSet aset;
  std::unique_ptr<MtpEvaluator> evaluator;
  std::vector<int> type_species;    // [ntypes + 1], -1 = excluded
  double select_threshold, break_threshold;
  int break_error;
  double cutoff_mtp;
  LAMMPS_NS::NeighList *list;

  double *gamma;    // per-atom output (vector_atom)
  double max_gamma;
  double count_selected, count_graded;
  double max_tag;
  bool forced_timeout;
  bool evaluated;
  LAMMPS_NS::bigint evaluated_step;    // step of the last evaluation: rows are valid only on it

  // Run statistics for the summary line.
  long long n_evaluations, n_graded_total;
  long long n_nonfinite_total;    // grades that were NaN/inf (reported as inf), this run
  bool nonfinite_warned;
  double run_max_gamma, run_max_tag;
  LAMMPS_NS::bigint run_max_step;
  double time_spent;

  // Per-atom work buffers, reused.
  std::vector<double> nb_rij;
  std::vector<int> nb_species;
  std::vector<int> nb_order;
  int nb_overlap = -1;    // gather_neighbours: a neighbour at distance 0 (local index), or -1
  std::vector<double> nb_tmp;
  std::vector<double> batch_rows;
  std::vector<double> batch_gamma;
  std::vector<int> batch_atoms;

  // Rows kept for regrade() (keep_rows_for_regrade): kept_atoms[k] is the local index whose row is
  // kept_rows[k*m ...]; overlapping atoms (graded inf, no row) in kept_inf with their partner's tag.
  bool keep_rows = false;
  LAMMPS_NS::bigint kept_step = -1;
  int kept_nlocal = -1;
  std::vector<double> kept_rows;
  std::vector<int> kept_atoms;
  std::vector<std::pair<int, LAMMPS_NS::tagint>> kept_inf;
};

}    // namespace EIPGS

#endif
