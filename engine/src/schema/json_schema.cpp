// The one room where Valijson lives.
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/constraint_builder.hpp>
#include <valijson/constraints/concrete_constraints.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <new>
#include <regex>
#include <stdexcept>
#include <string_view>

#include "bihuan/schema.hpp"
#include "bihuan/schema_attachments.hpp"

namespace bihuan {
namespace {

// Valijson 1.0 matches "pattern" with a default std::regex, whose backtracking matcher
// recurses once per character: a 30 KB string against "\\d+" overflows the stack, and
// nested quantifiers take exponential time. So every "pattern" keyword is handed to
// Valijson under our own name, and matched in libstdc++'s polynomial mode (a
// breadth-first NFA: stack depth bounded by the pattern, time polynomial in the input;
// back-references are refused when the schema is compiled).
constexpr const char* kPatternKeyword = "x-bihuan-pattern";

std::shared_ptr<const std::regex> compile_pattern(const std::string& pattern) {
#ifdef __GLIBCXX__
  return std::make_shared<const std::regex>(
      pattern, std::regex::ECMAScript | std::regex_constants::__polynomial);
#else
  return std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
#endif
}

class PatternConstraint : public valijson::constraints::PolyConstraint {
 public:
  explicit PatternConstraint(std::shared_ptr<const std::regex> regex) : regex_(std::move(regex)) {}

  bool validate(const valijson::adapters::Adapter& target, const std::vector<std::string>& context,
                valijson::ValidationResults* results) const override {
    if (!target.isString()) return true;  // strict types, as Valijson's own check
    if (std::regex_search(target.asString(), *regex_)) return true;
    if (results)
      results->pushError(context, "Failed to match regex specified by 'pattern' constraint.");
    return false;
  }

 private:
  Constraint* cloneInto(void* where) const override {
    return new (where) PatternConstraint(regex_);
  }
  size_t sizeOf() const override { return sizeof(PatternConstraint); }

