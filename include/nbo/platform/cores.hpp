#pragma once

#include <optional>
#include <string_view>

namespace nbo::platform {

// How many threads can run at once for this process: the CPUs of its affinity mask (what
// `taskset`, a container's cpuset or a CPU manager give it), lowered to a cgroup v2 CPU quota
// rounded up (`docker run --cpus 1.5`: 2) when one is set on its cgroup or an ancestor; at least
// 1. std::thread::hardware_concurrency() counts every CPU of the machine instead, so a server
// given one core of a 2-core machine ran two I/O threads on it, and one of them waited for the
// other's time slice (p99 7-8 ms against 1.6-2.5 ms with one thread, docs/benchmarks.md).
// Reads the calling thread's mask (threads inherit the process's unless changed) and
// /proc/self/cgroup; falls back to hardware_concurrency() where the mask cannot be read.
// Thread-safe; costs a few system calls and file reads, so call it at start-up, not per request.
unsigned usable_cores();

// The cores a cgroup v2 `cpu.max` file's content allows ("QUOTA PERIOD" in microseconds, rounded
// up), or nullopt for "max" (no limit) and for content it cannot read.
std::optional<unsigned> cores_of_cpu_max(std::string_view content);

}  // namespace nbo::platform
