import ComputeCore

/// What the changes on their way to the disk hold, so that no later plan takes it too, and
/// whose turn it is to be published: changes reach memory in the order they were planned.
struct Reservations: Sendable {
    /// Names of servers being created or renamed.
    var names: Set<NameKey> = []
    /// Per project: what servers being created will use.
    var usage: [String: QuotaUsage] = [:]
    /// Servers with a change on its way: another change of one waits for it.
    var serverIDs: Set<String> = []
    /// How many changes are on their way.
    var inFlight = 0
    /// A flavor change is on its way: every other change waits (flavor changes are rare, and
    /// the JSON files commit them one at a time).
    var flavorChange = false
    /// Flavor changes waiting for the changes on their way to land: no new one starts meanwhile.
    var flavorChangesWaiting = 0

    /// Whether a server change must wait: a flavor change is on its way or waiting for its turn.
    var holdsServerChanges: Bool { flavorChange || flavorChangesWaiting > 0 }

    /// Whether server `id` may be changed now: no change of it is on its way, nor a flavor change.
    func mayChange(_ id: String) -> Bool { !holdsServerChanges && !serverIDs.contains(id) }
    /// Turns are taken when a change is planned, and published in that order.
    var nextTurn = 0
    var publishedTurns = 0

    /// Holds what `servers` (new, or `renamed` into their names) take; returns the change's turn.
    mutating func reserve(creating servers: [Server]) -> Int {
        for server in servers {
            names.insert(NameKey(projectID: server.projectID, name: server.name))
            usage[server.projectID, default: QuotaUsage()].add(server)
            serverIDs.insert(server.id)
        }
        return takeTurn()
    }

    mutating func release(creating servers: [Server]) {
        for server in servers {
            names.remove(NameKey(projectID: server.projectID, name: server.name))
            usage[server.projectID]?.add(server, sign: -1)
            if usage[server.projectID] == QuotaUsage() { usage[server.projectID] = nil }
            serverIDs.remove(server.id)
        }
        inFlight -= 1
    }

    /// Holds a change of an existing server (a rename holds its new name too).
    mutating func reserve(changing id: String, newName: NameKey? = nil) -> Int {
        if let newName { names.insert(newName) }
        serverIDs.insert(id)
        return takeTurn()
    }

    mutating func release(changing id: String, newName: NameKey? = nil) {
        if let newName { names.remove(newName) }
        serverIDs.remove(id)
        inFlight -= 1
    }

    mutating func reserveFlavorChange() -> Int {
        flavorChange = true
        return takeTurn()
    }

    mutating func releaseFlavorChange() {
        flavorChange = false
        inFlight -= 1
    }

    private mutating func takeTurn() -> Int {
        inFlight += 1
        defer { nextTurn += 1 }
        return nextTurn
    }
}
