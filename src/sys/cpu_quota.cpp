// cpu_quota: see cpu_quota.hpp for the contract. Every function here is callable from any thread:
// the only state is what the kernel reports (files and the calling thread's affinity mask), and
// errno text is fetched with strerror_r rather than the non-reentrant strerror.

#include "sys/cpu_quota.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>

namespace gort::sys {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Digits only: std::from_chars alone would accept a leading '-', and the kernel never writes '+'.
std::optional<long long> parse_unsigned(std::string_view s) {
  if (!all_digits(s)) return std::nullopt;
  long long value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<long long> parse_signed(std::string_view s) {
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (!all_digits(s)) return std::nullopt;
  // Parse the magnitude as unsigned so that LLONG_MIN's magnitude does not overflow.
  unsigned long long magnitude = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  if (negative) {
    if (magnitude > static_cast<unsigned long long>(LLONG_MAX) + 1) return std::nullopt;
    return static_cast<long long>(0 - magnitude);
  }
  if (magnitude > static_cast<unsigned long long>(LLONG_MAX)) return std::nullopt;
  return static_cast<long long>(magnitude);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

std::vector<std::string_view> split_whitespace(std::string_view s) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > start) fields.push_back(s.substr(start, i - start));
  }
  return fields;
}

std::vector<std::string_view> lines(std::string_view content) {
  std::vector<std::string_view> out;
  for (const auto line : split(content, '\n')) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The kernel's show_path/mangle escapes as a backslash and exactly three octal digits; anything
// else means the file is not what we think it is.
std::optional<std::string> decode_octal_escapes(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 3 >= in.size()) return std::nullopt;
    int value = 0;
    for (std::size_t k = 1; k <= 3; ++k) {
      const char c = in[i + k];
      if (c < '0' || c > '7') return std::nullopt;
      value = value * 8 + (c - '0');
    }
    if (value > 0xff) return std::nullopt;
    out.push_back(static_cast<char>(value));
    i += 3;
  }
  return out;
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// GNU strerror_r returns char*, XSI strerror_r returns int; overloads accept whichever libc gives.
[[maybe_unused]] const char* strerror_text(int rc, const char* buf) {
  return rc == 0 ? buf : "unknown error";
}
[[maybe_unused]] const char* strerror_text(const char* text, const char*) { return text; }

std::string errno_message(int err) {
  char buf[256] = {};
  return strerror_text(strerror_r(err, buf, sizeof buf), buf);
}

struct file_contents {
  enum class outcome { ok, missing, failed };
  outcome result = outcome::failed;
  std::string data;
  std::string reason;  // when failed
};

// POSIX I/O rather than iostreams: a stream cannot tell "no such file" (undefined) from "cannot
// read" (error), and opening a directory succeeds with ifstream only to fail silently later.
file_contents read_whole_file(const std::string& path) {
  file_contents f;
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    f.result = err == ENOENT ? file_contents::outcome::missing : file_contents::outcome::failed;
    f.reason = errno_message(err);
    return f;
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      f.data.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      f.result = file_contents::outcome::ok;
      break;
    } else if (errno != EINTR) {
      f.reason = errno_message(errno);
      f.data.clear();
      break;
    }
  }
  ::close(fd);
  return f;
}

cpu_quota undefined_quota() { return {}; }

cpu_quota limited_quota(double cpus) {
  cpu_quota q;
  q.state = cpu_quota::status::limited;
  q.cpus = cpus;
  return q;
}

cpu_quota error_quota(std::string message) {
  cpu_quota q;
  q.state = cpu_quota::status::error;
  q.error = std::move(message);
  return q;
}

cpu_quota prefix_error(const std::string& path, cpu_quota q) {
  if (q.state == cpu_quota::status::error) q.error = path + ": " + q.error;
  return q;
}

