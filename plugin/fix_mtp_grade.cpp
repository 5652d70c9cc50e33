// SPDX-License-Identifier: GPL-2.0-only
// fix mtp/grade: per-atom MLIP-3 extrapolation grades under any pair style (doc/fix_mtp_grade.md).

#include "fix_mtp_grade.h"

#include "ghost_cutoff.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "pair.h"
#include "platform.h"
#include "timer.h"
#include "update.h"
#include "utils.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

// neigh_request.h is not among the shipped headers; set_cutoff() is an exported, non-virtual
// method, so declaring just that member is enough to call it (doc/design/plugin.md §4).
namespace LAMMPS_NS {
class NeighRequest {
 public:
  void set_cutoff(double);
};
}    // namespace LAMMPS_NS

using namespace LAMMPS_NS;

namespace EIPGS {

namespace {
constexpr int BATCH = 32;    // rows graded together (Gamma = B S^T per block of rows)

// Reads the file on rank 0 and broadcasts its bytes, so a large .almtp is read once per job.
std::string read_file_everywhere(LAMMPS *lmp, const std::string &path)
{
  std::string bytes;
  long long len = -1;
  if (lmp->comm->me == 0) {
    std::ifstream f(path, std::ios::binary);
    if (platform::path_is_directory(path)) len = -2;
    else if (f) {
      std::ostringstream ss;
      ss << f.rdbuf();
      bytes = ss.str();
      len = (long long) bytes.size();
    }
  }
  MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, lmp->world);
  if (len == -2) lmp->error->all(FLERR, "Fix mtp/grade: '{}' is a directory, not an .almtp file", path);
  if (len < 0) lmp->error->all(FLERR, "Fix mtp/grade: cannot open .almtp file '{}'", path);
  bytes.resize((size_t) len);
  const size_t chunk = 1 << 30;
  for (size_t off = 0; off < (size_t) len; off += chunk)
    MPI_Bcast(&bytes[off], (int) std::min(chunk, (size_t) len - off), MPI_CHAR, 0, lmp->world);
  return bytes;
}
}    // namespace

