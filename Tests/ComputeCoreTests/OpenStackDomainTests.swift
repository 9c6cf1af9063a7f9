import ComputeCore
import Testing

@Suite struct CatalogTests {
    @Test func imagesAndNetworksResolveByIdOrNameAsTheReferenceAllows() throws {
        let f = InventoryFixture()
        let cirros = Image.defaults[1]
        let byName = try f.inventory.createServers(
            ServerDraft(name: "a", flavorReference: "1", image: .idOrName("cirros"), network: .named("private")),
            caller: f.caller)[0]
        #expect(byName.image == "cirros" && byName.imageID == cirros.id && byName.network == "private")
        let byID = try f.inventory.createServers(
            ServerDraft(
                name: "b", flavorReference: .id("1"), image: .id(cirros.id),
                network: .reference(.id(NetworkConfig.defaultPrivateID))),
            caller: f.caller)[0]
        #expect(byID.imageID == cirros.id && byID.network == "private")
        #expect(throws: ComputeError.invalidInput("Image cirros could not be found.")) {
            try f.inventory.createServers(
                ServerDraft(name: "c", flavorReference: "1", image: .id("cirros")), caller: f.caller)
        }
        #expect(throws: ComputeError.invalidInput("Network private could not be found.")) {
            try f.inventory.createServers(
                ServerDraft(name: "c", flavorReference: "1", image: "cirros", network: .reference(.id("private"))),
                caller: f.caller)
        }
        #expect(throws: ComputeError.invalidInput("Flavor m1.tiny could not be found.")) {
            try f.inventory.createServers(
                ServerDraft(name: "c", flavorReference: .id("m1.tiny"), image: "cirros"), caller: f.caller)
        }
    }

    @Test func serversAreFoundByNameOnlyWhenTheReferenceAllowsIt() throws {
        let f = InventoryFixture()
        let a = try f.create("a")
        #expect(try f.inventory.server(.idOrName("a"), caller: f.caller) == a)
        #expect(throws: ComputeError.notFound("Instance a could not be found.")) {
            try f.inventory.server(.id("a"), caller: f.caller)
        }
        #expect(throws: ComputeError.notFound("Flavor m1.small could not be found.")) { try f.inventory.flavor(.id("m1.small")) }
    }

    @Test func aFormatOneRecordGetsItsImageIdFromTheCatalogByName() throws {
        let record = """
            {"format":1,"id":"3f0e2a6c-5b1d-4c57-9d6e-0d3f1c2b7a10","name":"old","project_id":"p1","user_id":"u1",
            "status":"ACTIVE","flavor":{"id":"1","name":"m1.tiny","vcpus":1,"ram":512,"disk":1,"swap":0,"ephemeral":0,
            "extra_specs":{}},"image":"cirros-0.3.4-x86_64-uec","key_name":null,"network":"private","address":"10.0.0.2",
            "metadata":{},"reservation_id":"r-abcdefgh","launch_index":0,"created":"2026-11-29T05:11:36.000000Z",
            "updated":"2026-11-29T05:11:36.000000Z"}
            """
        let server = try Server(record: Array(record.utf8))
        #expect(server.imageID == "" && server.description == nil)
        let inventory = Inventory(
            records: LoadedRecords(servers: [server], isNew: false), networks: [.defaultPrivate],
            persistence: MemoryPersistence())
        #expect(
            try inventory.server(.id(server.id), caller: Caller(projectID: "p1", userID: "u1")).imageID == Image.defaults[0].id)
        #expect(inventory.loadWarnings.isEmpty)
    }
}

@Suite struct ServerActionTests {
    @Test func stopStartAndRebootFollowNovasStateTable() throws {
        let f = InventoryFixture()
        let a = try f.create("a")
        f.clock.advance(seconds: 5)
        let stopped = try f.inventory.perform(.stop, on: .id(a.id), caller: f.caller)
        #expect(stopped.status == .shutoff && stopped.status.vmState == "stopped" && stopped.status.powerState == 4)
        #expect(stopped.updated > a.updated)
        #expect(throws: ComputeError.conflict("Cannot 'stop' instance \(a.id) while it is in vm_state stopped")) {
            try f.inventory.perform(.stop, on: .id(a.id), caller: f.caller)
        }
        #expect(throws: ComputeError.conflict("Cannot 'reboot' instance \(a.id) while it is in vm_state stopped")) {
            try f.inventory.perform(.reboot(hard: false), on: .id(a.id), caller: f.caller)
        }
        #expect(try f.inventory.perform(.reboot(hard: true), on: .id(a.id), caller: f.caller).status == .active)
        #expect(throws: ComputeError.conflict("Cannot 'start' instance \(a.id) while it is in vm_state active")) {
            try f.inventory.perform(.start, on: .id(a.id), caller: f.caller)
        }
        #expect(try f.inventory.perform(.reboot(hard: false), on: .id(a.id), caller: f.caller).status == .active)
        _ = try f.inventory.perform(.stop, on: .id(a.id), caller: f.caller)
        #expect(try f.inventory.perform(.start, on: .id(a.id), caller: f.caller).status == .active)
        #expect(try f.restarted().servers(matching: ServerFilter(projectID: "p1"), limit: 10, marker: nil)[0].status == .active)
    }

    @Test(arguments: ServerStatus.allCases)
    func everyActionHasAnAnswerForEveryStatus(status: ServerStatus) {
        for action in [ServerAction.stop, .start, .reboot(hard: false), .reboot(hard: true)] {
            if let outcome = action.outcome(from: status) { #expect([.active, .shutoff].contains(outcome)) }
        }
        #expect(ServerAction.reboot(hard: true).outcome(from: status) == (status == .build ? nil : .active))
    }

    @Test func descriptionIsSetAndCleared() throws {
        let f = InventoryFixture()
        let a = try f.create("a")
        #expect(
            try f.inventory.updateServer(.id(a.id), caller: f.caller, with: ServerUpdate(description: "db")).description == "db")
        #expect(try f.inventory.updateServer(.id(a.id), caller: f.caller, with: ServerUpdate(name: "b")).description == "db")
        #expect(
            try f.inventory.updateServer(.id(a.id), caller: f.caller, with: ServerUpdate(description: .some(nil))).description
                == nil)
    }
}

