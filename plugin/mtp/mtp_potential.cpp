// SPDX-License-Identifier: GPL-2.0-only
// The MTP text part of an .almtp and the site-energy parameter gradient (doc/design/mtp.md §1-§2).

#include "mtp_potential.h"
#include "simd_dispatch.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <sstream>

namespace EIPGS {

namespace {

std::string trim(const std::string &s)
{
  const char *ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// Bounds that keep a corrupted or hostile file from exhausting memory: far above any real MTP
// (levels <= 28 have a few 10^4 moments; cutoffs are 4-10 Angstrom), far below an allocation
// failure. See doc/formats_mtp.md.
constexpr double MAX_CUTOFF = 100.0;    // Angstrom; max_dist above this is refused
constexpr double MAX_RADIAL_PARAMS = 1e8;

// Errors name the file, the line and the key: "<file>: line <n> (<key>): <what>".
struct TextParser {
  const std::string &source;
  int line = 0;       // 1-based line of the item being read, 0 = not tied to one line
  std::string key;    // key of that line

  [[noreturn]] void fail(const std::string &what) const
  {
    std::string where = source + ": ";
    if (line > 0) where += "line " + std::to_string(line) + (key.empty() ? "" : " (" + key + ")") + ": ";
    else if (!key.empty())
      where += key + ": ";
    throw AlmtpError(where + what);
  }
  void at(int l, const std::string &k)
  {
    line = l;
    key = k;
  }

  double number(const std::string &tok, const std::string &what) const
  {
    const char *p = tok.c_str();
    char *end = nullptr;
    errno = 0;
    double v = std::strtod(p, &end);
    if (end == p || *end != '\0' || errno == ERANGE)
      fail("cannot read '" + tok + "' as a number in " + what);
    if (!std::isfinite(v)) fail("non-finite value '" + tok + "' in " + what);
    return v;
  }

  int integer(const std::string &tok, const std::string &what) const
  {
    double v = number(tok, what);
    if (v != std::floor(v) || std::fabs(v) > 2e9)
      fail("'" + tok + "' in " + what + " is not an integer");
    return (int) v;
  }

  // Numbers of a brace list such as {{0, 1, 0, 0}, {1, 0, 0, 0}} or {1.0, 2.0}, flattened;
  // the braces must balance.
  std::vector<double> numbers(const std::string &value, const std::string &what) const
  {
    std::vector<double> out;
    int depth = 0;
    std::string tok;
    auto flush = [&]() {
      if (!tok.empty()) out.push_back(number(tok, what));
      tok.clear();
    };
    for (char ch : value) {
      if (ch == '{') {
        flush();
        depth++;
      } else if (ch == '}') {
        flush();
        if (--depth < 0) fail("unbalanced '}' in " + what);
      } else if (ch == ',' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
        flush();
      } else {
        tok += ch;
      }
    }
    flush();
    if (depth != 0) fail("unbalanced '{' in " + what + " (value cut short?)");
    return out;
  }

  std::vector<std::array<int, 4>> quadruples(const std::string &value, int count,
                                             const std::string &what) const
  {
    std::vector<double> v = numbers(value, what);
    if ((int) v.size() != 4 * count)
      fail(what + " has " + std::to_string(v.size()) + " numbers, expected 4 x " +
           std::to_string(count) + " (the matching _count key)");
    std::vector<std::array<int, 4>> out(count);
    for (int i = 0; i < count; i++)
      for (int c = 0; c < 4; c++) {
        double x = v[4 * i + c];
        if (x != std::floor(x)) fail(what + " entry " + std::to_string(i) + " is not an integer");
        out[i][c] = (int) x;
      }
    return out;
  }
};

// One "key = value" item of the text part (a brace value may span several lines).
struct Item {
  std::string value;
  int line = 0;
};

// MLIP-3 and motep spell three radial-basis keys differently (doc/formats_mtp.md); one name each.
std::string canonical_key(const std::string &key, bool in_radial_basis)
{
  if (key == "min_val" || (in_radial_basis && key == "min")) return "min_dist";
  if (key == "max_val" || (in_radial_basis && key == "max")) return "max_dist";
  if (key == "basis_size" || (in_radial_basis && key == "size")) return "radial_basis_size";
  return key;
}

}    // namespace

MtpPotential parse_mtp_text(const std::string &text, const std::string &source)
{
  TextParser P{source};
  std::vector<std::string> lines;
  {
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) lines.push_back(line);
  }
  P.at(1, "");
  if (lines.empty() || trim(lines[0]) != "MTP")
    P.fail("not an MTP file: the first line must be 'MTP'");
  if (lines.size() < 2) P.fail("file ends after the first line 'MTP'");
  {
    P.at(2, "version");
    std::istringstream v(lines[1]);
    std::string k, eq, val, extra;
    v >> k >> eq >> val;
    if (k != "version" || eq != "=" || val != "1.1.0" || (v >> extra))
      P.fail("unsupported version line '" + trim(lines[1]) +
             "': only 'version = 1.1.0' (MLIP-3, also written by motep) is supported");
  }