FixMtpGrade::FixMtpGrade(LAMMPS *lmp, int narg, char **arg) :
    Fix(lmp, narg, arg), select_threshold(2.0), break_threshold(0.0), break_error(0),
    cutoff_mtp(0.0), list(nullptr), gamma(nullptr), max_gamma(0.0),
    count_selected(0.0), count_graded(0.0), max_tag(0.0), forced_timeout(false),
    evaluated(false), evaluated_step(-1), n_evaluations(0), n_graded_total(0),
    n_nonfinite_total(0), nonfinite_warned(false), run_max_gamma(0.0), run_max_tag(0.0),
    run_max_step(0), time_spent(0.0)
{
  if (narg < 5)
    error->all(FLERR, "Illegal fix mtp/grade command: expected 'fix ID group mtp/grade N "
                      "file.almtp [keyword value ...]'");
  if (!domain->box_exist)
    error->all(FLERR, "Fix mtp/grade command before simulation box is defined");
  if (!atom->tag_enable) error->all(FLERR, "Fix mtp/grade requires atom IDs (atom_modify id yes)");

  nevery = utils::inumeric(FLERR, arg[3], false, lmp);
  if (nevery <= 0) error->all(FLERR, "Fix mtp/grade: N must be > 0 (got {})", arg[3]);
  path = arg[4];

  // Outside the try: error->all throws a std::exception too, and catching it below would print
  // its message a second time inside another one.
  const std::string bytes = read_file_everywhere(lmp, path);
  try {
    Almtp file = parse_almtp(bytes, path);
    potential = std::move(file.potential);
    aset = std::move(file.active_set);
  } catch (AlmtpError &e) {
    error->all(FLERR, "Fix mtp/grade: {}", e.what());
  } catch (std::exception &e) {
    error->all(FLERR, "Fix mtp/grade: cannot load {}: {}", path, e.what());
  }
  evaluator = std::make_unique<MtpEvaluator>(potential);
  cutoff_mtp = potential.cutoff();
  const int C = potential.species_count;
  const int ntypes = atom->ntypes;

  type_species.assign(ntypes + 1, -1);
  bool species_given = false;
  auto is_keyword = [](const char *s) {
    return !strcmp(s, "species") || !strcmp(s, "select") || !strcmp(s, "break") ||
        !strcmp(s, "error");
  };
  int iarg = 5;
  while (iarg < narg) {
    if (strcmp(arg[iarg], "species") == 0) {
      int n = 0;
      while (iarg + 1 + n < narg && !is_keyword(arg[iarg + 1 + n])) n++;
      if (n != ntypes)
        error->all(FLERR,
                   "Fix mtp/grade: species needs one value per atom type: {} given, the system "
                   "has {} atom types",
                   n, ntypes);
      for (int t = 1; t <= ntypes; t++) {
        const char *v = arg[iarg + t];
        if (strcmp(v, "NULL") == 0) {
          type_species[t] = -1;
          continue;
        }
        int s = utils::inumeric(FLERR, v, false, lmp);
        if (s < 0 || s >= C)
          error->all(FLERR,
                     "Fix mtp/grade: species index {} for atom type {} is out of range: {} has "
                     "species_count {} (indices 0..{}, or NULL to exclude the type)",
                     s, t, path, C, C - 1);
        type_species[t] = s;
      }
      species_given = true;
      iarg += 1 + ntypes;
    } else if (strcmp(arg[iarg], "select") == 0) {
      if (iarg + 2 > narg) error->all(FLERR, "Fix mtp/grade: select needs a value");
      select_threshold = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (select_threshold < 0.0) error->all(FLERR, "Fix mtp/grade: select must be >= 0");
      iarg += 2;
    } else if (strcmp(arg[iarg], "break") == 0) {
      if (iarg + 2 > narg) error->all(FLERR, "Fix mtp/grade: break needs a value");
      break_threshold = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (break_threshold < 0.0) error->all(FLERR, "Fix mtp/grade: break must be >= 0 (0 = off)");
      iarg += 2;
    } else if (strcmp(arg[iarg], "error") == 0) {
      if (iarg + 2 > narg) error->all(FLERR, "Fix mtp/grade: error needs yes or no");
      break_error = utils::logical(FLERR, arg[iarg + 1], false, lmp);
      iarg += 2;
    } else {
      error->all(FLERR, "Fix mtp/grade: unknown keyword '{}' (expected species, select, break "
                        "or error)", arg[iarg]);
    }
  }
  if (!species_given) {
    if (ntypes > C)
      error->all(FLERR,
                 "Fix mtp/grade: atom type {} has no MTP species: {} has species_count {}; map "
                 "types with 'species s1 ... s{}' (NULL excludes a type)",
                 C + 1, path, C, ntypes);
    for (int t = 1; t <= ntypes; t++) type_species[t] = t - 1;
  }

  scalar_flag = 1;
  vector_flag = 1;
  size_vector = 4;
  extscalar = 0;
  extvector = 0;
  global_freq = 1;    // values persist between evaluations
  peratom_flag = 1;
  size_peratom_cols = 0;
  peratom_freq = 1;
  dynamic_group_allow = 1;
  maxexchange = 1;
  create_attribute = 1;    // atoms created during a run start with gamma = 0 (set_arrays)

  FixMtpGrade::grow_arrays(atom->nmax);
  atom->add_callback(Atom::GROW);
  for (int i = 0; i < atom->nlocal; i++) gamma[i] = 0.0;

  const int m = potential.param_count();
  batch_rows.assign((size_t) BATCH * m, 0.0);
  batch_gamma.assign(BATCH, 0.0);
  batch_atoms.assign(BATCH, 0);
}

FixMtpGrade::~FixMtpGrade()
{
  if (copymode) return;
  atom->delete_callback(id, Atom::GROW);
  memory->destroy(gamma);
}

int FixMtpGrade::setmask()
{
  return FixConst::END_OF_STEP | FixConst::POST_RUN;
}

void FixMtpGrade::init()
{
  if (neighbor->style == Neighbor::MULTI || neighbor->style == Neighbor::MULTI_OLD)
    error->all(FLERR, "Fix mtp/grade does not support neighbor style multi; use neighbor ... bin");

  // Ghost-range check (doc/design/plugin.md §4): the occasional full list reaches R_cut + skin, so
  // ghosts must exist that far.
  const double skin = neighbor->skin;
  const double need = cutoff_mtp + skin;
  const double cutghost = ghost_cutoff(lmp);
  if (need > cutghost)
    error->all(FLERR,
               "Fix mtp/grade: the MTP cutoff {} + neighbor skin {} = {} exceeds the "
               "communication cutoff {}{}; add 'comm_modify cutoff {}' before the run",
               cutoff_mtp, skin, need, cutghost,
               force->pair ? " (pair cutoff + skin)" : " (no pair style)", need);

  // Always our own cutoff: without it the list uses each type pair's pair cutoff + skin, and a
  // pair of types with a short (or zero) pair cutoff would silently lose MTP neighbours.
  auto *req = neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_OCCASIONAL);
  req->set_cutoff(need);
}

