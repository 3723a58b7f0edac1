-- POST /v1/instances (one durable start per request); records each new id in ids-<n>.txt.
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  out = io.open((os.getenv("IDS_DIR") or ".") .. "/ids-" .. id .. ".txt", "a")
end
request = function()
  return wrk.format("POST", "/v1/instances", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, '{"definition":"bench.counter","data":{"n":0}}')
end
response = function(status, headers, body)
  if status == 201 and out then
    local found = string.match(body, '"id":"(%x+)"')
    if found then out:write(found, "\n") end
  end
end
