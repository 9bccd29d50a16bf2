// Replays saved inputs through a fuzz target without libFuzzer: every regular file
// named on the command line, or found (recursively) in a directory named there.
// A crash or a broken invariant aborts, so the ctest test fails and names the file.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.hpp"

namespace fs = std::filesystem;

namespace {

void collect(const fs::path& p, std::vector<fs::path>& files) {
  if (fs::is_directory(p)) {
    for (const auto& entry : fs::recursive_directory_iterator(p))
      if (entry.is_regular_file() && entry.path().filename().string().front() != '.') files.push_back(entry.path());
  } else if (fs::is_regular_file(p)) {
    files.push_back(p);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    if (!fs::exists(argv[i])) {
      std::cerr << "replay: " << argv[i] << " does not exist\n";
      return 2;
    }
    collect(argv[i], files);
  }
  std::sort(files.begin(), files.end());  // same order every run: a failure is reproducible
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::cerr << "replay: " << f.string() << " (" << bytes.size() << " bytes)\n";
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::cout << "replayed " << files.size() << " inputs\n";
  return files.empty() ? 1 : 0;  // an empty corpus means the test was set up wrong
}
