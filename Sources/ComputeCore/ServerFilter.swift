/// Which servers a listing returns. Stores apply every condition but the name pattern, which
/// the listing matches itself (outside any lock or transaction: its cost is the client's
/// choice).
public struct ServerFilter: Sendable, Equatable {
    /// Nil: every project's servers.
    public var projectID: String?
    /// Exact name.
    public var name: String?
    /// A regular expression the name contains a match of (Nova's `?name=`).
    public var namePattern: NamePattern?
    /// A regular expression matching the start of the server's address (Nova's `?ip=`).
    public var addressPattern: NamePattern?
    public var status: ServerStatus?
    /// A flavor id or name, matched against each server's flavor snapshot.
    public var flavor: String?
    public var imageID: String?
    public var reservationID: String?
    /// Changed (`updated`) at or after this instant (Nova's `changes-since`).
    public var changedSince: Timestamp?
    /// Changed at or before this instant (Nova's `changes-before`).
    public var changedBefore: Timestamp?
    /// Nova's `tags`, `tags-any`, `not-tags` and `not-tags-any`.
    public var tags = ServerTags.Filter()
    /// Whether deleted servers the store still keeps are listed too (Nova's `changes-since`),
    /// or alone (its `deleted=true`).
    public var deleted = DeletedServers.excluded

    public enum DeletedServers: Sendable, Equatable {
        case excluded, included, only
    }

    public init(
        projectID: String?, name: String? = nil, status: ServerStatus? = nil, flavor: String? = nil, reservationID: String? = nil
    ) {
        self.projectID = projectID
        self.name = name
        self.status = status
        self.flavor = flavor
        self.reservationID = reservationID
    }

    /// Every condition but the patterns.
    public func matches(_ server: Server) -> Bool {
        if let projectID, server.projectID != projectID { return false }
        if let name, server.name != name { return false }
        if let status, server.status != status { return false }
        if let flavor, server.flavor.id != flavor, server.flavor.name != flavor { return false }
        if let reservationID, server.reservationID != reservationID { return false }
        if let imageID, server.imageID != imageID { return false }
        if let changedSince, server.updated < changedSince { return false }
        if let changedBefore, changedBefore < server.updated { return false }
        if !tags.isEmpty, !tags.matches(server.tags) { return false }
        return true
    }
}
