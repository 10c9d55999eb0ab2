//! The diagnosis entry point: [`diagnose`] turns observations and kernel context into a
//! [`Report`].

use crate::finding::{Finding, Severity};
use crate::mysql::MysqlSection;
use crate::observe::Observation;
use crate::os::SourceOs;
use crate::rates::{rates, Rates};
use crate::rules;
use crate::trend::Trend;
use serde::{Deserialize, Serialize};
use tcpdoctor_model::{
    KernelContext, MysqlStatus, ServiceNames, Sockstat, StateCounts, SCHEMA_VERSION,
};

/// Everything [`diagnose`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct DiagnoseInput<'a> {
    /// One observation per scan, oldest first; the last one is "now". Two or more enable
    /// `connection-growth`.
    pub observations: &'a [Observation],
    /// Kernel context at the (last) scan. Empty for pasted text.
    pub kernel: &'a KernelContext,
    /// Kernel context at the start of the interval, for rates.
    pub kernel_before: Option<&'a KernelContext>,
    /// Milliseconds between `kernel_before` and `kernel`, and between the first and the last
    /// observation when their `taken_at_ms` is unknown (then spread evenly).
    pub interval_ms: Option<u64>,
    /// The OS the sockets belong to.
    pub os: SourceOs,
    /// Port names for labels.
    pub services: Option<&'a ServiceNames>,
    /// MySQL's own view at the (last) scan (`--mysql`): enables the report's `mysql` section
    /// and `mysql-connection-leak`.
    pub mysql: Option<&'a MysqlStatus>,
    /// MySQL's own view at the first scan, for growth and counter deltas.
    pub mysql_before: Option<&'a MysqlStatus>,
    /// The growth history of every scan, fed in order, when the caller kept it while the scans
    /// streamed by (a long run of pasted snapshots); `observations` then needs only the first
    /// and the last scan. `None`: built from `observations`.
    pub trend: Option<&'a Trend>,
}

impl<'a> DiagnoseInput<'a> {
    /// An input with one or more observations and the current kernel context; no rates.
    pub fn new(
        observations: &'a [Observation],
        kernel: &'a KernelContext,
        os: SourceOs,
    ) -> DiagnoseInput<'a> {
        DiagnoseInput {
            observations,
            kernel,
            kernel_before: None,
            interval_ms: None,
            os,
            services: None,
            mysql: None,
            mysql_before: None,
            trend: None,
        }
    }
}

/// The usable ephemeral range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    /// First port.
    pub low: u16,
    /// Last port.
    pub high: u16,
    /// Ports of the range listed in `ip_local_reserved_ports`.
    pub reserved: u64,
    /// `high - low + 1 - reserved` (tcp-facts 5.1-5.2).
    pub usable: u64,
    /// Whether the range is a default assumed for the OS rather than read from the host.
    pub assumed: bool,
    /// Where the numbers come from.
    pub source: String,
}

/// The result of a diagnosis: the `tcpdoctor --json` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Sockets in the last observation.
    pub total: u64,
    /// Per-state counts of the last observation (all 11 keys).
    pub states: StateCounts,
    /// Findings, worst first.
    pub findings: Vec<Finding>,
    /// Rates over the interval, when two kernel readings were given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates: Option<Rates>,
    /// The OS the sockets belong to.
    pub os: SourceOs,
    /// Whether sysctls and counters were available (a live Linux host).
    pub kernel_context: bool,
    /// Kernel release when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    /// `/proc/net/sockstat` when known (its `tw` is the kernel's own TIME_WAIT figure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sockstat: Option<Sockstat>,
    /// Number of observations.
    pub snapshots: usize,
    /// Seconds between the first and the last observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_s: Option<f64>,
    /// TIME_WAIT length used in the arithmetic, seconds.
    pub time_wait_secs: u64,
    /// The ephemeral range used in the arithmetic.
    pub port_range: PortRange,
    /// The busiest client-side port space (local IP, remote IP, remote port), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busiest_port_space: Option<PortSpaceUse>,
    /// What could not be checked and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// MySQL's own view joined with the TCP view, when the server was read (`--mysql`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql: Option<MysqlSection>,
}

