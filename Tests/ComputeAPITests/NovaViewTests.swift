import ComputeAPI
import ComputeCore
import HTTPTypes
import Testing

/// What tempest's response schemas require and allow at each microversion (NOVA-COMPAT §1.2–1.4),
/// written down as data and checked against the views key by key: a missing required key or
/// any key outside the allowed set fails, as `additionalProperties: false` does in tempest.
enum TempestRules {
    enum ServerShape { case detail, show, update }

    static let serverRequired: Set<String> = [
        "id", "name", "status", "image", "flavor", "user_id", "tenant_id", "created", "updated", "metadata", "links",
        "addresses", "hostId",
    ]
    static let commonOptional: Set<String> = ["progress", "fault", "OS-DCF:diskConfig", "accessIPv4", "accessIPv6"]
    static let detailOnly: Set<String> = [
        "key_name", "security_groups", "config_drive", "OS-SRV-USG:launched_at", "OS-SRV-USG:terminated_at",
        "OS-EXT-AZ:availability_zone", "OS-EXT-STS:task_state", "OS-EXT-STS:vm_state", "OS-EXT-STS:power_state",
        "OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname", "OS-EXT-SRV-ATTR:instance_name",
        "os-extended-volumes:volumes_attached",
    ]
    static let detailOnlySince2Point3: Set<String> = [
        "OS-EXT-SRV-ATTR:reservation_id", "OS-EXT-SRV-ATTR:launch_index", "OS-EXT-SRV-ATTR:kernel_id",
        "OS-EXT-SRV-ATTR:ramdisk_id", "OS-EXT-SRV-ATTR:hostname", "OS-EXT-SRV-ATTR:root_device_name",
        "OS-EXT-SRV-ATTR:user_data",
    ]

    /// (required, allowed) top-level keys of a server view.
    static func server(_ shape: ServerShape, _ v: Int) -> (required: Set<String>, allowed: Set<String>) {
        var required = serverRequired
        var optional = commonOptional
        let detailKeys = shape != .update || v >= 75
        if detailKeys {
            optional.formUnion(detailOnly)
            if v >= 3 { optional.formUnion(detailOnlySince2Point3) }
        }
        if v >= 9 {
            if shape == .update || v < 16 { required.insert("locked") } else { optional.insert("locked") }
        }
        if v >= 16 && detailKeys { optional.insert("host_status") }
        if v >= 19 { required.insert("description") }
        if v >= 26 { required.insert("tags") }
        if v >= 63 { required.insert("trusted_image_certificates") }
        if v >= 71 && shape != .detail { required.insert("server_groups") }
        if v >= 73 { required.insert("locked_reason") }
        if v >= 96 { required.insert("pinned_availability_zone") }
        if v >= 100 { required.insert("scheduler_hints") }
        return (required, required.union(optional))
    }

    static func flavor(_ v: Int) -> (required: Set<String>, allowed: Set<String>) {
        var required: Set<String> = ["id", "name", "links", "ram", "vcpus", "disk", "swap"]
        var allowed: Set<String> = [
            "OS-FLV-EXT-DATA:ephemeral", "OS-FLV-DISABLED:disabled", "os-flavor-access:is_public", "rxtx_factor",
        ]
        if v >= 55 { required.insert("description") }
        if v >= 61 { allowed.insert("extra_specs") }
        return (required, required.union(allowed))
    }

    static let versions = [
        1, 2, 3, 8, 9, 15, 16, 18, 19, 25, 26, 37, 46, 47, 54, 55, 60, 61, 62, 63, 70, 71, 72, 73, 74, 75, 95, 96, 97, 98, 99,
        100,
    ]
}

extension TestClient {
    func nova(
        _ method: HTTPRequest.Method, _ target: String, _ json: String? = nil, version: String? = nil,
        headers: HTTPFields = [:]
    ) -> TestResponse {
        var request = APIRequest(method: method, target: target, headerFields: headers, body: Array((json ?? "").utf8))
        if let token, request.headerFields[HTTPField.Name("X-Auth-Token")!] == nil {
            request.headerFields[HTTPField.Name("X-Auth-Token")!] = token
        }
        request.origin = Origin(scheme: "https", host: "compute.example", port: "443")
        if let version { request.headerFields[HTTPField.Name("X-OpenStack-Nova-API-Version")!] = version }
        return TestResponse(service.respond(to: request))
    }

