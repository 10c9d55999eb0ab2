//! Word tables: protocol column values, state words in every spelling we can confirm, and
//! the built-in table of well-known TCP service names.

use tcpdoctor_model::{Family, TcpState};

/// What a protocol / Netid column value says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    /// A TCP row; the family when the word tells it (`tcp4`, `tcp6`, `tcp46`).
    Tcp(Option<Family>),
    /// Any other socket kind (udp, raw, unix, vsock, Bluetooth, netlink, ...).
    Other,
}

/// Classifies a protocol/Netid word. `None`: not a protocol word at all.
pub(crate) fn proto_word(w: &str) -> Option<Proto> {
    let b = w.as_bytes();
    match b {
        b"tcp" | b"TCP" => return Some(Proto::Tcp(None)),
        b"tcp6" => return Some(Proto::Tcp(Some(Family::Inet6))),
        b"tcp4" => return Some(Proto::Tcp(Some(Family::Inet))),
        b"udp" | b"udp6" | b"UDP" | b"unix" => return Some(Proto::Other),
        _ => {}
    }
    if b.is_empty() || b.len() > 12 {
        return None;
    }
    let mut buf = [0u8; 12];
    for (d, s) in buf.iter_mut().zip(b) {
        *d = s.to_ascii_lowercase();
    }
    let l = &buf[..b.len()];
    Some(match l {
        b"tcp" => Proto::Tcp(None),
        b"tcp4" => Proto::Tcp(Some(Family::Inet)),
        b"tcp6" | b"tcp46" | b"tcpv6" => Proto::Tcp(Some(Family::Inet6)),
        b"udp" | b"udp4" | b"udp6" | b"udp46" | b"udpv6" | b"udpl" | b"udpl6" | b"udplite"
        | b"raw" | b"raw4" | b"raw6" | b"icmp" | b"icmp6" | b"icmpv6" | b"icm4" | b"icm6"
        | b"unix" | b"sctp" | b"sctp4" | b"sctp6" | b"dccp" | b"mptcp" | b"kctl" | b"kevt"
        | b"divert" | b"u_str" | b"u_dgr" | b"u_seq" | b"p_raw" | b"p_dgr" | b"nl" | b"v_str"
        | b"v_dgr" | b"v_seq" | b"tipc" | b"xdp" | b"l2cap" | b"rfcomm" | b"sco" | b"hci"
        | b"ipx" | b"ax25" | b"netrom" | b"rose" | b"x25" | b"igmp" | b"igmp6" | b"vsock"
        | b"packet" | b"ddp" | b"rdp" | b"rds" | b"ip" | b"ip6" => Proto::Other,
        _ => return None,
    })
}

/// How a state word was understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateWord {
    /// A TCP state.
    Known(TcpState),
    /// Not a state word anyone here knows.
    Unknown,
}

