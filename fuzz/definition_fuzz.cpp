// libFuzzer target for the definition loader: any bytes are definition text.
// compile_definition_text() must return (never crash, hang or run out of memory), and
// its answer must be consistent: a Definition exactly when no error was reported, and
// every error carries a message. The same bytes also drive load_json() and the
// pointer-to-line:column mapping (locate(), attach_positions()) with pointers derived
// from the input: one that exists in the parsed document (which locate() must find) and
// one made of raw input bytes.
//
// Built by fuzz/CMakeLists.txt with -DBIHUAN_FUZZ=ON (see docs/testing.md, "Fuzzing"):
//   build-fuzz/fuzz/definition_fuzz -max_total_time=600 -max_len=8192 -timeout=5 \
//     -rss_limit_mb=2048 -dict=fuzz/definition.dict CORPUS_DIR fuzz/corpus/definition
//
// The shipped calendars come from $BIHUAN_CALENDAR_DIR, else BIHUAN_CALENDAR_DIR as
// compiled in (<repo>/workflows/calendars). Crashing inputs go to
// tests/definition/regressions/, which tests/definition/regressions_test.cpp replays.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>

#include "bihuan/definition.hpp"

#ifndef BIHUAN_CALENDAR_DIR
#define BIHUAN_CALENDAR_DIR "workflows/calendars"
#endif

namespace {

const bihuan::Calendars& shipped_calendars() {
  static const bihuan::Calendars calendars = [] {
    const char* dir = std::getenv("BIHUAN_CALENDAR_DIR");
    bihuan::Problems problems;
    bihuan::Calendars c = bihuan::Calendars::load_dir(dir ? dir : BIHUAN_CALENDAR_DIR, problems);
    if (problems.has_errors() || c.ids().empty()) {
      for (const auto& p : problems.items()) std::fprintf(stderr, "%s\n", p.to_string().c_str());
      std::fprintf(stderr, "definition_fuzz: no calendars loaded; set BIHUAN_CALENDAR_DIR\n");
      std::abort();
    }
    return c;
  }();
  return calendars;
}

// FNV-1a: a deterministic stream of choices taken from the input itself.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Walks down `doc` taking the child that `seed` picks at each level; returns the
// pointer of where it stopped (possibly "" for the root).
std::string pointer_into(const bihuan::json& doc, std::uint64_t seed) {
  std::string pointer;
  const bihuan::json* at = &doc;
  while ((at->is_object() || at->is_array()) && !at->empty() && seed % 5 != 0) {
    seed /= 5;
    std::size_t pick = static_cast<std::size_t>(seed % at->size());
    seed = seed / at->size() * 2654435761u + pick + 1;
    if (at->is_array()) {
      pointer += "/" + std::to_string(pick);
      at = &(*at)[pick];
    } else {
      auto it = at->begin();
      std::advance(it, static_cast<std::ptrdiff_t>(pick));
      pointer += "/" + bihuan::pointer_escape(it.key());
      at = &it.value();
    }
  }
  return pointer;
}

void check_located(std::string_view text, const std::string& pointer) {
  bihuan::Problems problems;
  problems.error(pointer, "fuzz", "fuzz");
  bihuan::attach_positions(text, problems);
  const bihuan::Problem& p = problems.items().front();
  // Every pointer resolves at least to the root, at 1:1 or later.
  if (p.line == 0 || p.column == 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);

  bihuan::DefinitionContext ctx;
  ctx.calendars = &shipped_calendars();
  bihuan::Problems problems("fuzz.json");
  auto def = bihuan::compile_definition_text(text, problems, ctx);
  if (static_cast<bool>(def) == problems.has_errors()) __builtin_trap();
  for (const auto& p : problems.items())
    if (p.message.empty() || p.code.empty()) __builtin_trap();
  if (def && (def->initial < 0 || def->id.empty())) __builtin_trap();  // schema requires both

  bihuan::Problems load_problems;
  auto doc = bihuan::load_json(text, load_problems);
  if (doc.has_value() == load_problems.has_errors()) __builtin_trap();
  if (!doc) return 0;
  const std::uint64_t seed = fnv1a(text);
  std::string existing = pointer_into(*doc, seed);
  if (!bihuan::locate(text, existing)) __builtin_trap();  // it is in the document
  check_located(text, existing);
  // A pointer of raw bytes (the input's last few), usually resolving nowhere.
  std::string raw =
      "/" + std::string(text.substr(text.size() - std::min<std::size_t>(text.size(), seed % 24)));
  (void)bihuan::locate(text, raw);
  check_located(text, raw);
  return 0;
}