/// Use of one ephemeral-port space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortSpaceUse {
    /// `local_ip->remote_ip:port`.
    pub key: String,
    /// Local ports in use towards it, any state.
    pub in_use: u64,
    /// Usable ports of the range.
    pub usable: u64,
    /// `in_use / usable` in percent.
    pub used_pct: f64,
}

impl Report {
    /// The worst severity among the findings.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// The finding with this id, if any (the first one).
    pub fn finding(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id == id)
    }
}

/// Parsed `major.minor` of a kernel release (`6.8.0-45-generic` -> (6, 8)).
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// Shared view for the rules.
pub(crate) struct Ctx<'a> {
    pub obs: &'a Observation,
    /// The first scan, when there are two or more.
    pub first: Option<&'a Observation>,
    /// Number of scans.
    pub scans: usize,
    /// Growth history of every scan.
    pub trend: &'a Trend,
    pub k: &'a KernelContext,
    pub os: SourceOs,
    pub live: bool,
    pub rates: Option<Rates>,
    pub tw_secs: u64,
    pub range: PortRange,
    pub services: Option<&'a ServiceNames>,
    pub interval_s: Option<f64>,
    pub kver: Option<(u32, u32)>,
    pub mysql: Option<MysqlSection>,
}

impl Ctx<'_> {
    pub fn sysctl(&self, key: &str) -> Option<u64> {
        self.k.sysctl_u64(key)
    }

    /// `3306 (mysql)` or `3306`.
    pub fn port_label(&self, p: u16) -> String {
        match self.services.and_then(|s| s.name(p)) {
            Some(n) => format!("{p} ({n})"),
            None => p.to_string(),
        }
    }

    /// The TIME_WAIT count that means "a pile": what [`rules::CHURN_PER_S`] closes per second
    /// leave behind over one TIME_WAIT length.
    pub fn tw_pile(&self) -> u64 {
        (rules::CHURN_PER_S * self.tw_secs as f64) as u64
    }

    pub fn ext_delta(&self, name: &str) -> Option<i64> {
        self.rates.as_ref().map(|r| r.ext(name))
    }

    pub fn ext_total(&self, name: &str) -> Option<u64> {
        self.k.tcp_ext.get(name).copied()
    }

    pub fn kernel_at_least(&self, major: u32, minor: u32) -> Option<bool> {
        self.kver.map(|v| v >= (major, minor))
    }
}

fn port_range(k: &KernelContext, os: SourceOs) -> PortRange {
    let (low, high, assumed, source) = match (os, k.local_port_range()) {
        (SourceOs::Linux, Some((l, h))) => {
            (l, h, false, "net.ipv4.ip_local_port_range".to_string())
        }
        _ => {
            let (l, h, s) = os.default_port_range();
            (l, h, true, s.to_string())
        }
    };
    let mut reserved = 0u64;
    if !assumed {
        let mut seen = vec![false; 65536];
        for (a, b) in k.reserved_ports() {
            let (a, b) = (a.max(low), b.min(high));
            if a <= b {
                for p in a..=b {
                    if !seen[usize::from(p)] {
                        seen[usize::from(p)] = true;
                        reserved += 1;
                    }
                }
            }
        }
    }
    let size = u64::from(high) - u64::from(low) + 1;
    PortRange {
        low,
        high,
        reserved,
        usable: size.saturating_sub(reserved),
        assumed,
        source,
    }
}