// Resolves "." and ".." and drops empty components. nullopt when ".." climbs above "/".
std::optional<std::vector<std::string_view>> clean_components(std::string_view path) {
  std::vector<std::string_view> parts;
  for (const auto part : split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return parts;
}

std::string strip_trailing_slashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// Chooses among mounts of the hierarchy (a cgroup filesystem may be mounted several times, e.g.
// the host's root and a container's subtree): the first candidate that can see `cgroup_path`.
// Fills `dir` on success; otherwise returns the error for the first candidate.
std::optional<std::string> locate_cgroup_dir(const std::vector<const mount_entry*>& candidates,
                                             const std::string& cgroup_path,
                                             const std::string& sysroot,
                                             const std::string& cgroup_file, std::string& dir) {
  for (const mount_entry* m : candidates) {
    if (const auto rel = cgroup_path_within_mount(m->root, cgroup_path)) {
      dir = sysroot + strip_trailing_slashes(m->mount_point) + *rel;
      return std::nullopt;
    }
  }
  const mount_entry& first = *candidates.front();
  return cgroup_file + ": cgroup path \"" + cgroup_path + "\" is outside the root \"" + first.root +
         "\" of the " + first.fstype + " mount at " + first.mount_point;
}

}  // namespace

cpu_quota parse_cgroup2_cpu_max(std::string_view content) {
  if (content.empty()) return error_quota("unexpected EOF");
  const auto fields = split_whitespace(content.substr(0, content.find('\n')));
  if (fields.empty() || fields.size() > 2) return error_quota("invalid format");
  if (fields[0] == "max") return undefined_quota();
  const auto quota = parse_unsigned(fields[0]);
  if (!quota) return error_quota("invalid format");
  long long period = k_default_cfs_period_us;
  if (fields.size() == 2) {
    const auto parsed = parse_unsigned(fields[1]);
    if (!parsed) return error_quota("invalid format");
    period = *parsed;
  }
  if (period == 0) return error_quota("zero value for period is not allowed");
  return limited_quota(static_cast<double>(*quota) / static_cast<double>(period));
}

cpu_quota parse_cgroup1_cfs(std::string_view quota_us, std::string_view period_us) {
  const auto quota = parse_signed(trim(quota_us));
  if (!quota) return error_quota("cpu.cfs_quota_us: invalid format");
  // The period is irrelevant without a quota (the kernel writes -1 for "no limit"); looking at
  // it anyway would turn an unlimited cgroup into an error over a file that does not matter.
  if (*quota <= 0) return undefined_quota();
  const auto period = parse_signed(trim(period_us));
  if (!period) return error_quota("cpu.cfs_period_us: invalid format");
  if (*period <= 0) return undefined_quota();
  return limited_quota(static_cast<double>(*quota) / static_cast<double>(*period));
}

