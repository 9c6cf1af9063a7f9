import ComputeCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A count and a rate on standard error while long work goes on (`checked 41000 of 100000
/// records (52310/s)`), redrawn at most ten times a second, when standard error is a terminal;
/// quiet otherwise, so logs and pipes get only the command's summary. Reports may come from
/// any thread.
final class Progress: Sendable {
    private let verb: String
    private let total: Int?
    private let started = Date()
    private let onTerminal = isatty(2) == 1
    /// When the line was last drawn, and whether it is on the screen.
    private let drawn = Locked<(at: Date, visible: Bool)>((.distantPast, false))

    init(verb: String, total: Int? = nil) {
        self.verb = verb
        self.total = total
    }

    /// Seconds since the work started.
    var elapsed: Double { Date().timeIntervalSince(started) }

    /// `done` records, and how fast, for a summary: `100000 records in 1.9 s (52310/s)`.
    func rate(_ done: Int) -> String {
        "\(done) records in \(String(format: "%.1f", elapsed)) s (\(Int(Double(done) / max(elapsed, 0.001)))/s)"
    }

    func report(_ done: Int) {
        guard onTerminal else { return }
        drawn.withLock { drawn in
            let now = Date()
            guard now.timeIntervalSince(drawn.at) >= 0.1 || done == total else { return }
            drawn = (now, true)
            let of = total.map { " of \($0)" } ?? ""
            let rate = Int(Double(done) / max(now.timeIntervalSince(started), 0.001))
            FileHandle.standardError.write(Data("\r\(verb) \(done)\(of) records (\(rate)/s)\u{1B}[K".utf8))
        }
    }

    /// Ends the line, if one was drawn, so the summary starts on its own.
    func finish() {
        drawn.withLock { drawn in
            if drawn.visible { FileHandle.standardError.write(Data("\n".utf8)) }
            drawn.visible = false
        }
    }
}
