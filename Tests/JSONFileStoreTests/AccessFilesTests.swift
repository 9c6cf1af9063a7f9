import ComputeCore
import ComputeTesting
import Dispatch
import Foundation
import InMemoryStore
import JSONFileStore
import Testing

final class ManualClock: Clock {
    let current = Locked(Timestamp(microsecondsSinceEpoch: 1_795_000_000_000_000))
    func now() -> Timestamp { current.withLock { $0 } }
}

/// How the worker checks the tokens of a data directory: the identity rules over its files.
func workerTokens(
    _ directory: String, clock: any Clock = SystemClock(), report: @escaping @Sendable ([String]) -> Void = { _ in }
) throws -> Identity {
    Identity(store: try IdentityFiles(dataDirectory: directory, report: report), clock: clock)
}

@Suite struct TokenStoreTests {
    @Test func aCreatedTokenAuthenticatesUntilRevoked() throws {
        let dir = TemporaryDirectory(created: true)
        let store = try workerTokens(dir.path)
        #expect(try store.caller(forToken: "x") == nil, "no tokens directory yet")
        let (token, record) = try TokenStore.create(
            dataDirectory: dir.path, project: "web", user: "ci", role: .member, expires: nil)
        #expect(try store.caller(forToken: token) == Caller(projectID: "web", userID: "ci", role: .member), "seen at once")
        // Only the hash is stored: the secret appears in no file.
        let secret = String(token.split(separator: ".")[1])
        let file = try String(contentsOfFile: dir.file("tokens/\(record.id).json"), encoding: .utf8)
        #expect(!file.contains(secret) && file.contains(record.sha256))
        let mode = try FileManager.default.attributesOfItem(atPath: dir.file("tokens/\(record.id).json"))[.posixPermissions]
        #expect(mode as? Int == 0o600)
        // A wrong secret of the right id, a truncated token, another id: all refused.
        #expect(try store.caller(forToken: "\(record.id).\(String(repeating: "0", count: 64))") == nil)
        #expect(try store.caller(forToken: String(token.dropLast())) == nil)
        #expect(try store.caller(forToken: "000000000000.\(secret)") == nil)
        #expect(try TokenStore.revoke(dataDirectory: dir.path, id: record.id))
        #expect(try store.caller(forToken: token) == nil, "revoked at once")
        #expect(try !TokenStore.revoke(dataDirectory: dir.path, id: record.id))
    }

    @Test func expiredTokensAreRefused() throws {
        let dir = TemporaryDirectory(created: true)
        let clock = ManualClock()
        let (token, _) = try TokenStore.create(
            dataDirectory: dir.path, project: "p", user: "u", role: .admin,
            expires: Timestamp(microsecondsSinceEpoch: clock.now().microsecondsSinceEpoch + 60_000_000))
        let store = try workerTokens(dir.path, clock: clock)
        #expect(try store.caller(forToken: token)?.role == .admin)
        clock.current.withLock { $0.microsecondsSinceEpoch += 60_000_000 }
        #expect(try store.caller(forToken: token) == nil)
        #expect(try TokenStore.list(dataDirectory: dir.path).records.first?.isExpired(at: clock.now()) == true)
    }

    @Test func aDamagedTokenFileIsReportedAndIgnored() throws {
        let dir = TemporaryDirectory(created: true)
        let (token, _) = try TokenStore.create(dataDirectory: dir.path, project: "p", user: "u", role: .member, expires: nil)
        try dir.write("tokens/bad.json", "{not json")
        // A record whose hash is not 64 hex digits is refused when read, not trusted.
        let (tampered, record) = try TokenStore.create(
            dataDirectory: dir.path, project: "p", user: "u", role: .member, expires: nil)
        let file = dir.file("tokens/\(record.id).json")
        try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: record.sha256, with: "zz")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let reports = Locked<[String]>([])
        let store = try workerTokens(dir.path, report: { problems in reports.withLock { $0 += problems } })
        #expect(try store.caller(forToken: token) != nil)
        #expect(try store.caller(forToken: tampered) == nil)
        #expect(reports.withLock { $0.contains { $0.contains("bad.json") } })
        #expect(reports.withLock { $0.contains { $0.contains("\(record.id).json") } })
    }

    @Test func badProjectsAreRefused() {
        let dir = TemporaryDirectory(created: true)
        #expect(
            throws: ComputeError.invalidField("project", "must be 1–255 characters of letters, digits, '.', '_' or '-'.")
        ) {
            try TokenStore.create(dataDirectory: dir.path, project: "../x", user: "u", role: .member, expires: nil)
        }
    }
}