  MtpPotential pot;
  std::map<std::string, Item> items;
  bool in_radial_basis = false;    // after radial_basis_type: min/max/size are its keys (motep)
  double global_scaling = 1.0, basis_scaling = 1.0;
  int radial_line = 0;                              // line of the radial_coeffs key
  std::vector<std::pair<int, std::string>> radial;  // (line, text) of the radial_coeffs block

  auto depth = [](const std::string &s) {
    int d = 0;
    for (char ch : s) d += (ch == '{') - (ch == '}');
    return d;
  };

  for (size_t i = 2; i < lines.size(); i++) {
    const std::string line = trim(lines[i]);
    const int lineno = (int) i + 1;
    if (line.empty()) continue;
    std::string key, value;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      key = line;
    } else {
      key = trim(line.substr(0, eq));
      value = trim(line.substr(eq + 1));
    }
    P.at(lineno, key);
    if (key == "radial_coeffs") {
      if (radial_line) P.fail("key 'radial_coeffs' appears twice (first on line " +
                              std::to_string(radial_line) + ")");
      radial_line = lineno;
      // The block runs to the next "key = value" line: MLIP-3 writes radial_funcs_count before
      // it, motep after it, so it is parsed once every count is known.
      while (i + 1 < lines.size() && lines[i + 1].find('=') == std::string::npos) {
        ++i;
        if (!trim(lines[i]).empty()) radial.emplace_back((int) i + 1, trim(lines[i]));
      }
      continue;
    }
    if (eq == std::string::npos)
      P.fail("unknown line '" + line + "' in the MTP text part (expected 'key = value')");
    if (key == "scaling") {
      // MLIP-3 writes a global scaling and, inside the radial basis, a basis scaling; the two
      // multiply (doc/design/mtp.md §1.1). motep writes only the global one.
      double &s = in_radial_basis ? basis_scaling : global_scaling;
      const std::string slot = in_radial_basis ? "scaling (radial basis)" : "scaling";
      if (items.count(slot)) P.fail("key 'scaling' appears twice (first on line " +
                                    std::to_string(items[slot].line) + ")");
      if (value.empty()) P.fail("key 'scaling' has no value");
      s = P.number(value, "scaling");
      items[slot] = {value, lineno};
      continue;
    }
    const std::string name = canonical_key(key, in_radial_basis);
    if (name == "radial_basis_type") in_radial_basis = true;
    else if (name == "magnetic_basis_type")
      P.fail("magnetic MTPs (magnetic_basis_type) are not supported");
    if (items.count(name))
      P.fail("key '" + key + "' appears twice (first on line " +
             std::to_string(items[name].line) + (name != key ? ", as '" + name + "'" : "") + ")");
    if (value.find('{') != std::string::npos) {
      while (depth(value) > 0 && i + 1 < lines.size()) value += " " + lines[++i];
    }
    items[name] = {value, lineno};
  }
  pot.scaling = global_scaling * basis_scaling;

