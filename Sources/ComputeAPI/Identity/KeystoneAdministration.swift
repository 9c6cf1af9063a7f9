import ComputeCore
import HTTPTypes

/// Keystone's projects, users, roles, domains, grants and application credentials: what
/// tempest's dynamic credentials and an admin's `openstack project/user/role` commands use.
extension KeystoneAPI {
    func registerProjects(into router: inout Router<RequestContext>) {
        router.add(.get, "/identity/v3/projects", .identityProjectsIndex) { c, _ in
            let query = try QueryParameters(c.request.query)
            guard c.caller.isAdmin else { return try projects(ofUser: c.caller.userID, c) }
            var projects = try stored { () throws(ComputeError) in try identity.store.all(ProjectRecord.self) }
            if let name = try query.value("name") { projects = projects.filter { $0.name == name } }
            return Self.list("projects", projects) { p, w in KeystoneView.project(p, base: Self.base(c), into: &w) }
        }
        router.add(.post, "/identity/v3/projects", .identityProjectsChange) { c, _ in
            let body = try c.decodeBody(ProjectCreateBody.self).project
            try Self.checkDomain(body.domainID)
            guard let name = body.name else { throw IdentityError.badRequest("'name' is a required property.") }
            let project = try identity.createProject(
                name: name, description: body.description ?? "", enabled: body.enabled ?? true)
            return APIResponse.document("project", status: .created) { w in
                KeystoneView.project(project, base: Self.base(c), into: &w)
            }
        }
        router.add(.get, "/identity/v3/projects/{project}", .identityProjectsShow) { c, p in
            let id = p["project"]
            let project = try stored { () throws(ComputeError) in try identity.store.record(ProjectRecord.self, id: id) }
            // A project without a record is still the caller's own (its id is its name).
            guard let project = project ?? (c.caller.projectID == id ? ProjectRecord(id: id, name: id, created: .zero) : nil)
            else { throw IdentityError.notFound("Could not find project: \(id).") }
            return APIResponse.document("project") { w in KeystoneView.project(project, base: Self.base(c), into: &w) }
        }
        router.add(.patch, "/identity/v3/projects/{project}", .identityProjectsChange) { c, p in
            let body = try c.decodeBody(ProjectCreateBody.self).project
            let project = try identity.updateProject(
                id: p["project"], name: body.name, description: body.description, enabled: body.enabled)
            return APIResponse.document("project") { w in KeystoneView.project(project, base: Self.base(c), into: &w) }
        }
        router.add(.delete, "/identity/v3/projects/{project}", .identityProjectsChange) { _, p in
            try identity.deleteProject(id: p["project"])
            return .empty(.noContent)
        }
    }

    func registerUsers(into router: inout Router<RequestContext>) {
        router.add(.get, "/identity/v3/users", .identityUsersIndex) { c, _ in
            let query = try QueryParameters(c.request.query)
            var users = try stored { () throws(ComputeError) in try identity.store.all(UserRecord.self) }
            if let name = try query.value("name") { users = users.filter { $0.name == name } }
            return Self.list("users", users) { u, w in KeystoneView.user(u, base: Self.base(c), into: &w) }
        }
        router.add(.post, "/identity/v3/users", .identityUsersChange) { c, _ in
            let body = try c.decodeBody(UserBody.self).user
            try Self.checkDomain(body.domainID)
            guard let name = body.name else { throw IdentityError.badRequest("'name' is a required property.") }
            let user = try identity.createUser(
                name: name, password: body.password, defaultProject: body.defaultProjectID, enabled: body.enabled ?? true,
                email: body.email, description: body.description)
            return APIResponse.document("user", status: .created) { w in KeystoneView.user(user, base: Self.base(c), into: &w) }
        }
        router.add(.get, "/identity/v3/users/{user}", .identityUsersShow) { c, p in
            guard let user = try stored({ () throws(ComputeError) in try identity.store.record(UserRecord.self, id: p["user"]) })
            else { throw IdentityError.notFound("Could not find user: \(p["user"]).") }
            return APIResponse.document("user") { w in KeystoneView.user(user, base: Self.base(c), into: &w) }
        }
        router.add(.patch, "/identity/v3/users/{user}", .identityUsersChange) { c, p in
            let body = try c.decodeBody(UserBody.self).user
            let change = Identity.UserChange(
                name: body.name, password: body.password, defaultProject: body.defaultProjectID.map { .some($0) },
                enabled: body.enabled, email: body.email.map { .some($0) }, description: body.description.map { .some($0) })
            let user = try identity.updateUser(id: p["user"], change)
            return APIResponse.document("user") { w in KeystoneView.user(user, base: Self.base(c), into: &w) }
        }
        router.add(.delete, "/identity/v3/users/{user}", .identityUsersChange) { _, p in
            try identity.deleteUser(id: p["user"])
            return .empty(.noContent)
        }
        router.add(.post, "/identity/v3/users/{user}/password", .identityChangePassword) { c, p in
            let body = try c.decodeBody(PasswordChangeBody.self).user
            try identity.changePassword(userID: p["user"], original: body.originalPassword, new: body.password)
            return .empty(.noContent)
        }
        router.add(.get, "/identity/v3/users/{user}/projects", .identityUserProjects) { c, p in
            try projects(ofUser: p["user"], c)
        }
    }