    /// Creates a server through `/v2.1` and returns its id.
    @discardableResult
    func novaServer(_ name: String, version: String = "2.1") -> String {
        let networks = (Int(version.split(separator: ".").last ?? "1") ?? 1) >= 37 ? #", "networks": "auto""# : ""
        let response = nova(
            .post, "/v2.1/servers",
            #"{"server": {"name": "\#(name)", "imageRef": "\#(Image.defaults[0].id)", "flavorRef": "2"\#(networks)}}"#,
            version: version)
        return response.json("server", "id") as? String ?? "(create failed: \(response.text))"
    }
}

func checkKeys(_ object: Any?, _ rules: (required: Set<String>, allowed: Set<String>), _ context: String) {
    guard let object = object as? [String: Any] else {
        Issue.record("\(context): not an object")
        return
    }
    let keys = Set(object.keys)
    #expect(rules.required.subtracting(keys).isEmpty, "\(context): missing \(rules.required.subtracting(keys).sorted())")
    #expect(keys.subtracting(rules.allowed).isEmpty, "\(context): not allowed \(keys.subtracting(rules.allowed).sorted())")
}

func checkLinks(_ links: Any?, _ context: String) {
    guard let links = links as? [[String: Any]], !links.isEmpty else {
        Issue.record("\(context): no links")
        return
    }
    for link in links {
        #expect(Set(link.keys) == ["href", "rel"], "\(context)")
        #expect((link["href"] as? String)?.hasPrefix("https://compute.example/") == true, "\(context)")
    }
}

@Suite struct NovaViewTests {
    @Test(arguments: TempestRules.versions)
    func serverViewsHaveExactlyTheKeysOfTheirMicroversion(v: Int) throws {
        let client = TestClient()
        let version = "2.\(v)"
        let id = client.novaServer("vm", version: version)
        let show = client.nova(.get, "/v2.1/servers/\(id)", version: version)
        #expect(show.status == 200)
        #expect(show.headers[HTTPField.Name("X-OpenStack-Nova-API-Version")!] == version)
        checkKeys(show.json("server"), TempestRules.server(.show, v), "show \(version)")
        let detail = client.nova(.get, "/v2.1/servers/detail", version: version)
        checkKeys(detail.json("servers", 0), TempestRules.server(.detail, v), "detail \(version)")
        let update = client.nova(.put, "/v2.1/servers/\(id)", #"{"server": {"name": "vm2"}}"#, version: version)
        #expect(update.status == 200)
        checkKeys(update.json("server"), TempestRules.server(.update, v), "update \(version)")
        #expect(update.json("server", "name") as? String == "vm2")

        for (label, server) in [("show", show.json("server")), ("update", update.json("server"))] {
            let server = try #require(server as? [String: Any])
            checkLinks(server["links"], "\(label) \(version) links")
            let image = try #require(server["image"] as? [String: Any])
            #expect(Set(image.keys) == ["id", "links"])
            let flavor = try #require(server["flavor"] as? [String: Any])
            if v < 47 {
                #expect(Set(flavor.keys) == ["id", "links"], "\(label) \(version) flavor")
            } else {
                #expect(
                    Set(flavor.keys) == ["original_name", "vcpus", "ram", "disk", "ephemeral", "swap", "extra_specs"],
                    "\(label) \(version) flavor")
                #expect(flavor["swap"] as? Int == 0)
            }
            let address = try #require((server["addresses"] as? [String: [[String: Any]]])?["private"]?.first)
            let addressKeys: Set<String> =
                label == "update" && v < 75
                ? ["version", "addr"] : ["version", "addr", "OS-EXT-IPS:type", "OS-EXT-IPS-MAC:mac_addr"]
            #expect(Set(address.keys) == addressKeys, "\(label) \(version) address")
            if v < 3 {
                #expect(Timestamp(canonical: server["created"] as? String ?? "") != nil, "ISO 8601 created at \(version)")
            }
        }
        let list = client.nova(.get, "/v2.1/servers", version: version)
        checkKeys(list.json("servers", 0), (["id", "name", "links"], ["id", "name", "links"]), "list \(version)")
    }

