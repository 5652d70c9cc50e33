// SPDX-License-Identifier: GPL-2.0-only
/* -*- c++ -*- ----------------------------------------------------------
   eipgs: fix cluster/sample. Every N steps, writes one non-periodic
   spherical cluster around each selected high-ref atom (ref = a per-atom
   fix, compute or variable, typically f_ID of fix mtp/grade), optionally
   deduplicated live against the MTP active set (MaxVol swap).
   Doc: doc/fix_cluster_sample.md. Conventions: doc/design/mtp.md §8-§9.
------------------------------------------------------------------------- */

#ifndef EIPGS_FIX_CLUSTER_SAMPLE_H
#define EIPGS_FIX_CLUSTER_SAMPLE_H

#include "fix.h"

#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace EIPGS {

class FixMtpGrade;

class FixClusterSample : public LAMMPS_NS::Fix {
 public:
  FixClusterSample(LAMMPS_NS::LAMMPS *, int, char **);
  ~FixClusterSample() override;
  int setmask() override;
  void init() override;
  void setup(int) override;
  void end_of_step() override;
  void post_run() override;
  double compute_vector(int) override;
  double memory_usage() override;
  int pack_forward_comm(int, int *, double *, int, int *) override;
  void unpack_forward_comm(int, int, double *) override;

 private:
  void check_peratom_ref(const char *kind, const char *prefix, const char *style, int peratom_flag,
                         int ncols);
  enum RefKind { REF_COMPUTE, REF_FIX, REF_VARIABLE };
  enum Format { FORMAT_EXTXYZ, FORMAT_CFG };

  // One selected centre, known identically on every rank.
  struct Centre {
    double ref;        // ref value at this step (sort key)
    double grade;      // value written as center_grade (regraded when update_active)
    double x[3];       // position, for the exclusion test
    LAMMPS_NS::tagint tag;
    int owner, ilocal;    // owning rank and its local index (valid during this step only)
    bool skip_write;      // already present in an appended file
    int active_cfg;       // update_active: its active-set configuration index, else -1
    int active_row;       // update_active: the row of A it replaced, else -1
  };

  // One atom of a cluster, as gathered on rank 0.
  struct ClusterAtom {
    double r2, dx[3], grade;
    LAMMPS_NS::tagint tag;
    int type;
  };

  int sample_every;           // N
  std::string ref_text;       // as given, e.g. f_grade
  std::string ref_id;         // ID without prefix and index
  int ref_kind, ref_index;    // ref_index: 0 = vector, k >= 1 = column k
  double threshold, radius, exclude, core_radius;
  bool core_given;
  int max_per_step;
  LAMMPS_NS::bigint max_total;    // -1 = unlimited
  bool append, update_active, regrade;
  std::string filename, active_out;
  std::vector<std::string> elements;    // per type; empty = guess from masses
  int format;

  FILE *fp;
  bool output_open = false;    // the output file was opened (first init); fp is set on rank 0 only
  FixMtpGrade *grade_fix;    // non-null when ref is f_ID of fix mtp/grade
  bool grade_column;         // write the per-atom grade column (ref is mtp/grade)

  double *refbuf;    // ref per local (+ghost, after forward comm) atom
  int maxref;

  LAMMPS_NS::bigint last_step;    // last step sampled (no double sampling across runs)
  LAMMPS_NS::bigint nwritten_total, nwritten_file;
  int nwritten_step, ncandidates_step;
  bool max_total_logged;
  LAMMPS_NS::bigint nswaps;
  int nswaps_step;
  int active_cfg_next;
  LAMMPS_NS::bigint sample_steps;    // sampling steps so far (summary line)
  double time_spent;                 // wall time inside sample() on this rank
  double time_regrade;               // part of it in the grade fix's regrade()    // index the next active-set configuration gets (update_active)

  // (step, centre id) of clusters already in an appended file: not written again.
  std::set<std::pair<LAMMPS_NS::bigint, LAMMPS_NS::tagint>> existing;

  void sample();
  void evaluate_ref();
  std::vector<Centre> select_centres(const std::vector<double> &cand);
  void write_clusters(const std::vector<Centre> &centres);
  void write_extxyz(const Centre &, const std::vector<ClusterAtom> &);
  void write_cfg(const Centre &, const std::vector<ClusterAtom> &);
  void add_active_configuration(const Centre &, const std::vector<ClusterAtom> &);
  std::string scan_existing_file();    // rank 0; returns an error message or ""
  void check_paths();
  void open_output();
  std::string element_of(int type) const;
};

}    // namespace EIPGS

#endif
