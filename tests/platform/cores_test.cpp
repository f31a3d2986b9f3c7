#include "nbo/platform/cores.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace nbo::platform {
namespace {

TEST(CoresOfCpuMax, AQuotaIsRoundedUpToWholeCores) {
  EXPECT_EQ(cores_of_cpu_max("100000 100000\n"), 1U);
  EXPECT_EQ(cores_of_cpu_max("150000 100000\n"), 2U);
  EXPECT_EQ(cores_of_cpu_max("400000 100000"), 4U);
  EXPECT_EQ(cores_of_cpu_max("20000 100000\n"), 1U);  // a fifth of a core still runs a thread
}

TEST(CoresOfCpuMax, NoLimitAndUnreadableContentGiveNothing) {
  EXPECT_EQ(cores_of_cpu_max("max 100000\n"), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max(""), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max("100000"), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max("100000 0"), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max("1x0000 100000"), std::nullopt);
}

// The count follows the affinity mask: this thread restricted to one CPU sees one core, as a
// server started under `taskset -c 0` does.
TEST(UsableCores, FollowTheAffinityMask) {
  cpu_set_t original;
  CPU_ZERO(&original);
  ASSERT_EQ(sched_getaffinity(0, sizeof original, &original), 0);
  if (CPU_COUNT(&original) < 2) GTEST_SKIP() << "needs two CPUs to restrict the mask to one";
  const unsigned all = usable_cores();
  EXPECT_GE(all, 1U);
  EXPECT_LE(all, static_cast<unsigned>(CPU_COUNT(&original)));

  int first_cpu = 0;
  while (!CPU_ISSET(first_cpu, &original)) ++first_cpu;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first_cpu, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  const unsigned restricted = usable_cores();
  ASSERT_EQ(sched_setaffinity(0, sizeof original, &original), 0);
  EXPECT_EQ(restricted, 1U);
  EXPECT_EQ(usable_cores(), all);
}

}  // namespace
}  // namespace nbo::platform
