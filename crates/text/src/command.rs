//! Pasted shell prompts and command lines (`[root@web01 ~]# ss -tan state time-wait`,
//! `PS C:\> netstat -ano`, `$ cat /proc/net/tcp`, `Every 2.0s: ss -s`): where a snapshot
//! begins, which tool made it, what its options imply, and the host name in the prompt.

use tcpdoctor_model::{StateSet, TcpState};

/// The tool a command line runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    /// `netstat` (any OS), `busybox netstat`.
    Netstat,
    /// `ss`.
    Ss,
    /// `cat /proc/net/tcp[6]`.
    Proc,
    /// `Get-NetTCPConnection`.
    PowerShell,
}

/// A recognised command line.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    /// The command as pasted (prompt removed), trimmed.
    pub(crate) text: String,
    pub(crate) tool: Tool,
    /// The prompt was a Windows one (`C:\>`, `PS C:\>`) or the tool was `netstat.exe`.
    pub(crate) windows: bool,
    /// Host name from a `user@host` prompt.
    pub(crate) host: Option<String>,
    /// Output went through a pipe (`| grep`, `| Select-String`, `| findstr`, `| head`).
    pub(crate) piped: bool,
    /// ss: the single state the filter selects, when it selects exactly one (then ss hides
    /// its State column).
    pub(crate) ss_single_state: Option<TcpState>,
    /// ss: the state filter selects more than one state, or could not be read.
    pub(crate) ss_state_known: bool,
    /// ss: which socket tables were asked for (`-t`, `-u`, `-x`, `-w`, ...). `Some(true)`:
    /// only TCP; `Some(false)`: only something else; `None`: several or not said.
    pub(crate) ss_only_tcp: Option<bool>,
    /// `-s` (summary) was given to ss.
    pub(crate) ss_summary: bool,
}

fn strip_prompt(line: &str) -> (Option<&str>, &str, bool) {
    // Returns (prompt, rest, windows_prompt).
    let t = line.trim_start();
    // PowerShell: `PS C:\Users\me> cmd`
    if let Some(r) = t.strip_prefix("PS ") {
        if let Some(i) = r.find('>') {
            if r[..i].contains(':') || r[..i].starts_with('\\') {
                return (Some(&t[..3 + i + 1]), &r[i + 1..], true);
            }
        }
    }
    // cmd.exe: `C:\Users\me>cmd`
    let b = t.as_bytes();
    if b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\' {
        if let Some(i) = t.find('>') {
            return (Some(&t[..=i]), &t[i + 1..], true);
        }
    }
    // `[root@web01 ~]# cmd`, `root@web01:~$ cmd`, `web01% cmd`, `$ cmd`, `# cmd`, `bash-5.1$ cmd`
    let mut end = None;
    for (i, c) in t.char_indices() {
        if i > 120 {
            break;
        }
        if matches!(c, '$' | '#' | '%' | '>') {
            let next = t[i + c.len_utf8()..].chars().next();
            if next.is_none() || next == Some(' ') || next == Some('\t') {
                end = Some(i + c.len_utf8());
                break;
            }
        }
    }
    match end {
        Some(e) => (Some(&t[..e]), &t[e..], false),
        None => (None, t, false),
    }
}

fn host_from_prompt(p: &str) -> Option<String> {
    let at = p.find('@')?;
    let rest = &p[at + 1..];
    let end =
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'))?;
    let h = &rest[..end];
    if h.is_empty() {
        None
    } else {
        Some(h.to_string())
    }
}

fn is_tool_word(w: &str) -> Option<(Tool, bool)> {
    let base = w.rsplit(['/', '\\']).next().unwrap_or(w);
    let l = base.to_ascii_lowercase();
    Some(match l.as_str() {
        "netstat" => (Tool::Netstat, false),
        "netstat.exe" => (Tool::Netstat, true),
        "ss" => (Tool::Ss, false),
        "get-nettcpconnection" => (Tool::PowerShell, true),
        _ => return None,
    })
}

/// Recognises a command line. Without a prompt, the line must start with the tool and have
/// only option-like arguments, so that prose mentioning `netstat` is not taken for one.
pub(crate) fn detect(line: &str) -> Option<Command> {
    if line.len() > 2000 {
        return None;
    }
    // `watch` header: `Every 2.0s: ss -tan          host: Tue Jan  2 ...`
    let t = line.trim();
    if let Some(r) = t.strip_prefix("Every ") {
        if let Some(i) = r.find("s: ") {
            let cmd = r[i + 3..].split("  ").next().unwrap_or("").trim();
            let mut c = detect_command(cmd, true)?;
            c.host = None;
            return Some(c);
        }
    }
    let (prompt, rest, win) = strip_prompt(line);
    let mut c = detect_command(rest.trim(), prompt.is_some())?;
    c.windows |= win;
    if let Some(p) = prompt {
        c.host = host_from_prompt(p);
    }
    Some(c)
}

