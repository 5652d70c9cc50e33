// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs_info: prints the plugin version, the LAMMPS version it was built
   for, and the styles it registers.
------------------------------------------------------------------------- */

#ifndef EIPGS_COMMAND_EIPGS_INFO_H
#define EIPGS_COMMAND_EIPGS_INFO_H

#include "command.h"

namespace EIPGS {

class CommandEipgsInfo : public LAMMPS_NS::Command {
 public:
  CommandEipgsInfo(LAMMPS_NS::LAMMPS *lmp) : Command(lmp) {}
  void command(int narg, char **arg) override;
};

}    // namespace EIPGS

#endif
