//! The AWS test peer: moto behind tests/aws_peer/peer.py, which scripts/test starts on a free
//! port. Plain HTTP/1.1 over a socket, so that crates which never build the AWS SDK can use it.

use std::io::{Read, Write};

/// The peer's URL, from `HOPSCOPE_TEST_AWS_ENDPOINT`.
pub fn endpoint() -> String {
    std::env::var("HOPSCOPE_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("HOPSCOPE_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test, which starts the AWS test peer (moto)")
    })
}

/// Sends one request to the peer; its whole answer, status line and headers included.
/// `headers` are extra header lines, each ending in `\r\n`.
pub fn request(method: &str, path: &str, headers: &str, body: &str) -> String {
    let url = endpoint();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).expect("peer reachable");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{headers}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Sends one request to the peer's control API (`/_peer/...`, documented in peer.py); its JSON
/// answer.
pub fn control(method: &str, path: &str, body: &str) -> serde_json::Value {
    let answer = request(method, path, "", body);
    let json = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{method} {path}: {e}: {answer}"))
}