/// Maps one state word in any spelling we can confirm to a TCP state.
///
/// - Linux/netstat, ss, BSD, Windows, Solaris and PowerShell spellings (via
///   [`TcpState::parse`]: `TIME_WAIT`, `time-wait`, `ESTAB`, `SYN_RCVD`, `SYN_RECEIVED`,
///   `FIN_WAIT_1`, `LISTENING`, `CLOSED`, `UNCONN`, `TimeWait`, `FinWait1`, `SynReceived`).
/// - Solaris `IDLE` and `BOUND` (and PowerShell `Bound`): a socket that is not listening and
///   not connected; EXPECTED maps them to `CLOSE` (corpus README, ambiguity 3).
/// - German Windows (tcp-facts 12.7): `ABHÖREN` (also its OEM code-page mojibake
///   `ABH?REN`, `ABH™REN`, and `ABHOEREN`), `HERGESTELLT`, `WARTEND` (= TIME_WAIT),
///   `SCHLIESSEN_WARTEN`, `SYN_GESENDET`, `FIN_WARTEN_2`; `SYN_EMPFANGEN` as seen in public
///   test fixtures of German netstat parsers.
/// - Spanish Windows `ESCUCHANDO`, `ESTABLECIDO` (several independent public samples).
/// - German net-tools `VERBUNDEN` (net-tools po/de.po translates the tcp state
///   `ESTABLISHED`; the other tcp states stay English there).
/// - Linux net-tools in other locales, from the translations in net-tools' own `po/`
///   directory (github.com/ecki/net-tools, `po/pt_BR.po`, `po/cs.po`, `po/sv.po`; the tcp
///   state table of `netstat.c` is printed through gettext): Brazilian Portuguese
///   `ESTABELECIDA`, `SYN_ENVIADO`, `SYN_RECEBIDO`, `ESPERA_FIN1`, `ESPERA_FIN2`, `FECHAR`
///   (= CLOSE), `ESPERANDO_FECHAR`, `ÚLTIMO_ACK`, `OUÇA` (= LISTEN), `FECHANDO`; Czech
///   `SPOJENO`, `ZAVŘEN`, `POSLEDNÍ ACK`, `NASLOUCHÁ`, `ZAVÍRÁ`; Swedish `ETABLERAD`,
///   `STÄNG`, `STÄNG_VÄNTA`, `LYSSNAR`, `STÄNGER`. (fr, ja, et keep the English words.)
/// - A state of several words (`POSLEDNÍ ACK`) is matched with its inner blanks collapsed
///   to one space, as the Windows reader hands over the whole state column.
pub(crate) fn state_word(w: &str) -> StateWord {
    // The spellings of big files first, without case folding.
    let fast = match w.as_bytes() {
        b"ESTABLISHED" | b"ESTAB" => Some(TcpState::Established),
        b"TIME_WAIT" | b"TIME-WAIT" => Some(TcpState::TimeWait),
        b"LISTEN" | b"LISTENING" => Some(TcpState::Listen),
        b"CLOSE_WAIT" | b"CLOSE-WAIT" => Some(TcpState::CloseWait),
        b"SYN_SENT" | b"SYN-SENT" => Some(TcpState::SynSent),
        b"SYN_RECV" | b"SYN-RECV" => Some(TcpState::SynRecv),
        b"FIN_WAIT1" | b"FIN-WAIT-1" => Some(TcpState::FinWait1),
        b"FIN_WAIT2" | b"FIN-WAIT-2" => Some(TcpState::FinWait2),
        b"LAST_ACK" | b"LAST-ACK" => Some(TcpState::LastAck),
        _ => None,
    };
    if let Some(s) = fast {
        return StateWord::Known(s);
    }
    if let Some(s) = TcpState::parse(w) {
        return StateWord::Known(s);
    }
    let collapsed: String;
    let w: &str = if w.contains([' ', '\t']) {
        collapsed = w.split_whitespace().collect::<Vec<_>>().join(" ");
        &collapsed
    } else {
        w
    };
    let upper: String;
    let u: &str = if w.is_ascii() {
        if w.bytes().any(|b| b.is_ascii_lowercase()) {
            upper = w.to_ascii_uppercase();
            &upper
        } else {
            w
        }
    } else {
        upper = w.to_uppercase();
        &upper
    };
    let s = match u {
        "IDLE" | "BOUND" => TcpState::Close,
        // net-tools po/pt_BR.po (github.com/ecki/net-tools); a real pasted `netstat --inet`
        // with ESTABELECIDA / ESPERANDO_FECHAR rows is quoted in a public README.
        "ESTABELECIDA" => TcpState::Established,
        "SYN_ENVIADO" => TcpState::SynSent,
        "SYN_RECEBIDO" => TcpState::SynRecv,
        "ESPERA_FIN1" => TcpState::FinWait1,
        "ESPERA_FIN2" => TcpState::FinWait2,
        "FECHAR" => TcpState::Close,
        "ESPERANDO_FECHAR" => TcpState::CloseWait,
        "ÚLTIMO_ACK" => TcpState::LastAck,
        "OUÇA" => TcpState::Listen,
        "FECHANDO" => TcpState::Closing,
        // net-tools po/cs.po.
        "SPOJENO" => TcpState::Established,
        "ZAVŘEN" => TcpState::Close,
        "POSLEDNÍ ACK" => TcpState::LastAck,
        "NASLOUCHÁ" => TcpState::Listen,
        "ZAVÍRÁ" => TcpState::Closing,
        // net-tools po/sv.po.
        "ETABLERAD" => TcpState::Established,
        "STÄNG" => TcpState::Close,
        "STÄNG_VÄNTA" => TcpState::CloseWait,
        "LYSSNAR" => TcpState::Listen,
        "STÄNGER" => TcpState::Closing,
        "HERGESTELLT" | "ESTABLECIDO" | "VERBUNDEN" => TcpState::Established,
        "WARTEND" => TcpState::TimeWait,
        "SCHLIESSEN_WARTEN" | "SCHLIEßEN_WARTEN" => TcpState::CloseWait,
        "SYN_GESENDET" => TcpState::SynSent,
        "SYN_EMPFANGEN" => TcpState::SynRecv,
        "FIN_WARTEN_2" => TcpState::FinWait2,
        "ESCUCHANDO" | "ABHOEREN" | "ABHÖREN" => TcpState::Listen,
        _ => {
            // ABHÖREN printed through the wrong code page: 'Ö' is one byte 0x99 (cp850), which
            // becomes U+FFFD after lossy UTF-8 decoding, or '™' when read as cp1252.
            let chars = u.chars().count();
            if u.starts_with("ABH") && u.ends_with("REN") && (7..=9).contains(&chars) {
                TcpState::Listen
            } else {
                return StateWord::Unknown;
            }
        }
    };
    StateWord::Known(s)
}