fn detect_command(cmd: &str, prompted: bool) -> Option<Command> {
    let mut words = cmd.split_whitespace().peekable();
    // Wrappers: sudo [-opts], doas, time, command, env VAR=x, watch [-n N] ['...'].
    let mut w = words.next()?;
    let mut guard = 0;
    loop {
        guard += 1;
        if guard > 8 {
            return None;
        }
        let wl = w.trim_matches(|c| c == '\'' || c == '"');
        match wl {
            "sudo" | "doas" | "time" | "command" | "exec" | "busybox" | "toybox" | "env"
            | "nice" => {
                w = words.next()?;
                while w.starts_with('-') || w.contains('=') {
                    w = words.next()?;
                }
            }
            "watch" => {
                w = words.next()?;
                while w.starts_with('-') {
                    if w == "-n" || w == "--interval" {
                        words.next()?;
                    }
                    w = words.next()?;
                }
            }
            _ => break,
        }
    }
    let w = w.trim_matches(|c| c == '\'' || c == '"');
    let (tool, win, args): (Tool, bool, Vec<&str>) = if let Some((tool, win)) = is_tool_word(w) {
        (tool, win, words.collect())
    } else if w == "cat" || w == "less" || w == "more" || w == "head" || w == "tail" {
        let args: Vec<&str> = words.collect();
        if args
            .iter()
            .any(|a| a.contains("/proc/net/tcp") || a.contains("/proc/net/tcp6"))
        {
            (Tool::Proc, false, args)
        } else {
            return None;
        }
    } else {
        return None;
    };
    let text = cmd.trim().to_string();
    let piped = text.contains('|');
    // Arguments before any pipe.
    let mut own: Vec<&str> = Vec::new();
    for a in &args {
        if a.starts_with('|') {
            break;
        }
        own.push(a.trim_matches(|c| c == '\'' || c == '"'));
    }
    if !prompted {
        // Prose guard: without a prompt every argument must look like an option or filter.
        let ok = own.iter().all(|a| {
            a.starts_with('-')
                || a.starts_with('/')
                || a.chars().all(|c| c.is_ascii_digit())
                || matches!(
                    *a,
                    "state"
                        | "exclude"
                        | "excl"
                        | "sport"
                        | "dport"
                        | "src"
                        | "dst"
                        | "and"
                        | "or"
                        | "not"
                        | "("
                        | ")"
                        | "="
                        | "=="
                        | "!="
                        | "eq"
                        | "neq"
                )
                || a.starts_with(':')
                || a.starts_with("(")
                || is_ss_state_name(a)
        });
        if !ok {
            return None;
        }
    }
    let mut c = Command {
        text,
        tool,
        windows: win,
        host: None,
        piped,
        ss_single_state: None,
        ss_state_known: false,
        ss_only_tcp: None,
        ss_summary: false,
    };
    if tool == Tool::Ss {
        read_ss_args(&own, &mut c);
    }
    Some(c)
}

fn is_ss_state_name(a: &str) -> bool {
    ss_state_bits(a).is_some()
}

/// ss's own state names and groups (iproute2 `ss.c` `scan_state`), as kernel state bits.
fn ss_state_bits(a: &str) -> Option<u32> {
    let l = a.to_ascii_lowercase();
    let one = |s: TcpState| Some(StateSet::one(s).bits());
    match l.as_str() {
        "close" | "closed" | "unconnected" => one(TcpState::Close),
        "syn-rcv" => one(TcpState::SynRecv),
        _ => StateSet::parse(&l).ok().map(StateSet::bits),
    }
}

