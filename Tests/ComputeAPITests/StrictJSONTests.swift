import ComputeAPI
import ComputeCore
import Testing

/// Request bodies are RFC 8259 JSON, no more: what Foundation's lenient parser would take is a
/// 400 that says what and where.
@Suite struct StrictJSONTests {
    private func problem(_ body: String) -> String? {
        do throws(ComputeError) {
            try StrictJSON.check(Array(body.utf8))
            return nil
        } catch {
            guard case .invalidInput(let message) = error else { return "unexpected \(error)" }
            return message
        }
    }

    @Test(arguments: [
        #"{"server": {"name": "a", "flavor": "1"}}"#,
        #"  {"a": [1, -0, 0.5, 1e10, -2.5E-3, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"], "b": {}} "#,
        "{\"name\": \"caf\u{e9} \u{1F600}\"}", "[]", "[[], {}]", "\"text\"", "0", "null",
        #"{"a": 1, "A": 2}"#, #"{"a": {"x": 1}, "b": {"x": 1}}"#,
    ])
    func validJSONPasses(body: String) {
        #expect(problem(body) == nil)
    }

    @Test(arguments: [
        (
            #"{"server": {"name": "a", "flavor": "1",}}"#,
            "a comma before '}' (JSON allows no trailing commas) at line 1, column 40."
        ),
        (#"{"a": [1, 2,]}"#, "a comma before ']' (JSON allows no trailing commas) at line 1, column 13."),
        (
            "{\n  \"server\": {\n    \"name\": \"a\",\n    \"name\": \"b\"\n  }\n}",
            "the member 'name' appears twice in 'server' at line 4, column 5."
        ),
        (#"{"a": 1, "\u0061": 2}"#, "the member 'a' appears twice in the body's object at line 1, column 10."),
        (#"{"n": [{"x": 1, "x": 2}]}"#, "the member 'x' appears twice in 'n[0]' at line 1, column 17."),
        (#"{'a': 1}"#, "expected a member name in double quotes, found ''' at line 1, column 2."),
        (#"{"a": 01}"#, "a number with a leading zero at line 1, column 7."),
        (#"{"a": 1.}"#, "a number needs digits after '.' at line 1, column 9."),
        (#"{"a": +1}"#, "expected a value, found '+' at line 1, column 7."),
        (#"{"a": NaN}"#, "expected a value, found 'N' at line 1, column 7."),
        (#"{"a": tru}"#, "expected a value, found 't' (JSON's words are true, false and null) at line 1, column 7."),
        (#"{"a": "\x"}"#, "an unknown escape '\\x' at line 1, column 8."),
        (#"{"a": "\ud800"}"#, "a lone surrogate in a \\u escape at line 1, column 14."),
        ("{\"a\": \"tab\there\"}", "a control character (U+09) inside a string; write it as an escape at line 1, column 11."),
        (#"{"a": 1} // note"#, "unexpected '/' after the end of the JSON text at line 1, column 10."),
        (#"{"a": 1 "b": 2}"#, "expected ',' or '}' in the body's object, found '\"' at line 1, column 9."),
        (#"{"a" 1}"#, "expected ':' after the member name, found '1' at line 1, column 6."),
        (#"{"a": "open}"#, "a string that is never closed at line 1, column 7."),
    ])
    func notQuiteJSONIsRefusedSayingWhereAndWhy(body: String, expected: String) {
        #expect(problem(body) == "Malformed request body: " + expected)
    }

    @Test func bytesThatAreNotUTF8AreRefused() {
        for bytes: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF]] {
            let body = Array(#"{"a": ""#.utf8) + bytes + Array(#""}"#.utf8)
            #expect(
                throws: ComputeError.invalidInput(
                    "Malformed request body: bytes that are not UTF-8 inside a string at line 1, column 8.")
            ) {
                try StrictJSON.check(body)
            }
        }
    }

    @Test func nestingIsBoundedWithoutRecursion() {
        let deep = String(repeating: "[", count: StrictJSON.maximumDepth) + String(repeating: "]", count: StrictJSON.maximumDepth)
        #expect(problem(deep) == nil)
        let deeper = String(repeating: "[", count: 100_000)
        #expect(problem(deeper)?.contains("nested deeper than \(StrictJSON.maximumDepth) levels") == true)
    }

    @Test func theServiceRefusesDuplicateMembersWithA400() {
        let client = TestClient()
        let response = client.post("/servers", #"{"server": {"name": "a", "name": "b", "flavor": "1", "image": "cirros"}}"#)
        #expect(response.status == 400)
        #expect(
            response.fault?.message == "Malformed request body: the member 'name' appears twice in 'server' at line 1, column 26."
        )
        #expect(client.get("/servers/a").status == 404, "nothing was created")
        #expect(client.post("/servers", #"{"server": {"name": "a", "flavor": "1", "image": "cirros"}}"#).status == 200)
    }
}

extension StrictJSONTests {
    @Test func aByteOrderMarkIsIgnoredAndNotCounted() {
        #expect(throws: Never.self) { try StrictJSON.check([0xEF, 0xBB, 0xBF] + Array(#"{"a": 1}"#.utf8)) }
        #expect(throws: ComputeError.invalidInput("Malformed request body: expected a value, found '}' at line 1, column 7.")) {
            try StrictJSON.check([0xEF, 0xBB, 0xBF] + Array(#"{"a": }"#.utf8))
        }
    }
}
