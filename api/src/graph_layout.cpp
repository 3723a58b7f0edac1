// graph_layout(): a definition's graph through Graphviz's cgraph and gvc (graph_layout.hpp).
//
// Labels are laid out with widths the server estimates (a wide character 1 em, any other
// 0.6 em): states are fixed-size boxes, and edge and cluster labels are given to Graphviz
// as Courier placeholders of the same width, so the layout depends neither on the fonts
// installed on the server nor on Graphviz's text plugins. The real titles go into the
// document, never into Graphviz (nothing the definition says is parsed by it).
#include "graph_layout.hpp"

#include <graphviz/gvc.h>

#include <cmath>
#include <map>
#include <mutex>

extern "C" {
extern gvplugin_library_t gvplugin_dot_layout_LTX_library;
}

namespace bihuan::api {

namespace {

constexpr double kStateFont = 14, kLabelFont = 12, kStateHeight = 34, kPad = 22;

std::string text_in(const json& t, const std::string& lang, const std::string& fallback) {
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object()) {
    for (const std::string& l : {lang, std::string("zh"), std::string("en")})
      if (auto it = t.find(l); it != t.end() && it->is_string()) return it->get<std::string>();
    for (auto it = t.begin(); it != t.end(); ++it)
      if (it->is_string()) return it->get<std::string>();
  }
  return fallback;
}

// Width in em of UTF-8 text: wide (CJK, fullwidth) characters 1, others 0.6.
double ems(const std::string& s) {
  double w = 0;
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    std::uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (std::size_t k = 1; k < n && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    w += cp >= 0x1100 ? 1.0 : 0.6;
    i += n;
  }
  return w;
}

// Courier text of the same width as `s` (Courier: 0.6 em a character).
std::string placeholder(const std::string& s) {
  return std::string(static_cast<std::size_t>(std::ceil(ems(s) / 0.6)), 'x');
}

void set(void* obj, const char* name, const std::string& value) {
  agsafeset(obj, const_cast<char*>(name), const_cast<char*>(value.c_str()), const_cast<char*>(""));
}

std::string px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
double round2(double v) { return std::round(v * 100) / 100; }

struct Edge {
  int from, to;
  std::string kind, event, timer, title;
  bool guarded = false;
};

std::vector<Edge> edges_of(const Definition& def, const std::string& lang) {
  std::vector<Edge> out;
  for (const auto& st : def.states) {
    for (const auto& [name, ev] : st.on)
      for (const auto& tr : ev.transitions)
        if (tr.target >= 0)
          out.push_back({st.index, tr.target, "event", name, "", text_in(ev.title, lang, name),
                         tr.guard.has_value() || tr.is_else});
    for (const auto& t : st.timers)
      if (t.event.empty() && t.transition.target >= 0)
        out.push_back({st.index, t.transition.target, "timer", "", t.id, t.id,
                       t.transition.guard.has_value()});
  }
  return out;
}

class Layout {
 public:
  Layout(const Definition& def, const std::string& lang) : def_(def), lang_(lang) {}
  ~Layout() {
    if (g_) {
      if (laid_out_) gvFreeLayout(gvc(), g_);
      agclose(g_);
    }
  }

  std::shared_ptr<const json> run(std::string* error) {
    g_ = agopen(const_cast<char*>("g"), Agdirected, nullptr);
    set(g_, "compound", "true");
    set(g_, "rankdir", "TB");
    set(g_, "nodesep", "0.3");
    set(g_, "ranksep", "0.45");
    set(g_, "fontname", "Courier");
    set(g_, "fontsize", px(kLabelFont));
    nodes_.assign(def_.states.size(), nullptr);
    graphs_.assign(def_.states.size(), nullptr);
    for (const auto& st : def_.states)
      if (st.parent < 0) add_state(g_, st.index);
    Agnode_t* start = agnode(g_, const_cast<char*>("\x01start"), 1);
    set(start, "shape", "circle");
    set(start, "fixedsize", "true");
    set(start, "width", px(10.0 / 72));
    set(start, "height", px(10.0 / 72));
    set(start, "label", "");
    int initial = def_.resolve_entry(def_.initial);
    edges_.push_back({-1, def_.initial, "start", "", "", "", false});
    agedges_.push_back(agedge(g_, start, nodes_[initial], nullptr, 1));
    if (def_.states[def_.initial].type == StateType::compound)
      set(agedges_.back(), "lhead", "cluster " + def_.states[def_.initial].name);
    for (auto& e : edges_of(def_, lang_)) {
      Agnode_t* t = nodes_[def_.resolve_entry(e.from)];
      Agnode_t* h = nodes_[def_.resolve_entry(e.to)];
      // A name per edge: parallel edges (two events between the same states) stay apart.
      std::string name = std::to_string(agedges_.size());
      Agedge_t* ae = agedge(g_, t, h, const_cast<char*>(name.c_str()), 1);
      set(ae, "label", placeholder(e.title));
      if (def_.states[e.from].type == StateType::compound)
        set(ae, "ltail", "cluster " + def_.states[e.from].name);
      if (def_.states[e.to].type == StateType::compound)
        set(ae, "lhead", "cluster " + def_.states[e.to].name);
      edges_.push_back(std::move(e));
      agedges_.push_back(ae);
    }
    if (gvLayout(gvc(), g_, "dot") != 0) {
      if (error) *error = "Graphviz could not lay out the graph";
      return nullptr;
    }
    laid_out_ = true;
    return std::make_shared<const json>(document());
  }

