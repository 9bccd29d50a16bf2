// Byte length of a UTF-8 sequence from its lead byte, for stepping through text
// by characters: 1 for ASCII and for any byte that cannot start a sequence
// (continuation or invalid byte), so a walk always advances. No validation of
// the following bytes (http/utf8.hpp validates).
#pragma once

#include <cstddef>

namespace kvactor {

inline std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

}  // namespace kvactor
