//! What a diagnosis says: [`Finding`]s with severity, evidence, explanation, remedies and
//! the advice to avoid.

use serde::{Deserialize, Serialize};
use std::fmt;
use tcpdoctor_model::{Socket, StateCounts, TcpState, Timer};

/// How bad a finding is. Orders `Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is failing.
    Info,
    /// Something degrades or will fail if it goes on.
    Warning,
    /// Something is failing now or is about to.
    Critical,
}

impl Severity {
    /// `info`, `warning`, `critical`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Parses `info`, `warning`/`warn`, `critical`/`crit` (case-insensitive).
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "warning" | "warn" => Some(Severity::Warning),
            "critical" | "crit" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A number in the evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A count.
    Int(i64),
    /// A rate, a ratio, a duration.
    Float(f64),
    /// A value that is not a number (a sysctl string, a range).
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) if x.abs() >= 100.0 => write!(f, "{x:.0}"),
            Value::Float(x) => write!(f, "{x:.1}"),
            Value::Text(s) => f.write_str(s),
        }
    }
}

/// One named number of the evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Machine-readable name (`time_wait`, `usable_ports`, `closes_per_s`).
    pub name: String,
    /// The value.
    pub value: Value,
    /// Unit, when there is one (`sockets`, `/s`, `%`, `s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// What it is, in a few words.
    pub label: String,
}

/// What an evidence group is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupKind {
    /// A local port this host listens on.
    LocalPort,
    /// A remote service (address and port) this host connects to.
    RemoteService,
    /// A (local IP, remote IP, remote port) triple: one ephemeral-port space.
    PortSpace,
    /// A remote address.
    Peer,
    /// A process.
    Process,
    /// A listening socket.
    Listener,
    /// A kernel counter.
    Counter,
    /// A sysctl.
    Sysctl,
}

/// One of the top groups that prove a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceGroup {
    /// What the group is.
    pub kind: GroupKind,
    /// Machine-readable key (`local:3306`, `10.0.0.5:443`, `pid:1234`, `10.0.0.1->10.0.0.5:443`).
    pub key: String,
    /// Human label.
    pub label: String,
    /// The count that matters for this finding (TIME_WAIT sockets, ports in use, ...).
    pub count: u64,
    /// Per-state counts of the group when they help (all 11 keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub states: Option<StateCounts>,
    /// Further numbers for this group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
}

/// A socket shown as an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleSocket {
    /// State.
    pub state: TcpState,
    /// Local endpoint as `ss -n` prints it.
    pub local: String,
    /// Remote endpoint.
    pub remote: String,
    /// Timer and time left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<Timer>,
    /// Receive queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recv_q: Option<u32>,
    /// Send queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_q: Option<u32>,
    /// Owning process as `comm[pid]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
}

impl SampleSocket {
    /// A sample of a socket.
    pub fn of(s: &Socket) -> SampleSocket {
        SampleSocket {
            state: s.state,
            local: s.local.to_string(),
            remote: s.remote.to_string(),
            timer: s.timer,
            recv_q: s.recv_q,
            send_q: s.send_q,
            process: s
                .owners
                .iter()
                .min_by_key(|p| p.pid)
                .map(|p| format!("{}[{}]", p.comm, p.pid)),
        }
    }
}

/// The numbers and groups that prove a finding.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// Headline numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Top groups, worst first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<EvidenceGroup>,
    /// A few example sockets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<SampleSocket>,
}

impl Evidence {
    /// Adds a headline number.
    pub fn metric(&mut self, name: &str, value: Value, unit: Option<&str>, label: &str) {
        self.metrics.push(Metric {
            name: name.to_string(),
            value,
            unit: unit.map(str::to_string),
            label: label.to_string(),
        });
    }

    /// The value of a headline number by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| &m.value)
    }
}

/// Where a remedy acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemedyLevel {
    /// In the application or protocol (always listed first).
    Application,
    /// Operational steps: restart, find the culprit, filter traffic.
    Operations,
    /// Kernel or OS settings.
    Kernel,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remedy {
    /// Where it acts.
    pub level: RemedyLevel,
    /// What to do and why, in one or two sentences.
    pub text: String,
    /// Exact commands, when there are any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
}

impl Remedy {
    /// A remedy without commands.
    pub fn new(level: RemedyLevel, text: impl Into<String>) -> Remedy {
        Remedy {
            level,
            text: text.into(),
            commands: Vec::new(),
        }
    }

    /// Adds a command.
    pub fn cmd(mut self, c: impl Into<String>) -> Remedy {
        self.commands.push(c.into());
        self
    }
}

/// Popular advice that would not help here (or would hurt), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Avoid {
    /// The advice, as people give it (`net.ipv4.tcp_tw_reuse=1`).
    pub advice: String,
    /// Why not, here.
    pub why: String,
}

impl Avoid {
    /// An entry.
    pub fn new(advice: impl Into<String>, why: impl Into<String>) -> Avoid {
        Avoid {
            advice: advice.into(),
            why: why.into(),
        }
    }
}

/// One diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id from the catalogue (see [`crate::catalogue`]).
    pub id: String,
    /// How bad.
    pub severity: Severity,
    /// One line, with the key number.
    pub summary: String,
    /// Numbers, top groups and sample sockets.
    pub evidence: Evidence,
    /// What the kernel is doing, who closes first, why the sockets sit where they sit.
    pub explanation: String,
    /// What to do: application level first, then operations, then kernel.
    pub remedies: Vec<Remedy>,
    /// Popular advice that would not help here or would hurt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub avoid: Vec<Avoid>,
    /// Sections of the fact sheet (`tcp-facts.md`) the texts rest on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<String>,
}

impl Finding {
    /// A finding with empty evidence and texts.
    pub fn new(id: &str, severity: Severity, summary: impl Into<String>) -> Finding {
        Finding {
            id: id.to_string(),
            severity,
            summary: summary.into(),
            evidence: Evidence::default(),
            explanation: String::new(),
            remedies: Vec::new(),
            avoid: Vec::new(),
            facts: Vec::new(),
        }
    }

    /// Every piece of text of the finding (summary, explanation, remedies with commands,
    /// avoid entries), for scanning.
    pub fn texts(&self) -> Vec<&str> {
        let mut v = vec![self.summary.as_str(), self.explanation.as_str()];
        for r in &self.remedies {
            v.push(&r.text);
            v.extend(r.commands.iter().map(String::as_str));
        }
        for a in &self.avoid {
            v.push(&a.advice);
            v.push(&a.why);
        }
        v
    }

    pub(crate) fn facts(mut self, f: &[&str]) -> Finding {
        self.facts = f.iter().map(|s| s.to_string()).collect();
        self
    }
}
