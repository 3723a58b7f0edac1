// Small real files of each accepted type (libmagic recognises them), made in memory.
#pragma once

#include <string>

namespace samples {

// A PNG signature and IHDR chunk, then `pad` bytes: distinct contents for distinct pads.
inline std::string png(std::size_t pad) {
  std::string s("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0\x90\x91\x68\x36",
                33);
  s.append(pad, '\x01');
  return s;
}

inline std::string jpeg() {
  std::string s("\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0", 20);
  s.append(64, '\0');
  s += "\xff\xd9";
  return s;
}

inline std::string pdf() {
  return "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
}

}  // namespace samples
