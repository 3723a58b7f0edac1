// A definition's state graph laid out by Graphviz (dot) for the console to draw: positions
// of states, boxes of compound states, edge paths and label places; no markup. The
// console draws it as SVG with createElementNS (console/graph.js). docs/console.md.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "bihuan/definition.hpp"

namespace bihuan::api {

// The layout of `def` with its labels in `lang` ("zh" or "en": label widths, hence the
// layout, depend on the language); nullptr with `error` set if Graphviz failed. Computed
// once per definition version and language, then cached (a definition never changes).
// Thread-safe (Graphviz is not: one layout at a time).
//
// The document, in points with y growing downwards, boxes as x, y (top left), width, height:
// {"id", "version", "lang", "width", "height",
//  "states": [{"name", "kind": "atomic"|"compound"|"final", "parent": name|null,
//              "title": text, "x", "y", "width", "height", ("labelX", "labelY": a
//              compound state's title, centre)}],
//  "edges": [{"from", "to", "kind": "start"|"event"|"timer", ("event"), ("timer"),
//             "guarded": bool, "title": text, "entry": state rested in after it,
//             "path": [[x,y], ...] (a cubic Bézier: the start, then three points a curve),
//             ("arrow": [[x,y],[x,y]] base to tip), ("labelX", "labelY")}]}
// `from` of the start edge is "". Titles are plain text in `lang` (the state name, the
// event name when the definition gives no title).
std::shared_ptr<const json> graph_layout(const Definition& def, const std::string& lang,
                                         std::string* error);

}  // namespace bihuan::api