  std::shared_ptr<const std::regex> regex_;
};

class PatternBuilder : public valijson::ConstraintBuilder {
 public:
  valijson::constraints::Constraint* make(const valijson::adapters::Adapter& value) const override {
    std::string pattern;
    if (!value.getString(pattern)) throw std::runtime_error("'pattern' must be a string");
    return new PatternConstraint(compile_pattern(pattern));  // std::regex_error if unusable
  }
};

// Valijson 1.0 also compiles a std::regex on every check of "format": "date",
// "time" or "date-time" (validation_visitor.hpp), which made data validation most of a
// step's CPU time. Those three formats are handed to Valijson under our own name too and
// checked by the small scanners below: the grammar of Valijson's regexes (RFC 3339, any
// number of year digits, seconds up to 60) and the same day-of-month check (February up
// to 29), except that '|' is not taken as an offset sign.
constexpr const char* kFormatKeyword = "x-bihuan-format";

bool day_in_month(int month, int day) {
  int limit =
      month == 2 ? 29 : (month <= 7 ? (month % 2 == 0 ? 30 : 31) : (month % 2 != 0 ? 30 : 31));
  return day >= 1 && day <= limit;
}

struct Scan {
  std::string_view s;
  std::size_t i = 0;
  bool done() const { return i == s.size(); }
  bool lit(char c) { return i < s.size() && s[i] == c ? (++i, true) : false; }
  bool lit_any(const char* set) {
    if (i < s.size() && std::strchr(set, s[i]) && s[i] != '\0') return ++i, true;
    return false;
  }
  // Exactly two digits, at most `max`.
  bool two(int max, int* out = nullptr) {
    if (i + 2 > s.size() || !std::isdigit(static_cast<unsigned char>(s[i])) ||
        !std::isdigit(static_cast<unsigned char>(s[i + 1])))
      return false;
    int v = (s[i] - '0') * 10 + (s[i + 1] - '0');
    i += 2;
    if (out) *out = v;
    return v <= max;
  }
  std::size_t digits() {
    std::size_t n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++n;
    return n;
  }
  bool date() {
    int month = 0, day = 0;
    return digits() > 0 && lit('-') && two(12, &month) && month >= 1 && lit('-') && two(31, &day) &&
           day_in_month(month, day);
  }
  bool time() {
    if (!(two(23) && lit(':') && two(59) && lit(':') && two(60))) return false;
    if (lit('.') && digits() == 0) return false;
    if (lit_any("Zz")) return true;
    return lit_any("+-") && two(23) && lit(':') && two(59);
  }
};

// "sha256:" and 64 lowercase hex digits: an attachment's address (bihuan/attachments.hpp).
bool attachment_address(std::string_view text) {
  if (text.size() != 71 || text.substr(0, 7) != "sha256:") return false;
  for (char c : text.substr(7))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool valid_format(const std::string& format, std::string_view text) {
  if (format == "bihuan-attachment") return attachment_address(text);
  Scan sc{text};
  if (format == "date") return sc.date() && sc.done();
  if (format == "time") return sc.time() && sc.done();
  return sc.date() && sc.lit_any("Tt") && sc.time() && sc.done();
}

// Where attachments()'s run collects each valid "bihuan-attachment" string (null: not
// collecting). Set only for the duration of one validation on this thread.
thread_local std::vector<std::pair<std::string, std::string>>* t_attachments = nullptr;

std::string context_pointer(const std::vector<std::string>& context);

class FormatConstraint : public valijson::constraints::PolyConstraint {
 public:
  explicit FormatConstraint(std::string format) : format_(std::move(format)) {}

  bool validate(const valijson::adapters::Adapter& target, const std::vector<std::string>& context,
                valijson::ValidationResults* results) const override {
    if (!target.isString()) return true;
    bool ok = valid_format(format_, target.asString());
    if (ok && t_attachments && format_ == "bihuan-attachment")
      t_attachments->emplace_back(context_pointer(context), target.asString());
    if (!ok && results)
      results->pushError(context, format_ == "time"   ? "String should be a valid time"
                                  : format_ == "date" ? "String should be a valid date"
                                  : format_ == "bihuan-attachment"
                                      ? "String should be an attachment "
                                        "address (sha256:<64 hex>)"
                                      : "String should be a valid date-time");
    return ok;
  }

 private:
  Constraint* cloneInto(void* where) const override {
    return new (where) FormatConstraint(format_);
  }
  size_t sizeOf() const override { return sizeof(FormatConstraint); }

  std::string format_;
};

class FormatBuilder : public valijson::ConstraintBuilder {
 public:
  valijson::constraints::Constraint* make(const valijson::adapters::Adapter& value) const override {
    std::string format;
    if (!value.getString(format)) throw std::runtime_error("'format' must be a string");
    return new FormatConstraint(format);
  }
};

bool own_format(const json& v) {
  return v.is_string() &&
         (v == "date" || v == "time" || v == "date-time" || v == "bihuan-attachment");
}

// A copy of `schema` with each "pattern" keyword renamed to kPatternKeyword (and each
// date/time "format" to kFormatKeyword). Values of
// keywords that hold instance data, not schemas, are copied unchanged.
json with_own_patterns(const json& schema) {
  if (schema.is_array()) {
    json out = json::array();
    for (const auto& item : schema) out.push_back(with_own_patterns(item));
    return out;
  }
  if (!schema.is_object()) return schema;
  json out = json::object();
  for (auto it = schema.begin(); it != schema.end(); ++it) {
    const std::string& key = it.key();
    if (key == "pattern" && it->is_string())
      out[kPatternKeyword] = *it;
    else if (key == "format" && own_format(*it))
      out[kFormatKeyword] = *it;
    else if (key == "enum" || key == "const" || key == "default" || key == "examples")
      out[key] = *it;
    else
      out[key] = with_own_patterns(*it);
  }
  return out;
}

}  // namespace

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
    parser.addConstraintBuilder(kPatternKeyword, new PatternBuilder);
    parser.addConstraintBuilder(kFormatKeyword, new FormatBuilder);
    const json rewritten = with_own_patterns(schema);
    valijson::adapters::NlohmannJsonAdapter adapter(rewritten);
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

std::string context_pointer(const std::vector<std::string>& context) { return to_pointer(context); }

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
    // A missing member is its own problem, whatever else is wrong deeper in the object.
    bool missing = e.description.rfind("Missing required property", 0) == 0;
    bool shadowed = !missing && std::any_of(errors.begin(), errors.end(), [&](const auto& o) {
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
      if (name.size() >= 2 && name.compare(name.size() - 2, 2, "'.") == 0)
        name.resize(name.size() - 2);
      ptr += "/" + pointer_escape(name);
      message = "unknown member \"" + name + "\" (not allowed here)";
    }
    std::pair<std::string, std::string> item{ptr, message};
    if (std::find(kept.begin(), kept.end(), item) == kept.end()) kept.push_back(item);
  }
  for (auto& [ptr, msg] : kept) problems.error(ptr, code, msg);
  return false;
}

AttachmentCollector::AttachmentCollector(std::vector<std::pair<std::string, std::string>>& out)
    : previous_(t_attachments) {
  t_attachments = &out;
}
AttachmentCollector::~AttachmentCollector() { t_attachments = previous_; }

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
