-- wrk script: request the path given after "--" with {n} replaced by a number new on every
-- request (bench/run.py uses it for a junk query argument that never repeats).
local template = "/"
local n = 0
local prefix = tostring(math.random(100000, 999999))

init = function(args)
  template = args[1] or "/"
end

request = function()
  n = n + 1
  local path = string.gsub(template, "{n}", prefix .. "-" .. n)
  return wrk.format("GET", path)
end
