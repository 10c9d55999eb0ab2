//! The scenario catalogue. Names and expected finding ids are a contract (issue 5).

use crate::report::Severity;
use serde::Serialize;

/// Which namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The namespace that connects.
    Client,
    /// The namespace that listens.
    Server,
}

impl Side {
    /// `client` or `server`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// What the evidence of an expected finding must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Naming {
    /// The scenario's service port (a group key `...:PORT` or a `port` metric).
    Port,
    /// The main process of a side (the lab's worker, or mariadbd on the server): a
    /// `pid:PID` group, a `pid` metric or a sample owned by `comm[PID]`.
    Process(Side),
}

/// One expectation of `--check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expect {
    /// Where the finding must (or must not) appear.
    pub side: Side,
    /// Finding id.
    pub id: &'static str,
    /// `false`: the finding must be absent.
    pub present: bool,
    /// Lowest acceptable severity (present findings).
    pub min_severity: Severity,
    /// What the evidence must name (present findings).
    pub names: Option<Naming>,
    /// The probe whose reports count; `None`: any probe of the run.
    pub probe: Option<&'static str>,
}

impl Expect {
    fn on(side: Side, id: &'static str, names: Naming) -> Expect {
        Expect {
            side,
            id,
            present: true,
            min_severity: Severity::Info,
            names: Some(names),
            probe: None,
        }
    }

    fn absent(side: Side, id: &'static str) -> Expect {
        Expect {
            side,
            id,
            present: false,
            min_severity: Severity::Info,
            names: None,
            probe: None,
        }
    }

    fn at(mut self, probe: &'static str) -> Expect {
        self.probe = Some(probe);
        self
    }

    fn min(mut self, s: Severity) -> Expect {
        self.min_severity = s;
        self
    }

    /// `time-wait-server-side on the server (naming port 8080)`.
    pub fn describe(&self, port: u16) -> String {
        let mut s = if self.present {
            format!("{} on the {}", self.id, self.side.name())
        } else {
            format!("no {} on the {}", self.id, self.side.name())
        };
        if self.present && self.min_severity > Severity::Info {
            s.push_str(&format!(" ({} or worse)", self.min_severity.name()));
        }
        match self.names {
            Some(Naming::Port) => s.push_str(&format!(" naming port {port}")),
            Some(Naming::Process(side)) => {
                s.push_str(&format!(" naming the {} process", side.name()))
            }
            None => {}
        }
        if let Some(p) = self.probe {
            s.push_str(&format!(" [{p}]"));
        }
        s
    }
}

/// How the server side behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerMode {
    /// Answers, then closes first (TIME_WAIT on the server).
    CloseFirst,
    /// Answers, then waits for the client's FIN before closing (TIME_WAIT on the client).
    WaitClient,
    /// Answers and never closes (CLOSE_WAIT on the server after the client's FIN).
    Hold,
    /// Listens with a tiny backlog and never accepts.
    NeverAccept,
    /// A real MariaDB server.
    Mariadb,
}

/// How the client side behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientMode {
    /// Request, read until the server's FIN, then close.
    WaitServer,
    /// Request, read the answer, close first.
    CloseFirst,
    /// Request, read the answer, keep the connection open.
    Leak,
    /// Non-blocking connect, nothing else; keep the socket.
    SynOnly,
    /// MySQL: connect, `SELECT 1`, quit (COM_QUIT) per request.
    MysqlShort,
    /// MySQL: connect, `SELECT 1`, keep the connection and never close it.
    MysqlNoClose,
    /// MySQL: the same requests through a small pool (2 to 4 connections).
    MysqlPooled,
}

/// When a probe diagnoses both namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeAt {
    /// This many milliseconds after the client started (while the workload runs).
    During(u64),
    /// This many milliseconds after the client's workload finished.
    After(u64),
    /// After the workload, once the lab (as a watchdog such as pt-kill would) has killed the
    /// MySQL lab user's idle Sleep threads, plus this many ms.
    AfterKillIdle(u64),
}

/// One diagnosis of both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// Name used in the output and in [`Expect::probe`].
    pub label: &'static str,
    /// When.
    pub at: ProbeAt,
    /// `--interval` seconds (two readings), for `connection-growth` and counter deltas.
    pub interval_s: Option<u32>,
}

/// One client workload and the probes taken while or after it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    /// Name in the output.
    pub label: &'static str,
    /// The client.
    pub client: ClientMode,
    /// Probes, in time order.
    pub probes: Vec<Probe>,
}

/// A scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Name (a contract).
    pub name: &'static str,
    /// One line.
    pub description: &'static str,
    /// The server.
    pub server: ServerMode,
    /// Client phases, run one after the other against the same server.
    pub phases: Vec<Phase>,
    /// Service port.
    pub port: u16,
    /// Workload length of each phase, seconds.
    pub duration_s: f64,
    /// New connections (or requests) per second.
    pub rate: u32,
    /// `net.ipv4.ip_local_port_range` set in the client namespace.
    pub client_port_range: Option<(u16, u16)>,
    /// Listen backlog of the lab's own server.
    pub backlog: i32,
    /// What `--check` demands.
    pub expects: Vec<Expect>,
    /// What the run demonstrates, for the output.
    pub lesson: &'static str,
}

