-- Alternates GET /servers and a durable POST /servers with a unique name.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
local counter = 0
function request()
  counter = counter + 1
  if counter % 2 == 0 then return wrk.format("GET", "/servers?limit=20") end
  local body = string.format(
    '{"server": {"name": "restart-t%d-%d", "flavor": "m1.tiny", "image": "cirros"}}', thread_number, counter)
  return wrk.format("POST", "/servers", {["Content-Type"] = "application/json", ["X-Auth-Token"] = wrk.headers["X-Auth-Token"]}, body)
end
