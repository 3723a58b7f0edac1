-- GET /v1/instances/{id} over the ids of ids-*.txt (run from the repository root).
dofile("bench/http/ids.lua")
init = function(args) load_ids() end
request = function()
  return wrk.format("GET", "/v1/instances/" .. next_id(), {["Authorization"] = "Bearer " .. os.getenv("TOKEN")})
end