@Suite struct QuotaFilesTests {
    @Test func overridesMergeAndApplyAtOnce() throws {
        let dir = TemporaryDirectory(created: true)
        let quotas = QuotaFiles(dataDirectory: dir.path)
        #expect(quotas.limits(for: "web", defaults: .novaDefaults) == .novaDefaults)
        _ = try QuotaFiles.set(QuotaOverride(project: "web", instances: 2), dataDirectory: dir.path)
        let merged = try QuotaFiles.set(QuotaOverride(project: "web", ram: -1), dataDirectory: dir.path)
        #expect(merged == QuotaOverride(project: "web", instances: 2, ram: -1))
        #expect(quotas.limits(for: "web", defaults: .novaDefaults) == QuotaLimits(instances: 2, cores: 20, ram: -1))
        #expect(quotas.limits(for: "other", defaults: .novaDefaults) == .novaDefaults)
        #expect(throws: ComputeError.invalidField("cores", "must be -1 (unlimited) or from 0 to 2147483647.")) {
            try QuotaFiles.set(QuotaOverride(project: "web", cores: -2), dataDirectory: dir.path)
        }
        // Nova's other resources, and the default class (a key no project id can be).
        _ = try QuotaFiles.set(QuotaOverride(project: "web", others: ["key_pairs": 3]), dataDirectory: dir.path)
        _ = try QuotaFiles.set(
            QuotaOverride(project: QuotaOverride.defaultClass, instances: 4, others: ["metadata_items": 5]),
            dataDirectory: dir.path)
        let reread = QuotaFiles(dataDirectory: dir.path)
        #expect(reread.limits(for: "web", defaults: .novaDefaults).limit(.keyPairs) == 3)
        #expect(reread.limits(for: QuotaOverride.defaultClass, defaults: .novaDefaults).limit(.metadataItems) == 5)
        #expect(throws: ComputeError.invalidField("bogus", "is not a quota resource.")) {
            try QuotaFiles.set(QuotaOverride(project: "web", others: ["bogus": 1]), dataDirectory: dir.path)
        }
        #expect(throws: ComputeError.invalidField("project", "must be 1–255 characters of letters, digits, '.', '_' or '-'.")) {
            try QuotaFiles.set(QuotaOverride(project: ":other"), dataDirectory: dir.path)
        }
    }
}

@Suite struct TokenStoreConcurrencyTests {
    /// Request threads look tokens up while the CLI adds and revokes others (run under TSan by
    /// deploy/test).
    @Test func lookupsRaceWithChanges() throws {
        let dir = TemporaryDirectory(created: true)
        let store = try workerTokens(dir.path)
        let (token, _) = try TokenStore.create(dataDirectory: dir.path, project: "p", user: "u", role: .member, expires: nil)
        let failures = Locked(0)
        let path = dir.path
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for round in 0..<50 {
                if worker == 0 {
                    if let (_, record) = try? TokenStore.create(
                        dataDirectory: path, project: "p\(round)", user: "u", role: .member, expires: nil)
                    {
                        _ = try? TokenStore.revoke(dataDirectory: path, id: record.id)
                    }
                } else if (try? store.caller(forToken: token)) ?? nil == nil {
                    failures.withLock { $0 += 1 }
                }
            }
        }
        #expect(failures.withLock { $0 } == 0, "an unchanged token stays valid while others come and go")
    }
}
