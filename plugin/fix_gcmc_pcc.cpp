// SPDX-License-Identifier: GPL-2.0-only
/* ----------------------------------------------------------------------
   eipgs: fix gcmc/pcc (see fix_gcmc_pcc.h and doc/fix_gcmc_pcc.md).

   Implemented from the grand-canonical acceptance rules and the full-energy
   sequence described in doc/design/plugin.md §9 and doc/design/pcc.md §8, §10, §12;
   insertion and deletion through the header-free routes of doc/design/plugin.md
   §8, random numbers from our own generator (eipgs_random.h).
------------------------------------------------------------------------- */

#include "fix_gcmc_pcc.h"

#include "eipgs_random.h"

#include "atom.h"
#include "comm.h"
#include "compute.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "group.h"
#include "kspace.h"
#include "library.h"
#include "modify.h"
#include "neighbor.h"
#include "pair.h"
#include "timer.h"
#include "update.h"
#include "utils.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace LAMMPS_NS;
using namespace FixConst;

namespace {
constexpr double MY_PI = 3.14159265358979323846;
// an energy above this (or not finite) is an overlap: the trial is rejected outright
constexpr double ENERGY_HUGE = 1.0e50;
}    // namespace

namespace EIPGS {

/* ---------------------------------------------------------------------- */

FixGcmcPcc::FixGcmcPcc(LAMMPS *lmp, int narg, char **arg) :
    Fix(lmp, narg, arg), coregroup(-1), corebit(0), centergroup(-1), centerbit(0),
    center_radius(0.0), overlap_dmin(0.0), max_atoms(140), saturate_k(0), displace(0.3),
    translate_fraction(0.5), c_pe(nullptr), beta(0.0), zz(0.0), sigma_v(0.0), volume(0.0),
    energy_stored(0.0), ngas(0), ninsert_attempts(0.0), ninsert_successes(0.0),
    ndelete_attempts(0.0), ndelete_successes(0.0), ntranslate_attempts(0.0),
    ntranslate_successes(0.0), pe_per_atom(0.0), fresh_run(true), saturated(0),
    rejected_in_row(0), attempts_since_growth(0), ngas_max(0)
{
  if (narg < 9)
    error->all(FLERR,
               "Illegal fix gcmc/pcc command: expected fix ID group gcmc/pcc N M itype seed T mu "
               "[keyword value ...]");
  if (!domain->box_exist)
    error->all(FLERR, "Fix gcmc/pcc: the simulation box must be defined before the fix");
  if (domain->dimension != 3) error->all(FLERR, "Fix gcmc/pcc requires a 3d simulation");

  nevery_mc = utils::inumeric(FLERR, arg[3], false, lmp);
  ntrials = utils::inumeric(FLERR, arg[4], false, lmp);
  itype = utils::inumeric(FLERR, arg[5], false, lmp);
  const bigint seed_in = utils::bnumeric(FLERR, arg[6], false, lmp);
  temperature = utils::numeric(FLERR, arg[7], false, lmp);
  mu = utils::numeric(FLERR, arg[8], false, lmp);

  if (nevery_mc <= 0) error->all(FLERR, "Fix gcmc/pcc: N = {} must be > 0", nevery_mc);
  if (ntrials < 0) error->all(FLERR, "Fix gcmc/pcc: M = {} must be >= 0", ntrials);
  if (itype < 1 || itype > atom->ntypes)
    error->all(FLERR, "Fix gcmc/pcc: itype {} is not an atom type (1..{})", itype, atom->ntypes);
  if (seed_in <= 0) error->all(FLERR, "Fix gcmc/pcc: seed {} must be > 0", seed_in);
  if (!(temperature > 0.0))
    error->all(FLERR, "Fix gcmc/pcc: temperature T = {} must be > 0", temperature);
  seed = static_cast<std::uint64_t>(seed_in);

  int iarg = 9;
  while (iarg < narg) {
    const std::string key = arg[iarg];
    auto need = [&](int n) {
      if (iarg + n >= narg) error->all(FLERR, "Fix gcmc/pcc: keyword {} needs {} value(s)", key, n);
    };
    if (key == "core") {
      need(1);
      coregroup = group->find(arg[iarg + 1]);
      if (coregroup < 0)
        error->all(FLERR, "Fix gcmc/pcc: core group {} does not exist", arg[iarg + 1]);
      corebit = group->bitmask[coregroup];
      iarg += 2;
    } else if (key == "center") {
      need(2);
      centergroup = group->find(arg[iarg + 1]);
      if (centergroup < 0)
        error->all(FLERR, "Fix gcmc/pcc: center group {} does not exist", arg[iarg + 1]);
      centerbit = group->bitmask[centergroup];
      center_radius = utils::numeric(FLERR, arg[iarg + 2], false, lmp);
      if (center_radius < 0.0)
        error->all(FLERR, "Fix gcmc/pcc: center radius {} must be >= 0", center_radius);
      iarg += 3;
    } else if (key == "overlap") {
      need(1);
      overlap_dmin = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (overlap_dmin < 0.0)
        error->all(FLERR, "Fix gcmc/pcc: overlap distance {} must be >= 0", overlap_dmin);
      iarg += 2;
    } else if (key == "max_atoms") {
      need(1);
      max_atoms = utils::bnumeric(FLERR, arg[iarg + 1], false, lmp);
      if (max_atoms < 0) error->all(FLERR, "Fix gcmc/pcc: max_atoms {} must be >= 0", max_atoms);
      iarg += 2;
    } else if (key == "saturate") {
      need(1);
      saturate_k = utils::bnumeric(FLERR, arg[iarg + 1], false, lmp);
      if (saturate_k < 0) error->all(FLERR, "Fix gcmc/pcc: saturate {} must be >= 0", saturate_k);
      iarg += 2;
    } else if (key == "displace") {
      need(1);
      displace = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (displace < 0.0) error->all(FLERR, "Fix gcmc/pcc: displace {} must be >= 0", displace);
      iarg += 2;
    } else if (key == "translate") {
      need(1);
      translate_fraction = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (translate_fraction < 0.0 || translate_fraction >= 1.0)
        error->all(FLERR, "Fix gcmc/pcc: translate fraction {} must be in [0, 1)",
                   translate_fraction);
      iarg += 2;
    } else {
      error->all(FLERR,
                 "Fix gcmc/pcc: unknown keyword {} (known: core, center, overlap, max_atoms, "
                 "saturate, displace, translate)",
                 key);
    }
  }
  if (displace == 0.0) translate_fraction = 0.0;

  random = std::make_unique<Random>(seed);

  vector_flag = 1;
  size_vector = 9;
  global_freq = 1;
  extvector = 0;
  force_reneighbor = 1;
  next_reneighbor = update->ntimestep + 1;
}

FixGcmcPcc::~FixGcmcPcc() = default;

int FixGcmcPcc::setmask()
{
  return PRE_EXCHANGE;
}

/* ---------------------------------------------------------------------- */

void FixGcmcPcc::init()
{
  if (!force->pair)
    error->all(FLERR, "Fix gcmc/pcc needs a pair style: acceptance uses the full potential energy");
  if (atom->molecular != Atom::ATOMIC)
    error->all(FLERR, "Fix gcmc/pcc supports atomic systems only (no bonds or molecules)");
  if (atom->rmass_flag)
    error->all(FLERR, "Fix gcmc/pcc: per-atom masses (rmass) are not supported; use per-type mass");
  if (!atom->mass || !atom->mass_setflag[itype])
    error->all(FLERR, "Fix gcmc/pcc: the mass of itype {} is not set", itype);
  if (atom->tag_enable == 0) error->all(FLERR, "Fix gcmc/pcc requires atom IDs");
  if (domain->xperiodic == 0 || domain->yperiodic == 0 || domain->zperiodic == 0)
    error->all(FLERR, "Fix gcmc/pcc requires a fully periodic box (it builds periodic cells)");

  // the core must stay a different species from the inserted one, otherwise the
  // "inserted count" and the species check of doc/design/pcc.md §11 become meaningless
  if (coregroup >= 0) {
    int bad = 0;
    for (int i = 0; i < atom->nlocal; ++i)
      if ((atom->mask[i] & corebit) && atom->type[i] == itype) bad = 1;
    int anybad = 0;
    MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, world);
    if (anybad)
      error->all(FLERR,
                 "Fix gcmc/pcc: itype {} equals the type of atoms in core group {}; give the "
                 "inserted atoms their own type",
                 itype, group->names[coregroup]);
  }
  if (centergroup >= 0 && group->count(centergroup) == 0)
    error->all(FLERR, "Fix gcmc/pcc: center group {} has no atoms", group->names[centergroup]);

