#include "expr/operators.hpp"

#include <array>
#include <string>
#include <vector>

#include "bihuan/expr.hpp"
#include "expr/builtins.hpp"
#include "expr/extensions.hpp"

namespace bihuan::expr {
namespace {

constexpr std::uint16_t N = kUnbounded;

// clang-format off
constexpr std::array kOperators = {
    // Accessing data
    OpInfo{"var",          0, 2, Form::var,    op_var,              false},
    OpInfo{"missing",      0, N, Form::eager,  op_missing,          false},
    OpInfo{"missing_some", 2, 2, Form::eager,  op_missing_some,     false},
    // Logic and boolean operations
    OpInfo{"if",           0, N, Form::if_,    nullptr,             false},
    OpInfo{"?:",           0, N, Form::if_,    nullptr,             false},
    OpInfo{"==",           2, 2, Form::eager,  op_loose_equal,      false},
    OpInfo{"===",          2, 2, Form::eager,  op_strict_equal,     false},
    OpInfo{"!=",           2, 2, Form::eager,  op_loose_not_equal,  false},
    OpInfo{"!==",          2, 2, Form::eager,  op_strict_not_equal, false},
    OpInfo{"!",            1, 1, Form::eager,  op_not,              false},
    OpInfo{"!!",           1, 1, Form::eager,  op_truthy,           false},
    OpInfo{"or",           1, N, Form::or_,    nullptr,             false},
    OpInfo{"and",          1, N, Form::and_,   nullptr,             false},
    // Numeric operations
    OpInfo{">",            2, 2, Form::eager,  op_greater,          false},
    OpInfo{">=",           2, 2, Form::eager,  op_greater_equal,    false},
    OpInfo{"<",            2, 3, Form::eager,  op_less,             false},
    OpInfo{"<=",           2, 3, Form::eager,  op_less_equal,       false},
    OpInfo{"max",          1, N, Form::eager,  op_max,              false},
    OpInfo{"min",          1, N, Form::eager,  op_min,              false},
    OpInfo{"+",            0, N, Form::eager,  op_add,              false},
    OpInfo{"-",            1, 2, Form::eager,  op_subtract,         false},
    OpInfo{"*",            1, N, Form::eager,  op_multiply,         false},
    OpInfo{"/",            2, 2, Form::eager,  op_divide,           false},
    OpInfo{"%",            2, 2, Form::eager,  op_modulo,           false},
    // Array operations
    OpInfo{"map",          2, 2, Form::map,    nullptr,             false},
    OpInfo{"filter",       2, 2, Form::filter, nullptr,             false},
    OpInfo{"reduce",       2, 3, Form::reduce, nullptr,             false},
    OpInfo{"all",          2, 2, Form::all,    nullptr,             false},
    OpInfo{"none",         2, 2, Form::none,   nullptr,             false},
    OpInfo{"some",         2, 2, Form::some,   nullptr,             false},
    OpInfo{"merge",        0, N, Form::eager,  op_merge,            false},
    OpInfo{"in",           2, 2, Form::eager,  op_in,               false},
    // String operations
    OpInfo{"cat",          0, N, Form::eager,  op_cat,              false},
    OpInfo{"substr",       2, 3, Form::eager,  op_substr,           false},
    // Miscellaneous
    OpInfo{"log",          1, 1, Form::eager,  op_log,              false},
    // Bihuan extensions (extensions.cpp)
    OpInfo{"now",          0, 0, Form::eager,  op_now,              true},
    OpInfo{"time_add",     2, 3, Form::eager,  op_time_add,         true},
    OpInfo{"time_diff",    3, 4, Form::eager,  op_time_diff,        true},
    OpInfo{"time_before",  2, 2, Form::eager,  op_time_before,      true},
    OpInfo{"count",        1, 1, Form::eager,  op_count,            true},
    OpInfo{"sum",          1, 1, Form::eager,  op_sum,              true},
    OpInfo{"unique",       1, 1, Form::eager,  op_unique,           true},
    OpInfo{"contains_all", 2, 2, Form::eager,  op_contains_all,     true},
    OpInfo{"get",          2, 3, Form::eager,  op_get,              true},
};
// clang-format on

// Open-addressing hash table over kOperators: lookup runs on every operator
// application, and names are short, so hashing beats a binary search of string
// comparisons.
constexpr std::size_t kSlots = 128;  // power of two, load factor about 1/3

constexpr std::size_t name_hash(std::string_view name) {
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return h & (kSlots - 1);
}

struct Index {
  std::array<const OpInfo*, kSlots> slots{};
  Index() {
    for (const OpInfo& op : kOperators) {
      std::size_t i = name_hash(op.name);
      while (slots[i] != nullptr) i = (i + 1) & (kSlots - 1);
      slots[i] = &op;
    }
  }
};

const Index& index() {
  static const Index table;
  return table;
}

}  // namespace

const OpInfo* find_operator(std::string_view name) {
  const auto& slots = index().slots;
  for (std::size_t i = name_hash(name); slots[i] != nullptr; i = (i + 1) & (kSlots - 1)) {
    if (slots[i]->name == name) return slots[i];
  }
  return nullptr;
}

std::span<const OpInfo> all_operators() { return kOperators; }

bool is_operator(std::string_view name) { return find_operator(name) != nullptr; }

std::vector<std::string> operator_names() {
  std::vector<std::string> names;
  names.reserve(kOperators.size());
  for (const OpInfo& op : kOperators) names.emplace_back(op.name);
  return names;
}

}  // namespace bihuan::expr
