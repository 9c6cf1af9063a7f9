import ArgumentParser
import FastCGI

extension Serve {
    /// `--bind`: a socket inherited from whoever started the worker, or a TCP port of its own.
    enum Binding: ExpressibleByArgument, Equatable, CustomStringConvertible {
        case fd0, systemd, auto
        case tcp(host: String, port: Int)

        init?(argument: String) {
            switch argument {
            case "fd0": self = .fd0
            case "systemd": self = .systemd
            case "auto": self = .auto
            default:
                guard argument.hasPrefix("tcp:") else { return nil }
                let address = argument.dropFirst(4)
                let host: Substring
                let port: Substring
                if address.hasPrefix("["), let end = address.firstIndex(of: "]") {
                    host = address[address.index(after: address.startIndex)..<end]
                    guard address[end...].hasPrefix("]:") else { return nil }
                    port = address[address.index(end, offsetBy: 2)...]
                } else {
                    guard let colon = address.lastIndex(of: ":") else { return nil }
                    (host, port) = (address[..<colon], address[address.index(after: colon)...])
                }
                guard let number = Int(port), (1...65535).contains(number), AddressRange(String(host)) != nil else {
                    return nil
                }
                self = .tcp(host: String(host), port: number)
            }
        }

        var description: String {
            switch self {
            case .fd0: "fd0"
            case .systemd: "systemd"
            case .auto: "auto"
            case .tcp(let host, let port): host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
            }
        }

        static var defaultCompletionKind: CompletionKind { .list(["fd0", "systemd", "auto", "tcp:"]) }
    }
}
