//! The command line, declared once with clap; `--help`, the man page and shell completions are
//! all generated from it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::sync::OnceLock;
use tcpdoctor_model::{Cidr, PortMatch, ServiceNames, StateSet};

const ABOUT: &str =
    "Finds out why a host drowns in TCP connection states, and says what to do about it.";

const LONG_ABOUT: &str = "\
Finds out why a host drowns in TCP connection states, and says what to do about it.

tcpdoctor reads every TCP socket of this host (or of a network namespace) straight from the
kernel (netlink sock_diag, the interface ss uses), counts and groups them, finds owners, and
explains what the piles of TIME_WAIT, CLOSE_WAIT or SYN_RECV mean and which fix is right.

Without a command, tcpdoctor diagnoses this host: a short state summary, then the findings,
worst first, each with its evidence (ports, peers, processes), why the sockets sit where they
sit, what to do (application first, then the kernel, with exact commands) and which popular
advice would not help. Run it as root so that owning processes can be named.";

const AFTER_HELP: &str = "\
Examples:
  tcpdoctor                               diagnose this host: findings, evidence, what to do
  tcpdoctor --interval 10s                two readings 10 s apart: rates and leaks in the making
  MYSQL_PWD=... tcpdoctor --mysql mysql://monitor@10.0.0.5:3306 --interval 10s
                                          join MySQL's own view (Sleep threads per client host)
  tcpdoctor summary                       counts per state, IPv4/IPv6, kernel cross-check
  tcpdoctor summary --by service          per local listening port or remote service port
  tcpdoctor summary --by process          which process holds them (reads /proc: run as root)
  tcpdoctor ls --state time-wait --dport 3306
                                          every TIME_WAIT socket towards MySQL servers
  tcpdoctor ls --state close-wait -p      CLOSE_WAIT sockets and the processes that hold them
  tcpdoctor -N blue summary               look into the network namespace 'blue' (ip netns add blue)
  tcpdoctor summary --json | jq .states   machine-readable output (see docs/json.md)

Exit status: 0 success (no finding at --fail-on or worse), 1 a finding at --fail-on or worse,
2 error (bad arguments, no permission, unknown namespace).";

/// Top-level command line.
#[derive(Debug, Parser)]
#[command(
    name = "tcpdoctor",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Options shared by every command (accepted before or after the command).
    #[command(flatten)]
    pub global: Global,
    /// Options of the diagnosis (no command).
    #[command(flatten)]
    pub diagnose: DiagnoseArgs,
    /// MySQL's own view for the diagnosis (no command).
    #[command(flatten)]
    pub mysql: MysqlArgs,
    /// The command; without one, the diagnosis runs.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options that every command accepts, before or after its name.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Look into the network namespace NAME (as created by `ip netns add NAME`; like `ss -N`).
    /// Needs root.
    #[arg(short = 'N', long = "netns", value_name = "NAME", global = true)]
    pub netns: Option<String>,

    /// Where to read sockets from: `netlink` (sock_diag, fast, with timers and backlogs),
    /// `proc` (/proc/net/tcp and tcp6), or `auto` (netlink, falling back to proc with a note).
    #[arg(long, value_enum, default_value_t = SourceArg::Auto, global = true)]
    pub source: SourceArg,

    /// Print JSON (a versioned contract, see docs/json.md) instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// When to use colour: `auto` (on a terminal, unless NO_COLOR is set), `always`, `never`.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, global = true, value_name = "WHEN")]
    pub color: ColorArg,
}

/// Options of the diagnosis (`tcpdoctor` with no command).
#[derive(Debug, Args, Clone)]
pub struct DiagnoseArgs {
    /// Take two readings this far apart (e.g. 5s, 500ms, 1m): rates of new connections and of
    /// closes into TIME_WAIT, counter deltas, and growth of ESTABLISHED/CLOSE_WAIT per process
    /// and peer (a leak in the making). Without it, the kernel counters alone are read twice,
    /// 1 s apart, for rates; `--interval 0` reads once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub interval: Option<std::time::Duration>,

