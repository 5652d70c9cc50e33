// SPDX-License-Identifier: GPL-2.0-only
// pair_style mtp: MLIP-3 Moment Tensor Potentials in LAMMPS (doc/pair_mtp.md).

#include "pair_mtp.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

using namespace LAMMPS_NS;

namespace EIPGS {

namespace {
// Widths of the per-ghost record exchanged when newton_pair is off: force, then the per-atom
// virial (6) and the centroid virial (9) when they are requested.
constexpr int FORCE_W = 3, VATOM_W = 6, CVATOM_W = 9;
}    // namespace

PairMtp::PairMtp(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  // The virial is tallied per neighbour term (the same code for newton on and off), never from
  // f.r over owned + ghost atoms.
  no_virial_fdotr_compute = 1;
  centroidstressflag = CENTROID_AVAIL;
  comm_reverse = comm_reverse_off = FORCE_W + VATOM_W + CVATOM_W;
}

PairMtp::~PairMtp()
{
  if (copymode) return;
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairMtp::allocate()
{
  allocated = 1;
  const int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) setflag[i][j] = 0;
}

void PairMtp::settings(int narg, char **arg)
{
  if (narg != 0)
    error->all(FLERR, "Illegal pair_style mtp command: it takes no arguments ('{}' given); the "
                      "potential file is named in pair_coeff * * FILE s1 ... sN", arg[0]);
}

void PairMtp::read_potential(const std::string &file)
{
  // Rank 0 reads, everybody parses the same bytes: a bad file fails identically on all ranks,
  // so error->all below is collective (no hang).
  std::string bytes;
  long long len = -1;
  if (comm->me == 0) {
    std::ifstream in(file, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      bytes = ss.str();
      len = (long long) bytes.size();
    }
  }
  MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, world);
  if (len < 0) error->all(FLERR, "Pair mtp: cannot open potential file '{}'", file);
  bytes.resize((size_t) len);
  const size_t chunk = 1 << 30;
  for (size_t off = 0; off < (size_t) len; off += chunk)
    MPI_Bcast(&bytes[off], (int) std::min(chunk, (size_t) len - off), MPI_CHAR, 0, world);
  try {
    evaluator = std::make_unique<MtpForceEvaluator>(parse_mtp_potential(bytes, file));
  } catch (std::exception &e) {
    error->all(FLERR, "Pair mtp: {}", e.what());
  }
  cut_mtp = evaluator->cutoff();
  potential_file = file;
}

void PairMtp::coeff(int narg, char **arg)
{
  const int ntypes = atom->ntypes;
  if (narg < 3 || strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "Incorrect args for pair coefficients: pair_style mtp expects "
                      "'pair_coeff * * FILE s1 ... sN' (one MTP species index or NULL per atom type)");
  if (narg != 3 + ntypes)
    error->all(FLERR,
               "Pair mtp: pair_coeff * * {} needs one MTP species index (0-based) or NULL per atom "
               "type: {} given, the system has {} atom types",
               arg[2], narg - 3, ntypes);
  if (!allocated) allocate();
  read_potential(arg[2]);
  const int C = evaluator->potential().species_count;

  type_species.assign(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; t++) {
    const char *v = arg[2 + t];
    if (strcmp(v, "NULL") == 0) continue;
    const int s = utils::inumeric(FLERR, v, false, lmp);
    if (s < 0 || s >= C)
      error->all(FLERR,
                 "Pair mtp: species index {} for atom type {} is out of range: {} has "
                 "species_count {} (indices 0..{}, or NULL to leave the type out)",
                 s, t, arg[2], C, C - 1);
    type_species[t] = s;
  }
  int count = 0;
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) {
      const bool on = type_species[i] >= 0 && type_species[j] >= 0;
      setflag[i][j] = on ? 1 : 0;
      if (on) count++;
    }
  if (count == 0) error->all(FLERR, "Pair mtp: every atom type is NULL in pair_coeff");
}

void PairMtp::init_style()
{
  if (strcmp(update->unit_style, "metal") != 0)
    error->all(FLERR, "Pair mtp requires 'units metal' (MTP files are in eV and Angstrom), not "
                      "'units {}'", update->unit_style);
  if (!evaluator) error->all(FLERR, "Pair mtp: pair_coeff * * FILE ... has not been given");
  // A full list: each centre needs all its neighbours to build its site energy; a half list
  // would need a second pass over partner atoms' moments (their adjoints are per centre).
  neighbor->add_request(this, NeighConst::REQ_FULL);
}

double PairMtp::init_one(int i, int j)
{
  if (setflag[i][j] == 0) error->all(FLERR, "All pair coeffs are not set");
  return cut_mtp;
}

