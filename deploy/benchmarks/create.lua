-- POST /servers with a unique name per request: "<run>-t<thread>-<n>".
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
local counter = 0
function request()
  counter = counter + 1
  local body = string.format(
    '{"server": {"name": "%s-t%d-%d", "flavor": "m1.small", "image": "cirros-0.3.4-x86_64-uec", "network": "private"}}',
    run, thread_number, counter)
  return wrk.format("POST", "/servers", {["Content-Type"] = "application/json", ["X-Auth-Token"] = wrk.headers["X-Auth-Token"]}, body)
end
function init(args) run = args[1] or "bench" end