void FixMtpGrade::init_list(int, NeighList *ptr)
{
  list = ptr;
}

void FixMtpGrade::setup(int)
{
  n_evaluations = n_graded_total = n_nonfinite_total = 0;
  run_max_gamma = run_max_tag = 0.0;
  run_max_step = update->ntimestep;
  time_spent = 0.0;
  evaluate(true);
}

void FixMtpGrade::end_of_step()
{
  evaluate(true);
}

// Neighbours of local atom i with included species and r < R_cut, in a canonical order (sorted
// by displacement), so that the sums in the row do not depend on the order of the neighbour list
// and the grades are bit-identical for any number of MPI ranks. Returns their number.
int FixMtpGrade::gather_neighbours(int i)
{
  double **x = atom->x;
  const int *type = atom->type;
  const int jnum = list->numneigh[i];
  const int *jlist = list->firstneigh[i];
  const double rc2 = cutoff_mtp * cutoff_mtp;
  if ((int) nb_order.size() < jnum) {
    nb_order.resize(jnum);
    nb_tmp.resize(4 * (size_t) jnum);
    nb_rij.resize(3 * (size_t) jnum);
    nb_species.resize(jnum);
  }
  int n = 0;
  nb_overlap = -1;
  for (int jj = 0; jj < jnum; jj++) {
    const int j = jlist[jj] & NEIGHMASK;
    const int sj = type_species[type[j]];
    if (sj < 0) continue;
    const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
    const double r2 = dx * dx + dy * dy + dz * dz;
    if (!(r2 < rc2)) continue;
    // r = 0: the unit vector r_ij / r is 0/0 and the row is NaN. Remember the (smallest-id)
    // partner so the atom is graded +inf and the warning can name both atoms.
    if (r2 == 0.0 && (nb_overlap < 0 || atom->tag[j] < atom->tag[nb_overlap])) nb_overlap = j;
    double *t = &nb_tmp[4 * (size_t) n];
    t[0] = dx;
    t[1] = dy;
    t[2] = dz;
    t[3] = sj;
    nb_order[n] = n;
    n++;
  }
  const double *t = nb_tmp.data();
  std::sort(nb_order.begin(), nb_order.begin() + n, [t](int a, int b) {
    const double *p = t + 4 * (size_t) a, *q = t + 4 * (size_t) b;
    if (p[0] != q[0]) return p[0] < q[0];
    if (p[1] != q[1]) return p[1] < q[1];
    if (p[2] != q[2]) return p[2] < q[2];
    return p[3] < q[3];    // coincident atoms: species decides
  });
  for (int k = 0; k < n; k++) {
    const double *p = t + 4 * (size_t) nb_order[k];
    nb_rij[3 * k] = p[0];
    nb_rij[3 * k + 1] = p[1];
    nb_rij[3 * k + 2] = p[2];
    nb_species[k] = (int) p[3];
  }
  return n;
}

bool FixMtpGrade::neighbourhood_row(int ilocal, double *row)
{
  // the neighbour list is only current on the step it was built (atoms migrate and are sorted)
  if (!evaluated || evaluated_step != update->ntimestep || !list || ilocal < 0 || ilocal >= atom->nlocal)
    return false;
  const int tc = type_species[atom->type[ilocal]];
  if (tc < 0) return false;
  const int n = gather_neighbours(ilocal);
  evaluator->row(tc, n, nb_rij.data(), nb_species.data(), row);
  return true;
}

void FixMtpGrade::regrade()
{
  evaluate(false);
}

