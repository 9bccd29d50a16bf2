// The regular-expression subset allowed in a JSON Schema string `pattern`, as GBNF over the string's
// JSON-encoded content (between the quotes). Supported: anchored patterns (^...$), literals,
// escapes (\d \w \s \D \W \S \. \\ \/ \n \t \r \uXXXX and escaped metacharacters), classes with
// ranges and negation, `.`, groups ((...), (?:...)), alternation, and the quantifiers * + ? {m}
// {m,} {m,n} (lazy forms match the same language). Characters JSON must escape (`"`, `\`) are
// written escaped; control characters only through \n \t \r; `.` and negated classes never produce
// `"`, `\` or control characters; \s produces a space only. Anything else throws schema_error.
#pragma once

#include <string>

namespace kvactor::grammar {

std::string regex_to_gbnf(const std::string& pattern);

}  // namespace kvactor::grammar
