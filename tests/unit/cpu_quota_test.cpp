// Unit tests for src/sys/cpu_quota: cgroup limit parsing and discovery, Go 1.25's default
// processor count, GORTMAXPROCS parsing and the affinity CPU count.
//
// The cgroup v2 cases are ported from automaxprocs' TestCGroupsCPUQuotaV2 and
// TestCGroupsIsCGroupV2 (case names kept); discovery runs end to end against fake system roots
// under tests/support/fixtures/cgroup (see its README.md). Nothing here depends on the host's own
// cgroup setup except the affinity tests, which compare against the kernel directly.

#include "sys/cpu_quota.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <thread>

namespace gort::sys {
namespace {

using status = cpu_quota::status;

std::string fixture(const std::string& rel) { return std::string(GORT_FIXTURES_DIR) + "/cgroup/" + rel; }

std::string sysroot(const std::string& name) { return fixture("sysroots/" + name); }

// Reads a fixture; an unreadable fixture fails the calling test rather than parsing "".
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.is_open()) << "missing fixture " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string describe(const cpu_quota& q) {
  std::ostringstream out;
  switch (q.state) {
    case status::undefined: out << "undefined"; break;
    case status::limited: out << "limited " << q.cpus; break;
    case status::error: out << "error \"" << q.error << "\""; break;
  }
  return out.str();
}

cpu_quota limited(double cpus) {
  cpu_quota q;
  q.state = status::limited;
  q.cpus = cpus;
  return q;
}

cpu_quota errored() {
  cpu_quota q;
  q.state = status::error;
  q.error = "x: invalid format";
  return q;
}

// ---------------------------------------------------------------------------------------------
// cgroup v2 cpu.max, ported from automaxprocs' TestCGroupsCPUQuotaV2: each case is a file under
// v2-cpu-max/, read through read_cgroup2_cpu_max like automaxprocs reads <mount>/<cpuMaxFile>.

struct v2_case {
  const char* name;
  status want_state;
  double want_cpus;
  const char* want_error;  // substring of the error, after the path prefix
};

class CpuQuotaCgroup2File : public ::testing::TestWithParam<v2_case> {};

TEST_P(CpuQuotaCgroup2File, TestCGroupsCPUQuotaV2) {
  const v2_case& c = GetParam();
  const std::string path = fixture(std::string("v2-cpu-max/") + c.name);
  const cpu_quota q = read_cgroup2_cpu_max(path);
  ASSERT_EQ(q.state, c.want_state) << describe(q);
  switch (c.want_state) {
    case status::limited: EXPECT_DOUBLE_EQ(q.cpus, c.want_cpus); break;
    case status::error: EXPECT_EQ(q.error, path + ": " + c.want_error); break;
    case status::undefined: EXPECT_TRUE(q.error.empty()); break;
  }
}

INSTANTIATE_TEST_SUITE_P(
    CpuQuotaAutomaxprocs, CpuQuotaCgroup2File,
    ::testing::Values(v2_case{"set", status::limited, 2.5, ""},
                      v2_case{"unset", status::undefined, 0, ""},
                      v2_case{"only-max", status::limited, 5.0, ""},
                      v2_case{"invalid-max", status::error, 0, "invalid format"},
                      v2_case{"invalid-period", status::error, 0, "invalid format"},
                      v2_case{"nonexistent", status::undefined, 0, ""},
                      v2_case{"empty", status::error, 0, "unexpected EOF"},
                      v2_case{"too-few-fields", status::error, 0, "invalid format"},
                      v2_case{"too-many-fields", status::error, 0, "invalid format"},
                      v2_case{"zero-period", status::error, 0, "zero value for period is not allowed"}),
    [](const ::testing::TestParamInfo<v2_case>& param_info) {
      std::string name = param_info.param.name;
      for (char& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name;
    });

TEST(CpuQuotaCgroup2Parse, LimitedValues) {
  EXPECT_DOUBLE_EQ(parse_cgroup2_cpu_max("250000 100000\n").cpus, 2.5);
  EXPECT_DOUBLE_EQ(parse_cgroup2_cpu_max("250000 100000").cpus, 2.5);
  EXPECT_DOUBLE_EQ(parse_cgroup2_cpu_max("500000").cpus, 5.0);
  EXPECT_DOUBLE_EQ(parse_cgroup2_cpu_max("50000 100000\n").cpus, 0.5);
  EXPECT_DOUBLE_EQ(parse_cgroup2_cpu_max("  150000\t100000  \n").cpus, 1.5);
  // Only the first line is the value.
  const cpu_quota q = parse_cgroup2_cpu_max("300000 100000\nmax 1 2 3\n");
  EXPECT_EQ(q.state, status::limited) << describe(q);
  EXPECT_DOUBLE_EQ(q.cpus, 3.0);
}

TEST(CpuQuotaCgroup2Parse, MaxIsUndefined) {
  EXPECT_EQ(parse_cgroup2_cpu_max("max 100000\n").state, status::undefined);
  EXPECT_EQ(parse_cgroup2_cpu_max("max").state, status::undefined);
}

TEST(CpuQuotaCgroup2Parse, ErrorsCarryNoPath) {
  const struct {
    const char* content;
    const char* error;
  } cases[] = {
      {"", "unexpected EOF"},
      {"\n", "invalid format"},
      {"   \n250000 100000\n", "invalid format"},
      {"1 2 3", "invalid format"},
      {"asdf 100000", "invalid format"},
      {"250000 njn", "invalid format"},
      {"-1 100000", "invalid format"},
      {"250000 -100000", "invalid format"},
      {"+250000 100000", "invalid format"},
      {"2.5 1", "invalid format"},
      {"99999999999999999999 100000", "invalid format"},
      {"250000 0", "zero value for period is not allowed"},
  };
  for (const auto& c : cases) {
    const cpu_quota q = parse_cgroup2_cpu_max(c.content);
    EXPECT_EQ(q.state, status::error) << '"' << c.content << "\" gave " << describe(q);
    EXPECT_EQ(q.error, c.error) << '"' << c.content << '"';
  }
}

// ---------------------------------------------------------------------------------------------
// cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us.

TEST(CpuQuotaCgroup1, NegativeQuotaIsUndefined) {
  EXPECT_EQ(parse_cgroup1_cfs("-1\n", "100000\n").state, status::undefined);
  EXPECT_EQ(parse_cgroup1_cfs("0\n", "100000\n").state, status::undefined);
}

TEST(CpuQuotaCgroup1, NonPositivePeriodIsUndefined) {
  EXPECT_EQ(parse_cgroup1_cfs("150000\n", "0\n").state, status::undefined);
  EXPECT_EQ(parse_cgroup1_cfs("150000\n", "-100000\n").state, status::undefined);
}

TEST(CpuQuotaCgroup1, QuotaOverPeriod) {
  const cpu_quota q = parse_cgroup1_cfs("150000\n", "100000\n");
  ASSERT_EQ(q.state, status::limited) << describe(q);
  EXPECT_DOUBLE_EQ(q.cpus, 1.5);
  EXPECT_DOUBLE_EQ(parse_cgroup1_cfs("  50000 ", "100000").cpus, 0.5);
}

TEST(CpuQuotaCgroup1, GarbageIsAnErrorNamingTheFile) {
  const cpu_quota bad_quota = parse_cgroup1_cfs("lots\n", "100000\n");
  EXPECT_EQ(bad_quota.state, status::error);
  EXPECT_EQ(bad_quota.error, "cpu.cfs_quota_us: invalid format");

  const cpu_quota bad_period = parse_cgroup1_cfs("150000\n", "1e5\n");
  EXPECT_EQ(bad_period.state, status::error);
  EXPECT_EQ(bad_period.error, "cpu.cfs_period_us: invalid format");

  EXPECT_EQ(parse_cgroup1_cfs("", "100000").state, status::error);
  EXPECT_EQ(parse_cgroup1_cfs("1 2", "100000").state, status::error);
  EXPECT_EQ(parse_cgroup1_cfs("99999999999999999999", "100000").state, status::error);
}

TEST(CpuQuotaCgroup1, PeriodIgnoredWithoutQuota) {
  // Like automaxprocs, an unlimited quota short-circuits: the period file does not matter.
  EXPECT_EQ(parse_cgroup1_cfs("-1\n", "garbage").state, status::undefined);
}

TEST(CpuQuotaCgroup1, MissingDirectoryIsUndefined) {
  EXPECT_EQ(read_cgroup1_cfs(fixture("does-not-exist")).state, status::undefined);
}

// ---------------------------------------------------------------------------------------------
// /proc/self/cgroup.

TEST(CpuQuotaProcCgroup, V1Only) {
  const auto entries = parse_proc_cgroup(slurp(fixture("proc/cgroup-v1")));
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 12u);
  const cgroup_entry& cpu = (*entries)[1];
  EXPECT_EQ(cpu.hierarchy_id, 11);
  EXPECT_EQ(cpu.controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(cpu.path, "/docker/4f1d5a2b");
  const cgroup_entry& named = entries->back();
  EXPECT_EQ(named.hierarchy_id, 1);
  EXPECT_EQ(named.controllers, (std::vector<std::string>{"name=systemd"}));
  for (const auto& e : *entries) EXPECT_NE(e.hierarchy_id, 0);
}

TEST(CpuQuotaProcCgroup, HybridV1AndV2) {
  const auto entries = parse_proc_cgroup(slurp(fixture("proc/cgroup-hybrid")));
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 6u);
  EXPECT_EQ((*entries)[1].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ((*entries)[1].path, "/system.slice/web.service");
  const cgroup_entry& unified = entries->back();
  EXPECT_EQ(unified.hierarchy_id, 0);
  EXPECT_TRUE(unified.controllers.empty());
  EXPECT_EQ(unified.path, "/system.slice/web.service");
}

TEST(CpuQuotaProcCgroup, V2Only) {
  const auto entries = parse_proc_cgroup(slurp(fixture("proc/cgroup-v2")));
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].hierarchy_id, 0);
  EXPECT_TRUE((*entries)[0].controllers.empty());
  EXPECT_EQ((*entries)[0].path, "/user.slice/user-1000.slice/session-3.scope");
}

