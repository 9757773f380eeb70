-- http — wrk's check of every response (bench/compare runs wrk with `-s` this file): each must be
-- status 200 with the body "hello". done() prints, in wrk's own report,
--   wrk-check responses=<responses seen> bad=<responses that were not>
-- and bench/compare fails the run unless bad is 0 and responses is not. Headers are checked once
-- per run by bench/compare itself, before the load.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  responses = 0
  bad = 0
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 or body ~= "hello" then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local seen, wrong = 0, 0
  for _, thread in ipairs(threads) do
    seen = seen + thread:get("responses")
    wrong = wrong + thread:get("bad")
  end
  io.write(string.format("wrk-check responses=%d bad=%d\n", seen, wrong))
end
