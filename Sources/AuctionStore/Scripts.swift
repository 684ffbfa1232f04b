// The Lua scripts that change an auction in Redis. Each runs atomically, so several processes can
// serve one auction without races (SPEC §7). Lua numbers are doubles: every µs time and kopiyka
// amount stays below 2^53 and is exact, but numbers are turned into text only with '%d' or by
// building the text from `TIME`'s own strings, never with tostring (14 significant digits).

/// A script and, once loaded on a server, its SHA.
struct RedisScript: Sendable {
    let name: String
    let source: String

    /// The source to load. On a cluster an event goes out on its auction's shard channel
    /// (SPUBLISH), which stays on the auction's primary; elsewhere on the classic channel, which
    /// every subscriber of the server hears (and which processes of earlier versions read). On a
    /// cluster the outage rule is the auction's own (`ON_CLUSTER`, `auctionOutagePending`).
    func source(onCluster: Bool) -> String {
        guard onCluster else { return source }
        return source.replacingOccurrences(of: "redis.call('PUBLISH',", with: "redis.call('SPUBLISH',")
            .replacingOccurrences(of: "local ON_CLUSTER = false", with: "local ON_CLUSTER = true")
    }
}

enum Scripts {
    /// Reads `TIME` as µs, both as a number and as exact text.
    private static let clock = """
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local nowText = clock[1] .. string.format('%06d', tonumber(clock[2]))
        """

    /// Whether an auction must wait for an outage to be applied to its timeline first (SPEC §3),
    /// by one of two rules.
    ///
    /// On one server (or Sentinel), `outagePending(heartbeat, outagesKey, thresholdMicroseconds,
    /// considered)` for an auction that has taken `considered` service-wide outages into account:
    /// either no process has said it is alive for longer than the threshold (Redis was down, or
    /// every process was: the heartbeat records that interval when it comes back), or an outage is
    /// recorded that the auction has not taken into account yet (the clock appends it). The
    /// heartbeat carries the count of recorded outages (`µs count`), so a bid pays one read for both.
    ///
    /// On a cluster an auction's Redis is its shard, and one shard can be down while the rest
    /// serve: `auctionOutagePending(reachedAt, pendingOutage, thresholdMicroseconds)` reads the
    /// auction's own live hash. Every process stamps `reachedAt` on each auction it follows once
    /// a heartbeat (`stamp`), so a stamp older than the threshold means no process reached the
    /// shard (or none was up); `pendingOutage` is such a gap recorded and not yet applied.
    private static let outagePending = """

        local ON_CLUSTER = false

        local function auctionOutagePending(reachedAt, pendingOutage, threshold)
          if pendingOutage then return true end
          return reachedAt and now - tonumber(reachedAt) > tonumber(threshold)
        end

        local function outagePending(beat, outagesKey, threshold, considered)
          if not beat or beat == '' then return false end
          local at, recorded = string.match(beat, '^(%d+) (%d+)$')
          if not at then
            if not outagesKey then return false end
            at, recorded = beat, redis.call('LLEN', outagesKey)
          end
          if now - tonumber(at) > tonumber(threshold) then return true end
          return tonumber(recorded) > considered
        end

        local function outagesConsidered(live)
          local counts = redis.call('HMGET', live, 'outages', 'outagesApplied')
          return tonumber(counts[1] or '0') + tonumber(counts[2] or '0')
        end
        """

