// UTF-8 text helpers for the string operators. JavaScript counts UTF-16 code units;
// Bihuan counts code points, which agrees for all text in the Basic Multilingual Plane
// and never splits a character.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bihuan::expr {

// Number of code points (a malformed byte counts as one).
std::size_t code_point_count(std::string_view s);

// Byte offset of code point `index` (clamped to s.size()).
std::size_t code_point_offset(std::string_view s, std::size_t index);

// Three-way comparison in UTF-16 code unit order, like JavaScript's `<` on strings.
int compare_utf16(std::string_view a, std::string_view b);

// Optimal string alignment distance (edits and adjacent swaps), for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);

// Escapes one JSON Pointer reference token ("~" -> "~0", "/" -> "~1").
std::string escape_token(std::string_view token);

}  // namespace bihuan::expr
