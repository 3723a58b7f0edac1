// Strict, bounded JSON loading: a SAX handler that builds the DOM while enforcing depth,
// string-size and duplicate-key rules, so untrusted text never recurses or explodes.
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "bihuan/json.hpp"

namespace bihuan {
namespace {

TextPosition position_of(std::string_view text, std::size_t offset) {
  TextPosition p{1, 1};
  if (offset > text.size()) offset = text.size();
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

// Finds the first place where nesting exceeds max_depth (outside strings), or npos.
std::size_t find_too_deep(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

class DomBuilder : public nlohmann::json_sax<json> {
 public:
  DomBuilder(Problems& problems, const JsonLimits& limits) : problems_(problems), limits_(limits) {}

  bool null() override { return put(json(nullptr)); }
  bool boolean(bool v) override { return put(json(v)); }
  bool number_integer(number_integer_t v) override { return put(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(json(v)); }
  bool number_float(number_float_t v, const string_t&) override {
    if (!std::isfinite(v)) {
      fail("number-range", "number is too large to represent");
      return false;
    }
    return put(json(v));
  }
  bool string(string_t& v) override {
    if (v.size() > limits_.max_string) {
      fail("string-too-long", "string of " + std::to_string(v.size()) +
                                  " bytes is longer than the limit of " +
                                  std::to_string(limits_.max_string));
      return false;
    }
    return put(json(std::move(v)));
  }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override { return open(json::object()); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (k.size() > limits_.max_string) {  // reported at the object holding it
      failed_ = true;
      problems_.error(pointer(), "string-too-long",
                      "object key of " + std::to_string(k.size()) +
                          " bytes is longer than the limit of " +
                          std::to_string(limits_.max_string));
      return false;
    }
    json& obj = *stack_.back();
    if (obj.contains(k)) {
      duplicate_pointer_ = pointer() + "/" + pointer_escape(k);
      problems_.error(duplicate_pointer_, "duplicate-key",
                      "duplicate object key \"" + k + "\" (JSON objects need unique keys)");
      return false;
    }
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    error_offset_ = position;
    std::string msg = ex.what();
    // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    auto colon = msg.find(": ", msg.find("column"));
    if (colon != std::string::npos) msg = msg.substr(colon + 2);
    // Others (number overflow: "[json.exception.out_of_range.406] number overflow parsing
    // '1e400'") carry only the tag.
    else if (auto tag_end = msg.find("] ");
             msg.rfind("[json.exception.", 0) == 0 && tag_end != std::string::npos)
      msg = msg.substr(tag_end + 2);
    parse_message_ = std::move(msg);
    return false;
  }

  json result;
  std::size_t error_offset_ = std::string::npos;
  std::string parse_message_;
  std::string duplicate_pointer_;
  bool failed_ = false;

 private:
  std::string pointer() const {
    std::string p;
    for (std::size_t i = 1; i < stack_.size(); ++i) p += "/" + pointer_escape(path_[i - 1]);
    return p;
  }
  void fail(const std::string& code, const std::string& message) {
    failed_ = true;
    problems_.error(
        pointer() + (stack_.empty() || stack_.back()->is_array()
                         ? (stack_.empty() ? "" : "/" + std::to_string(stack_.back()->size()))
                         : "/" + pointer_escape(key_)),
        code, message);
  }
  json* slot(json&& v) {
    if (stack_.empty()) {
      result = std::move(v);
      return &result;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    json& ref = parent[key_];
    ref = std::move(v);
    return &ref;
  }
  bool put(json&& v) {
    slot(std::move(v));
    return true;
  }
  bool open(json&& v) {
    std::string name;
    if (!stack_.empty())
      name = stack_.back()->is_array() ? std::to_string(stack_.back()->size()) : key_;
    json* p = slot(std::move(v));
    if (!stack_.empty()) path_.push_back(name);
    stack_.push_back(p);
    return true;
  }
  bool close() {
    stack_.pop_back();
    if (!path_.empty() && !stack_.empty()) path_.pop_back();
    return true;
  }

  Problems& problems_;
  const JsonLimits& limits_;
  std::vector<json*> stack_;
  std::vector<std::string> path_;
  std::string key_;
};

}  // namespace

std::optional<json> load_json(std::string_view text, Problems& problems, const JsonLimits& limits) {
  auto add = [&](std::size_t offset, std::string code, std::string message) {
    Problem p{Severity::error, problems.file(), "", 0, 0, std::move(code), std::move(message)};
    auto pos = position_of(text, offset);
    p.line = pos.line;
    p.column = pos.column;
    problems.add(std::move(p));
  };
  if (text.size() > limits.max_bytes) {
    add(0, "document-too-large",
        "document of " + std::to_string(text.size()) + " bytes is larger than the limit of " +
            std::to_string(limits.max_bytes));
    return std::nullopt;
  }
  if (auto deep = find_too_deep(text, limits.max_depth); deep != std::string_view::npos) {
    add(deep, "too-deep",
        "JSON nested deeper than " + std::to_string(limits.max_depth) + " levels");
    return std::nullopt;
  }
  DomBuilder builder(problems, limits);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json, true);
  } catch (const std::exception& e) {
    add(0, "invalid-json", e.what());
    return std::nullopt;
  }
  if (ok) return std::move(builder.result);
  if (builder.error_offset_ != std::string::npos) {
    // nlohmann reports the position one past the offending byte.
    add(builder.error_offset_ ? builder.error_offset_ - 1 : 0, "invalid-json",
        builder.parse_message_);
  } else if (!builder.duplicate_pointer_.empty() || builder.failed_) {
    attach_positions(text, problems);
  } else {
    add(0, "invalid-json", "invalid JSON");
  }
  return std::nullopt;
}

std::optional<json> load_json_file(const std::string& path, Problems& problems,
                                   const JsonLimits& limits) {
  std::string saved = problems.file();
  problems.set_file(path);
  std::ifstream in(path, std::ios::binary);
  std::optional<json> out;
  if (!in) {
    problems.error("", "unreadable-file", "cannot open file for reading");
  } else {
    std::ostringstream ss;
    ss << in.rdbuf();
    out = load_json(ss.str(), problems, limits);
  }
  problems.set_file(saved);
  return out;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0, min = 0;
    if ((c & 0xe0) == 0xc0)
      n = 1, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
      n = 2, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
      n = 3, cp = c & 0x07, min = 0x10000;
    else
      return false;
    if (static_cast<std::size_t>(end - p) <= n) return false;
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    p += n + 1;
  }
  return true;
}

namespace {

std::string pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}

// json_defect's walk; `at` is the pointer of `v`, built only on the way out of a fault.
bool find_defect(const json& v, std::size_t levels, std::string& what, std::string& at) {
  if (v.is_string()) {
    if (valid_utf8(v.get_ref<const std::string&>())) return false;
    what = "has a string that is not UTF-8 at ";
    return true;
  }
  if (!v.is_structured()) return false;
  if (levels == 0) {
    what.clear();  // too deep: json_defect words it
    return true;
  }
  if (v.is_object()) {
    for (const auto& [key, child] : v.items()) {
      if (!valid_utf8(key)) {
        what = "has a member name that is not UTF-8 in the object at ";
        return true;
      }
      if (find_defect(child, levels - 1, what, at)) {
        at = "/" + pointer_token(key) + at;
        return true;
      }
    }
    return false;
  }
  for (std::size_t i = 0; i < v.size(); ++i)
    if (find_defect(v[i], levels - 1, what, at)) {
      at = "/" + std::to_string(i) + at;
      return true;
    }
  return false;
}

}  // namespace

std::optional<std::string> json_defect(const json& v, std::size_t max_depth) {
  std::string what, at;
  if (!find_defect(v, max_depth, what, at)) return std::nullopt;
  if (what.empty()) return "is nested more than " + std::to_string(max_depth) + " levels deep";
  return what + (at.empty() ? "the top" : at);
}

}  // namespace bihuan
