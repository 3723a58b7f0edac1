// Data paths as json-logic-js's "var" reads them: String(key).split(".") and one
// property or array index per part.
#pragma once

#include <string>
#include <string_view>

#include "bihuan/json.hpp"
#include "expr/coerce.hpp"
#include "expr/value.hpp"

namespace bihuan::expr {

// Whether `key` asks for the whole data: undefined (nullptr), null or "".
bool is_whole_key(const json* key);

// The path text of a key: String(key). Sets `storage` only when the key is not a
// string; the returned view points into the key or into `storage`.
std::string_view key_text(const json& key, std::string& storage, Meter& meter);

// Resolves a dotted path inside `root`; nullptr when it does not resolve.
const json* resolve_path(const json& root, std::string_view path);

// Resolves a dotted path in a scope (reduce's scope has "current" and "accumulator").
const json* resolve_path(const Scope& scope, std::string_view path);

}  // namespace bihuan::expr
