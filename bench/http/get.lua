-- GET /v1/instances/{id} over the ids of ids-*.txt (run from the repository root).
dofile("bench/http/ids.lua")
local ids, i = {}, 0
function init(args)
  ids = load_ids()
  i = math.random(#ids)
end
request = function()
  i = i % #ids + 1
  return wrk.format("GET", "/v1/instances/" .. ids[i], {["Authorization"] = "Bearer " .. os.getenv("TOKEN")})
end
