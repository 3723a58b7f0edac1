// JSON Schema (draft-07) validation of instance data, event payloads and definitions.
//
// A thin face over Valijson (the only file that includes it is src/schema/). A compiled
// JsonSchema is immutable and safe to share between threads.
#pragma once

#include <memory>
#include <string>

#include "bihuan/json.hpp"
#include "bihuan/problem.hpp"

namespace bihuan {

class JsonSchema {
 public:
  // Compiles `schema`. On a schema that is not usable (wrong types, unresolvable $ref)
  // returns nullptr and adds an "invalid-schema" error at `pointer`.
  static std::shared_ptr<const JsonSchema> compile(const json& schema, Problems& problems,
                                                   const std::string& pointer);
  ~JsonSchema();

  // Validates `doc`. Returns true if valid; otherwise adds one error per violation (code
  // `code`) with the JSON Pointer `base` + the path of the offending element inside doc.
  // Only the most specific violations are reported (not every enclosing "failed to
  // validate property" echo).
  bool validate(const json& doc, Problems& problems, const std::string& base = "",
                const std::string& code = "schema") const;

  // Convenience: true if valid, no details.
  bool accepts(const json& doc) const;

  const json& source() const { return source_; }

 private:
  struct Impl;
  explicit JsonSchema(std::unique_ptr<Impl> impl, json source);
  std::unique_ptr<Impl> impl_;
  json source_;
};

}  // namespace bihuan
