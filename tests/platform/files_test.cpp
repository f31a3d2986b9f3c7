// platform::read_whole_file against real files of a temporary directory: every byte of a file
// (binary, empty, larger than one read step), the step and reason of each failure, and a /proc
// file whose size the kernel reports as 0.
#include "nbo/platform/files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "support/temp_dir.hpp"

namespace nbo::platform {
namespace {

void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
  ASSERT_TRUE(out.flush()) << file;
}

TEST(ReadWholeFile, ReturnsEveryByteOfFilesOfAnySize) {
  const test_support::TempDir dir;
  std::mt19937 random(7);
  for (const std::size_t size : {0UL, 1UL, 4095UL, 4096UL, 4097UL, 1'000'003UL}) {
    std::string bytes(size, '\0');
    for (char& byte : bytes) byte = static_cast<char>(random());
    const auto file = dir.path() / ("file_" + std::to_string(size));
    write_bytes(file, bytes);

    std::string content = "left over from before";
    const auto error = read_whole_file(file, content);
    EXPECT_FALSE(error.has_value()) << size << ": " << error->describe();
    EXPECT_EQ(content.size(), size);
    EXPECT_TRUE(content == bytes) << size;
  }
}

TEST(ReadWholeFile, KeepsCarriageReturnsAndNulBytes) {
  const test_support::TempDir dir;
  const std::string bytes("a\r\nb\0c\r", 7);
  write_bytes(dir.path() / "crlf", bytes);
  std::string content;
  ASSERT_FALSE(read_whole_file(dir.path() / "crlf", content).has_value());
  EXPECT_EQ(content, bytes);
}

TEST(ReadWholeFile, AMissingFileCannotBeOpened) {
  const test_support::TempDir dir;
  std::string content = "unchanged?";
  const auto error = read_whole_file(dir.path() / "absent.json", content);
  ASSERT_TRUE(error.has_value());
  EXPECT_TRUE(error->opening);
  EXPECT_EQ(error->reason, std::errc::no_such_file_or_directory);
  EXPECT_EQ(error->describe(), "cannot be opened (No such file or directory)");
  EXPECT_TRUE(content.empty());
}

TEST(ReadWholeFile, ADirectoryOpensButCannotBeRead) {
  const test_support::TempDir dir;
  std::string content;
  const auto error = read_whole_file(dir.path(), content);
  ASSERT_TRUE(error.has_value());
  EXPECT_FALSE(error->opening);
  EXPECT_EQ(error->reason, std::errc::is_a_directory);
  EXPECT_EQ(error->describe(), "cannot be read (Is a directory)");
}

TEST(ReadWholeFile, AnUnreadableFileCannotBeOpened) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their permissions";
  const test_support::TempDir dir;
  const auto file = dir.path() / "secret";
  write_bytes(file, "x");
  std::filesystem::permissions(file, std::filesystem::perms::none);
  std::string content;
  const auto error = read_whole_file(file, content);
  ASSERT_TRUE(error.has_value());
  EXPECT_TRUE(error->opening);
  EXPECT_EQ(error->reason, std::errc::permission_denied);
}

// /proc files report a size of 0 and are read step by step until read() says the end: a short
// one in the first 4 KiB step, and the process's memory map, which outgrows it.
TEST(ReadWholeFile, ReadsProcFilesWhoseSizeIsUnknown) {
  std::string content;
  const auto error = read_whole_file("/proc/self/status", content);
  ASSERT_FALSE(error.has_value()) << error->describe();
  EXPECT_EQ(content.rfind("Name:", 0), 0U) << content.substr(0, 40);
  EXPECT_NE(content.find("\nPid:"), std::string::npos);
  EXPECT_EQ(content.back(), '\n');

  std::string map;
  const auto map_error = read_whole_file("/proc/self/smaps", map);
  ASSERT_FALSE(map_error.has_value()) << map_error->describe();
  ASSERT_GT(map.size(), 4096U);
  EXPECT_EQ(map.back(), '\n');
  // Every mapping's block ends with its VmFlags line: a map cut short would lose the last one.
  EXPECT_EQ(map.substr(map.rfind('\n', map.size() - 2) + 1, 8), "VmFlags:");
}

}  // namespace
}  // namespace nbo::platform
