// The llama2.c formats on arbitrary bytes. First byte even: the rest is a
// checkpoint (load_llama2c); odd: the next two bytes are a vocabulary size and the
// rest a tokenizer.bin (tokenizer::load_llama2c). Either it loads into something
// consistent or it is refused with a model_error naming the file.
#include <cstring>
#include <string>

#include "fuzz/fuzz_target.hpp"
#include "fuzz/in_memory_file.hpp"
#include "fuzz/loaded_model_checks.hpp"
#include "model/llama2c_loader.hpp"
#include "model/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  try {
    if ((data[0] & 1) == 0) {
      const kvactor::fuzz::in_memory_file file(data + 1, size - 1);
      kvactor::fuzz::check_weights(kvactor::load_llama2c(file.path()));
    } else {
      if (size < 3) return 0;
      int16_t vocab_size;
      std::memcpy(&vocab_size, data + 1, 2);
      const kvactor::fuzz::in_memory_file file(data + 3, size - 3);
      const kvactor::tokenizer tok = kvactor::tokenizer::load_llama2c(file.path(), vocab_size);
      FUZZ_CHECK(tok.vocab_size() == vocab_size, "a tokenizer with another size than asked for");
      kvactor::fuzz::check_tokenizer(tok);
    }
  } catch (const kvactor::model_error&) {}
  return 0;
}
