// Batch invariance on the GPU: a sequence's logits are the same bits alone and in
// a batch of 64, whatever the chunking, arrival order and position in the batch,
// including contexts longer than one attention chunk.
#include <doctest/doctest.h>

#include <vector>

#include "device/hip/hip_backend.hpp"
#include "tests/device/engine_runs.hpp"
#include "tests/device/test_models.hpp"
#include "tests/device_hip/gpu_presence.hpp"

using namespace kvactor;
using namespace kvactor::testing;

TEST_CASE("hip backend: logits are identical alone and in a batch of 64") {
  require_gpu();
  for (const named_model& m : invariance_models()) {
    // The GPU path runs the plain llama layout only (the agreement test checks the refusal).
    if (llama_layout_gap(*m.weights) != nullptr) continue;
    // Emulated: stories260K (f32, grouped-query) and the q8_0 model only.
    if (emulated_gpu && m.weights->config.vocab_size != 512 && m.weights->layers[0].wq.type != dtype::q8_0) continue;
    CAPTURE(m.name);
    const int page_size = 16, vocab = m.weights->config.vocab_size, max_seq = m.weights->config.max_seq_len;
    const int batch = 64, decode = emulated_gpu ? 2 : 6;
    // Emulated: short prompts, except one (prefilled whole) that crosses the
    // 256-key attention chunk.
    const int longest = emulated_gpu ? 12 : max_seq - decode - 1;
    std::vector<scripted_sequence> seqs;
    int pages = 0;
    for (int i = 0; i < batch; ++i) {
      scripted_sequence s;
      // Lengths up to the model's context (stories260K: past the 256-key chunk).
      const int length = emulated_gpu && i == 6 && max_seq > 300 ? 270 : 1 + (i * 53) % longest;
      s.prompt = make_prompt(length, vocab, 500 + static_cast<uint64_t>(i));
      s.chunk = (i % 3 == 0) ? 0 : 1 + i % 11;
      s.join_step = i % 5;
      s.decode_tokens = decode;
      const int need = (length + decode + page_size - 1) / page_size;
      s.block_table = page_range(pages, need);
      pages += need;
      seqs.push_back(std::move(s));
    }
    auto together_backend = make_hip_backend(m.weights, {page_size, pages});
    const auto together = run_together(*together_backend, seqs, 42);

    auto alone_backend = make_hip_backend(m.weights, {page_size, pages});
    for (std::size_t i = 0; i < seqs.size(); i += emulated_gpu ? 6 : 7) {  // a spread of the 64, incl. #6
      scripted_sequence solo = seqs[i];
      solo.join_step = 0;
      solo.chunk = 0;
      const auto alone = run_together(*alone_backend, {solo}, 0)[0];
      INFO("sequence " << i << " of length " << solo.prompt.size());
      REQUIRE(alone.size() == together[i].size());
      for (std::size_t k = 0; k < alone.size(); ++k) {
        INFO("output position " << k);
        CHECK(same_bits(alone[k], together[i][k]));
      }
    }
  }
}
