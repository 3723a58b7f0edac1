-- Shared by get.lua and event.lua: the instance ids start.lua wrote to $IDS_DIR/ids-*.txt.
function load_ids()
  local ids, dir = {}, os.getenv("IDS_DIR") or "."
  for n = 0, 63 do
    local f = io.open(dir .. "/ids-" .. n .. ".txt", "r")
    if f then
      for line in f:lines() do table.insert(ids, line) end
      f:close()
    end
  end
  return ids
end
