// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs: how far ghost atoms reach, for the fixes that need atoms beyond
   the pair cutoff (MTP neighbourhoods, cluster spheres).
------------------------------------------------------------------------- */

#ifndef EIPGS_GHOST_CUTOFF_H
#define EIPGS_GHOST_CUTOFF_H

#include "comm.h"
#include "force.h"
#include "lammps.h"
#include "neighbor.h"
#include "pair.h"

#include <algorithm>

namespace EIPGS {

// The communication cutoff the coming run will use (doc/design/plugin.md §4). comm->get_comm_cutoff()
// still returns 0 inside Fix::init() of the first run (neighbor->init() runs after modify->init()),
// hence the formula: max(pair cutoff + skin, comm_modify cutoff).
inline double ghost_cutoff(LAMMPS_NS::LAMMPS *lmp)
{
  double cutghost = lmp->comm->cutghostuser;
  if (lmp->force->pair) cutghost = std::max(cutghost, lmp->force->pair->cutforce + lmp->neighbor->skin);
  return cutghost;
}

}    // namespace EIPGS

#endif
