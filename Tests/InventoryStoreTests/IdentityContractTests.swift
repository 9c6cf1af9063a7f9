import ComputeCore
import ComputeTesting
import Foundation
import InMemoryStore
import JSONFileStore
import Testing

@testable import PostgresStore

/// An `Identity` over a fresh identity store of one kind (memory, a data directory's files, a
/// PostgreSQL schema), with a clock tests move and a fast password hash; `reopened()` is what
/// a restart (or another host) finds.
final class IdentityFixture: Sendable {
    let kind: StoreKind
    let clock = TestClock()
    let identity: Identity
    private let directory: String?
    private let schema: String?
    private let databaseURL: String?
    static let settings = Identity.Settings(tokenLifetimeSeconds: 3600, passwordIterations: 1_000)

    init(_ kind: StoreKind) throws {
        self.kind = kind
        var (directory, schema, url): (String?, String?, String?) = (nil, nil, nil)
        let store: any IdentityStore
        switch kind {
        case .memory:
            store = MemoryIdentityStore()
        case .jsonFiles:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("alliance-identity-\(UUID().uuidString)")
                .path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            store = try IdentityFiles(dataDirectory: path)
            directory = path
        case .postgres:
            let name = "identity_" + UUID().uuidString.lowercased().filter { $0 != "-" }
            try StoreFixture.sql("CREATE SCHEMA \(name)")
            url = StoreKind.testDatabaseURL! + "&options=-c%20search_path%3D\(name)"
            _ = try PostgresStore.upgrade(url: url!)
            store = try PostgresStore(url: url!, networks: [], logger: quiet).identity()
            schema = name
        }
        (self.directory, self.schema, databaseURL) = (directory, schema, url)
        identity = Identity(store: store, settings: Self.settings, clock: clock)
    }

    deinit {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        if let schema { try? StoreFixture.sql("DROP SCHEMA \(schema) CASCADE") }
    }

    /// The same records through a new store (nil for memory, which keeps nothing).
    func reopened() throws -> Identity? {
        switch kind {
        case .memory: return nil
        case .jsonFiles:
            return Identity(store: try IdentityFiles(dataDirectory: directory!), settings: Self.settings, clock: clock)
        case .postgres:
            let store = try PostgresStore(url: databaseURL!, networks: [], logger: quiet).identity()
            return Identity(store: store, settings: Self.settings, clock: clock)
        }
    }

    /// A member of project `demo` (made with its name as id, as the CLI makes it).
    @discardableResult
    func member(_ name: String = "ada", password: String = "correct horse", role: Role = .member) throws -> UserRecord {
        if try identity.store.record(ProjectRecord.self, id: "demo") == nil {
            _ = try identity.createProject(name: "demo", id: "demo")
        }
        return try identity.createUser(name: name, password: password, defaultProject: "demo", roles: ["demo": role])
    }

    func signIn(_ name: String = "ada", password: String = "correct horse", project: String? = "demo") throws -> IssuedToken {
        try identity.signIn(
            [.password(user: .name(name, domain: .name("Default")), password: password)],
            scope: project.map { .project(.name($0, domain: .id("default"))) })
    }
}

