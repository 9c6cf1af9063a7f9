#if canImport(Glibc)
    import Glibc
#endif

/// A UTC instant with microsecond resolution.
///
/// Records keep microseconds so that ordering by creation time is stable; views show whole
/// seconds (`2026-11-29T05:11:36Z`), the form the contract and Nova use.
public struct Timestamp: Sendable, Hashable, Comparable, Encodable {
    public var microsecondsSinceEpoch: Int64

    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    /// `2026-11-29T05:11:36Z`: what clients see.
    public var iso8601Seconds: String {
        var bytes: [UInt8] = []
        appendISO8601(to: &bytes, fraction: false)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `2026-11-29T05:11:36.123456Z`: what records store.
    public var iso8601Microseconds: String {
        var bytes: [UInt8] = []
        appendISO8601(to: &bytes, fraction: true)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the ISO 8601 form (with microseconds when `fraction`) as ASCII bytes; views
    /// write timestamps this way, without making a `String`.
    public func appendISO8601(to bytes: inout [UInt8], fraction: Bool = false) {
        let (seconds, micros) = microsecondsSinceEpoch.floorDividedAndRemainder(by: 1_000_000)
        let (days, secondOfDay) = seconds.floorDividedAndRemainder(by: 86_400)
        let (year, month, day) = Self.civilDate(fromDaysSinceEpoch: days)
        func digits(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            if rest >= divisor * 10 {  // a year past 9999
                for d in String(rest).utf8 { bytes.append(d) }
                return
            }
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4)
        bytes.append(UInt8(ascii: "-"))
        digits(month, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(day, 2)
        bytes.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2)
        if fraction {
            bytes.append(UInt8(ascii: "."))
            digits(micros, 6)
        }
        bytes.append(UInt8(ascii: "Z"))
    }

    /// Parses the two forms this type writes (`…:36Z` and `…:36.123456Z`, any number of
    /// fraction digits up to 6). Anything else is nil; user-supplied dates with offsets go
    /// through `init?(iso8601:)` instead.
    public init?(canonical text: String) {
        let b = Array(text.utf8)
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
            b[10] == UInt8(ascii: "T"), b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
            b.last == UInt8(ascii: "Z"),
            let year = Self.digits(b, 0, 4), let month = Self.digits(b, 5, 2),
            let day = Self.digits(b, 8, 2), let hour = Self.digits(b, 11, 2),
            let minute = Self.digits(b, 14, 2), let second = Self.digits(b, 17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var micros: Int64 = 0
        if b.count > 20 {
            guard b[19] == UInt8(ascii: "."), (21...27).contains(b.count),
                let fractionDigits = Self.digits(b, 20, b.count - 21)
            else { return nil }
            micros = fractionDigits
            for _ in 0..<(6 - (b.count - 21)) { micros *= 10 }
        } else if b.count != 20 {
            return nil
        }
        let days = Self.daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second
        self.microsecondsSinceEpoch = seconds * 1_000_000 + micros
    }

    /// Parses an ISO 8601 instant as clients send it (Nova's `changes-since`):
    /// `2026-11-29T05:11:36`, with an optional fraction (up to 6 digits) and an optional zone
    /// (`Z`, `+01:00`, `-0530`); no zone means UTC.
    public init?(iso8601 text: String) {
        var body = Substring(text)
        var offsetSeconds: Int64 = 0
        if body.hasSuffix("Z") || body.hasSuffix("z") {
            body = body.dropLast()
        } else if body.count > 19 {
            let zoneStart = body.index(body.startIndex, offsetBy: 19)
            if let sign = body[zoneStart...].firstIndex(where: { $0 == "+" || $0 == "-" }) {
                let zone = body[body.index(after: sign)...].filter { $0 != ":" }
                guard zone.count == 4, let hours = Int64(zone.prefix(2)), let minutes = Int64(zone.suffix(2)),
                    hours < 24, minutes < 60
                else { return nil }
                offsetSeconds = (hours * 3600 + minutes * 60) * (body[sign] == "-" ? -1 : 1)
                body = body[..<sign]
            }
        }
        guard let local = Timestamp(canonical: body + "Z") else { return nil }
        self.init(microsecondsSinceEpoch: local.microsecondsSinceEpoch - offsetSeconds * 1_000_000)
    }

    // MARK: Encodable: records store the canonical microsecond string, which `jq` users can read.

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso8601Microseconds)
    }

    // MARK: Civil calendar (proleptic Gregorian), after Howard Hinnant's days_from_civil.

    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilDate(fromDaysSinceEpoch days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func digits(_ bytes: [UInt8], _ start: Int, _ count: Int) -> Int64? {
        guard count > 0, start + count <= bytes.count else { return nil }
        var value: Int64 = 0
        for byte in bytes[start..<start + count] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}

extension Int64 {
    /// Division rounding toward negative infinity, so instants before 1970 format correctly.
    fileprivate func floorDividedAndRemainder(by divisor: Int64) -> (Int64, Int64) {
        let q = self / divisor
        let r = self % divisor
        return r < 0 ? (q - 1, r + divisor) : (q, r)
    }
}

/// Where time comes from. Injected so tests can pin and advance it.
public protocol Clock: Sendable {
    func now() -> Timestamp
}

/// The system's real-time clock.
public struct SystemClock: Clock {
    public init() {}

    public func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(microsecondsSinceEpoch: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000)
    }
}
