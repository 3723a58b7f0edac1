// Static check of a rule: the same walk as the evaluator (an object with exactly one
// key is an operator application, arrays are evaluated element by element, anything
// else is a literal), but over every branch, without data, and without recursion, so
// that a rule of any depth is walked in constant native stack.
#include <string>
#include <vector>

#include "bihuan/expr.hpp"
#include "expr/operators.hpp"
#include "expr/text.hpp"

namespace bihuan::expr {
namespace {

// Deeper rules are reported once and not walked further: evaluate() with default
// limits would refuse them anyway.
constexpr std::size_t kCheckDepth = EvalLimits{}.max_depth;

// A node of the rule and how it hangs from its parent, for building pointers only
// when there is something to report.
struct Node {
  const json* value;
  std::size_t parent;    // index in the node list; npos for the root
  std::string_view key;  // the operator whose argument this is, if has_key
  std::size_t index;     // position in an argument list or array, if has_index
  bool has_key;          // false for elements of an array literal
  bool has_index;        // false for the single-argument sugar {"op": x}
  std::size_t depth;
};

constexpr std::size_t npos = static_cast<std::size_t>(-1);

class Checker {
 public:
  Checker(Problems& problems, const std::string& base) : problems_(problems), base_(base) {}

  bool run(const json& rule) {
    nodes_.push_back({&rule, npos, {}, 0, false, false, 0});
    todo_.push_back(0);
    while (!todo_.empty()) {
      std::size_t n = todo_.back();
      todo_.pop_back();
      visit(n);
    }
    return ok_;
  }

 private:
  void visit(std::size_t n) {
    const json& value = *nodes_[n].value;
    bool is_rule = value.is_object() && value.size() == 1;
    if (!is_rule && !value.is_array()) return;  // a literal
    if (nodes_[n].depth >= kCheckDepth) {
      if (!too_deep_reported_) {
        too_deep_reported_ = true;
        error(n, "rule-too-deep",
              "rule nested deeper than " + std::to_string(kCheckDepth) + " levels");
      }
      return;
    }
    if (value.is_array()) {
      push_children(n, value, {}, false);
      return;
    }
    auto it = value.begin();
    const std::string& name = it.key();
    const json& args = it.value();
    if (const OpInfo* op = find_operator(name)) {
      check_arity(n, *op, args);
      if (op->form == Form::var) check_var_path(n, args);
    } else {
      error(n, "unknown-operator", unknown_message(name));
    }
    if (args.is_array()) {
      push_children(n, args, name, true);
    } else if (args.is_structured()) {
      nodes_.push_back({&args, n, name, 0, true, false, nodes_[n].depth + 1});
      todo_.push_back(nodes_.size() - 1);
    }
  }

  // Queues the elements of `list` (an array literal, or an operator's argument list)
  // that may hold rules; scalars are literals with nothing to check.
  void push_children(std::size_t n, const json& list, std::string_view key, bool has_key) {
    std::size_t first = nodes_.size();
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_structured()) continue;
      nodes_.push_back({&list[i], n, key, i, has_key, true, nodes_[n].depth + 1});
    }
    // Reverse order onto the stack so problems come out in document order.
    for (std::size_t i = nodes_.size(); i > first; --i) todo_.push_back(i - 1);
  }

  void check_arity(std::size_t n, const OpInfo& op, const json& args) {
    std::size_t count = args.is_array() ? args.size() : 1;
    if (count >= op.min_args && (op.max_args == kUnbounded || count <= op.max_args)) return;
    std::string want;
    if (op.min_args == op.max_args) {
      want = std::to_string(op.min_args) + (op.min_args == 1 ? " argument" : " arguments");
    } else if (op.max_args == kUnbounded) {
      want = "at least " + std::to_string(op.min_args) +
             (op.min_args == 1 ? " argument" : " arguments");
    } else {
      want = std::to_string(op.min_args) + " to " + std::to_string(op.max_args) + " arguments";
    }
    error(n, "operator-arity",
          "operator \"" + std::string(op.name) + "\" takes " + want + ", got " +
              std::to_string(count));
  }

  // var's path is a string, a number, null, or a rule computing one.
  void check_var_path(std::size_t n, const json& args) {
    const json* path = &args;
    if (args.is_array()) {
      if (args.empty()) return;
      path = &args[0];
    }
    bool is_rule = path->is_object() && path->size() == 1;
    if (path->is_string() || path->is_number() || path->is_null() || is_rule) return;
    error(n, "var-path",
          std::string("operator \"var\" takes a path (string, number or null), got ") +
              type_name(*path));
  }

  static const char* type_name(const json& v) {
    if (v.is_boolean()) return "a boolean";
    if (v.is_object()) return "an object";
    if (v.is_array()) return "an array";
    return v.type_name();
  }

  static std::string unknown_message(const std::string& name) {
    std::string best;
    std::size_t best_distance = npos;
    std::string known;
    for (const OpInfo& op : all_operators()) {
      if (!known.empty()) known += ", ";
      known += op.name;
      std::size_t d = edit_distance(lower(name), lower(std::string(op.name)));
      if (d < best_distance) {
        best_distance = d;
        best = op.name;
      }
    }
    std::string message = "unknown JsonLogic operator \"" + name + "\"";
    // Close enough to be a typo: at most 2 edits, and fewer than the name's length.
    if (best_distance <= 2 && best_distance < std::min(name.size(), best.size())) {
      message += "; did you mean \"" + best + "\"?";
    }
    return message + " (known: " + known + ")";
  }

  static std::string lower(std::string s) {
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
  }

  std::string pointer(std::size_t n) const {
    std::vector<std::string> tokens;
    for (; n != npos && nodes_[n].parent != npos; n = nodes_[n].parent) {
      const Node& node = nodes_[n];
      if (node.has_index) tokens.push_back(std::to_string(node.index));
      if (node.has_key) tokens.push_back(escape_token(node.key));
    }
    std::string out = base_;
    for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) out += "/" + *it;
    return out;
  }

  void error(std::size_t n, const char* code, std::string message) {
    ok_ = false;
    problems_.error(pointer(n), code, std::move(message));
  }

  Problems& problems_;
  const std::string& base_;
  std::vector<Node> nodes_;
  std::vector<std::size_t> todo_;
  bool ok_ = true;
  bool too_deep_reported_ = false;
};

}  // namespace

bool check(const json& rule, Problems& problems, const std::string& base) {
  return Checker(problems, base).run(rule);
}

}  // namespace bihuan::expr