  c_pe = modify->get_compute_by_id("thermo_pe");
  if (!c_pe) error->all(FLERR, "Fix gcmc/pcc: compute thermo_pe is missing");

  // doc/design/plugin.md §9.3: beta, de Broglie wavelength, activity zz, velocity width
  beta = 1.0 / (force->boltz * temperature);
  const double mass = atom->mass[itype];
  if (strcmp(update->unit_style, "lj") == 0) {
    zz = std::exp(beta * mu);
  } else {
    const double lambda = std::sqrt(force->hplanck * force->hplanck /
                                    (2.0 * MY_PI * mass * force->mvv2e * force->boltz * temperature));
    zz = std::exp(beta * mu) / (lambda * lambda * lambda);
  }
  sigma_v = std::sqrt(force->boltz * temperature / (mass * force->mvv2e));

  fresh_run = true;
  next_reneighbor = update->ntimestep + 1;
  ngas = count_candidates();    // collective here, so compute_vector() needs no communication
}

/* ---------------------------------------------------------------------- */

void FixGcmcPcc::pre_exchange()
{
  if (next_reneighbor != update->ntimestep) return;
  next_reneighbor = update->ntimestep + nevery_mc;

  if (fresh_run) {
    fresh_run = false;
    saturated = 0;
    rejected_in_row = attempts_since_growth = 0;
    ngas_max = count_candidates();
  }
  if (saturated) return;

  volume = domain->xprd * domain->yprd * domain->zprd;
  energy_stored = energy_full();
  ngas = count_candidates();

  for (int trial = 0; trial < ntrials; ++trial) {
    const double r = random->uniform();
    if (r < translate_fraction)
      attempt_translation();
    else if (r < translate_fraction + 0.5 * (1.0 - translate_fraction))
      attempt_insertion();
    else
      attempt_deletion();

    // saturation (doc/design/pcc.md §12): no room for one more atom for K insertion attempts
    if (saturate_k > 0 && rejected_in_row >= saturate_k && attempts_since_growth >= saturate_k) {
      saturated = 1;
      break;
    }
  }

  reneighbor_all();
  pe_per_atom = (atom->natoms > 0) ? energy_stored / static_cast<double>(atom->natoms) : 0.0;

  if (saturated) {
    if (comm->me == 0)
      utils::logmesg(lmp,
                     "Fix gcmc/pcc {}: saturated on step {} ({} consecutive insertion attempts "
                     "rejected): {} inserted atoms, {} atoms, pe/atom {:.6f}\n",
                     id, update->ntimestep, rejected_in_row, ngas, atom->natoms, pe_per_atom);
    // every rank took the same decision from the shared stream: stop like fix halt (§7)
    timer->force_timeout();
  }
}

