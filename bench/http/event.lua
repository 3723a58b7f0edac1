-- POST /v1/instances/{id}/events: each request to the next id of ids-*.txt (distinct
-- instances; run from the repository root).
dofile("bench/http/ids.lua")
local ids, i = {}, 0
function init(args)
  ids = load_ids()
  i = math.random(#ids)
end
request = function()
  i = i % #ids + 1
  return wrk.format("POST", "/v1/instances/" .. ids[i] .. "/events", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, '{"event":"bump"}')
end
