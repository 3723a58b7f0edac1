#include "definitions_io.hpp"

#include <fstream>
#include <sstream>

namespace bihuan::cli {

LoadedDefinition load_definition_file(const std::string& file, const DefinitionContext& ctx) {
  LoadedDefinition out{file, {}, nullptr, Problems(file)};
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    out.problems.error("", "unreadable-file", "cannot open file for reading");
    return out;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out.text = ss.str();
  out.def = compile_definition_text(out.text, out.problems, ctx);
  return out;
}

}  // namespace bihuan::cli