@Suite struct NovaFilterTests {
    @Test func namePatternImageAndChangeTimes() throws {
        let f = InventoryFixture()
        let web1 = try f.create("web-1")
        f.clock.advance(seconds: 10)
        let since = f.clock.now()
        f.clock.advance(seconds: 1)
        let oldWeb = try f.create("old-web")
        _ = try f.create("db")
        var filter = ServerFilter(projectID: "p1")
        filter.namePattern = try NamePattern("web")
        #expect(try f.inventory.servers(matching: filter, limit: 10, marker: nil).map(\.name) == ["old-web", "web-1"])
        filter.namePattern = try NamePattern("^web-[0-9]+$")
        #expect(try f.inventory.servers(matching: filter, limit: 10, marker: nil) == [web1])
        filter.namePattern = nil
        filter.changedSince = since
        #expect(try f.inventory.servers(matching: filter, limit: 10, marker: nil).map(\.name) == ["db", "old-web"])
        filter.changedSince = nil
        filter.changedBefore = since
        #expect(try f.inventory.servers(matching: filter, limit: 10, marker: nil) == [web1])
        filter.changedBefore = nil
        filter.imageID = Image.defaults[0].id
        #expect(try f.inventory.servers(matching: filter, limit: 10, marker: nil).count == 3)
        filter.imageID = Image.defaults[1].id
        #expect(try f.inventory.servers(matching: filter, limit: 10, marker: nil).isEmpty)
        _ = oldWeb
    }
}

@Suite struct FlavorUpdateTests {
    @Test func descriptionAndExtraSpecsChangeDurably() throws {
        let f = InventoryFixture()
        let updated = try f.inventory.updateFlavor(.id("2")) { flavor in
            flavor.description = "general purpose"
            flavor.extraSpecs["hw:cpu_policy"] = "shared"
        }
        #expect(updated.description == "general purpose" && updated.extraSpecs == ["hw:cpu_policy": "shared"])
        #expect(try f.restarted().flavor(.id("2")) == updated)
        #expect(throws: ComputeError.notFound("Flavor 9 could not be found.")) {
            try f.inventory.updateFlavor(.id("9")) { _ in }
        }
        #expect(throws: ComputeError.invalidInput("A flavor has at most 128 extra specs.")) {
            try f.inventory.updateFlavor(.id("2")) { flavor in
                for index in 0..<128 { flavor.extraSpecs["k\(index)"] = "v" }
            }
        }
        #expect(try f.inventory.flavor(.id("2")) == updated, "a refused update changes nothing")
        #expect(throws: ComputeError.self) { try Validation.extraSpecs(["bad/key": "v"], field: "extra_specs") }
        #expect(throws: ComputeError.self) { try Validation.extraSpecs(["k": "a\nb"], field: "extra_specs") }
        try Validation.extraSpecs(["hw:mem_page_size": "", "quota:cpu_quota": "10000"], field: "extra_specs")
    }
}

@Suite struct FlavorAccessRecordTests {
    @Test func accessSurvivesARestart() throws {
        let f = InventoryFixture()
        _ = try f.inventory.createFlavor(FlavorDraft(id: "p", name: "private", vcpus: 1, ram: 1, disk: 0, isPublic: false))
        _ = try f.inventory.addFlavorAccess(.id("p"), projectID: "p1")
        let restarted = f.restarted()
        #expect(try restarted.flavor(.id("p")).accessProjects == ["p1"])
        #expect(try restarted.flavor(.id("p"), visibleTo: f.caller).name == "private")
        #expect(throws: ComputeError.notFound("Flavor p could not be found.")) {
            try restarted.flavor(.id("p"), visibleTo: Caller(projectID: "p2", userID: "u"))
        }
    }

    @Test func aFormatOneFlavorRecordHasNoAccessList() throws {
        let record = #"""
            {"format": 1, "id": "x", "name": "x", "vcpus": 1, "ram": 1, "disk": 0, "swap": 0, "ephemeral": 0,
             "is_public": false, "description": null, "extra_specs": {}, "created": "2026-01-01T00:00:00Z", "record_key": "k"}
            """#
        let flavor = try Flavor(record: Array(record.utf8))
        #expect(flavor.accessProjects.isEmpty && !flavor.isPublic)
    }
}
