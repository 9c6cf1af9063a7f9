import ComputeCore
import Foundation
import InMemoryStore
import Logging
import Testing

@testable import JSONFileStore

/// A fresh temporary data directory, removed afterwards.
final class TemporaryDirectory {
    let path: String

    init(created: Bool = false) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("alliance-store-\(UUID().uuidString)").path
        if created { try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ relative: String) -> String { "\(path)/\(relative)" }

    func write(_ relative: String, _ text: String) throws {
        try text.write(toFile: file(relative), atomically: false, encoding: .utf8)
    }

    func contents(of relative: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: file(relative))) ?? []).sorted()
    }

    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: file(relative)) }
}

let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

func sampleServer(_ name: String, id: String = UUID().uuidString.lowercased(), address: String = "10.0.0.2") -> Server {
    let now = SystemClock().now()
    return Server(
        id: id, name: name, projectID: "p", userID: "u",
        flavor: FlavorSnapshot(id: "1", name: "m1.tiny", vcpus: 1, ram: 512, disk: 1, swap: 0, ephemeral: 0, extraSpecs: [:]),
        image: "cirros", imageID: "img-id", keyName: nil, network: "private", address: IPv4Address(address),
        metadata: ["k": "v"],
        reservationID: "r-abcdefgh", launchIndex: 0, created: now, updated: now)
}

@Suite(.serialized) struct JSONFileStoreTests {
    @Test func aNewDirectoryIsCreatedLaidOutAndNew() throws {
        let dir = TemporaryDirectory()
        let (store, records) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        #expect(records.isNew)
        #expect(records.servers.isEmpty && records.flavors.isEmpty)
        #expect(dir.contents(of: "") == [".lock", "damaged", "flavors", "intents", "servers"])
        try store.markInitialized(now: SystemClock().now())
        withExtendedLifetime(store) {}
    }

