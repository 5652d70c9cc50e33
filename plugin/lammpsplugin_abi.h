// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs: our own declaration of the LAMMPS plugin registration ABI.

   lammpsplugin.h is not among LAMMPS's installed headers, so the layout is
   declared here from the plugin documentation (see doc/building.md): seven
   pointer-sized members, stable since 2021.
------------------------------------------------------------------------- */

#ifndef EIPGS_LAMMPSPLUGIN_ABI_H
#define EIPGS_LAMMPSPLUGIN_ABI_H

extern "C" {

typedef void *(*lammpsplugin_factory1)(void *lmp);
typedef void *(*lammpsplugin_factory2)(void *lmp, int narg, char **arg);

typedef struct {
  const char *version;    // LAMMPS version the plugin was built for
  const char *style;      // "fix", "compute", "command", ...
  const char *name;       // style name
  const char *info;       // one line printed at load time
  const char *author;
  union {
    lammpsplugin_factory1 v1;    // pair, command, ...: takes the LAMMPS pointer
    lammpsplugin_factory2 v2;    // fix, compute, region: LAMMPS pointer, argc, argv
  } creator;
  void *handle;
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
}

#endif