TEST(CpuQuotaProcCgroup, PathMayContainColons) {
  const auto entries = parse_proc_cgroup(slurp(fixture("proc/cgroup-colon-path")));
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].path, "/kubepods/pod:1234/ctr:abc");

  const auto v1 = parse_proc_cgroup("3:cpu:/a:b:c\n");
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ((*v1)[0].controllers, (std::vector<std::string>{"cpu"}));
  EXPECT_EQ((*v1)[0].path, "/a:b:c");
}

TEST(CpuQuotaProcCgroup, EmptyContentHasNoEntries) {
  const auto entries = parse_proc_cgroup("");
  ASSERT_TRUE(entries.has_value());
  EXPECT_TRUE(entries->empty());
}

TEST(CpuQuotaProcCgroup, MalformedLines) {
  for (const char* content : {"garbage\n", "1:cpu\n", "x:cpu:/\n", ":cpu:/\n", "-1:cpu:/\n",
                              "0::/\nno colons here\n", "99999999999:cpu:/\n"}) {
    EXPECT_FALSE(parse_proc_cgroup(content).has_value()) << '"' << content << '"';
  }
}

// ---------------------------------------------------------------------------------------------
// /proc/self/mountinfo. The first three follow automaxprocs' TestCGroupsIsCGroupV2 fixtures:
// v1 only, hybrid (cgroup2 not at /sys/fs/cgroup), v2 at /sys/fs/cgroup.