void FixMtpGrade::evaluate(bool apply_break)
{
  const double t0 = platform::walltime();
  // A regrade on the step of the last evaluation reuses its rows (same positions, same rows).
  // The decision is local, but every rank takes it the same way: all ranks evaluated on this step.
  const bool reuse = keep_rows && !apply_break && kept_step == update->ntimestep &&
      evaluated_step == update->ntimestep && kept_nlocal == atom->nlocal;
  if (!reuse) neighbor->build_one(list);
  evaluated = true;
  evaluated_step = update->ntimestep;

  const int nlocal = atom->nlocal;
  const int *mask = atom->mask;
  const int *type = atom->type;
  const tagint *tag = atom->tag;
  const int m = potential.param_count();
  for (int i = 0; i < nlocal; i++) gamma[i] = 0.0;

  double local_max = 0.0, local_selected = 0.0, local_graded = 0.0, local_nonfinite = 0.0;
  // First (smallest-id) atom with a non-finite grade and, if it sits on another atom, that atom.
  tagint bad_tag = MAXTAGINT, bad_partner = 0;
  auto record = [&](int i, double g, tagint partner) {
    gamma[i] = g;
    local_max = std::max(local_max, g);
    if (g > select_threshold) local_selected += 1.0;
    if (!std::isfinite(g)) {
      local_nonfinite += 1.0;
      if (tag[i] < bad_tag) {
        bad_tag = tag[i];
        bad_partner = partner;
      }
    }
  };
  int nb = 0;
  auto flush = [&]() {
    // grades() reports a row with NaN or inf entries as +inf (active_set.cpp, max_grade).
    aset.grades(nb, batch_rows.data(), m, batch_gamma.data());
    for (int r = 0; r < nb; r++) record(batch_atoms[r], batch_gamma[r], 0);
    nb = 0;
  };
  if (reuse) {
    for (const auto &[i, partner] : kept_inf) {
      local_graded += 1.0;
      record(i, HUGE_VAL, partner);
    }
    for (size_t k = 0; k < kept_atoms.size(); k++) {
      local_graded += 1.0;
      std::copy_n(&kept_rows[k * m], m, &batch_rows[(size_t) nb * m]);
      batch_atoms[nb++] = kept_atoms[k];
      if (nb == BATCH) flush();
    }
  } else {
    if (keep_rows) {
      kept_atoms.clear();
      kept_inf.clear();
      kept_step = update->ntimestep;
      kept_nlocal = nlocal;
    }
    const int inum = list->inum;
    const int *ilist = list->ilist;
    for (int ii = 0; ii < inum; ii++) {
      const int i = ilist[ii];
      if (i >= nlocal || !(mask[i] & groupbit)) continue;
      const int tc = type_species[type[i]];
      if (tc < 0) continue;
      const int n = gather_neighbours(i);
      local_graded += 1.0;
      if (nb_overlap >= 0) {
        // Coincident atoms: no MTP row exists (r = 0); as far outside the training data as it
        // gets, so graded +inf, above every select/break threshold.
        record(i, HUGE_VAL, tag[nb_overlap]);
        if (keep_rows) kept_inf.emplace_back(i, tag[nb_overlap]);
        continue;
      }
      double *row = &batch_rows[(size_t) nb * m];
      evaluator->row(tc, n, nb_rij.data(), nb_species.data(), row);
      if (keep_rows) {
        kept_atoms.push_back(i);
        kept_rows.resize(kept_atoms.size() * (size_t) m);
        std::copy_n(row, m, &kept_rows[(kept_atoms.size() - 1) * (size_t) m]);
      }
      batch_atoms[nb++] = i;
      if (nb == BATCH) flush();
    }
  }
  if (nb) flush();

  // Global outputs: max gamma, the smallest atom id that has it, counts (MPI-collective).
  double sums[3] = {local_selected, local_graded, local_nonfinite}, totals[3];
  MPI_Allreduce(&local_max, &max_gamma, 1, MPI_DOUBLE, MPI_MAX, world);
  MPI_Allreduce(sums, totals, 3, MPI_DOUBLE, MPI_SUM, world);
  count_selected = totals[0];
  count_graded = totals[1];
  if (totals[2] > 0.0) report_nonfinite((bigint) totals[2], bad_tag, bad_partner);
  tagint local_tag = MAXTAGINT, global_tag = 0;
  if (count_graded > 0.0) {
    for (int i = 0; i < nlocal; i++)
      if ((mask[i] & groupbit) && type_species[type[i]] >= 0 && gamma[i] == max_gamma)
        local_tag = std::min(local_tag, tag[i]);
    MPI_Allreduce(&local_tag, &global_tag, 1, MPI_LMP_TAGINT, MPI_MIN, world);
  }
  max_tag = (double) global_tag;

  n_evaluations++;
  n_graded_total += (long long) count_graded;
  n_nonfinite_total += (long long) totals[2];
  if (max_gamma > run_max_gamma) {
    run_max_gamma = max_gamma;
    run_max_tag = max_tag;
    run_max_step = update->ntimestep;
  }
  time_spent += platform::walltime() - t0;

  // Break (doc/design/mtp.md §7, doc/design/plugin.md §7): the decision uses MPI-reduced values, so every
  // rank takes the same branch; error->all and force_timeout() are then called on all ranks.
  if (apply_break && break_threshold > 0.0 && max_gamma > break_threshold) {
    const std::string msg = fmt::format(
        "Fix mtp/grade {}: extrapolation grade {:.6f} of atom {} exceeds break {} on step {}",
        id, max_gamma, global_tag, break_threshold, update->ntimestep);
    if (break_error) error->all(FLERR, msg);
    if (comm->me == 0) utils::logmesg(lmp, msg + "; stopping the run\n");
    timer->force_timeout();
    forced_timeout = true;
  }
}