impl Scenario {
    /// Whether it needs MariaDB.
    pub fn needs_mariadb(&self) -> bool {
        self.server == ServerMode::Mariadb
    }
}

/// The MariaDB `wait_timeout` the lab sets, seconds.
pub const MYSQL_WAIT_TIMEOUT_S: u64 = 5;

fn probe(label: &'static str, at: ProbeAt, interval_s: Option<u32>) -> Probe {
    Probe {
        label,
        at,
        interval_s,
    }
}

fn phase(label: &'static str, client: ClientMode, probes: Vec<Probe>) -> Phase {
    Phase {
        label,
        client,
        probes,
    }
}

/// Every scenario, in `lab list` order.
pub fn scenarios() -> Vec<Scenario> {
    use ClientMode as C;
    use ProbeAt::*;
    use ServerMode as S;
    use Side::*;
    let base = |name, description, server, phases, expects, lesson| Scenario {
        name,
        description,
        server,
        phases,
        port: 8080,
        duration_s: 4.0,
        rate: 150,
        client_port_range: None,
        backlog: 128,
        expects,
        lesson,
    };
    let after = || vec![probe("after", After(300), None)];
    vec![
        base(
            "server-close-storm",
            "short request/response connections where the server closes first",
            S::CloseFirst,
            vec![phase("storm", C::WaitServer, after())],
            vec![Expect::on(Server, "time-wait-server-side", Naming::Port), Expect::absent(Client, "time-wait-client-side")],
            "TIME_WAIT lands on whoever sends the first FIN: here the server, on its own listening port; it costs the server no ephemeral port (tcp-facts 14.2, 5.6).",
        ),
        base(
            "client-close-storm",
            "short request/response connections where the client closes first",
            S::WaitClient,
            vec![phase("storm", C::CloseFirst, after())],
            vec![Expect::on(Client, "time-wait-client-side", Naming::Port), Expect::absent(Server, "time-wait-server-side")],
            "the client sends the first FIN, so every TIME_WAIT sits on a client ephemeral port towards the service (tcp-facts 14.2, 5.3).",
        ),
        Scenario {
            rate: 400,
            duration_s: 3.0,
            client_port_range: Some((40000, 40299)),
            ..base(
                "port-exhaustion",
                "the client's ip_local_port_range narrowed to 300 ports; connect() fails with EADDRNOTAVAIL",
                S::WaitClient,
                vec![phase("churn", C::CloseFirst, after())],
                vec![Expect::on(Client, "ephemeral-port-exhaustion", Naming::Port).min(Severity::Critical)],
                "each TIME_WAIT keeps its local port for 60 s, so 300 ports sustain 5 new connections/s to one destination; faster, connect() fails with EADDRNOTAVAIL (tcp-facts 5.3-5.5).",
            )
        },
        Scenario {
            rate: 50,
            duration_s: 2.0,
            ..base(
                "close-wait-leak",
                "a server that never closes after the client's FIN",
                S::Hold,
                vec![phase("requests", C::CloseFirst, after())],
                vec![Expect::on(Server, "close-wait-leak", Naming::Process(Server))],
                "CLOSE_WAIT means the peer closed and this application has not; only the application can close them, no kernel setting does.",
            )
        },
        Scenario {
            rate: 40,
            duration_s: 5.0,
            ..base(
                "connection-leak",
                "a client that keeps opening connections and never closes them",
                S::Hold,
                vec![phase("leak", C::Leak, vec![probe("growing", During(800), Some(2))])],
                vec![Expect::on(Client, "connection-growth", Naming::Process(Client))],
                "ESTABLISHED sockets of one process that only ever grow are a leak in the making, visible with two readings (--interval) long before a limit is hit.",
            )
        },
        Scenario {
            rate: 50,
            duration_s: 1.0,
            backlog: 4,
            ..base(
                "accept-queue-overflow",
                "a listener with a backlog of 4 that never accepts",
                S::NeverAccept,
                vec![phase("connects", C::SynOnly, vec![probe("after", After(300), Some(2))])],
                vec![Expect::on(Server, "accept-queue-overflow", Naming::Port)],
                "the accept queue holds backlog+1 completed connections; past that the kernel drops SYNs and counts ListenOverflows, and clients wait in SYN_SENT retrying (tcp-facts 7.4-7.6).",
            )
        },
        Scenario {
            port: 3306,
            rate: 200,
            duration_s: 5.0,
            ..base(
                "mysql-short-connections",
                "MariaDB: connect, SELECT 1, quit (COM_QUIT) per request",
                S::Mariadb,
                vec![phase("short", C::MysqlShort, after())],
                vec![Expect::on(Client, "time-wait-client-side", Naming::Port)],
                "TIME_WAIT lands on whoever sends the first FIN (tcp-facts 14.2). This client (the Rust mysql crate) writes COM_QUIT and closes its socket at once, as libmysqlclient does, while the server closes as soon as it reads COM_QUIT (14.1): the two FINs race, most TIME_WAIT lands on the client, the rest on the server's port 3306 (a simultaneous close leaves it on both).",
            )
        },
        Scenario {
            port: 3306,
            rate: 15,
            duration_s: 4.0,
            ..base(
                "mysql-no-close",
                "MariaDB: the application opens connections and never closes them",
                S::Mariadb,
                vec![phase(
                    "leak",
                    C::MysqlNoClose,
                    vec![probe("growing", During(800), Some(2)), probe("after-kill-idle", AfterKillIdle(500), None)],
                )],
                vec![
                    Expect::on(Client, "connection-growth", Naming::Process(Client)).at("growing"),
                    Expect::on(Client, "close-wait-leak", Naming::Process(Client)).at("after-kill-idle"),
                ],
                "Sleep threads and Threads_connected climb while the client's ESTABLISHED sockets grow (tcp-facts 14.7-14.8). When the server ends idle connections with a FIN (here the lab kills the Sleep threads, as a pt-kill watchdog would), the client holds CLOSE_WAIT until the application touches or closes them (14.3). Measured on MariaDB 10.11: connections idle past wait_timeout are ended with a reset instead (the server counts TcpOutRsts and TCPAbortOnData), which leaves no CLOSE_WAIT behind.",
            )
        },
        Scenario {
            port: 3306,
            rate: 200,
            duration_s: 4.0,
            ..base(
                "mysql-pooled",
                "MariaDB: the same requests through a pool of 2-4 connections, then without it",
                S::Mariadb,
                vec![
                    phase("pooled", C::MysqlPooled, vec![probe("pooled", After(300), None)]),
                    phase("short", C::MysqlShort, vec![probe("short", After(300), None)]),
                ],
                vec![
                    Expect::absent(Client, "time-wait-client-side").at("pooled"),
                    Expect::absent(Server, "time-wait-server-side").at("pooled"),
                    Expect::absent(Client, "close-wait-leak").at("pooled"),
                    Expect::absent(Client, "connection-growth").at("pooled"),
                    Expect::on(Client, "time-wait-client-side", Naming::Port).at("short"),
                ],
                "a pool keeps a handful of long-lived connections: the same request rate makes no TIME_WAIT pile and no leak, where one connection per request piles TIME_WAIT on the client.",
            )
        },
    ]
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<Scenario> {
    scenarios().into_iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_contract() {
        let names: Vec<&str> = scenarios().iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "server-close-storm",
                "client-close-storm",
                "port-exhaustion",
                "close-wait-leak",
                "connection-leak",
                "accept-queue-overflow",
                "mysql-short-connections",
                "mysql-no-close",
                "mysql-pooled"
            ]
        );
        assert!(find("port-exhaustion").is_some());
        assert!(find("nope").is_none());
    }

    #[test]
    fn expected_findings_per_issue() {
        let ids = |n: &str| -> Vec<(Side, &'static str, bool)> {
            find(n)
                .unwrap()
                .expects
                .iter()
                .map(|e| (e.side, e.id, e.present))
                .collect()
        };
        assert!(ids("server-close-storm").contains(&(Side::Server, "time-wait-server-side", true)));
        assert!(ids("client-close-storm").contains(&(Side::Client, "time-wait-client-side", true)));
        assert_eq!(
            ids("port-exhaustion"),
            vec![(Side::Client, "ephemeral-port-exhaustion", true)]
        );
        assert_eq!(
            find("port-exhaustion").unwrap().expects[0].min_severity,
            Severity::Critical
        );
        assert_eq!(
            ids("close-wait-leak"),
            vec![(Side::Server, "close-wait-leak", true)]
        );
        assert_eq!(
            ids("connection-leak"),
            vec![(Side::Client, "connection-growth", true)]
        );
        assert_eq!(
            ids("accept-queue-overflow"),
            vec![(Side::Server, "accept-queue-overflow", true)]
        );
        assert_eq!(
            ids("mysql-no-close"),
            vec![
                (Side::Client, "connection-growth", true),
                (Side::Client, "close-wait-leak", true)
            ]
        );
    }

    #[test]
    fn every_probe_named_in_an_expectation_exists_and_growth_has_an_interval() {
        for s in scenarios() {
            let probes: Vec<&Probe> = s.phases.iter().flat_map(|p| &p.probes).collect();
            assert!(!probes.is_empty(), "{}", s.name);
            for e in &s.expects {
                if let Some(p) = e.probe {
                    assert!(probes.iter().any(|q| q.label == p), "{}: {p}", s.name);
                }
                if e.id == "connection-growth" && e.present {
                    assert!(probes.iter().any(|q| q.interval_s.is_some()), "{}", s.name);
                }
            }
        }
    }
}
