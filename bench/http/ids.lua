-- Shared by get.lua and event.lua: the instance ids start.lua wrote to $IDS_DIR/ids-*.txt,
-- taken in turn from a random starting point per wrk thread (distinct instances).
local ids, i = {}, 0
function load_ids()
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
function next_id()
  i = i % #ids + 1
  return ids[i]
end