  static const char *known[] = {"potential_name", "potential_tag", "species_count",
                                "radial_basis_type", "min_dist", "max_dist", "radial_basis_size",
                                "radial_funcs_count", "alpha_moments_count",
                                "alpha_index_basic_count", "alpha_index_basic",
                                "alpha_index_times_count", "alpha_index_times",
                                "alpha_scalar_moments", "alpha_moment_mapping", "species_coeffs",
                                "moment_coeffs", "scaling", "scaling (radial basis)"};
  for (const auto &kv : items) {
    if (std::find_if(std::begin(known), std::end(known),
                     [&](const char *k) { return kv.first == k; }) == std::end(known)) {
      P.at(kv.second.line, kv.first);
      P.fail("unknown key '" + kv.first + "' in the MTP text part");
    }
  }
  for (const char *k : {"species_count", "radial_basis_type", "min_dist", "max_dist",
                        "radial_basis_size", "radial_funcs_count", "alpha_moments_count",
                        "alpha_index_basic_count", "alpha_index_basic", "alpha_index_times_count",
                        "alpha_index_times", "alpha_scalar_moments", "alpha_moment_mapping",
                        "species_coeffs", "moment_coeffs"}) {
    if (!items.count(k)) {
      P.at(0, "");
      std::string alias = !strcmp(k, "min_dist") ? " (or 'min' in the radial basis, motep)"
          : !strcmp(k, "max_dist") ? " (or 'max' in the radial basis, motep)"
          : !strcmp(k, "radial_basis_size") ? " (or 'size' in the radial basis, motep)"
                                             : "";
      P.fail(std::string("required key '") + k + "'" + alias + " is missing");
    }
  }
  if (!radial_line) {
    P.at(0, "radial_coeffs");
    P.fail("the potential is untrained (no radial_coeffs): it cannot be used to grade");
  }

  // Scalars, each reported with its own line.
  auto value_of = [&](const char *k) -> const std::string & {
    const Item &it = items[k];
    P.at(it.line, k);
    if (it.value.empty()) P.fail(std::string("key '") + k + "' has no value");
    return it.value;
  };
  auto int_of = [&](const char *k) { return P.integer(value_of(k), k); };
  {
    const std::string &t = value_of("radial_basis_type");
    if (t == "RBChebyshev") pot.repulsive = false;
    else if (t == "RBChebyshev_repuls")
      pot.repulsive = true;
    else
      P.fail("unsupported radial_basis_type '" + t +
             "': only RBChebyshev and RBChebyshev_repuls are supported");
  }
  pot.species_count = int_of("species_count");
  if (pot.species_count < 1) P.fail("species_count must be >= 1");
  pot.radial_basis_size = int_of("radial_basis_size");
  if (pot.radial_basis_size < 2) P.fail("radial_basis_size must be >= 2");
  pot.radial_funcs_count = int_of("radial_funcs_count");
  if (pot.radial_funcs_count < 1) P.fail("radial_funcs_count must be >= 1");
  pot.min_dist = P.number(value_of("min_dist"), "min_dist");
  pot.max_dist = P.number(value_of("max_dist"), "max_dist");
  if (!(pot.max_dist <= MAX_CUTOFF))
    P.fail("implausible cutoff max_dist = " + value_of("max_dist") + " Angstrom (limit " +
           std::to_string((int) MAX_CUTOFF) +
           "): neighbour lists that large would exhaust memory; a corrupted file?");
  if (!(pot.min_dist >= 0.0 && pot.min_dist < pot.max_dist)) {
    P.at(items["min_dist"].line, "min_dist");
    P.fail("min_dist must be >= 0 and smaller than max_dist");
  }

  const int C = pot.species_count, K = pot.radial_funcs_count, R = pot.radial_basis_size;
  // Corrupted counts must give an error, not a huge allocation.
  if (C > 1000 || K > 1000 || R > 1000 || (double) C * C * K * R > MAX_RADIAL_PARAMS) {
    P.at(radial_line, "radial_coeffs");
    P.fail("implausible sizes species_count = " + std::to_string(C) + ", radial_funcs_count = " +
           std::to_string(K) + ", radial_basis_size = " + std::to_string(R));
  }