std::optional<std::vector<cgroup_entry>> parse_proc_cgroup(std::string_view content) {
  std::vector<cgroup_entry> entries;
  for (const auto line : lines(content)) {
    const auto first = line.find(':');
    if (first == std::string_view::npos) return std::nullopt;
    const auto second = line.find(':', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    const auto id = parse_unsigned(line.substr(0, first));
    if (!id || *id > INT_MAX) return std::nullopt;
    cgroup_entry e;
    e.hierarchy_id = static_cast<int>(*id);
    const auto controllers = line.substr(first + 1, second - first - 1);
    if (!controllers.empty()) {
      for (const auto c : split(controllers, ',')) e.controllers.emplace_back(c);
    }
    e.path = std::string(line.substr(second + 1));
    entries.push_back(std::move(e));
  }
  return entries;
}

std::optional<std::vector<mount_entry>> parse_mountinfo(std::string_view content) {
  // Field positions before the optional fields; see proc_pid_mountinfo(5).
  constexpr std::size_t k_root = 3, k_mount_point = 4, k_first_optional = 6;
  std::vector<mount_entry> mounts;
  for (const auto line : lines(content)) {
    const auto fields = split(line, ' ');
    if (fields.size() < k_first_optional + 4) return std::nullopt;
    if (!parse_unsigned(fields[0]) || !parse_unsigned(fields[1])) return std::nullopt;
    std::size_t sep = k_first_optional;
    while (sep < fields.size() && fields[sep] != "-") ++sep;
    // fstype, source and super options follow the separator.
    if (sep + 3 >= fields.size()) return std::nullopt;
    auto root = decode_octal_escapes(fields[k_root]);
    auto mount_point = decode_octal_escapes(fields[k_mount_point]);
    auto fstype = decode_octal_escapes(fields[sep + 1]);
    auto options = decode_octal_escapes(fields[sep + 3]);
    if (!root || !mount_point || !fstype || !options) return std::nullopt;
    mount_entry m;
    m.root = std::move(*root);
    m.mount_point = std::move(*mount_point);
    m.fstype = std::move(*fstype);
    for (const auto o : split(*options, ',')) m.super_options.emplace_back(o);
    mounts.push_back(std::move(m));
  }
  return mounts;
}

std::optional<std::string> cgroup_path_within_mount(std::string_view mount_root,
                                                    std::string_view cgroup_path) {
  const auto root = clean_components(mount_root);
  const auto path = clean_components(cgroup_path);
  if (!root || !path || path->size() < root->size()) return std::nullopt;
  if (!std::equal(root->begin(), root->end(), path->begin())) return std::nullopt;
  std::string rel;
  for (auto it = path->begin() + static_cast<std::ptrdiff_t>(root->size()); it != path->end(); ++it) {
    rel += '/';
    rel += *it;
  }
  return rel;
}

cpu_quota read_cgroup2_cpu_max(const std::string& path) {
  const auto file = read_whole_file(path);
  switch (file.result) {
    case file_contents::outcome::missing: return undefined_quota();
    case file_contents::outcome::failed: return error_quota(path + ": " + file.reason);
    case file_contents::outcome::ok: break;
  }
  return prefix_error(path, parse_cgroup2_cpu_max(file.data));
}

cpu_quota read_cgroup1_cfs(const std::string& dir) {
  const std::string quota_path = dir + "/cpu.cfs_quota_us";
  const auto quota = read_whole_file(quota_path);
  switch (quota.result) {
    case file_contents::outcome::missing: return undefined_quota();
    case file_contents::outcome::failed: return error_quota(quota_path + ": " + quota.reason);
    case file_contents::outcome::ok: break;
  }
  const auto quota_value = parse_signed(trim(quota.data));
  if (!quota_value) return error_quota(quota_path + ": invalid format");
  if (*quota_value <= 0) return undefined_quota();

  const std::string period_path = dir + "/cpu.cfs_period_us";
  const auto period = read_whole_file(period_path);
  switch (period.result) {
    case file_contents::outcome::missing: return undefined_quota();
    case file_contents::outcome::failed: return error_quota(period_path + ": " + period.reason);
    case file_contents::outcome::ok: break;
  }
  cpu_quota q = parse_cgroup1_cfs(quota.data, period.data);
  // The parser names only the file; both files live in `dir`.
  if (q.state == cpu_quota::status::error) q.error = dir + "/" + q.error;
  return q;
}

cpu_quota read_cpu_quota(const std::string& sysroot) {
  const std::string root = strip_trailing_slashes(sysroot);

  const std::string cgroup_file = root + "/proc/self/cgroup";
  const auto cgroup_text = read_whole_file(cgroup_file);
  switch (cgroup_text.result) {
    case file_contents::outcome::missing: return undefined_quota();
    case file_contents::outcome::failed: return error_quota(cgroup_file + ": " + cgroup_text.reason);
    case file_contents::outcome::ok: break;
  }
  const auto entries = parse_proc_cgroup(cgroup_text.data);
  if (!entries) return error_quota(cgroup_file + ": invalid format");

  const std::string mountinfo_file = root + "/proc/self/mountinfo";
  const auto mountinfo_text = read_whole_file(mountinfo_file);
  switch (mountinfo_text.result) {
    case file_contents::outcome::missing: return undefined_quota();
    case file_contents::outcome::failed:
      return error_quota(mountinfo_file + ": " + mountinfo_text.reason);
    case file_contents::outcome::ok: break;
  }
  const auto mounts = parse_mountinfo(mountinfo_text.data);
  if (!mounts) return error_quota(mountinfo_file + ": invalid format");

  const cgroup_entry* v1_entry = nullptr;
  const cgroup_entry* v2_entry = nullptr;
  for (const auto& e : *entries) {
    if (e.hierarchy_id == 0) {
      if (!v2_entry) v2_entry = &e;
    } else if (!v1_entry && contains(e.controllers, "cpu")) {
      v1_entry = &e;
    }
  }
  std::vector<const mount_entry*> v1_mounts;
  std::vector<const mount_entry*> v2_mounts;
  for (const auto& m : *mounts) {
    if (m.fstype == "cgroup" && contains(m.super_options, "cpu")) {
      v1_mounts.push_back(&m);
    } else if (m.fstype == "cgroup2") {
      // The conventional location first: an extra cgroup2 mount elsewhere (a container's
      // private view, a debugging bind mount) should not win over it.
      if (m.mount_point == "/sys/fs/cgroup") {
        v2_mounts.insert(v2_mounts.begin(), &m);
      } else {
        v2_mounts.push_back(&m);
      }
    }
  }

  std::string dir;
  if (v1_entry && !v1_mounts.empty()) {
    if (auto err = locate_cgroup_dir(v1_mounts, v1_entry->path, root, cgroup_file, dir)) {
      return error_quota(std::move(*err));
    }
    return read_cgroup1_cfs(dir);
  }
  if (v2_entry && !v2_mounts.empty()) {
    if (auto err = locate_cgroup_dir(v2_mounts, v2_entry->path, root, cgroup_file, dir)) {
      return error_quota(std::move(*err));
    }
    return read_cgroup2_cpu_max(dir + "/cpu.max");
  }
  return undefined_quota();
}

int affinity_cpu_count() {
  // The kernel rejects (EINVAL) a mask smaller than its own CPU bitmap, so start at the
  // configured CPU count (or glibc's 1024 default) and grow until it fits.
  constexpr long k_mask_bits_limit = 1L << 20;
  const long configured = ::sysconf(_SC_NPROCESSORS_CONF);
  for (long bits = std::max<long>(CPU_SETSIZE, configured); bits <= k_mask_bits_limit; bits *= 2) {
    cpu_set_t* set = CPU_ALLOC(static_cast<int>(bits));
    if (set == nullptr) break;
    const std::size_t size = CPU_ALLOC_SIZE(static_cast<int>(bits));
    CPU_ZERO_S(size, set);
    const int rc = ::sched_getaffinity(0, size, set);
    const int err = errno;
    const int count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
    CPU_FREE(set);
    if (rc == 0 && count >= 1) return count;
    if (rc == 0 || err != EINVAL) break;
  }
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (online < 1) return 1;
  return static_cast<int>(std::min<long>(online, INT_MAX));
}

int default_maxprocs(int cpus, const cpu_quota& quota) {
  int procs = std::max(cpus, 1);
  // A NaN limit (only a hand-made cpu_quota can hold one) says nothing, so it limits nothing.
  if (quota.state == cpu_quota::status::limited && !std::isnan(quota.cpus)) {
    // Compared as doubles: a huge or infinite quota must not be converted to int first.
    const double limit = std::max(2.0, std::ceil(quota.cpus));
    if (limit < static_cast<double>(procs)) procs = static_cast<int>(limit);
  }
  return std::clamp(procs, 1, k_max_procs);
}

maxprocs_env parse_maxprocs_env(const char* value) {
  maxprocs_env env;
  if (value == nullptr) return env;
  env.set = true;
  const auto n = parse_unsigned(trim(value));
  if (n && *n >= 1 && *n <= k_max_procs) {
    env.valid = true;
    env.value = static_cast<int>(*n);
    return env;
  }
  std::string quoted;
  for (const char* p = value; *p != '\0'; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    switch (c) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\n': quoted += "\\n"; break;
      case '\t': quoted += "\\t"; break;
      case '\r': quoted += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          constexpr char k_hex[] = "0123456789abcdef";
          quoted += "\\x";
          quoted += k_hex[c >> 4];
          quoted += k_hex[c & 0xf];
        } else {
          quoted += static_cast<char>(c);
        }
    }
  }
  env.error = "invalid GORTMAXPROCS=\"" + quoted + "\": want an integer in [1, " +
              std::to_string(k_max_procs) + "]";
  return env;
}

}  // namespace gort::sys
