// The one room where Valijson lives.
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <algorithm>

#include "bihuan/schema.hpp"

namespace bihuan {

struct JsonSchema::Impl {
  valijson::Schema schema;
};

JsonSchema::JsonSchema(std::unique_ptr<Impl> impl, json source)
    : impl_(std::move(impl)), source_(std::move(source)) {}
JsonSchema::~JsonSchema() = default;

std::shared_ptr<const JsonSchema> JsonSchema::compile(const json& schema, Problems& problems,
                                                      const std::string& pointer) {
  if (!schema.is_object() && !schema.is_boolean()) {
    problems.error(pointer, "invalid-schema", "a JSON Schema must be an object or a boolean");
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(schema);
    parser.populateSchema(adapter, impl->schema);
  } catch (const std::exception& e) {
    problems.error(pointer, "invalid-schema", std::string("not a usable JSON Schema: ") + e.what());
    return nullptr;
  }
  return std::shared_ptr<const JsonSchema>(new JsonSchema(std::move(impl), schema));
}

namespace {

// Valijson context entries look like "<root>", "[states]", "[0]".
std::string to_pointer(const std::vector<std::string>& context) {
  std::string out;
  for (const auto& c : context) {
    if (c == "<root>") continue;
    std::string token = c;
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']')
      token = token.substr(1, token.size() - 2);
    out += "/" + pointer_escape(token);
  }
  return out;
}

bool is_prefix(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return a.size() < b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

bool JsonSchema::validate(const json& doc, Problems& problems, const std::string& base,
                          const std::string& code) const {
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  bool ok = false;
  try {
    ok = validator.validate(impl_->schema, target, &results);
  } catch (const std::exception& e) {
    problems.error(base, code, std::string("schema validation failed: ") + e.what());
    return false;
  }
  if (ok) return true;
  std::vector<valijson::ValidationResults::Error> errors(results.begin(), results.end());
  // Keep the most specific errors: drop those whose path is a prefix of another's, and
  // valijson's generic echoes when a specific message exists at the same path.
  std::vector<std::pair<std::string, std::string>> kept;
  for (const auto& e : errors) {
    bool shadowed = std::any_of(errors.begin(), errors.end(), [&](const auto& o) {
      return is_prefix(e.context, o.context);
    });
    if (shadowed) continue;
    std::string ptr = base + to_pointer(e.context);
    bool generic = e.description.rfind("Failed to validate against", 0) == 0 ||
                   e.description.rfind("Failed to match", 0) == 0;
    if (generic && std::any_of(errors.begin(), errors.end(), [&](const auto& o) {
          return o.context == e.context && o.description.rfind("Failed to", 0) != 0;
        }))
      continue;
    std::string message = e.description;
    // Valijson names an unknown member only in its message; point at the member itself.
    static const std::string kUnwanted = "'additionalProperties' constraints: '";
    if (auto at = message.find(kUnwanted); at != std::string::npos) {
      std::string name = message.substr(at + kUnwanted.size());
      if (name.size() >= 2 && name.compare(name.size() - 2, 2, "'.") == 0) name.resize(name.size() - 2);
      ptr += "/" + pointer_escape(name);
      message = "unknown member \"" + name + "\" (not allowed here)";
    }
    std::pair<std::string, std::string> item{ptr, message};
    if (std::find(kept.begin(), kept.end(), item) == kept.end()) kept.push_back(item);
  }
  for (auto& [ptr, msg] : kept) problems.error(ptr, code, msg);
  return false;
}

bool JsonSchema::accepts(const json& doc) const {
  valijson::Validator validator;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  try {
    return validator.validate(impl_->schema, target, nullptr);
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace bihuan
