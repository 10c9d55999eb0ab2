//! Helpers shared by the text crate's integration tests.

#![allow(dead_code)]

use tcpdoctor_model::TcpState;
use tcpdoctor_text::{parse_bytes, ParseOptions, ParseOutput};

/// Parses `text` with the default options; a failure shows the text.
pub fn parse(text: &str) -> ParseOutput {
    match parse_bytes(text.as_bytes(), &ParseOptions::default()) {
        Ok(o) => o,
        Err(e) => panic!("{e}\n---\n{text}"),
    }
}

/// TCP sockets in state `s`, over every snapshot.
pub fn count(o: &ParseOutput, s: TcpState) -> u64 {
    o.states.get(s)
}
