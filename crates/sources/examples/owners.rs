//! Times the `/proc` owner scan alone: `cargo run --release -p tcpdoctor-sources --example owners [REPS]`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]
fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    for _ in 0..reps {
        let t = std::time::Instant::now();
        let m = tcpdoctor_sources::owners::OwnerMap::scan().unwrap();
        println!(
            "{} owners, {} processes, {:.1} ms",
            m.len(),
            m.processes,
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}