    /// SHA-256 (FIPS 180-4) in Redis' Lua 5.1 over its `bit` library, the compression function
    /// unrolled here into straight-line code: each round's constant inline and the message
    /// schedule in sixteen locals, which saves the table reads of a loop (about a tenth of the
    /// cost; docs/PERFORMANCE.md). `sha256(message)` answers lowercase hex.
    private static let sha256: String = {
        let constants: [UInt32] = [
            0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
            0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
            0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
            0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
            0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
            0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
            0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
            0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
        ]
        var lines = [
            "",
            "local band, bor, bxor, rshift, lshift, ror, tobit, tohex, byte = bit.band, bit.bor, bit.bxor, bit.rshift, bit.lshift, bit.ror, bit.tobit, bit.tohex, string.byte",
            "local function sha256block(s, p, h1, h2, h3, h4, h5, h6, h7, h8)",
        ]
        for i in 0..<16 {
            lines.append("  local w\(i)a, w\(i)b, w\(i)c, w\(i)d = byte(s, p + \(4 * i), p + \(4 * i + 3))")
            lines.append("  local w\(i) = bor(lshift(w\(i)a, 24), lshift(w\(i)b, 16), lshift(w\(i)c, 8), w\(i)d)")
        }
        lines.append("  local a, b, c, d, e, f, g, h, t1, t2 = h1, h2, h3, h4, h5, h6, h7, h8")
        for (i, constant) in constants.enumerated() {
            let w = "w\(i % 16)"
            if i >= 16 {
                let (w15, w2, w7) = ("w\((i - 15) % 16)", "w\((i - 2) % 16)", "w\((i - 7) % 16)")
                lines.append(
                    "  \(w) = tobit(\(w) + bxor(ror(\(w15), 7), ror(\(w15), 18), rshift(\(w15), 3)) + \(w7) + bxor(ror(\(w2), 17), ror(\(w2), 19), rshift(\(w2), 10)))"
                )
            }
            lines.append("  t1 = h + bxor(ror(e, 6), ror(e, 11), ror(e, 25)) + bxor(g, band(e, bxor(f, g))) + \(constant) + \(w)")
            lines.append("  t2 = bxor(ror(a, 2), ror(a, 13), ror(a, 22)) + bor(band(a, b), band(c, bor(a, b)))")
            lines.append("  h, g, f, e, d, c, b, a = g, f, e, tobit(d + t1), c, b, a, tobit(t1 + t2)")
        }
        lines += [
            "  return tobit(h1 + a), tobit(h2 + b), tobit(h3 + c), tobit(h4 + d), tobit(h5 + e), tobit(h6 + f), tobit(h7 + g), tobit(h8 + h)",
            "end",
            "local function sha256(message)",
            "  local bits = #message * 8",
            "  local padded = message .. '\\128' .. string.rep('\\0', (55 - #message) % 64) .. '\\0\\0\\0\\0'",
            "    .. string.char(band(rshift(bits, 24), 255), band(rshift(bits, 16), 255), band(rshift(bits, 8), 255), band(bits, 255))",
            "  local h1, h2, h3, h4, h5, h6, h7, h8 = 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19",
            "  for p = 1, #padded, 64 do h1, h2, h3, h4, h5, h6, h7, h8 = sha256block(padded, p, h1, h2, h3, h4, h5, h6, h7, h8) end",
            "  return tohex(h1) .. tohex(h2) .. tohex(h3) .. tohex(h4) .. tohex(h5) .. tohex(h6) .. tohex(h7) .. tohex(h8)",
            "end",
        ]
        return lines.joined(separator: "\n")
    }()

    /// The record's hash chain (docs/AUDIT.md). Every event carries `prev`, the SHA-256 (hex) of
    /// the canonical bytes of the record before it — the plan as stored, for the first event —
    /// and the live hash keeps `head`, that of the last. The canonical bytes of an event are its
    /// Stream fields in the order written, `prev` last, each name and value as `length:bytes`
    /// (`AuctionRecord.canonical`). Redis' Lua has SHA-1 only, so SHA-256 is written here over
    /// its `bit` library: the link is made in the same atomic step that records the event, and
    /// no process's memory takes part.
    static let chain =
        sha256 + """

            local function canonical(fields)
              local parts = {}
              for i = 1, #fields do parts[i] = #fields[i] .. ':' .. fields[i] end
              return table.concat(parts)
            end

            -- Adds `prev` to an event's fields and moves the live hash's head past it; returns the
            -- new head (the event's own hash, which its published message carries as `hash`).
            local function chain(live, fields)
              table.insert(fields, 'prev'); table.insert(fields, redis.call('HGET', live, 'head') or '')
              local head = sha256(canonical(fields))
              redis.call('HSET', live, 'head', head)
              return head
            end
            """

