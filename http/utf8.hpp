// UTF-8 checks for request bodies (rejected when invalid) and for streamed text
// (a multi-byte character split across tokens is held back until it is whole).
#pragma once

#include <cstddef>
#include <string_view>

namespace kvactor::http {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Offset of the first byte of `s` that is not valid UTF-8, or s.size() if all are.
std::size_t first_invalid_utf8(std::string_view s);

// Length of the longest prefix of `s` that does not end inside an incomplete
// (but so far valid) multi-byte sequence. Invalid bytes count as complete: they
// will never become valid, so holding them back would only stall the stream.
std::size_t complete_utf8_prefix(std::string_view s);

}  // namespace kvactor::http
