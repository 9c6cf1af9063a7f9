/// Everything the domain refuses, with a message a client may read.
///
/// The API layer maps each case to one HTTP status and Nova fault name; nothing here carries
/// internal detail (paths, errno text, SQL): that goes to the log where it happens. Stores
/// throw these too, through the constructors below, so every store words a refusal the same.
public enum ComputeError: Error, Sendable, Equatable {
    /// The request is malformed or names something that does not exist as an input (400).
    case invalidInput(String)
    /// The addressed resource does not exist, or is not visible to the caller (404).
    case notFound(String)
    /// The caller may not do this: a role it lacks, a quota it would exceed (403).
    case forbidden(String)
    /// The request conflicts with the current state: a name in use, no free address (409).
    case conflict(String)
    /// The record changed between being read and being written (409 if it keeps happening):
    /// the rules retry the change on what is there now, so no update is ever lost.
    case staleVersion(String)
    /// The store cannot accept writes right now: disk full, read-only, I/O error, database
    /// down (503).
    case unavailable(String)

    /// `Invalid input for field 'server.name': <reason>`, the wording Nova's clients know.
    public static func invalidField(_ field: String, _ reason: String) -> ComputeError {
        .invalidInput("Invalid input for field '\(field)': \(reason)")
    }

    public var message: String {
        switch self {
        case .invalidInput(let m), .notFound(let m), .forbidden(let m), .conflict(let m), .staleVersion(let m),
            .unavailable(let m):
            m
        }
    }
}

extension ComputeError {
    public static func serverNameInUse(_ name: String) -> ComputeError {
        .conflict("Server name \(name) is already in use.")
    }

    public static func flavorIDInUse(_ id: String) -> ComputeError {
        .conflict("Flavor with ID \(id) already exists.")
    }

    public static func flavorNameInUse(_ name: String) -> ComputeError {
        .conflict("Flavor with name \(name) already exists.")
    }

    public static func serverChanged(_ id: String) -> ComputeError {
        .staleVersion("Server \(id) was changed by another request while this one was being made. Try again.")
    }

    public static func flavorChanged(_ id: String) -> ComputeError {
        .staleVersion("Flavor \(id) was changed by another request while this one was being made. Try again.")
    }

    /// A network with fewer free addresses than a create needs. How many are free tells of
    /// every project's servers: only admins are told.
    public static func networkFull(_ network: String, free: Int, needed: Int, callerIsAdmin: Bool) -> ComputeError {
        .conflict(
            callerIsAdmin
                ? "Network \(network) has \(free) free addresses; \(needed) needed."
                : "Network \(network) has not enough free addresses for \(needed) more servers.")
    }

    /// Why writes fail, as clients are told (503).
    public static func cannotSave(_ problem: String) -> ComputeError {
        .unavailable("The service cannot save changes right now: its \(problem). Try again later.")
    }
}