    /// Exit with status 1 when a finding of this severity or worse is reported: info,
    /// warning, critical, or never.
    #[arg(long, value_enum, default_value_t = FailOn::Warning, value_name = "SEVERITY")]
    pub fail_on: FailOn,

    /// Show every metric, group, sample socket and fact reference of each finding.
    #[arg(short, long)]
    pub verbose: bool,

    /// Do not look up owning processes (faster on hosts with very many sockets; findings then
    /// name ports and peers but no processes).
    #[arg(long)]
    pub no_owners: bool,
}

/// `--mysql` (the diagnosis, no command).
#[derive(Debug, Args, Clone, Default)]
pub struct MysqlArgs {
    /// Also read MySQL's (MariaDB's) own view of its connections, over TCP, and join it with
    /// the sockets: Threads_connected, Max_used_connections, max_connections, Aborted_clients,
    /// wait_timeout, and Sleep threads per client host; finding `mysql-connection-leak`. URL
    /// like mysql://USER@HOST:3306 (with -N, as seen from inside that namespace). The password
    /// comes from MYSQL_PWD or TCPDOCTOR_MYSQL_PASSWORD, or a prompt on a terminal; never put
    /// it in the URL (the process list shows command lines to everyone). A failed reading is a
    /// gap in the report, not an error.
    #[arg(long, value_name = "URL")]
    pub mysql: Option<String>,
}

/// `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any finding.
    Info,
    /// Warnings and critical findings.
    Warning,
    /// Critical findings only.
    Critical,
    /// Never: exit 0 whatever is found.
    Never,
}

/// Parses `5s`, `500ms`, `2m`, `1h`, or a bare number of seconds (`2.5`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v >= 0.0 && v * mult <= 86_400.0 => {
            Ok(std::time::Duration::from_secs_f64(v * mult))
        }
        _ => Err(format!(
            "invalid duration '{s}': use e.g. 5s, 500ms, 2m (at most 24h)"
        )),
    }
}

/// `--source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    /// netlink, falling back to /proc when netlink is unavailable.
    Auto,
    /// netlink sock_diag only.
    Netlink,
    /// /proc/net/tcp and /proc/net/tcp6 only.
    Proc,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// On a terminal unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Count sockets per state, IPv4/IPv6, with the kernel's own TIME_WAIT figure as a
    /// cross-check; optionally grouped with --by.
    #[command(after_help = "\
Groups (--by):
  service   the local listening port (this host is the server) or else the remote port (this host
            is the client), named from /etc/services: `mysql (3306)`
  peer      the remote IP address
  process   the owning process (pid and name); sockets with no owner are counted apart, saying why
            (TIME_WAIT, SYN_RECV and orphaned sockets belong to no process)
  state     the TCP state

Examples:
  tcpdoctor summary --by peer --top 5
  tcpdoctor summary --state time-wait --by service")]
    Summary(SummaryArgs),

    /// List sockets one per line (state, queues, local, peer, timer with time left, process),
    /// like `ss -tanpo`, with filters.
    #[command(after_help = "\
Columns: Recv-Q/Send-Q are unread/unacknowledged bytes; for LISTEN they are the accept-queue length
and its limit (the backlog). Timer is the kernel's running timer and the time left on it:
`timewait,59sec` (a TIME_WAIT socket lives 60 s on Linux), `keepalive,119min`, `on,200ms`
(retransmit), `persist` (zero-window probe); a third field counts retransmits or probes.

Examples:
  tcpdoctor ls --state time-wait --sport 8080
  tcpdoctor ls --state established,close-wait --dst 10.0.0.0/8 -p
  tcpdoctor ls --process nginx")]
    Ls(LsArgs),

    /// Diagnose netstat/ss output pasted from any machine (Linux, Windows, macOS, BSD, Solaris,
    /// HP-UX, AIX; `-` reads standard input): the same model and diagnosis as a live host.
    #[command(after_help = "\
