/// The users, projects, role grants and application credentials behind sign-ins: what an
/// admin does through the identity API (and the CLI through the same rules), and what users
/// do for themselves (their password, their application credentials). Changes of records are
/// read-modify-write under this host's `writer` lock; names are unique per domain.
extension Identity {
    /// Fields a change sets; nil leaves one as it is.
    public struct UserChange: Sendable {
        public var name: String?
        public var password: String?
        public var defaultProject: String??
        public var enabled: Bool?
        public var email: String??
        public var description: String??

        public init(
            name: String? = nil, password: String? = nil, defaultProject: String?? = nil, enabled: Bool? = nil,
            email: String?? = nil, description: String?? = nil
        ) {
            self.name = name
            self.password = password
            self.defaultProject = defaultProject
            self.enabled = enabled
            self.email = email
            self.description = description
        }
    }

    // MARK: Projects

    /// A new project; `id` is its name for projects the CLI makes, else Keystone's hex form.
    public func createProject(
        name: String, description: String = "", enabled: Bool = true, id: String? = nil
    ) throws(IdentityError) -> ProjectRecord {
        try Self.checkName(name, field: "name")
        return try changing { () throws(IdentityError) in
            guard try lookUp(ProjectRecord.self, .name(name, domain: .id(Domain.id))) == nil else {
                throw .conflict("Duplicate entry found with name \(name) at domain ID \(Domain.id).")
            }
            var project = ProjectRecord(id: id ?? Self.newID(), name: name, description: description, created: clock.now())
            project.enabled = enabled
            try stored { () throws(ComputeError) in try store.save(project) }
            return project
        }
    }

    public func updateProject(
        id: String, name: String?, description: String?, enabled: Bool?
    ) throws(IdentityError) -> ProjectRecord {
        try changingRecord(ProjectRecord.self, id, notFound: "Could not find project: \(id).") { project throws(IdentityError) in
            if let name, name != project.name {
                try Self.checkName(name, field: "name")
                guard try lookUp(ProjectRecord.self, .name(name, domain: .id(Domain.id))) == nil else {
                    throw .conflict("Duplicate entry found with name \(name) at domain ID \(Domain.id).")
                }
                project.name = name
            }
            if let description { project.description = description }
            if let enabled { project.enabled = enabled }
        }
    }

    /// Deletes the project's record and every role on it (its servers stay, as Nova's do).
    public func deleteProject(id: String) throws(IdentityError) {
        try changing { () throws(IdentityError) in
            guard try stored({ () throws(ComputeError) in try store.remove(ProjectRecord.self, id: id) }) else {
                throw .notFound("Could not find project: \(id).")
            }
        }
        // Then the roles on it, each user one change (a user deleted meanwhile is skipped).
        for user in try stored({ () throws(ComputeError) in try store.all(UserRecord.self) }) where user.roles[id] != nil {
            do {
                _ = try changingUser(user.id) { (user: inout UserRecord) throws(IdentityError) in user.roles[id] = nil }
            } catch {
                guard case .notFound = error else { throw error }
            }
        }
    }

    // MARK: Users

    public func createUser(
        name: String, password: String?, defaultProject: String? = nil, enabled: Bool = true, email: String? = nil,
        description: String? = nil, roles: [String: Role] = [:]
    ) throws(IdentityError) -> UserRecord {
        try Self.checkName(name, field: "name")
        let hash = password.map { PasswordHash(password: $0, iterations: settings.passwordIterations) }
        return try changing { () throws(IdentityError) in
            guard try lookUp(UserRecord.self, .name(name, domain: .id(Domain.id))) == nil else {
                throw .conflict("Duplicate entry found with name \(name) at domain ID \(Domain.id).")
            }
            let now = clock.now()
            var user = UserRecord(id: Self.newID(), name: name, roles: roles, created: now)
            user.defaultProject = defaultProject
            user.enabled = enabled
            user.email = email
            user.description = description
            if let hash { user.setPassword(hash, at: now) }
            try stored { () throws(ComputeError) in try store.save(user) }
            return user
        }
    }

    /// Changes a user; a new password (or disabling) ends the tokens issued before.
    public func updateUser(id: String, _ change: UserChange) throws(IdentityError) -> UserRecord {
        let hash = change.password.map { PasswordHash(password: $0, iterations: settings.passwordIterations) }
        return try changingUser(id) { (user: inout UserRecord) throws(IdentityError) in
            if let name = change.name, name != user.name {
                try Self.checkName(name, field: "name")
                guard try lookUp(UserRecord.self, .name(name, domain: .id(Domain.id))) == nil else {
                    throw .conflict("Duplicate entry found with name \(name) at domain ID \(Domain.id).")
                }
                user.name = name
            }
            if let hash { user.setPassword(hash, at: clock.now()) }
            if let project = change.defaultProject { user.defaultProject = project }
            if let enabled = change.enabled {
                if user.enabled && !enabled { user.revokeTokens(at: clock.now()) }
                user.enabled = enabled
            }
            if let email = change.email { user.email = email }
            if let description = change.description { user.description = description }
        }
    }

    /// A user changing their own password: the old one must be right (a wrong one counts as a
    /// failed sign-in).
    public func changePassword(userID: String, original: String, new: String) throws(IdentityError) {
        _ = try throttle.guarded(userID: userID, at: clock.now()) { () throws(IdentityError) in
            guard let user = try lookUp(UserRecord.self, .id(userID)), user.password?.matches(original) == true else {
                throw .unauthorized("The original password is not right.")
            }
        }
        _ = try updateUser(id: userID, UserChange(password: new))
    }

