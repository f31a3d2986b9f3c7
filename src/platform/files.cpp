#include "nbo/platform/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace nbo::platform {

namespace {

// Closes the descriptor on every path out of read_whole_file. A failing close() after a read
// cannot lose data (nothing was written), so its result is not a read error.
class Descriptor {
 public:
  explicit Descriptor(int fd) noexcept : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) static_cast<void>(::close(fd_));
  }

 private:
  int fd_;
};

std::error_code last_error() {
  return {errno, std::generic_category()};
}

}  // namespace

std::string FileReadError::describe() const {
  return std::string(opening ? "cannot be opened (" : "cannot be read (") + reason.message() + ")";
}

std::optional<FileReadError> read_whole_file(const std::filesystem::path& file,
                                             std::string& content) {
  content.clear();
  int fd = -1;
  do {
    fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return FileReadError{true, last_error()};
  const Descriptor descriptor(fd);

  // The size is a hint for one allocation, with a byte to spare so that the read after the last
  // byte finds the end without growing the string. /proc and /sys files report a size of 0 and
  // are read in steps.
  constexpr std::size_t kStep = 4096;
  struct stat status {};
  const bool sized = ::fstat(fd, &status) == 0 && S_ISREG(status.st_mode) && status.st_size > 0;
  content.reserve(sized ? static_cast<std::size_t>(status.st_size) + 1 : kStep);
  std::size_t size = 0;
  for (;;) {
    if (size == content.capacity()) content.reserve(2 * content.capacity());
    content.resize(content.capacity());
    const ssize_t got = ::read(fd, content.data() + size, content.size() - size);
    if (got < 0) {
      if (errno == EINTR) continue;
      const std::error_code reason = last_error();
      content.resize(size);
      return FileReadError{false, reason};
    }
    if (got == 0) break;
    size += static_cast<std::size_t>(got);
  }
  content.resize(size);
  return std::nullopt;
}

}  // namespace nbo::platform
