#include "tests/device/test_models.hpp"

namespace kvactor::testing {

const loaded_model& stories260k() {
  static const loaded_model model =
      load_model(std::string(KVACTOR_MODELS_DIR) + "/stories260K.bin", std::string(KVACTOR_MODELS_DIR) + "/tok512.bin");
  return model;
}

const std::vector<named_model>& invariance_models() {
  static const std::vector<named_model> models = [] {
    std::vector<named_model> out;
    out.push_back({"stories260K", stories260k().weights});
    random_model_shape gqa;
    gqa.dim = 96;
    gqa.hidden_dim = 224;
    gqa.n_heads = 6;
    gqa.n_kv_heads = 2;
    gqa.n_layers = 2;
    gqa.seed = 21;
    out.push_back({"random gqa f32", make_random_model(gqa)});
    random_model_shape mha;
    mha.shared_classifier = false;
    mha.type = dtype::f16;
    mha.seed = 22;
    out.push_back({"random mha f16 separate classifier", make_random_model(mha)});
    random_model_shape q8;
    q8.type = dtype::q8_0;
    q8.n_kv_heads = 1;
    q8.seed = 23;
    out.push_back({"random mqa q8_0", make_random_model(q8)});
    random_model_shape qwen;  // every issue-14 feature at once
    qwen.rope = rope_style::neox;
    qwen.qkv_bias = true;
    qwen.qk_norm = true;
    qwen.rope_factors = true;
    qwen.rope_freq_scale = 0.5f;
    qwen.head_dim = 24;
    qwen.n_kv_heads = 2;
    qwen.type = dtype::f16;
    qwen.seed = 24;
    out.push_back(
        {"random qwen-style f16 (biases, qk-norm, NEOX, head_dim 24, rope factors)", make_random_model(qwen)});
    return out;
  }();
  return models;
}

const std::vector<named_model>& cpu_invariance_models() {
  static const std::vector<named_model> models = [] {
    std::vector<named_model> out = invariance_models();
    // The integer K-quant products (Q8_K activations): rows of whole 256-value blocks.
    random_model_shape q4k;
    q4k.type = dtype::q4_k;
    q4k.dim = 256;
    q4k.hidden_dim = 512;
    q4k.n_kv_heads = 2;
    q4k.seed = 25;
    out.push_back({"random gqa q4_k", make_random_model(q4k)});
    random_model_shape q6k = q4k;
    q6k.type = dtype::q6_k;
    q6k.shared_classifier = false;
    q6k.seed = 26;
    out.push_back({"random gqa q6_k separate classifier", make_random_model(q6k)});
    return out;
  }();
  return models;
}

}  // namespace kvactor::testing
