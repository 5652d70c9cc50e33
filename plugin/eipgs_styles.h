// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs: the tables of fix and pair styles this plugin registers. Adding a
   style means adding one row in eipgs_styles.cpp.
------------------------------------------------------------------------- */

#ifndef EIPGS_STYLES_H
#define EIPGS_STYLES_H

#include "lammpsplugin_abi.h"

#include <vector>

namespace EIPGS {

struct FixStyle {
  const char *name;
  const char *info;
  lammpsplugin_factory2 factory;
};

const std::vector<FixStyle> &fix_styles();

struct PairStyle {
  const char *name;
  const char *info;
  lammpsplugin_factory1 factory;
};

const std::vector<PairStyle> &pair_styles();

}    // namespace EIPGS

#endif
