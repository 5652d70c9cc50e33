#include "eipgs_styles.h"

#include "fix_cluster_sample.h"
#include "lammps.h"

using namespace LAMMPS_NS;

namespace {
template <class T> void *create_fix(void *lmp, int narg, char **arg)
{
  return new T(static_cast<LAMMPS *>(lmp), narg, arg);
}
}    // namespace

namespace EIPGS {

const std::vector<FixStyle> &fix_styles()
{
  static const std::vector<FixStyle> styles = {
      {"cluster/sample", "fix cluster/sample: non-periodic clusters around high-grade atoms", &create_fix<FixClusterSample>},
  };
  return styles;
}

}    // namespace EIPGS
