// Tokenizer encode/decode on arbitrary bytes, with the real stories260K vocabulary
// (tok512.bin). First byte: bit 0 = BOS, bit 1 = EOS, bit 2 = treat the rest as
// token ids (little-endian int16, some out of range) to decode instead of text.
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_target.hpp"
#include "model/tokenizer.hpp"

namespace {

const kvactor::tokenizer& stories_tokenizer() {
  static const kvactor::tokenizer tok = kvactor::tokenizer::load_llama2c(KVACTOR_MODELS_DIR "/tok512.bin", 512);
  return tok;
}

void encode_text(const kvactor::tokenizer& tok, std::string_view text, bool bos, bool eos) {
  const std::vector<int32_t> ids = tok.encode(text, bos, eos);
  for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < tok.vocab_size(), "encode returned an id outside the vocabulary");
  if (bos) FUZZ_CHECK(!ids.empty() && ids.front() == tok.bos_id(), "BOS asked for but not first");
  if (eos) FUZZ_CHECK(!ids.empty() && ids.back() == tok.eos_id(), "EOS asked for but not last");
  // Byte fallback makes encoding lossless: decoding gives the text back exactly
  // (the dummy-prefix space is dropped after BOS, as run.c does).
  if (bos) FUZZ_CHECK(tok.decode(ids) == text, "decode(encode(text)) != text");
}

void decode_ids(const kvactor::tokenizer& tok, const uint8_t* data, size_t size) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 1 < size; i += 2) {
    int16_t v;
    std::memcpy(&v, data + i, 2);
    ids.push_back(v);
  }
  bool all_valid = true;
  for (int32_t id : ids) all_valid = all_valid && id >= 0 && id < tok.vocab_size();
  try {
    (void)tok.decode(ids);
    FUZZ_CHECK(all_valid, "decode accepted an id outside the vocabulary");
  } catch (const std::out_of_range&) {
    FUZZ_CHECK(!all_valid, "decode rejected valid ids");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& tok = stories_tokenizer();
  const uint8_t flags = data[0];
  if (flags & 4)
    decode_ids(tok, data + 1, size - 1);
  else
    encode_text(tok, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), flags & 1, flags & 2);
  return 0;
}
