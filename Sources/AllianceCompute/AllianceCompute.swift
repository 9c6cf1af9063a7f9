import ArgumentParser

/// `alliance-compute`: the Alliance Compute API worker and its operator commands.
@main
struct AllianceCompute: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "alliance-compute",
        abstract: "The Alliance Compute API: a compute-inventory REST service served to nginx over FastCGI.",
        discussion: """
            nginx terminates TLS and forwards /servers, /flavors, /v2.1 (OpenStack Compute), \
            /identity/v3 (OpenStack Identity), /image, /network and /healthz to this worker over \
            FastCGI; the worker keeps its state as JSON files in a data directory (or PostgreSQL). \
            Clients send tokens made by `alliance-compute token create`, or sign in at /identity/v3 \
            as users made by `alliance-compute user create` (the clouds.yaml of any OpenStack cloud).

            Run it by hand for a quick look (nginx must point its fastcgi_pass at the socket):
              alliance-compute serve --data-dir ./var/data --socket ./var/run/fcgi.sock

            Under systemd the socket unit holds the socket and the service runs
              alliance-compute serve --bind fd0 --data-dir /var/lib/alliance-compute

            Then give someone access:
              alliance-compute user create --data-dir /var/lib/alliance-compute --project ops --name ada --role admin
              alliance-compute token create --data-dir /var/lib/alliance-compute --project ops --user ci --role member
            """,
        version: version,
        subcommands: [
            Serve.self, Check.self, Token.self, User.self, Quota.self, Database.self, Export.self, Import.self, Config.self,
        ]
    )
}
