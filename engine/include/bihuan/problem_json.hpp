// The JSON form of a Problem, one shape for every face that shows problems: the HTTP API
// (deploy, validate), the CLI's --format json and the C API's error objects.
#pragma once

#include "bihuan/json.hpp"
#include "bihuan/problem.hpp"

namespace bihuan {

// {"severity": "error"|"warning", ["file",] "pointer", "code", "message"[, "line", "column"]}
// ("file" only with with_file; "line"/"column" only when known).
json problem_json(const Problem& p, bool with_file = false);
// Every problem of `problems`, in order, without "file" (a request names its own).
json problems_json(const Problems& problems);

}  // namespace bihuan
