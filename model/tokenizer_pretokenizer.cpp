#include "model/tokenizer_pretokenizer.hpp"
#include "model/utf8_length.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <map>
#include <stdexcept>

namespace kvactor {
namespace {

// llama.cpp's regexes (llama-vocab.cpp, llm_tokenizer_bpe), with the case-insensitive
// contraction group spelled out as llama.cpp does ('[sS] rather than (?i:'s), which
// would also match U+017F and U+212A).
const char* const gpt2_regex = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const char* const llama3_regex =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const qwen2_regex =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

struct family {
  std::vector<const char*> regexes;
  bool ignore_merges;
};

// tokenizer.ggml.pre -> regexes, as llama.cpp maps them.
const std::map<std::string, family>& families() {
  static const family llama3{{llama3_regex}, true};
  static const family qwen2{{qwen2_regex}, false};
  static const family gpt2{{gpt2_regex}, false};
  static const family smollm{{"\\p{N}", gpt2_regex}, false};
  static const family fallback{{"[\\p{P}\\$\\+<=>\\^~\\|]+", gpt2_regex, "\\p{N}+", "[0-9][0-9][0-9]"}, false};
  static const std::map<std::string, family> by_name = {
      {"default", fallback},
      {"llama-bpe", llama3},
      {"llama3", llama3},
      {"llama-v3", llama3},
      {"falcon3", llama3},
      {"dbrx", {{llama3_regex}, false}},
      {"smaug-bpe", {{llama3_regex}, false}},
      {"qwen2", qwen2},
      {"deepseek-r1-qwen", qwen2},
      {"megrez", qwen2},
      {"stablelm2", qwen2},
      {"gpt-2", gpt2},
      {"phi-2", gpt2},
      {"roberta-bpe", gpt2},
      {"mpt", gpt2},
      {"olmo", gpt2},
      {"jais", gpt2},
      {"smollm", smollm},
      {"starcoder", smollm},
      {"refact", smollm},
      {"codeshell", smollm},
      {"exaone", smollm},
      {"minerva-7b", smollm},
  };
  return by_name;
}

// Unicode White_Space, as a character-class body.
const char* const white_space =
    "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

// \s -> White_Space (inside or outside a class), \S -> its complement (outside one).
std::string with_unicode_white_space(std::string_view regex) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < regex.size(); ++i) {
    const char c = regex[i];
    if (c == '\\' && i + 1 < regex.size()) {
      const char e = regex[++i];
      if (e == 's') {
        out += in_class ? std::string(white_space) : "[" + std::string(white_space) + "]";
      } else if (e == 'S') {
        if (in_class) throw std::logic_error("\\S inside a character class is not rewritten");
        out += "[^" + std::string(white_space) + "]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class)
      in_class = true;
    else if (c == ']' && in_class)
      in_class = false;
    out += c;
  }
  return out;
}

}  // namespace

struct regex_pretokenizer::compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~compiled() { pcre2_code_free(code); }
};

bool regex_pretokenizer::known(const std::string& name) { return families().count(name) != 0; }

std::string regex_pretokenizer::names() {
  std::string out;
  for (const auto& [name, f] : families()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

regex_pretokenizer::regex_pretokenizer(const std::string& name) : name_(name) {
  const auto it = families().find(name);
  if (it == families().end()) throw std::invalid_argument("unknown pre-tokenizer '" + name + "'");
  ignore_merges_ = it->second.ignore_merges;
  for (const char* regex : it->second.regexes) {
    const std::string pattern = with_unicode_white_space(regex);
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    auto stage = std::make_unique<compiled>();
    stage->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &error_offset, nullptr);
    if (!stage->code) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      throw std::logic_error("pre-tokenizer '" + name + "': regex does not compile at offset " +
                             std::to_string(error_offset) + ": " + reinterpret_cast<const char*>(message));
    }
    stage->jit = pcre2_jit_compile(stage->code, PCRE2_JIT_COMPLETE) == 0;
    stages_.push_back(std::move(stage));
  }
}

regex_pretokenizer::~regex_pretokenizer() = default;

std::vector<std::string_view> regex_pretokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  for (const auto& stage : stages_) {
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
        pcre2_match_data_create_from_pattern(stage->code, nullptr), &pcre2_match_data_free);
    if (!match) throw std::bad_alloc();
    std::vector<std::string_view> next;
    next.reserve(pieces.size() * 2);
    for (const std::string_view piece : pieces) {
      // Each piece is matched as a whole subject: lookahead stops at its end.
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      std::size_t at = 0, unmatched_from = 0;
      while (at < piece.size()) {
        // pcre2_jit_match skips pcre2_match's option checks: the pattern is known to be JIT-compiled.
        int rc = stage->jit ? pcre2_jit_match(stage->code, subject, piece.size(), at, 0, match.get(), nullptr)
                            : pcre2_match(stage->code, subject, piece.size(), at, 0, match.get(), nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
          rc = pcre2_match(stage->code, subject, piece.size(), at, PCRE2_NO_JIT, match.get(), nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          PCRE2_UCHAR message[256];
          pcre2_get_error_message(rc, message, sizeof message);
          throw std::runtime_error("pre-tokenizer '" + name_ + "': " + reinterpret_cast<const char*>(message));
        }
        const PCRE2_SIZE* span = pcre2_get_ovector_pointer(match.get());
        const std::size_t begin = span[0], end = span[1];
        if (end == begin) {  // an empty match (none of our regexes has one): step over a character
          at = begin + utf8_length(static_cast<unsigned char>(piece[begin]));
          continue;
        }
        if (begin > unmatched_from) next.push_back(piece.substr(unmatched_from, begin - unmatched_from));
        next.push_back(piece.substr(begin, end - begin));
        at = unmatched_from = end;
      }
      if (unmatched_from < piece.size()) next.push_back(piece.substr(unmatched_from));
    }
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace kvactor
