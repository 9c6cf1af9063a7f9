-- PATCH /servers/{name}: new metadata on thread t's servers "<prefix>-t<t>-1" … "<prefix>-t<t>-<count>",
-- in turn (made beforehand by a multi-create per thread). Each thread has servers of its own and
-- more of them than it has connections, so no two requests in flight change the same server: a
-- second change of one server waits for the first (as it must), and that wait is not what this
-- measures.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end
local counter = 0
function init(args)
  prefix = args[1]
  count = tonumber(args[2])
end
function request()
  counter = counter + 1
  local body = string.format('{"server": {"metadata": {"revision": "%d"}}}', counter)
  return wrk.format("PATCH", string.format("/servers/%s-t%d-%d", prefix, thread_number, (counter % count) + 1),
    {["Content-Type"] = "application/json", ["X-Auth-Token"] = wrk.headers["X-Auth-Token"]}, body)
end