const mount_entry* find_mount(const std::vector<mount_entry>& mounts, const std::string& point) {
  for (const auto& m : mounts) {
    if (m.mount_point == point) return &m;
  }
  return nullptr;
}

TEST(CpuQuotaMountinfo, V1Only) {
  const auto mounts = parse_mountinfo(slurp(fixture("proc/mountinfo-v1")));
  ASSERT_TRUE(mounts.has_value());
  ASSERT_EQ(mounts->size(), 8u);
  for (const auto& m : *mounts) EXPECT_NE(m.fstype, "cgroup2") << m.mount_point;
  const mount_entry* cpu = find_mount(*mounts, "/sys/fs/cgroup/cpu,cpuacct");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->root, "/");
  EXPECT_EQ(cpu->fstype, "cgroup");
  EXPECT_EQ(cpu->super_options, (std::vector<std::string>{"rw", "cpu", "cpuacct"}));
  const mount_entry* root = find_mount(*mounts, "/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->fstype, "ext4");
}

TEST(CpuQuotaMountinfo, HybridV1V2) {
  const auto mounts = parse_mountinfo(slurp(fixture("proc/mountinfo-v1-v2")));
  ASSERT_TRUE(mounts.has_value());
  const mount_entry* unified = find_mount(*mounts, "/sys/fs/cgroup/unified");
  ASSERT_NE(unified, nullptr);
  EXPECT_EQ(unified->fstype, "cgroup2");
  EXPECT_EQ(unified->super_options, (std::vector<std::string>{"rw", "nsdelegate"}));
  const mount_entry* cpu = find_mount(*mounts, "/sys/fs/cgroup/cpu,cpuacct");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->fstype, "cgroup");
  const mount_entry* tmpfs = find_mount(*mounts, "/sys/fs/cgroup");
  ASSERT_NE(tmpfs, nullptr);
  EXPECT_EQ(tmpfs->fstype, "tmpfs");
}

