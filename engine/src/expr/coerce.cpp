#include "expr/coerce.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

namespace bihuan::expr {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

bool is_space(std::string_view s, std::size_t pos, std::size_t& len) {
  auto c = static_cast<unsigned char>(s[pos]);
  len = 1;
  if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return true;
  if (c < 0x80) return false;
  // U+00A0, U+FEFF, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000
  auto rest = s.substr(pos);
  auto starts = [&](const char* bytes) { return rest.substr(0, std::strlen(bytes)) == bytes; };
  if (starts("\xC2\xA0")) return (len = 2), true;
  if (starts("\xEF\xBB\xBF") || starts("\xE1\x9A\x80") || starts("\xE2\x80\xA8") ||
      starts("\xE2\x80\xA9") || starts("\xE2\x80\xAF") || starts("\xE2\x81\x9F") ||
      starts("\xE3\x80\x80")) {
    return (len = 3), true;
  }
  if (rest.size() >= 3 && rest.substr(0, 2) == "\xE2\x80" &&
      static_cast<unsigned char>(rest[2]) >= 0x80 && static_cast<unsigned char>(rest[2]) <= 0x8A) {
    return (len = 3), true;
  }
  return false;
}

std::string_view trim_start(std::string_view s) {
  std::size_t pos = 0, len = 0;
  while (pos < s.size() && is_space(s, pos, len)) pos += len;
  return s.substr(pos);
}

std::string_view trim(std::string_view s) {
  s = trim_start(s);
  // Trailing: step back over whole spaces; cheap because strings with trailing
  // non-ASCII spaces are rare.
  while (!s.empty()) {
    bool found = false;
    for (std::size_t back = 1; back <= 3 && back <= s.size(); ++back) {
      std::size_t len = 0;
      if (is_space(s, s.size() - back, len) && len == back) {
        s.remove_suffix(back);
        found = true;
        break;
      }
    }
    if (!found) break;
  }
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of the longest StrUnsignedDecimalLiteral prefix of s (0 if none), without
// "Infinity".
std::size_t decimal_prefix(std::string_view s) {
  std::size_t i = 0, digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    std::size_t j = i + 1;
    while (j < s.size() && is_digit(s[j])) ++j, ++digits;
    if (digits == 0) return 0;
    i = j;
  }
  if (digits == 0) return 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    std::size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    std::size_t exp_start = j;
    while (j < s.size() && is_digit(s[j])) ++j;
    if (j > exp_start) i = j;
  }
  return i;
}

// Converts a validated unsigned decimal literal.
double parse_decimal(std::string_view s) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  (void)ptr;
  if (ec == std::errc::result_out_of_range) {
    // Overflow or underflow: decide by the magnitude of the literal.
    std::size_t e = s.find_first_of("eE");
    std::string_view mantissa = s.substr(0, e);
    long exponent = 0;
    if (e != std::string_view::npos) {
      std::string_view exp_text = s.substr(e + 1);
      bool neg = !exp_text.empty() && exp_text[0] == '-';
      if (!exp_text.empty() && (exp_text[0] == '-' || exp_text[0] == '+'))
        exp_text.remove_prefix(1);
      for (char c : exp_text) exponent = std::min(exponent * 10 + (c - '0'), 100000L);
      if (neg) exponent = -exponent;
    }
    std::size_t dot = mantissa.find('.');
    std::size_t int_digits = dot == std::string_view::npos ? mantissa.size() : dot;
    std::size_t first = mantissa.find_first_of("123456789");
    long magnitude = first == std::string_view::npos
                         ? -100000
                         : static_cast<long>(int_digits) - static_cast<long>(first) +
                               (first > int_digits ? 1 : 0);
    return magnitude + exponent > 0 ? kInf : 0.0;
  }
  return value;
}

// StrNumericLiteral with a non-decimal prefix: 0x, 0o, 0b.
bool parse_radix(std::string_view s, double& out) {
  if (s.size() < 3 || s[0] != '0') return false;
  int base = 0;
  switch (s[1]) {
    case 'x':
    case 'X':
      base = 16;
      break;
    case 'o':
    case 'O':
      base = 8;
      break;
    case 'b':
    case 'B':
      base = 2;
      break;
    default:
      return false;
  }
  double value = 0;
  for (char c : s.substr(2)) {
    int d = -1;
    if (is_digit(c))
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    if (d < 0 || d >= base) {
      out = kNaN;
      return true;
    }
    value = value * base + d;
  }
  out = value;
  return true;
}

void append_array(std::string& out, const json& arr, Meter& meter) {
  // Iterative join: nested arrays are joined in place, so depth costs no stack.
  struct Frame {
    const json* arr;
    std::size_t next;
  };
  std::vector<Frame> stack{{&arr, 0}};
  while (!stack.empty() && !meter.overflow) {
    Frame& top = stack.back();
    if (top.next == top.arr->size()) {
      stack.pop_back();
      continue;
    }
    std::size_t i = top.next++;
    if (i > 0) out += ',';
    ++meter.work;
    const json& e = (*top.arr)[i];
    if (e.is_array()) {
      stack.push_back({&e, 0});
    } else if (!e.is_null()) {
      append_string(out, e, meter);
    }
    if (out.size() > meter.max_bytes) meter.overflow = true;
  }
}

}  // namespace

