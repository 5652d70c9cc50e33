// SPDX-License-Identifier: GPL-2.0-only
// eipgs-core-check: exercises the LAMMPS-independent MTP core on its own (used by the tests).
//
//   eipgs-core-check info FILE.almtp
//       counts, m, mode, unfilled rows, configurations, max |A S^T - I|
//   eipgs-core-check grade FILE.almtp NEIGHBOURHOODS.txt
//       per neighbourhood: "atom <i> gamma <g> energy <V>" and "b <m values>" (%.17g)
//   eipgs-core-check swap FILE.almtp NEIGHBOURHOODS.txt THRESHOLD OUT.almtp
//       MaxVol: swap each neighbourhood's row in if max|c| > THRESHOLD, write OUT.almtp
//   eipgs-core-check selftest [FILE.almtp]
//       Sherman-Morrison swaps vs re-inversion on random matrices; with a file also the radial
//       basis closed forms, finite-difference gradient and rotation/permutation invariance.
//   eipgs-core-check forcetest FILE.mtp|FILE.almtp
//       site energies and dV/dr_ij of the force sweep (pair_style mtp) vs the grade evaluator's
//       energy, central finite differences of positions and of a homogeneous strain (virial)
//   eipgs-core-check forcebench FILE [N_NEIGHBOURHOODS [N_NEIGHBOURS]]
//       microseconds per site energy + gradient
//
// Neighbourhood text format: lines "atom <species> <n>", each followed by n lines
// "<species> <dx> <dy> <dz>" (neighbour position minus centre position, Angstrom); '#' starts a
// comment. Species are 0-based indices into the potential's species list.
//
// Exit status: 0 success, 1 check failed, 2 bad input (message on stderr).

#include "mtp/active_set.h"
#include "mtp/mtp_forces.h"
#include "mtp/mtp_potential.h"

#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace EIPGS;

