extension String {
    /// `bytes` as a string when they are valid UTF-8, nil when they are not.
    ///
    /// What `String(validating:as:)` does, without its cost here: that initializer is generic
    /// over the encoding and, not specialized, looked up type metadata at run time on every
    /// call, 19% of the worker's start-up at 100,000 servers (`perf`; one call per string of
    /// every record). Decoding repairs what is invalid, so a string that differs from its bytes
    /// was not valid; ASCII, what nearly every string is, needs no comparison.
    public init?(strictUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        let text = String(decoding: bytes, as: UTF8.self)
        if bytes.contains(where: { $0 >= 0x80 }) {
            guard text.utf8.count == bytes.count, text.utf8.elementsEqual(bytes) else { return nil }
        }
        self = text
    }

    /// The same, from an array.
    public init?(strictUTF8 bytes: [UInt8]) {
        guard let text = bytes.withUnsafeBufferPointer({ String(strictUTF8: $0) }) else { return nil }
        self = text
    }
}