/// Whether a word looks like a state word at all (letters, `_`, `-`, maybe non-ASCII), as
/// opposed to a number, an address or `pid/program`.
pub(crate) fn looks_like_word(w: &str) -> bool {
    let mut letters = 0;
    for c in w.chars() {
        if c.is_alphabetic() {
            letters += 1;
        } else if !(c == '_' || c == '-' || c == '\u{FFFD}' || c.is_ascii_digit()) {
            return false;
        }
    }
    letters >= 2
}

/// Well-known TCP service names as `netstat`/`ss` print them without `-n` (names as in the
/// IANA registry and Debian's `/etc/services`, plus their common aliases). A port name not
/// in this table (and not in the caller's [`ServiceNames`](tcpdoctor_model::ServiceNames))
/// stays a [`Port::Name`](tcpdoctor_model::Port::Name).
const SERVICES: &[(&str, u16)] = &[
    ("tcpmux", 1),
    ("echo", 7),
    ("discard", 9),
    ("systat", 11),
    ("daytime", 13),
    ("netstat", 15),
    ("qotd", 17),
    ("chargen", 19),
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("time", 37),
    ("whois", 43),
    ("nicname", 43),
    ("tacacs", 49),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("www-http", 80),
    ("kerberos", 88),
    ("kerberos5", 88),
    ("pop3", 110),
    ("pop-3", 110),
    ("sunrpc", 111),
    ("rpcbind", 111),
    ("portmapper", 111),
    ("auth", 113),
    ("ident", 113),
    ("nntp", 119),
    ("ntp", 123),
    ("epmap", 135),
    ("loc-srv", 135),
    ("msrpc", 135),
    ("netbios-ns", 137),
    ("netbios-dgm", 138),
    ("netbios-ssn", 139),
    ("imap", 143),
    ("imap2", 143),
    ("snmp", 161),
    ("snmp-trap", 162),
    ("bgp", 179),
    ("irc", 194),
    ("ldap", 389),
    ("https", 443),
    ("microsoft-ds", 445),
    ("kpasswd", 464),
    ("submissions", 465),
    ("smtps", 465),
    ("urd", 465),
    ("exec", 512),
    ("login", 513),
    ("shell", 514),
    ("printer", 515),
    ("uucp", 540),
    ("rtsp", 554),
    ("submission", 587),
    ("ipp", 631),
    ("ldaps", 636),
    ("kerberos-adm", 749),
    ("rsync", 873),
    ("ftps-data", 989),
    ("ftps", 990),
    ("telnets", 992),
    ("imaps", 993),
    ("pop3s", 995),
    ("socks", 1080),
    ("openvpn", 1194),
    ("ms-sql-s", 1433),
    ("ms-sql-m", 1434),
    ("ingreslock", 1524),
    ("pptp", 1723),
    ("nfs", 2049),
    ("cvspserver", 2401),
    ("iscsi-target", 3260),
    ("mysql", 3306),
    ("ms-wbt-server", 3389),
    ("svn", 3690),
    ("epmd", 4369),
    ("munin", 4949),
    ("sip", 5060),
    ("sip-tls", 5061),
    ("xmpp-client", 5222),
    ("xmpp-server", 5269),
    ("postgresql", 5432),
    ("postgres", 5432),
    ("amqp", 5672),
    ("nrpe", 5666),
    ("wsman", 5985),
    ("wsmans", 5986),
    ("x11", 6000),
    ("redis", 6379),
    ("ircd", 6667),
    ("http-alt", 8080),
    ("webcache", 8080),
    ("puppet", 8140),
    ("jetdirect", 9100),
    ("git", 9418),
    ("zabbix-agent", 10050),
    ("zabbix-trapper", 10051),
    ("memcache", 11211),
    ("hkp", 11371),
    ("mongodb", 27017),
];

