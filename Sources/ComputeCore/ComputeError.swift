/// Everything the domain refuses, with a message a client may read.
///
/// The API layer maps each case to one HTTP status and Nova fault name; nothing here carries
/// internal detail (paths, errno text): that goes to the log where it happens.
public enum ComputeError: Error, Sendable, Equatable {
    /// The request is malformed or names something that does not exist as an input (400).
    case invalidInput(String)
    /// The addressed resource does not exist, or is not visible to the caller (404).
    case notFound(String)
    /// The caller may not do this: a role it lacks, a quota it would exceed (403).
    case forbidden(String)
    /// The request conflicts with the current state: a name in use, no free address (409).
    case conflict(String)
    /// The store cannot accept writes right now: disk full, read-only, I/O error (503).
    case unavailable(String)

    /// `Invalid input for field 'server.name': <reason>`, the wording Nova's clients know.
    public static func invalidField(_ field: String, _ reason: String) -> ComputeError {
        .invalidInput("Invalid input for field '\(field)': \(reason)")
    }

    public var message: String {
        switch self {
        case .invalidInput(let m), .notFound(let m), .forbidden(let m), .conflict(let m), .unavailable(let m): m
        }
    }
}
