// SPDX-License-Identifier: GPL-2.0-only
#include "command_eipgs_info.h"

#include "eipgs_styles.h"

#include "comm.h"
#include "error.h"
#include "lammps.h"
#include "utils.h"

using namespace LAMMPS_NS;

namespace EIPGS {

void CommandEipgsInfo::command(int narg, char ** /*arg*/)
{
  if (narg != 0) error->all(FLERR, "Illegal eipgs_info command: it takes no arguments");
  if (comm->me != 0) return;
  std::string text =
      fmt::format("eipgs plugin {} built for LAMMPS '{}', running in LAMMPS '{}' on {} MPI rank(s)\n",
                  EIPGS_VERSION, EIPGS_LAMMPS_VERSION, lmp->version, comm->nprocs);
  text += "  command eipgs_info\n";
  for (const auto &style : fix_styles()) text += fmt::format("  fix {}: {}\n", style.name, style.info);
  utils::logmesg(lmp, text);
}

}    // namespace EIPGS