    func registerRoles(into router: inout Router<RequestContext>) {
        router.add(.get, "/identity/v3/roles", .identityRoles) { c, _ in
            let query = try QueryParameters(c.request.query)
            var roles = Role.allCases
            if let name = try query.value("name") { roles = roles.filter { $0.rawValue == name } }
            return Self.list("roles", roles) { r, w in KeystoneView.role(r, base: Self.base(c), into: &w) }
        }
        router.add(.get, "/identity/v3/roles/{role}", .identityRoles) { c, p in
            let role = try Self.role(p["role"])
            return APIResponse.document("role") { w in KeystoneView.role(role, base: Self.base(c), into: &w) }
        }
        router.add(.get, "/identity/v3/domains", .identityDomains) { c, _ in
            let query = try QueryParameters(c.request.query)
            let all = try query.value("name").map { $0 == Domain.name } ?? true
            return Self.list("domains", all ? [()] : []) { _, w in KeystoneView.domainDocument(base: Self.base(c), into: &w) }
        }
        router.add(.get, "/identity/v3/domains/{domain}", .identityDomains) { c, p in
            guard p["domain"] == Domain.id else { throw IdentityError.notFound("Could not find domain: \(p["domain"]).") }
            return APIResponse.document("domain") { w in KeystoneView.domainDocument(base: Self.base(c), into: &w) }
        }
        let grant = "/identity/v3/projects/{project}/users/{user}/roles/{role}"
        router.add(.put, grant, .identityGrants) { _, p in
            try identity.grant(try Self.role(p["role"]), user: p["user"], project: p["project"])
            return .empty(.noContent)
        }
        router.add(.get, grant, .identityGrants) { _, p in
            let role = try Self.role(p["role"])
            let user = try stored { () throws(ComputeError) in try identity.store.record(UserRecord.self, id: p["user"]) }
            guard user?.roles[p["project"]]?.implied.contains(role) == true else {
                throw IdentityError.notFound("Could not find role assignment.")
            }
            return .empty(.noContent)
        }
        router.add(.delete, grant, .identityGrants) { _, p in
            guard try identity.revoke(try Self.role(p["role"]), user: p["user"], project: p["project"]) else {
                throw IdentityError.notFound("Could not find role assignment.")
            }
            return .empty(.noContent)
        }
        router.add(.get, "/identity/v3/projects/{project}/users/{user}/roles", .identityGrants) { c, p in
            let user = try stored { () throws(ComputeError) in try identity.store.record(UserRecord.self, id: p["user"]) }
            let roles = user?.roles[p["project"]].map { [$0] } ?? []
            return Self.list("roles", roles) { r, w in KeystoneView.role(r, base: Self.base(c), into: &w) }
        }
        router.add(.get, "/identity/v3/role_assignments", .identityRoleAssignments) { c, _ in
            let query = try QueryParameters(c.request.query)
            let userFilter = try query.value("user.id")
            let projectFilter = try query.value("scope.project.id")
            let effective = query.pairs.contains { $0.name == "effective" }
            var assignments: [(user: UserRecord, project: ProjectRecord, role: Role)] = []
            for user in try stored({ () throws(ComputeError) in try identity.store.all(UserRecord.self) })
            where userFilter.map({ $0 == user.id }) ?? true {
                for (id, held) in user.roles.sorted(by: { $0.key < $1.key }) where projectFilter.map({ $0 == id }) ?? true {
                    let project =
                        try stored { () throws(ComputeError) in try identity.store.record(ProjectRecord.self, id: id) }
                        ?? ProjectRecord(id: id, name: id, created: .zero)
                    for role in effective ? held.implied : [held] { assignments.append((user, project, role)) }
                }
            }
            return Self.list("role_assignments", assignments) { a, w in
                KeystoneView.assignment(user: a.user, project: a.project, role: a.role, base: Self.base(c), into: &w)
            }
        }
    }