    @Test func recordsSurviveAReopenAsReadableJSONFiles() throws {
        let dir = TemporaryDirectory()
        let server = sampleServer("a")
        let flavor = Flavor(id: "..", name: "odd id", vcpus: 1, ram: 1, disk: 0, created: SystemClock().now())
        do {
            let (store, _) = try JSONFileStore.open(directory: dir.path, logger: quiet)
            try store.commit([.put(.server(server))])
            try store.commit([.put(.flavor(flavor))])
            try store.markInitialized(now: SystemClock().now())
        }
        #expect(dir.contents(of: "servers") == ["\(server.id).json"])
        let json =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("servers/\(server.id).json"))))
            as? [String: Any]
        #expect(json?["format"] as? Int == ServerRecord.format)
        #expect(json?["name"] as? String == "a")
        #expect(json?["address"] as? String == "10.0.0.2")

        let (store, records) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        #expect(!records.isNew)
        #expect(records.servers == [server])
        #expect(records.flavors == [flavor])
        try store.commit([.delete(RecordReference(kind: .server, key: server.id))])
        #expect(dir.contents(of: "servers").isEmpty)
    }

    @Test func updatesReplaceTheFileWhole() throws {
        let dir = TemporaryDirectory()
        var server = sampleServer("a")
        do {
            let (store, _) = try JSONFileStore.open(directory: dir.path, logger: quiet)
            try store.commit([.put(.server(server))])
            #expect(dir.contents(of: "servers") == ["\(server.id).json"], "a new record leaves no temporary file")
            server.name = "renamed"
            server.metadata = [:]  // shorter: what was longer in the reused file is cut off
            try store.commit([.put(.server(server))])
            let text = try String(contentsOfFile: dir.file("servers/\(server.id).json"), encoding: .utf8)
            #expect(text.contains("\"renamed\"") && !text.contains("\"a\""))
            #expect(try JSONSerialization.jsonObject(with: Data(text.utf8)) is [String: Any])
            // The replaced version is kept as the next write's spare, and reused by it.
            let spare = ".tmp-spare-1"
            #expect(dir.contents(of: "servers") == [spare, "\(server.id).json"])
            #expect(try String(contentsOfFile: dir.file("servers/\(spare)"), encoding: .utf8).contains("\"a\""))
            server.name = "again"
            try store.commit([.put(.server(server))])
            #expect(dir.contents(of: "servers") == [spare, "\(server.id).json"])
            #expect(try String(contentsOfFile: dir.file("servers/\(spare)"), encoding: .utf8).contains("\"renamed\""))
            let inspection = try JSONFileStore.inspect(directory: dir.path, logger: quiet)
            #expect(inspection.temporaryFiles.isEmpty, "`check` reports no spare as an unfinished write")
        }
        let (_, records) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        #expect(records.servers.map(\.name) == ["again"])
        #expect(dir.contents(of: "servers") == ["\(server.id).json"], "start-up removes the spare")
    }

    /// A copy of the data directory made with hard links (`cp -al`, `rsync --link-dest`) shares
    /// the records' files: a replaced record's file, now a spare, must never be written into.
    @Test func aFileLinkedFromAHardLinkCopyIsNeverWrittenThrough() throws {
        let dir = TemporaryDirectory()
        let copy = TemporaryDirectory(created: true)
        let (store, _) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        var server = sampleServer("original")
        try store.commit([.put(.server(server))])
        try FileManager.default.linkItem(atPath: dir.file("servers/\(server.id).json"), toPath: copy.file("backup.json"))
        let backup = try Data(contentsOf: URL(fileURLWithPath: copy.file("backup.json")))
        for name in ["second", "third", "fourth"] {
            server.name = name
            try store.commit([.put(.server(server))])
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy.file("backup.json"))) == backup)
        let text = try String(contentsOfFile: dir.file("servers/\(server.id).json"), encoding: .utf8)
        #expect(text.contains("\"fourth\""))
    }

    @Test func aSecondOpenIsRefusedWhileTheFirstHoldsTheLock() throws {
        let dir = TemporaryDirectory()
        let (first, _) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        #expect {
            _ = try JSONFileStore.open(directory: dir.path, logger: quiet)
        } throws: { error in
            guard case .locked(_, let holder) = error as? StoreOpenError else { return false }
            return holder == String(getpid())
        }
        withExtendedLifetime(first) {}
    }

    @Test func damagedAndForeignFilesAreSetAsideAndTheRestLoads() throws {
        let dir = TemporaryDirectory()
        let good = sampleServer("good")
        let mismatched = sampleServer("elsewhere")
        do {
            let (store, _) = try JSONFileStore.open(directory: dir.path, logger: quiet)
            try store.commit([.put(.server(good))])
            try store.commit([.put(.server(mismatched))])
        }
        try dir.write("servers/torn.json", #"{"format": 1, "id": "tor"#)
        try dir.write("servers/notes.txt", "hello")
        try dir.write("servers/\(UUID().uuidString.lowercased()).json", #"{"format": 99}"#)
        try FileManager.default.moveItem(
            atPath: dir.file("servers/\(mismatched.id).json"), toPath: dir.file("servers/renamed-by-hand.json"))
        try FileManager.default.createDirectory(atPath: dir.file("servers/sub.json"), withIntermediateDirectories: false)

        let (store, records) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        #expect(records.servers == [good])
        #expect(store.damaged.count == 5)
        #expect(store.damaged.allSatisfy { $0.movedTo != nil })
        #expect(dir.contents(of: "servers") == ["\(good.id).json"])
        #expect(dir.contents(of: "damaged").count == 5)
        #expect(store.health == StoreHealth(problem: nil, counters: ["damaged_files": 5]))
    }

    @Test func leftoverTemporaryFilesAreRemoved() throws {
        let dir = TemporaryDirectory()
        do { _ = try JSONFileStore.open(directory: dir.path, logger: quiet) }
        try dir.write("servers/.tmp-abc.json-123", "{half")
        let (store, records) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        #expect(records.servers.isEmpty && store.damaged.isEmpty)
        #expect(dir.contents(of: "servers").isEmpty)
    }

    @Test func aMultiRecordCommitWritesAllAndLeavesNoIntent() throws {
        let dir = TemporaryDirectory()
        let servers = (1...3).map { sampleServer("s\($0)", address: "10.0.0.\($0 + 1)") }
        do {
            let (store, _) = try JSONFileStore.open(directory: dir.path, logger: quiet)
            try store.commit(servers.map { .put(.server($0)) })
            #expect(dir.contents(of: "intents").isEmpty)
        }
        let (_, records) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        #expect(Set(records.servers.map(\.id)) == Set(servers.map(\.id)))
    }

    @Test func anUnfinishedMultiRecordCommitIsRolledBackAtStartUp() throws {
        let dir = TemporaryDirectory()
        let kept = sampleServer("kept")
        let halfMade = (1...2).map { sampleServer("half\($0)") }
        do {
            let (store, _) = try JSONFileStore.open(directory: dir.path, logger: quiet)
            try store.commit([.put(.server(kept))])
            // What a crash between the record writes and the intent's removal leaves behind.
            try store.commit([.put(.server(halfMade[0]))])
        }
        let names = halfMade.map { #"{"kind": "servers", "key": "\#($0.id)"}"# }.joined(separator: ", ")
        try dir.write("intents/crashed.json", #"{"format": 1, "records": [\#(names)]}"#)

        let (_, records) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        #expect(records.servers.map(\.name) == ["kept"])
        #expect(dir.contents(of: "intents").isEmpty)
    }

    @Test func aDirectoryFromANewerReleaseIsRefused() throws {
        let dir = TemporaryDirectory()
        do { _ = try JSONFileStore.open(directory: dir.path, logger: quiet) }
        try dir.write("store.json", #"{"format": 2}"#)
        #expect {
            _ = try JSONFileStore.open(directory: dir.path, logger: quiet)
        } throws: { error in
            if case .unsupportedFormat(_, 2) = error as? StoreOpenError { return true }
            return false
        }
    }

    @Test func anInventoryOnTheStoreSurvivesARestart() throws {
        let dir = TemporaryDirectory()
        let caller = Caller(projectID: "p", userID: "u")
        var ids: [String] = []
        func inventory(_ files: JSONFileStore, _ records: LoadedRecords) -> Inventory {
            let store = InMemoryStore(records: records, networks: [.defaultPrivate], images: Image.defaults, persistence: files)
            return Inventory(store: store, networks: [.defaultPrivate])
        }
        do {
            let (files, records) = try JSONFileStore.open(directory: dir.path, logger: quiet)
            let before = inventory(files, records)
            try before.seedDefaultFlavors()
            try files.markInitialized(now: SystemClock().now())
            let draft = try ServerDraft(name: "web", flavorReference: "m1.small", image: "cirros", minCount: 3)
            ids = try before.createServers(draft, caller: caller).map(\.id)
            try before.deleteServer("web-2", caller: caller)
            _ = try before.updateServer("web-3", caller: caller, with: ServerUpdate(name: "db"))
            try before.deleteFlavor(.id("5"))
        }
        let (files, records) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        let after = inventory(files, records)
        #expect(!records.isNew)
        #expect(try after.flavors().map(\.id) == ["1", "2", "3", "4"])
        let servers = try after.servers(matching: ServerFilter(projectID: "p"), limit: 10, marker: nil)
        #expect(servers.map(\.name) == ["db", "web-1"])
        #expect(servers.map(\.id) == [ids[2], ids[0]])
        #expect(servers.map(\.version) == [2, 1])
        #expect(try after.counts().networks[0].used == 2)
        // A flavor's file is found by its id after a restart too: deleting one works.
        try after.deleteFlavor(.id("4"))
        #expect(dir.contents(of: "flavors").count == 3)
    }
}
