// POST /tokenize and POST /detokenize (llama.cpp's server fields). Parsing is a
// pure function from body to a typed call or an api_error; the answer is built
// from the model's tokenizer.
//   /tokenize   {content, add_special=false, parse_special=false, with_pieces=false}
//               -> {"tokens": [ids]} or, with_pieces, {"tokens": [{"id", "piece"}]}
//                  (piece: a string when valid UTF-8, else its bytes as numbers)
//   /detokenize {tokens: [ids]} -> {"content": text}
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/api_error.hpp"
#include "http/reply.hpp"

namespace kvactor {
class tokenizer;
}

namespace kvactor::http {

struct tokenize_call {
  std::string content;
  bool add_special = false;    // BOS/EOS where the vocabulary asks for them
  bool parse_special = false;  // "<|eot_id|>" in content becomes that token
  bool with_pieces = false;
};

struct detokenize_call {
  std::vector<int32_t> tokens;
};

std::variant<tokenize_call, api_error> parse_tokenize(std::string_view body, std::size_t body_limit);
std::variant<detokenize_call, api_error> parse_detokenize(std::string_view body, std::size_t body_limit,
                                                          int32_t vocab_size);

// The JSON answers.
std::string tokenize_body(const tokenizer& tok, const tokenize_call& call);
std::string detokenize_body(const tokenizer& tok, const detokenize_call& call);

// Parse + answer: 200 with the body above, or the error reply.
http_reply answer_tokenize(std::string_view body, std::size_t body_limit, const tokenizer& tok);
http_reply answer_detokenize(std::string_view body, std::size_t body_limit, const tokenizer& tok);

}  // namespace kvactor::http
