#include "model/tokenizer_special.hpp"

#include <algorithm>
#include <cctype>

namespace kvactor {

special_token_splitter::special_token_splitter(std::vector<special_token> tokens) : tokens_(std::move(tokens)) {
  tokens_.erase(std::remove_if(tokens_.begin(), tokens_.end(), [](const special_token& t) { return t.text.empty(); }),
                tokens_.end());
  std::stable_sort(tokens_.begin(), tokens_.end(),
                   [](const special_token& a, const special_token& b) { return a.text.size() > b.text.size(); });
}

std::vector<text_fragment> special_token_splitter::split(std::string_view text, bool parse_special) const {
  std::vector<text_fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, text});
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  for (const special_token& special : tokens_) {
    if (special.control && !parse_special) continue;
    std::vector<text_fragment> next;
    for (const text_fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      std::string_view rest = f.text;
      for (std::size_t at = rest.find(special.text); at != std::string_view::npos; at = rest.find(special.text)) {
        std::string_view left = rest.substr(0, at);
        if (special.strip_left)
          while (!left.empty() && is_space(left.back())) left.remove_suffix(1);
        if (!left.empty()) next.push_back({-1, left});
        next.push_back({special.id, rest.substr(at, special.text.size())});
        rest.remove_prefix(at + special.text.size());
        if (special.strip_right)
          while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
      }
      if (!rest.empty()) next.push_back({-1, rest});
    }
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace kvactor