namespace {

struct Neighbourhood {
  int species;
  std::vector<double> rij;
  std::vector<int> sp;
};

std::vector<Neighbourhood> read_neighbourhoods(const std::string &path, int species_count)
{
  std::ifstream f(path);
  if (!f) throw AlmtpError("cannot open neighbourhood file '" + path + "'");
  std::vector<Neighbourhood> out;
  std::string line;
  int lineno = 0;
  auto next_line = [&](std::string &l) {
    while (std::getline(f, l)) {
      lineno++;
      size_t h = l.find('#');
      if (h != std::string::npos) l.resize(h);
      if (l.find_first_not_of(" \t\r") != std::string::npos) return true;
    }
    return false;
  };
  auto bad = [&](const std::string &what) {
    throw AlmtpError(path + ":" + std::to_string(lineno) + ": " + what);
  };
  while (next_line(line)) {
    std::istringstream in(line);
    std::string tag;
    Neighbourhood nb;
    int n;
    if (!(in >> tag >> nb.species >> n) || tag != "atom" || n < 0)
      bad("expected 'atom <species> <n>'");
    if (nb.species < 0 || nb.species >= species_count)
      bad("species " + std::to_string(nb.species) + " out of range");
    for (int j = 0; j < n; j++) {
      if (!next_line(line)) bad("file ends inside a neighbourhood");
      std::istringstream nl(line);
      int s;
      double x, y, z;
      if (!(nl >> s >> x >> y >> z)) bad("expected '<species> <dx> <dy> <dz>'");
      if (s < 0 || s >= species_count) bad("species " + std::to_string(s) + " out of range");
      nb.sp.push_back(s);
      nb.rij.insert(nb.rij.end(), {x, y, z});
    }
    out.push_back(std::move(nb));
  }
  return out;
}

int cmd_info(const std::string &path)
{
  Almtp f = read_almtp(path);
  const MtpPotential &p = f.potential;
  const ActiveSet &as = f.active_set;
  std::printf("file %s\n", path.c_str());
  std::printf("species_count %d\n", p.species_count);
  std::printf("radial_basis_size %d\n", p.radial_basis_size);
  std::printf("radial_funcs_count %d\n", p.radial_funcs_count);
  std::printf("alpha_moments_count %d\n", p.alpha_moments_count);
  std::printf("alpha_index_basic_count %d\n", p.basic_count());
  std::printf("alpha_index_times_count %d\n", (int) p.alpha_index_times.size());
  std::printf("alpha_scalar_moments %d\n", p.scalar_moments());
  std::printf("scaling %.17g\n", p.scaling);
  std::printf("min_dist %.17g\n", p.min_dist);
  std::printf("cutoff %.17g\n", p.max_dist);
  std::printf("m %d\n", p.param_count());
  std::printf("mode nbh\n");
  std::printf("site_en_weight %.17g\n", as.site_en_weight);
  std::printf("energy_weight %.17g\n", as.energy_weight);
  std::printf("weight_scaling %d\n", as.weight_scaling);
  std::printf("links %d\n", (int) as.links.size());
  std::printf("unfilled_rows %d\n", as.unfilled_rows());
  std::printf("configurations %d\n", as.configuration_count());
  std::printf("identity_error %.6e\n", as.identity_error());
  return 0;
}

int cmd_grade(const std::string &path, const std::string &nbh_path)
{
  Almtp f = read_almtp(path);
  std::vector<Neighbourhood> nbhs = read_neighbourhoods(nbh_path, f.potential.species_count);
  MtpEvaluator ev(f.potential);
  const int m = ev.param_count();
  std::vector<double> b(m);
  for (size_t i = 0; i < nbhs.size(); i++) {
    const auto &nb = nbhs[i];
    const double v = ev.row(nb.species, (int) nb.sp.size(), nb.rij.data(), nb.sp.data(), b.data());
    const double g = f.active_set.grade(b.data());
    std::printf("atom %zu gamma %.17g energy %.17g\nb", i, g, v);
    for (int k = 0; k < m; k++) std::printf(" %.17g", b[k]);
    std::printf("\n");
  }
  return 0;
}

int cmd_swap(const std::string &path, const std::string &nbh_path, double threshold,
             const std::string &out)
{
  Almtp f = read_almtp(path);
  std::vector<Neighbourhood> nbhs = read_neighbourhoods(nbh_path, f.potential.species_count);
  MtpEvaluator ev(f.potential);
  std::vector<double> b(ev.param_count());
  for (size_t i = 0; i < nbhs.size(); i++) {
    const auto &nb = nbhs[i];
    ev.row(nb.species, (int) nb.sp.size(), nb.rij.data(), nb.sp.data(), b.data());
    const double g = f.active_set.grade(b.data());
    const int j0 = f.active_set.swap_in_if_above(b.data(), threshold);
    std::printf("atom %zu gamma %.17g replaced %d\n", i, g, j0);
  }
  std::printf("identity_error %.6e\n", f.active_set.identity_error());
  std::printf("log_det_change %.17g\n", f.active_set.log_det_change());
  f.active_set.write_almtp(out);
  return 0;
}

// ------------------------------------------------------------------------------------ selftest

int failures = 0;

void check(bool ok, const char *what, double value, double limit)
{
  std::printf("%s %-58s %.3e (limit %.1e)\n", ok ? "PASS" : "FAIL", what, value, limit);
  if (!ok) failures++;
}

void selftest_sherman_morrison()
{
  std::mt19937_64 rng(12345);
  std::normal_distribution<double> N01;
  for (int m : {3, 7, 16}) {
    std::vector<double> a((size_t) m * m), s((size_t) m * m, 0.0);
    for (auto &x : a) x = N01(rng);
    for (int i = 0; i < m; i++) a[(size_t) i * m + i] += 3.0;    // well conditioned start
    ActiveSet as(m, a, s);
    as.reinvert();
    double worst = 0.0, worst_id = 0.0;
    bool grows = true;
    for (int swap = 0; swap < 20; swap++) {
      std::vector<double> row(m);
      for (auto &x : row) x = 2.0 * N01(rng);
      double before = as.log_det_change();
      auto best = as.max_coefficient(row.data());
      int j0 = as.swap_in_if_above(row.data(), 1.0);
      if (j0 < 0) continue;
      if (j0 != best.first) grows = false;
      if (!(as.log_det_change() > before)) grows = false;
      // Brute force: invert the updated A from scratch and compare S.
      ActiveSet ref(m, std::vector<double>(as.a(), as.a() + (size_t) m * m), s);
      ref.reinvert();
      double smax = 0.0;
      for (size_t k = 0; k < (size_t) m * m; k++) smax = std::max(smax, std::fabs(ref.s()[k]));
      for (size_t k = 0; k < (size_t) m * m; k++)
        worst = std::max(worst, std::fabs(as.s()[k] - ref.s()[k]) / smax);
      worst_id = std::max(worst_id, as.identity_error());
      // After the swap the new row is exactly representable: its grade is 1.
      worst_id = std::max(worst_id, std::fabs(as.grade(row.data()) - 1.0));
    }
    std::string what = "Sherman-Morrison S vs re-inversion, m=" + std::to_string(m);
    check(worst < 1e-9, what.c_str(), worst, 1e-9);
    what = "after swaps max|A S^T - I| and |gamma(new row) - 1|, m=" + std::to_string(m);
    check(worst_id < 1e-9, what.c_str(), worst_id, 1e-9);
    what = "every swap grows |det A|, m=" + std::to_string(m);
    check(grows, what.c_str(), grows ? 0.0 : 1.0, 0.0);
  }
  // Brute force for m = 3, p = 8 (doc/design/mtp.md §11.8): after MaxVol with tau, no single swap of a
  // candidate into A increases |det A| by more than tau.
  {
    const int m = 3, p = 8;
    const double tau = 1.001;
    std::vector<double> a((size_t) m * m, 0.0), s((size_t) m * m, 0.0);
    for (int i = 0; i < m; i++) a[(size_t) i * m + i] = 1e-6;
    ActiveSet as(m, a, s);
    as.reinvert();
    std::vector<std::vector<double>> cand(p, std::vector<double>(m));
    for (auto &c : cand)
      for (auto &x : c) x = N01(rng);
    for (int sweep = 0; sweep < 50; sweep++) {
      bool any = false;
      for (auto &c : cand) {
        auto best = as.max_coefficient(c.data());
        if (std::fabs(best.second) > tau) {
          std::vector<double> out(as.a() + (size_t) best.first * m,
                                  as.a() + (size_t) (best.first + 1) * m);
          as.swap_in(c.data());
          c = out;    // the outgoing row becomes a candidate again (§5)
          any = true;
        }
      }
      if (!any) break;
    }
    auto det3 = [](const double *q) {
      return q[0] * (q[4] * q[8] - q[5] * q[7]) - q[1] * (q[3] * q[8] - q[5] * q[6]) +
          q[2] * (q[3] * q[7] - q[4] * q[6]);
    };
    const double d0 = std::fabs(det3(as.a()));
    double worst = 0.0;
    for (auto &c : cand)
      for (int j = 0; j < m; j++) {
        std::vector<double> t(as.a(), as.a() + 9);
        for (int k = 0; k < m; k++) t[(size_t) j * m + k] = c[k];
        worst = std::max(worst, std::fabs(det3(t.data())) / d0);
      }
    check(worst <= tau * (1 + 1e-12), "MaxVol m=3 p=8: no single swap grows |det| > tau", worst,
          tau);
  }
  // Two identical candidates (§11.8): once one is in the active set, the other has max |c| = 1
  // (up to rounding) and is not swapped in with tau = 1.001.
  {
    const int m = 6;
    std::vector<double> a((size_t) m * m, 0.0), s((size_t) m * m, 0.0);
    for (int i = 0; i < m; i++) a[(size_t) i * m + i] = 1e-6;
    ActiveSet as(m, a, s);
    as.reinvert();
    std::vector<double> row(m);
    for (auto &x : row) x = N01(rng);
    const int first = as.swap_in_if_above(row.data(), 1.001);
    const int second = as.swap_in_if_above(row.data(), 1.001);
    const double g = as.grade(row.data());
    check(first >= 0 && second < 0 && std::fabs(g - 1.0) < 1e-9,
          "identical candidates: only the first is selected", std::fabs(g - 1.0), 1e-9);
  }
}

std::vector<double> random_neighbourhood(std::mt19937_64 &rng, int n, double rmin, double rmax,
                                         int nspecies, std::vector<int> &sp)
{
  std::uniform_real_distribution<double> U(-1.0, 1.0), Ur(rmin, rmax);
  std::uniform_int_distribution<int> S(0, nspecies - 1);
  std::vector<double> rij;
  sp.clear();
  while ((int) sp.size() < n) {
    double x = U(rng), y = U(rng), z = U(rng);
    double r = std::sqrt(x * x + y * y + z * z);
    if (r < 0.1 || r > 1.0) continue;
    double d = Ur(rng);
    rij.insert(rij.end(), {x / r * d, y / r * d, z / r * d});
    sp.push_back(S(rng));
  }
  return rij;
}

void selftest_potential(const std::string &path)
{
  Almtp f = read_almtp(path);
  MtpPotential pot = f.potential;
  MtpEvaluator ev(pot);
  const int m = ev.param_count(), C = pot.species_count, R = pot.radial_basis_size;
  const double rmin = pot.min_dist, rc = pot.max_dist, s = pot.scaling;

  // Radial basis closed forms (§11.2).
  {
    std::vector<double> q(R);
    double e1 = 0.0, e2 = 0.0, e3 = 0.0;
    ev.radial_basis(rc, q.data());
    for (double x : q) e1 = std::max(e1, std::fabs(x));
    ev.radial_basis(rmin, q.data());
    const double d = rmin - rc;
    for (int b = 0; b < R; b++) {
      const double ref = (b % 2 ? -1.0 : 1.0) * s * d * d;
      e2 = std::max(e2, std::fabs(q[b] - ref) / std::fabs(ref));
    }
    const double mid = 0.5 * (rmin + rc), dm = mid - rc;
    ev.radial_basis(mid, q.data());
    const double pattern[4] = {1.0, 0.0, -1.0, 0.0};
    for (int b = 0; b < R; b++)
      e3 = std::max(e3, std::fabs(q[b] - pattern[b % 4] * s * dm * dm) / (s * dm * dm));
    check(e1 == 0.0, "Q_beta(R_cut) = 0", e1, 0.0);
    check(e2 <= 1e-13, "Q_beta(R_min) = (-1)^beta s d^2 (relative)", e2, 1e-13);
    check(e3 <= 1e-14, "Q at the midpoint = s d^2 (1,0,-1,0,...) (relative)", e3, 1e-14);
  }

  std::mt19937_64 rng(2024);
  std::vector<int> sp;
  const int tc = C - 1;
  std::vector<double> rij = random_neighbourhood(rng, 24, rmin * 0.95, rc * 0.99, C, sp);
  std::vector<double> b(m);
  const double v = ev.row(tc, (int) sp.size(), rij.data(), sp.data(), b.data());

  // Finite differences of V with respect to every radial coefficient (§11.3), h = 1e-5 relative.
  {
    double worst = 0.0, bscale = 0.0;
    for (int p = 0; p < pot.radial_param_count(); p++) bscale = std::max(bscale, std::fabs(b[p]));
    for (int p = 0; p < pot.radial_param_count(); p++) {
      MtpPotential pp = pot, pm = pot;
      const double h = 1e-5 * std::max(1e-3, std::fabs(pot.radial_coeffs[p]));
      pp.radial_coeffs[p] += h;
      pm.radial_coeffs[p] -= h;
      MtpEvaluator ep(pp), em(pm);
      const double fd = (ep.energy(tc, (int) sp.size(), rij.data(), sp.data()) -
                         em.energy(tc, (int) sp.size(), rij.data(), sp.data())) /
          (2 * h);
      worst = std::max(worst, std::fabs(fd - b[p]) / bscale);
    }
    check(worst < 1e-6, "radial block vs central finite differences (rel. to max|b|)", worst,
          1e-6);
  }
  // Moment and species blocks: V is linear in them, so V = sum_p theta_p b_p over those blocks
  // plus the radial part reproduces the energy (§11.3).
  {
    double lin = 0.0;
    const int off = pot.radial_param_count();
    for (int t = 0; t < C; t++) lin += pot.species_coeffs[t] * b[off + t];
    for (int a = 0; a < pot.scalar_moments(); a++) lin += pot.moment_coeffs[a] * b[off + C + a];
    check(std::fabs(lin - v) <= 1e-12 * std::fabs(v), "V = e[tc] + sum_alpha w_alpha B_alpha",
          std::fabs(lin - v), 1e-12 * std::fabs(v));
    double onehot = 0.0;
    for (int t = 0; t < C; t++) onehot += std::fabs(b[off + t] - (t == tc ? 1.0 : 0.0));
    check(onehot == 0.0, "species block is one-hot", onehot, 0.0);
  }
  // Rotation and permutation invariance of V and gamma (§11.4).
  {
    const double g = f.active_set.grade(b.data());
    std::normal_distribution<double> N01;
    double q0 = N01(rng), q1 = N01(rng), q2 = N01(rng), q3 = N01(rng);
    const double qn = std::sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3);
    q0 /= qn, q1 /= qn, q2 /= qn, q3 /= qn;
    const double Rm[9] = {1 - 2 * (q2 * q2 + q3 * q3), 2 * (q1 * q2 - q0 * q3), 2 * (q1 * q3 + q0 * q2),
                          2 * (q1 * q2 + q0 * q3), 1 - 2 * (q1 * q1 + q3 * q3), 2 * (q2 * q3 - q0 * q1),
                          2 * (q1 * q3 - q0 * q2), 2 * (q2 * q3 + q0 * q1), 1 - 2 * (q1 * q1 + q2 * q2)};
    std::vector<double> rot(rij.size());
    for (size_t j = 0; j < sp.size(); j++)
      for (int a = 0; a < 3; a++)
        rot[3 * j + a] = Rm[3 * a] * rij[3 * j] + Rm[3 * a + 1] * rij[3 * j + 1] +
            Rm[3 * a + 2] * rij[3 * j + 2];
    std::vector<double> b2(m);
    const double v2 = ev.row(tc, (int) sp.size(), rot.data(), sp.data(), b2.data());
    const double g2 = f.active_set.grade(b2.data());
    const double e = std::max(std::fabs(v2 - v) / std::fabs(v), std::fabs(g2 - g) / g);
    check(e < 1e-10, "rotation invariance of V and gamma (relative)", e, 1e-10);
    std::vector<double> perm;
    std::vector<int> psp;
    for (int j = (int) sp.size() - 1; j >= 0; j--) {
      perm.insert(perm.end(), {rij[3 * j], rij[3 * j + 1], rij[3 * j + 2]});
      psp.push_back(sp[j]);
    }
    const double v3 = ev.row(tc, (int) psp.size(), perm.data(), psp.data(), b2.data());
    const double g3 = f.active_set.grade(b2.data());
    const double e3 = std::max(std::fabs(v3 - v) / std::fabs(v), std::fabs(g3 - g) / g);
    check(e3 < 1e-12, "permutation invariance of V and gamma (relative)", e3, 1e-12);
    // Batched grades equal single grades bit for bit.
    std::vector<double> rows(5 * (size_t) m), gs(5), g1(5);
    for (int r = 0; r < 5; r++) {
      std::vector<int> s2;
      std::vector<double> x = random_neighbourhood(rng, 10 + r, rmin, rc, C, s2);
      ev.row(r % C, (int) s2.size(), x.data(), s2.data(), &rows[(size_t) r * m]);
      g1[r] = f.active_set.grade(&rows[(size_t) r * m]);
    }
    f.active_set.grades(5, rows.data(), m, gs.data());
    double diff = 0.0;
    for (int r = 0; r < 5; r++) diff = std::max(diff, std::fabs(gs[r] - g1[r]));
    check(diff == 0.0, "batched grades == single grades (bitwise)", diff, 0.0);
  }
}

