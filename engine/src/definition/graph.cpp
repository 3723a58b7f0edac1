// The state graph of a definition as Graphviz DOT or Mermaid text (bihuan/definition.hpp).
#include <functional>
#include <sstream>

#include "bihuan/definition.hpp"

namespace bihuan {
namespace {

std::string text_of(const json& t, const std::string& fallback) {
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object()) {
    for (const char* lang : {"zh", "en"})
      if (t.contains(lang) && t[lang].is_string()) return t[lang].get<std::string>();
    for (auto it = t.begin(); it != t.end(); ++it)
      if (it->is_string()) return it->get<std::string>();
  }
  return fallback;
}

std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

struct Edge {
  int from, to;
  std::string label;
};

std::vector<Edge> edges_of(const Definition& def) {
  std::vector<Edge> out;
  for (const auto& st : def.states) {
    for (const auto& [name, ev] : st.on)
      for (const auto& tr : ev.transitions)
        if (tr.target >= 0)
          out.push_back({st.index, tr.target,
                         name + (tr.guard     ? " [guard]"
                                 : tr.is_else ? " [else]"
                                              : "")});
    for (const auto& t : st.timers) {
      if (t.transition.target >= 0) out.push_back({st.index, t.transition.target, "timer " + t.id});
    }
  }
  return out;
}

void write_dot(const Definition& def, std::ostream& os) {
  os << "digraph \"" << dot_escape(def.id) << "\" {\n  compound=true;\n  rankdir=LR;\n"
     << "  node [shape=box, style=rounded];\n  __start [shape=point];\n";
  std::function<void(int, int)> emit = [&](int idx, int indent) {
    const auto& st = def.states[idx];
    std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
    std::string label = st.name + "\\n" + dot_escape(text_of(st.title, ""));
    if (st.type == StateType::compound) {
      os << pad << "subgraph \"cluster_" << st.name << "\" {\n"
         << pad << "  label=\"" << label << "\";\n";
      for (int c : st.children) emit(c, indent + 1);
      os << pad << "}\n";
    } else {
      os << pad << "\"" << st.name << "\" [label=\"" << label << "\""
         << (st.type == StateType::final_state ? ", shape=doublecircle" : "") << "];\n";
    }
  };
  for (const auto& st : def.states)
    if (st.parent < 0) emit(st.index, 1);
  os << "  __start -> \"" << def.states[def.resolve_entry(def.initial)].name << "\";\n";
  for (const auto& e : edges_of(def)) {
    const auto& from = def.states[e.from];
    const auto& to = def.states[e.to];
    os << "  \"" << def.states[def.resolve_entry(e.from)].name << "\" -> \""
       << def.states[def.resolve_entry(e.to)].name << "\" [label=\"" << dot_escape(e.label) << "\"";
    if (from.type == StateType::compound) os << ", ltail=\"cluster_" << from.name << "\"";
    if (to.type == StateType::compound) os << ", lhead=\"cluster_" << to.name << "\"";
    os << "];\n";
  }
  os << "}\n";
}

std::string mermaid_label(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == ':' || c == '\n') ? ' ' : c;
  return out;
}

void write_mermaid(const Definition& def, std::ostream& os) {
  os << "stateDiagram-v2\n";
  std::function<void(int, int)> emit = [&](int idx, int indent) {
    const auto& st = def.states[idx];
    std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
    std::string title = text_of(st.title, "");
    if (!title.empty()) os << pad << st.name << " : " << mermaid_label(title) << "\n";
    if (st.type == StateType::compound) {
      os << pad << "state " << st.name << " {\n";
      if (st.initial_child >= 0)
        os << pad << "  [*] --> " << def.states[st.initial_child].name << "\n";
      for (int c : st.children) emit(c, indent + 1);
      os << pad << "}\n";
    }
  };
  for (const auto& st : def.states)
    if (st.parent < 0) emit(st.index, 1);
  os << "  [*] --> " << def.states[def.initial].name << "\n";
  for (const auto& e : edges_of(def))
    os << "  " << def.states[e.from].name << " --> " << def.states[e.to].name << " : "
       << mermaid_label(e.label) << "\n";
  for (const auto& st : def.states)
    if (st.type == StateType::final_state) os << "  " << st.name << " --> [*]\n";
}

}  // namespace

std::optional<std::string> render_graph(const Definition& def, const std::string& format) {
  std::ostringstream os;
  if (format == "dot")
    write_dot(def, os);
  else if (format == "mermaid")
    write_mermaid(def, os);
  else
    return std::nullopt;
  return os.str();
}

}  // namespace bihuan
