// The GGUF loader on arbitrary bytes, through load_model() (as `kvactor serve`
// loads a model) and load_gguf_tokenizer(). A file either loads into a model that
// is consistent with itself or is refused with a model_error; any other exception,
// a crash, or an allocation the file's size does not justify is a finding.
#include <string>

#include "fuzz/fuzz_target.hpp"
#include "fuzz/in_memory_file.hpp"
#include "fuzz/loaded_model_checks.hpp"
#include "model/gguf_loader.hpp"
#include "model/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const kvactor::fuzz::in_memory_file file(data, size);
  try {
    const kvactor::loaded_model m = kvactor::load_model(file.path(), "");
    kvactor::fuzz::check_weights(*m.weights);
    kvactor::fuzz::check_tokenizer(*m.tok);
  } catch (const kvactor::model_error&) {}
  try {
    kvactor::fuzz::check_tokenizer(kvactor::load_gguf_tokenizer(file.path()));
  } catch (const kvactor::model_error&) {}
  return 0;
}
