#include "model/binary_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace kvactor {

binary_file::binary_file(const std::string& path) : path_(path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw model_error(path + ": cannot open: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw model_error(path + ": not a regular file");
  in_.open(path, std::ios::binary);
  if (!in_) throw model_error(path + ": cannot open for reading");
  size_ = static_cast<uint64_t>(st.st_size);
}

void binary_file::fail(const std::string& message) const { throw model_error(path_ + ": " + message); }

void binary_file::require(uint64_t n, const char* what) const {
  if (n > remaining())
    fail("truncated reading " + std::string(what) + " at offset " + std::to_string(offset_) + " (needs " +
         std::to_string(n) + " bytes, file has " + std::to_string(size_) + " bytes)");
}

void binary_file::read(void* dst, uint64_t n, const char* what) {
  require(n, what);
  if (n == 0) return;
  in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
  if (!in_) fail("read error reading " + std::string(what) + " at offset " + std::to_string(offset_));
  offset_ += n;
}

void binary_file::skip(uint64_t n, const char* what) {
  require(n, what);
  seek(offset_ + n, what);
}

void binary_file::seek(uint64_t offset, const char* what) {
  if (offset > size_)
    fail("offset " + std::to_string(offset) + " of " + std::string(what) + " is past the end of the file (" +
         std::to_string(size_) + " bytes)");
  in_.clear();
  in_.seekg(static_cast<std::streamoff>(offset));
  if (!in_) fail("cannot seek to offset " + std::to_string(offset) + " for " + std::string(what));
  offset_ = offset;
}

std::vector<uint8_t> binary_file::read_bytes(uint64_t n, const char* what) {
  require(n, what);  // before allocating: a damaged length never allocates more than the file holds
  std::vector<uint8_t> out(static_cast<std::size_t>(n));
  read(out.data(), n, what);
  return out;
}

std::shared_ptr<const mapped_file> mapped_file::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw model_error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
    ::close(fd);
    throw model_error(path + ": cannot map: not a non-empty regular file");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping keeps the file
  if (p == MAP_FAILED)
    throw model_error(path + ": cannot map " + std::to_string(size) + " bytes: " + std::strerror(err));
  return std::shared_ptr<const mapped_file>(new mapped_file(static_cast<const uint8_t*>(p), size));
}

mapped_file::~mapped_file() { ::munmap(const_cast<uint8_t*>(data_), static_cast<std::size_t>(size_)); }

}  // namespace kvactor
