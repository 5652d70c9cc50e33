// SPDX-License-Identifier: GPL-2.0-only
// fix cluster/sample: see fix_cluster_sample.h and doc/fix_cluster_sample.md.

#include "fix_cluster_sample.h"

#include "ghost_cutoff.h"

#include "fix_mtp_grade.h"
#include "mtp/active_set.h"

#include "atom.h"
#include "comm.h"
#include "compute.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "group.h"
#include "input.h"
#include "memory.h"
#include "modify.h"
#include "neighbor.h"
#include "pair.h"
#include "platform.h"
#include "timer.h"
#include "update.h"
#include "utils.h"
#include "variable.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <unistd.h>

using namespace LAMMPS_NS;
using namespace FixConst;

namespace {

// Standard atomic weights, to name a LAMMPS type's element from its mass when the `elements`
// keyword is absent (ASE needs a chemical symbol per atom in extxyz).
struct ElementMass {
  const char *symbol;
  double mass;
};
const ElementMass element_masses[] = {
    {"H", 1.008},     {"He", 4.0026},   {"Li", 6.94},     {"Be", 9.0122},   {"B", 10.81},
    {"C", 12.011},    {"N", 14.007},    {"O", 15.999},    {"F", 18.998},    {"Ne", 20.180},
    {"Na", 22.990},   {"Mg", 24.305},   {"Al", 26.982},   {"Si", 28.085},   {"P", 30.974},
    {"S", 32.06},     {"Cl", 35.45},    {"Ar", 39.948},   {"K", 39.098},    {"Ca", 40.078},
    {"Sc", 44.956},   {"Ti", 47.867},   {"V", 50.942},    {"Cr", 51.996},   {"Mn", 54.938},
    {"Fe", 55.845},   {"Co", 58.933},   {"Ni", 58.693},   {"Cu", 63.546},   {"Zn", 65.38},
    {"Ga", 69.723},   {"Ge", 72.630},   {"As", 74.922},   {"Se", 78.971},   {"Br", 79.904},
    {"Kr", 83.798},   {"Rb", 85.468},   {"Sr", 87.62},    {"Y", 88.906},    {"Zr", 91.224},
    {"Nb", 92.906},   {"Mo", 95.95},    {"Tc", 98.0},     {"Ru", 101.07},   {"Rh", 102.91},
    {"Pd", 106.42},   {"Ag", 107.87},   {"Cd", 112.41},   {"In", 114.82},   {"Sn", 118.71},
    {"Sb", 121.76},   {"Te", 127.60},   {"I", 126.90},    {"Xe", 131.29},   {"Cs", 132.91},
    {"Ba", 137.33},   {"La", 138.91},   {"Ce", 140.12},   {"Pr", 140.91},   {"Nd", 144.24},
    {"Pm", 145.0},    {"Sm", 150.36},   {"Eu", 151.96},   {"Gd", 157.25},   {"Tb", 158.93},
    {"Dy", 162.50},   {"Ho", 164.93},   {"Er", 167.26},   {"Tm", 168.93},   {"Yb", 173.05},
    {"Lu", 174.97},   {"Hf", 178.49},   {"Ta", 180.95},   {"W", 183.84},    {"Re", 186.21},
    {"Os", 190.23},   {"Ir", 192.22},   {"Pt", 195.08},   {"Au", 196.97},   {"Hg", 200.59},
    {"Tl", 204.38},   {"Pb", 207.2},    {"Bi", 208.98},   {"Th", 232.04},   {"Pa", 231.04},
    {"U", 238.03},    {"Np", 237.0},    {"Pu", 244.0},
};

// Every chemical symbol (Z = 1..118): `elements` must name real elements, since ASE and the DFT
// steps downstream cannot read anything else (case matters: "W", not "w").
bool is_element_symbol(const std::string &sym)
{
  static const char *const symbols[] = {
      "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",
      "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
      "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh",
      "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd",
      "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re",
      "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
      "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db",
      "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
  for (const char *s : symbols)
    if (sym == s) return true;
  return false;
}

// Doubles per candidate in the all-gather: ref, tag, owner, ilocal, x, y, z.
constexpr int CAND_SIZE = 7;
// Doubles per cluster atom in the gather to rank 0: tag, type, dx, dy, dz, grade.
constexpr int ATOM_SIZE = 6;

bool ends_with(const std::string &s, const std::string &suffix)
{
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The absolute path of `path` (or the one it will have once created) with symbolic links and ..
// resolved, so two spellings of one file compare equal. Empty if its directory does not exist.
std::string canonical_path(const std::string &path)
{
  if (char *real = realpath(path.c_str(), nullptr)) {    // exists: also resolves a linked file
    std::string out(real);
    free(real);
    return out;
  }
  std::string dir = platform::path_dirname(path);
  if (dir.empty()) dir = ".";
  char *real = realpath(dir.c_str(), nullptr);
  if (!real) return "";
  std::string out = std::string(real) + "/" + platform::path_basename(path);
  free(real);
  return out;
}

// Why `path` cannot be written by `keyword`, or "" if it can: an existing file must be writable,
// a new one needs a writable directory (so does one replaced by rename, write_active).
std::string unwritable_reason(const std::string &path, const std::string &keyword, bool by_rename)
{
  if (platform::path_is_directory(path)) return fmt::format("{} '{}' is a directory", keyword, path);
  std::string dir = platform::path_dirname(path);
  if (dir.empty()) dir = ".";
  if (!platform::path_is_directory(dir))
    return fmt::format("{} '{}': directory '{}' does not exist", keyword, path, dir);
  const bool exists = access(path.c_str(), F_OK) == 0;
  if (exists && !by_rename && access(path.c_str(), W_OK) != 0)
    return fmt::format("{} '{}' is not writable: {}", keyword, path, utils::getsyserror());
  if ((!exists || by_rename) && access(dir.c_str(), W_OK | X_OK) != 0)
    return fmt::format("{} '{}': cannot create files in directory '{}': {}", keyword, path, dir,
                       utils::getsyserror());
  return "";
}

// ASE parses an info value without '.' as an integer; keep floats recognisably floats.
std::string ffmt(double v)
{
  return fmt::format("{:.10f}", v);
}

}    // namespace

namespace EIPGS {

/* ---------------------------------------------------------------------- */

FixClusterSample::FixClusterSample(LAMMPS *lmp, int narg, char **arg) :
    Fix(lmp, narg, arg), fp(nullptr), grade_fix(nullptr), grade_column(false), refbuf(nullptr),
    maxref(0), last_step(-1), nwritten_total(0), nwritten_file(0), nwritten_step(0),
    ncandidates_step(0), max_total_logged(false), nswaps(0), nswaps_step(0),
    active_cfg_next(-1), sample_steps(0), time_spent(0.0), time_regrade(0.0)
{
  if (narg < 8)
    error->all(FLERR,
               "Illegal fix cluster/sample command: expected fix ID group cluster/sample N ref "
               "threshold radius file [keyword value ...]");

  sample_every = utils::inumeric(FLERR, arg[3], false, lmp);
  if (sample_every <= 0) error->all(FLERR, "Fix cluster/sample: N = {} must be > 0", sample_every);

  // ref: c_ID, c_ID[k], f_ID, f_ID[k] or v_name (a per-atom quantity).
  ref_text = arg[4];
  std::string body;
  if (utils::strmatch(ref_text, "^c_")) ref_kind = REF_COMPUTE;
  else if (utils::strmatch(ref_text, "^f_")) ref_kind = REF_FIX;
  else if (utils::strmatch(ref_text, "^v_")) ref_kind = REF_VARIABLE;
  else
    error->all(FLERR,
               "Fix cluster/sample: ref '{}' must be a per-atom c_ID, c_ID[k], f_ID, f_ID[k] or "
               "v_name",
               ref_text);
  body = ref_text.substr(2);
  ref_index = 0;
  auto bracket = body.find('[');
  if (bracket != std::string::npos) {
    if (body.back() != ']' || ref_kind == REF_VARIABLE)
      error->all(FLERR, "Fix cluster/sample: cannot parse ref '{}'", ref_text);
    std::string idx = body.substr(bracket + 1, body.size() - bracket - 2);
    ref_index = utils::inumeric(FLERR, idx, false, lmp);
    if (ref_index <= 0) error->all(FLERR, "Fix cluster/sample: ref '{}' has a column index <= 0", ref_text);
    body = body.substr(0, bracket);
  }
  ref_id = body;
  if (ref_id.empty()) error->all(FLERR, "Fix cluster/sample: ref '{}' has an empty ID", ref_text);

  threshold = utils::numeric(FLERR, arg[5], false, lmp);
  radius = utils::numeric(FLERR, arg[6], false, lmp);
  if (radius <= 0.0) error->all(FLERR, "Fix cluster/sample: radius = {} must be > 0", radius);
  filename = arg[7];

  if (ends_with(filename, ".extxyz") || ends_with(filename, ".xyz")) format = FORMAT_EXTXYZ;
  else if (ends_with(filename, ".cfg")) format = FORMAT_CFG;
  else
    error->all(FLERR,
               "Fix cluster/sample: file '{}' must end in .extxyz, .xyz (extended XYZ) or .cfg "
               "(MLIP .cfg)",
               filename);

  // Defaults (doc/fix_cluster_sample.md, Default).
  exclude = 0.5 * radius;
  core_radius = 0.5 * radius;
  core_given = false;
  max_per_step = 50;
  max_total = -1;
  append = false;
  update_active = false;
  regrade = true;

  int iarg = 8;
  while (iarg < narg) {
    const std::string key = arg[iarg];
    auto need = [&](int n) {
      if (iarg + n >= narg) error->all(FLERR, "Fix cluster/sample: keyword {} needs {} value(s)", key, n);
    };
    if (key == "exclude") {
      need(1);
      exclude = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (exclude < 0.0) error->all(FLERR, "Fix cluster/sample: exclude = {} must be >= 0", exclude);
      iarg += 2;
    } else if (key == "max_per_step") {
      need(1);
      max_per_step = utils::inumeric(FLERR, arg[iarg + 1], false, lmp);
      if (max_per_step <= 0)
        error->all(FLERR, "Fix cluster/sample: max_per_step = {} must be > 0", max_per_step);
      iarg += 2;
    } else if (key == "max_total") {
      need(1);
      max_total = utils::bnumeric(FLERR, arg[iarg + 1], false, lmp);
      if (max_total <= 0) error->all(FLERR, "Fix cluster/sample: max_total = {} must be > 0", max_total);
      iarg += 2;
    } else if (key == "core") {
      need(1);
      core_radius = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (core_radius <= 0.0) error->all(FLERR, "Fix cluster/sample: core = {} must be > 0", core_radius);
      core_given = true;
      iarg += 2;
    } else if (key == "append") {
      need(1);
      append = utils::logical(FLERR, arg[iarg + 1], false, lmp) == 1;
      iarg += 2;
    } else if (key == "update_active") {
      need(1);
      update_active = utils::logical(FLERR, arg[iarg + 1], false, lmp) == 1;
      iarg += 2;
    } else if (key == "regrade") {
      need(1);
      regrade = utils::logical(FLERR, arg[iarg + 1], false, lmp) == 1;
      iarg += 2;
    } else if (key == "write_active") {
      need(1);
      active_out = arg[iarg + 1];
      if (!ends_with(active_out, ".almtp"))
        error->all(FLERR, "Fix cluster/sample: write_active file '{}' must end in .almtp", active_out);
      iarg += 2;
    } else if (key == "elements") {
      const int ntypes = atom->ntypes;
      if (ntypes <= 0) error->all(FLERR, "Fix cluster/sample: elements needs a simulation box");
      need(ntypes);
      for (int t = 0; t < ntypes; ++t) {
        const std::string sym = arg[iarg + 1 + t];
        if (!is_element_symbol(sym))
          error->all(FLERR,
                     "Fix cluster/sample: elements: '{}' (atom type {}) is not a chemical symbol; give "
                     "one symbol per atom type ({} types), e.g. W or Cu",
                     sym, t + 1, ntypes);
        elements.push_back(sym);
      }
      iarg += 1 + ntypes;
    } else {
      error->all(FLERR, "Fix cluster/sample: unknown keyword '{}'", key);
    }
  }

  if (update_active && ref_kind != REF_FIX)
    error->all(FLERR,
               "Fix cluster/sample: update_active yes needs ref = f_ID of a fix mtp/grade (got "
               "'{}')",
               ref_text);
  if (!update_active && !regrade)
    error->all(FLERR, "Fix cluster/sample: regrade applies only with update_active yes");
  if (!active_out.empty() && !update_active)
    error->all(FLERR, "Fix cluster/sample: write_active needs update_active yes");
  if (update_active && threshold <= 1.0)
    error->all(FLERR,
               "Fix cluster/sample: update_active needs threshold > 1 (a MaxVol swap with "
               "max|c| <= 1 would shrink the active-set volume); got {}",
               threshold);

  // The reference must exist now, so a typo fails at the fix command.
  if (ref_kind == REF_COMPUTE) {
    Compute *c = modify->get_compute_by_id(ref_id);
    if (!c) error->all(FLERR, "Fix cluster/sample: compute ID '{}' in ref '{}' does not exist", ref_id, ref_text);
  } else if (ref_kind == REF_FIX) {
    Fix *f = modify->get_fix_by_id(ref_id);
    if (!f) error->all(FLERR, "Fix cluster/sample: fix ID '{}' in ref '{}' does not exist", ref_id, ref_text);
    if (strcmp(f->style, "mtp/grade") == 0) grade_column = true;
    if (grade_column) grade_fix = dynamic_cast<FixMtpGrade *>(f);
  } else {
    int ivar = input->variable->find(ref_id.c_str());
    if (ivar < 0)
      error->all(FLERR, "Fix cluster/sample: variable '{}' in ref '{}' does not exist", ref_id, ref_text);
    if (!input->variable->atomstyle(ivar))
      error->all(FLERR, "Fix cluster/sample: variable '{}' in ref '{}' is not an atom-style variable",
                 ref_id, ref_text);
  }
  if (update_active && !grade_column)
    error->all(FLERR,
               "Fix cluster/sample: update_active yes needs ref = f_ID of a fix mtp/grade; fix '{}' "
               "is style '{}'",
               ref_id, modify->get_fix_by_id(ref_id)->style);

  // Global vector [1] written this step, [2] written in total, [3] candidates this step.
  vector_flag = 1;
  size_vector = 3;
  extvector = 0;
  global_freq = sample_every;
  // Per-atom grades of ghost atoms come from their owners (forward comm of refbuf).
  comm_forward = 1;
  // A fix ref is checked every step, to catch a step on which fix mtp/grade breaks the run (see
  // end_of_step); other refs are evaluated only on multiples of N.
  nevery = (ref_kind == REF_FIX) ? 1 : sample_every;

  // Every path is checked now, before anything is written: the output file is created (or
  // truncated) only at the first run, after init() has checked the rest of the setup.
  check_paths();

  // append yes: read what the file already holds (nothing is written here).
  std::string why;
  if (comm->me == 0 && append) {
    // std::stoll on a malformed value throws: report it like any other unusable file
    try {
      why = scan_existing_file();
    } catch (std::exception &e) {
      why = fmt::format("cannot continue '{}' with append yes: malformed step/cfg# entry ({})", filename,
                        e.what());
    }
  }
  int ok = why.empty() ? 1 : 0;
  MPI_Bcast(&ok, 1, MPI_INT, 0, world);
  if (!ok)
    error->all(FLERR, "Fix cluster/sample: {}", comm->me == 0 ? why : std::string("see rank 0 (file ") + filename + ")");

  // The (step, centre) pairs already in an appended file: identical set on every rank, since
  // selection runs everywhere and a skipped pair must still count as selected (exclusion, dedup).
  if (append) {
    bigint n = (comm->me == 0) ? (bigint) existing.size() : 0;
    MPI_Bcast(&n, 1, MPI_LMP_BIGINT, 0, world);
    std::vector<bigint> flat(2 * n);
    if (comm->me == 0) {
      size_t k = 0;
      for (const auto &e : existing) {
        flat[k++] = e.first;
        flat[k++] = e.second;
      }
    }
    if (n > 0) MPI_Bcast(flat.data(), (int) (2 * n), MPI_LMP_BIGINT, 0, world);
    existing.clear();
    for (bigint k = 0; k < n; ++k) existing.emplace(flat[2 * k], (tagint) flat[2 * k + 1]);
    MPI_Bcast(&nwritten_file, 1, MPI_LMP_BIGINT, 0, world);
  }
}

/* ----------------------------------------------------------------------
   rank 0 checks every path this fix will write, before anything is written;
   a file another fix cluster/sample writes is refused (both would corrupt it)
------------------------------------------------------------------------- */

void FixClusterSample::check_paths()
{
  std::string why;
  if (comm->me == 0) {
    why = unwritable_reason(filename, "file", false);
    if (why.empty() && !active_out.empty()) why = unwritable_reason(active_out, "write_active", true);
    const std::string mine = canonical_path(filename);
    const std::string mine_active = active_out.empty() ? "" : canonical_path(active_out);
    if (why.empty() && !mine_active.empty() && mine_active == mine)
      why = fmt::format("write_active '{}' is the cluster file '{}' itself", active_out, filename);
    for (auto *f : modify->get_fix_by_style("^cluster/sample$")) {
      if (!why.empty()) break;
      auto *other = dynamic_cast<FixClusterSample *>(f);
      // The fix with our ID is the one this command replaces.
      if (!other || other == this || strcmp(other->id, id) == 0) continue;
      const std::string theirs = canonical_path(other->filename);
      const std::string theirs_active = other->active_out.empty() ? "" : canonical_path(other->active_out);
      for (const auto &[keyword, path, canon] : {std::make_tuple("file", filename, mine),
                                                 std::make_tuple("write_active", active_out, mine_active)}) {
        if (canon.empty()) continue;
        if (canon == theirs || canon == theirs_active)
          why = fmt::format("{} '{}' is already written by fix cluster/sample '{}' (as '{}'); two fixes "
                            "writing one file corrupt it: give each its own file",
                            keyword, path, other->id, canon == theirs ? other->filename : other->active_out);
      }
    }
  }
  int ok = why.empty() ? 1 : 0;
  MPI_Bcast(&ok, 1, MPI_INT, 0, world);
  if (!ok)
    error->all(FLERR, "Fix cluster/sample: {}", comm->me == 0 ? why : std::string("see rank 0 (file ") + filename + ")");
}

/* ----------------------------------------------------------------------
   open (or continue) the output on rank 0, once, after init() checked the setup
------------------------------------------------------------------------- */

void FixClusterSample::open_output()
{
  if (output_open) return;
  int ok = 1;
  std::string why;
  if (comm->me == 0) {
    fp = fopen(filename.c_str(), append ? "a" : "w");
    if (!fp) {
      ok = 0;
      why = fmt::format("cannot open file '{}' for writing: {}", filename, utils::getsyserror());
    }
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, world);
  if (!ok)
    error->all(FLERR, "Fix cluster/sample: {}", comm->me == 0 ? why : std::string("see rank 0 (file ") + filename + ")");
  output_open = true;
}

/* ---------------------------------------------------------------------- */

FixClusterSample::~FixClusterSample()
{
  if (fp) fclose(fp);
  memory->destroy(refbuf);
}

/* ---------------------------------------------------------------------- */

int FixClusterSample::setmask()
{
  return END_OF_STEP;
}

/* ----------------------------------------------------------------------
   ref must name a per-atom vector (no index) or one column of a per-atom array
------------------------------------------------------------------------- */

void FixClusterSample::check_peratom_ref(const char *kind, const char *prefix, const char *style,
                                         int peratom_flag, int ncols)
{
  if (!peratom_flag)
    error->all(FLERR, "Fix cluster/sample: {} '{}' (style {}) in ref '{}' does not compute per-atom values",
               kind, ref_id, style, ref_text);
  if (ref_index == 0 && ncols != 0)
    error->all(FLERR, "Fix cluster/sample: {} '{}' computes a per-atom array; use {}[k] with k in 1..{}",
               kind, ref_id, ref_text, ncols);
  if (ref_index > 0 && ncols == 0)
    error->all(FLERR, "Fix cluster/sample: {} '{}' computes a per-atom vector; use {}{} without an index",
               kind, ref_id, prefix, ref_id);
  if (ref_index > ncols)
    error->all(FLERR, "Fix cluster/sample: ref '{}' column {} is beyond the {} columns of {} '{}'", ref_text,
               ref_index, ncols, kind, ref_id);
}

/* ---------------------------------------------------------------------- */

void FixClusterSample::init()
{
  if (ref_kind == REF_COMPUTE) {
    Compute *c = modify->get_compute_by_id(ref_id);
    if (!c) error->all(FLERR, "Fix cluster/sample: compute ID '{}' does not exist", ref_id);
    check_peratom_ref("compute", "c_", c->style, c->peratom_flag, c->size_peratom_cols);
  } else if (ref_kind == REF_FIX) {
    Fix *f = modify->get_fix_by_id(ref_id);
    if (!f) error->all(FLERR, "Fix cluster/sample: fix ID '{}' does not exist", ref_id);
    check_peratom_ref("fix", "f_", f->style, f->peratom_flag, f->size_peratom_cols);
    if (f->peratom_freq <= 0 || sample_every % f->peratom_freq)
      error->all(FLERR,
                 "Fix cluster/sample: N = {} is not a multiple of the per-atom output frequency {} "
                 "of fix '{}'",
                 sample_every, f->peratom_freq, ref_id);
    // The referenced fix must update its per-atom values (end_of_step for fix mtp/grade) before
    // this fix reads them in its own end_of_step; LAMMPS calls fixes in input order.
    int iref = -1, iself = -1;
    for (int i = 0; i < modify->nfix; ++i) {
      if (modify->fix[i] == f) iref = i;
      if (modify->fix[i] == this) iself = i;
    }
    if (iref > iself)
      error->all(FLERR,
                 "Fix cluster/sample: fix '{}' (ref '{}') must be defined before fix cluster/sample "
                 "'{}' in the input, so that its per-atom values are current when this fix reads "
                 "them",
                 ref_id, ref_text, id);
  } else {
    int ivar = input->variable->find(ref_id.c_str());
    if (ivar < 0) error->all(FLERR, "Fix cluster/sample: variable '{}' does not exist", ref_id);
    if (!input->variable->atomstyle(ivar))
      error->all(FLERR, "Fix cluster/sample: variable '{}' is not an atom-style variable", ref_id);
  }

  // Clusters come from owned + ghost atoms of the centre's owner. An atom within `radius` of a
  // centre now was within radius + skin of it at the last reneighbouring (each moved < skin/2),
  // so the ghost shell must reach radius + skin (doc/design/plugin.md §4, ghost-range check).
  // comm->get_comm_cutoff() is still 0 here on the first run: use the formula.
  const double cutghost = ghost_cutoff(lmp);
  const double needed = radius + neighbor->skin;
  if (needed > cutghost)
    error->all(FLERR,
               "Fix cluster/sample: radius {} + neighbor skin {} = {} exceeds the communication "
               "cutoff {}; add `comm_modify cutoff {}` (or larger) before the run",
               radius, neighbor->skin, needed, cutghost, needed);

  if (grade_column) {
    grade_fix = dynamic_cast<FixMtpGrade *>(modify->get_fix_by_id(ref_id));
    if (!grade_fix)
      error->all(FLERR, "Fix cluster/sample: fix '{}' is not an eipgs fix mtp/grade", ref_id);
    // Grades and neighbourhood rows are current only on the grade fix's evaluation steps.
    if (sample_every % grade_fix->nevery)
      error->all(FLERR,
                 "Fix cluster/sample: N = {} must be a multiple of the N = {} of fix mtp/grade '{}' "
                 "(grades are evaluated only then)",
                 sample_every, grade_fix->nevery, ref_id);
    // The core is the part of the cluster whose MTP neighbourhoods are complete.
    if (!core_given) core_radius = grade_fix->mtp_cutoff();
    if (active_cfg_next < 0) active_cfg_next = grade_fix->active_set().configuration_count();
    // After swaps the regrade needs only gamma = max |S b| of rows the grade fix already built.
    if (update_active && regrade) grade_fix->keep_rows_for_regrade();
    if (comm->me == 0 && radius < grade_fix->mtp_cutoff())
      error->warning(FLERR,
                     "Fix cluster/sample: radius {} < MTP cutoff {}: the centre's neighbourhood "
                     "is not complete in the written clusters",
                     radius, grade_fix->mtp_cutoff());
  }

  if (!elements.empty() && (int) elements.size() != atom->ntypes)
    error->all(FLERR, "Fix cluster/sample: elements lists {} symbols for {} atom types", elements.size(),
               atom->ntypes);

  // Last: every check above passed, so creating (truncating) the output loses nothing.
  open_output();
}

/* ---------------------------------------------------------------------- */

void FixClusterSample::setup(int /*vflag*/)
{
  // Sample the initial configuration too (like fix ave/time), once per step across runs.
  if (update->ntimestep % sample_every == 0) sample();
}

/* ---------------------------------------------------------------------- */

void FixClusterSample::end_of_step()
{
  const bigint step = update->ntimestep;
  if (step % sample_every == 0) {
    sample();
    return;
  }
  // fix mtp/grade (and fix halt) stop a run with timer->force_timeout(): the integrator ends
  // the run at the start of the next step, after every end_of_step of this one. The step that
  // triggers the break is the one users most need, so sample it even off the N grid, if the
  // reference fix's values are current on it (doc/design/plugin.md §7).
  if (ref_kind == REF_FIX && timer->is_timeout()) {
    Fix *f = modify->get_fix_by_id(ref_id);
    // Its values are fresh only on its own evaluation steps (nevery; peratom_freq for output).
    if (f && f->peratom_freq > 0 && step % f->peratom_freq == 0 && f->nevery > 0 && step % f->nevery == 0)
      sample();
  }
}

/* ---------------------------------------------------------------------- */

void FixClusterSample::post_run()
{
  if (fp) fflush(fp);
  if (comm->me == 0)
    utils::logmesg(lmp,
                   "Fix cluster/sample {}: {} clusters written in {} sampling steps ({} in {}), "
                   "{:.3f} s spent sampling on rank 0 ({:.3f} s of it regrading after swaps)\n",
                   id, nwritten_total, sample_steps, nwritten_file, filename, time_spent, time_regrade);
  if (!active_out.empty() && grade_fix) {
    int ok = 1;
    std::string why;
    if (comm->me == 0) {
      try {
        grade_fix->active_set().write_almtp(active_out);
      } catch (std::exception &e) {
        ok = 0;
        why = e.what();
      }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, world);
    if (!ok)
      error->all(FLERR, "Fix cluster/sample: write_active {} failed: {}", active_out,
                 comm->me == 0 ? why : std::string("see rank 0"));
    if (comm->me == 0)
      utils::logmesg(lmp, "Fix cluster/sample {}: {} MaxVol swaps so far; active set written to {}\n", id,
                     nswaps, active_out);
  }
}

/* ----------------------------------------------------------------------
   rank 0: the cluster whose centre row entered the active set becomes an
   active-set configuration (no-loss .cfg, doc/design/mtp.md §4, §9.4), with the
   centre's site-energy equation 3n + 10 + 0 (§3.3) as its link
------------------------------------------------------------------------- */

void FixClusterSample::add_active_configuration(const Centre &c, const std::vector<ClusterAtom> &atoms)
{
  ActiveSet &active = grade_fix->active_set();
  const int n = (int) atoms.size();
  const int eqn = 3 * n + 10;
  if (c.active_row >= 0 && c.active_row < (int) active.links.size() &&
      active.links[c.active_row].first == c.active_cfg)
    active.links[c.active_row].second = eqn;
  std::string text = fmt::format("BEGIN_CFG\n Size\n    {}\n", n);
  text += " AtomData:  id type       cartes_x      cartes_y      cartes_z\n";
  for (int k = 0; k < n; ++k)
    text += fmt::format("    {} {}  {:.16e} {:.16e} {:.16e}\n", k + 1, atoms[k].type - 1, atoms[k].dx[0],
                        atoms[k].dx[1], atoms[k].dx[2]);
  text += fmt::format(" Feature   center_id\t{}\n Feature   selected_eqn_inds\t{}\n Feature   step\t{}\nEND_CFG\n\n",
                      c.tag, eqn, update->ntimestep);
  active.configurations += text;
}

/* ---------------------------------------------------------------------- */

double FixClusterSample::compute_vector(int n)
{
  if (n == 0) return nwritten_step;
  if (n == 1) return (double) nwritten_total;
  return ncandidates_step;
}

/* ---------------------------------------------------------------------- */

double FixClusterSample::memory_usage()
{
  return (double) maxref * sizeof(double);
}

/* ---------------------------------------------------------------------- */

int FixClusterSample::pack_forward_comm(int n, int *list, double *buf, int /*pbc_flag*/, int * /*pbc*/)
{
  for (int i = 0; i < n; ++i) buf[i] = refbuf[list[i]];
  return n;
}

void FixClusterSample::unpack_forward_comm(int n, int first, double *buf)
{
  for (int i = 0; i < n; ++i) refbuf[first + i] = buf[i];
}

/* ----------------------------------------------------------------------
   ref of every owned atom into refbuf[0..nlocal)
------------------------------------------------------------------------- */

void FixClusterSample::evaluate_ref()
{
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  if (nall > maxref) {
    maxref = atom->nmax > nall ? atom->nmax : nall;
    memory->destroy(refbuf);
    memory->create(refbuf, maxref, "cluster/sample:refbuf");
  }

  if (ref_kind == REF_COMPUTE) {
    // fix ave/atom's protocol (doc/design/plugin.md §5): invoke on demand, re-read the pointer.
    Compute *c = modify->get_compute_by_id(ref_id);
    modify->clearstep_compute();
    if (!(c->invoked_flag & Compute::INVOKED_PERATOM)) {
      c->compute_peratom();
      c->invoked_flag |= Compute::INVOKED_PERATOM;
    }
    if (ref_index == 0)
      for (int i = 0; i < nlocal; ++i) refbuf[i] = c->vector_atom[i];
    else
      for (int i = 0; i < nlocal; ++i) refbuf[i] = c->array_atom[i][ref_index - 1];
    modify->addstep_compute((update->ntimestep / sample_every) * sample_every + sample_every);
  } else if (ref_kind == REF_FIX) {
    Fix *f = modify->get_fix_by_id(ref_id);
    if ((ref_index == 0 && !f->vector_atom && nlocal) || (ref_index > 0 && !f->array_atom && nlocal))
      error->one(FLERR, "Fix cluster/sample: fix '{}' has no per-atom values on step {}", ref_id,
                 update->ntimestep);
    if (ref_index == 0)
      for (int i = 0; i < nlocal; ++i) refbuf[i] = f->vector_atom[i];
    else
      for (int i = 0; i < nlocal; ++i) refbuf[i] = f->array_atom[i][ref_index - 1];
  } else {
    int ivar = input->variable->find(ref_id.c_str());
    if (ivar < 0) error->all(FLERR, "Fix cluster/sample: variable '{}' no longer exists", ref_id);
    modify->clearstep_compute();
    input->variable->compute_atom(ivar, igroup, refbuf, 1, 0);
    modify->addstep_compute((update->ntimestep / sample_every) * sample_every + sample_every);
  }
}

/* ----------------------------------------------------------------------
   one sampling step: candidates -> selection (identical on all ranks) ->
   clusters gathered to rank 0 -> written and flushed
------------------------------------------------------------------------- */

void FixClusterSample::sample()
{
  const bigint step = update->ntimestep;
  if (step == last_step) return;
  last_step = step;
  const double t0 = platform::walltime();
  sample_steps++;
  struct Timer {
    double t0, &acc;
    ~Timer() { acc += platform::walltime() - t0; }
  } timer_guard{t0, time_spent};

  evaluate_ref();

  // Local candidates: group atoms with ref > threshold (strict, like MLIP-3's threshold_save).
  const int nlocal = atom->nlocal;
  const int *mask = atom->mask;
  const tagint *tag = atom->tag;
  double **x = atom->x;
  std::vector<double> mine;
  for (int i = 0; i < nlocal; ++i) {
    if (!(mask[i] & groupbit)) continue;
    // A NaN ref is a broken value, not a small one: it ranks above every threshold (as +inf, which
    // also keeps the sort below a strict weak ordering).
    const double ref = std::isnan(refbuf[i]) ? HUGE_VAL : refbuf[i];
    if (!(ref > threshold)) continue;
    mine.insert(mine.end(), {ref, (double) tag[i], (double) comm->me, (double) i, x[i][0], x[i][1], x[i][2]});
  }
  int nmine = (int) mine.size();
  std::vector<int> counts(comm->nprocs), displs(comm->nprocs);
  MPI_Allgather(&nmine, 1, MPI_INT, counts.data(), 1, MPI_INT, world);
  int ntot = 0;
  for (int p = 0; p < comm->nprocs; ++p) {
    displs[p] = ntot;
    ntot += counts[p];
  }
  ncandidates_step = ntot / CAND_SIZE;
  nwritten_step = 0;

  const bool budget_left = (max_total < 0) || (nwritten_total < max_total);
  if (!budget_left || ncandidates_step == 0) {
    if (fp) fflush(fp);
    return;
  }

  std::vector<double> all(ntot);
  MPI_Allgatherv(mine.data(), nmine, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE,
                 world);

  std::vector<Centre> centres = select_centres(all);

  // Per-atom grades of ghost atoms, from their owners.
  if (grade_column) comm->forward_comm(this);

  write_clusters(centres);
}

/* ----------------------------------------------------------------------
   greedy selection in order of decreasing ref (ties: smaller atom id first).
   Runs identically on every rank from the same gathered data; the only
   rank-specific input (the MTP row of a candidate, when update_active) is
   broadcast from the candidate's owner.
------------------------------------------------------------------------- */

std::vector<FixClusterSample::Centre> FixClusterSample::select_centres(const std::vector<double> &cand)
{
  const int n = (int) cand.size() / CAND_SIZE;
  std::vector<int> order(n);
  for (int k = 0; k < n; ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const double ra = cand[a * CAND_SIZE], rb = cand[b * CAND_SIZE];
    if (ra != rb) return ra > rb;
    return cand[a * CAND_SIZE + 1] < cand[b * CAND_SIZE + 1];
  });

  const bigint step = update->ntimestep;
  const double exclude2 = exclude * exclude;
  std::vector<Centre> selected;
  nswaps_step = 0;
  bigint budget = (max_total < 0) ? -1 : max_total - nwritten_total;

  for (int k : order) {
    if ((int) selected.size() >= max_per_step) break;
    if (budget >= 0) {
      bigint counted = 0;
      for (const auto &s : selected) counted += s.skip_write ? 0 : 1;
      if (counted >= budget) break;
    }
    const double *c = &cand[k * CAND_SIZE];
    Centre centre;
    centre.ref = c[0];
    centre.grade = c[0];
    centre.tag = (tagint) c[1];
    centre.owner = (int) c[2];
    centre.ilocal = (int) c[3];
    centre.x[0] = c[4];
    centre.x[1] = c[5];
    centre.x[2] = c[6];
    centre.skip_write = existing.count({step, centre.tag}) > 0;
    centre.active_cfg = -1;
    centre.active_row = -1;

    // Exclusion: minimum-image distance to centres already selected this step.
    bool excluded = false;
    for (const auto &s : selected) {
      double d[3] = {centre.x[0] - s.x[0], centre.x[1] - s.x[1], centre.x[2] - s.x[2]};
      domain->minimum_image(FLERR, d);
      if (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] < exclude2) {
        excluded = true;
        break;
      }
    }
    if (excluded) continue;

    if (update_active) {
      // Live deduplication (doc/design/mtp.md §5-§6): grade the candidate against the active set as
      // updated by the centres selected so far; select it only if it still extrapolates, then
      // swap its row in. The owner builds the row; one broadcast gives every rank the same row
      // and the same decision, so every copy of the active set receives the same swap.
      ActiveSet &active = grade_fix->active_set();
      const int m = active.size();
      std::vector<double> buf(m + 2, 0.0);
      if (comm->me == centre.owner) {
        buf[m] = grade_fix->neighbourhood_row(centre.ilocal, buf.data()) ? 1.0 : 0.0;
        if (buf[m] != 0.0) buf[m + 1] = active.grade(buf.data());
      }
      MPI_Bcast(buf.data(), m + 2, MPI_DOUBLE, centre.owner, world);
      if (buf[m] == 0.0)
        error->all(FLERR, "Fix cluster/sample: fix mtp/grade '{}' gave no neighbourhood row for atom {} at step {}",
                   ref_id, centre.tag, step);
      const double gamma = buf[m + 1];
      if (!std::isfinite(gamma)) {
        // Overlapping atoms or an overflowing row: the cluster is written (it is the most
        // extrapolative thing there is), but a NaN/inf row must never enter the active set.
        centre.grade = gamma;
        selected.push_back(centre);
        continue;
      }
      if (!(gamma > threshold)) continue;    // an environment the active set already covers
      // The row becomes site-energy equation 0 of the cluster (centre first, §3.3, §8), stored
      // as a new active-set configuration by write_active.
      centre.active_cfg = active_cfg_next++;
      try {
        centre.active_row = active.swap_in(buf.data(), centre.active_cfg, -1);
      } catch (std::exception &e) {
        error->all(FLERR, "Fix cluster/sample: MaxVol swap for atom {} failed: {}", centre.tag, e.what());
      }
      centre.grade = gamma;
      ++nswaps_step;
      ++nswaps;
    }

    selected.push_back(centre);
  }
  return selected;
}

/* ----------------------------------------------------------------------
   each rank cuts the clusters of the centres it owns from its owned + ghost
   atoms; rank 0 gathers, orders and writes them
------------------------------------------------------------------------- */

void FixClusterSample::write_clusters(const std::vector<Centre> &centres)
{
  const int nall = atom->nlocal + atom->nghost;
  double **x = atom->x;
  const tagint *tag = atom->tag;
  const int *type = atom->type;
  const double radius2 = radius * radius;

  // Packed: per owned cluster [selection index, natoms, natoms x ATOM_SIZE].
  std::vector<double> pack;
  for (int s = 0; s < (int) centres.size(); ++s) {
    const Centre &c = centres[s];
    if (c.owner != comm->me || (c.skip_write && c.active_cfg < 0)) continue;
    const int i = c.ilocal;
    size_t head = pack.size();
    pack.push_back(s);
    pack.push_back(0);
    int count = 0;
    // Ghost coordinates are image-shifted, so x[j] - x[i] is the direct vector, and periodic
    // images of the same atom within the radius appear as separate ghosts (doc/design/plugin.md §4).
    for (int j = 0; j < nall; ++j) {
      const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
      if (dx * dx + dy * dy + dz * dz >= radius2) continue;
      pack.insert(pack.end(), {(double) tag[j], (double) type[j], dx, dy, dz, grade_column ? refbuf[j] : 0.0});
      ++count;
    }
    pack[head + 1] = count;
  }

  int nmine = (int) pack.size();
  std::vector<int> counts(comm->nprocs), displs(comm->nprocs);
  MPI_Gather(&nmine, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, world);
  int ntot = 0;
  if (comm->me == 0)
    for (int p = 0; p < comm->nprocs; ++p) {
      displs[p] = ntot;
      ntot += counts[p];
    }
  std::vector<double> all(comm->me == 0 ? ntot : 0);
  MPI_Gatherv(pack.data(), nmine, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, 0,
              world);

  int nwritten = 0;
  for (const auto &c : centres) nwritten += c.skip_write ? 0 : 1;

  if (comm->me == 0) {
    std::vector<std::vector<ClusterAtom>> clusters(centres.size());
    size_t pos = 0;
    while (pos < all.size()) {
      const int s = (int) all[pos];
      const int count = (int) all[pos + 1];
      pos += 2;
      auto &atoms = clusters[s];
      atoms.resize(count);
      for (int a = 0; a < count; ++a, pos += ATOM_SIZE) {
        ClusterAtom &ca = atoms[a];
        ca.tag = (tagint) all[pos];
        ca.type = (int) all[pos + 1];
        ca.dx[0] = all[pos + 2];
        ca.dx[1] = all[pos + 3];
        ca.dx[2] = all[pos + 4];
        ca.grade = all[pos + 5];
        ca.r2 = ca.dx[0] * ca.dx[0] + ca.dx[1] * ca.dx[1] + ca.dx[2] * ca.dx[2];
      }
    }
    for (size_t s = 0; s < centres.size(); ++s) {
      if (centres[s].skip_write && centres[s].active_cfg < 0) continue;
      auto &atoms = clusters[s];
      const tagint ctag = centres[s].tag;
      // Centre first (doc/design/mtp.md §8), then by distance, id and vector: an order that depends
      // only on the geometry, so 1 and P ranks write the same file.
      std::sort(atoms.begin(), atoms.end(), [ctag](const ClusterAtom &a, const ClusterAtom &b) {
        const bool ac = (a.tag == ctag && a.r2 == 0.0), bc = (b.tag == ctag && b.r2 == 0.0);
        if (ac != bc) return ac;
        if (a.r2 != b.r2) return a.r2 < b.r2;
        if (a.tag != b.tag) return a.tag < b.tag;
        for (int d = 0; d < 3; ++d)
          if (a.dx[d] != b.dx[d]) return a.dx[d] < b.dx[d];
        return false;
      });
      if (centres[s].active_cfg >= 0) add_active_configuration(centres[s], atoms);
      if (centres[s].skip_write) continue;
      if (format == FORMAT_EXTXYZ) write_extxyz(centres[s], atoms);
      else write_cfg(centres[s], atoms);
      ++nwritten_file;
    }
    fflush(fp);
  }

  // Per-atom grades against the updated active set, for fix halt / dumps / thermo of this step
  // (the grade fix's next evaluation uses the updated set anyway). Costs one grading pass.
  if (nswaps_step > 0 && regrade) {
    const double t0 = platform::walltime();
    grade_fix->regrade();
    time_regrade += platform::walltime() - t0;
  }

  nwritten_step = nwritten;
  nwritten_total += nwritten;
  if (max_total >= 0 && nwritten_total >= max_total && !max_total_logged) {
    max_total_logged = true;
    if (comm->me == 0)
      utils::logmesg(lmp,
                     "Fix cluster/sample {}: max_total {} clusters reached at step {}; no more "
                     "clusters will be written to {}\n",
                     id, max_total, update->ntimestep, filename);
  }
}

/* ---------------------------------------------------------------------- */

std::string FixClusterSample::element_of(int itype) const
{
  if (!elements.empty()) return elements[itype - 1];
  if (atom->mass && atom->mass_setflag && atom->mass_setflag[itype]) {
    const double m = atom->mass[itype];
    const char *best = "X";
    double bestd = 0.1;
    for (const auto &e : element_masses) {
      const double d = std::fabs(e.mass - m);
      if (d < bestd) {
        bestd = d;
        best = e.symbol;
      }
    }
    return best;
  }
  return "X";
}

/* ----------------------------------------------------------------------
   cell and pbc of the simulated system, as written into every cluster
------------------------------------------------------------------------- */

namespace {
// Lattice vectors a, b, c one after the other, like the extxyz Lattice key: ASE (3.23+) reads
// info['source_cell'] as 9 numbers, and .reshape(3, 3) gives the vectors as rows. LAMMPS restricted
// triclinic: a = (xprd,0,0), b = (xy,yprd,0), c = (xz,yz,zprd).
std::string source_cell_text(const Domain *domain)
{
  const double cell[9] = {domain->xprd, 0.0, 0.0, domain->xy, domain->yprd, 0.0, domain->xz, domain->yz, domain->zprd};
  std::string text;
  for (double value : cell) text += (text.empty() ? "" : " ") + ffmt(value);
  return text;
}
}    // namespace

/* ----------------------------------------------------------------------
   extended XYZ frame, readable by ase.io.read(file, ':')
------------------------------------------------------------------------- */

void FixClusterSample::write_extxyz(const Centre &c, const std::vector<ClusterAtom> &atoms)
{
  const std::string cellstr = source_cell_text(domain);
  const char *pbcs[2] = {"F", "T"};
  std::string text = fmt::format("{}\n", atoms.size());
  text += "Properties=species:S:1:pos:R:3:id:I:1:type:I:1:core:L:1";
  if (grade_column) text += ":grade:R:1";
  text += fmt::format(
      " pbc=\"F F F\" step={} center_id={} center_grade={} radius={} core_radius={} "
      "source_cell=\"{}\" source_pbc=\"{} {} {}\"\n",
      update->ntimestep, c.tag, ffmt(c.grade), ffmt(radius), ffmt(core_radius), cellstr,
      pbcs[domain->xperiodic], pbcs[domain->yperiodic], pbcs[domain->zperiodic]);
  const double core2 = core_radius * core_radius;
  for (const auto &a : atoms) {
    text += fmt::format("{} {:.10f} {:.10f} {:.10f} {} {} {}", element_of(a.type), a.dx[0], a.dx[1], a.dx[2],
                        a.tag, a.type, a.r2 < core2 ? "T" : "F");
    if (grade_column) text += fmt::format(" {:.10f}", a.grade);
    text += "\n";
  }
  fputs(text.c_str(), fp);
}

/* ----------------------------------------------------------------------
   MLIP .cfg, non-periodic, centre first at the origin, the cutter's features
   cfg#, extrapolation_grade, nbh# plus ours, sorted (doc/design/mtp.md §8, §9.1)
------------------------------------------------------------------------- */

void FixClusterSample::write_cfg(const Centre &c, const std::vector<ClusterAtom> &atoms)
{
  const std::string cellstr = source_cell_text(domain);
  const char *pbcs[2] = {"F", "T"};

  std::string text = "BEGIN_CFG\n Size\n";
  text += fmt::format("    {}\n", atoms.size());
  text += " AtomData:  id type       cartes_x      cartes_y      cartes_z\n";
  int k = 1;
  for (const auto &a : atoms)
    text += fmt::format("    {:10d} {:4d}  {:13.6f} {:13.6f} {:13.6f}\n", k++, a.type - 1, a.dx[0], a.dx[1],
                        a.dx[2]);
  // std::map order of the keys, as MLIP-3 writes them.
  std::vector<std::pair<std::string, std::string>> features = {
      {"cfg#", fmt::format("{}", nwritten_file)},
      {"extrapolation_grade", fmt::format("{:.6f}", c.grade)},
      {"nbh#", fmt::format("{}", c.tag - 1)},
      {"center_id", fmt::format("{}", c.tag)},
      {"center_grade", ffmt(c.grade)},
      {"step", fmt::format("{}", update->ntimestep)},
      {"radius", ffmt(radius)},
      {"core_radius", ffmt(core_radius)},
      {"source_cell", cellstr},
      {"source_pbc", fmt::format("{} {} {}", pbcs[domain->xperiodic], pbcs[domain->yperiodic],
                                 pbcs[domain->zperiodic])},
  };
  std::sort(features.begin(), features.end());
  for (const auto &f : features) text += " Feature   " + f.first + "\t" + f.second + "\n";
  text += "END_CFG\n\n";
  fputs(text.c_str(), fp);
}

/* ----------------------------------------------------------------------
   append yes: learn which (step, centre) clusters the file already holds and
   how many, so numbering continues and nothing is written twice (rank 0)
------------------------------------------------------------------------- */

std::string FixClusterSample::scan_existing_file()
{
  std::ifstream in(filename);
  if (!in) return "";    // a new file
  std::string line;
  auto value_of = [](const std::string &text, const std::string &key) -> std::string {
    // key=value in an extxyz comment line (values of these keys carry no spaces)
    auto p = text.find(" " + key + "=");
    if (p == std::string::npos) return "";
    p += key.size() + 2;
    auto e = text.find(' ', p);
    return text.substr(p, e == std::string::npos ? std::string::npos : e - p);
  };
  if (format == FORMAT_EXTXYZ) {
    bigint lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (utils::trim(line).empty()) continue;
      long natoms = -1;
      try {
        natoms = std::stol(utils::trim(line));
      } catch (std::exception &) {
        natoms = -1;
      }
      std::string comment;
      if (natoms < 0 || !std::getline(in, comment))
        return fmt::format("cannot append to '{}': line {} is not the atom count of an extended XYZ "
                           "frame",
                           filename, lineno);
      ++lineno;
      const std::string s = value_of(comment, "step"), cid = value_of(comment, "center_id");
      if (!s.empty() && !cid.empty()) existing.emplace(std::stoll(s), (tagint) std::stoll(cid));
      ++nwritten_file;
      for (long a = 0; a < natoms; ++a) {
        if (!std::getline(in, line))
          return fmt::format("cannot append to '{}': its last frame is truncated", filename);
        ++lineno;
      }
    }
  } else {
    bigint step = -1;
    tagint cid = -1;
    while (std::getline(in, line)) {
      const std::string t = utils::trim(line);
      if (t == "BEGIN_CFG") {
        step = -1;
        cid = -1;
      } else if (t == "END_CFG") {
        if (step >= 0 && cid >= 0) existing.emplace(step, cid);
        ++nwritten_file;
      } else if (utils::strmatch(t, "^Feature\\s+step\\s")) {
        step = std::stoll(utils::split_words(t).back());
      } else if (utils::strmatch(t, "^Feature\\s+center_id\\s")) {
        cid = (tagint) std::stoll(utils::split_words(t).back());
      }
    }
  }
  return "";
}

}    // namespace EIPGS