double string_to_number(std::string_view s) {
  s = trim(s);
  if (s.empty()) return 0;
  double radix = 0;
  if (parse_radix(s, radix)) return radix;
  bool negative = false;
  std::string_view body = s;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  double value = 0;
  if (body == "Infinity") {
    value = kInf;
  } else {
    std::size_t n = decimal_prefix(body);
    if (n == 0 || n != body.size()) return kNaN;
    value = parse_decimal(body);
  }
  return negative ? -value : value;
}

double to_number(const json* v, Meter& meter) {
  if (v == nullptr) return kNaN;
  switch (v->type()) {
    case json::value_t::null:
      return 0;
    case json::value_t::boolean:
      return v->get<bool>() ? 1 : 0;
    case json::value_t::number_integer:
      return static_cast<double>(v->get<std::int64_t>());
    case json::value_t::number_unsigned:
      return static_cast<double>(v->get<std::uint64_t>());
    case json::value_t::number_float:
      return v->get<double>();
    case json::value_t::string:
      return string_to_number(v->get_ref<const std::string&>());
    case json::value_t::array: {
      if (v->empty()) return 0;
      std::string text;
      append_string(text, *v, meter);
      return string_to_number(text);
    }
    default:
      return kNaN;
  }
}

double parse_float(const json* v, Meter& meter) {
  if (v == nullptr) return kNaN;
  if (v->is_number()) return to_number(v, meter);
  std::string text;
  std::string_view s;
  if (v->is_string()) {
    s = v->get_ref<const std::string&>();
  } else {
    append_string(text, *v, meter);
    s = text;
  }
  s = trim_start(s);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  double value = 0;
  if (s.substr(0, 8) == "Infinity") {
    value = kInf;
  } else {
    std::size_t n = decimal_prefix(s);
    if (n == 0) return kNaN;
    value = parse_decimal(s.substr(0, n));
  }
  return negative ? -value : value;
}

void append_number(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
    return;
  }
  if (d == 0) {
    out += '0';
    return;
  }
  if (d < 0) {
    out += '-';
    d = -d;
  }
  if (std::isinf(d)) {
    out += "Infinity";
    return;
  }
  // Shortest round-trip digits in scientific form: "d.ddde+XX".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  std::size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exp10 = 0;
  std::from_chars(sci.data() + e + (sci[e + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exp10);
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out += '.';
    out.append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    out += std::to_string(std::abs(n - 1));
  }
}

void append_string(std::string& out, const json& v, Meter& meter) {
  switch (v.type()) {
    case json::value_t::null:
      out += "null";
      break;
    case json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      break;
    case json::value_t::number_integer:
      out += std::to_string(v.get<std::int64_t>());
      break;
    case json::value_t::number_unsigned:
      out += std::to_string(v.get<std::uint64_t>());
      break;
    case json::value_t::number_float:
      append_number(out, v.get<double>());
      break;
    case json::value_t::string:
      out += v.get_ref<const std::string&>();
      break;
    case json::value_t::array:
      append_array(out, v, meter);
      break;
    default:
      out += "[object Object]";
      break;
  }
  if (out.size() > meter.max_bytes) meter.overflow = true;
}

json make_number(double d) {
  constexpr double kLimit = 9223372036854775808.0;  // 2^63
  if (std::isfinite(d) && d == std::trunc(d) && d > -kLimit && d < kLimit) {
    return json(static_cast<std::int64_t>(d));
  }
  return json(d);
}

bool is_truthy(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return false;
    case json::value_t::boolean:
      return v.get<bool>();
    case json::value_t::number_integer:
      return v.get<std::int64_t>() != 0;
    case json::value_t::number_unsigned:
      return v.get<std::uint64_t>() != 0;
    case json::value_t::number_float: {
      double d = v.get<double>();
      return d != 0 && !std::isnan(d);
    }
    case json::value_t::string:
      return !v.get_ref<const std::string&>().empty();
    case json::value_t::array:
      return !v.empty();
    default:
      return true;
  }
}

Footprint footprint(const json& v, std::size_t byte_limit, std::size_t depth_limit) {
  constexpr std::size_t kNode = sizeof(json);
  if (v.is_string()) return {kNode + v.get_ref<const std::string&>().size(), 0};
  if (!v.is_structured()) return {kNode, 0};
  Footprint total;
  struct Item {
    const json* v;
    std::size_t depth;
  };
  std::vector<Item> stack{{&v, 1}};
  while (!stack.empty()) {
    Item item = stack.back();
    stack.pop_back();
    total.bytes += kNode;
    if (item.depth > total.depth) total.depth = item.depth;
    if (total.bytes > byte_limit || total.depth > depth_limit) return total;
    if (item.v->is_object()) {
      for (auto it = item.v->begin(); it != item.v->end(); ++it) {
        total.bytes += it.key().size() + kNode;
        const json& child = it.value();
        if (child.is_structured()) {
          stack.push_back({&child, item.depth + 1});
        } else {
          total.bytes += child.is_string() ? child.get_ref<const std::string&>().size() : 0;
        }
      }
    } else {
      for (const json& child : *item.v) {
        if (child.is_structured()) {
          stack.push_back({&child, item.depth + 1});
        } else {
          total.bytes +=
              kNode + (child.is_string() ? child.get_ref<const std::string&>().size() : 0);
        }
      }
    }
  }
  return total;
}

}  // namespace bihuan::expr
