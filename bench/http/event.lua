-- POST /v1/instances/{id}/events: each request to the next id of ids-*.txt (distinct instances).
local ids, i = {}, 0
function init(args)
  local dir = os.getenv("IDS_DIR") or "."
  for n = 0, 63 do
    local f = io.open(dir .. "/ids-" .. n .. ".txt", "r")
    if f then
      for line in f:lines() do table.insert(ids, line) end
      f:close()
    end
  end
  i = math.random(#ids)
end
request = function()
  i = i % #ids + 1
  return wrk.format("POST", "/v1/instances/" .. ids[i] .. "/events", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, '{"event":"bump"}')
end