void FixGcmcPcc::post_run()
{
  // "continue" semantics of fix halt: later runs and minimizations work normally
  if (saturated) timer->reset_timeout();
  // one summary line per run that did Monte Carlo (minimizations call post_run too)
  if (comm->me == 0 && !fresh_run)
    utils::logmesg(lmp,
                   "Fix gcmc/pcc {}: insertions {:.0f}/{:.0f}, deletions {:.0f}/{:.0f}, "
                   "translations {:.0f}/{:.0f} accepted; {} inserted atoms; saturated {}\n",
                   id, ninsert_successes, ninsert_attempts, ndelete_successes, ndelete_attempts,
                   ntranslate_successes, ntranslate_attempts, ngas, saturated);
}

double FixGcmcPcc::compute_vector(int n)
{
  switch (n) {
    case 0: return ninsert_attempts;
    case 1: return ninsert_successes;
    case 2: return ndelete_attempts;
    case 3: return ndelete_successes;
    case 4: return ntranslate_attempts;
    case 5: return ntranslate_successes;
    case 6: return static_cast<double>(ngas);
    case 7: return static_cast<double>(saturated);
    case 8: return pe_per_atom;
    default: return 0.0;
  }
}

/* ----------------------------------------------------------------------
   Metropolis test with a log-probability, drawn from the shared stream
------------------------------------------------------------------------- */