// Collective. Warns once per fix (on the first evaluation that has any) and names the first atom,
// so a NaN can never pass as an interpolating grade of 0 (doc/fix_mtp_grade.md, non-finite grades).
void FixMtpGrade::report_nonfinite(bigint count, tagint first, tagint partner)
{
  tagint global_first = 0, global_partner = 0;
  MPI_Allreduce(&first, &global_first, 1, MPI_LMP_TAGINT, MPI_MIN, world);
  const tagint mine = (first == global_first) ? partner : 0;
  MPI_Allreduce(&mine, &global_partner, 1, MPI_LMP_TAGINT, MPI_MAX, world);
  if (nonfinite_warned || comm->me != 0) {
    nonfinite_warned = true;
    return;
  }
  nonfinite_warned = true;
  const std::string why = global_partner > 0
      ? fmt::format("atom {} sits on atom {} (distance 0: overlapping atoms)", global_first,
                    global_partner)
      : fmt::format("atom {} has NaN or inf in its MTP row (overflowing potential coefficients "
                    "or a corrupted configuration)",
                    global_first);
  error->warning(FLERR,
                 "Fix mtp/grade {}: {} atom(s) have a non-finite extrapolation grade on step {}; "
                 "{}. Their grade is reported as inf, above every select/break threshold "
                 "(further occurrences are counted in the run summary, not warned again)",
                 id, count, update->ntimestep, why);
}

void FixMtpGrade::post_run()
{
  // Like fix halt 'continue': a later run starts normally.
  if (forced_timeout) {
    timer->reset_timeout();
    forced_timeout = false;
  }
  if (comm->me == 0) {
    const double us = n_graded_total > 0 ? 1e6 * time_spent / (double) n_graded_total : 0.0;
    utils::logmesg(lmp,
                   "Fix mtp/grade {}: {} evaluations, {} grades; max gamma {:.5f} (atom {}, "
                   "step {}); last evaluation: {} graded, {} above select {}; {:.3f} s on rank "
                   "0 ({:.2f} us per graded atom){}\n",
                   id, n_evaluations, n_graded_total, run_max_gamma, (bigint) run_max_tag,
                   run_max_step, (bigint) count_graded, (bigint) count_selected, select_threshold,
                   time_spent, us,
                   n_nonfinite_total > 0
                       ? fmt::format("; {} non-finite grades (reported as inf)", n_nonfinite_total)
                       : std::string());
  }
}

double FixMtpGrade::compute_scalar()
{
  return max_gamma;
}

double FixMtpGrade::compute_vector(int n)
{
  switch (n) {
    case 0:
      return max_gamma;
    case 1:
      return count_selected;
    case 2:
      return count_graded;
    case 3:
      return max_tag;
  }
  return 0.0;
}

double FixMtpGrade::memory_usage()
{
  const double m = potential.param_count();
  return (double) atom->nmax * sizeof(double) + 3.0 * m * m * sizeof(double) +
      (double) batch_rows.size() * sizeof(double);
}

void FixMtpGrade::grow_arrays(int nmax)
{
  memory->grow(gamma, nmax, "mtp/grade:gamma");
  vector_atom = gamma;
}

void FixMtpGrade::set_arrays(int i)
{
  gamma[i] = 0.0;
}

void FixMtpGrade::copy_arrays(int i, int j, int)
{
  gamma[j] = gamma[i];
}

int FixMtpGrade::pack_exchange(int i, double *buf)
{
  buf[0] = gamma[i];
  return 1;
}

int FixMtpGrade::unpack_exchange(int nlocal, double *buf)
{
  gamma[nlocal] = buf[0];
  return 1;
}

}    // namespace EIPGS
