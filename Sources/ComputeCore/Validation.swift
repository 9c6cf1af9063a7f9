/// The contract's rules for names, references and metadata, in one place.
///
/// Each check throws `ComputeError.invalidField(field, reason)` so the client learns which
/// field is wrong and why; callers pass the field path as the client wrote it.
public enum Validation {
    public static let maxNameLength = 255
    public static let maxMetadataPairs = 128
    public static let maxMetadataLength = 255
    /// Extra specs of one flavor: each request adds at most a body's worth, so without a bound
    /// a flavor's record would grow without one.
    public static let maxExtraSpecs = 128
    /// Projects one flavor is shared with, for the same reason.
    public static let maxFlavorAccessProjects = 1000

    /// A server or flavor name: 1–255 characters, no leading or trailing whitespace, no `/`,
    /// no control characters (nor line/paragraph separators).
    public static func name(_ value: String, field: String) throws(ComputeError) {
        try text(value, field: field, maxLength: maxNameLength)
        if value.unicodeScalars.contains("/") {
            throw .invalidField(field, "must not contain '/'.")
        }
    }

    /// A server's name: a name that is not in the form of a UUID. References on the v1 API are
    /// an id or a name, id first, so a server named like another's id could never be reached
    /// by its name (and OpenStack clients resolve a UUID-shaped argument as an id too).
    public static func serverName(_ value: String, field: String) throws(ComputeError) {
        try name(value, field: field)
        if isUUIDForm(value) {
            throw .invalidField(
                field, "must not be in the form of a UUID: servers are found by id or name, and ids are UUIDs.")
        }
    }

    /// `8-4-4-4-12` hex digits, in either case.
    public static func isUUIDForm(_ value: String) -> Bool {
        let utf8 = value.utf8
        guard utf8.count == 36 else { return false }
        for (offset, byte) in utf8.enumerated() {
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte) else {
                    return false
                }
            }
        }
        return true
    }

    /// A free-text reference (image, key name): 1–max characters, printable, no surrounding whitespace.
    public static func text(_ value: String, field: String, maxLength: Int) throws(ComputeError) {
        // Most names are printable ASCII without surrounding spaces: no Unicode tables needed.
        let utf8 = value.utf8
        if !utf8.isEmpty, utf8.count <= maxLength, utf8.first != 0x20, utf8.last != 0x20,
            utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
        {
            return
        }
        let scalars = value.unicodeScalars
        guard !scalars.isEmpty else { throw .invalidField(field, "must not be empty.") }
        guard scalars.count <= maxLength else {
            throw .invalidField(field, "must be at most \(maxLength) characters long.")
        }
        if let first = scalars.first, let last = scalars.last,
            first.properties.isWhitespace || last.properties.isWhitespace
        {
            throw .invalidField(field, "must not start or end with whitespace.")
        }
        if scalars.contains(where: isForbiddenControl) {
            throw .invalidField(field, "must not contain control characters.")
        }
        if scalars.contains(where: isMisleading) {
            throw .invalidField(field, "must not contain bidirectional controls or noncharacters.")
        }
    }

    /// Metadata: at most 128 pairs; keys 1–255 characters, values up to 255, no control characters.
    public static func metadata(_ value: [String: String], field: String) throws(ComputeError) {
        guard value.count <= maxMetadataPairs else {
            throw .invalidField(field, "must have at most \(maxMetadataPairs) items.")
        }
        for (key, item) in value.sorted(by: { $0.key < $1.key }) {
            let keyScalars = key.unicodeScalars
            guard !keyScalars.isEmpty, keyScalars.count <= maxMetadataLength else {
                throw .invalidField(field, "keys must be 1–\(maxMetadataLength) characters long.")
            }
            guard item.unicodeScalars.count <= maxMetadataLength else {
                throw .invalidField("\(field).\(key)", "must be at most \(maxMetadataLength) characters long.")
            }
            if keyScalars.contains(where: isForbiddenControl) || item.unicodeScalars.contains(where: isForbiddenControl) {
                throw .invalidField(field, "keys and values must not contain control characters.")
            }
        }
    }

    /// A server description (Nova 2.19): up to 255 characters, no control characters; may be empty.
    public static func description(_ value: String, field: String) throws(ComputeError) {
        guard !value.isEmpty else { return }
        try text(value, field: field, maxLength: maxNameLength)
    }

    /// A flavor's extra specs (Nova's `os-extra_specs`): keys 1–255 of letters, digits and
    /// `_-.: `, values up to 255 characters without control characters.
    public static func extraSpecs(_ specs: [String: String], field: String) throws(ComputeError) {
        for (key, value) in specs.sorted(by: { $0.key < $1.key }) {
            guard (1...maxNameLength).contains(key.unicodeScalars.count),
                key.utf8.allSatisfy({
                    isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
                        || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: " ")
                })
            else {
                throw .invalidField(field, "keys must be 1–255 characters of letters, digits, '_', '-', '.', ':' or ' '.")
            }
            if !value.isEmpty { try text(value, field: "\(field).\(key)", maxLength: maxNameLength) }
        }
    }

    /// A flavor, image or network id: 1–255 of `[A-Za-z0-9._-]`.
    public static func identifier(_ value: String, field: String) throws(ComputeError) {
        guard (1...maxNameLength).contains(value.utf8.count),
            value.utf8.allSatisfy({
                isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
            })
        else {
            throw .invalidField(field, "must be 1–255 characters of letters, digits, '.', '_' or '-'.")
        }
    }

    /// A non-negative integer with an upper bound (Nova's columns are 32-bit).
    public static func integer(_ value: Int, field: String, min: Int, max: Int = Int(Int32.max)) throws(ComputeError) {
        guard value >= min else { throw .invalidField(field, "must be \(min) or more.") }
        guard value <= max else { throw .invalidField(field, "must be \(max) or less.") }
    }

    static func isNetworkName(_ value: String) -> Bool {
        (1...64).contains(value.utf8.count)
            && value.utf8.allSatisfy {
                isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
            }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Characters that make a name display as something it is not: bidirectional overrides
    /// and isolates ("Trojan Source"), and noncharacters.
    private static func isMisleading(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: scalar.properties.isNoncharacterCodePoint
        }
    }

    private static func isForbiddenControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