bool FixGcmcPcc::accept(double log_probability)
{
  const double u = random->uniform();
  if (std::isnan(log_probability)) return false;
  if (log_probability >= 0.0) return true;
  return u < std::exp(log_probability);
}

/* ----------------------------------------------------------------------
   insertion at a uniformly random point of the box (doc/design/plugin.md §9.4, §8.1):
   accept with zz V exp(-beta dE) / (N + 1)
------------------------------------------------------------------------- */

void FixGcmcPcc::attempt_insertion()
{
  ninsert_attempts += 1.0;
  ++rejected_in_row;
  ++attempts_since_growth;

  // all draws happen before any early return so the stream does not depend on the outcome
  double lamda[3], xtrial[3], vtrial[3];
  for (double &l : lamda) l = random->uniform();
  for (double &v : vtrial) v = sigma_v * random->gaussian();

  if (max_atoms > 0 && atom->natoms >= max_atoms) return;

  if (domain->triclinic) {
    domain->lamda2x(lamda, xtrial);
  } else {
    for (int d = 0; d < 3; ++d) xtrial[d] = domain->boxlo[d] + lamda[d] * domain->prd[d];
  }
  // overlap and the protected sphere are hard walls: infinite energy, rejected before any work
  if (!position_allowed(xtrial, 0)) return;

  // ghosts live right after the owned atoms: drop them so the new atom does not overwrite one
  // and the map rebuild inside lammps_create_atoms() sees no stale entries
  atom->nghost = 0;
  const int nlocal_before = atom->nlocal;
  const int added = lammps_create_atoms(lmp, 1, nullptr, &itype, xtrial, vtrial, nullptr, 0);
  if (added != 1)
    error->all(FLERR, "Fix gcmc/pcc: inserting an atom at ({}, {}, {}) failed", xtrial[0],
               xtrial[1], xtrial[2]);
  tagint newtag = 0;
  if (atom->nlocal > nlocal_before) {
    const int i = atom->nlocal - 1;
    atom->mask[i] |= groupbit;
    newtag = atom->tag[i];
  }
  tagint tag_all = 0;
  MPI_Allreduce(&newtag, &tag_all, 1, MPI_LMP_TAGINT, MPI_MAX, world);

  const double energy_after = energy_full();
  const double de = energy_after - energy_stored;
  const bool ok = std::isfinite(energy_after) && energy_after < ENERGY_HUGE &&
      accept(std::log(zz * volume / static_cast<double>(ngas + 1)) - beta * de);
  if (ok) {
    energy_stored = energy_after;
    ninsert_successes += 1.0;
    ++ngas;
    rejected_in_row = 0;
    if (ngas > ngas_max) {
      ngas_max = ngas;
      attempts_since_growth = 0;
    }
  } else {
    remove_atom_by_tag(tag_all);
  }
}

/* ----------------------------------------------------------------------
   deletion of an inserted atom: accept with N exp(-beta dE) / (zz V).
   The atom is removed for real (exact for many-body potentials) and re-created
   with its tag, position, velocity, image and per-atom fix data when rejected.
------------------------------------------------------------------------- */

