import ComputeCore

/// The bodies of the Keystone v3 subset, as keystoneauth, openstacksdk, gophercloud and
/// tempest send them (api-ref `authenticate-v3.inc`). Unknown members are ignored, as
/// Keystone's schemas allow; what is missing or mistyped is a 400 naming the field.
struct AuthRequestBody: Decodable {
    struct Auth: Decodable {
        var identity: Identity
        var scope: Scope?
    }

    struct Identity: Decodable {
        var methods: [String]
        var password: Password?
        var token: Token?
        var applicationCredential: ApplicationCredential?

        enum CodingKeys: String, CodingKey {
            case methods, password, token
            case applicationCredential = "application_credential"
        }
    }

    struct Password: Decodable {
        var user: User
    }

    struct User: Decodable {
        var id: String?
        var name: String?
        var domain: DomainBody?
        var password: String?
    }

    struct DomainBody: Decodable {
        var id: String?
        var name: String?
    }

    struct Token: Decodable {
        var id: String
    }

    struct ApplicationCredential: Decodable {
        var id: String?
        var name: String?
        var secret: String
        var user: User?
    }

    struct ProjectBody: Decodable {
        var id: String?
        var name: String?
        var domain: DomainBody?
    }

    /// `{"project": …}`, the string `"unscoped"`, or a scope this service does not offer.
    enum Scope: Decodable {
        case project(ProjectBody)
        case unscoped
        case other(String)

        private enum Keys: String, CodingKey { case project, domain, system }

        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                self = text == "unscoped" ? .unscoped : .other(text)
                return
            }
            let c = try decoder.container(keyedBy: Keys.self)
            if let project = try c.decodeIfPresent(ProjectBody.self, forKey: .project) {
                self = .project(project)
            } else {
                self = .other(c.contains(.domain) ? "domain" : c.contains(.system) ? "system" : "empty")
            }
        }
    }

    var auth: Auth

    /// The sign-in methods, in the order given, and the scope asked for.
    func signIn() throws(IdentityError) -> (methods: [SignInMethod], scope: SignInScope?) {
        var methods: [SignInMethod] = []
        for name in auth.identity.methods {
            switch name {
            case "password":
                guard let user = auth.identity.password?.user else {
                    throw .badRequest("Expecting to find password in identity.")
                }
                guard let password = user.password else { throw .badRequest("Expecting to find password in user.") }
                methods.append(
                    .password(user: try Self.reference(user.id, user.name, user.domain, what: "user"), password: password))
            case "application_credential":
                guard let credential = auth.identity.applicationCredential else {
                    throw .badRequest("Expecting to find application_credential in identity.")
                }
                let user = try credential.user.map { u throws(IdentityError) in
                    try Self.reference(u.id, u.name, u.domain, what: "application_credential.user")
                }
                methods.append(
                    .applicationCredential(id: credential.id, name: credential.name, user: user, secret: credential.secret))
            case "token":
                guard let token = auth.identity.token else { throw .badRequest("Expecting to find token in identity.") }
                methods.append(.token(token.id))
            default:
                throw .unauthorized("Attempted to authenticate with an unsupported method: \(name.prefix(64)).")
            }
        }
        switch auth.scope {
        case nil: return (methods, nil)
        case .unscoped: return (methods, .unscoped)
        case .project(let project):
            return (methods, .project(try Self.reference(project.id, project.name, project.domain, what: "scope.project")))
        case .other(let kind):
            throw .badRequest("Only project scope is offered here (not \(kind.prefix(32))): scope to a project.")
        }
    }

    static func reference(
        _ id: String?, _ name: String?, _ domain: DomainBody?, what: String
    ) throws(IdentityError) -> IdentityReference {
        if let id { return .id(id) }
        guard let name else { throw .badRequest("Expecting to find id or name in \(what).") }
        if let domain = domain?.id { return .name(name, domain: .id(domain)) }
        if let domain = domain?.name { return .name(name, domain: .name(domain)) }
        throw .badRequest("Expecting to find domain in \(what): a name is unique within a domain.")
    }
}

struct ProjectCreateBody: Decodable {
    struct Project: Decodable {
        var name: String?
        var description: String?
        var enabled: Bool?
        var domainID: String?

        enum CodingKeys: String, CodingKey {
            case name, description, enabled
            case domainID = "domain_id"
        }
    }

    var project: Project
}

struct UserBody: Decodable {
    struct User: Decodable {
        var name: String?
        var password: String?
        var enabled: Bool?
        var email: String?
        var description: String?
        var defaultProjectID: String?
        var domainID: String?

        enum CodingKeys: String, CodingKey {
            case name, password, enabled, email, description
            case defaultProjectID = "default_project_id"
            case domainID = "domain_id"
        }
    }

    var user: User
}

struct PasswordChangeBody: Decodable {
    struct User: Decodable {
        var password: String
        var originalPassword: String

        enum CodingKeys: String, CodingKey {
            case password
            case originalPassword = "original_password"
        }
    }

    var user: User
}

struct ApplicationCredentialBody: Decodable {
    struct Credential: Decodable {
        struct RoleBody: Decodable {
            var id: String?
            var name: String?
        }

        var name: String
        var description: String?
        var expiresAt: String?
        var roles: [RoleBody]?
        var secret: String?
        var unrestricted: Bool?

        enum CodingKeys: String, CodingKey {
            case name, description, roles, secret, unrestricted
            case expiresAt = "expires_at"
        }
    }

    var applicationCredential: Credential

    enum CodingKeys: String, CodingKey {
        case applicationCredential = "application_credential"
    }
}