    /// Decides and records one bid or cancel (SPEC §4), mirroring `AuctionState.decideBid`:
    /// the server clock (`TIME`) picks the stage; the turn must be this bidder's and still open;
    /// the amount is checked against the bidder's own price. An accepted bid is written to the
    /// pending hash and the log and published before the script returns, so it is as durable as
    /// the server's AOF when acknowledged. The answer is remembered under the request id with what
    /// the request was (action, amount, the stage by the clock): a retry of the same request gets
    /// the first answer and changes nothing; another request under that id (another amount, a
    /// cancel for a bid, the same bid in the bidder's next turn) gets `request_id_reused`.
    ///
    /// It answers in the one encoding of `BidScriptReply` (BidScriptReply.swift).
    ///
    /// Before it judges anything it makes sure no outage is pending (`outagePending`): a bid is
    /// never judged on a timeline that an outage of Redis or of every process is about to move.
    ///
    /// The bid is judged at its arrival (ARGV 7, by the process's estimate of Redis' clock) if it
    /// waited up to the bound (ARGV 8) in the process's queue, else at Redis `now` less the bound;
    /// never later than now. The clock closes a turn only the bound after its end (`notBefore`),
    /// so a bid judged in the turn is never recorded after the turn was closed.
    ///
    /// KEYS: live, log, pending, requests, then (on one server) heartbeat, outages. ARGV: bidder,
    /// action (`place`, `cancel` or `invalid`), amount in kopiyky, request id, channel, outage
    /// threshold µs, arrival µs (or ''), longest wait µs.
    /// Returns `accepted|seq|at|amount`, `cancelled|seq|at`, `rejected|code|at`, `outage` (judge it
    /// again once the outage is applied; nothing was recorded), or `missing`.
    static let bid = RedisScript(
        name: "bid",
        source: clock + outagePending + chain + """

            local bidderText, action, amountText, requestId, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
            local bidder = tonumber(bidderText)
            local requestKey = bidderText .. ':' .. requestId
            local earlier = redis.call('HGET', KEYS[4], requestKey)
            local live = redis.call('HMGET', KEYS[1], 'status', 'stage', 'timeline', 'prices', 'step', 'criteria', 'outages', 'outagesApplied', 'reachedAt', 'pendingOutage')
            if not live[1] then return earlier or 'missing' end

            local status, current = live[1], tonumber(live[2])
            local timeline, prices, step = cjson.decode(live[3]), cjson.decode(live[4]), tonumber(live[5])
            if status == 'scheduled' or status == 'active' then
              local pending
              if ON_CLUSTER then
                pending = auctionOutagePending(live[9], live[10], ARGV[6])
              else
                local considered = tonumber(live[7] or '0') + tonumber(live[8] or '0')
                pending = outagePending(redis.call('GET', KEYS[5]), KEYS[6], ARGV[6], considered)
              end
              if pending then return 'outage' end
            end
            -- The time the bid is judged at: its arrival, within the bound, and never before the
            -- start of the stage already switched to (a process's reading of Redis' clock lags it
            -- a little, and that stage's predecessor is closed).
            if ARGV[7] ~= '' then
              local judged = math.min(now, math.max(tonumber(ARGV[7]), now - tonumber(ARGV[8])))
              if current >= 0 and timeline[current + 1] then judged = math.max(judged, timeline[current + 1][2]) end
              if judged < now then
                now = judged
                nowText = string.format('%d', judged)
              end
            end
            -- timeline entries: {kind, start, end (-1: none), bidder (0: not assigned yet)}
            local index = nil
            for i, s in ipairs(timeline) do
              if s[1] ~= 'a' and s[2] <= now then index = i end
            end
            -- What this request is: a retry must be the same action and amount, and not arrive in
            -- another turn of this bidder's (PROTOCOL.md: one requestId, one request).
            local stageNow = index and string.format('%d', index - 1) or '-1'
            local fingerprint = action .. ' ' .. amountText .. ' ' .. stageNow
            if earlier then
              local tab = string.find(earlier, '\t', 1, true)
              if not tab then return earlier end
              local was, first = string.sub(earlier, 1, tab - 1), string.sub(earlier, tab + 1)
              local wasAction, wasAmount, wasStage = string.match(was, '^(%S+) (%S*) (%S+)$')
              local ownTurnNow = index and timeline[index][1] == 'b' and timeline[index][4] == bidder
              if wasAction ~= action or wasAmount ~= amountText or (ownTurnNow and wasStage ~= stageNow) then
                return 'rejected|request_id_reused|' .. nowText
              end
              return first
            end


            local function answer(text)
              redis.call('HSET', KEYS[4], requestKey, fingerprint .. '\t' .. text)
              return text
            end
            local function reject(code) return answer('rejected|' .. code .. '|' .. nowText) end

            if bidder == nil or bidder < 1 or bidder > #prices then return reject('not_your_turn') end
            if status ~= 'scheduled' and status ~= 'active' then return reject('not_bidding_stage') end
            if index == nil or index - 1 < current then return reject('not_bidding_stage') end
            local stage = timeline[index]
            if not (stage[1] == 'b' and stage[4] == bidder) then
              local lastEnded = nil
              for i, s in ipairs(timeline) do
                if s[1] == 'b' and s[3] >= 0 and s[3] <= now then lastEnded = i end
              end
              if lastEnded and timeline[lastEnded][4] == bidder then return reject('turn_over') end
              if stage[1] == 'b' and stage[4] ~= 0 then return reject('not_your_turn') end
              return reject('not_bidding_stage')
            end
            local stageText = string.format('%d', index - 1)
            if action == 'invalid' then return reject('invalid_amount') end

            local fields
            local reply
            if action == 'cancel' then
              redis.call('HDEL', KEYS[3], stageText)
              fields = {'type', 'bidCancelled', 'stage', stageText, 'bidder', bidderText, 'at', nowText}
            else
              local amount, own = tonumber(amountText), prices[bidder]
              if live[6] == 'lowestCost' then
                if amount <= 0 then return reject('too_low') end
                if amount > own - step then return reject('too_high') end
              else
                if amount < own + step then return reject('too_low') end
              end
              redis.call('HSET', KEYS[3], stageText, bidderText .. ' ' .. amountText .. ' ' .. nowText)
              fields = {'type', 'bidAccepted', 'stage', stageText, 'bidder', bidderText, 'amount', amountText, 'at', nowText}
            end
            local seqText = string.format('%d', redis.call('HINCRBY', KEYS[1], 'seq', 1))
            table.insert(fields, 'seq'); table.insert(fields, seqText)
            table.insert(fields, 'requestId'); table.insert(fields, requestId)
            local head = chain(KEYS[1], fields)
            redis.call('XADD', KEYS[2], '0-' .. seqText, unpack(fields))
            local message = {hash = head}
            for i = 1, #fields, 2 do message[fields[i]] = fields[i + 1] end
            redis.call('PUBLISH', channel, cjson.encode(message))
            if action == 'cancel' then return answer('cancelled|' .. seqText .. '|' .. nowText) end
            return answer('accepted|' .. seqText .. '|' .. nowText .. '|' .. amountText)
            """)