  // radial_coeffs: C^2 blocks "s1-s2" followed by K lines of R coefficients.
  pot.radial_coeffs.assign((size_t) C * C * K * R, 0.0);
  {
    std::vector<bool> filled((size_t) C * C, false);
    size_t r = 0;
    for (int blk = 0; blk < C * C; blk++) {
      if (r >= radial.size()) {
        P.at(radial.empty() ? radial_line : radial.back().first, "radial_coeffs");
        P.fail("radial_coeffs ends after " + std::to_string(blk) + " of " + std::to_string(C * C) +
               " species-pair blocks");
      }
      const std::string hdr = radial[r].second;
      P.at(radial[r].first, "radial_coeffs");
      r++;
      const size_t dash = hdr.find('-', 1);
      if (dash == std::string::npos || hdr.find('{') != std::string::npos)
        P.fail("block header '" + hdr + "' is not of the form s1-s2 (radial_funcs_count = " +
               std::to_string(K) + " coefficient lines per block expected)");
      const int l1 = P.integer(trim(hdr.substr(0, dash)), "the block header");
      const int l2 = P.integer(trim(hdr.substr(dash + 1)), "the block header");
      auto index_of = [&](int label) {
        auto it = std::find(pot.species_labels.begin(), pot.species_labels.end(), label);
        if (it != pot.species_labels.end()) return (int) (it - pot.species_labels.begin());
        pot.species_labels.push_back(label);
        if ((int) pot.species_labels.size() > C)
          P.fail("radial_coeffs has more distinct species labels than species_count = " +
                 std::to_string(C));
        return (int) pot.species_labels.size() - 1;
      };
      const int s1 = index_of(l1), s2 = index_of(l2);
      if (filled[(size_t) s1 * C + s2]) P.fail("radial_coeffs block " + hdr + " appears twice");
      filled[(size_t) s1 * C + s2] = true;
      for (int mu = 0; mu < K; mu++) {
        if (r >= radial.size() || radial[r].second.find('{') == std::string::npos)
          P.fail("radial_coeffs block " + hdr + " ends after " + std::to_string(mu) + " of " +
                 std::to_string(K) + " radial functions (radial_funcs_count)");
        P.at(radial[r].first, "radial_coeffs");
        std::vector<double> c = P.numbers(radial[r].second, "radial_coeffs block " + hdr);
        r++;
        if ((int) c.size() != R)
          P.fail("radial_coeffs block " + hdr + " function " + std::to_string(mu) + " has " +
                 std::to_string(c.size()) + " coefficients, radial_basis_size is " +
                 std::to_string(R));
        std::copy(c.begin(), c.end(),
                  pot.radial_coeffs.begin() + (((size_t) s1 * C + s2) * K + mu) * R);
      }
    }
    if (r < radial.size()) {
      P.at(radial[r].first, "radial_coeffs");
      P.fail("unexpected line '" + radial[r].second + "' after the " + std::to_string(C * C) +
             " species-pair blocks of radial_coeffs (species_count = " + std::to_string(C) +
             ", radial_funcs_count = " + std::to_string(K) + ")");
    }
  }

  pot.alpha_moments_count = int_of("alpha_moments_count");
  const int n_basic = int_of("alpha_index_basic_count");
  const int n_times = int_of("alpha_index_times_count");
  const int n_lin = int_of("alpha_scalar_moments");
  P.at(0, "");
  if (n_basic < 1 || n_times < 0 || n_lin < 1 || pot.alpha_moments_count < 1)
    P.fail("alpha_*_count values must be positive (alpha_index_basic_count = " +
           std::to_string(n_basic) + ", alpha_index_times_count = " + std::to_string(n_times) +
           ", alpha_scalar_moments = " + std::to_string(n_lin) + ")");
  if (n_basic > 10000000 || n_times > 100000000 || n_lin > 10000000 ||
      pot.alpha_moments_count > 100000000)
    P.fail("implausibly large alpha_*_count values");
  if (pot.alpha_moments_count < n_basic) {
    P.at(items["alpha_moments_count"].line, "alpha_moments_count");
    P.fail("alpha_moments_count is smaller than alpha_index_basic_count");
  }