Formats are detected per table: Linux netstat (-an, -tanp, -tano, -tae, names, localised),
BusyBox, ss (with or without Netid/State, -p -o -e, `ss state X`, ss -s), /proc/net/tcp[6],
Windows netstat -an/-ano/-anob (CRLF, localised states), PowerShell Get-NetTCPConnection,
macOS/FreeBSD/OpenBSD/Solaris/HP-UX/AIX netstat, and bare rows. Prompts, command lines and
prose around the rows are fine. Several pasted outputs in one input (a log of `netstat` every
second) are reported one by one (a long run: the first and last five and what the others
found; -v lists all) and together: the last one, and growth across all. UDP, unix, vsock and
Bluetooth rows never count; a TCP row with a state nobody knows is counted apart and listed; an
exact repeat of a connected row (a copy-paste artefact) counts once.

Examples:
  tcpdoctor analyze netstat-web01.txt
  ssh db01 ss -tanpo | tcpdoctor analyze -
  tcpdoctor analyze --format windows-netstat --json ticket-4711.txt")]
    Analyze(AnalyzeArgs),

    /// The kernel audit: every setting that matters to TIME_WAIT, CLOSE_WAIT, port exhaustion
    /// and listen queues (value, default, what it does and does NOT do, advice for what this
    /// host shows); --emit prints a /etc/sysctl.d/ file, --apply writes (after a backup),
    /// --rollback restores.
    #[command(after_help = SYSCTL_HELP)]
    Sysctl(SysctlArgs),

    /// Monitoring-plugin check (Nagios, Icinga, Sensu): one status line with performance data
    /// after `|`, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),

    /// The lab: reproduce the classic TCP failures in throwaway network namespaces (a real
    /// MariaDB included) and see what tcpdoctor concludes on each side. Needs root.
    Lab(LabArgs),

    /// Print shell completions or the man page, generated from this command line.
    #[command(hide = true)]
    Generate {
        /// What to generate.
        #[arg(value_enum)]
        kind: GenerateKind,
        /// Write into this directory instead of standard output.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

const SYSCTL_HELP: &str = "\
Writing is explicit and reversible:
  --apply           prints the plan (setting, value now, new value, why) and writes NOTHING;
  --apply --yes     saves the current value of every setting it will touch to a backup file
                    (JSON in --backup-dir, named after the namespace and the time), then writes;
                    needs root
  --rollback        restores the newest backup of this host or namespace (or FILE) exactly;
                    also a dry run without --yes
Every write is checked first: settings this kernel does not have (net.ipv4.tcp_tw_recycle was
removed in Linux 4.12) and dangerous values (lowering tcp_max_tw_buckets) are refused with the
reason, exit 2. Only net.* settings are written; with -N NAME they are that namespace's own.
Kernel settings come after the application fixes the findings name (pooling, keep-alive,
closing sockets): no setting shortens TIME_WAIT (60 s) or closes a CLOSE_WAIT socket.

Examples:
  tcpdoctor sysctl                             the audit, with advice for what this host shows
  tcpdoctor sysctl --emit > /etc/sysctl.d/60-tcpdoctor.conf
  tcpdoctor sysctl --apply                     what would be written (dry run)
  tcpdoctor sysctl --apply --set net.ipv4.ip_local_port_range=\"15000 64999\" --yes
  tcpdoctor sysctl --rollback --yes            undo the last --apply";

const CHECK_HELP: &str = "\
Thresholds (repeatable; alert when the value is ABOVE the number):
  --warn time_wait=20000 --crit time_wait=50000
  metrics: total, the states in lower case (established, syn_sent, syn_recv, fin_wait1,
  fin_wait2, time_wait, close, close_wait, last_ack, listen, closing), port_use_pct (busiest
  ephemeral-port space, %), sockstat_tw, orphans, and the rates new_conn_per_s,
  time_wait_per_s, listen_overflows_per_s.
  findings: --warn finding=warning --crit finding=critical are the defaults (a finding of that
  severity or worse sets the status); finding=info makes info findings count, finding=none
  turns the rule off.
A threshold on a metric this run cannot measure gives UNKNOWN, never OK. Errors of the plugin
itself (bad threshold, unknown namespace, no permission) print one UNKNOWN line and exit 3.

Examples:
  tcpdoctor check
  tcpdoctor check --warn time_wait=20000 --crit time_wait=50000 --crit port_use_pct=85
  tcpdoctor check --warn finding=info --crit finding=warning
  tcpdoctor -N blue check --json";

/// `sysctl` options.
#[derive(Debug, Args)]
pub struct SysctlArgs {
    /// Print a commented /etc/sysctl.d/ file with the recommended changes instead of the audit.
    #[arg(long, conflicts_with_all = ["apply", "rollback"])]
    pub emit: bool,

    /// Write the recommended values (or those given with --set). A dry run that prints the plan
    /// unless --yes is given; with --yes it first saves the current values to a backup file.
    #[arg(long, conflicts_with = "rollback")]
    pub apply: bool,

    /// With --apply: write KEY=VALUE instead of the recommendations (repeatable), e.g.
    /// --set net.ipv4.tcp_fin_timeout=30 --set net.ipv4.ip_local_port_range="15000 64999".
    #[arg(long, value_name = "KEY=VALUE", requires = "apply")]
    pub set: Vec<String>,

    /// Restore the values saved in a backup: FILE, or the newest backup of this host or
    /// namespace (-N) in --backup-dir that was not restored yet. A dry run unless --yes.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub rollback: Option<Option<PathBuf>>,

    /// Really write (with --apply or --rollback). Needs root.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Where backups are written and looked for.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/tcpdoctor")]
    pub backup_dir: PathBuf,

    /// How long the diagnosis behind the recommendations watches (as for `tcpdoctor
    /// --interval`); default: the kernel counters are read twice, 1 s apart.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub interval: Option<std::time::Duration>,
}

/// `check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// WARNING when METRIC is above N (METRIC=N), or set the finding severity that warns
    /// (finding=info|warning|critical|none). Repeatable.
    #[arg(long, value_name = "METRIC=N")]
    pub warn: Vec<String>,

    /// CRITICAL when METRIC is above N, or the finding severity that is critical. Repeatable.
    #[arg(long, value_name = "METRIC=N")]
    pub crit: Vec<String>,

    /// Take two readings this far apart (rates and growth), as for `tcpdoctor --interval`;
    /// default: the kernel counters are read twice, 1 s apart; 0 reads once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub interval: Option<std::time::Duration>,

    /// Do not look up owning processes (faster on hosts with very many sockets).
    #[arg(long)]
    pub no_owners: bool,
}

