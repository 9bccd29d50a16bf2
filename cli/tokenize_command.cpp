// `kvactor tokenize`: a text's token ids under a model's tokenizer, as llama.cpp's
// test vectors list them. Needs only the vocabulary: a GGUF file without tensors
// (../shared/models/vocab/) works.
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "model/gguf_format.hpp"
#include "model/gguf_loader.hpp"
#include "model/loader.hpp"

namespace {

const char* const usage_text =
    "usage: kvactor tokenize --model M [--tokenizer T] [--add-special] [--parse-special] [--pieces] TEXT\n"
    "\n"
    "Prints the token ids of TEXT as one JSON array on the last line of stdout.\n"
    "\n"
    "  --model M          GGUF file (a vocabulary-only file is enough) or llama2.c checkpoint (required)\n"
    "  --tokenizer T      llama2.c tokenizer.bin; required for a .bin checkpoint, ignored for GGUF\n"
    "  --add-special      add BOS/EOS where the vocabulary asks for them (default: none)\n"
    "  --parse-special    turn special-token texts such as <|eot_id|> into those tokens\n"
    "                     (default: they are tokenized as plain text)\n"
    "  --pieces           first print one line per token: its id and its text (JSON string)\n"
    "  --help             this text\n"
    "\n"
    "Exit status: 0 success, 1 the vocabulary could not be loaded, 2 bad arguments.\n";

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct tokenize_options {
  std::string model, tokenizer_path, text;
  bool have_text = false, add_special = false, parse_special = false, pieces = false;
};

tokenize_options parse_arguments(int argc, char** argv) {
  tokenize_options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    const bool takes_value = arg.rfind("--model", 0) == 0 || arg.rfind("--tokenizer", 0) == 0;
    if (takes_value) {
      const auto eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      } else {
        if (i + 1 >= argc) throw usage_error(arg + " needs a value");
        value = argv[++i];
      }
    }
    if (arg == "--model")
      o.model = value;
    else if (arg == "--tokenizer")
      o.tokenizer_path = value;
    else if (arg == "--add-special")
      o.add_special = true;
    else if (arg == "--parse-special")
      o.parse_special = true;
    else if (arg == "--pieces")
      o.pieces = true;
    else if (arg == "--") {
      if (i + 1 < argc) o.text = argv[++i], o.have_text = true;
    } else if (arg.rfind("--", 0) == 0) {
      throw usage_error("unknown flag '" + arg + "'");
    } else if (o.have_text) {
      throw usage_error("more than one TEXT argument ('" + arg + "'); quote the text");
    } else {
      o.text = arg;
      o.have_text = true;
    }
  }
  if (o.model.empty()) throw usage_error("--model is required");
  if (!o.have_text) throw usage_error("TEXT is required");
  return o;
}

bool is_gguf(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  uint32_t magic = 0;
  const bool read = std::fread(&magic, sizeof magic, 1, f) == 1;
  std::fclose(f);
  return read && magic == kvactor::gguf::magic;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);  // bytes of a split character pass through as they are
    }
  }
  return out + "\"";
}

int run(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::fputs(usage_text, stdout);
      return 0;
    }
  tokenize_options o;
  try {
    o = parse_arguments(argc, argv);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "kvactor tokenize: %s\n\n%s", e.what(), usage_text);
    return 2;
  }
  std::shared_ptr<const kvactor::tokenizer> tok;
  try {
    if (is_gguf(o.model))
      tok = std::make_shared<const kvactor::tokenizer>(kvactor::load_gguf_tokenizer(o.model));
    else
      tok = kvactor::load_model(o.model, o.tokenizer_path).tok;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvactor tokenize: %s\n", e.what());
    return 1;
  }
  const std::vector<int32_t> ids = tok->tokenize(o.text, o.add_special, o.parse_special);
  if (o.pieces)
    for (int32_t id : ids) {
      const auto k = tok->kind(id);
      const bool special = k == kvactor::token_kind::control || k == kvactor::token_kind::unknown;
      std::printf("%6d %s\n", id, json_string(special ? tok->token_text(id) : tok->decode_piece(-1, id)).c_str());
    }
  std::string line = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) line += (i ? ", " : "") + std::to_string(ids[i]);
  std::printf("%s]\n", line.c_str());
  return 0;
}

const kvactor::cli::register_command registration(
    "tokenize", {"print a text's token ids under a model's tokenizer (vocabulary-only GGUF works)", run});

}  // namespace