    /// Appends an event computed by AuctionCore (a stage switch, an outage, results, names, a
    /// cancel) together with the new values the bid script reads, as one step. It is a
    /// compare-and-set on `seq`: if any event was appended since the caller read the log (a bid
    /// that came in meanwhile), nothing changes and the caller re-reads and decides again. With a
    /// lease owner given, only that lease's holder may append; with `notBefore`, not before that
    /// Redis time — so a stage never starts while the bid script could still accept a bid in the
    /// stage before it.
    ///
    /// A stage switch (`notBefore` given) also waits while an outage is pending (see
    /// `outagePending`), so no stage starts before the outage has moved it. On one server an
    /// `outageRecovered` event counts as taken into account (`outagesApplied` in the live hash,
    /// beside `outages`, those recorded before the auction was planned); on a cluster it applies
    /// the auction's `pendingOutage` and clears it, and is refused as `outage` when it is not the
    /// one pending (a longer gap was recorded since it was read).
    ///
    /// An event that ends the auction (announced, cancelled, rescheduled) sets every key of the
    /// auction to expire after the retention; a re-plan makes them permanent again.
    ///
    /// KEYS: live, log, pending, lease, requests, plan, bidders, report, refused report, then (on
    /// one server) heartbeat, outages. ARGV: owner (or ''), expected seq, notBefore µs (or ''),
    /// channel, pending to clear ('' none, 'all', a stage index, or 'reset': every pending bid and
    /// every remembered request, for a timeline laid out anew), mirror field count m, then m
    /// field/value pairs for the live hash, then the outage threshold µs, the expiry ('' none,
    /// 'persist', or the retention in ms), then the event's field/value pairs. A value equal to `$TIME` becomes the Redis time.
    /// Returns `{'appended', seq, at}`, `{'conflict', seq}`, `{'early', now}`, `{'outage'}`, `{'lease'}`
    /// or `{'missing'}`.
    static let append = RedisScript(
        name: "append",
        source: clock + outagePending + chain + """

            if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
            if ARGV[1] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[1] then return {'lease'} end
            local seq = tonumber(redis.call('HGET', KEYS[1], 'seq'))
            if seq ~= tonumber(ARGV[2]) then return {'conflict', string.format('%d', seq)} end
            if ARGV[3] ~= '' and now < tonumber(ARGV[3]) then return {'early', nowText} end
            local mirrorCount = tonumber(ARGV[6])
            local cursor = 7 + 2 * mirrorCount
            if ARGV[3] ~= '' then
              local pending
              if ON_CLUSTER then
                local fields = redis.call('HMGET', KEYS[1], 'reachedAt', 'pendingOutage')
                pending = auctionOutagePending(fields[1], fields[2], ARGV[cursor])
              else
                pending = outagePending(redis.call('GET', KEYS[10]), KEYS[11], ARGV[cursor], outagesConsidered(KEYS[1]))
              end
              if pending then return {'outage'} end
            end
            local expiry = ARGV[cursor + 1]
            cursor = cursor + 2
            local fields = {}
            local message = {}
            while cursor <= #ARGV do
              local value = ARGV[cursor + 1]
              if value == '$TIME' then value = nowText end
              table.insert(fields, ARGV[cursor]); table.insert(fields, value)
              message[ARGV[cursor]] = value
              cursor = cursor + 2
            end
            if message.type == 'outageRecovered' then
              if ON_CLUSTER then
                if redis.call('HGET', KEYS[1], 'pendingOutage') ~= message.from .. ' ' .. message['until'] then return {'outage'} end
                redis.call('HDEL', KEYS[1], 'pendingOutage')
              else
                redis.call('HINCRBY', KEYS[1], 'outagesApplied', 1)
              end
            end
            if ARGV[5] == 'all' then redis.call('DEL', KEYS[3])
            elseif ARGV[5] == 'reset' then redis.call('DEL', KEYS[3], KEYS[5])
            elseif ARGV[5] ~= '' then redis.call('HDEL', KEYS[3], ARGV[5]) end
            redis.call('HSET', KEYS[1], unpack(ARGV, 7, 6 + 2 * mirrorCount))
            local seqText = string.format('%d', redis.call('HINCRBY', KEYS[1], 'seq', 1))
            table.insert(fields, 1, seqText); table.insert(fields, 1, 'seq')
            message.seq = seqText
            message.hash = chain(KEYS[1], fields)
            message.prev = fields[#fields]
            redis.call('XADD', KEYS[2], '0-' .. seqText, unpack(fields))
            redis.call('PUBLISH', ARGV[4], cjson.encode(message))
            -- Every key of the auction but its lease (which has a TTL of its own).
            local kept = {KEYS[1], KEYS[2], KEYS[3], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]}
            if expiry == 'persist' then
              for _, key in ipairs(kept) do redis.call('PERSIST', key) end
            elseif expiry ~= '' then
              for _, key in ipairs(kept) do redis.call('PEXPIRE', key, expiry) end
            end
            return {'appended', seqText, nowText}
            """)

