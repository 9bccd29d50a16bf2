// The shape of every fault scenario: answers computed alone first, then the same
// jobs run together while a fault strikes, then the verdict on each answer.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tests/faults/faulty_engine.hpp"

namespace kvactor::test {

// Each job alone, one after another, on an idle server: the reference answers.
std::vector<std::string> solo_texts(faulty_server& s, const std::vector<job>& jobs);

// All jobs at once (one connection each); `during` runs once they are sent.
std::vector<outcome> run_together(faulty_server& s, const std::vector<job>& jobs,
                                  const std::function<void()>& during = {});

// The answer is whole and equal to the solo answer.
bool unchanged(const outcome& o, const std::string& solo);
// The answer ended early with error `code` (or with "cancelled"): what it produced
// before is a prefix of the solo answer, and the stream, if any, still ended properly.
bool cut_short_by(const outcome& o, const std::string& code, const std::string& solo);

bool starts_with(const std::string& text, const std::string& prefix);

}  // namespace kvactor::test