MtpPotential read_potential_any(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) throw AlmtpError("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_mtp_potential(ss.str(), path);
}

// Finite-difference checks of the positional derivatives used by pair_style mtp.
int cmd_forcetest(const std::string &path)
{
  MtpPotential pot = read_potential_any(path);
  MtpForceEvaluator fe(pot);
  MtpEvaluator ev(pot);
  const int C = pot.species_count;
  const double rmin = pot.min_dist, rc = pot.max_dist;
  std::mt19937_64 rng(4242);
  double e_energy = 0.0, e_force = 0.0, e_virial = 0.0, e_outside = 0.0;
  for (int trial = 0; trial < 2 * C; trial++) {
    const int tc = trial % C;
    std::vector<int> sp;
    // Some neighbours below R_min (extrapolated basis) and some beyond R_cut (ignored).
    std::vector<double> rij = random_neighbourhood(rng, 30, 0.8 * rmin, 1.05 * rc, C, sp);
    const int n = (int) sp.size();
    std::vector<double> dv(3 * n);
    const double v = fe.site(tc, n, rij.data(), sp.data(), dv.data());
    const double v_ref = ev.energy(tc, n, rij.data(), sp.data());
    e_energy = std::max(e_energy, std::fabs(v - v_ref) / std::max(1.0, std::fabs(v_ref)));
    double scale = 0.0;
    for (double d : dv) scale = std::max(scale, std::fabs(d));
    const double h = 1e-5;
    for (int j = 0; j < n; j++) {
      const double r = std::sqrt(rij[3 * j] * rij[3 * j] + rij[3 * j + 1] * rij[3 * j + 1] +
                                 rij[3 * j + 2] * rij[3 * j + 2]);
      if (r >= rc) {
        for (int a = 0; a < 3; a++) e_outside = std::max(e_outside, std::fabs(dv[3 * j + a]));
        continue;
      }
      if (r > rc - 2 * h) continue;    // the difference stencil would cross the cutoff
      for (int a = 0; a < 3; a++) {
        std::vector<double> p = rij, m = rij;
        p[3 * j + a] += h;
        m[3 * j + a] -= h;
        const double fd = (ev.energy(tc, n, p.data(), sp.data()) -
                           ev.energy(tc, n, m.data(), sp.data())) / (2 * h);
        e_force = std::max(e_force, std::fabs(fd - dv[3 * j + a]) / scale);
      }
    }
    // Strain derivative: r -> (I + eps) r gives dV/d eps_ab = sum_j dv_j,a r_j,b, the site's
    // contribution to the virial (with the sign convention of the caller).
    double wscale = 0.0, w[9] = {0};
    for (int j = 0; j < n; j++)
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) w[3 * a + b] += dv[3 * j + a] * rij[3 * j + b];
    for (double x : w) wscale = std::max(wscale, std::fabs(x));
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 3; b++) {
        std::vector<double> p = rij, m = rij;
        for (int j = 0; j < n; j++) {
          p[3 * j + a] += h * rij[3 * j + b];
          m[3 * j + a] -= h * rij[3 * j + b];
        }
        // V is C1 at R_cut ((r - R_cut)^2 envelope), so a neighbour strained across it costs O(h^2).
        const double fd = (ev.energy(tc, n, p.data(), sp.data()) -
                           ev.energy(tc, n, m.data(), sp.data())) / (2 * h);
        e_virial = std::max(e_virial, std::fabs(fd - w[3 * a + b]) / wscale);
      }
  }
  check(e_energy < 1e-12, "force sweep energy == grade evaluator energy (relative)", e_energy,
        1e-12);
  check(e_force < 1e-6, "dV/dr_ij vs central differences (rel. to max|dV/dr|)", e_force, 1e-6);
  check(e_virial < 1e-6, "sum_j dv_j (x) r_j vs strain differences (relative)", e_virial, 1e-6);
  check(e_outside == 0.0, "zero gradient for neighbours at r >= R_cut", e_outside, 0.0);
  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "OK", failures);
  return failures ? 1 : 0;
}