    /// Plans an auction: writes the plan, the bid script's values and the token index, unless the
    /// auction exists already. (A rescheduled auction is not replaced: a new start is a `replanned`
    /// event of its log, so `seq` goes on growing and every process's replica follows it.)
    ///
    /// The auction counts as reached now (`stamp`).
    ///
    /// The record's chain starts at the plan: `head` is the SHA-256 of the plan's bytes (ARGV 1),
    /// which the caller computes (`chain`; a verifier checks it against the plan stored).
    ///
    /// KEYS: plan, live, log, pending, requests, bidders, lease, report. ARGV: plan JSON, outage
    /// count, the plan's SHA-256, mirror count m, m pairs, then bid id/bidder pairs.
    /// Returns 1 when written, 0 when the auction exists.
    static let create = RedisScript(
        name: "create",
        source: clock + """

            if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
            redis.call('SET', KEYS[1], ARGV[1])
            redis.call('HSET', KEYS[2], 'seq', '0', 'outages', ARGV[2], 'reachedAt', nowText, 'head', ARGV[3])
            local count = tonumber(ARGV[4])
            redis.call('HSET', KEYS[2], unpack(ARGV, 5, 4 + 2 * count))
            if #ARGV > 4 + 2 * count then redis.call('HSET', KEYS[6], unpack(ARGV, 5 + 2 * count, #ARGV)) end
            return 1
            """)

