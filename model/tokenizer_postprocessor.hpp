// The post-processor stage: BOS in front and EOS at the end, where the vocabulary
// asks for them (GGUF tokenizer.ggml.add_bos_token / add_eos_token) and the caller
// wants special tokens added.
#pragma once

#include <cstdint>
#include <vector>

namespace kvactor {

class special_token_adder {
 public:
  special_token_adder() = default;
  special_token_adder(int32_t bos, int32_t eos, bool add_bos, bool add_eos)
      : bos_(bos), eos_(eos), add_bos_(add_bos), add_eos_(add_eos) {}

  void prefix(std::vector<int32_t>& ids, bool add_special) const {
    if (add_special && add_bos_) ids.push_back(bos_);
  }
  void suffix(std::vector<int32_t>& ids, bool add_special) const {
    if (add_special && add_eos_) ids.push_back(eos_);
  }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }

 private:
  int32_t bos_ = -1, eos_ = -1;
  bool add_bos_ = false, add_eos_ = false;
};

}  // namespace kvactor