void PairMtp::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);

  double **x = atom->x;
  double **f = atom->f;
  const int *type = atom->type;
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  const bool newton = force->newton_pair != 0;
  const double rc2 = cut_mtp * cut_mtp;

  // With newton_pair off LAMMPS neither clears nor reverse-communicates ghost forces: collect
  // what belongs to ghosts here and send it to the owners ourselves.
  ghost_width = FORCE_W + (vflag_atom ? VATOM_W : 0) + (cvflag_atom ? CVATOM_W : 0);
  const int vatom_off = FORCE_W, cvatom_off = FORCE_W + (vflag_atom ? VATOM_W : 0);
  if (!newton) ghost_sum.assign((size_t) nall * ghost_width, 0.0);

  const int inum = list->inum;
  const int *ilist = list->ilist;
  const int *numneigh = list->numneigh;
  int **firstneigh = list->firstneigh;

  for (int ii = 0; ii < inum; ii++) {
    const int i = ilist[ii];
    const int tc = type_species[type[i]];
    if (tc < 0) continue;
    const double xi = x[i][0], yi = x[i][1], zi = x[i][2];
    const int jnum = numneigh[i];
    const int *jlist = firstneigh[i];
    if ((int) nb_species.size() < jnum) {
      nb_species.resize(jnum);
      nb_index.resize(jnum);
      nb_rij.resize(3 * (size_t) jnum);
      nb_dv.resize(3 * (size_t) jnum);
    }
    int n = 0;
    for (int jj = 0; jj < jnum; jj++) {
      const int j = jlist[jj] & NEIGHMASK;
      const int sj = type_species[type[j]];
      if (sj < 0) continue;
      const double dx = x[j][0] - xi, dy = x[j][1] - yi, dz = x[j][2] - zi;
      if (!(dx * dx + dy * dy + dz * dz < rc2)) continue;
      nb_rij[3 * n] = dx;
      nb_rij[3 * n + 1] = dy;
      nb_rij[3 * n + 2] = dz;
      nb_species[n] = sj;
      nb_index[n] = j;
      n++;
    }
    const double vi = evaluator->site(tc, n, nb_rij.data(), nb_species.data(), nb_dv.data());
    if (eflag_global) eng_vdwl += vi;
    if (eflag_atom) eatom[i] += vi;

    for (int k = 0; k < n; k++) {
      const int j = nb_index[k];
      const double *d = &nb_dv[3 * k];    // dV_i/dr_ij: +d on i, -d on j
      const double *r = &nb_rij[3 * k];
      f[i][0] += d[0];
      f[i][1] += d[1];
      f[i][2] += d[2];
      double *fj = (newton || j < nlocal) ? f[j] : &ghost_sum[(size_t) j * ghost_width];
      fj[0] -= d[0];
      fj[1] -= d[1];
      fj[2] -= d[2];
      if (!vflag_either) continue;
      // Virial of this term: sum over its two atoms of x (x) F = -r_ij (x) d.
      const double w[9] = {-r[0] * d[0], -r[1] * d[1], -r[2] * d[2],    // xx yy zz
                           -r[0] * d[1], -r[0] * d[2], -r[1] * d[2],    // xy xz yz
                           -r[1] * d[0], -r[2] * d[0], -r[2] * d[1]};   // yx zx zy
      if (vflag_global)
        for (int c = 0; c < 6; c++) virial[c] += w[c];
      if (vflag_atom) {
        // Split half and half between the two atoms, symmetrised.
        const double s[6] = {0.5 * w[0], 0.5 * w[1], 0.5 * w[2], 0.25 * (w[3] + w[6]),
                             0.25 * (w[4] + w[7]), 0.25 * (w[5] + w[8])};
        double *vj = (newton || j < nlocal) ? vatom[j] : &ghost_sum[(size_t) j * ghost_width + vatom_off];
        for (int c = 0; c < 6; c++) {
          vatom[i][c] += s[c];
          vj[c] += s[c];
        }
      }
      if (cvflag_atom) {
        // Centroid virial with the centre as reference point: atom j carries r_ij (x) F_j of
        // the term (atom i, at the reference, carries nothing). Summed over all site energies
        // this is the many-body atomic virial of Fan et al., PRB 92, 094301 (2015).
        double *cj = (newton || j < nlocal) ? cvatom[j] : &ghost_sum[(size_t) j * ghost_width + cvatom_off];
        for (int c = 0; c < 9; c++) cj[c] += w[c];
      }
    }
  }

  if (!newton) {
    comm->reverse_comm(this);
    for (int i = 0; i < nlocal; i++) {
      const double *g = &ghost_sum[(size_t) i * ghost_width];
      for (int c = 0; c < 3; c++) f[i][c] += g[c];
      if (vflag_atom)
        for (int c = 0; c < 6; c++) vatom[i][c] += g[vatom_off + c];
      if (cvflag_atom)
        for (int c = 0; c < 9; c++) cvatom[i][c] += g[cvatom_off + c];
    }
  }
}

int PairMtp::pack_reverse_comm(int n, int first, double *buf)
{
  int m = 0;
  for (int i = first; i < first + n; i++) {
    const double *g = &ghost_sum[(size_t) i * ghost_width];
    for (int c = 0; c < ghost_width; c++) buf[m++] = g[c];
  }
  return m;
}

void PairMtp::unpack_reverse_comm(int n, int *list_, double *buf)
{
  int m = 0;
  for (int k = 0; k < n; k++) {
    double *g = &ghost_sum[(size_t) list_[k] * ghost_width];
    for (int c = 0; c < ghost_width; c++) g[c] += buf[m++];
  }
}

double PairMtp::memory_usage()
{
  return Pair::memory_usage() + (double) ghost_sum.capacity() * sizeof(double) +
      (double) (nb_rij.capacity() + nb_dv.capacity()) * sizeof(double);
}

}    // namespace EIPGS