int cmd_forcebench(const std::string &path, int n_nbh, int n_neigh)
{
  MtpPotential pot = read_potential_any(path);
  MtpForceEvaluator fe(pot);
  const int C = pot.species_count;
  std::mt19937_64 rng(7);
  std::vector<std::vector<double>> x(64);
  std::vector<std::vector<int>> s(64);
  for (int i = 0; i < 64; i++)
    x[i] = random_neighbourhood(rng, n_neigh, pot.min_dist, pot.max_dist, C, s[i]);
  std::vector<double> dv(3 * (size_t) n_neigh);
  auto cpu = []() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
  };
  double sum = 0.0;
  const double t0 = cpu();
  for (int i = 0; i < n_nbh; i++) sum += fe.site(i % C, n_neigh, x[i % 64].data(), s[i % 64].data(), dv.data());
  const double t1 = cpu();
  std::printf("site_force_us %.4f (checksum %g)\n", 1e6 * (t1 - t0) / n_nbh, sum);
  return 0;
}

int cmd_selftest(int argc, char **argv)
{
  selftest_sherman_morrison();
  if (argc > 2) selftest_potential(argv[2]);
  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "OK", failures);
  return failures ? 1 : 0;
}

// Timing of the core alone: rows + grades per second for a random neighbourhood set.
int cmd_bench(const std::string &path, int n_nbh, int n_neigh)
{
  Almtp f = read_almtp(path);
  MtpEvaluator ev(f.potential);
  const int m = ev.param_count(), C = f.potential.species_count;
  std::mt19937_64 rng(7);
  std::vector<std::vector<double>> x(64);
  std::vector<std::vector<int>> s(64);
  for (int i = 0; i < 64; i++)
    x[i] = random_neighbourhood(rng, n_neigh, f.potential.min_dist, f.potential.max_dist, C, s[i]);
  const int batch = 32;
  std::vector<double> rows((size_t) batch * m), g(batch);
  double sum = 0.0;
  // Process CPU time, not wall time: other load on a shared machine does not count.
  auto cpu = []() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
  };
  const double t0 = cpu();
  for (int i = 0; i < n_nbh; i++)
    ev.row(0, n_neigh, x[i % 64].data(), s[i % 64].data(), &rows[(size_t) (i % batch) * m]);
  const double t1 = cpu();
  for (int i = 0; i < n_nbh; i += batch) {
    f.active_set.grades(batch, rows.data(), m, g.data());
    sum += g[0];
  }
  const double t2 = cpu();
  const double tr = (t1 - t0) / n_nbh, tg = (t2 - t1) / n_nbh;
  std::printf("row_us %.4f grade_us %.4f total_us %.4f (checksum %g)\n", tr * 1e6, tg * 1e6,
              (tr + tg) * 1e6, sum);
  return 0;
}