    func registerApplicationCredentials(into router: inout Router<RequestContext>) {
        let collection = "/identity/v3/users/{user}/application_credentials"
        router.add(.get, collection, .identityApplicationCredentials) { c, p in
            let query = try QueryParameters(c.request.query)
            var credentials = try stored { () throws(ComputeError) in
                try identity.store.all(ApplicationCredentialRecord.self).filter { $0.user == p["user"] }
            }
            if let name = try query.value("name") { credentials = credentials.filter { $0.name == name } }
            return Self.list("application_credentials", credentials) { a, w in
                KeystoneView.applicationCredential(a, secret: nil, base: Self.base(c), into: &w)
            }
        }
        router.add(.post, collection, .identityApplicationCredentials) { c, p in
            // Users make their own, as in Keystone: not even an admin makes one for someone else.
            guard c.caller.userID == p["user"] else {
                throw IdentityError.forbidden("Application credentials are made by their user, with that user's token.")
            }
            try refuseApplicationCredentialTokens(c)
            let body = try c.decodeBody(ApplicationCredentialBody.self).applicationCredential
            let roles = try (body.roles ?? []).map { r throws(IdentityError) in try Self.role(r.id ?? r.name ?? "") }
            let expires = try body.expiresAt.map { text throws(IdentityError) in
                guard let instant = Timestamp(iso8601: text) else {
                    throw IdentityError.badRequest("Invalid input for field 'expires_at': not an ISO 8601 time.")
                }
                return instant
            }
            // Made for the project of the token that asks (as Keystone does).
            // At most the role of the token that asks (its user may hold more elsewhere).
            let asked = Role.strongest(roles) ?? c.caller.role
            let (secret, record) = try identity.createApplicationCredential(
                user: p["user"], project: c.caller.projectID, role: Role.weakest([asked, c.caller.role]), name: body.name,
                description: body.description, expires: expires, secret: body.secret)
            return APIResponse.document("application_credential", status: .created) { w in
                KeystoneView.applicationCredential(record, secret: secret, base: Self.base(c), into: &w)
            }
        }
        router.add(.get, collection + "/{credential}", .identityApplicationCredentials) { c, p in
            let record = try stored { () throws(ComputeError) in
                try identity.store.record(ApplicationCredentialRecord.self, id: p["credential"])
            }
            guard let record, record.user == p["user"] else {
                throw IdentityError.notFound("Could not find application credential: \(p["credential"]).")
            }
            return APIResponse.document("application_credential") { w in
                KeystoneView.applicationCredential(record, secret: nil, base: Self.base(c), into: &w)
            }
        }
        router.add(.delete, collection + "/{credential}", .identityApplicationCredentials) { c, p in
            try refuseApplicationCredentialTokens(c)
            try identity.deleteApplicationCredential(id: p["credential"], user: p["user"])
            return .empty(.noContent)
        }
    }

    /// A token obtained with an application credential may not make or delete application
    /// credentials (Keystone's restricted credentials): it could otherwise mint one with more
    /// than it was given, or outlive its own deletion.
    func refuseApplicationCredentialTokens(_ c: RequestContext) throws(IdentityError) {
        guard let token = ComputeService.token(in: c.request.headerFields) else { return }
        if try stored({ () throws(ComputeError) in try identity.details(ofToken: token) })?.applicationCredential != nil {
            throw .forbidden("A token from an application credential cannot make or delete application credentials.")
        }
    }

    /// A role by id or name (they are the same here).
    static func role(_ text: String) throws(IdentityError) -> Role {
        guard let role = Role(rawValue: text) else { throw .notFound("Could not find role: \(text.prefix(64)).") }
        return role
    }

    static func checkDomain(_ id: String?) throws(IdentityError) {
        if let id, id != Domain.id { throw .notFound("Could not find domain: \(id.prefix(64)).") }
    }
}
