// SPDX-License-Identifier: GPL-2.0-only
// The .almtp selection block and the active set: grades, Sherman-Morrison swaps, writing back.
// doc/design/mtp.md §3 (grade), §4 (format), §5 (MaxVol).

#include "active_set.h"
#include "simd_dispatch.h"

// v4d values are only passed between inline functions of this file; the ABI note is moot.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <sys/stat.h>

namespace EIPGS {

namespace {

constexpr int TILE_ROWS = 4;    // rows of B per kernel tile
constexpr int TILE_COLS = 8;    // columns of Gamma (rows of S) per kernel tile

int round_up(int n, int q) { return (n + q - 1) / q * q; }

// max(g, |c|) where a NaN coefficient counts as +inf: std::max(g, NaN) would return g and hide a
// broken neighbourhood (coincident atoms, overflowing coefficients) behind a grade of 0. A
// non-finite grade is reported as +inf, above every threshold (doc/design/mtp.md §3.1).
inline double max_grade(double g, double c)
{
  const double a = std::fabs(c);
  if (a != a) return HUGE_VAL;
  return a > g ? a : g;
}

// Four doubles as one GCC/Clang vector value: AVX registers in the avx2 clone, pairs of SSE2
// registers otherwise. No FMA is enabled in either clone, so both give bit-identical results.
typedef double v4d __attribute__((vector_size(32)));

inline v4d load4(const double *p)
{
  v4d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// One tile of Gamma = B S^T: 4 rows of B (pointers b[0..3]) against 8 consecutive columns of
// st (= S^T, leading dimension ld), then the max |.| per row. The sum over k runs in order
// 0..m-1 for every element, so a row's result does not depend on which tile or batch it is in
// (bit-identical on 1 and N ranks).
EIPGS_AVX2_CLONES void tile_max(int m, const double *b0,
                                                                const double *b1, const double *b2,
                                                                const double *b3, const double *st,
                                                                int ld, double *gmax)
{
  v4d a00 = {0, 0, 0, 0}, a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
      a31 = a00;
  for (int k = 0; k < m; k++) {
    const double *s = st + (size_t) k * ld;
    const v4d s0 = load4(s), s1 = load4(s + 4);
    const double x0 = b0[k], x1 = b1[k], x2 = b2[k], x3 = b3[k];
    a00 += x0 * s0;
    a01 += x0 * s1;
    a10 += x1 * s0;
    a11 += x1 * s1;
    a20 += x2 * s0;
    a21 += x2 * s1;
    a30 += x3 * s0;
    a31 += x3 * s1;
  }
  const v4d *acc[4][2] = {{&a00, &a01}, {&a10, &a11}, {&a20, &a21}, {&a30, &a31}};
  for (int r = 0; r < 4; r++)
    for (int h = 0; h < 2; h++)
      for (int c = 0; c < 4; c++) gmax[r] = max_grade(gmax[r], (*acc[r][h])[c]);
}

}    // namespace

ActiveSet::ActiveSet(int m, std::vector<double> a, std::vector<double> s) :
    m_(m), a_(std::move(a)), s_(std::move(s))
{
  if (m < 1 || a_.size() != (size_t) m * m || s_.size() != (size_t) m * m)
    throw AlmtpError("ActiveSet: A and S must both be m x m with m >= 1");
  links.assign(m, {-1, -1});
  build_padded();
}

void ActiveSet::build_padded()
{
  ld_ = round_up(m_, TILE_COLS);
  st_.assign((size_t) m_ * ld_, 0.0);
  for (int j = 0; j < m_; j++)
    for (int k = 0; k < m_; k++) st_[(size_t) k * ld_ + j] = s_[(size_t) j * m_ + k];
}

void ActiveSet::grades(int nrows, const double *rows, int ld, double *out) const
{
  if ((int) zero_.size() < m_) zero_.assign(m_, 0.0);
  const double *zero = zero_.data();
  for (int i0 = 0; i0 < nrows; i0 += TILE_ROWS) {
    const double *b[TILE_ROWS];
    for (int r = 0; r < TILE_ROWS; r++)
      b[r] = (i0 + r < nrows) ? rows + (size_t) (i0 + r) * ld : zero;
    double gmax[TILE_ROWS] = {0.0, 0.0, 0.0, 0.0};
    for (int j0 = 0; j0 < ld_; j0 += TILE_COLS)
      tile_max(m_, b[0], b[1], b[2], b[3], st_.data() + j0, ld_, gmax);
    for (int r = 0; r < TILE_ROWS && i0 + r < nrows; r++) out[i0 + r] = gmax[r];
  }
}

double ActiveSet::grade(const double *row) const
{
  double g = 0.0;
  grades(1, row, m_, &g);
  return g;
}

void ActiveSet::coefficients(const double *row, double *c) const
{
  for (int j = 0; j < m_; j++) {
    const double *s = &s_[(size_t) j * m_];
    double sum = 0.0;
    for (int k = 0; k < m_; k++) sum += s[k] * row[k];
    c[j] = sum;
  }
}

std::pair<int, double> ActiveSet::max_coefficient(const double *row) const
{
  std::vector<double> c(m_);
  coefficients(row, c.data());
  int j0 = 0;
  for (int j = 1; j < m_; j++)
    if (std::fabs(c[j]) > std::fabs(c[j0])) j0 = j;
  return {j0, c[j0]};
}

int ActiveSet::swap_in(const double *row, int cfg_index, int eqn_index)
{
  auto [j0, beta] = max_coefficient(row);
  if (beta == 0.0 || !std::isfinite(beta))
    throw AlmtpError("ActiveSet::swap_in: the row has no component outside the active set "
                     "(max |c| = " + std::to_string(beta) + "); nothing can be swapped");
  // §5: A' = A + e_j0 v^T with v = row - A[j0]; (A'^-1)^T = S - (S v) (x) S[j0,:] / beta,
  // beta = 1 + v^T A^-1 e_j0 = c_j0. S v is computed directly (not as c - e_j0) so that the small
  // inconsistency max|A S^T - I| of the stored matrices does not enter the update.
  std::vector<double> v(m_), w(m_), srow(s_.begin() + (size_t) j0 * m_,
                                        s_.begin() + (size_t) (j0 + 1) * m_);
  for (int k = 0; k < m_; k++) v[k] = row[k] - a_[(size_t) j0 * m_ + k];
  coefficients(v.data(), w.data());
  const double inv_beta = 1.0 / beta;
  for (int j = 0; j < m_; j++) {
    const double f = w[j] * inv_beta;
    double *s = &s_[(size_t) j * m_];
    for (int k = 0; k < m_; k++) s[k] -= f * srow[k];
  }
  std::copy(row, row + m_, a_.begin() + (size_t) j0 * m_);
  links[j0] = {cfg_index, eqn_index};
  log_det_change_ += std::log(std::fabs(beta));
  build_padded();
  return j0;
}

int ActiveSet::swap_in_if_above(const double *row, double threshold, int cfg_index, int eqn_index)
{
  auto best = max_coefficient(row);
  if (!(std::fabs(best.second) > threshold)) return -1;
  return swap_in(row, cfg_index, eqn_index);
}

void ActiveSet::reinvert()
{
  // Gauss-Jordan with partial pivoting on [A | I] -> A^-1, then S = (A^-1)^T.
  const int m = m_;
  std::vector<double> w(a_), inv((size_t) m * m, 0.0);
  for (int i = 0; i < m; i++) inv[(size_t) i * m + i] = 1.0;
  for (int col = 0; col < m; col++) {
    int piv = col;
    for (int r = col + 1; r < m; r++)
      if (std::fabs(w[(size_t) r * m + col]) > std::fabs(w[(size_t) piv * m + col])) piv = r;
    if (w[(size_t) piv * m + col] == 0.0) throw AlmtpError("ActiveSet::reinvert: A is singular");
    if (piv != col)
      for (int k = 0; k < m; k++) {
        std::swap(w[(size_t) piv * m + k], w[(size_t) col * m + k]);
        std::swap(inv[(size_t) piv * m + k], inv[(size_t) col * m + k]);
      }
    const double d = 1.0 / w[(size_t) col * m + col];
    for (int k = 0; k < m; k++) {
      w[(size_t) col * m + k] *= d;
      inv[(size_t) col * m + k] *= d;
    }
    for (int r = 0; r < m; r++) {
      if (r == col) continue;
      const double f = w[(size_t) r * m + col];
      if (f == 0.0) continue;
      for (int k = 0; k < m; k++) {
        w[(size_t) r * m + k] -= f * w[(size_t) col * m + k];
        inv[(size_t) r * m + k] -= f * inv[(size_t) col * m + k];
      }
    }
  }
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) s_[(size_t) i * m + j] = inv[(size_t) j * m + i];
  build_padded();
}

double ActiveSet::identity_error() const
{
  double err = 0.0;
  for (int i = 0; i < m_; i++)
    for (int j = 0; j < m_; j++) {
      const double *a = &a_[(size_t) i * m_];
      const double *s = &s_[(size_t) j * m_];
      double sum = 0.0;
      for (int k = 0; k < m_; k++) sum += a[k] * s[k];
      err = std::max(err, std::fabs(sum - (i == j ? 1.0 : 0.0)));
    }
  return err;
}

int ActiveSet::configuration_count() const
{
  int n = 0;
  for (size_t p = configurations.find("BEGIN_CFG"); p != std::string::npos;
       p = configurations.find("BEGIN_CFG", p + 9))
    n++;
  return n;
}

int ActiveSet::unfilled_rows() const
{
  return (int) std::count(links.begin(), links.end(), std::make_pair(-1, -1));
}

void ActiveSet::write_almtp(const std::string &path) const
{
  if (text_part.empty())
    throw AlmtpError("write_almtp: this active set has no MTP text part (not read from a file)");
  std::string out = text_part;
  char buf[128];
  out += "#MVS_v1.1\n";
  std::snprintf(buf, sizeof buf, "energy_weight %.16e\n", energy_weight);
  out += buf;
  std::snprintf(buf, sizeof buf, "force_weight %.16e\n", force_weight);
  out += buf;
  std::snprintf(buf, sizeof buf, "stress_weight %.16e\n", stress_weight);
  out += buf;
  std::snprintf(buf, sizeof buf, "site_en_weight %.16e\n", site_en_weight);
  out += buf;
  std::snprintf(buf, sizeof buf, "weight_scaling %d\n", weight_scaling);
  out += buf;
  out += "#";
  out.append(reinterpret_cast<const char *>(a_.data()), a_.size() * sizeof(double));
  out.append(reinterpret_cast<const char *>(s_.data()), s_.size() * sizeof(double));
  out += "\n#\n";
  for (const auto &l : links) {
    std::snprintf(buf, sizeof buf, "%d %d\n", l.first, l.second);
    out += buf;
  }
  out += "#";
  out += configurations;
  // Write to a temporary name and rename, so a crash never leaves a half-written potential.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw AlmtpError("write_almtp: cannot open " + tmp + " for writing");
    f.write(out.data(), (std::streamsize) out.size());
    if (!f) throw AlmtpError("write_almtp: write to " + tmp + " failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw AlmtpError("write_almtp: cannot rename " + tmp + " to " + path);
}

// ---------------------------------------------------------------------------------------------

Almtp parse_almtp(const std::string &bytes, const std::string &source, double max_identity_error)
{
  auto fail = [&](const std::string &what) -> void { throw AlmtpError(source + ": " + what); };
  Almtp out;
  out.path = source;
  const size_t h1 = bytes.find('#');
  if (h1 != std::string::npos && h1 > 0 && bytes[h1 - 1] != '\n') {
    // MLIP-3 takes the first '#' as the start of the selection block (doc/design/mtp.md
    // §1), so a '#' inside a value would cut the potential short there: refuse, naming the line.
    const size_t bol = bytes.rfind('\n', h1) == std::string::npos ? 0 : bytes.rfind('\n', h1) + 1;
    const std::string line = bytes.substr(bol, h1 - bol);
    const size_t eq = line.find('=');
    std::string key = line.substr(0, eq);
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    fail("line " + std::to_string(1 + std::count(bytes.begin(), bytes.begin() + h1, '\n')) +
         (key.empty() ? std::string() : " (" + key + ")") +
         ": '#' inside the MTP text part; MLIP-3 reads the first '#' as the start of the "
         "selection block, so the potential would be cut short there. Remove the '#'");
  }
  if (h1 == std::string::npos) {
    parse_mtp_text(bytes, source);    // a non-MTP file is reported as such first
    fail("no selection block (#MVS_v1.1): this is a plain MTP without an active set; grades "
         "need an .almtp written by MLIP-3 (mlp train / select_add)");
  }
  if (bytes.compare(h1, 4, "#MVS") != 0 && bytes.find("\n#MVS", h1) != std::string::npos) {
    // A '#' line before the real selection block (a comment, which MTP files cannot have): the
    // text part would end there and the error would be a puzzling "missing key".
    const size_t eol = bytes.find('\n', h1);
    fail("line " + std::to_string(1 + std::count(bytes.begin(), bytes.begin() + h1, '\n')) +
         ": '" + bytes.substr(h1, std::min<size_t>(eol - h1, 40)) +
         "' before the '#MVS_v1.1' selection block; MLIP-3 starts the selection block at the "
         "first '#' of the file, so MTP files cannot have comment lines. Remove the line");
  }
  out.potential = parse_mtp_text(bytes.substr(0, h1), source);
  const int m = out.potential.param_count();
  ActiveSet &as = out.active_set;

  // Header: "#MVS_v1.1" and five weight lines, up to the '#' that starts the binary matrices.
  const size_t h2 = bytes.find('#', h1 + 1);
  if (h2 == std::string::npos) fail("selection block ends inside its header (file truncated)");
  {
    // Whitespace-separated tokens, as MLIP-3 reads them, each with its line for the messages.
    std::vector<std::pair<std::string, int>> tokens;
    int line = 1 + (int) std::count(bytes.begin(), bytes.begin() + h1, '\n');
    std::string tok;
    for (size_t p = h1 + 1; p <= h2; p++) {
      const char ch = p < h2 ? bytes[p] : ' ';
      if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
        if (!tok.empty()) tokens.emplace_back(tok, line);
        tok.clear();
        if (ch == '\n') line++;
      } else {
        tok += ch;
      }
    }
    auto at = [&](size_t k) {
      return "line " + std::to_string(k < tokens.size() ? tokens[k].second : line) + ": ";
    };
    if (tokens.empty() || tokens[0].first != "MVS_v1.1")
      fail(at(0) + "selection block tag is '#" + (tokens.empty() ? "" : tokens[0].first) +
           "', expected '#MVS_v1.1' (legacy MLIP-2 selection blocks are not supported)");
    const char *keys[5] = {"energy_weight", "force_weight", "stress_weight", "site_en_weight",
                           "weight_scaling"};
    double vals[5];
    for (int k = 0; k < 5; k++) {
      const size_t t = 1 + 2 * (size_t) k;
      const std::string key = t < tokens.size() ? tokens[t].first : "";
      if (t + 1 >= tokens.size() || key != keys[k])
        fail(at(t) + "selection block: expected '" + keys[k] + " <value>', found '" + key + "'");
      const std::string &val = tokens[t + 1].first;
      char *end = nullptr;
      vals[k] = std::strtod(val.c_str(), &end);
      if (*end != '\0' || !std::isfinite(vals[k]))
        fail(at(t + 1) + "(" + keys[k] + "): bad value '" + val + "'");
    }
    as.energy_weight = vals[0];
    as.force_weight = vals[1];
    as.stress_weight = vals[2];
    as.site_en_weight = vals[3];
    as.weight_scaling = (int) vals[4];
  }
  if (as.site_en_weight == 0.0) {
    if (as.energy_weight != 0.0)
      fail("the active set is in configuration (cfg) mode (energy_weight != 0, site_en_weight = "
           "0): per-atom grades need a neighbourhood-mode active set (site_en_weight 1); rebuild "
           "it with MLIP-3 in nbh mode (e.g. mlp train ... --al_mode=nbh)");
    fail("the active set has site_en_weight = 0: per-atom (nbh mode) grades are not defined");
  }

  // Binary A and S: exactly 2 m^2 doubles after the '#'.
  const size_t nbytes = (size_t) m * m * sizeof(double);
  const size_t b0 = h2 + 1;
  if (bytes.size() < b0 + 2 * nbytes) {
    const size_t have = bytes.size() > b0 ? bytes.size() - b0 : 0;
    fail("file truncated inside the active-set matrices: A and S need 2 m^2 = " +
         std::to_string(2 * (size_t) m * m) + " doubles (" + std::to_string(2 * nbytes) +
         " bytes, m = " + std::to_string(m) + "), only " + std::to_string(have) +
         " bytes follow '#'");
  }
  const size_t b1 = b0 + 2 * nbytes;
  if (bytes.compare(b1, 2, "\n#") != 0)
    fail("no '\\n#' right after the 2 m^2 matrix values (m = " + std::to_string(m) +
         " from the MTP counts): the counts in the text part do not match the stored matrices "
         "(wrong counts or corrupted file)");
  std::vector<double> a(m * (size_t) m), s(m * (size_t) m);
  std::memcpy(a.data(), bytes.data() + b0, nbytes);
  std::memcpy(s.data(), bytes.data() + b0 + nbytes, nbytes);
  for (size_t i = 0; i < a.size(); i++) {
    if (!std::isfinite(a[i]))
      fail("matrix A has a non-finite value (NaN or inf) at row " + std::to_string(i / m) +
           ", column " + std::to_string(i % m));
    if (!std::isfinite(s[i]))
      fail("matrix S = (A^-1)^T has a non-finite value (NaN or inf) at row " +
           std::to_string(i / m) + ", column " + std::to_string(i % m));
  }

  // Link table: m lines "cfg eqn" up to the next '#', then the configurations to EOF.
  const size_t l0 = b1 + 2;
  const size_t h4 = bytes.find('#', l0);
  if (h4 == std::string::npos)
    fail("file truncated in the link table after the matrices (no closing '#')");
  {
    std::istringstream lt(bytes.substr(l0, h4 - l0));
    std::vector<long> v;
    std::string tok;
    while (lt >> tok) {
      char *end = nullptr;
      long x = std::strtol(tok.c_str(), &end, 10);
      if (*end != '\0') fail("link table: '" + tok + "' is not an integer");
      v.push_back(x);
    }
    if (v.size() != 2 * (size_t) m)
      fail("link table has " + std::to_string(v.size() / 2) + " entries, expected m = " +
           std::to_string(m));
    std::vector<std::pair<int, int>> links(m);
    for (int i = 0; i < m; i++) links[i] = {(int) v[2 * i], (int) v[2 * i + 1]};
    ActiveSet built(m, std::move(a), std::move(s));
    built.energy_weight = as.energy_weight;
    built.force_weight = as.force_weight;
    built.stress_weight = as.stress_weight;
    built.site_en_weight = as.site_en_weight;
    built.weight_scaling = as.weight_scaling;
    built.links = std::move(links);
    as = std::move(built);
  }
  as.text_part = bytes.substr(0, h1);
  as.configurations = bytes.substr(h4 + 1);

  const double err = as.identity_error();
  if (!(err <= max_identity_error)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g", err);
    char lim[32];
    std::snprintf(lim, sizeof lim, "%g", max_identity_error);
    fail(std::string("the active set is corrupted: max |A S^T - I| = ") + buf + " (limit " + lim +
         "); S is not the inverse of A. Rebuild the active set (eipgs activeset, or MLIP-3 mlp "
         "select_add)");
  }
  return out;
}

Almtp read_almtp(const std::string &path, double max_identity_error)
{
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw AlmtpError("'" + path + "' is a directory, not an .almtp file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw AlmtpError("cannot open .almtp file '" + path + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_almtp(ss.str(), path, max_identity_error);
}

}    // namespace EIPGS