    @Test(arguments: TempestRules.versions)
    func flavorViewsHaveExactlyTheKeysOfTheirMicroversion(v: Int) throws {
        let client = TestClient()
        let version = "2.\(v)"
        let show = client.nova(.get, "/v2.1/flavors/1", version: version)
        checkKeys(show.json("flavor"), TempestRules.flavor(v), "flavor show \(version)")
        checkLinks(show.json("flavor", "links"), "flavor links \(version)")
        if v < 75 {
            #expect(show.json("flavor", "swap") as? String == "", "swap is \"\" below 2.75")
        } else {
            #expect(show.json("flavor", "swap") as? Int == 0)
        }
        let detail = client.nova(.get, "/v2.1/flavors/detail", version: version)
        checkKeys(detail.json("flavors", 0), TempestRules.flavor(v), "flavor detail \(version)")
        let brief: Set<String> = v >= 55 ? ["id", "name", "links", "description"] : ["id", "name", "links"]
        checkKeys(
            client.nova(.get, "/v2.1/flavors", version: version).json("flavors", 0), (brief, brief), "flavor list \(version)")
        let created = client.nova(
            .post, "/v2.1/flavors", #"{"flavor": {"name": "f", "ram": 64, "vcpus": 1, "disk": 0}}"#, version: version)
        #expect(created.status == 200)
        checkKeys(created.json("flavor"), TempestRules.flavor(v), "flavor create \(version)")
    }

    @Test func createRepliesWithOnlyWhatTempestAllows() throws {
        let client = TestClient()
        let response = client.nova(
            .post, "/v2.1/servers", #"{"server": {"name": "a", "imageRef": "\#(Image.defaults[1].id)", "flavorRef": "1"}}"#)
        #expect(response.status == 202)
        let server = try #require(response.json("server") as? [String: Any])
        #expect(Set(["id", "links", "adminPass"]).isSubset(of: Set(server.keys)))
        #expect(Set(server.keys).isSubset(of: ["id", "links", "adminPass", "OS-DCF:diskConfig", "security_groups"]))
        #expect(response.headers[.location] == "https://compute.example/v2.1/servers/\(server["id"] as? String ?? "")")
        #expect((server["adminPass"] as? String)?.count == 12)
    }
}

/// The quota and limits views carry every key tempest's schemas require at each microversion
/// (`tempest/lib/api_schema/response/compute/v2_1|v2_36|v2_39|v2_57`), and no other.
@Suite struct NovaQuotaViewTests {
    static let quotaKeys21: Set<String> = [
        "id", "instances", "cores", "ram", "floating_ips", "fixed_ips", "metadata_items", "key_pairs", "security_groups",
        "security_group_rules", "server_groups", "server_group_members", "injected_files", "injected_file_content_bytes",
        "injected_file_path_bytes",
    ]
    static let limitKeys21: Set<String> = [
        "maxImageMeta", "maxPersonality", "maxPersonalitySize", "maxSecurityGroupRules", "maxSecurityGroups",
        "maxServerMeta", "maxTotalCores", "maxTotalFloatingIps", "maxTotalInstances", "maxTotalKeypairs", "maxTotalRAMSize",
        "maxServerGroups", "maxServerGroupMembers", "totalCoresUsed", "totalFloatingIpsUsed", "totalInstancesUsed",
        "totalRAMUsed", "totalSecurityGroupsUsed", "totalServerGroupsUsed",
    ]

    @Test(
        arguments: [
            ("2.1", quotaKeys21, limitKeys21),
            (
                "2.36", quotaKeys21.subtracting(["fixed_ips", "floating_ips", "security_group_rules", "security_groups"]),
                limitKeys21.subtracting([
                    "maxSecurityGroupRules", "maxSecurityGroups", "maxTotalFloatingIps", "totalFloatingIpsUsed",
                    "totalSecurityGroupsUsed",
                ])
            ),
            (
                "2.57",
                quotaKeys21.subtracting([
                    "fixed_ips", "floating_ips", "security_group_rules", "security_groups", "injected_files",
                    "injected_file_content_bytes", "injected_file_path_bytes",
                ]),
                limitKeys21.subtracting([
                    "maxSecurityGroupRules", "maxSecurityGroups", "maxTotalFloatingIps", "totalFloatingIpsUsed",
                    "totalSecurityGroupsUsed", "maxImageMeta", "maxPersonality", "maxPersonalitySize",
                ])
            ),
        ] as [(String, Set<String>, Set<String>)])
    func everyKeyTempestRequires(version: String, quota: Set<String>, limits: Set<String>) {
        let client = TestClient()
        let set = client.nova(.get, "/v2.1/os-quota-sets/default", version: version).json("quota_set") as? [String: Any]
        #expect(Set(set?.keys.map { $0 } ?? []) == quota)
        let detail = client.nova(.get, "/v2.1/os-quota-sets/default/detail", version: version).json("quota_set") as? [String: Any]
        #expect(Set(detail?.keys.map { $0 } ?? []) == quota)
        let absolute = client.nova(.get, "/v2.1/limits", version: version).json("limits", "absolute") as? [String: Any]
        #expect(Set(absolute?.keys.map { $0 } ?? []) == limits)
    }
}

/// `PUT` and `DELETE /os-quota-sets/{project}`: an admin changes a project's limits through the API.
@Suite struct NovaQuotaChangeTests {
    @Test func anAdminSetsAndResetsAProjectsLimits() {
        var client = TestClient()
        let set = client.nova(.put, "/v2.1/os-quota-sets/a", #"{"quota_set": {"instances": 1, "force": true}}"#)
        #expect(set.status == 200 && set.json("quota_set", "instances") as? Int == 1 && set.json("quota_set", "id") == nil)
        #expect(set.json("quota_set", "cores") as? Int == -1)
        client.token = "member-a"
        #expect(client.createServer("first").status == 200)
        #expect(client.createServer("second").status == 403)
        #expect(client.nova(.put, "/v2.1/os-quota-sets/a", #"{"quota_set": {"instances": 5}}"#).status == 403)
        client.token = "admin"
        #expect(client.nova(.delete, "/v2.1/os-quota-sets/a").status == 202)
        #expect(client.nova(.get, "/v2.1/os-quota-sets/a").json("quota_set", "instances") as? Int == -1)
        #expect(client.nova(.put, "/v2.1/os-quota-sets/a", #"{"quota_set": {"ram": -2}}"#).status == 400)
        let gone = client.nova(.put, "/v2.1/os-quota-sets/a", #"{"quota_set": {"fixed_ips": 5}}"#, version: "2.36")
        #expect(gone.status == 400, "fixed_ips went with 2.36")
    }

    @Test func theOtherResourcesAreLimitsOfTheProject() throws {
        var client = TestClient()
        let set = client.nova(
            .put, "/v2.1/os-quota-sets/a",
            #"{"quota_set": {"key_pairs": 1, "metadata_items": 2, "server_groups": 0, "floating_ips": 7}}"#)
        #expect(set.status == 200, "\(set.text)")
        #expect(set.json("quota_set", "key_pairs") as? Int == 1 && set.json("quota_set", "floating_ips") as? Int == 7)
        client.token = "member-a"
        #expect(client.nova(.get, "/v2.1/limits").json("limits", "absolute", "maxTotalKeypairs") as? Int == 1)
        #expect(client.nova(.post, "/v2.1/os-keypairs", #"{"keypair": {"name": "one"}}"#).status == 200)
        #expect(client.nova(.post, "/v2.1/os-keypairs", #"{"keypair": {"name": "two"}}"#).status == 403)
        let group = client.nova(.post, "/v2.1/os-server-groups", #"{"server_group": {"name": "g", "policies": ["affinity"]}}"#)
        #expect(group.status == 403)
        let metadata =
            #"{"server": {"name": "m", "imageRef": "\#(Image.defaults[0].id)", "flavorRef": "1", "metadata": {"a": "1", "b": "2", "c": "3"}}}"#
        let refused = client.nova(.post, "/v2.1/servers", metadata)
        #expect(refused.status == 403 && refused.fault?.message.contains("metadata_items") == true, "\(refused.text)")
        let id = client.novaServer("m")
        #expect(client.nova(.put, "/v2.1/servers/\(id)/metadata", #"{"metadata": {"a": "1", "b": "2"}}"#).status == 200)
        #expect(client.nova(.post, "/v2.1/servers/\(id)/metadata", #"{"metadata": {"c": "3"}}"#).status == 403)
        // Lowered below what a server holds: it can still shed pairs and be rebuilt.
        client.token = "admin"
        #expect(client.nova(.put, "/v2.1/os-quota-sets/a", #"{"quota_set": {"metadata_items": 0}}"#).status == 200)
        client.token = "member-a"
        #expect(client.nova(.delete, "/v2.1/servers/\(id)/metadata/a").status == 204)
        let rebuild = #"{"rebuild": {"imageRef": "\#(Image.defaults[0].id)"}}"#
        #expect(client.nova(.post, "/v2.1/servers/\(id)/action", rebuild).status == 202)
        #expect(client.nova(.post, "/v2.1/servers/\(id)/metadata", #"{"metadata": {"d": "4"}}"#).status == 403)
    }

    @Test func theDefaultClassIsWhatProjectsWithoutLimitsGet() throws {
        var client = TestClient()
        let shown = try #require(client.nova(.get, "/v2.1/os-quota-class-sets/default").json("quota_class_set") as? [String: Any])
        #expect(shown["id"] as? String == "default" && shown["server_groups"] == nil, "server groups show from 2.50")
        #expect(shown["metadata_items"] as? Int == 128 && shown["floating_ips"] as? Int == 10)
        let modern =
            client.nova(.get, "/v2.1/os-quota-class-sets/default", version: "2.57").json("quota_class_set") as? [String: Any]
        #expect(modern?["server_groups"] as? Int == 10 && modern?["injected_files"] == nil && modern?["fixed_ips"] == nil)
        let between = client.nova(.get, "/v2.1/os-quota-class-sets/default", version: "2.40").json("quota_class_set")
        #expect((between as? [String: Any])?["floating_ips"] as? Int == 10, "the class API kept them until 2.50")
        let floating = #"{"quota_class_set": {"floating_ips": 12}}"#
        #expect(client.nova(.put, "/v2.1/os-quota-class-sets/default", floating, version: "2.40").status == 200)
        #expect(client.nova(.put, "/v2.1/os-quota-class-sets/default", floating, version: "2.50").status == 400)

        let changed = client.nova(
            .put, "/v2.1/os-quota-class-sets/default", #"{"quota_class_set": {"instances": 3, "key_pairs": 110}}"#)
        #expect(changed.status == 200 && changed.json("quota_class_set", "id") == nil)
        #expect(
            changed.json("quota_class_set", "instances") as? Int == 3
                && changed.json("quota_class_set", "key_pairs") as? Int == 110)
        #expect(client.nova(.get, "/v2.1/os-quota-sets/b").json("quota_set", "instances") as? Int == 3)
        #expect(client.nova(.get, "/v2.1/os-quota-sets/b/defaults").json("quota_set", "key_pairs") as? Int == 110)
        #expect(client.nova(.put, "/v2.1/os-quota-sets/b", #"{"quota_set": {"instances": 5}}"#).status == 200)
        #expect(client.nova(.get, "/v2.1/os-quota-sets/b").json("quota_set", "instances") as? Int == 5, "its own limit wins")
        #expect(client.nova(.put, "/v2.1/os-quota-class-sets/gold", #"{"quota_class_set": {"instances": 3}}"#).status == 400)
        #expect(client.nova(.put, "/v2.1/os-quota-class-sets/default", #"{"quota_class_set": {"bogus": 3}}"#).status == 400)
        client.token = "member-a"
        #expect(client.nova(.get, "/v2.1/os-quota-class-sets/default").status == 403)
        client.token = "admin"
        #expect(
            client.nova(.put, "/v2.1/os-quota-sets/:default", #"{"quota_set": {"instances": 9}}"#).status == 400, "not a project")
    }
}

@Suite struct NovaNetworksProxyTests {
    @Test func osNetworksListsTheNetworksByLabelUntil236() {
        let client = TestClient()
        let listed = client.nova(.get, "/v2.1/os-networks", version: "2.35")
        #expect(listed.json("networks", 0, "label") as? String == "private")
        #expect(listed.json("networks", 0, "id") as? String == NetworkConfig.defaultPrivateID)
        #expect(listed.json("networks", 0, "netmask") as? String == "255.255.255.0")
        #expect(
            client.nova(.get, "/v2.1/os-networks/\(NetworkConfig.defaultPrivateID)").json("network", "cidr") as? String
                == "10.0.0.0/24")
        #expect(client.nova(.get, "/v2.1/os-networks", version: "2.36").status == 404)
    }
}

/// `/servers/{id}/metadata[/{key}]`, as Nova answers it.
@Suite struct NovaMetadataTests {
    @Test func listMergeReplaceShowSetAndDeleteOneKey() {
        var client = TestClient()
        client.token = "member-a"
        let id = client.novaServer("meta")
        let path = "/v2.1/servers/\(id)/metadata"
        #expect(client.nova(.get, path).json("metadata") as? [String: String] == [:])
        #expect(
            client.nova(.post, path, #"{"metadata": {"a": "1", "b": "2"}}"#).json("metadata") as? [String: String] == [
                "a": "1", "b": "2",
            ])
        #expect(
            client.nova(.post, path, #"{"metadata": {"b": "3", "c": "4"}}"#).json("metadata") as? [String: String] == [
                "a": "1", "b": "3", "c": "4",
            ])
        #expect(client.nova(.put, path, #"{"metadata": {"d": "5"}}"#).json("metadata") as? [String: String] == ["d": "5"])
        #expect(client.nova(.get, path + "/d").json("meta") as? [String: String] == ["d": "5"])
        #expect(client.nova(.get, path + "/x").status == 404)
        #expect(client.nova(.put, path + "/e", #"{"meta": {"e": "6"}}"#).json("meta") as? [String: String] == ["e": "6"])
        #expect(client.nova(.put, path + "/e", #"{"meta": {"f": "6"}}"#).fault?.message == "Request body and URI mismatch")
        #expect(client.nova(.put, path + "/e", #"{"meta": {"e": "6", "f": "7"}}"#).status == 400)
        #expect(client.nova(.delete, path + "/d").status == 204)
        #expect(client.nova(.delete, path + "/d").status == 404)
        // The server's own view agrees, on both APIs.
        #expect(client.nova(.get, "/v2.1/servers/\(id)").json("server", "metadata") as? [String: String] == ["e": "6"])
        #expect(client.get("/servers/\(id)").json("server", "metadata") as? [String: String] == ["e": "6"])
        // Over 128 pairs is the metadata_items quota's 403.
        let many = (0..<129).map { #""k\#($0)": "v""# }.joined(separator: ", ")
        #expect(client.nova(.post, path, #"{"metadata": {\#(many)}}"#).status == 403)
        // Another project's server does not exist; a reader only looks.
        client.token = "member-b"
        #expect(client.nova(.get, path).status == 404)
        client.token = "reader-a"
        #expect(client.nova(.get, path).status == 200)
        #expect(client.nova(.delete, path + "/e").status == 403)
    }
}