  auto brace_at = [&](const char *k) -> const std::string & {
    const Item &it = items[k];
    P.at(it.line, k);
    return it.value;
  };
  pot.alpha_index_basic = P.quadruples(brace_at("alpha_index_basic"), n_basic, "alpha_index_basic");
  int maxmu = -1;
  for (int k = 0; k < n_basic; k++) {
    const auto &q = pot.alpha_index_basic[k];
    if (q[0] < 0 || q[0] >= K || q[1] < 0 || q[2] < 0 || q[3] < 0 || q[1] + q[2] + q[3] > 64)
      P.fail("alpha_index_basic entry " + std::to_string(k) +
             " is out of range (mu must be < radial_funcs_count, exponents >= 0, a+b+c <= 64)");
    maxmu = std::max(maxmu, q[0]);
  }
  if (maxmu != K - 1)
    P.fail("the largest mu in alpha_index_basic is " + std::to_string(maxmu) +
           ", radial_funcs_count - 1 is " + std::to_string(K - 1));
  pot.alpha_index_times = P.quadruples(brace_at("alpha_index_times"), n_times, "alpha_index_times");
  const int nmom = pot.alpha_moments_count;
  for (int t = 0; t < n_times; t++) {
    const auto &q = pot.alpha_index_times[t];
    if (q[0] < 0 || q[0] >= nmom || q[1] < 0 || q[1] >= nmom || q[3] < n_basic || q[3] >= nmom)
      P.fail("alpha_index_times entry " + std::to_string(t) +
             " has a moment index out of range (alpha_moments_count = " + std::to_string(nmom) +
             ")");
  }
  std::vector<double> map = P.numbers(brace_at("alpha_moment_mapping"), "alpha_moment_mapping");
  if ((int) map.size() != n_lin)
    P.fail("alpha_moment_mapping has " + std::to_string(map.size()) +
           " entries, alpha_scalar_moments is " + std::to_string(n_lin));
  for (double x : map) {
    if (x != std::floor(x) || x < 0 || x >= nmom)
      P.fail("alpha_moment_mapping entry " + std::to_string(x) + " is not a moment index");
    pot.alpha_moment_mapping.push_back((int) x);
  }
  pot.species_coeffs = P.numbers(brace_at("species_coeffs"), "species_coeffs");
  if ((int) pot.species_coeffs.size() != C)
    P.fail("species_coeffs has " + std::to_string(pot.species_coeffs.size()) +
           " entries, species_count is " + std::to_string(C));
  pot.moment_coeffs = P.numbers(brace_at("moment_coeffs"), "moment_coeffs");
  if ((int) pot.moment_coeffs.size() != n_lin)
    P.fail("moment_coeffs has " + std::to_string(pot.moment_coeffs.size()) +
           " entries, alpha_scalar_moments is " + std::to_string(n_lin));
  if ((int) pot.species_labels.size() != C) {
    P.at(radial_line, "radial_coeffs");
    P.fail("radial_coeffs names " + std::to_string(pot.species_labels.size()) +
           " species, species_count is " + std::to_string(C));
  }
  return pot;
}

// ---------------------------------------------------------------------------------------------

MtpEvaluator::MtpEvaluator(const MtpPotential &potential) : pot_(potential)
{
  C_ = pot_.species_count;
  K_ = pot_.radial_funcs_count;
  R_ = pot_.radial_basis_size;
  nbasic_ = pot_.basic_count();
  nmom_ = pot_.alpha_moments_count;
  nlin_ = pot_.scalar_moments();
  m_ = pot_.param_count();
  rcut_ = pot_.max_dist;
  rmin_ = pot_.min_dist;
  scale_ = pot_.scaling;
  // Distinct angular factors x^a y^b z^c / r^(a+b+c), closed under "one exponent less", so each
  // is one product of an earlier one and a unit-vector component (fewer products than moments).
  std::map<std::array<int, 3>, int> ang_index;
  std::function<int(int, int, int)> add_ang = [&](int a, int b, int c) -> int {
    auto it = ang_index.find({a, b, c});
    if (it != ang_index.end()) return it->second;
    int parent = -1, axis = -1;
    if (a > 0) parent = add_ang(a - 1, b, c), axis = 0;
    else if (b > 0)
      parent = add_ang(a, b - 1, c), axis = 1;
    else if (c > 0)
      parent = add_ang(a, b, c - 1), axis = 2;
    const int idx = (int) ang_parent_.size();
    ang_parent_.push_back(parent);
    ang_axis_.push_back(axis);
    ang_index[{a, b, c}] = idx;
    return idx;
  };
  add_ang(0, 0, 0);
  for (const auto &q : pot_.alpha_index_basic) {
    mu_.push_back(q[0]);
    ang_.push_back(add_ang(q[1], q[2], q[3]));
  }
  nang_ = (int) ang_parent_.size();
  for (const auto &t : pot_.alpha_index_times) {
    t0_.push_back(t[0]);
    t1_.push_back(t[1]);
    tmult_.push_back((double) t[2]);
    t3_.push_back(t[3]);
  }
  // Runs of consecutive alpha_index_times entries with the same target and no entry reading that
  // target: their sum is kept in a register (same order, same rounding as the file-order loop),
  // which removes the store-to-load chain through M[i3].
  const int nt = (int) t0_.size();
  for (int t = 0; t < nt; t++) {
    if (t == 0 || t3_[t] != t3_[t - 1] || t0_[t] == t3_[t] || t1_[t] == t3_[t])
      run_start_.push_back(t);
  }
  run_start_.push_back(nt);
  moments_.assign(nmom_, 0.0);
  adj_.assign(nmom_, 0.0);
}