void FixGcmcPcc::attempt_deletion()
{
  ndelete_attempts += 1.0;
  if (ngas == 0) return;
  const tagint tag = pick_candidate();

  // the owner packs everything needed to restore the atom; all ranks get a copy, because
  // whoever owns the re-created atom's position must unpack it
  std::vector<double> buf;
  double state[8] = {0.0};    // x[3], v[3], mask, q
  imageint image = 0;
  int owner = 0;
  for (int i = 0; i < atom->nlocal; ++i) {
    if (atom->tag[i] != tag) continue;
    owner = comm->me + 1;
    for (int d = 0; d < 3; ++d) {
      state[d] = atom->x[i][d];
      state[3 + d] = atom->v[i][d];
    }
    state[6] = atom->mask[i];
    if (atom->q_flag) state[7] = atom->q[i];
    image = atom->image[i];
    for (int k = 0; k < atom->nextra_grow; ++k) {
      double packed[4096];    // generous: per-atom fix data of one atom
      const int n = modify->fix[atom->extra_grow[k]]->pack_exchange(i, packed);
      buf.push_back(n);
      buf.insert(buf.end(), packed, packed + n);
    }
    remove_local(i);
    break;
  }
  int owner_all = 0;
  MPI_Allreduce(&owner, &owner_all, 1, MPI_INT, MPI_MAX, world);
  if (owner_all == 0) error->all(FLERR, "Fix gcmc/pcc: inserted atom {} not found", tag);
  const int root = owner_all - 1;
  MPI_Bcast(state, 8, MPI_DOUBLE, root, world);
  MPI_Bcast(&image, 1, MPI_LMP_IMAGEINT, root, world);
  int nbuf = static_cast<int>(buf.size());
  MPI_Bcast(&nbuf, 1, MPI_INT, root, world);
  buf.resize(nbuf);
  if (nbuf) MPI_Bcast(buf.data(), nbuf, MPI_DOUBLE, root, world);
  atom->natoms--;
  after_natoms_change();

  const double energy_after = energy_full();
  const double de = energy_after - energy_stored;
  const bool ok = std::isfinite(energy_after) &&
      accept(std::log(static_cast<double>(ngas) / (zz * volume)) - beta * de);
  if (ok) {
    energy_stored = energy_after;
    ndelete_successes += 1.0;
    --ngas;
    return;
  }

  // rejected: re-create the atom exactly as it was
  atom->nghost = 0;
  const int nlocal_before = atom->nlocal;
  const int type = itype;
  const int added = lammps_create_atoms(lmp, 1, &tag, &type, state, state + 3, &image, 0);
  if (added != 1) error->all(FLERR, "Fix gcmc/pcc: restoring atom {} failed", tag);
  if (atom->nlocal > nlocal_before) {
    const int i = atom->nlocal - 1;
    atom->mask[i] = static_cast<int>(state[6]);
    if (atom->q_flag) atom->q[i] = state[7];
    std::size_t pos = 0;
    for (int k = 0; k < atom->nextra_grow; ++k) {
      const int n = static_cast<int>(buf[pos]);
      modify->fix[atom->extra_grow[k]]->unpack_exchange(i, &buf[pos + 1]);
      pos += 1 + n;
    }
  }
}

/* ----------------------------------------------------------------------
   translation of an inserted atom, uniformly in a sphere of radius displace:
   accept with exp(-beta dE)
------------------------------------------------------------------------- */