TEST(CpuQuotaMountinfo, V2Only) {
  const auto mounts = parse_mountinfo(slurp(fixture("proc/mountinfo-v2")));
  ASSERT_TRUE(mounts.has_value());
  ASSERT_EQ(mounts->size(), 3u);
  const mount_entry* v2 = find_mount(*mounts, "/sys/fs/cgroup");
  ASSERT_NE(v2, nullptr);
  EXPECT_EQ(v2->fstype, "cgroup2");
  EXPECT_EQ(v2->root, "/");
  // The type is field 9, not the mount source that happens to be called "cgroup".
  const mount_entry* foo = find_mount(*mounts, "/sys/fs/foo");
  ASSERT_NE(foo, nullptr);
  EXPECT_EQ(foo->fstype, "foo");
}

TEST(CpuQuotaMountinfo, OctalEscapesAndOptionalFields) {
  const auto mounts = parse_mountinfo(slurp(fixture("proc/mountinfo-escaped")));
  ASSERT_TRUE(mounts.has_value());
  ASSERT_EQ(mounts->size(), 2u);
  EXPECT_EQ((*mounts)[0].root, "/my root");
  EXPECT_EQ((*mounts)[0].mount_point, "/mnt/with space");
  EXPECT_EQ((*mounts)[0].fstype, "cgroup2");
  EXPECT_EQ((*mounts)[0].super_options, (std::vector<std::string>{"rw"}));
  EXPECT_EQ((*mounts)[1].root, "/tab\tdir");
  EXPECT_EQ((*mounts)[1].mount_point, "/mnt/back\\slash");
  EXPECT_EQ((*mounts)[1].fstype, "tmpfs");
  EXPECT_EQ((*mounts)[1].super_options, (std::vector<std::string>{"rw", "size=64k"}));
}

TEST(CpuQuotaMountinfo, MalformedLines) {
  const char* cases[] = {
      "garbage\n",
      // no " - " separator
      "34 33 0:29 / /sys/fs/cgroup rw,nosuid shared:10 cgroup2 cgroup2 rw\n",
      // too few fields after the separator
      "34 33 0:29 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2\n",
      // non-numeric mount id
      "x 33 0:29 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
      // separator in place of the mount options: fewer than six leading fields
      "34 33 0:29 / /sys/fs/cgroup - cgroup2 cgroup2 rw\n",
      // truncated and non-octal escapes
      "34 33 0:29 / /sys/fs/cgroup\\04 rw - cgroup2 cgroup2 rw\n",
      "34 33 0:29 / /sys/fs/cgroup\\09x rw - cgroup2 cgroup2 rw\n",
      // one good line does not excuse a bad one
      "34 33 0:29 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\nbad line\n",
  };
  for (const char* content : cases) {
    EXPECT_FALSE(parse_mountinfo(content).has_value()) << '"' << content << '"';
  }
}

TEST(CpuQuotaMountinfo, EmptyContentHasNoMounts) {
  const auto mounts = parse_mountinfo("");
  ASSERT_TRUE(mounts.has_value());
  EXPECT_TRUE(mounts->empty());
}

// ---------------------------------------------------------------------------------------------
// Translating a cgroup path into a mount.