/// Runs every rule and returns the report, findings worst first. Pure: same input, same
/// report.
pub fn diagnose(input: &DiagnoseInput<'_>) -> Report {
    let empty;
    let obs = match input.observations.last() {
        Some(o) => o,
        None => {
            empty = Observation::new(
                &tcpdoctor_model::ScanInfo::new(tcpdoctor_model::SourceKind::File),
                Default::default(),
            );
            &empty
        }
    };
    let live = input.os == SourceOs::Linux && !input.kernel.sysctls.is_empty();
    let r = match (input.kernel_before, input.interval_ms) {
        (Some(b), Some(ms)) => rates(b, input.kernel, ms),
        _ => None,
    };
    let built;
    let trend = match input.trend {
        Some(t) => t,
        None if input.observations.len() < 2 => {
            built = Trend::unfollowed(input.observations.len());
            &built
        }
        None => {
            let mut t = Trend::new();
            for o in input.observations {
                t.observe(o);
            }
            built = t;
            &built
        }
    };
    let n = input.observations.len();
    let scans = trend.scans().max(n);
    let interval_s = if n >= 2 {
        let (a, b) = (
            input.observations[0].taken_at_ms,
            input.observations[n - 1].taken_at_ms,
        );
        if a > 0 && b > a {
            Some((b - a) as f64 / 1000.0)
        } else {
            input.interval_ms.map(|ms| ms as f64 / 1000.0)
        }
    } else {
        None
    };
    let ctx = Ctx {
        obs,
        first: input.observations.first().filter(|_| n >= 2),
        scans,
        trend,
        k: input.kernel,
        os: input.os,
        live,
        rates: r.clone(),
        tw_secs: input.os.time_wait().secs,
        range: port_range(input.kernel, input.os),
        services: input.services,
        interval_s,
        kver: input
            .kernel
            .kernel_release
            .as_deref()
            .and_then(kernel_version),
        mysql: input
            .mysql
            .map(|m| rules::mysql::section(m, input.mysql_before, obs)),
    };
    let mut findings = rules::run(&ctx);
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| rules::order(&a.id).cmp(&rules::order(&b.id)))
    });
    let mut notes = Vec::new();
    if !live {
        notes.push(format!(
            "No sysctls or kernel counters for these sockets ({}): settings, rates and counter-based checks were skipped, and the ephemeral range {}-{} is an assumption ({}).",
            if input.os == SourceOs::Linux { "pasted text or a saved file" } else { "not a live Linux host" },
            ctx.range.low,
            ctx.range.high,
            ctx.range.source
        ));
    }
    if !obs.owners_resolved && live {
        notes.push("Owning processes were not looked up (--no-owners): per-process checks (close-wait-leak by pid, connection-growth per process) fall back to ports and peers.".to_string());
    } else if !live && !obs.processes.is_empty() {
        // Pasted text with a process column (ss -p, netstat -p, Windows -o): owners as printed.
    } else if !live {
        notes.push("The pasted output has no process column, so findings name ports and peers, not processes; paste `ss -tanp` or `netstat -tanp` (as root) or Windows `netstat -ano` to name them.".to_string());
    }
    if obs.dropped_keys > 0 {
        notes.push(format!(
            "Per-peer, per-process, per-listener and port-space lists are incomplete: they reached their key limit, and {} socket entries were left out of them (one socket can miss several); the totals include every socket.",
            tcpdoctor_model::thousands(obs.dropped_keys)
        ));
    }
    if let Some(r) = &r {
        if !r.went_backwards.is_empty() {
            notes.push(format!(
                "Counters went backwards between the two readings ({}): a reset or readings from different namespaces; they were left out.",
                r.went_backwards.join(", ")
            ));
        }
    }
    if let Some(m) = &ctx.mysql {
        if !m.status.processlist_complete {
            notes.push("The MySQL account lacks the PROCESS privilege: the processlist showed only its own threads, so Sleep threads per client host are partial.".to_string());
        }
    }
    let busiest_port_space = obs
        .port_spaces
        .iter()
        .map(|(k, v)| {
            (
                k,
                if obs.port_range().is_some() {
                    v.in_range
                } else {
                    v.states.total()
                },
            )
        })
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(k, in_use)| {
            let r = if k.remote_ip.is_ipv6() {
                format!("[{}]:{}", k.remote_ip, k.remote_port)
            } else {
                format!("{}:{}", k.remote_ip, k.remote_port)
            };
            PortSpaceUse {
                key: format!("{}->{r}", k.local_ip),
                in_use,
                usable: ctx.range.usable,
                used_pct: in_use as f64 * 100.0 / ctx.range.usable.max(1) as f64,
            }
        });
    Report {
        schema_version: SCHEMA_VERSION,
        busiest_port_space,
        total: obs.total,
        states: obs.states,
        findings,
        rates: r,
        os: input.os,
        kernel_context: live,
        kernel_release: input.kernel.kernel_release.clone(),
        sockstat: input.kernel.sockstat,
        snapshots: scans,
        interval_s,
        time_wait_secs: ctx.tw_secs,
        port_range: ctx.range.clone(),
        notes,
        mysql: ctx.mysql.clone(),
    }
}