void FixGcmcPcc::attempt_translation()
{
  ntranslate_attempts += 1.0;
  if (ngas == 0) return;
  const tagint tag = pick_candidate();
  double dx[3], rsq;
  do {
    for (double &c : dx) c = 2.0 * random->uniform() - 1.0;
    rsq = dx[0] * dx[0] + dx[1] * dx[1] + dx[2] * dx[2];
  } while (rsq > 1.0);
  for (double &c : dx) c *= displace;

  double old[3] = {0.0, 0.0, 0.0}, found = 0.0;
  imageint oldimage = 0;
  int ilocal = -1;
  for (int i = 0; i < atom->nlocal; ++i)
    if (atom->tag[i] == tag) {
      ilocal = i;
      for (int d = 0; d < 3; ++d) old[d] = atom->x[i][d];
      oldimage = atom->image[i];
      found = 1.0;
    }
  double mine[4] = {old[0], old[1], old[2], found}, all[4];
  MPI_Allreduce(mine, all, 4, MPI_DOUBLE, MPI_SUM, world);
  if (all[3] != 1.0) error->all(FLERR, "Fix gcmc/pcc: inserted atom {} not found", tag);
  imageint image_all = 0;
  MPI_Allreduce(&oldimage, &image_all, 1, MPI_LMP_IMAGEINT, MPI_SUM, world);
  double xnew[3] = {all[0] + dx[0], all[1] + dx[1], all[2] + dx[2]};
  double xcheck[3] = {xnew[0], xnew[1], xnew[2]};
  domain->remap(xcheck);
  if (!position_allowed(xcheck, tag)) return;

  if (ilocal >= 0)
    for (int d = 0; d < 3; ++d) atom->x[ilocal][d] = xnew[d];

  const double energy_after = energy_full();
  const bool ok =
      std::isfinite(energy_after) && energy_after < ENERGY_HUGE &&
      accept(-beta * (energy_after - energy_stored));
  if (ok) {
    energy_stored = energy_after;
    ntranslate_successes += 1.0;
    return;
  }
  // energy_full() may have migrated the atom: whoever owns it now restores it
  for (int i = 0; i < atom->nlocal; ++i)
    if (atom->tag[i] == tag) {
      for (int d = 0; d < 3; ++d) atom->x[i][d] = all[d];
      atom->image[i] = image_all;
    }
}

/* ----------------------------------------------------------------------
   total potential energy of the current configuration (doc/design/plugin.md §9.6)
------------------------------------------------------------------------- */

void FixGcmcPcc::reneighbor_all()
{
  if (domain->triclinic) domain->x2lamda(atom->nlocal);
  domain->pbc();
  comm->exchange();
  atom->nghost = 0;
  comm->borders();
  if (domain->triclinic) domain->lamda2x(atom->nlocal + atom->nghost);
}

double FixGcmcPcc::energy_full()
{
  reneighbor_all();
  if (modify->n_pre_neighbor) modify->pre_neighbor();
  neighbor->build(1);

  const int eflag = 1, vflag = 0;
  const int nall = atom->nlocal + atom->nghost;
  if (nall > 0) std::memset(&atom->f[0][0], 0, sizeof(double) * 3 * nall);
  if (modify->n_pre_force) modify->pre_force(vflag);
  force->pair->compute(eflag, vflag);
  if (force->kspace) force->kspace->compute(eflag, vflag);
  if (modify->n_post_force_any) modify->post_force(vflag);

  update->eflag_global = update->ntimestep;
  return c_pe->compute_scalar();
}

/* ----------------------------------------------------------------------
   helpers
------------------------------------------------------------------------- */

bool FixGcmcPcc::is_candidate(int i) const
{
  return (atom->mask[i] & groupbit) && atom->type[i] == itype && !(atom->mask[i] & corebit);
}

bigint FixGcmcPcc::count_candidates() const
{
  bigint n = 0, nall = 0;
  for (int i = 0; i < atom->nlocal; ++i)
    if (is_candidate(i)) ++n;
  MPI_Allreduce(&n, &nall, 1, MPI_LMP_BIGINT, MPI_SUM, world);
  return nall;
}

