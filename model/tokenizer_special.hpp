// Splits special tokens out of text before the pre-tokenizer sees it (Hugging
// Face's added tokens; llama.cpp's tokenizer_st_partition). Control and unknown
// tokens are recognised only when the caller asks (rendered chat templates);
// user-defined tokens always are. Longer token texts are split out first.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kvactor {

struct text_fragment {
  int32_t token = -1;     // a special token, or -1 for text still to be tokenized
  std::string_view text;  // the text (for a token: the text it was matched on)
};

struct special_token {
  int32_t id;
  std::string text;
  bool control;      // control or unknown: only with parse_special
  bool strip_left;   // spaces before it are dropped (lstrip)
  bool strip_right;  // spaces after it are dropped (rstrip)
};

class special_token_splitter {
 public:
  explicit special_token_splitter(std::vector<special_token> tokens);

  std::vector<text_fragment> split(std::string_view text, bool parse_special) const;

 private:
  std::vector<special_token> tokens_;  // longest text first
};

}  // namespace kvactor
