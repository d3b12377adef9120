-- wrk script for load-checking modelserver by hand (not part of the selftest):
--   ./modelserver --port-file port --latency-ms 50 &
--   wrk -t2 -c1000 -d5s -s post.lua --latency http://127.0.0.1:$(cat port)/v1/chat/completions
-- Each request carries a different prompt so the hash path is exercised.
-- wrk itself prints "Non-2xx or 3xx responses: N" if any answer was not 200.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer load-test"

local counter = 0

request = function()
  counter = counter + 1
  local body = '{"model":"load","seed":1,"temperature":0,"messages":[' ..
    '{"role":"system","content":"You are a test."},' ..
    '{"role":"user","content":"prompt number ' .. counter .. '"}]}'
  return wrk.format(nil, nil, nil, body)
end