/// `lab` options.
#[derive(Debug, Args)]
pub struct LabArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: LabCommand,
}

/// `lab` commands.
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// List the scenarios: name, what happens, the findings expected on each side.
    List,
    /// Run one scenario in a client and a server namespace, diagnose both sides while the
    /// problem is live, print the numbers and the findings, and remove everything.
    #[command(after_help = "\
Exit status: 0 success (with --check: every expected finding was reported on the right side,
naming the right port or process); 1 --check found a difference (printed as expected vs got);
2 error (not root, MariaDB missing, a step failed); 130 interrupted (everything removed).")]
    Run {
        /// Scenario name (see `tcpdoctor lab list`).
        name: String,
        /// Workload length of each phase in seconds, instead of the scenario's.
        #[arg(long, value_name = "S")]
        duration: Option<f64>,
        /// New connections (or requests) per second, instead of the scenario's.
        #[arg(long, value_name = "N")]
        rate: Option<u32>,
        /// Leave the namespaces and processes running for inspection (up to 10 minutes);
        /// `tcpdoctor lab clean` removes them.
        #[arg(long)]
        keep: bool,
        /// Compare the findings with the scenario's expectations; exit 1 on a difference.
        #[arg(long)]
        check: bool,
    },
    /// Remove what crashed or --keep runs left: their namespaces, the processes the lab started
    /// (verified by pid and start time) and MariaDB's temporary datadir.
    Clean,
    /// Internal: one lab workload process.
    #[command(name = "__worker", hide = true)]
    Worker {
        /// The worker's instructions (JSON).
        spec: String,
    },
}

