// Mustache templates over JSON (kainjow/mustache lives only in this room).
#pragma once

#include <optional>
#include <string>

#include "bihuan/json.hpp"

namespace bihuan::render {

// Returns an error message if `text` is not a valid Mustache template.
std::optional<std::string> check_template(const std::string& text);

// Renders `text` with `context`; dotted names ("data.business.name") walk objects.
// Invalid templates render to the error text prefixed with "template error: ".
std::string render_template(const std::string& text, const json& context);

}  // namespace bihuan::render