void MtpEvaluator::radial_basis(double r, double *q) const
{
  // §1.2: Q_beta = s T_beta(xi) (r - R_cut)^2; the _repuls variant clamps r to R_min.
  if (pot_.repulsive && r < rmin_) r = rmin_;
  const double xi = (2.0 * r - (rmin_ + rcut_)) / (rcut_ - rmin_);
  const double d = r - rcut_;
  const double env = scale_ * d * d;
  q[0] = env;
  q[1] = xi * env;
  for (int b = 2; b < R_; b++) q[b] = 2.0 * xi * q[b - 1] - q[b - 2];
}

void MtpEvaluator::reserve(int n)
{
  if (n <= cap_) return;
  cap_ = std::max(n, 2 * cap_);
  const size_t c = (size_t) cap_;
  x_.resize(3 * c);
  r_.resize(c);
  nsp_.resize(c);
  q_.resize((size_t) R_ * c);
  f_.resize((size_t) K_ * c);
  ua_.resize((size_t) nang_ * c);
  gmu_.resize((size_t) K_ * c);
}

// Structure-of-arrays layout: every per-neighbour quantity is stored as [component][neighbour],
// so the inner loops run over contiguous neighbours and vectorise. Sums over neighbours use four
// fixed partial sums; the result depends only on the neighbour order, never on the batch.
EIPGS_AVX2_CLONES double MtpEvaluator::forward(int tc, int n,
                                                                          const double *rij,
                                                                          const int *sp)
{
  reserve(n);
  const int cap = cap_;
  const double rc2 = rcut_ * rcut_;
  int nu = 0;
  for (int j = 0; j < n; j++) {
    const double x = rij[3 * j], y = rij[3 * j + 1], z = rij[3 * j + 2];
    const double r2 = x * x + y * y + z * z;
    if (!(r2 < rc2)) continue;    // strict r < R_cut (§1.2)
    x_[nu] = x;
    x_[cap + nu] = y;
    x_[2 * cap + nu] = z;
    r_[nu] = std::sqrt(r2);
    nsp_[nu] = sp[j];
    nu++;
  }
  nused_ = nu;

  // Radial basis Q[beta][j] (§1.2), Chebyshev recurrence run across neighbours.
  double *Q = q_.data();
  {
    const double inv_w = 1.0 / (rcut_ - rmin_);
    for (int j = 0; j < nu; j++) {
      double r = r_[j];
      if (pot_.repulsive && r < rmin_) r = rmin_;
      const double d = r - rcut_;
      const double env = scale_ * d * d;
      const double xi = (2.0 * r - (rmin_ + rcut_)) * inv_w;
      Q[j] = env;
      Q[cap + j] = xi * env;
      gmu_[j] = xi;    // scratch: xi per neighbour
    }
    for (int b = 2; b < R_; b++) {
      double *qb = Q + (size_t) b * cap;
      const double *q1 = qb - cap, *q2 = qb - 2 * cap;
      for (int j = 0; j < nu; j++) qb[j] = 2.0 * gmu_[j] * q1[j] - q2[j];
    }
  }
  // f_mu(r_j) = sum_beta c[tc, t_j, mu, beta] Q_beta(r_j)
  double *F = f_.data();
  for (int j = 0; j < nu; j++) {
    const double *c = &pot_.radial_coeffs[((size_t) tc * C_ + nsp_[j]) * K_ * R_];
    for (int mu = 0; mu < K_; mu++) {
      double s = 0.0;
      for (int b = 0; b < R_; b++) s += c[mu * R_ + b] * Q[(size_t) b * cap + j];
      F[(size_t) mu * cap + j] = s;
    }
  }
  // Unit vectors (in place), then the distinct angular factors UA[q][j], each the product of
  // its parent factor and one unit-vector component.
  for (int ax = 0; ax < 3; ax++) {
    double *xa = &x_[(size_t) ax * cap];
    for (int j = 0; j < nu; j++) xa[j] /= r_[j];
  }
  double *UA = ua_.data();
  for (int j = 0; j < nu; j++) UA[j] = 1.0;
  for (int q = 1; q < nang_; q++) {
    double *uq = UA + (size_t) q * cap;
    const double *up = UA + (size_t) ang_parent_[q] * cap;
    const double *xa = &x_[(size_t) ang_axis_[q] * cap];
    for (int j = 0; j < nu; j++) uq[j] = up[j] * xa[j];
  }
  // Basic moments M_k = sum_j f_{mu_k}(r_j) U[k][j] (§1.3).
  double *M = moments_.data();
  std::fill(moments_.begin(), moments_.end(), 0.0);
  for (int k = 0; k < nbasic_; k++) {
    const double *u = UA + (size_t) ang_[k] * cap;
    const double *f = F + (size_t) mu_[k] * cap;
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int j = 0;
    for (; j + 4 <= nu; j += 4) {
      s0 += f[j] * u[j];
      s1 += f[j + 1] * u[j + 1];
      s2 += f[j + 2] * u[j + 2];
      s3 += f[j + 3] * u[j + 3];
    }
    for (; j < nu; j++) s0 += f[j] * u[j];
    M[k] = (s0 + s1) + (s2 + s3);
  }
  // Derived moments, in file order (§1.3).
  const int nruns = (int) run_start_.size() - 1;
  for (int r = 0; r < nruns; r++) {
    const int i3 = t3_[run_start_[r]];
    double acc = M[i3];
    for (int t = run_start_[r]; t < run_start_[r + 1]; t++) acc += tmult_[t] * M[t0_[t]] * M[t1_[t]];
    M[i3] = acc;
  }
  double v = pot_.species_coeffs[tc];
  for (int a = 0; a < nlin_; a++) v += pot_.moment_coeffs[a] * M[pot_.alpha_moment_mapping[a]];
  return v;
}

