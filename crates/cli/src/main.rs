//! The `tcpdoctor` binary: parses the command line and wires one source to one consumer.
fn main() {}
