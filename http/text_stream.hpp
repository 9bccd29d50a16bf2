// Generated tokens to text, incrementally: what can be sent now, what must wait.
// Text is held back while it ends inside a multi-byte UTF-8 character or could be
// the start of a stop string, so a client never receives half a character or part
// of a stop sequence that is then taken back.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kvactor::http {

class text_stream {
 public:
  using piece_decoder = std::function<std::string(int32_t prev, int32_t token)>;

  // `last_prompt_token` is the token before the first generated one (decode_piece
  // drops a leading space after BOS); `control_tokens` produce no text (BOS, EOS).
  text_stream(piece_decoder decode, int32_t last_prompt_token, std::vector<int32_t> control_tokens,
              std::vector<std::string> stop);

  // Adds one generated token; returns the text that is now final (may be empty).
  // After a stop string is seen, returns "" and ignores further tokens.
  std::string push(int32_t token);
  // End of generation: the remaining held-back text (never a stop string's part).
  std::string finish();

  bool stopped() const { return stopped_; }
  int tokens() const { return tokens_; }             // tokens accepted (through the stop)
  const std::string& text() const { return sent_; }  // everything returned so far

 private:
  std::string release(std::size_t n);

  piece_decoder decode_;
  int32_t prev_;
  std::vector<int32_t> control_;
  std::vector<std::string> stop_;
  std::string pending_;  // decoded, not yet returned
  std::string sent_;
  bool stopped_ = false;
  int tokens_ = 0;
};

}  // namespace kvactor::http
