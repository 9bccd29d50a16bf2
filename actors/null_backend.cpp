#include "actors/null_backend.hpp"

#include <string>

namespace kvactor {
namespace {

class null_backend final : public backend {
 public:
  null_backend(int vocab, int max_seq_len, kv_layout layout) : layout_(layout) {
    config_.dim = 8;
    config_.hidden_dim = 8;
    config_.n_layers = 1;
    config_.n_heads = 1;
    config_.n_kv_heads = 1;
    config_.vocab_size = vocab;
    config_.max_seq_len = max_seq_len;
  }
  std::string name() const override { return "null"; }
  const model_config& config() const override { return config_; }
  kv_layout layout() const override { return layout_; }

  std::vector<sequence_result> step(const std::vector<sequence_step>& batch) override {
    std::vector<sequence_result> out(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& s = batch[i];
      if (s.tokens.empty())
        throw backend_error("null backend: sequence " + std::to_string(s.seq_id) + " has no tokens");
      auto end = s.start_pos + static_cast<int32_t>(s.tokens.size());
      auto need = (end + layout_.page_size - 1) / layout_.page_size;
      if (static_cast<int32_t>(s.block_table.size()) < need)
        throw backend_error("null backend: block table too short for sequence " + std::to_string(s.seq_id));
      for (auto p : s.block_table)
        if (p < 0 || p >= layout_.num_pages)
          throw backend_error("null backend: page " + std::to_string(p) + " out of range");
      out[i].seq_id = s.seq_id;
      if (s.sample) out[i].token = null_backend_token(s.tokens.back(), end - 1, config_.vocab_size);
    }
    return out;
  }

 private:
  model_config config_;
  kv_layout layout_;
};

}  // namespace

int32_t null_backend_token(int32_t last_token, int32_t pos, int vocab_size) {
  auto mixed = static_cast<uint32_t>(last_token) * 2654435761u + static_cast<uint32_t>(pos) * 40503u;
  return 3 + static_cast<int32_t>(mixed % static_cast<uint32_t>(vocab_size - 3));
}

std::unique_ptr<backend> make_null_backend(int vocab_size, int max_seq_len, kv_layout layout) {
  if (vocab_size < 4) throw backend_error("null backend: vocab_size must be at least 4");
  return std::make_unique<null_backend>(vocab_size, max_seq_len, layout);
}

}  // namespace kvactor