    /// Deletes the user and their application credentials; their tokens stop working at once.
    public func deleteUser(id: String) throws(IdentityError) {
        try changing { () throws(IdentityError) in
            guard try stored({ () throws(ComputeError) in try store.remove(UserRecord.self, id: id) }) else {
                throw .notFound("Could not find user: \(id).")
            }
            for credential in try stored({ () throws(ComputeError) in try store.all(ApplicationCredentialRecord.self) })
            where credential.user == id {
                _ = try stored { () throws(ComputeError) in try store.remove(ApplicationCredentialRecord.self, id: credential.id)
                }
            }
        }
    }

    // MARK: Roles

    /// Gives `user` the `role` on `project` (one role per project: a grant of a weaker role
    /// than the one held changes nothing, as the held one implies it).
    public func grant(_ role: Role, user: String, project: String) throws(IdentityError) {
        guard try lookUp(ProjectRecord.self, .id(project)) != nil else { throw .notFound("Could not find project: \(project).") }
        _ = try changingUser(user) { (user: inout UserRecord) throws(IdentityError) in
            user.roles[project] = Role.strongest([role] + (user.roles[project].map { [$0] } ?? []))
        }
    }

    /// Takes `role` on `project` away; false when the user did not hold it.
    public func revoke(_ role: Role, user: String, project: String) throws(IdentityError) -> Bool {
        var held = false
        _ = try changingUser(user) { (user: inout UserRecord) throws(IdentityError) in
            held = user.roles[project] == role
            if held {
                user.roles[project] = nil
                user.revokeTokens(at: clock.now())
            }
        }
        // Its application credentials on that project go with the role, as in Keystone.
        if held {
            try changing { () throws(IdentityError) in
                for credential in try stored({ () throws(ComputeError) in try store.all(ApplicationCredentialRecord.self) })
                where credential.user == user && credential.project == project {
                    _ = try stored { () throws(ComputeError) in
                        try store.remove(ApplicationCredentialRecord.self, id: credential.id)
                    }
                }
            }
        }
        return held
    }

    // MARK: Application credentials

    /// A new application credential of `user` on `project` with at most the role the user
    /// holds there; the secret is returned once and kept only as its SHA-256.
    public func createApplicationCredential(
        user: String, project: String, role: Role?, name: String, description: String?, expires: Timestamp?,
        secret given: String? = nil
    ) throws(IdentityError) -> (secret: String, record: ApplicationCredentialRecord) {
        try Self.checkName(name, field: "application_credential.name")
        // A secret of the client's own is kept as its SHA-256 like a made one, so it must be as
        // hard to guess: at least 32 characters.
        if let given, given.utf8.count < 32 || given.utf8.count > 255 {
            throw .badRequest(
                "Invalid input for field 'application_credential.secret': 32 to 255 characters (or none: the service makes one).")
        }
        return try changing { () throws(IdentityError) in
            guard let owner = try lookUp(UserRecord.self, .id(user)) else { throw .notFound("Could not find user: \(user).") }
            guard let held = owner.roles[project] else {
                throw .forbidden("User \(user) has no role on project \(project) to delegate.")
            }
            let existing = try stored { () throws(ComputeError) in try store.all(ApplicationCredentialRecord.self) }
            guard !existing.contains(where: { $0.user == user && $0.name == name }) else {
                throw .conflict("Duplicate entry found with name \(name).")
            }
            if let role, Role.weakest([role, held]) != role {
                throw .forbidden("User \(user) does not hold the role \(role.rawValue) on project \(project).")
            }
            let secret = given ?? Secrets.hex(Secrets.random(32))
            let record = ApplicationCredentialRecord(
                id: Self.newID(), name: name, user: user, project: project, role: role ?? held,
                secretSHA256: Secrets.sha256(secret.utf8), description: description, expires: expires, created: clock.now())
            try stored { () throws(ComputeError) in try store.save(record) }
            return (secret, record)
        }
    }

    public func deleteApplicationCredential(id: String, user: String) throws(IdentityError) {
        try changing { () throws(IdentityError) in
            guard let credential = try lookUp(ApplicationCredentialRecord.self, .id(id)), credential.user == user,
                try stored({ () throws(ComputeError) in try store.remove(ApplicationCredentialRecord.self, id: id) })
            else { throw .notFound("Could not find application credential: \(id).") }
        }
    }

    // MARK: Helpers

    /// A Keystone-style id: 32 hex digits.
    static func newID() -> String { Secrets.hex(Secrets.random(16)) }

    static func checkName(_ name: String, field: String) throws(IdentityError) {
        guard !name.isEmpty, name.utf8.count <= 255, !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw .badRequest("Invalid input for field '\(field)': must be 1 to 255 characters, without control characters.")
        }
    }

    func changing<T>(_ body: () throws(IdentityError) -> T) throws(IdentityError) -> T {
        try writer.withLock { _ throws(IdentityError) in try body() }
    }

    private func changingUser(
        _ id: String, _ change: (inout UserRecord) throws(IdentityError) -> Void
    ) throws(IdentityError) -> UserRecord {
        try changingRecord(UserRecord.self, id, notFound: "Could not find user: \(id).", change)
    }

    /// Reads a record, changes it, and writes it only over what was read (`IdentityStore.replace`),
    /// reading again when another host (or the CLI) changed it meanwhile.
    func changingRecord<Record: NamedIdentityRecord>(
        _ type: Record.Type, _ id: String, notFound: String, _ change: (inout Record) throws(IdentityError) -> Void
    ) throws(IdentityError) -> Record {
        try changing { () throws(IdentityError) in
            for _ in 0..<5 {
                guard let old = try lookUp(type, .id(id)) else { throw .notFound(notFound) }
                var new = old
                try change(&new)
                if try stored({ () throws(ComputeError) in try store.replace(old, with: new) }) { return new }
            }
            throw .conflict("The record \(id) kept changing while this change was being made. Try again.")
        }
    }
}