/// The port of a well-known TCP service name (built-in table).
pub(crate) fn builtin_service(name: &str) -> Option<u16> {
    SERVICES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_words() {
        for (w, s) in [
            ("ESTAB", TcpState::Established),
            ("LISTENING", TcpState::Listen),
            ("SYN_RECEIVED", TcpState::SynRecv),
            ("FIN_WAIT_1", TcpState::FinWait1),
            ("IDLE", TcpState::Close),
            ("BOUND", TcpState::Close),
            ("Bound", TcpState::Close),
            ("TimeWait", TcpState::TimeWait),
            ("SynReceived", TcpState::SynRecv),
            ("ABHÖREN", TcpState::Listen),
            ("ABH\u{FFFD}REN", TcpState::Listen),
            ("ABH™REN", TcpState::Listen),
            ("HERGESTELLT", TcpState::Established),
            ("WARTEND", TcpState::TimeWait),
            ("SCHLIESSEN_WARTEN", TcpState::CloseWait),
            ("SYN_GESENDET", TcpState::SynSent),
            ("FIN_WARTEN_2", TcpState::FinWait2),
            ("ESCUCHANDO", TcpState::Listen),
            ("ESTABLECIDO", TcpState::Established),
            ("VERBUNDEN", TcpState::Established),
            ("ESPERANDO_FECHAR", TcpState::CloseWait),
            ("ÚLTIMO_ACK", TcpState::LastAck),
            ("OUÇA", TcpState::Listen),
            ("POSLEDNÍ ACK", TcpState::LastAck),
            ("POSLEDNÍ   ACK", TcpState::LastAck),
            ("ZAVŘEN", TcpState::Close),
            ("STÄNG_VÄNTA", TcpState::CloseWait),
        ] {
            assert_eq!(state_word(w), StateWord::Known(s), "{w}");
        }
        assert_eq!(state_word("DeleteTCB"), StateWord::Unknown);
        assert_eq!(state_word("ABHREN"), StateWord::Unknown);
        assert_eq!(state_word("FOO"), StateWord::Unknown);
        assert_eq!(state_word("POSLEDNÍ"), StateWord::Unknown);
        assert_eq!(state_word("TOT STAND GEBRACHT"), StateWord::Unknown);
    }

    #[test]
    fn protos() {
        assert_eq!(proto_word("tcp46"), Some(Proto::Tcp(Some(Family::Inet6))));
        assert_eq!(proto_word("TCP"), Some(Proto::Tcp(None)));
        assert_eq!(proto_word("u_str"), Some(Proto::Other));
        assert_eq!(proto_word("v_str"), Some(Proto::Other));
        assert_eq!(proto_word("ESTAB"), None);
        assert_eq!(builtin_service("mysql"), Some(3306));
        assert_eq!(builtin_service("HTTPS"), Some(443));
        assert_eq!(builtin_service("sunpr"), None);
    }
}
