#include "nbo/platform/cores.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include "nbo/platform/files.hpp"

namespace nbo::platform {

namespace {

// A cgroup or /proc file's content; nullopt where it is absent or unreadable, which is normal
// outside a cgroup v2 hierarchy.
std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::string content;
  if (read_whole_file(path, content)) return std::nullopt;
  return content;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The process's cgroup v2 path ("0::/PATH" in /proc/self/cgroup), or nullopt on cgroup v1.
std::optional<std::string> cgroup_v2_path() {
  const auto content = read_file("/proc/self/cgroup");
  if (!content) return std::nullopt;
  std::istringstream lines(*content);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("0::")) return line.substr(3);
  }
  return std::nullopt;
}

// The smallest quota on the way from the process's cgroup up to the root: each level bounds its
// children.
std::optional<unsigned> cgroup_quota_cores() {
  const auto path = cgroup_v2_path();
  if (!path) return std::nullopt;
  std::optional<unsigned> smallest;
  for (std::filesystem::path dir =
           std::filesystem::path("/sys/fs/cgroup") / std::filesystem::path(*path).relative_path();
       ; dir = dir.parent_path()) {
    if (const auto content = read_file(dir / "cpu.max")) {
      if (const auto cores = cores_of_cpu_max(*content)) {
        smallest = smallest ? std::min(*smallest, *cores) : *cores;
      }
    }
    if (dir == "/sys/fs/cgroup" || dir == dir.parent_path()) break;
  }
  return smallest;
}

}  // namespace

std::optional<unsigned> cores_of_cpu_max(std::string_view content) {
  while (!content.empty() && (content.back() == '\n' || content.back() == ' ')) {
    content.remove_suffix(1);
  }
  const auto space = content.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto quota = parse_unsigned(content.substr(0, space));  // "max" -> nullopt: no limit
  const auto period = parse_unsigned(content.substr(space + 1));
  if (!quota || !period || *period == 0) return std::nullopt;
  const std::uint64_t cores = *quota / *period + (*quota % *period != 0 ? 1 : 0);
  return static_cast<unsigned>(std::clamp<std::uint64_t>(cores, 1, 1U << 16));
}

unsigned usable_cores() {
  unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) == 0) {
    cores = std::max(1, CPU_COUNT(&mask));
  }
  if (const auto quota = cgroup_quota_cores()) cores = std::min(cores, *quota);
  return cores;
}

}  // namespace nbo::platform
