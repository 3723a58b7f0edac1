-- POST /v1/instances/{id}/events: each request to the next id of ids-*.txt (distinct
-- instances; run from the repository root).
dofile("bench/http/ids.lua")
init = function(args) load_ids() end
request = function()
  return wrk.format("POST", "/v1/instances/" .. next_id() .. "/events", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, '{"event":"bump"}')
end
