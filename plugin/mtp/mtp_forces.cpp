// SPDX-License-Identifier: GPL-2.0-only
// MTP site energies and positional derivatives (doc/design/mtp.md §1.2-§2).

#include "mtp_forces.h"
#include "simd_dispatch.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>

namespace EIPGS {

MtpPotential parse_mtp_potential(const std::string &bytes, const std::string &source)
{
  // The text part never contains '#' (§1); the selection block, if any, starts at the first one.
  return parse_mtp_text(bytes.substr(0, bytes.find('#')), source);
}

MtpForceEvaluator::MtpForceEvaluator(const MtpPotential &potential) : pot_(potential)
{
  C_ = pot_.species_count;
  K_ = pot_.radial_funcs_count;
  R_ = pot_.radial_basis_size;
  nbasic_ = pot_.basic_count();
  nmom_ = pot_.alpha_moments_count;
  nlin_ = pot_.scalar_moments();
  rcut_ = pot_.max_dist;
  rmin_ = pot_.min_dist;
  scale_ = pot_.scaling;

  // Angular factors x^a y^b z^c / r^(a+b+c), closed under lowering any one exponent: the
  // gradient of a factor needs the three factors one order lower (see site()).
  std::map<std::array<int, 3>, int> index;
  std::function<int(int, int, int)> add = [&](int a, int b, int c) -> int {
    auto it = index.find({a, b, c});
    if (it != index.end()) return it->second;
    const int e[3] = {a, b, c};
    int dec[3] = {-1, -1, -1};
    for (int ax = 0; ax < 3; ax++)
      if (e[ax] > 0) {
        int l[3] = {a, b, c};
        l[ax]--;
        dec[ax] = add(l[0], l[1], l[2]);
      }
    int parent = -1, axis = -1;
    for (int ax = 0; ax < 3 && parent < 0; ax++)
      if (e[ax] > 0) parent = dec[ax], axis = ax;
    const int q = (int) ang_parent_.size();
    ang_parent_.push_back(parent);
    ang_axis_.push_back(axis);
    ang_exp_.insert(ang_exp_.end(), {a, b, c});
    ang_dec_.insert(ang_dec_.end(), {dec[0], dec[1], dec[2]});
    index[{a, b, c}] = q;
    return q;
  };
  add(0, 0, 0);
  for (const auto &q : pot_.alpha_index_basic) {
    mu_.push_back(q[0]);
    ang_.push_back(add(q[1], q[2], q[3]));
  }
  nang_ = (int) ang_parent_.size();
  for (const auto &t : pot_.alpha_index_times) {
    t0_.push_back(t[0]);
    t1_.push_back(t[1]);
    tmult_.push_back((double) t[2]);
    t3_.push_back(t[3]);
  }
  seed_.assign(nmom_, 0.0);
  for (int a = 0; a < nlin_; a++) seed_[pot_.alpha_moment_mapping[a]] += pot_.moment_coeffs[a];
  moments_.assign(nmom_, 0.0);
  adj_.assign(nmom_, 0.0);
}

void MtpForceEvaluator::reserve(int n)
{
  if (n <= cap_) return;
  cap_ = std::max(n, 2 * cap_);
  const size_t c = (size_t) cap_;
  idx_.resize(c);
  x_.resize(3 * c);
  r_.resize(c);
  q_.resize((size_t) R_ * c);
  dq_.resize((size_t) R_ * c);
  f_.resize((size_t) K_ * c);
  df_.resize((size_t) K_ * c);
  ua_.resize((size_t) nang_ * c);
  h_.resize((size_t) nang_ * c);
  gm_.resize((size_t) (K_ + 5) * c);    // + S1, S2 and T (3 rows) share the block
}

EIPGS_AVX2_CLONES double MtpForceEvaluator::forward(int tc, int n, const double *rij,
                                                   const int *sp, bool derivatives)
{
  reserve(n);
  const size_t cap = cap_;
  const double rc2 = rcut_ * rcut_;
  // Neighbours within R_cut, grouped by species (stable within a species) so that the radial
  // functions below run over contiguous neighbours with one coefficient block per group.
  species_start_.assign(C_ + 1, 0);
  for (int j = 0; j < n; j++) {
    const double x = rij[3 * j], y = rij[3 * j + 1], z = rij[3 * j + 2];
    if (x * x + y * y + z * z < rc2) species_start_[sp[j] + 1]++;
  }
  for (int s = 0; s < C_; s++) species_start_[s + 1] += species_start_[s];
  const int nu = species_start_[C_];
  fill_.assign(species_start_.begin(), species_start_.end() - 1);
  for (int j = 0; j < n; j++) {
    const double x = rij[3 * j], y = rij[3 * j + 1], z = rij[3 * j + 2];
    const double r2 = x * x + y * y + z * z;
    if (!(r2 < rc2)) continue;    // strict r < R_cut (§1.2)
    const int k = fill_[sp[j]]++;
    const double r = std::sqrt(r2), inv = 1.0 / r;
    x_[k] = x * inv;
    x_[cap + k] = y * inv;
    x_[2 * cap + k] = z * inv;
    r_[k] = r;
    idx_[k] = j;
  }
  nused_ = nu;

  // Radial basis Q_beta and, for forces, dQ_beta/dr by differentiating the Chebyshev recurrence
  // (§1.2). RBChebyshev_repuls clamps r at R_min, where the derivative is zero.
  double *Q = q_.data(), *dQ = dq_.data();
  double *xi = gm_.data();    // scratch (xi, dxi) until the backward pass
  {
    const double inv_w = 1.0 / (rcut_ - rmin_), dxi = 2.0 * inv_w;
    for (int j = 0; j < nu; j++) {
      double r = r_[j];
      const bool clamped = pot_.repulsive && r < rmin_;
      if (clamped) r = rmin_;
      const double d = r - rcut_;
      const double env = scale_ * d * d;
      xi[j] = (2.0 * r - (rmin_ + rcut_)) * inv_w;
      Q[j] = env;
      Q[cap + j] = xi[j] * env;
      if (derivatives) {
        const double denv = clamped ? 0.0 : 2.0 * scale_ * d;
        const double dx = clamped ? 0.0 : dxi;
        dQ[j] = denv;
        dQ[cap + j] = dx * env + xi[j] * denv;
        xi[cap + j] = dx;
      }
    }
    for (int b = 2; b < R_; b++) {
      double *qb = Q + b * cap;
      const double *q1 = qb - cap, *q2 = qb - 2 * cap;
      for (int j = 0; j < nu; j++) qb[j] = 2.0 * xi[j] * q1[j] - q2[j];
      if (derivatives) {
        double *db = dQ + b * cap;
        const double *d1 = db - cap, *d2 = db - 2 * cap;
        const double *dx = xi + cap;
        for (int j = 0; j < nu; j++) db[j] = 2.0 * (dx[j] * q1[j] + xi[j] * d1[j]) - d2[j];
      }
    }
  }
  // f_mu(r_j) = sum_beta c[tc, t_j, mu, beta] Q_beta(r_j), and f'_mu, per neighbour species.
  double *F = f_.data(), *dF = df_.data();
  for (int s = 0; s < C_; s++) {
    const int j0 = species_start_[s], j1 = species_start_[s + 1];
    if (j0 == j1) continue;
    const double *c = &pot_.radial_coeffs[((size_t) tc * C_ + s) * K_ * R_];
    for (int mu = 0; mu < K_; mu++) {
      double *fm = F + mu * cap, *dfm = dF + mu * cap;
      const double c0 = c[mu * R_];
      for (int j = j0; j < j1; j++) fm[j] = c0 * Q[j];
      for (int b = 1; b < R_; b++) {
        const double cb = c[mu * R_ + b];
        const double *qb = Q + b * cap;
        for (int j = j0; j < j1; j++) fm[j] += cb * qb[j];
      }
      if (!derivatives) continue;
      for (int j = j0; j < j1; j++) dfm[j] = c0 * dQ[j];
      for (int b = 1; b < R_; b++) {
        const double cb = c[mu * R_ + b];
        const double *db = dQ + b * cap;
        for (int j = j0; j < j1; j++) dfm[j] += cb * db[j];
      }
    }
  }
  // Angular factors, each its parent times one unit-vector component.
  double *UA = ua_.data();
  for (int j = 0; j < nu; j++) UA[j] = 1.0;
  for (int q = 1; q < nang_; q++) {
    double *uq = UA + q * cap;
    const double *up = UA + ang_parent_[q] * cap;
    const double *xa = &x_[ang_axis_[q] * cap];
#pragma GCC ivdep
    for (int j = 0; j < nu; j++) uq[j] = up[j] * xa[j];
  }
  // Basic and derived moments, site energy (§1.3).
  double *M = moments_.data();
  std::fill(moments_.begin(), moments_.end(), 0.0);
  for (int k = 0; k < nbasic_; k++) {
    const double *u = UA + ang_[k] * cap;
    const double *f = F + mu_[k] * cap;
    // Four interleaved partial sums (one AVX2 register): a fixed order, whatever the batch.
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    int j = 0;
    for (; j + 4 <= nu; j += 4)
      for (int l = 0; l < 4; l++) acc[l] += f[j + l] * u[j + l];
    for (; j < nu; j++) acc[0] += f[j] * u[j];
    M[k] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  }
  const int nt = (int) t0_.size();
  for (int t = 0; t < nt; t++) M[t3_[t]] += tmult_[t] * M[t0_[t]] * M[t1_[t]];
  double v = pot_.species_coeffs[tc];
  for (int a = 0; a < nlin_; a++) v += pot_.moment_coeffs[a] * M[pot_.alpha_moment_mapping[a]];
  return v;
}

double MtpForceEvaluator::energy(int tc, int n, const double *rij, const int *sp)
{
  return forward(tc, n, rij, sp, false);
}

EIPGS_AVX2_CLONES double MtpForceEvaluator::site(int tc, int n, const double *rij, const int *sp,
                                                double *dv)
{
  const double v = forward(tc, n, rij, sp, true);
  const size_t cap = cap_;
  const int nu = nused_;
  const double *M = moments_.data();

  // Adjoint g = dV/dM (§2 steps 2-3).
  double *g = adj_.data();
  std::copy(seed_.begin(), seed_.end(), adj_.begin());
  for (int t = (int) t0_.size() - 1; t >= 0; t--) {
    const double gt = tmult_[t] * g[t3_[t]];
    if (gt == 0.0) continue;
    g[t0_[t]] += gt * M[t1_[t]];
    g[t1_[t]] += gt * M[t0_[t]];
  }

  // d/dr_j [f(r) U(u)] = f'(r) U u + (f / r) (grad_u U - nu U u), with u = r_j / r and
  // grad_u U = (a U_{a-1,b,c}, b U_{a,b-1,c}, c U_{a,b,c-1}). Regrouped:
  //   H[q][j]  = sum_{k: ang_k = q} g_k f_{mu_k}(r_j)      (angular side)
  //   Gm[mu][j] = sum_{k: mu_k = mu} g_k U_k(r_j)          (radial side)
  //   dV/dr_j = (S1 - S2 / r) u + T / r,  S1 = sum_mu f'_mu Gm[mu],
  //   S2 = sum_q nu_q H[q] U_q,  T = sum_q H[q] grad_u U_q.
  const double *F = f_.data(), *dF = df_.data(), *UA = ua_.data();
  double *H = h_.data(), *Gm = gm_.data();
  // Only the first nu entries of each row are used: zeroing whole rows of capacity cap would
  // cost as much as the sums themselves.
  for (int q = 0; q < nang_; q++) std::fill(H + q * cap, H + q * cap + nu, 0.0);
  for (int r = 0; r < K_ + 5; r++) std::fill(Gm + r * cap, Gm + r * cap + nu, 0.0);
  for (int k = 0; k < nbasic_; k++) {
    const double gk = g[k];
    if (gk == 0.0) continue;
    const double *__restrict f = F + mu_[k] * cap, *__restrict u = UA + ang_[k] * cap;
    double *__restrict h = H + ang_[k] * cap, *__restrict gm = Gm + mu_[k] * cap;
    for (int j = 0; j < nu; j++) {
      h[j] += gk * f[j];
      gm[j] += gk * u[j];
    }
  }
  double *S1 = Gm + K_ * cap, *S2 = S1 + cap, *Tx = S2 + cap, *Ty = Tx + cap, *Tz = Ty + cap;
  for (int mu = 0; mu < K_; mu++) {
    const double *__restrict gm = Gm + mu * cap, *__restrict df = dF + mu * cap;
    double *__restrict s1 = S1;
    for (int j = 0; j < nu; j++) s1[j] += df[j] * gm[j];
  }
  // One pass over H[q] per angular factor; a lowered factor that does not exist (exponent 0)
  // points at row 0 with weight 0.
  for (int q = 1; q < nang_; q++) {
    const int *e = &ang_exp_[3 * q], *dec = &ang_dec_[3 * q];
    const double order = (double) (e[0] + e[1] + e[2]);
    const double ex = (double) e[0], ey = (double) e[1], ez = (double) e[2];
    const double *h = H + q * cap, *u = UA + q * cap;
    const double *ux = UA + std::max(dec[0], 0) * cap;
    const double *uy = UA + std::max(dec[1], 0) * cap;
    const double *uz = UA + std::max(dec[2], 0) * cap;
    double *s2 = S2, *tx = Tx, *ty = Ty, *tz = Tz;
#pragma GCC ivdep
    for (int j = 0; j < nu; j++) {
      const double hj = h[j];
      s2[j] += order * hj * u[j];
      tx[j] += ex * hj * ux[j];
      ty[j] += ey * hj * uy[j];
      tz[j] += ez * hj * uz[j];
    }
  }
  std::fill(dv, dv + 3 * (size_t) n, 0.0);
  for (int j = 0; j < nu; j++) {
    const double inv = 1.0 / r_[j];
    const double radial = S1[j] - S2[j] * inv;
    double *d = dv + 3 * (size_t) idx_[j];
    d[0] = radial * x_[j] + Tx[j] * inv;
    d[1] = radial * x_[cap + j] + Ty[j] * inv;
    d[2] = radial * x_[2 * cap + j] + Tz[j] * inv;
  }
  return v;
}

}    // namespace EIPGS
