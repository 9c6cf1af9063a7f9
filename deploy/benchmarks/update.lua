-- PATCH /servers/{name}: new metadata on servers "<prefix>-1" … "<prefix>-<count>" in turn.
local counter = 0
function init(args)
  prefix = args[1]
  count = tonumber(args[2])
end
function request()
  counter = counter + 1
  local body = string.format('{"server": {"metadata": {"revision": "%d"}}}', counter)
  return wrk.format("PATCH", string.format("/servers/%s-%d", prefix, (counter % count) + 1),
    {["Content-Type"] = "application/json", ["X-Auth-Token"] = wrk.headers["X-Auth-Token"]}, body)
end
