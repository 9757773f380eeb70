// cpu_quota: the default processor count from the CPU affinity mask and the cgroup CPU limit.
//
// The runtime calls default_maxprocs(affinity_cpu_count(), read_cpu_quota()) when it starts (and
// gort::maxprocs() asks it while no runtime runs), unless GORTMAXPROCS (parse_maxprocs_env) is set;
// while it runs, sysmon asks again about once a second unless the count was set explicitly
// (src/sched/resize.cpp). The
// default follows Go 1.25, not automaxprocs: a fractional limit is rounded *up* and a quota never
// pushes the count below 2. The quota is an average budget per period, so rounding down would
// leave part of it unusable (1.5 CPUs -> 1), while a single P would serialize every goroutine
// behind whichever one is running.
//
// Invariants:
//   * Every function here is pure apart from reading files and the calling thread's affinity
//     mask: no global state, no caching, so any thread may call any of them at any time.
//   * Nothing throws for bad input or missing files; outcomes travel in cpu_quota::state and
//     cpu_quota::error. (Only allocation failure can throw, which the runtime treats as fatal.)
//   * A missing cgroup file or no cgroup at all is "undefined" (run on all CPUs), never an error:
//     plenty of hosts have no CPU controller. An error means a file exists but cannot be read or
//     does not say what the kernel documents; callers fall back to the CPU count and may report it.
//   * default_maxprocs and parse_maxprocs_env only ever yield values in [1, k_max_procs].
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gort::sys {

// Largest accepted processor count; GORTMAXPROCS above it is rejected, larger machines are capped.
inline constexpr int k_max_procs = 1024;

// cgroup v2's cpu.max omits the period when only the quota was written; the kernel's default is
// 100 ms.
inline constexpr long long k_default_cfs_period_us = 100000;

struct cpu_quota {
  enum class status { undefined, limited, error };
  status state = status::undefined;
  double cpus = 0;    // quota / period, meaningful only when state == limited
  std::string error;  // when state == error: what failed, naming the file when one was read
};

// Parses cgroup v2 cpu.max content ("<quota|max> [<period>]"; only the first line counts):
//   "max 100000" -> undefined; "250000 100000" -> limited 2.5; "500000" -> limited 5.0;
//   "" -> error "unexpected EOF"; 0 or more than 2 fields -> error "invalid format";
//   period 0 -> error "zero value for period is not allowed"; a quota or period that is not a
//   plain unsigned decimal (sign, garbage, overflow) -> error "invalid format".
// Messages carry no path; read_cgroup2_cpu_max and read_cpu_quota prefix it.
cpu_quota parse_cgroup2_cpu_max(std::string_view content);

// Parses cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us contents (one signed decimal each,
// surrounding whitespace allowed). quota <= 0 (the kernel writes -1 for "no limit") ->
// undefined without looking at the period; period <= 0 -> undefined; otherwise quota / period.
// Unparsable -> error "<file name>: invalid format".
cpu_quota parse_cgroup1_cfs(std::string_view quota_us, std::string_view period_us);

struct cgroup_entry {
  int hierarchy_id = 0;                  // 0 is the cgroup v2 unified hierarchy
  std::vector<std::string> controllers;  // empty for v2; v1 named hierarchies appear as "name=x"
  std::string path;                      // as printed, relative to the hierarchy's root
};

// Parses /proc/self/cgroup lines "id:ctrl1,ctrl2:path". The path is everything after the second
// ':' (it may contain ':'). Empty lines are skipped. nullopt when any line lacks two ':' or has a
// hierarchy id that is not a non-negative decimal.
std::optional<std::vector<cgroup_entry>> parse_proc_cgroup(std::string_view content);

struct mount_entry {
  std::string root;         // the mounted directory within its filesystem (decoded)
  std::string mount_point;  // where it is mounted, relative to the process's root (decoded)
  std::string fstype;
  std::vector<std::string> super_options;
};

// Parses /proc/self/mountinfo lines
//   "id parent major:minor root mount_point options [optional fields...] - fstype source super_options"
// Fields are separated by single spaces (the kernel escapes space, tab, newline and backslash in
// paths as \ooo octal, e.g. \040); root, mount point, fstype and options are decoded. Empty lines
// are skipped. nullopt when any line has a non-numeric id, no " - " separator after the six
// leading fields, fewer than three fields after it, or a bad escape.
std::optional<std::vector<mount_entry>> parse_mountinfo(std::string_view content);

// Maps a cgroup path from /proc/self/cgroup into the mount whose root is `mount_root`: returns
// the suffix to append to the mount point ("" when the cgroup is the mount root itself, else
// "/a/b"). Both paths are cleaned lexically first ("." and ".." resolved, repeated '/' removed),
// because under a cgroup namespace /proc/self/cgroup can show "/../x". nullopt when the cgroup
// lies outside the mount root, i.e. not visible through this mount.
std::optional<std::string> cgroup_path_within_mount(std::string_view mount_root,
                                                    std::string_view cgroup_path);

// Reads the cgroup v2 cpu.max file at `path` and parses it. Missing file -> undefined; any other
// open or read failure (including `path` being a directory) -> error "<path>: <reason>"; parse
// errors -> error "<path>: <parse message>".
cpu_quota read_cgroup2_cpu_max(const std::string& path);

// Reads cpu.cfs_quota_us (and, only when the quota is positive, cpu.cfs_period_us) from the
// cgroup v1 directory `dir`. Missing files -> undefined; failures -> error naming the file.
cpu_quota read_cgroup1_cfs(const std::string& dir);

// Locates and reads the calling process's CPU limit like Go 1.25 (leaf cgroup only; a tighter
// limit on an ancestor is not seen):
//   1. A cgroup v1 hierarchy with the "cpu" controller, when /proc/self/cgroup lists one and a
//      "cgroup" mount carries "cpu" in its super options. It takes precedence over v2, as in Go
//      1.25, because on hybrid hosts the v2 hierarchy (often at /sys/fs/cgroup/unified) has no
//      CPU controller and its cpu.max does not exist.
//   2. Otherwise cgroup v2, when a "cgroup2" mount exists and /proc/self/cgroup has a
//      "0::/path" entry.
//   3. Otherwise undefined.
// The cgroup path is translated relative to the mount's root (cgroup_path_within_mount). When a
// hierarchy is mounted more than once, the first mount in mountinfo order whose root contains
// the cgroup is used, except that for v2 a mount at /sys/fs/cgroup is tried first; when none
// contains it -> error. `sysroot` is prepended to every absolute path read
// ("" = the real system), so tests can point it at a directory holding proc/self/cgroup,
// proc/self/mountinfo and sys/fs/cgroup/... . Missing /proc files or limit files -> undefined;
// unreadable or garbled ones -> error with the path in the message.
cpu_quota read_cpu_quota(const std::string& sysroot = "");

// Number of CPUs in the calling thread's affinity mask, via sched_getaffinity with a dynamically
// sized set so machines with more than 1024 CPUs are counted correctly. At least 1; falls back to
// sysconf(_SC_NPROCESSORS_ONLN) if the mask cannot be read.
int affinity_cpu_count();

// Go 1.25's default: limited -> min(cpus, max(2, ceil(quota.cpus))); undefined or error -> cpus.
// The result is clamped to [1, k_max_procs] (cpus <= 0 counts as 1).
int default_maxprocs(int cpus, const cpu_quota& quota);

struct maxprocs_env {
  bool set = false;    // the variable exists (even if empty)
  bool valid = false;  // set and a decimal integer in [1, k_max_procs]
  int value = 0;       // when valid
  std::string error;   // when set && !valid: invalid GORTMAXPROCS="<value>": want an integer in [1, 1024]
};

// Parses the GORTMAXPROCS environment value (pass getenv's result). nullptr -> {set = false}.
// Valid: an unsigned decimal integer in [1, k_max_procs], surrounding whitespace allowed, no sign.
// In the error message the value is quoted with '"', '\\' and control characters escaped, so a
// hostile value cannot forge extra log lines.
maxprocs_env parse_maxprocs_env(const char* value);

}  // namespace gort::sys
