//! Pure diagnosis: sockets and kernel context in, grouped counts and findings out.
//!
//! Nothing here does I/O (no files, no clock, no environment): callers feed sockets through
//! [`SocketSink`](tcpdoctor_model::SocketSink)s and pass kernel context as values, so every
//! rule is tested with data files.
//!
//! * [`group`]: `summary --by service|peer|process|state` with top-N.

pub mod group;

pub use group::{
    Direction, Group, GroupAggregator, GroupBy, Groups, ListeningPorts, Others, UnknownGroupBy,
};
