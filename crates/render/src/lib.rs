//! Pure renderers: reports in, text and JSON out.
//!
//! Nothing here reads the system or decides anything: the binary builds a report (from a
//! source and the diagnosis) and picks a renderer. Text renderers take a [`Style`] (colour or
//! not: the binary decides from the terminal and `NO_COLOR`) and write to any `io::Write`;
//! JSON renderers write the documented, versioned contract of `docs/json.md`.

pub mod analyze;
pub mod diagnosis;
pub mod fmt;
pub mod ls;
pub mod summary;
pub mod sysctl;

pub use fmt::Style;