  static GVC_t* gvc() {
    static lt_symlist_t builtins[] = {
        {"gvplugin_dot_layout_LTX_library", &gvplugin_dot_layout_LTX_library}, {nullptr, nullptr}};
    static GVC_t* context = gvContextPlugins(builtins, 0);
    return context;
  }

 private:
  void add_state(Agraph_t* parent, int index) {
    const auto& st = def_.states[index];
    std::string title = text_in(st.title, lang_, st.name);
    if (st.type == StateType::compound) {
      std::string name = "cluster " + st.name;
      Agraph_t* sg = agsubg(parent, const_cast<char*>(name.c_str()), 1);
      graphs_[index] = sg;
      set(sg, "label", placeholder(title));
      set(sg, "labeljust", "l");
      set(sg, "fontname", "Courier");
      set(sg, "fontsize", px(kLabelFont));
      set(sg, "margin", "10");
      for (int c : st.children) add_state(sg, c);
      return;
    }
    Agnode_t* n = agnode(parent, const_cast<char*>(st.name.c_str()), 1);
    nodes_[index] = n;
    double w = std::max(56.0, ems(title) * kStateFont + kPad);
    set(n, "shape", "box");
    set(n, "fixedsize", "true");
    set(n, "label", "");
    set(n, "width", px(w / 72));
    set(n, "height", px(kStateHeight / 72));
  }

  double X(double x) const { return round2(x - bb_.LL.x); }
  double Y(double y) const { return round2(bb_.UR.y - y); }

  json document() {
    bb_ = GD_bb(g_);
    json states = json::array();
    for (const auto& st : def_.states) {
      json j = {{"name", st.name},
                {"kind", st.type == StateType::compound      ? "compound"
                         : st.type == StateType::final_state ? "final"
                                                             : "atomic"},
                {"parent", st.parent >= 0 ? json(def_.states[st.parent].name) : json()},
                {"title", text_in(st.title, lang_, st.name)}};
      if (Agraph_t* sg = graphs_[st.index]) {
        boxf b = GD_bb(sg);
        j["x"] = X(b.LL.x), j["y"] = Y(b.UR.y);
        j["width"] = round2(b.UR.x - b.LL.x), j["height"] = round2(b.UR.y - b.LL.y);
        if (textlabel_t* l = GD_label(sg)) j["labelX"] = X(l->pos.x), j["labelY"] = Y(l->pos.y);
      } else if (Agnode_t* n = nodes_[st.index]) {
        double w = ND_width(n) * 72, h = ND_height(n) * 72;
        j["x"] = X(ND_coord(n).x - w / 2), j["y"] = Y(ND_coord(n).y + h / 2);
        j["width"] = round2(w), j["height"] = round2(h);
      }
      states.push_back(std::move(j));
    }
    json edges = json::array();
    for (std::size_t i = 0; i < edges_.size(); ++i) {
      const Edge& e = edges_[i];
      json j = {{"from", e.from >= 0 ? def_.states[e.from].name : ""},
                {"to", def_.states[e.to].name},
                {"entry", def_.states[def_.resolve_entry(e.to)].name},
                {"kind", e.kind},
                {"guarded", e.guarded},
                {"title", e.title}};
      if (!e.event.empty()) j["event"] = e.event;
      if (!e.timer.empty()) j["timer"] = e.timer;
      json path = json::array();
      json arrow;
      if (splines* spl = ED_spl(agedges_[i]); spl && spl->size > 0) {
        // One piece unless the edge crosses a cluster it is clipped at; pieces join.
        for (int p = 0; p < spl->size; ++p) {
          const bezier& bz = spl->list[p];
          for (int k = p == 0 ? 0 : 1; k < bz.size; ++k)
            path.push_back({X(bz.list[k].x), Y(bz.list[k].y)});
        }
        const bezier& last = spl->list[spl->size - 1];
        if (last.eflag && last.size > 0)
          arrow = json::array(
              {json::array({X(last.list[last.size - 1].x), Y(last.list[last.size - 1].y)}),
               json::array({X(last.ep.x), Y(last.ep.y)})});
      }
      j["path"] = std::move(path);
      if (!arrow.is_null()) j["arrow"] = std::move(arrow);
      if (textlabel_t* l = ED_label(agedges_[i]))
        j["labelX"] = X(l->pos.x), j["labelY"] = Y(l->pos.y);
      edges.push_back(std::move(j));
    }
    return {{"id", def_.id},
            {"version", def_.version},
            {"lang", lang_},
            {"width", round2(bb_.UR.x - bb_.LL.x)},
            {"height", round2(bb_.UR.y - bb_.LL.y)},
            {"states", std::move(states)},
            {"edges", std::move(edges)}};
  }

  const Definition& def_;
  std::string lang_;
  Agraph_t* g_ = nullptr;
  bool laid_out_ = false;
  boxf bb_{};
  std::vector<Agnode_t*> nodes_;
  std::vector<Agraph_t*> graphs_;
  std::vector<Edge> edges_;
  std::vector<Agedge_t*> agedges_;
};

}  // namespace

std::shared_ptr<const json> graph_layout(const Definition& def, const std::string& lang,
                                         std::string* error) {
  static std::mutex mu;  // Graphviz keeps global state: one layout at a time; and the cache
  static std::map<std::string, std::shared_ptr<const json>> cache;
  std::string key = def.id + '\0' + std::to_string(def.version) + '\0' + def.digest + '\0' + lang;
  std::lock_guard lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto doc = Layout(def, lang).run(error);
  if (!doc) return nullptr;
  if (cache.size() >= 1024) cache.clear();  // many versions deployed: start over
  cache.emplace(std::move(key), doc);
  return doc;
}

}  // namespace bihuan::api
