/* -*- c++ -*- ----------------------------------------------------------
   eipgs: the table of fix styles this plugin registers. Adding a fix style
   means adding one row in eipgs_styles.cpp.
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

}    // namespace EIPGS

#endif