/// `analyze` options.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Files with pasted output; `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<String>,

    /// Force the format instead of detecting it: netstat-linux, ss, proc-net-tcp,
    /// windows-netstat, bsd-netstat, solaris-netstat, hpux-netstat, aix-netstat, powershell,
    /// pasted-rows.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,

    /// The machine's OS, when the text does not tell (advice depends on it): linux, windows,
    /// macos, freebsd, openbsd, solaris, hpux, aix.
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,

    /// Exit with status 1 when a finding of this severity or worse is reported.
    #[arg(long, value_enum, default_value_t = FailOn::Warning, value_name = "SEVERITY")]
    pub fail_on: FailOn,

    /// Show every metric, sample, unknown-state row and skipped line.
    #[arg(short, long)]
    pub verbose: bool,
}

/// `generate` kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenerateKind {
    /// roff man page.
    Man,
    /// bash completions.
    Bash,
    /// zsh completions.
    Zsh,
    /// fish completions.
    Fish,
}

/// Socket filters shared by commands.
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Only these states (comma-separated or repeated). Accepts Linux/netstat names
    /// (TIME_WAIT, CLOSE_WAIT), ss names (time-wait, estab, syn-recv, fin-wait-1), and ss groups:
    /// all, connected (all but LISTEN and CLOSE), synchronized (connected but SYN_SENT),
    /// bucket (SYN_RECV and TIME_WAIT), big (all but bucket). The kernel does the filtering.
    #[arg(short = 's', long = "state", value_name = "STATE", value_delimiter = ',',
          value_parser = parse_state)]
    pub state: Vec<StateSet>,

    /// Only sockets whose local port is PORT, a range (8000-8100) or a service name (mysql).
    #[arg(long, value_name = "PORT", value_parser = parse_port)]
    pub sport: Vec<PortMatch>,

    /// Only sockets whose remote port is PORT, a range or a service name.
    #[arg(long, value_name = "PORT", value_parser = parse_port)]
    pub dport: Vec<PortMatch>,

    /// Only sockets whose local address is in CIDR (10.0.0.0/8, 127.0.0.1, fd00::/64).
    #[arg(long, value_name = "CIDR", value_parser = parse_cidr)]
    pub src: Vec<Cidr>,

    /// Only sockets whose remote address is in CIDR.
    #[arg(long, value_name = "CIDR", value_parser = parse_cidr)]
    pub dst: Vec<Cidr>,

    /// Only sockets held by this process id (implies owner lookup).
    #[arg(long, value_name = "PID")]
    pub pid: Vec<u32>,

    /// Only sockets held by a process with this name (exact comm, or part of the command line).
    #[arg(long, value_name = "NAME")]
    pub process: Vec<String>,
}

/// `summary` options.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// Group sockets by service, peer, process or state, and show the top groups.
    #[arg(long, value_enum, value_name = "KEY")]
    pub by: Option<ByArg>,

    /// How many groups to show with --by; the rest are summed into one line.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `--by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ByArg {
    /// Local listening port or remote service port.
    Service,
    /// Remote address.
    Peer,
    /// Owning process.
    Process,
    /// TCP state.
    State,
}

/// `ls` options.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Show the owning process of each socket (reads /proc/*/fd; run as root to see all).
    #[arg(short = 'p', long = "processes")]
    pub processes: bool,

    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
}

fn parse_state(s: &str) -> Result<StateSet, String> {
    StateSet::parse(s).map_err(|e| e.to_string())
}

fn parse_cidr(s: &str) -> Result<Cidr, String> {
    s.parse::<Cidr>().map_err(|e| e.to_string())
}

/// `/etc/services`, read and parsed once per process; shared, never copied.
pub fn services() -> &'static std::sync::Arc<ServiceNames> {
    static S: OnceLock<std::sync::Arc<ServiceNames>> = OnceLock::new();
    S.get_or_init(|| {
        std::sync::Arc::new(
            std::fs::read_to_string("/etc/services")
                .map(|t| ServiceNames::parse(&t))
                .unwrap_or_default(),
        )
    })
}

fn parse_port(s: &str) -> Result<PortMatch, String> {
    match s.parse::<PortMatch>() {
        Ok(p) => Ok(p),
        Err(e) => match services().port(s.trim().trim_start_matches(':')) {
            Some(p) => Ok(PortMatch { lo: p, hi: p }),
            None => Err(e.to_string()),
        },
    }
}