// the k-th inserted atom in tag order, k from the shared stream: the same atom on any
// number of ranks, whatever the local storage order
tagint FixGcmcPcc::pick_candidate()
{
  std::vector<tagint> mine;
  for (int i = 0; i < atom->nlocal; ++i)
    if (is_candidate(i)) mine.push_back(atom->tag[i]);
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(comm->nprocs), displs(comm->nprocs, 0);
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, world);
  int total = 0;
  for (int p = 0; p < comm->nprocs; ++p) {
    displs[p] = total;
    total += counts[p];
  }
  std::vector<tagint> tags(total);
  MPI_Allgatherv(mine.data(), n, MPI_LMP_TAGINT, tags.data(), counts.data(), displs.data(),
                 MPI_LMP_TAGINT, world);
  std::sort(tags.begin(), tags.end());
  if (total != ngas) error->all(FLERR, "Fix gcmc/pcc: internal count mismatch ({} vs {})", total, ngas);
  return tags[random->below(static_cast<std::uint64_t>(total))];
}

// hard walls: no atom closer than dmin, no inserted atom within R of a centre atom
// (doc/design/pcc.md §10, condition 3); minimum image, so periodic images count too
bool FixGcmcPcc::position_allowed(const double *xtrial, tagint skip) const
{
  const double dminsq = overlap_dmin * overlap_dmin;
  const double rcsq = center_radius * center_radius;
  int bad = 0;
  for (int i = 0; i < atom->nlocal && !bad; ++i) {
    if (skip && atom->tag[i] == skip) continue;
    double dx = xtrial[0] - atom->x[i][0];
    double dy = xtrial[1] - atom->x[i][1];
    double dz = xtrial[2] - atom->x[i][2];
    domain->minimum_image(FLERR, dx, dy, dz);
    const double rsq = dx * dx + dy * dy + dz * dz;
    if (rsq < dminsq) bad = 1;
    if ((atom->mask[i] & centerbit) && rsq < rcsq) bad = 1;
  }
  int anybad = 0;
  MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, world);
  return anybad == 0;
}

void FixGcmcPcc::remove_atom_by_tag(tagint tag)
{
  for (int i = 0; i < atom->nlocal; ++i)
    if (atom->tag[i] == tag) {
      remove_local(i);
      break;
    }
  atom->natoms--;
  after_natoms_change();
}

// doc/design/plugin.md §8.2 route (A): copy the last local atom into slot i through the public
// per-atom table and the fixes' copy_arrays, then shrink nlocal
void FixGcmcPcc::remove_local(int i)
{
  const int last = atom->nlocal - 1;
  if (i != last) {
    for (const auto &pa : atom->peratom) {
      if (!pa.address || pa.cols < 0 || pa.collength) continue;
      if (pa.datatype == Atom::DOUBLE) {
        if (pa.cols == 0) {
          double *v = *static_cast<double **>(pa.address);
          if (v) v[i] = v[last];
        } else {
          double **a = *static_cast<double ***>(pa.address);
          if (a) std::memcpy(a[i], a[last], sizeof(double) * pa.cols);
        }
      } else if (pa.datatype == Atom::INT) {
        if (pa.cols == 0) {
          int *v = *static_cast<int **>(pa.address);
          if (v) v[i] = v[last];
        } else {
          int **a = *static_cast<int ***>(pa.address);
          if (a) std::memcpy(a[i], a[last], sizeof(int) * pa.cols);
        }
      } else if (pa.datatype == Atom::BIGINT) {
        if (pa.cols == 0) {
          bigint *v = *static_cast<bigint **>(pa.address);
          if (v) v[i] = v[last];
        } else {
          bigint **a = *static_cast<bigint ***>(pa.address);
          if (a) std::memcpy(a[i], a[last], sizeof(bigint) * pa.cols);
        }
      }
    }
    for (int k = 0; k < atom->nextra_grow; ++k)
      modify->fix[atom->extra_grow[k]]->copy_arrays(last, i, 1);
  }
  atom->nlocal--;
}

void FixGcmcPcc::after_natoms_change()
{
  atom->nghost = 0;    // ghost data is stale after a removal; energy_full() rebuilds it
  if (atom->map_style != Atom::MAP_NONE) {
    atom->map_init();
    atom->map_set();
  }
}

}    // namespace EIPGS
