-- Mixed load (measure 10): 70 % reads, 20 % writes, 10 % sync pulls, spread over many users.
-- bench/measures.py writes the users (token, a task id, a note id, a sync cursor) to the file
-- named by BENCH_USERS before the run; one line per user, fields separated by spaces.
local users = {}
local counter = 0

local function load_users()
  local path = os.getenv("BENCH_USERS")
  for line in io.lines(path) do
    local token, task, note, cursor = line:match("(%S+) (%S+) (%S+) (%S+)")
    users[#users + 1] = {token = token, task = task, note = note, cursor = cursor}
  end
end

init = function(args)
  load_users()
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

request = function()
  counter = counter + 1
  local u = users[math.random(#users)]
  local headers = {["Authorization"] = "Bearer " .. u.token}
  local r = math.random()
  if r < 0.70 then
    local k = math.random(4)
    if k == 1 then return wrk.format("GET", "/v1/todos?limit=20", headers) end
    if k == 2 then return wrk.format("GET", "/v1/notes?limit=20", headers) end
    if k == 3 then return wrk.format("GET", "/v1/notes/" .. u.note, headers) end
    return wrk.format("GET", "/v1/todos/" .. u.task, headers)
  elseif r < 0.90 then
    headers["Content-Type"] = "application/json"
    if math.random(2) == 1 then
      return wrk.format("POST", "/v1/notes", headers,
        '{"title":"mixed ' .. counter .. '","body":"written under load","tags":["bench"]}')
    end
    return wrk.format("PATCH", "/v1/todos/" .. u.task, headers, '{"title":"patched ' .. counter .. '"}')
  end
  return wrk.format("GET", "/v1/sync/changes?limit=100&cursor=" .. u.cursor, headers)
end
