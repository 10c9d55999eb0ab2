//! Insta snapshots of the human diagnosis report for the main scenarios. The scenarios are the
//! diagnosis crate's data files (sockets + kernel context in), so the text people read is
//! pinned for exactly the cases the rules are tested on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../diagnose/tests/common/mod.rs"]
mod common;

use std::path::Path;
use tcpdoctor_model::{Gap, GapKind, ScanInfo, SourceKind};
use tcpdoctor_render::diagnosis::render_text;
use tcpdoctor_render::Style;

fn report_text(name: &str, verbose: bool) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../diagnose/tests/scenarios")
        .join(format!("{name}.json"));
    let sc = common::load(&path);
    let report = common::run(&sc);
    let mut scan = ScanInfo::new(SourceKind::Netlink);
    scan.host = Some("db01".into());
    scan.taken_at_ms = 1_795_621_801_000;
    scan.owners_resolved = true;
    if name == "close-wait-leak" {
        scan.gap(
            Gap::new(
                GapKind::Permission,
                "the open files of 3 of 120 processes could not be read",
            )
            .with_hint("run as root"),
        );
    }
    render_text(&report, &scan, &Style { color: false }, verbose)
}

#[test]
fn main_scenarios_read_well() {
    for name in [
        "time-wait-server-side-mysql",
        "time-wait-client-side",
        "close-wait-leak",
        "ephemeral-port-exhaustion-critical",
        "accept-queue-overflow",
        "connection-growth",
        "healthy-host",
        "pasted-windows-exhaustion",
        "mysql-connection-leak-growing",
    ] {
        insta::assert_snapshot!(name, report_text(name, false));
    }
}

#[test]
fn verbose_shows_samples_and_facts() {
    let t = report_text("time-wait-server-side-mysql", true);
    assert!(t.contains("e.g. TIME_WAIT"), "{t}");
    assert!(t.contains("Facts: tcp-facts"), "{t}");
    let short = report_text("time-wait-server-side-mysql", false);
    assert!(short.lines().count() < t.lines().count());
}

#[test]
fn no_line_is_wider_than_a_terminal_except_commands_and_labels() {
    for name in [
        "time-wait-server-side-mysql",
        "close-wait-leak",
        "ephemeral-port-exhaustion-critical",
    ] {
        for line in report_text(name, false).lines() {
            let cmd = line.trim_start().starts_with('$');
            let header = line.starts_with("CRITICAL")
                || line.starts_with("WARNING")
                || line.starts_with("INFO");
            assert!(
                line.chars().count() <= 100 || cmd || header,
                "{name}: too wide: {line}"
            );
        }
    }
}
