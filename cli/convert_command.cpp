// `kvactor convert`: llama2.c checkpoint + tokenizer.bin -> GGUF, so both loaders
// can be checked on the same weights.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "model/gguf_writer.hpp"
#include "model/loader.hpp"
#include "model/weight_types.hpp"

namespace {

const char* const usage_text =
    "usage: kvactor convert MODEL.bin TOKENIZER.bin OUT.gguf [--type TYPE]\n"
    "\n"
    "Writes a llama2.c checkpoint and its tokenizer as one GGUF v3 file (llama\n"
    "architecture, tokenizer in the metadata).\n"
    "\n"
    "  --type T   storage type of the 2-D weight matrices (default f32):\n"
    "               f32   exact copy of the checkpoint's weights\n"
    "               f16   IEEE half precision, rounded to nearest even\n"
    "               bf16  bfloat16 (the top half of each f32, rounded to nearest even)\n"
    "               q8_0  ggml Q8_0 (blocks of 32: fp16 scale + 32 int8)\n"
    "               q4_0, q4_1, q5_0, q5_1, iq4_nl   ggml's 32-value block formats\n"
    "               q2_k, q3_k, q4_k, q5_k, q6_k     ggml's K-quants (256-value super-blocks)\n"
    "             A matrix whose rows are not a whole number of the type's blocks falls\n"
    "             back as llama-quantize does (K-quants to iq4_nl, q5_0, q5_1 or q8_0,\n"
    "             then f16). Type names are case-insensitive (Q4_K = q4_k).\n"
    "             Norm vectors are always f32.\n"
    "  --help     this text\n"
    "\n"
    "Exit status: 0 success, 1 a file could not be read or written, 2 bad arguments.\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "kvactor convert: %s\n\n%s", message.c_str(), usage_text);
  return 2;
}

int run_convert(int argc, char** argv) {
  std::vector<std::string> positional;
  std::string type_name = "f32";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage_text, stdout);
      return 0;
    }
    if (arg == "--type") {
      if (i + 1 >= argc) return usage_error("--type needs a value: " + kvactor::weight_type_names());
      type_name = argv[++i];
    } else if (arg.rfind("--type=", 0) == 0) {
      type_name = arg.substr(7);
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usage_error("unknown flag '" + arg + "'");
    } else {
      positional.push_back(arg);
    }
  }
  const kvactor::weight_type_info* info = kvactor::find_weight_type(type_name);
  if (!info) return usage_error("--type must be one of " + kvactor::weight_type_names() + ", got '" + type_name + "'");
  const kvactor::dtype type = info->type;
  if (positional.size() != 3)
    return usage_error("expected MODEL.bin TOKENIZER.bin OUT.gguf, got " + std::to_string(positional.size()) +
                       " file argument(s)");

  const auto model = kvactor::load_model(positional[0], positional[1]);
  kvactor::write_gguf(positional[2], *model.weights, *model.tok, type);
  const auto& c = model.weights->config;
  std::printf("wrote %s: llama, %s, dim %d, hidden %d, %d layers, %d/%d heads, vocab %d, context %d\n",
              positional[2].c_str(), kvactor::dtype_name(type), c.dim, c.hidden_dim, c.n_layers, c.n_heads,
              c.n_kv_heads, c.vocab_size, c.max_seq_len);
  return 0;
}

kvactor::cli::register_command reg("convert", {"convert a llama2.c checkpoint + tokenizer to GGUF", run_convert});

}  // namespace
