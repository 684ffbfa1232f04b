// summary.json and report.html (tables and inline SVG charts, no scripts) in one folder.
import Foundation

enum Report {
    static func write(_ summary: Summary, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(summary).write(to: URL(fileURLWithPath: directory + "/summary.json"))
        try Data(html(summary).utf8).write(to: URL(fileURLWithPath: directory + "/report.html"))
    }

    static func html(_ s: Summary) -> String {
        var page = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Load test \(escape(s.profile)) — \(escape(s.started))</title>
            <style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
            td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
            .met{color:#17692b;font-weight:600}.missed{color:#b00020;font-weight:600}svg{background:#fcfcfc;border:1px solid #ddd;margin:.3em 0 1.2em}
            .legend span{display:inline-block;margin-right:1.2em}.legend i{display:inline-block;width:1em;height:.25em;vertical-align:middle;margin-right:.3em}</style></head><body>
            <h1>Load test: \(escape(s.profile))</h1><p>\(escape(s.description))</p>
            <p>\(escape(s.started)) · \(escape(s.machine)) · \(s.auctions) auctions × \(s.biddersPerAuction) bidders + \(s.observersPerAuction) observers · accelerator \(s.accelerator)</p>
            <h2>Against the targets</h2><table><tr><th>goal</th><th>target</th><th>measured</th><th></th></tr>
            """
        for check in s.targets {
            page +=
                "<tr><td>\(escape(check.name))</td><td>\(escape(check.target))</td><td>\(escape(check.measured))</td><td class=\"\(check.met ? "met" : "missed")\">\(check.met ? "met" : "missed")</td></tr>"
        }
        page += "</table><h2>Latency (ms)</h2><table><tr><th>what</th><th>count</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th></tr>"
        for (name, l) in s.latency.rows {
            page += "<tr><td>\(name)</td><td>\(l.count)</td><td>\(l.p50)</td><td>\(l.p99)</td><td>\(l.p999)</td><td>\(l.max)</td></tr>"
        }
        page += "</table>"
        if let m = s.serverMetrics {
            page +=
                "<p>auctiond's own part, from its <code>/metrics</code> (bucket bounds; the load generator shares the machine):</p><table><tr><th>what</th><th>count</th><th>mean</th><th>p50</th><th>p99</th></tr>"
            for (name, h) in m.rows {
                page +=
                    "<tr><td>\(name)</td><td>\(h.count)</td><td>\(String(format: "%.2f", h.meanMilliseconds))</td><td>\(escape(ServerHistogram.bound(h.p50AtMostMilliseconds)))</td><td>\(escape(ServerHistogram.bound(h.p99AtMostMilliseconds)))</td></tr>"
            }
            page += "</table>"
        }
        page += "<h2>Correctness</h2><table>"
        let c = s.correctness
        for (name, value) in [
            ("bids acknowledged", c.acknowledged), ("cancels acknowledged", c.cancelsAcknowledged), ("lost", c.lost),
            ("duplicated", c.duplicated),
            ("accepted late or out of turn", c.lateAccepted),
            ("accepted in the Stream, answer not seen (dropped connection)", c.unacknowledgedInStream),
            ("auctions whose results the API holds exactly", c.resultsMatching),
            ("results that differ from the Stream", c.resultsMismatched),
            ("results missing or posted more than once", c.resultsMissing), ("results POSTs accepted by the API", c.resultPostsAccepted),
            ("auctions whose schedule an outage moved", c.auctionsWithOutages),
            ("answers the script did not expect", s.client.unexpectedCount),
            ("replays after reconnect / different answers", s.client.replays),
            ("replays with a different answer", s.client.replayMismatches), ("state seq going backwards", s.client.seqWentBack),
            ("bidder states that came after their stage ended (bids from them not judged)", s.client.staleStates),
        ] {
            page += "<tr><td>\(name)</td><td>\(value)</td></tr>"
        }
        page += "</table>"
        if !(c.problems + s.client.unexpected).isEmpty {
            page +=
                "<details><summary>problems (first 50 of each kind)</summary><ul>"
                + (c.problems + s.client.unexpected).map { "<li>\(escape($0))</li>" }.joined() + "</ul></details>"
        }
        if let chaos = s.chaos { page += chaosSection(chaos) }
        page += "<h2>Answers and errors by code</h2><table><tr><th>code</th><th>count</th></tr>"
        for (code, count) in s.client.answersByCode.sorted(by: { $0.key < $1.key }) {
            page += "<tr><td>\(escape(code))</td><td>\(count)</td></tr>"
        }
        for (reason, count) in s.client.connectionErrors.sorted(by: { $0.key < $1.key }) {
            page += "<tr><td>connection: \(escape(reason))</td><td>\(count)</td></tr>"
        }
        page += "<tr><td>connections closed unexpectedly</td><td>\(s.client.unexpectedCloses)</td></tr></table>"

        page +=
            "<h2>Servers</h2><table><tr><th>process</th><th>CPU s (auctions)</th><th>cores</th><th>peak RSS MiB</th><th>RSS before → with connections</th><th>bytes per connection (connections held)</th></tr>"
        for (name, p) in s.server.sorted(by: { $0.key < $1.key }) {
            page +=
                "<tr><td>\(escape(name))</td><td>\(String(format: "%.1f", p.cpuSecondsDuringAuctions))</td><td>\(String(format: "%.2f", p.cpuCoresDuringAuctions))</td><td>\(String(format: "%.1f", p.peakRSSMiB))</td><td>\(String(format: "%.1f → %.1f", p.rssBeforeConnectionsMiB, p.rssWithConnectionsMiB))</td><td>\(p.rssPerConnectionBytes) (\(p.connectionsHeld))</td></tr>"
        }
        page += "</table>"
        for (name, p) in s.server.sorted(by: { $0.key < $1.key }) where !p.cpuSecondsByThreadDuringAuctions.isEmpty {
            page += "<h3>\(escape(name)): CPU seconds by thread while the auctions ran</h3><table>"
            for (thread, seconds) in p.cpuSecondsByThreadDuringAuctions.sorted(by: { $0.value > $1.value }) {
                page += "<tr><td>\(escape(thread))</td><td>\(String(format: "%.2f", seconds))</td></tr>"
            }
            page += "</table>"
        }
        page += "<h2>Throughput and references</h2><table>"
        page += "<tr><td>connections planned / opened</td><td>\(s.client.connectionsPlanned) / \(s.client.connectionsOpened)</td></tr>"
        page += "<tr><td>messages received (all)</td><td>\(s.client.messagesReceived)</td></tr>"
        page +=
            "<tr><td>bid answers per second (mean over busy seconds / peak)</td><td>\(Int(s.bidCommands.mean)) / \(s.bidCommands.peak)</td></tr>"
        page +=
            "<tr><td>auctiond: deliveries per CPU-second</td><td>\(Int(s.fanOut.deliveriesPerCPUSecond)) (\(s.fanOut.deliveries) in \(String(format: "%.1f", s.fanOut.cpuSeconds)) s)</td></tr>"
        page += row([
            "auctiond: idle cost (all connections open, no auction) / deliveries per CPU-second above it",
            String(format: "%.1f ms/s / %d", s.fanOut.idleCores * 1000, Int(s.fanOut.deliveriesPerCPUSecondAboveIdle)),
        ])
        if let m = s.mirror {
            page +=
                "<tr><td>lws mirror: deliveries per CPU-second</td><td>\(Int(m.deliveriesPerCPUSecond)) (\(m.deliveries) to \(m.clients) clients, \(m.messageBytes) B; \(escape(m.note)))</td></tr>"
            page +=
                "<tr><td>lws mirror: send → last of \(m.clients) clients</td><td>"
                + String(
                    format: "median %.1f ms, max %.1f ms (this client reading the bare C server)", m.lastReceiverMedianMilliseconds,
                    m.lastReceiverMaxMilliseconds) + "</td></tr>"
        }
        if let r = s.redisBenchmark {
            page += "<tr><td>bid script alone (redis-benchmark)</td><td>\(Int(r.scriptCallsPerSecond))/s (\(escape(r.note)))</td></tr>"
        }
        page += "</table><h2>Over time</h2>"
        let samples = s.samples
        let t = samples.map(\.t)
        page += chart("Bid answer latency per second (ms)", t, [("p50", samples.map(\.bidP50)), ("p99", samples.map(\.bidP99))])
        page += chart(
            "Broadcast delivery latency per second (ms)", t, [("p50", samples.map(\.deliveryP50)), ("p99", samples.map(\.deliveryP99))])
        page += chart("Connections held", t, [("open", samples.map { Double($0.connections) })])
        page += chart(
            "Messages received and bid answers per second", t,
            [
                ("messages/s", samples.map { Double($0.messagesPerSecond) }), ("bid answers/s", samples.map { Double($0.bidAnswers) }),
                ("Redis ops/s", samples.map { Double($0.redisOpsPerSecond) }),
            ])
        let names = Array(Set(samples.flatMap { $0.cpu.keys })).sorted()
        page += chart("CPU (cores)", t, names.map { name in (name, samples.map { $0.cpu[name] ?? 0 }) })
        page += chart("Resident memory (MiB)", t, names.map { name in (name, samples.map { $0.rssMiB[name] ?? 0 }) })
        page += "</body></html>\n"
        return page
    }

    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    /// A line chart as inline SVG: x is seconds since the run started.
    /// One table row; `header` makes its cells `th`.
    static func row(_ cells: [String], header: Bool = false) -> String {
        let tag = header ? "th" : "td"
        return "<tr>" + cells.map { "<\(tag)>\($0)</\(tag)>" }.joined() + "</tr>"
    }

    /// Each kill -9 of the chaos driver and how the service came back (docs/RELIABILITY.md).
    static func chaosSection(_ chaos: ChaosFigures) -> String {
        var page = "<h2>Chaos</h2><p>Each kill -9 (loadtest/chaos.sh) and how the service came back: the time to the next stage "
        page += "switch and to the next accepted bid in any auction, and the bids answered <code>unavailable</code> from the kill "
        page += "until 5 s after the restart.</p><table>"
        let unavailable = "<code>unavailable</code>"
        page += row(
            [
                "kind", "kills", "to next switch p50 / p99 / max ms", "to next accepted bid p50 / p99 / max ms",
                unavailable + " (most in one)",
            ],
            header: true)
        for kind in chaos.killsByKind.keys.sorted() {
            let (a, b) = (chaos.toNextStageSwitch[kind] ?? LatencySummary(), chaos.toNextAcceptedBid[kind] ?? LatencySummary())
            page += row([
                escape(kind), "\(chaos.killsByKind[kind] ?? 0)", "\(a.p50) / \(a.p99) / \(a.max)", "\(b.p50) / \(b.p99) / \(b.max)",
                "\(chaos.unavailableAnswers[kind] ?? 0) (\(chaos.mostUnavailableInOneOutage[kind] ?? 0))",
            ])
        }
        page += "</table><details><summary>every kill</summary><table>"
        page += row(["process", "down ms", "to next switch ms", "to next accepted bid ms", unavailable], header: true)
        for kill in chaos.kills {
            let down = kill.upAt.map { String(Double($0 - kill.killedAt) / 1000) } ?? "not restarted"
            page += row([
                escape(kill.process), down, kill.toNextStageSwitchMilliseconds.map { "\($0)" } ?? "none",
                kill.toNextAcceptedBidMilliseconds.map { "\($0)" } ?? "none", "\(kill.unavailableAnswers)",
            ])
        }
        return page + "</table></details>"
    }

    static func chart(_ title: String, _ x: [Double], _ series: [(String, [Double])]) -> String {
        let width = 1000.0
        let height = 220.0
        let left = 60.0
        let bottom = 24.0
        let top = 10.0
        let maxX = max(x.max() ?? 1, 1)
        let maxY = max(series.flatMap(\.1).max() ?? 1, 1e-9) * 1.1
        func px(_ value: Double) -> Double { left + (width - left - 10) * value / maxX }
        func py(_ value: Double) -> Double { top + (height - top - bottom) * (1 - value / maxY) }
        var svg = "<h3>\(escape(title))</h3><div class=\"legend\">"
        for (index, (name, _)) in series.enumerated() {
            svg += "<span><i style=\"background:\(colours[index % colours.count])\"></i>\(escape(name))</span>"
        }
        svg +=
            "</div><svg width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
        for step in 0...4 {
            let value = maxY * Double(step) / 4
            svg += "<line x1=\"\(left)\" x2=\"\(width - 10)\" y1=\"\(py(value))\" y2=\"\(py(value))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(py(value) + 4)\" font-size=\"11\" text-anchor=\"end\">\(label(value))</text>"
        }
        for step in 0...5 {
            let value = maxX * Double(step) / 5
            svg += "<text x=\"\(px(value))\" y=\"\(height - 6)\" font-size=\"11\" text-anchor=\"middle\">\(Int(value)) s</text>"
        }
        for (index, (_, values)) in series.enumerated() where !values.isEmpty {
            let points = zip(x, values).map { String(format: "%.1f,%.1f", px($0), py($1)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(colours[index % colours.count])\" stroke-width=\"1.5\" points=\"\(points)\"/>"
        }
        return svg + "</svg>"
    }

    static func label(_ value: Double) -> String {
        if value >= 1_000_000 { return String(format: "%.1fM", value / 1_000_000) }
        if value >= 10_000 { return String(format: "%.0fk", value / 1000) }
        if value >= 100 { return String(format: "%.0f", value) }
        return String(format: "%.2g", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;"
        ).replacingOccurrences(of: "\"", with: "&quot;")
    }
}
