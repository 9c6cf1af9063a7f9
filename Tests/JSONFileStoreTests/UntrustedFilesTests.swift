import ComputeCore
import ComputeTesting
import Foundation
import InMemoryStore
import Testing

@testable import JSONFileStore

/// The data directory belongs to the worker's user; the CLI often runs as root. Nothing found
/// in it is trusted: symlinks are not followed, only regular files of bounded size are read,
/// and names that are not UTF-8 are set aside rather than stopping start-up.
@Suite(.serialized) struct UntrustedFilesTests {
    @Test func aSymlinkedTokensDirectoryIsRefusedNotWrittenThrough() throws {
        let dir = TemporaryDirectory(created: true)
        let elsewhere = TemporaryDirectory(created: true)
        try FileManager.default.createSymbolicLink(atPath: dir.file("tokens"), withDestinationPath: elsewhere.path)
        #expect(
            throws: ComputeError.invalidInput(
                "\(dir.path)/tokens is a symbolic link or not a directory; refusing to use it. Move it away and try again.")
        ) {
            try TokenStore.create(dataDirectory: dir.path, project: "p", user: "u", role: .admin, expires: nil)
        }
        #expect(elsewhere.contents(of: "").isEmpty, "nothing was written where the link points")
        #expect(
            throws: ComputeError.invalidInput(
                "\(dir.path)/tokens is a symbolic link or not a directory; refusing to use it. Move it away and try again.")
        ) { try TokenStore.list(dataDirectory: dir.path) }
    }

    @Test func aSymlinkedQuotasDirectoryIsRefused() throws {
        let dir = TemporaryDirectory(created: true)
        let elsewhere = TemporaryDirectory(created: true)
        try FileManager.default.createSymbolicLink(atPath: dir.file("quotas"), withDestinationPath: elsewhere.path)
        #expect(
            throws: ComputeError.invalidInput(
                "\(dir.path)/quotas is a symbolic link or not a directory; refusing to use it. Move it away and try again.")
        ) {
            try QuotaFiles.set(QuotaOverride(project: "p", instances: 1), dataDirectory: dir.path)
        }
        #expect(elsewhere.contents(of: "").isEmpty)
    }

    @Test func aSymlinkedTokenFileIsNeitherReadNorTrusted() throws {
        let dir = TemporaryDirectory(created: true)
        let (token, record) = try TokenStore.create(
            dataDirectory: dir.path, project: "p", user: "u", role: .admin, expires: nil)
        let outside = TemporaryDirectory(created: true)
        try FileManager.default.moveItem(atPath: dir.file("tokens/\(record.id).json"), toPath: outside.file("t.json"))
        try FileManager.default.createSymbolicLink(
            atPath: dir.file("tokens/\(record.id).json"), withDestinationPath: outside.file("t.json"))
        let (records, problems) = try TokenStore.list(dataDirectory: dir.path)
        #expect(records.isEmpty)
        #expect(problems == ["\(dir.path)/tokens/\(record.id).json is not used: a symbolic link, not a file of its own"])
        #expect(try workerTokens(dir.path).caller(forToken: token) == nil)
    }

    @Test func aMissingDataDirectoryIsAnErrorForEveryCommand() {
        let missing = TemporaryDirectory()
        let expected = ComputeError.invalidInput(
            "There is no data directory at \(missing.path): give the --data-dir the worker serves.")
        #expect(throws: expected) { try TokenStore.list(dataDirectory: missing.path) }
        #expect(throws: expected) { try TokenStore.revoke(dataDirectory: missing.path, id: "0123456789ab") }
        #expect(throws: expected) { try QuotaFiles.overrides(dataDirectory: missing.path) }
        #expect(throws: expected) {
            try TokenStore.create(dataDirectory: missing.path, project: "p", user: "u", role: .admin, expires: nil)
        }
    }

    @Test func quotaOverridesOfProjectsStartingWithADotAreReadBack() throws {
        let dir = TemporaryDirectory(created: true)
        _ = try QuotaFiles.set(QuotaOverride(project: ".x", instances: 3), dataDirectory: dir.path)
        #expect(QuotaFiles(dataDirectory: dir.path).limits(for: ".x", defaults: .novaDefaults).instances == 3)
        #expect(try QuotaFiles.overrides(dataDirectory: dir.path).items.keys.sorted() == [".x"])
    }

    @Test func creatingAControlDirectoryIsMadeDurable() throws {
        let dir = TemporaryDirectory(created: true)
        let plan = FaultPlan()
        try ControlDirectory.write(
            QuotaOverride(project: "p"), name: "p", dataDirectory: dir.path, subdirectory: "quotas",
            posix: POSIX(faults: plan))
        #expect(plan.calls(.fsync).contains(dir.path), "the data directory is fsynced after quotas/ is made")
        #expect(plan.badCloses.isEmpty && plan.openDescriptors.isEmpty)
    }

    @Test func startUpRemovesOldTemporaryFilesOfTheCLI() throws {
        let dir = TemporaryDirectory(created: true)
        _ = try TokenStore.create(dataDirectory: dir.path, project: "p", user: "u", role: .admin, expires: nil)
        try dir.write("tokens/.tmp-aaaaaaaaaaaa.json-1", "{")
        try dir.write("tokens/.tmp-bbbbbbbbbbbb.json-2", "{")
        let old = Date(timeIntervalSinceNow: -3600)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: dir.file("tokens/.tmp-aaaaaaaaaaaa.json-1"))
        _ = try JSONFileStore.open(directory: dir.path, logger: quiet)
        #expect(!dir.exists("tokens/.tmp-aaaaaaaaaaaa.json-1"), "an hour-old leftover is removed")
        #expect(dir.exists("tokens/.tmp-bbbbbbbbbbbb.json-2"), "a fresh one may be a write in progress")
    }

    @Test func startUpSetsAsideWhatIsNotARecordAndGoesOn() throws {
        let dir = TemporaryDirectory()
        let server = sampleServer("kept")
        do {
            let (store, _) = try JSONFileStore.open(directory: dir.path, logger: quiet)
            try store.commit([.put(.server(server))])
        }
        let zero = "00000000-0000-4000-8000-000000000001.json"
        try FileManager.default.createSymbolicLink(atPath: dir.file("servers/\(zero)"), withDestinationPath: "/dev/zero")
        let big = "00000000-0000-4000-8000-000000000002.json"
        try Data(count: POSIX.maxFileBytes + 1).write(to: URL(fileURLWithPath: dir.file("servers/\(big)")))
        let fifo = "00000000-0000-4000-8000-000000000003.json"
        #expect(mkfifo(dir.file("servers/\(fifo)"), 0o600) == 0)
        // A name that is not UTF-8.
        let odd = Array(dir.file("servers/").utf8) + [0xFF, 0xFE] + Array(".json".utf8)
        let fd = (odd + [0]).withUnsafeBufferPointer {
            $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o600) }
        }
        #expect(fd >= 0)
        close(fd)

        let (_, records) = try JSONFileStore.open(directory: dir.path, logger: quiet)
        #expect(records.servers == [server])
        #expect(dir.contents(of: "servers") == ["\(server.id).json"])
        let damaged = dir.contents(of: "damaged")
        #expect(damaged.count == 4)
        #expect(damaged.contains { $0.hasPrefix("servers-\\xff\\xfe.json-") })
    }

    @Test func damagedReasonsSayWhatWasFound() throws {
        let dir = TemporaryDirectory()
        do { _ = try JSONFileStore.open(directory: dir.path, logger: quiet) }
        try FileManager.default.createSymbolicLink(
            atPath: dir.file("servers/00000000-0000-4000-8000-000000000001.json"), withDestinationPath: "/dev/zero")
        try Data(count: POSIX.maxFileBytes + 1).write(
            to: URL(fileURLWithPath: dir.file("servers/00000000-0000-4000-8000-000000000002.json")))
        let inspection = try JSONFileStore.inspect(directory: dir.path, logger: quiet)
        #expect(
            Set(inspection.damaged.map(\.reason)) == [
                "a symbolic link, not a file of its own",
                "\(POSIX.maxFileBytes + 1) bytes, larger than the \(POSIX.maxFileBytes)-byte limit",
            ])
    }
}
