#include "pipeline/core/files.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

namespace cotflow {

std::optional<std::string> check_appendable(const std::string& path) {
  // The flags of fopen's "a", plus O_EXCL: a file this call creates is
  // removed again, one that was there is only opened.
  constexpr int append = O_WRONLY | O_APPEND | O_CLOEXEC;
  int fd = ::open(path.c_str(), append | O_CREAT | O_EXCL, 0666);
  if (fd >= 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return std::nullopt;
  }
  if (errno == EEXIST) {
    fd = ::open(path.c_str(), append);
    if (fd >= 0) {
      ::close(fd);
      return std::nullopt;
    }
  }
  return "cannot open " + path + " for appending: " + std::strerror(errno);
}

} // namespace cotflow