void usage()
{
  std::fprintf(stderr,
               "usage: eipgs-core-check info FILE.almtp\n"
               "       eipgs-core-check grade FILE.almtp NEIGHBOURHOODS.txt\n"
               "       eipgs-core-check swap FILE.almtp NEIGHBOURHOODS.txt THRESHOLD OUT.almtp\n"
               "       eipgs-core-check selftest [FILE.almtp]\n"
               "       eipgs-core-check bench FILE.almtp [N_NEIGHBOURHOODS [N_NEIGHBOURS]]\n"
               "       eipgs-core-check forcetest FILE.mtp|FILE.almtp\n"
               "       eipgs-core-check forcebench FILE [N_NEIGHBOURHOODS [N_NEIGHBOURS]]\n");
}

}    // namespace

int main(int argc, char **argv)
{
  if (argc < 2) {
    usage();
    return 2;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "info" && argc == 3) return cmd_info(argv[2]);
    if (cmd == "grade" && argc == 4) return cmd_grade(argv[2], argv[3]);
    if (cmd == "swap" && argc == 6) return cmd_swap(argv[2], argv[3], std::atof(argv[4]), argv[5]);
    if (cmd == "selftest" && argc <= 3) return cmd_selftest(argc, argv);
    if (cmd == "forcetest" && argc == 3) return cmd_forcetest(argv[2]);
    if (cmd == "forcebench" && argc >= 3)
      return cmd_forcebench(argv[2], argc > 3 ? std::atoi(argv[3]) : 20000,
                            argc > 4 ? std::atoi(argv[4]) : 58);
    if (cmd == "bench" && argc >= 3)
      return cmd_bench(argv[2], argc > 3 ? std::atoi(argv[3]) : 20000,
                       argc > 4 ? std::atoi(argv[4]) : 26);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "eipgs-core-check: error: %s\n", e.what());
    return 2;
  }
  usage();
  return 2;
}
