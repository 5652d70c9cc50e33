#include "eipgs_styles.h"

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
  };
  return styles;
}

}    // namespace EIPGS