fn read_ss_args(args: &[&str], c: &mut Command) {
    let all = StateSet::ALL.bits();
    let listen_close =
        StateSet::one(TcpState::Listen).bits() | StateSet::one(TcpState::Close).bits();
    // ss's default: connected sockets without the TIME_WAIT/SYN_RECV buckets (SS_CONN).
    let conn = all
        & !(listen_close
            | StateSet::one(TcpState::TimeWait).bits()
            | StateSet::one(TcpState::SynRecv).bits());
    let mut filter: u32 = 0;
    let mut tables: u32 = 0; // bit 0 tcp, bit 1 others
    let mut saw_states = false;
    let mut readable = true;
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if let Some(long) = a.strip_prefix("--") {
            match long {
                "tcp" => tables |= 1,
                "udp" | "raw" | "unix" | "sctp" | "dccp" | "vsock" | "tipc" | "mptcp"
                | "packet" | "xdp" => tables |= 2,
                "all" => filter = all,
                "listening" => filter = listen_close,
                "summary" => c.ss_summary = true,
                _ => {}
            }
        } else if let Some(short) = a.strip_prefix('-') {
            if short.starts_with('A') || short.starts_with('f') || short == "F" {
                // -A QUERY / -f FAMILY: several tables possible; -F filter file.
                readable = false;
                tables |= 2;
                i += 1;
            } else {
                for ch in short.chars() {
                    match ch {
                        't' => tables |= 1,
                        'u' | 'w' | 'x' | 'S' | 'd' | 'M' | '0' => tables |= 2,
                        'a' => filter = all,
                        'l' => filter = listen_close,
                        's' => c.ss_summary = true,
                        _ => {}
                    }
                }
            }
        } else if a == "state" || a == "exclude" || a == "excl" {
            let Some(name) = args.get(i + 1) else { break };
            let Some(bits) = ss_state_bits(name) else {
                readable = false;
                break;
            };
            if a == "state" {
                if !saw_states {
                    filter = 0;
                }
                filter |= bits;
            } else {
                if !saw_states {
                    filter = all;
                }
                filter &= !bits;
            }
            saw_states = true;
            i += 1;
        } else {
            // The rest is an address/port filter expression.
            break;
        }
        i += 1;
    }
    if filter == 0 {
        filter = conn;
    }
    c.ss_only_tcp = match tables {
        1 => Some(true),
        2 => None, // several non-TCP tables, or a single one: ss shows Netid unless one table
        3 => None,
        _ => None,
    };
    if tables == 2 && args.iter().filter(|a| a.starts_with('-')).count() > 0 {
        // Exactly which non-TCP tables we cannot always tell; TCP is certainly not asked for.
        c.ss_only_tcp = Some(false);
    }
    let set = StateSet::from_bits(filter);
    c.ss_state_known = readable;
    if readable && set.iter().count() == 1 {
        c.ss_single_state = set.iter().next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_and_hosts() {
        let c = detect("[root@web01 ~]# ss -tan state time-wait").unwrap();
        assert_eq!(c.tool, Tool::Ss);
        assert_eq!(c.host.as_deref(), Some("web01"));
        assert_eq!(c.ss_single_state, Some(TcpState::TimeWait));
        assert_eq!(c.ss_only_tcp, Some(true));
        let c = detect("user@db-2:~$ sudo netstat -tanp | grep 3306").unwrap();
        assert_eq!(c.tool, Tool::Netstat);
        assert!(c.piped);
        assert_eq!(c.host.as_deref(), Some("db-2"));
        let c = detect("PS C:\\Users\\me> netstat -ano").unwrap();
        assert!(c.windows);
        let c = detect("C:\\>netstat -an").unwrap();
        assert!(c.windows);
        assert!(detect("$ cat /proc/net/tcp6").is_some());
        assert!(detect("netstat -an").is_some());
        assert!(detect("ss").is_some());
        assert!(detect("netstat shows the following connections:").is_none());
        assert!(detect("> TCP 0.0.0.0:22 0.0.0.0:0 LISTENING").is_none());
        assert!(detect("Every 2.0s: ss -s            web01: Tue Jan  2 10:00:00 2024").is_some());
        assert!(detect("$ date").is_none());
    }

    #[test]
    fn ss_state_filters() {
        let st = |l: &str| detect(l).unwrap().ss_single_state;
        assert_eq!(st("ss -t state established"), Some(TcpState::Established));
        assert_eq!(st("ss -tn state listening"), Some(TcpState::Listen));
        assert_eq!(st("ss -tn state connected"), None);
        assert_eq!(st("ss -tln"), None); // LISTEN|CLOSE: the column is shown
        assert_eq!(st("ss -tan"), None);
        assert_eq!(st("ss -t state syn-rcv"), Some(TcpState::SynRecv));
        assert_eq!(st("ss -t state time-wait state close-wait"), None);
        assert_eq!(
            st(
                "ss -t exclude established exclude syn-sent exclude syn-recv exclude fin-wait-1 \
                exclude fin-wait-2 exclude time-wait exclude closed exclude close-wait \
                exclude last-ack exclude closing"
            ),
            Some(TcpState::Listen)
        );
        assert_eq!(detect("ss -u").unwrap().ss_only_tcp, Some(false));
        assert_eq!(detect("ss -tu").unwrap().ss_only_tcp, None);
        assert!(detect("ss -s").unwrap().ss_summary);
    }
}
