// SPDX-License-Identifier: GPL-2.0-only
#include "eipgs_styles.h"

#include "fix_cluster_sample.h"
#include "fix_gcmc_pcc.h"
#include "fix_mtp_grade.h"
#include "pair_mtp.h"

#include "lammps.h"

using namespace LAMMPS_NS;

namespace {
template <class T> void *create_fix(void *lmp, int narg, char **arg)
{
  return new T(static_cast<LAMMPS *>(lmp), narg, arg);
}
template <class T> void *create_pair(void *lmp)
{
  return new T(static_cast<LAMMPS *>(lmp));
}
}    // namespace

namespace EIPGS {

const std::vector<FixStyle> &fix_styles()
{
  static const std::vector<FixStyle> styles = {
      {"mtp/grade", "fix mtp/grade: MLIP-3 extrapolation grades of an MTP active set", &create_fix<FixMtpGrade>},
      {"cluster/sample", "fix cluster/sample: non-periodic clusters around high-grade atoms", &create_fix<FixClusterSample>},
      {"gcmc/pcc", "fix gcmc/pcc: grand-canonical filling of a periodic cell around a frozen core",
       &create_fix<FixGcmcPcc>},
  };
  return styles;
}

const std::vector<PairStyle> &pair_styles()
{
  static const std::vector<PairStyle> styles = {
      {"mtp", "pair_style mtp: MLIP-3 Moment Tensor Potential (.mtp/.almtp)", &create_pair<PairMtp>},
  };
  return styles;
}

}    // namespace EIPGS
