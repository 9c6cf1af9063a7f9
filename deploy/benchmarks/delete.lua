-- DELETE /servers/{name}: thread t deletes "<prefix>-t<t>-b<batch>-<i>", made beforehand by
-- multi-creates of 100 named "<prefix>-t<t>-b<batch>" (args: prefix, batches per thread).
-- A thread that runs out goes on deleting names that do not exist: those 404s count as errors,
-- and done() says why, so the bench provisions too few servers loudly rather than measure reads.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end
local counter = 0
function init(args)
  prefix = args[1]
  total = tonumber(args[2]) * 100
  ran_out = false
end
function request()
  local batch = math.floor(counter / 100)
  local i = counter % 100 + 1
  counter = counter + 1
  if counter > total then ran_out = true end
  return wrk.format("DELETE", string.format("/servers/%s-t%d-b%d-%d", prefix, thread_number, batch, i))
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    if thread:get("ran_out") then
      io.write(string.format("delete.lua: thread %d deleted all %d of its servers before the run ended\n",
        thread:get("thread_number"), thread:get("total")))
    end
  end
end