    /// Keeps a results report until the API accepts it, unless one waits already or the API
    /// refused this auction's report for good. KEYS: report, refused report. ARGV: body.
    /// Returns 1 when a report waits (to be in the outbox), 0 when it was refused before.
    static let queueReport = RedisScript(
        name: "queueReport",
        source: """
            if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
            redis.call('SET', KEYS[1], ARGV[1], 'NX')
            return 1
            """)

    /// Takes or renews an auction's clock lease. KEYS: lease. ARGV: owner, ttl ms. Returns 1 if held.
    static let acquireLease = RedisScript(
        name: "acquireLease",
        source: """
            local holder = redis.call('GET', KEYS[1])
            if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
            if holder then return 0 end
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            return 1
            """)

    /// Gives a lease up at once, so another process takes over without waiting for the TTL (the
    /// clock's, and the links claim). KEYS: lease. ARGV: owner. Returns 1 if it was held.
    static let releaseLease = RedisScript(
        name: "releaseLease",
        source: """
            if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
            return 0
            """)

    /// Says this process is alive. If nobody said so for longer than the threshold, every process
    /// was down (or Redis was): that interval is recorded as an outage (SPEC §3).
    /// KEYS: heartbeat, outages. ARGV: threshold µs. Returns the number of outages recorded.
    static let heartbeat = RedisScript(
        name: "heartbeat",
        source: clock + """

            local beat = redis.call('GET', KEYS[1])
            local last = beat and (string.match(beat, '^(%d+)') or beat)
            if last and now - tonumber(last) > tonumber(ARGV[1]) then
              redis.call('RPUSH', KEYS[2], last .. ':' .. nowText)
            end
            local recorded = redis.call('LLEN', KEYS[2])
            redis.call('SET', KEYS[1], nowText .. ' ' .. string.format('%d', recorded))
            return recorded
            """)

    /// On a cluster: says that this process reached the auction's shard (see `outagePending`).
    /// A stamp older than the threshold means no process reached it since: that gap is recorded
    /// as the auction's `pendingOutage` (joined to one still pending), which bids and stage
    /// switches wait for until the clock holding the auction applies it. Only a live auction is
    /// stamped. KEYS: live. ARGV: threshold µs. Returns the pending outage (`from until`, µs), or ''.
    static let stamp = RedisScript(
        name: "stamp",
        source: clock + """

            local live = redis.call('HMGET', KEYS[1], 'status', 'reachedAt', 'pendingOutage')
            if live[1] ~= 'scheduled' and live[1] ~= 'active' then return '' end
            local pending = live[3]
            if live[2] and now - tonumber(live[2]) > tonumber(ARGV[1]) then
              pending = (pending and string.match(pending, '^(%d+)') or live[2]) .. ' ' .. nowText
              redis.call('HSET', KEYS[1], 'pendingOutage', pending)
            end
            redis.call('HSET', KEYS[1], 'reachedAt', nowText)
            return pending or ''
            """)
}
