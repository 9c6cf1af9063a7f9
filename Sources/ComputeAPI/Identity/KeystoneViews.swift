import ComputeCore

/// Keystone v3's JSON shapes: tokens (with the service catalog), users, projects, roles,
/// domains, application credentials. Times are `%Y-%m-%dT%H:%M:%S.%fZ`, as Keystone writes them.
enum KeystoneView {
    /// The services this API is, each at its public URL under the request's origin: what
    /// clients find endpoints through (`compute` at `/v2.1`, Glance's `image` at `/image`,
    /// Neutron's `network` at `/network`, `identity` at `/identity/v3`).
    static let services: [(type: String, name: String, path: String)] = [
        ("compute", "nova", "/v2.1"),
        ("image", "glance", "/image"),
        ("network", "neutron", "/network"),
        ("identity", "keystone", "/identity/v3"),
    ]
    static let region = "RegionOne"

    static func catalog(base: String, into w: inout JSONWriter) {
        w.beginArray()
        for service in services {
            w.beginObject()
            w.field("id", service.type)
            w.field("type", service.type)
            w.field("name", service.name)
            w.key("endpoints")
            w.beginArray()
            for interface in ["public", "internal", "admin"] {
                w.beginObject()
                w.field("id", "\(service.type)-\(interface)")
                w.field("interface", interface)
                w.field("region", region)
                w.field("region_id", region)
                w.field("url", base + service.path)
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        w.endArray()
    }

    static func token(_ details: TokenDetails, catalog base: String?, into w: inout JSONWriter) {
        let record = details.record
        w.beginObject()
        w.key("methods")
        w.beginArray()
        for method in record.methods ?? ["token"] { w.string(method) }
        w.endArray()
        w.key("user")
        w.beginObject()
        domain(into: &w)
        w.field("id", details.user.id)
        w.field("name", details.user.name)
        w.field("password_expires_at", nil)
        w.endObject()
        w.key("audit_ids")
        w.beginArray()
        w.string(record.audit ?? record.id)
        w.endArray()
        w.field("expires_at", record.expiresAt.map(time) ?? "9999-12-31T23:59:59.000000Z")
        w.field("issued_at", time(record.createdAt ?? .zero))
        if let project = details.project {
            w.key("project")
            w.beginObject()
            domain(into: &w)
            w.field("id", project.id)
            w.field("name", project.name)
            w.endObject()
            w.field("is_domain", false)
            w.key("roles")
            w.beginArray()
            for role in record.role.implied { self.role(role, into: &w) }
            w.endArray()
        }
        if let credential = details.applicationCredential {
            w.key("application_credential")
            w.beginObject()
            w.field("id", credential.id)
            w.field("name", credential.name)
            w.field("restricted", !credential.unrestricted)
            w.endObject()
        }
        if let base, details.project != nil {
            w.key("catalog")
            catalog(base: base, into: &w)
        }
        w.endObject()
    }

    static func time(_ instant: Timestamp) -> String { instant.iso8601Microseconds }

    static func domain(into w: inout JSONWriter) {
        w.key("domain")
        w.beginObject()
        w.field("id", Domain.id)
        w.field("name", Domain.name)
        w.endObject()
    }

    static func domainDocument(base: String, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", Domain.id)
        w.field("name", Domain.name)
        w.field("description", "The one domain of this service.")
        w.field("enabled", true)
        links(base, "domains/\(Domain.id)", into: &w)
        w.endObject()
    }

    static func role(_ role: Role, base: String? = nil, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", role.rawValue)
        w.field("name", role.rawValue)
        w.field("domain_id", nil)
        if let base {
            w.field("description", nil)
            links(base, "roles/\(role.rawValue)", into: &w)
        }
        w.endObject()
    }

    static func project(_ project: ProjectRecord, base: String, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", project.id)
        w.field("name", project.name)
        w.field("domain_id", project.domain)
        w.field("description", project.description)
        w.field("enabled", project.enabled)
        w.field("is_domain", false)
        w.field("parent_id", project.domain)
        w.key("tags")
        w.beginArray()
        w.endArray()
        w.key("options")
        w.beginObject()
        w.endObject()
        links(base, "projects/\(project.id)", into: &w)
        w.endObject()
    }

    static func user(_ user: UserRecord, base: String, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", user.id)
        w.field("name", user.name)
        w.field("domain_id", user.domain)
        w.field("enabled", user.enabled)
        w.field("default_project_id", user.defaultProject)
        w.field("password_expires_at", nil)
        if let email = user.email { w.field("email", email) }
        if let description = user.description { w.field("description", description) }
        w.key("options")
        w.beginObject()
        w.endObject()
        links(base, "users/\(user.id)", into: &w)
        w.endObject()
    }

    static func applicationCredential(
        _ credential: ApplicationCredentialRecord, secret: String?, base: String, into w: inout JSONWriter
    ) {
        w.beginObject()
        w.field("id", credential.id)
        w.field("name", credential.name)
        w.field("description", credential.description)
        w.field("user_id", credential.user)
        w.field("project_id", credential.project)
        w.field("expires_at", credential.expiresAt.map(time))
        w.field("unrestricted", credential.unrestricted)
        w.key("access_rules")
        w.beginArray()
        w.endArray()
        w.key("roles")
        w.beginArray()
        for role in credential.role.implied { self.role(role, into: &w) }
        w.endArray()
        if let secret { w.field("secret", secret) }
        links(base, "users/\(credential.user)/application_credentials/\(credential.id)", into: &w)
        w.endObject()
    }

    /// One role assignment (`/v3/role_assignments`), with names (as `?include_names` asks).
    static func assignment(user: UserRecord, project: ProjectRecord, role: Role, base: String, into w: inout JSONWriter) {
        w.beginObject()
        w.key("role")
        w.beginObject()
        w.field("id", role.rawValue)
        w.field("name", role.rawValue)
        w.endObject()
        w.key("user")
        w.beginObject()
        w.field("id", user.id)
        w.field("name", user.name)
        domain(into: &w)
        w.endObject()
        w.key("scope")
        w.beginObject()
        w.key("project")
        w.beginObject()
        w.field("id", project.id)
        w.field("name", project.name)
        domain(into: &w)
        w.endObject()
        w.endObject()
        w.key("links")
        w.beginObject()
        w.field("assignment", "\(base)/identity/v3/projects/\(project.id)/users/\(user.id)/roles/\(role.rawValue)")
        w.endObject()
        w.endObject()
    }

    static func links(_ base: String, _ path: String, into w: inout JSONWriter) {
        w.key("links")
        w.beginObject()
        w.field("self", "\(base)/identity/v3/\(path)")
        w.endObject()
    }

    /// The v3 entry of the version documents.
    static func version(base: String, into w: inout JSONWriter) {
        w.beginObject()
        w.field("id", "v3.14")
        w.field("status", "stable")
        w.field("updated", "2020-04-07T00:00:00Z")
        w.key("links")
        w.beginArray()
        w.beginObject()
        w.field("rel", "self")
        w.field("href", "\(base)/identity/v3/")
        w.endObject()
        w.endArray()
        w.key("media-types")
        w.beginArray()
        w.beginObject()
        w.field("base", "application/json")
        w.field("type", "application/vnd.openstack.identity-v3+json")
        w.endObject()
        w.endArray()
        w.endObject()
    }
}