double MtpEvaluator::energy(int tc, int n, const double *rij, const int *sp)
{
  return forward(tc, n, rij, sp);
}

EIPGS_AVX2_CLONES double MtpEvaluator::row(int tc, int n,
                                                                      const double *rij,
                                                                      const int *sp, double *b)
{
  const double v = forward(tc, n, rij, sp);
  const double *M = moments_.data();
  double *g = adj_.data();
  const int cap = cap_, nu = nused_;

  // Adjoint g = dV/dM (§2 steps 2-3).
  std::fill(adj_.begin(), adj_.end(), 0.0);
  for (int a = 0; a < nlin_; a++) g[pot_.alpha_moment_mapping[a]] += pot_.moment_coeffs[a];
  for (int t = (int) t0_.size() - 1; t >= 0; t--) {
    const double gt = tmult_[t] * g[t3_[t]];
    const int i0 = t0_[t], i1 = t1_[t];
    g[i0] += gt * M[i1];
    g[i1] += gt * M[i0];
  }

  // Radial block (§2 step 4) with the sums swapped: G[mu][j] = sum_{k: mu_k = mu} g[k] U[k][j],
  // then dV/dc[tc, t_j, mu, beta] = sum_j G[mu][j] Q[beta][j]. O(n (N_basic + K R)).
  double *G = gmu_.data();
  std::fill(G, G + (size_t) K_ * cap, 0.0);
  for (int k = 0; k < nbasic_; k++) {
    const double gk = g[k];
    if (gk == 0.0) continue;
    const double *u = &ua_[(size_t) ang_[k] * cap];
    double *gm = G + (size_t) mu_[k] * cap;
    for (int j = 0; j < nu; j++) gm[j] += gk * u[j];
  }
  const int nrad = pot_.radial_param_count();
  std::fill(b, b + nrad, 0.0);
  const double *Q = q_.data();
  for (int j = 0; j < nu; j++) {
    double *brad = b + ((size_t) tc * C_ + nsp_[j]) * K_ * R_;
    for (int mu = 0; mu < K_; mu++) {
      const double gm = G[(size_t) mu * cap + j];
      for (int beta = 0; beta < R_; beta++) brad[mu * R_ + beta] += gm * Q[(size_t) beta * cap + j];
    }
  }
  // Species block: one-hot; moment block: the basis functions B_alpha (§2).
  double *bs = b + nrad;
  for (int t = 0; t < C_; t++) bs[t] = (t == tc) ? 1.0 : 0.0;
  double *bm = bs + C_;
  for (int a = 0; a < nlin_; a++) bm[a] = M[pot_.alpha_moment_mapping[a]];
  return v;
}

}    // namespace EIPGS
