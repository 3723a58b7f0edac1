// Maps JSON Pointers back to line:column in the source text, for error messages.
#include <vector>

#include "bihuan/json.hpp"

namespace bihuan {
namespace {

struct Scanner {
  std::string_view t;
  std::size_t i = 0;

  void ws() {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\n' || t[i] == '\r' || t[i] == '\t')) ++i;
  }
  // Reads a JSON string at i (which must be '"'), returning it raw-unescaped enough for
  // comparison of keys: handles \" \\ \/ \n etc. and \uXXXX (BMP, plus surrogate pairs).
  bool read_string(std::string& out) {
    if (i >= t.size() || t[i] != '"') return false;
    ++i;
    out.clear();
    while (i < t.size() && t[i] != '"') {
      char c = t[i++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= t.size()) return false;
      char e = t[i++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (i + 4 > t.size()) return false;
          unsigned cp = std::stoul(std::string(t.substr(i, 4)), nullptr, 16);
          i += 4;
          if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= t.size() && t[i] == '\\' && t[i + 1] == 'u') {
            unsigned lo = std::stoul(std::string(t.substr(i + 2, 4)), nullptr, 16);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
          if (cp < 0x80)
            out += char(cp);
          else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
          } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
          } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
          }
          break;
        }
        default:
          out += e;
      }
    }
    if (i >= t.size()) return false;
    ++i;
    return true;
  }
  // Skips one value starting at i (after whitespace), without recursion.
  bool skip_value() {
    ws();
    std::size_t depth = 0;
    std::string tmp;
    do {
      if (i >= t.size()) return false;
      char c = t[i];
      if (c == '"') {
        if (!read_string(tmp)) return false;
      } else if (c == '{' || c == '[') {
        ++depth;
        ++i;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return false;
        --depth;
        ++i;
      } else {
        ++i;
        // scalars and separators inside containers are consumed byte by byte
        if (depth == 0) {
          while (i < t.size() && t[i] != ',' && t[i] != '}' && t[i] != ']' && t[i] != ' ' &&
                 t[i] != '\n' && t[i] != '\r' && t[i] != '\t')
            ++i;
        }
      }
    } while (depth > 0);
    return true;
  }
};

}  // namespace

std::vector<std::string> split_pointer(std::string_view pointer) {
  std::vector<std::string> out;
  if (pointer.empty()) return out;
  std::size_t pos = 1;
  while (true) {
    auto next = pointer.find('/', pos);
    std::string tok(
        pointer.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    std::string un;
    for (std::size_t k = 0; k < tok.size(); ++k) {
      if (tok[k] == '~' && k + 1 < tok.size()) {
        un += tok[k + 1] == '1' ? '/' : '~';
        ++k;
      } else {
        un += tok[k];
      }
    }
    out.push_back(un);
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

std::string pointer_escape(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

std::optional<TextPosition> locate(std::string_view text, std::string_view pointer) {
  if (!pointer.empty() && pointer[0] != '/') return std::nullopt;
  Scanner s{text};
  std::string key;
  try {
    for (const auto& token : split_pointer(pointer)) {
      s.ws();
      if (s.i >= text.size()) return std::nullopt;
      if (text[s.i] == '{') {
        ++s.i;
        bool found = false;
        while (true) {
          s.ws();
          if (s.i >= text.size() || text[s.i] == '}') return std::nullopt;
          if (!s.read_string(key)) return std::nullopt;
          s.ws();
          if (s.i >= text.size() || text[s.i] != ':') return std::nullopt;
          ++s.i;
          if (key == token) {
            found = true;
            break;
          }
          if (!s.skip_value()) return std::nullopt;
          s.ws();
          if (s.i < text.size() && text[s.i] == ',') ++s.i;
        }
        if (!found) return std::nullopt;
      } else if (text[s.i] == '[') {
        ++s.i;
        std::size_t want = 0;
        if (token.empty() || token.find_first_not_of("0123456789") != std::string::npos)
          return std::nullopt;
        want = std::stoul(token);
        for (std::size_t k = 0; k < want; ++k) {
          s.ws();
          if (s.i >= text.size() || text[s.i] == ']') return std::nullopt;
          if (!s.skip_value()) return std::nullopt;
          s.ws();
          if (s.i < text.size() && text[s.i] == ',') ++s.i;
        }
      } else {
        return std::nullopt;
      }
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  s.ws();
  // Re-use the line/column counter.
  TextPosition p{1, 1};
  for (std::size_t k = 0; k < s.i && k < text.size(); ++k) {
    if (text[k] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

void attach_positions(std::string_view text, Problems& problems) {
  for (auto& p : problems.items()) {
    if (p.line != 0) continue;
    // Walk up the pointer until something resolves (an element that is missing is
    // reported at its parent).
    std::string ptr = p.pointer;
    while (true) {
      if (auto pos = locate(text, ptr)) {
        p.line = pos->line;
        p.column = pos->column;
        break;
      }
      if (ptr.empty()) break;
      ptr.erase(ptr.rfind('/'));
    }
  }
}

}  // namespace bihuan
