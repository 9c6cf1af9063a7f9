-- DELETE /servers/{name}: thread t deletes "<prefix>-t<t>-b<batch>-<i>", made beforehand by
-- multi-creates of 100 named "<prefix>-t<t>-b<batch>".
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
local counter = 0
function init(args) prefix = args[1] end
function request()
  local batch = math.floor(counter / 100)
  local i = counter % 100 + 1
  counter = counter + 1
  return wrk.format("DELETE", string.format("/servers/%s-t%d-b%d-%d", prefix, thread_number, batch, i))
end