/// The identity rules over every `IdentityStore`: what a user, a token and an application
/// credential are, and that each store keeps them (and forgets them) the same way.
@Suite struct IdentityContractTests {
    @Test(arguments: StoreKind.all)
    func keypairsAreEachUsersOwnAndTheirNamesUnique(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAfKfnionbRzWsWLjtoVTyfE8eX2Kc0BqVGoyXEeH7Dx ada@example"
        let (made, _) = try f.identity.createKeypair(user: "u1", name: "k", publicKey: key)
        _ = try f.identity.createKeypair(user: "u2", name: "k", publicKey: key)
        #expect(throws: ComputeError.conflict("Key pair 'k' already exists.")) {
            try f.identity.createKeypair(user: "u1", name: "k", publicKey: key)
        }
        if let other = try f.reopened() {
            #expect(try other.keypair(user: "u1", name: "k") == made, "another host (or a restart) sees it")
            // Two hosts that each checked the name before either saved: the store refuses the second.
            let duplicate = KeypairRecord(
                id: "second", name: "k", user: "u1", key: try SSHPublicKey(key), created: f.clock.now())
            if kind == .postgres {
                #expect(throws: ComputeError.conflict("Key pair 'k' already exists.")) { try other.store.save(duplicate) }
            }
        }
        try f.identity.deleteKeypair(user: "u1", name: "k")
        #expect(try f.identity.keypairs(user: "u1").isEmpty && f.identity.keypairs(user: "u2").count == 1)
        #expect(throws: ComputeError.notFound("Keypair k not found for user u1")) {
            try f.identity.deleteKeypair(user: "u1", name: "k")
        }
    }

    @Test(arguments: StoreKind.all)
    func serverGroupsAreKeptAndMembersJoinOverWhatWasLastStored(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        let caller = Caller(projectID: "p", userID: "u")
        let group = try f.identity.createServerGroup(name: "g", policy: .antiAffinity, maxServerPerHost: 5, caller: caller)
        func join(_ identity: Identity, _ id: String, live: @escaping (String) -> Bool = { _ in true }) throws {
            let joined = try identity.creatingMembers(
                ofServerGroup: group.id, count: 1, caller: caller, isLive: { member throws(ComputeError) in live(member) },
                create: { () throws(ComputeError) -> [String] in [id] })
            #expect(joined == [id])
        }
        try join(f.identity, "s1")
        var expected = ["s1"]
        if let other = try f.reopened() {
            #expect(try other.serverGroup(id: group.id, caller: caller).members == ["s1"], "another host (or a restart) sees it")
            try join(other, "s2")
            expected.append("s2")
        }
        // This host changes the group over the record as stored now, so another host's member stays.
        try join(f.identity, "s3")
        expected.append("s3")
        #expect(try f.identity.serverGroup(id: group.id, caller: caller).members == expected)
        // Members deleted since are dropped when the next one joins.
        try join(f.identity, "s4", live: { $0 != "s1" })
        #expect(try f.identity.serverGroup(id: group.id, caller: caller).members == Array(expected.dropFirst()) + ["s4"])
        #expect(try f.identity.serverGroups(containing: "s4", projectID: "p") == [group.id])
        #expect(throws: ComputeError.notFound("Server group \(group.id) could not be found.")) {
            try f.identity.serverGroup(id: group.id, caller: Caller(projectID: "q", userID: "v"))
        }
        try f.identity.deleteServerGroup(id: group.id, caller: caller)
        #expect(try f.identity.serverGroups(projectID: "p").isEmpty)
        #expect(throws: ComputeError.invalidInput("Invalid server group: \(group.id) could not be found.")) {
            try join(f.identity, "s5")
        }
    }

    @Test(arguments: StoreKind.all)
    func securityGroupsAreKeptWithTheirRulesAndEveryHostMakesTheSameDefault(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        let caller = Caller(projectID: "p", userID: "u")
        let defaultGroup = try f.identity.defaultSecurityGroup(projectID: "p")
        let web = try f.identity.createSecurityGroup(name: "web", description: "", projectID: "p", caller: caller)
        var ssh = SecurityGroupRuleDraft(direction: "ingress", ipProtocol: "tcp", ports: 22...22)
        let (_, rule) = try f.identity.addSecurityGroupRule(ssh, toGroup: web.id, caller: caller)
        if let other = try f.reopened() {
            #expect(try other.defaultSecurityGroup(projectID: "p") == defaultGroup, "one default group, whoever asks")
            let seen = try other.securityGroup(id: web.id, caller: caller)
            #expect(seen.rules.contains(rule) && seen.rules.count == 3, "another host (or a restart) sees the rule")
            // The other host changes the group over what is stored, so this host's rule stays.
            ssh.portRangeMin = 2222
            ssh.portRangeMax = 2222
            _ = try other.addSecurityGroupRule(ssh, toGroup: web.id, caller: caller)
        }
        #expect(throws: ComputeError.conflict("Security group rule already exists. Rule id is \(rule.id).")) {
            try f.identity.addSecurityGroupRule(
                SecurityGroupRuleDraft(direction: "ingress", ipProtocol: "tcp", ports: 22...22), toGroup: web.id, caller: caller)
        }
        #expect(throws: ComputeError.notFound("Security group \(web.id) does not exist")) {
            try f.identity.securityGroup(id: web.id, caller: Caller(projectID: "q", userID: "v"))
        }
        try f.identity.deleteSecurityGroupRule(id: rule.id, caller: caller)
        #expect(try !f.identity.securityGroup(id: web.id, caller: caller).rules.contains(rule))
        try f.identity.deleteSecurityGroup(id: web.id, caller: caller) { _ throws(ComputeError) in false }
        #expect(try f.identity.securityGroups(projectID: "p").map(\.name) == ["default"])
    }

    @Test(arguments: StoreKind.all)
    func aUserSignsInAndTheTokenStandsForThemUntilRevoked(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        let user = try f.member()
        let issued = try f.signIn()
        #expect(issued.details.user.id == user.id && issued.details.project?.id == "demo")
        #expect(try f.identity.caller(forToken: issued.token) == Caller(projectID: "demo", userID: user.id, role: .member))
        // Another host (or a restart) knows the user and the token.
        if let other = try f.reopened() {
            #expect(try other.caller(forToken: issued.token)?.userID == user.id)
            #expect(
                try other.signIn([.password(user: .id(user.id), password: "correct horse")], scope: nil).details.project?.id
                    == "demo")
        }
        #expect(try f.identity.revoke(token: issued.token))
        #expect(try f.identity.caller(forToken: issued.token) == nil)
        #expect(try f.identity.revoke(token: issued.token) == false)
    }

    /// tempest makes a user and signs in within the same second: the token is not older than
    /// the password.
    @Test(arguments: StoreKind.all)
    func aTokenIssuedTheSameSecondAsThePasswordWorks(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        f.clock.advance(microseconds: 300_000)
        try f.member()
        f.clock.advance(microseconds: 300_000)
        let issued = try f.signIn()
        #expect(try f.identity.caller(forToken: issued.token) != nil)
        #expect(try f.reopened()?.caller(forToken: issued.token) != nil || kind == .memory)
    }

    @Test(arguments: StoreKind.all)
    func wrongPasswordsAndUnknownUsersAreRefusedAlike(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        try f.member()
        let refusal = IdentityError.unauthorized("The request you have made requires authentication.")
        #expect(throws: refusal) { try f.signIn(password: "Tr0ub4dor&3") }
        #expect(throws: refusal) { try f.signIn("nobody") }
        #expect(throws: IdentityError.unauthorized("Could not find project: elsewhere.")) { try f.signIn(project: "elsewhere") }
    }

    @Test(arguments: StoreKind.all)
    func namesAreUniqueAndRecordsAreForgotten(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        let user = try f.member()
        #expect(throws: IdentityError.conflict("Duplicate entry found with name ada at domain ID default.")) {
            try f.identity.createUser(name: "ada", password: "x")
        }
        #expect(throws: IdentityError.conflict("Duplicate entry found with name demo at domain ID default.")) {
            try f.identity.createProject(name: "demo")
        }
        let token = try f.signIn().token
        try f.identity.deleteUser(id: user.id)
        #expect(try f.identity.caller(forToken: token) == nil)
        #expect(try f.identity.store.record(UserRecord.self, id: user.id) == nil)
        #expect(throws: IdentityError.notFound("Could not find user: \(user.id).")) { try f.identity.deleteUser(id: user.id) }
    }

    @Test(arguments: StoreKind.all)
    func aNewPasswordEndsTheTokensIssuedBefore(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        let user = try f.member()
        let before = try f.signIn().token
        f.clock.advance(seconds: 1)
        try f.identity.changePassword(userID: user.id, original: "correct horse", new: "battery staple")
        #expect(try f.identity.caller(forToken: before) == nil)
        #expect(throws: IdentityError.unauthorized("The request you have made requires authentication.")) { try f.signIn() }
        #expect(try f.identity.caller(forToken: try f.signIn(password: "battery staple").token) != nil)
    }

    @Test(arguments: StoreKind.all)
    func tokensExpireAndExpiredOnesAreRemoved(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        try f.member()
        let issued = try f.signIn()
        f.clock.advance(seconds: 3599)
        #expect(try f.identity.caller(forToken: issued.token) != nil)
        f.clock.advance(seconds: 1)
        #expect(try f.identity.caller(forToken: issued.token) == nil)
        try f.identity.store.removeExpiredTokens(at: f.clock.now())
        #expect(try f.identity.store.token(id: issued.details.record.id) == nil)
    }

    @Test(arguments: StoreKind.all)
    func anApplicationCredentialSignsInUntilDeleted(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        let user = try f.member()
        let (secret, credential) = try f.identity.createApplicationCredential(
            user: user.id, project: "demo", role: .reader, name: "ci", description: nil, expires: nil)
        #expect(credential.sha256 != secret && !credential.sha256.isEmpty)
        let byID = try f.identity.signIn(
            [.applicationCredential(id: credential.id, name: nil, user: nil, secret: secret)], scope: nil)
        #expect(try f.identity.caller(forToken: byID.token) == Caller(projectID: "demo", userID: user.id, role: .reader))
        let byName = try f.identity.signIn(
            [.applicationCredential(id: nil, name: "ci", user: .name("ada", domain: .id("default")), secret: secret)], scope: nil)
        #expect(byName.details.applicationCredential?.id == credential.id)
        // The secret with its first character changed (never the same secret).
        let wrong = (secret.first == "0" ? "1" : "0") + secret.dropFirst()
        #expect(throws: IdentityError.unauthorized("The request you have made requires authentication.")) {
            try f.identity.signIn([.applicationCredential(id: credential.id, name: nil, user: nil, secret: wrong)], scope: nil)
        }
        try f.identity.deleteApplicationCredential(id: credential.id, user: user.id)
        #expect(try f.identity.caller(forToken: byID.token) == nil)
    }

    @Test(arguments: StoreKind.all)
    func anAdminMakesAProjectAUserAndAGrant(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        let project = try f.identity.createProject(name: "tempest-1", description: "made by an admin")
        #expect(project.id.count == 32 && project.id != project.name)
        let user = try f.identity.createUser(name: "tempest-user", password: "pw", defaultProject: project.id)
        // No role yet: the user proves who they are but reaches no project.
        #expect(throws: IdentityError.unauthorized("User \(user.id) has no access to project \(project.id).")) {
            try f.signIn("tempest-user", password: "pw", project: "tempest-1")
        }
        try f.identity.grant(.member, user: user.id, project: project.id)
        let issued = try f.signIn("tempest-user", password: "pw", project: "tempest-1")
        #expect(try f.identity.caller(forToken: issued.token) == Caller(projectID: project.id, userID: user.id, role: .member))
        #expect(try f.identity.revoke(.member, user: user.id, project: project.id))
        #expect(try f.identity.caller(forToken: issued.token) == nil)
        try f.identity.deleteProject(id: project.id)
        #expect(try f.identity.store.record(ProjectRecord.self, id: project.id) == nil)
    }

    /// Withdrawn access stays withdrawn: a role taken away and a weaker one given, a user
    /// disabled and enabled again, a disabled project; each ends the tokens issued before.
    @Test(arguments: StoreKind.all)
    func withdrawnAccessDoesNotComeBack(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        let user = try f.member(role: .admin)
        let (secret, credential) = try f.identity.createApplicationCredential(
            user: user.id, project: "demo", role: nil, name: "ci", description: nil, expires: nil)
        _ = secret
        let admin = try f.signIn().token
        f.clock.advance(seconds: 1)
        #expect(try f.identity.revoke(.admin, user: user.id, project: "demo"))
        try f.identity.grant(.reader, user: user.id, project: "demo")
        #expect(try f.identity.caller(forToken: admin) == nil)
        #expect(try f.identity.store.record(ApplicationCredentialRecord.self, id: credential.id) == nil)
        let reader = try f.signIn().token
        #expect(try f.identity.caller(forToken: reader)?.role == .reader)
        f.clock.advance(seconds: 1)
        _ = try f.identity.updateUser(id: user.id, Identity.UserChange(enabled: false))
        _ = try f.identity.updateUser(id: user.id, Identity.UserChange(enabled: true))
        #expect(try f.identity.caller(forToken: reader) == nil)
        let again = try f.signIn().token
        _ = try f.identity.updateProject(id: "demo", name: nil, description: nil, enabled: false)
        #expect(try f.identity.caller(forToken: again) == nil)
        #expect(throws: IdentityError.unauthorized("Project demo is disabled.")) { try f.signIn() }
    }

    /// A token re-scoped from one whose application credential expires never outlives it.
    @Test(arguments: StoreKind.all)
    func reScopedTokensKeepTheEarliestExpiry(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        let user = try f.member()
        let (secret, credential) = try f.identity.createApplicationCredential(
            user: user.id, project: "demo", role: nil, name: "ci", description: nil, expires: f.clock.now().adding(seconds: 5400))
        let first = try f.identity.signIn(
            [.applicationCredential(id: credential.id, name: nil, user: nil, secret: secret)], scope: nil)
        f.clock.advance(seconds: 3000)
        let renewed = try f.identity.signIn([.token(first.token)], scope: nil)
        #expect(renewed.details.record.expiresAt == first.details.record.expiresAt)
    }

    /// Two hosts change one user at once (a password reset on one, a grant on the other, before
    /// either hears of the other's): both changes are kept, and a deleted user stays deleted.
    @Test(arguments: StoreKind.all.filter { $0 != .memory })
    func concurrentChangesOnTwoHostsAreBothKept(kind: StoreKind) throws {
        let f = try IdentityFixture(kind)
        let user = try f.member()
        let other = try #require(try f.reopened())
        // Both hosts have read (and cached) what they change.
        _ = try other.store.record(UserRecord.self, id: user.id)
        _ = try f.identity.store.record(UserRecord.self, id: user.id)
        _ = try other.createProject(name: "second", id: "second")
        f.clock.advance(seconds: 1)
        _ = try other.updateUser(id: user.id, Identity.UserChange(password: "after the reset"))
        try f.identity.grant(.member, user: user.id, project: "second")
        let stored = try #require(try other.store.all(UserRecord.self).first { $0.id == user.id })
        #expect(stored.roles == ["demo": .member, "second": .member])
        #expect(stored.password?.matches("after the reset") == true)
        try other.deleteUser(id: user.id)
        #expect(throws: IdentityError.notFound("Could not find user: \(user.id).")) {
            try f.identity.grant(.reader, user: user.id, project: "demo")
        }
        #expect(try other.store.record(UserRecord.self, id: user.id) == nil)
    }
}
