// SPDX-License-Identifier: GPL-2.0-only
// Registration entry point of eipgsplugin.so: nothing else lives here.

#include "lammpsplugin_abi.h"

#include "command_eipgs_info.h"
#include "eipgs_styles.h"

#include "error.h"
#include "lammps.h"

#include <cstring>
#include <string>

using namespace LAMMPS_NS;

namespace {

// The version string LAMMPS compares with its own; a mismatch only prints an info line, so we
// also warn explicitly below (there is no ABI check in LAMMPS itself).
const char *const built_for = EIPGS_LAMMPS_VERSION;

template <class T> void *create_command(void *lmp)
{
  return new T(static_cast<LAMMPS *>(lmp));
}

}    // namespace

extern "C" __attribute__((visibility("default"))) void lammpsplugin_init(void *lmpptr, void *handle,
                                                                         void *regfunc)
{
  auto *lmp = static_cast<LAMMPS *>(lmpptr);
  auto register_style = reinterpret_cast<lammpsplugin_regfunc>(regfunc);

  if ((std::strcmp(built_for, "unknown") != 0) && (std::strcmp(built_for, lmp->version) != 0))
    lmp->error->warning(FLERR,
                        "eipgs plugin was built for LAMMPS version '{}' but is loaded into LAMMPS "
                        "version '{}'. Rebuild it against this LAMMPS (see the eipgs README, "
                        "'Building against your own LAMMPS'): class layouts may differ.",
                        built_for, lmp->version);

  lammpsplugin_t plugin{};
  plugin.version = built_for;
  plugin.author = "eipgs developers";
  plugin.handle = handle;

  plugin.style = "command";
  plugin.name = "eipgs_info";
  plugin.info = "eipgs_info command: eipgs plugin version and styles";
  plugin.creator.v1 = &create_command<EIPGS::CommandEipgsInfo>;
  (*register_style)(&plugin, lmp);

  for (const auto &style : EIPGS::fix_styles()) {
    plugin.style = "fix";
    plugin.name = style.name;
    plugin.info = style.info;
    plugin.creator.v2 = style.factory;
    (*register_style)(&plugin, lmp);
  }

  for (const auto &style : EIPGS::pair_styles()) {
    plugin.style = "pair";
    plugin.name = style.name;
    plugin.info = style.info;
    plugin.creator.v1 = style.factory;
    (*register_style)(&plugin, lmp);
  }
}

// Styles this plugin registers, one "category name" per line, for `eipgs info` (read via ctypes).
extern "C" __attribute__((visibility("default"))) const char *eipgs_registered_styles()
{
  static std::string list;
  if (list.empty()) {
    list = "command eipgs_info\n";
    for (const auto &style : EIPGS::fix_styles()) list += std::string("fix ") + style.name + "\n";
    for (const auto &style : EIPGS::pair_styles()) list += std::string("pair ") + style.name + "\n";
  }
  return list.c_str();
}

// The LAMMPS version the plugin was compiled for.
extern "C" __attribute__((visibility("default"))) const char *eipgs_built_for_lammps()
{
  return built_for;
}
