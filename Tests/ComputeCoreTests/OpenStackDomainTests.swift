import ComputeCore
import ComputeTesting
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
        #expect(
            throws: ComputeError.invalidInput(
                "Image cirros could not be found. The image ids there are: \(Image.defaults.map(\.id).joined(separator: ", ")).")
        ) {
            try f.inventory.createServers(
                ServerDraft(name: "c", flavorReference: "1", image: .id("cirros")), caller: f.caller)
        }
        #expect(
            throws: ComputeError.invalidInput(
                "Network private could not be found. The network ids there are: \(NetworkConfig.defaultPrivateID).")
        ) {
            try f.inventory.createServers(
                ServerDraft(name: "c", flavorReference: "1", image: "cirros", network: .reference(.id("private"))),
                caller: f.caller)
        }
        #expect(
            throws: ComputeError.invalidInput(
                "Flavor m1.tiny could not be found. The flavor ids there are: 1, 2, 3, 4, 5.")
        ) {
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
