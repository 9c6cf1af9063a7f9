import CFastCGI

#if canImport(Glibc)
    import Glibc
#endif

/// Reading a request from libfcgi: its parameters and its body.
extension FastCGIServer {
    /// The NULL-terminated `NAME=value` array, copied out (libfcgi frees it at Finish). Split on
    /// bytes: this runs for every parameter of every request.
    static func params(_ envp: FCGX_ParamArray?) -> [String: String] {
        var params: [String: String] = [:]
        params.reserveCapacity(32)
        guard var entry = envp else { return params }
        while let pointer = entry.pointee {
            let pair = UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))
            if let equals = pair.firstIndex(of: UInt8(ascii: "=")) {
                params[String(decoding: pair[..<equals], as: UTF8.self)] = String(
                    decoding: pair[(equals + 1)...], as: UTF8.self)
            }
            entry += 1
        }
        return params
    }

    /// Reads the body, at most `limit` bytes; a larger declared or actual length is not read.
    static func readBody(
        _ stream: UnsafeMutablePointer<FCGX_Stream>?, declaredLength: String?, limit: Int
    ) -> FastCGIRequest.Body {
        let declared = declaredLength.flatMap { Int($0) } ?? 0
        guard declared <= limit else { return .exceedsLimit }
        guard let stream else { return .complete([]) }
        var body = [UInt8](repeating: 0, count: min(max(declared, 0), limit) + 1)
        var count = 0
        while true {
            if count == body.count {
                if count > limit { return .exceedsLimit }
                body += [UInt8](repeating: 0, count: min(body.count, limit + 1 - body.count))
            }
            let read = body.withUnsafeMutableBytes { raw in
                FCGX_GetStr(
                    raw.baseAddress!.advanced(by: count).assumingMemoryBound(to: CChar.self), Int32(raw.count - count), stream)
            }
            if read <= 0 { break }
            count += Int(read)
        }
        if count > limit { return .exceedsLimit }
        body.removeSubrange(count...)
        return .complete(body)
    }
}
