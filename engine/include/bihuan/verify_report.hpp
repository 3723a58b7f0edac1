// The JSON form of a VerifyReport (Engine::verify()), one shape for every face that shows
// it: `bihuan verify --format json`, GET /v1/verify and the C API's bihuan_verify().
#pragma once

#include "bihuan/instance.hpp"

namespace bihuan {

// {"ok", "file", "structureOk", "databases", "pages", "instances", "entries",
//  "indexEntries", "broken": [sentence...], "problems": [{"kind", "db", "key", "text"}]}
json verify_report_json(const VerifyReport& r);

}  // namespace bihuan