TEST(CpuQuotaPath, WithinMountRoot) {
  EXPECT_EQ(cgroup_path_within_mount("/", "/a/b"), "/a/b");
  EXPECT_EQ(cgroup_path_within_mount("/", "/"), "");
  EXPECT_EQ(cgroup_path_within_mount("/kubepods/pod1", "/kubepods/pod1"), "");
  EXPECT_EQ(cgroup_path_within_mount("/kubepods/pod1", "/kubepods/pod1/ctr1"), "/ctr1");
  EXPECT_EQ(cgroup_path_within_mount("/kubepods/pod1/", "/kubepods//pod1/./ctr1/"), "/ctr1");
  EXPECT_EQ(cgroup_path_within_mount("/a", "/a/b/../c"), "/c");
}

TEST(CpuQuotaPath, OutsideMountRoot) {
  EXPECT_EQ(cgroup_path_within_mount("/kubepods/pod1", "/other/ctr"), std::nullopt);
  // A shared name prefix is not containment.
  EXPECT_EQ(cgroup_path_within_mount("/kubepods/pod1", "/kubepods/pod10"), std::nullopt);
  EXPECT_EQ(cgroup_path_within_mount("/kubepods/pod1", "/kubepods"), std::nullopt);
  // Under a cgroup namespace a cgroup outside the namespace shows as "/../x".
  EXPECT_EQ(cgroup_path_within_mount("/", "/../x"), std::nullopt);
  EXPECT_EQ(cgroup_path_within_mount("/a", "/a/../b"), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// read_cpu_quota end to end on fake system roots.

TEST(CpuQuotaRead, V2LimitedLeafOnly) {
  const cpu_quota q = read_cpu_quota(sysroot("v2-limited"));
  ASSERT_EQ(q.state, status::limited) << describe(q);
  EXPECT_DOUBLE_EQ(q.cpus, 2.5);  // the parent's 1.0 is not consulted
}

TEST(CpuQuotaRead, V2MaxIsUndefined) {
  const cpu_quota q = read_cpu_quota(sysroot("v2-max"));
  EXPECT_EQ(q.state, status::undefined) << describe(q);
}

TEST(CpuQuotaRead, V2MissingCpuMaxIsUndefined) {
  const cpu_quota q = read_cpu_quota(sysroot("v2-nonexistent"));
  EXPECT_EQ(q.state, status::undefined) << describe(q);
}

TEST(CpuQuotaRead, V2UnreadableCpuMaxIsAnError) {
  const cpu_quota q = read_cpu_quota(sysroot("v2-unreadable"));
  ASSERT_EQ(q.state, status::error) << describe(q);
  const std::string prefix = sysroot("v2-unreadable") + "/sys/fs/cgroup/cpu.max: ";
  EXPECT_EQ(q.error.rfind(prefix, 0), 0u) << q.error;
  EXPECT_GT(q.error.size(), prefix.size()) << "no reason after the path";
}

TEST(CpuQuotaRead, V2MountRootTranslation) {
  const cpu_quota q = read_cpu_quota(sysroot("v2-bind-mounted-subtree"));
  ASSERT_EQ(q.state, status::limited) << describe(q);
  EXPECT_DOUBLE_EQ(q.cpus, 1.5);
}

TEST(CpuQuotaRead, V1LimitedWithMountRootTranslation) {
  const cpu_quota q = read_cpu_quota(sysroot("v1-limited"));
  ASSERT_EQ(q.state, status::limited) << describe(q);
  EXPECT_DOUBLE_EQ(q.cpus, 1.5);
}

TEST(CpuQuotaRead, V1UnlimitedIsUndefined) {
  const cpu_quota q = read_cpu_quota(sysroot("v1-unlimited"));
  EXPECT_EQ(q.state, status::undefined) << describe(q);
}

TEST(CpuQuotaRead, V1PathOutsideMountRootIsAnError) {
  const cpu_quota q = read_cpu_quota(sysroot("v1-outside-root"));
  ASSERT_EQ(q.state, status::error) << describe(q);
  EXPECT_NE(q.error.find(sysroot("v1-outside-root") + "/proc/self/cgroup"), std::string::npos) << q.error;
  EXPECT_NE(q.error.find("/other/ctr9"), std::string::npos) << q.error;
  EXPECT_NE(q.error.find("outside"), std::string::npos) << q.error;
}

TEST(CpuQuotaRead, V2PrefersTheMountAtSysFsCgroup) {
  const cpu_quota q = read_cpu_quota(sysroot("v2-extra-mount"));
  ASSERT_EQ(q.state, status::limited) << describe(q);
  EXPECT_DOUBLE_EQ(q.cpus, 1.5);  // not the decoy 4.0 under the earlier /mnt/debug-cgroup mount
}

TEST(CpuQuotaRead, V1UsesAMountThatCanSeeTheCgroup) {
  // The first cpu mount only shows /kubepods/pod1; the second, the whole hierarchy.
  const cpu_quota q = read_cpu_quota(sysroot("v1-two-mounts"));
  ASSERT_EQ(q.state, status::limited) << describe(q);
  EXPECT_DOUBLE_EQ(q.cpus, 2.5);
}

TEST(CpuQuotaRead, HybridPrefersV1CpuController) {
  const cpu_quota q = read_cpu_quota(sysroot("hybrid"));
  ASSERT_EQ(q.state, status::limited) << describe(q);
  EXPECT_DOUBLE_EQ(q.cpus, 0.5);  // not the unified hierarchy's decoy 4.0
}

TEST(CpuQuotaRead, NoCgroupMountIsUndefined) {
  const cpu_quota q = read_cpu_quota(sysroot("no-cgroup-mount"));
  EXPECT_EQ(q.state, status::undefined) << describe(q);
}

TEST(CpuQuotaRead, NoCgroupFilesAtAllIsUndefined) {
  const cpu_quota q = read_cpu_quota(sysroot("does-not-exist"));
  EXPECT_EQ(q.state, status::undefined) << describe(q);
}

TEST(CpuQuotaRead, GarbledMountinfoIsAnErrorNamingTheFile) {
  const cpu_quota q = read_cpu_quota(sysroot("garbled-mountinfo"));
  ASSERT_EQ(q.state, status::error) << describe(q);
  EXPECT_EQ(q.error, sysroot("garbled-mountinfo") + "/proc/self/mountinfo: invalid format");
}

TEST(CpuQuotaRead, TrailingSlashInSysrootIsHarmless) {
  const cpu_quota q = read_cpu_quota(sysroot("v2-limited") + "/");
  ASSERT_EQ(q.state, status::limited) << describe(q);
  EXPECT_DOUBLE_EQ(q.cpus, 2.5);
}

TEST(CpuQuotaRead, RealSystemGivesAConsistentAnswer) {
  // The host's limit is unknown, so check only that the result is self-consistent.
  const cpu_quota q = read_cpu_quota();
  switch (q.state) {
    case status::limited: EXPECT_TRUE(std::isfinite(q.cpus) && q.cpus >= 0) << describe(q); break;
    case status::error: EXPECT_FALSE(q.error.empty()); break;
    case status::undefined: EXPECT_TRUE(q.error.empty()); break;
  }
}

// ---------------------------------------------------------------------------------------------
// Go 1.25's default processor count.

TEST(CpuQuotaDefault, RoundsUpWithAFloorOfTwo) {
  EXPECT_EQ(default_maxprocs(8, limited(2.5)), 3);
  EXPECT_EQ(default_maxprocs(8, limited(0.5)), 2);
  EXPECT_EQ(default_maxprocs(8, limited(1.0)), 2);
  EXPECT_EQ(default_maxprocs(8, limited(3.0)), 3);
  EXPECT_EQ(default_maxprocs(8, limited(7.01)), 8);
}

TEST(CpuQuotaDefault, NeverAboveTheCpuCount) {
  EXPECT_EQ(default_maxprocs(1, limited(0.5)), 1);
  EXPECT_EQ(default_maxprocs(4, limited(16)), 4);
}

TEST(CpuQuotaDefault, UndefinedOrErrorUsesCpus) {
  EXPECT_EQ(default_maxprocs(6, cpu_quota{}), 6);
  EXPECT_EQ(default_maxprocs(6, errored()), 6);
  // An error's stale cpus value must not leak into the result.
  cpu_quota stale = errored();
  stale.cpus = 1;
  EXPECT_EQ(default_maxprocs(6, stale), 6);
}

TEST(CpuQuotaDefault, ClampedToValidRange) {
  EXPECT_EQ(default_maxprocs(0, cpu_quota{}), 1);
  EXPECT_EQ(default_maxprocs(-5, limited(4)), 1);
  EXPECT_EQ(default_maxprocs(5000, cpu_quota{}), k_max_procs);
  EXPECT_EQ(default_maxprocs(5000, limited(2000)), k_max_procs);
  EXPECT_EQ(default_maxprocs(8, limited(1e300)), 8);
  EXPECT_EQ(default_maxprocs(8, limited(std::numeric_limits<double>::infinity())), 8);
  EXPECT_EQ(default_maxprocs(8, limited(std::numeric_limits<double>::quiet_NaN())), 8);
}

// ---------------------------------------------------------------------------------------------
// GORTMAXPROCS.

TEST(CpuQuotaEnv, UnsetIsNotSet) {
  const maxprocs_env env = parse_maxprocs_env(nullptr);
  EXPECT_FALSE(env.set);
  EXPECT_FALSE(env.valid);
  EXPECT_TRUE(env.error.empty());
}

TEST(CpuQuotaEnv, ValidValues) {
  const struct {
    const char* text;
    int value;
  } cases[] = {{"4", 4}, {"1", 1}, {"1024", 1024}, {" 8 ", 8}, {"\t16\n", 16}, {"007", 7}};
  for (const auto& c : cases) {
    const maxprocs_env env = parse_maxprocs_env(c.text);
    EXPECT_TRUE(env.set) << '"' << c.text << '"';
    EXPECT_TRUE(env.valid) << '"' << c.text << "\": " << env.error;
    EXPECT_EQ(env.value, c.value) << '"' << c.text << '"';
    EXPECT_TRUE(env.error.empty()) << env.error;
  }
}

TEST(CpuQuotaEnv, InvalidValues) {
  for (const char* text : {"", "0", "-3", "abc", "4x", "99999999999999999999", "2000", "1025", "+4",
                           " ", "4 4", "0x10", "2.5"}) {
    const maxprocs_env env = parse_maxprocs_env(text);
    EXPECT_TRUE(env.set) << '"' << text << '"';
    EXPECT_FALSE(env.valid) << '"' << text << '"';
    EXPECT_EQ(env.error,
              std::string("invalid GORTMAXPROCS=\"") + text + "\": want an integer in [1, 1024]");
  }
}

TEST(CpuQuotaEnv, ErrorQuotesControlCharacters) {
  const maxprocs_env env = parse_maxprocs_env("a\"b\\c\nd\x01");
  EXPECT_FALSE(env.valid);
  EXPECT_EQ(env.error, "invalid GORTMAXPROCS=\"a\\\"b\\\\c\\nd\\x01\": want an integer in [1, 1024]");
}

// ---------------------------------------------------------------------------------------------
// Affinity.

TEST(CpuQuotaAffinity, MatchesTheKernelMask) {
  const int n = affinity_cpu_count();
  EXPECT_GE(n, 1);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    GTEST_SKIP() << "more CPUs than a static cpu_set_t holds; the dynamic path is the only reference";
  }
  EXPECT_EQ(n, CPU_COUNT(&set));
}

TEST(CpuQuotaAffinity, UsesTheCallingThreadsMask) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  ASSERT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
  int first = -1;
  for (int cpu = 0; cpu < CPU_SETSIZE && first < 0; ++cpu) {
    if (CPU_ISSET(cpu, &mask)) first = cpu;
  }
  ASSERT_GE(first, 0);

  int pinned_count = 0;
  int pin_result = -1;
  // A fresh thread so the test runner's own mask is untouched.
  std::thread pinned([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    pin_result = sched_setaffinity(0, sizeof one, &one);
    pinned_count = affinity_cpu_count();
  });
  pinned.join();
  ASSERT_EQ(pin_result, 0);
  EXPECT_EQ(pinned_count, 1);
  EXPECT_EQ(affinity_cpu_count(), CPU_COUNT(&mask));
}

}  // namespace
}  // namespace gort::sys
