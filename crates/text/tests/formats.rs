//! One test per format and per case of the text source, on small samples written for these
//! tests (our own, hand-written after the documented layouts; no third-party text). Every
//! assertion is on exact numbers.

#![allow(clippy::unwrap_used)]

mod common;

use common::{count, parse};
use std::net::IpAddr;
use std::sync::Arc;
use tcpdoctor_model::{Family, GapKind, Host, Port, ServiceNames, Socket, TcpState, TimerKind};
use tcpdoctor_text::{
    parse_bytes, parse_reader, Format, ParseOptions, ParseOutput, Parser, SinkPart, SnapshotMeta,
    SnapshotSummary, SourceOs, TextError, TextSink,
};

fn ip(s: &str) -> Host {
    Host::Ip(s.parse::<IpAddr>().unwrap())
}

fn socks(o: &ParseOutput) -> Vec<&Socket> {
    o.snapshots.iter().flat_map(|s| s.sockets.iter()).collect()
}

// ------------------------------------------------------------------ Linux net-tools

#[test]
fn linux_netstat_tan() {
    // Own sample, net-tools layout.
    let o = parse(
        "Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State      
tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN     
tcp        0      0 127.0.0.1:3306          0.0.0.0:*               LISTEN     
tcp        0     36 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED
tcp        0      0 10.0.0.5:44180          10.0.0.7:3306           TIME_WAIT  
tcp        1      0 10.0.0.5:44182          10.0.0.7:3306           CLOSE_WAIT 
tcp6       0      0 :::80                   :::*                    LISTEN     
tcp6       0      0 ::ffff:10.0.0.5:80      ::ffff:10.0.0.8:40000   SYN_RECV   
udp        0      0 0.0.0.0:68              0.0.0.0:*                          
",
    );
    assert_eq!(o.format, "netstat-linux");
    assert_eq!(o.os, SourceOs::Linux);
    assert_eq!(o.snapshots.len(), 1);
    assert_eq!(count(&o, TcpState::Listen), 3);
    assert_eq!(count(&o, TcpState::Established), 1);
    assert_eq!(count(&o, TcpState::TimeWait), 1);
    assert_eq!(count(&o, TcpState::CloseWait), 1);
    assert_eq!(count(&o, TcpState::SynRecv), 1);
    assert_eq!(o.states.total(), 7);
    assert_eq!(o.details[0].other_rows, 1);
    let s = socks(&o);
    assert_eq!(s[2].local.host, ip("10.0.0.5"));
    assert_eq!(s[2].remote.port, Port::Num(51234));
    assert_eq!(s[2].send_q, Some(36));
    assert_eq!(s[4].recv_q, Some(1));
    assert_eq!(s[5].family, Family::Inet6);
    assert_eq!(s[5].local.host, ip("::"));
    assert_eq!(s[6].local.host, ip("::ffff:10.0.0.5"));
}

#[test]
fn linux_netstat_tanpo_timers_and_owners() {
    // Own sample: -tanpo puts Timer after PID/Program name; program names have spaces.
    let o = parse(
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name     Timer
tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN      812/sshd: /usr/sbin  off (0.00/0/0)
tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED 4242/sshd: alice     keepalive (7184.28/0/0)
tcp        0      0 10.0.0.5:44180          10.0.0.7:3306           TIME_WAIT   -                    timewait (43.21/0/0)
tcp        0    517 10.0.0.5:44190          10.0.0.7:3306           ESTABLISHED 977/java             on (0.20/3/0)
",
    );
    let s = socks(&o);
    assert_eq!(s.len(), 4);
    assert_eq!(s[0].timer, None);
    assert_eq!(s[0].owners[0].pid, 812);
    assert_eq!(s[0].owners[0].comm, "sshd: /usr/sbin");
    let t = s[1].timer.unwrap();
    assert_eq!((t.kind, t.expires_ms), (TimerKind::Keepalive, 7_184_280));
    assert_eq!(s[1].owners[0].comm, "sshd: alice");
    let t = s[2].timer.unwrap();
    assert_eq!((t.kind, t.expires_ms), (TimerKind::Timewait, 43_210));
    assert!(s[2].owners.is_empty());
    let t = s[3].timer.unwrap();
    assert_eq!((t.kind, t.expires_ms), (TimerKind::On, 200));
    assert_eq!(s[3].retransmits, 3);
    assert_eq!(s[3].send_q, Some(517));
    assert!(o.snapshots[0].info.owners_resolved);
}

#[test]
fn linux_netstat_tae_user_inode_and_names() {
    // Own sample: -tae without -n: host and service names, names cut to the column width,
    // User and Inode columns, a user name wider than its column.
    let o = parse(
        "Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       User       Inode     
tcp        0      0 localhost:mysql         0.0.0.0:*               LISTEN      mysql      31337     
tcp        0      0 0.0.0.0:ssh             0.0.0.0:*               LISTEN      root       21767     
tcp        0      0 web01.example.co:45678  db01.example.com:mysql  ESTABLISHED 1000       0         
tcp6       0      0 [::]:http               [::]:*                  LISTEN      systemd-network 2699      
tcp6       0      0 2001:db8:aaaa:bbbb::54776 2001:db8::2:443       ESTABLISHED 33         4711      
",
    );
    let s = socks(&o);
    assert_eq!(s.len(), 5);
    assert_eq!(s[0].local.host, Host::Name(Arc::from("localhost")));
    assert_eq!(s[0].local.port, Port::Num(3306));
    assert_eq!(s[0].inode, Some(31337));
    assert_eq!(s[0].uid, None); // a user name, not a uid
    assert_eq!(s[1].local.port, Port::Num(22));
    assert_eq!(s[1].uid, Some(0));
    assert_eq!(s[2].local.host, Host::Name(Arc::from("web01.example.co")));
    assert_eq!(s[2].remote.port, Port::Num(3306));
    assert_eq!(s[2].uid, Some(1000));
    assert_eq!(s[2].inode, None);
    assert_eq!(s[3].local.port, Port::Num(80));
    assert_eq!(s[3].inode, Some(2699));
    // 23 characters: a host that may have been cut to the column is kept as printed.
    assert_eq!(
        s[4].local.host,
        Host::Name(Arc::from("2001:db8:aaaa:bbbb:"))
    );
    assert_eq!(s[4].local.port, Port::Num(54776));
    assert_eq!(s[4].uid, Some(33));
}

#[test]
fn linux_netstat_wide_and_services_from_the_callers_table() {
    // Own sample: -W prints long addresses whole; a local service name from /etc/services.
    let services = ServiceNames::parse("myapp 7777/tcp\n");
    let opts = ParseOptions {
        services: Some(Arc::new(services)),
        ..ParseOptions::default()
    };
    let text = "Proto Recv-Q Send-Q Local Address           Foreign Address         State
tcp6       0      0 2001:db8:aaaa:bbbb:cccc:dddd:eeee:1:myapp 2001:db8::2:50000 ESTABLISHED
tcp        0      0 10.0.0.5:unknownsvc     10.0.0.6:50001          ESTABLISHED
";
    let o = parse_bytes(text.as_bytes(), &opts).unwrap();
    let s = socks(&o);
    assert_eq!(s[0].local.host, ip("2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"));
    assert_eq!(s[0].local.port, Port::Num(7777));
    assert_eq!(s[1].local.port, Port::Name(Arc::from("unknownsvc")));
}

#[test]
fn linux_netstat_german_and_unix_sections() {
    // Own sample with the German net-tools strings (po/de.po): title, VERBUNDEN for
    // ESTABLISHED, `ein`/`aus` timers; the unix section's VERBUNDEN/HÖRT rows never count.
    let o = parse(
        "Aktive Internetverbindungen (Server und stehende Verbindungen)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       Timer
tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN      aus (0.00/0/0)
tcp        0      0 10.0.0.5:22             10.0.0.9:51234          VERBUNDEN   ein (0.21/0/0)
Aktive Sockets in der UNIX-Domäne (Server und stehende Verbindungen)
Proto RefZäh Flaggen     Typ        Zustand       I-Node   Pfad
unix  2      [ ACC ]     STREAM     HÖRT          13851    /run/lvm/lvmpolld.socket
unix  3      [ ]         STREAM     VERBUNDEN     22366    
",
    );
    assert_eq!(count(&o, TcpState::Listen), 1);
    assert_eq!(count(&o, TcpState::Established), 1);
    assert_eq!(o.states.total(), 2);
    let s = socks(&o);
    assert_eq!(s[1].timer.unwrap().expires_ms, 210);
}

#[test]
fn busybox_netstat() {
    // Own sample in BusyBox's layout (same columns as net-tools, -W-style addresses).
    let o = parse(
        "Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name    
tcp        0      0 0.0.0.0:80              0.0.0.0:*               LISTEN      1/httpd
tcp        0      0 192.168.1.1:80          192.168.1.20:50123      TIME_WAIT   -
udp        0      0 0.0.0.0:53              0.0.0.0:*                           2/dnsmasq
",
    );
    assert_eq!(o.format, "netstat-linux");
    assert_eq!(count(&o, TcpState::Listen), 1);
    assert_eq!(count(&o, TcpState::TimeWait), 1);
    assert_eq!(socks(&o)[0].owners[0].comm, "httpd");
}

// ------------------------------------------------------------------ ss

#[test]
fn ss_with_netid_and_extras() {
    // Own sample: -tuanpoe; users with several processes; timers; uid only when non-zero.
    let o = parse(
        "Netid State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
udp   UNCONN     0      0      127.0.0.53%lo:53     0.0.0.0:*     users:((\"systemd-resolve\",pid=640,fd=13)) uid:101 ino:20514 sk:1 <->
tcp   LISTEN     0      511    0.0.0.0:80          0.0.0.0:*     users:((\"nginx\",pid=1201,fd=6),(\"nginx\",pid=1200,fd=6)) ino:24680 sk:2 <->
tcp   ESTAB      0      0      10.0.0.5:22         10.0.0.9:51234 timer:(keepalive,119min,0) users:((\"sshd\",pid=4242,fd=4)) ino:55555 sk:3 <->
tcp   TIME-WAIT  0      0      10.0.0.5:44180      10.0.0.7:3306  timer:(timewait,43sec,0) ino:0 sk:4
tcp   SYN-SENT   0      1      10.0.0.5:44300      10.0.0.7:3306  timer:(on,1.200ms,2) uid:1000 ino:66666 sk:5 <->
u_str ESTAB      0      0      /run/systemd/journal/stdout 23456 * 23457 users:((\"systemd-journal\",pid=300,fd=50))
v_str ESTAB      0      0      999900439:1023      0:976
",
    );
    assert_eq!(o.format, "ss");
    assert_eq!(o.states.total(), 4);
    assert_eq!(o.details[0].other_rows, 3);
    let s = socks(&o);
    assert_eq!(s[0].owners.len(), 2);
    assert_eq!(s[0].owners[1].pid, 1200);
    assert_eq!(s[0].uid, Some(0));
    assert_eq!(s[0].send_q, Some(511));
    assert_eq!(s[1].timer.unwrap().kind, TimerKind::Keepalive);
    assert_eq!(s[1].timer.unwrap().expires_ms, 119 * 60_000);
    assert_eq!(s[2].timer.unwrap().expires_ms, 43_000);
    assert_eq!(s[2].inode, None);
    assert_eq!(s[3].timer.unwrap().expires_ms, 1_200);
    assert_eq!(s[3].retransmits, 2);
    assert_eq!(s[3].uid, Some(1000));
    assert_eq!(s[3].state, TcpState::SynSent);
}

#[test]
fn ss_star_host_is_a_dual_stack_ipv6_wildcard_in_newer_ss_and_ipv4_in_older() {
    let fam = |o: &ParseOutput| -> Vec<(u16, Family)> {
        socks(o)
            .iter()
            .map(|s| match s.local.port {
                Port::Num(p) => (p, s.family),
                Port::Name(_) => (0, s.family),
            })
            .collect()
    };
    // Own sample in iproute2 >= 4.15 spelling: IPv4 wildcard `0.0.0.0`, v6-only `[::]`,
    // dual-stack `*` (ss.c inet_addr_print).
    let newer = "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      4096       127.0.0.1:8080      0.0.0.0:*
LISTEN 0      511                *:80              *:*
LISTEN 0      128             [::]:22           [::]:*
";
    let o = parse(newer);
    assert_eq!(
        fam(&o),
        vec![
            (8080, Family::Inet),
            (80, Family::Inet6),
            (22, Family::Inet6)
        ]
    );
    assert_eq!(socks(&o)[1].local.host, ip("::"));
    // No header, no `0.0.0.0` before it: the newer meaning; `v6only:0` (-e) says so too.
    let o = parse("LISTEN 0 511 *:80 *:*\n");
    assert_eq!(fam(&o), vec![(80, Family::Inet6)]);
    let o = parse(
        "Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port
tcp LISTEN 0 128 127.0.0.1:25 *:* ino:1 sk:1 <->
tcp LISTEN 0 511 *:80 *:* ino:2 sk:2 v6only:0 <->
",
    );
    assert_eq!(fam(&o), vec![(25, Family::Inet), (80, Family::Inet6)]);
    // Older ss (CentOS 7 era, ss.c formatted_print): `*` is 0.0.0.0. A `*` peer next to an
    // IPv4 address tells it, and so does an unbracketed IPv6 address.
    let o = parse(
        "State      Recv-Q Send-Q Local Address:Port               Peer Address:Port
LISTEN     0      100    127.0.0.1:25                  *:*
LISTEN     0      128    *:22                          *:*
LISTEN     0      128    [::]:22                       [::]:*
",
    );
    assert_eq!(
        fam(&o),
        vec![(25, Family::Inet), (22, Family::Inet), (22, Family::Inet6)]
    );
    assert_eq!(socks(&o)[1].local.host, ip("0.0.0.0"));
    let o = parse(
        "State      Recv-Q Send-Q Local Address:Port               Peer Address:Port
LISTEN     0      128    :::22                         :::*
LISTEN     0      128    *:22                          *:*
",
    );
    assert_eq!(fam(&o), vec![(22, Family::Inet6), (22, Family::Inet)]);
    // The same rows through the worker threads (the clue changes the table mid-chunk).
    let mut big = String::from(newer);
    for i in 0..40_000u32 {
        big.push_str(&format!(
            "ESTAB 0 0 10.0.{}.{}:{} 10.1.0.1:443\n",
            (i >> 8) & 255,
            i & 255,
            1024 + (i % 60_000)
        ));
        if i % 7_919 == 0 {
            big.push_str("LISTEN 0 511 *:80 *:*\n");
        }
    }
    let mut opts = ParseOptions::default();
    let seq = {
        opts.threads = 1;
        parse_bytes(big.as_bytes(), &opts).unwrap()
    };
    opts.threads = 4;
    let par = parse_bytes(big.as_bytes(), &opts).unwrap();
    assert_eq!(seq, par);
    let dual = socks(&par)
        .iter()
        .filter(|s| s.local.port == Port::Num(80))
        .map(|s| s.family)
        .collect::<Vec<_>>();
    assert_eq!(dual, vec![Family::Inet6; 7]);
}

#[test]
fn ss_without_netid_with_command_and_info_lines() {
    // Own sample: `ss -tani` has no Netid column; -i adds indented lines.
    let o = parse(
        "$ ss -tani
State    Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN   0      4096   127.0.0.53%lo:53       0.0.0.0:*
\t cubic cwnd:10
ESTAB    0      0      [::ffff:10.0.0.5]:22   [::ffff:10.0.0.9]:51234
\t cubic wscale:7,7 rto:204 rtt:0.5/0.25 mss:1448 cwnd:10 bytes_acked:5000 retrans:0/1
FIN-WAIT-2 0    0      10.0.0.5:40000        10.0.0.8:80
",
    );
    assert_eq!(o.states.total(), 3);
    assert_eq!(count(&o, TcpState::FinWait2), 1);
    assert_eq!(o.details[0].command.as_deref(), Some("ss -tani"));
    assert!(
        o.snapshots[0].info.gaps.is_empty(),
        "{:?}",
        o.snapshots[0].info.gaps
    );
    let s = socks(&o);
    assert_eq!(s[1].family, Family::Inet6);
    assert_eq!(s[1].local.host, ip("::ffff:10.0.0.5"));
}

#[test]
fn ss_without_netid_or_command_assumes_tcp_and_says_so() {
    let o = parse(
        "State    Recv-Q Send-Q Local Address:Port  Peer Address:Port
ESTAB    0      0      10.0.0.5:22   10.0.0.9:51234
",
    );
    assert_eq!(count(&o, TcpState::Established), 1);
    assert!(o.snapshots[0]
        .info
        .gaps
        .iter()
        .any(|g| g.message.contains("taken as TCP")));
}

#[test]
fn ss_udp_only_rows_never_count() {
    let o = parse(
        "$ ss -uan
State    Recv-Q Send-Q Local Address:Port  Peer Address:Port
UNCONN   0      0      0.0.0.0:68     0.0.0.0:*
ESTAB    0      0      10.0.0.5:40000 10.0.0.1:53
",
    );
    assert_eq!(o.states.total(), 0);
    assert_eq!(o.details[0].other_rows, 2);
}

#[test]
fn ss_state_filter_takes_the_state_from_the_command() {
    // ss hides the State column when the filter selects exactly one state.
    let o = parse(
        "root@web01:~# ss -tn state time-wait
Recv-Q Send-Q Local Address:Port  Peer Address:Port
0      0      10.0.0.5:44180     10.0.0.7:3306
0      0      10.0.0.5:44181     10.0.0.7:3306
root@web01:~# ss -tn state established '( dport = :443 )'
Recv-Q Send-Q Local Address:Port  Peer Address:Port
0      0      10.0.0.5:50000     93.184.216.34:443
",
    );
    assert_eq!(o.snapshots.len(), 2);
    assert_eq!(o.details[0].counts.get(TcpState::TimeWait), 2);
    assert_eq!(o.details[1].counts.get(TcpState::Established), 1);
    assert_eq!(o.snapshots[0].info.host.as_deref(), Some("web01"));
    assert_eq!(o.details[1].first_line, 5);
}

#[test]
fn ss_state_filter_without_command_is_unknown() {
    let o = parse(
        "Recv-Q Send-Q Local Address:Port  Peer Address:Port
0      0      10.0.0.5:44180     10.0.0.7:3306
",
    );
    assert_eq!(o.states.total(), 0);
    assert_eq!(o.snapshots[0].unknown_rows.len(), 1);
    assert_eq!(o.snapshots[0].unknown_rows[0].raw_state, "");
    assert_eq!(o.snapshots[0].unknown_rows[0].line, 2);
}

#[test]
fn ss_summary() {
    // Own samples of both `ss -s` layouts (iproute2 5.x and older).
    let o = parse(
        "$ ss -s
Total: 190
TCP:   11 (estab 4, closed 2, orphaned 0, timewait 1)

Transport Total     IP        IPv6
RAW\t  1         0         1        
UDP\t  4         3         1        
TCP\t  9         7         2        
INET\t  14        10        4        
FRAG\t  0         0         0        

$ ss -s
Total: 1201 (kernel 0)
TCP:   512 (estab 300, closed 10, orphaned 2, synrecv 0, timewait 190/0), ports 0
",
    );
    assert_eq!(o.format, "ss-summary");
    assert_eq!(o.snapshots.len(), 2);
    assert_eq!(o.states.total(), 0);
    let a = o.details[0].ss_summary.as_ref().unwrap();
    assert_eq!(
        (a.total, a.tcp_total, a.estab, a.closed, a.timewait),
        (Some(190), Some(11), Some(4), Some(2), Some(1))
    );
    assert_eq!(a.transports.len(), 5);
    assert_eq!(a.transports[2].name, "TCP");
    assert_eq!(
        (
            a.transports[2].total,
            a.transports[2].ipv4,
            a.transports[2].ipv6
        ),
        (Some(9), Some(7), Some(2))
    );
    let b = o.details[1].ss_summary.as_ref().unwrap();
    assert_eq!(
        (b.total, b.estab, b.synrecv, b.timewait, b.ports),
        (Some(1201), Some(300), Some(0), Some(190), Some(0))
    );
    assert!(o.snapshots[0]
        .info
        .gaps
        .iter()
        .any(|g| g.kind == GapKind::NotProvided));
}

// ------------------------------------------------------------------ /proc/net/tcp

#[test]
fn proc_net_tcp_and_tcp6() {
    // Own sample (values as in tcp-facts 8: 0100007F:0CEA = 127.0.0.1:3306, tr 3 = TIME_WAIT
    // timer, 00001770 = 6000 ticks = 60 s at USER_HZ 100).
    let o = parse(
        "$ cat /proc/net/tcp /proc/net/tcp6
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000003 00:00000000 00000000   112        0 19543 1 0000000000000000 100 0 0 10 0
   1: 0500000A:0016 0900000A:C822 01 00000024:00000000 02:0001B3A0 00000000     0        0 55555 2 0000000000000000 20 4 31 10 -1
   2: 0500000A:AC94 0700000A:0CEA 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 2699 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000500000A:0050 0000000000000000FFFF00000800000A:9C40 03 00000000:00000000 01:00000064 00000002    33        0 0 0
",
    );
    assert_eq!(o.format, "proc-net-tcp");
    assert_eq!(o.snapshots.len(), 1);
    assert_eq!(count(&o, TcpState::Listen), 2);
    assert_eq!(count(&o, TcpState::Established), 1);
    assert_eq!(count(&o, TcpState::TimeWait), 1);
    assert_eq!(count(&o, TcpState::SynRecv), 1);
    let s = socks(&o);
    assert_eq!(s[0].local.host, ip("127.0.0.1"));
    assert_eq!(s[0].local.port, Port::Num(3306));
    assert_eq!(s[0].recv_q, Some(3));
    assert_eq!(s[0].uid, Some(112));
    assert_eq!(s[0].inode, Some(19543));
    assert_eq!(s[1].remote.host, ip("10.0.0.9"));
    assert_eq!(s[1].remote.port, Port::Num(51234));
    assert_eq!(s[1].send_q, Some(0x24));
    assert_eq!(s[1].timer.unwrap().kind, TimerKind::Keepalive);
    assert_eq!(s[1].timer.unwrap().expires_ms, 0x1B3A0 * 10);
    assert_eq!(s[2].timer.unwrap().expires_ms, 60_000);
    assert_eq!(s[2].inode, None);
    assert_eq!(s[3].family, Family::Inet6);
    assert_eq!(s[3].local.host, ip("::"));
    assert_eq!(s[4].local.host, ip("::ffff:10.0.0.5"));
    assert_eq!(s[4].remote.port, Port::Num(40000));
    assert_eq!(s[4].retransmits, 2);
}

#[test]
fn proc_net_tcp_big_endian_and_repeats() {
    let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 7F000001:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   112        0 19543 1
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 7F000001:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   112        0 19543 1
   1: 7F000001:0016 7F000001:9C40 0C 00000000:00000000 00:00000000 00000000   0        0 0 1
";
    let opts = ParseOptions {
        proc_big_endian: true,
        ..ParseOptions::default()
    };
    let o = parse_bytes(text.as_bytes(), &opts).unwrap();
    // The same file pasted twice is two snapshots.
    assert_eq!(o.snapshots.len(), 2);
    assert_eq!(socks(&o)[0].local.host, ip("127.0.0.1"));
    // 0x0C is NEW_SYN_RECV, never printed by the kernel (tcp-facts 8.4)... but from_kernel maps it.
    assert_eq!(o.details[1].counts.get(TcpState::SynRecv), 1);
}

// ------------------------------------------------------------------ Windows

#[test]
fn windows_netstat_anob_crlf_brackets_and_process_lines() {
    // Own sample in Windows 10 `netstat -anob` layout, CRLF line ends.
    let text = "\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n\
  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1012\r\n\
  RpcSs\r\n\
 [svchost.exe]\r\n\
  TCP    10.0.0.5:49700         52.1.2.3:443           ESTABLISHED     4242\r\n\
 [chrome.exe]\r\n\
  TCP    10.0.0.5:49701         52.1.2.3:443           SYN_RECEIVED    4242\r\n\
 [chrome.exe]\r\n\
  TCP    10.0.0.5:49702         52.1.2.3:443           FIN_WAIT_1      4242\r\n\
 Can not obtain ownership information\r\n\
  TCP    10.0.0.5:49703         52.1.2.3:443           TIME_WAIT       0\r\n\
  TCP    [::]:445               [::]:0                 LISTENING       4\r\n\
 Can not obtain ownership information\r\n\
  TCP    [fe80::1%12]:49704     [fe80::2%12]:445       CLOSE_WAIT      4\r\n\
  UDP    0.0.0.0:500            *:*                                    3000\r\n\
 [lsass.exe]\r\n\
  UDP    [::]:500               *:*                                    3000\r\n";
    let o = parse(text);
    assert_eq!(o.format, "windows-netstat");
    assert_eq!(o.os, SourceOs::Windows);
    assert_eq!(count(&o, TcpState::Listen), 2);
    assert_eq!(count(&o, TcpState::Established), 1);
    assert_eq!(count(&o, TcpState::SynRecv), 1);
    assert_eq!(count(&o, TcpState::FinWait1), 1);
    assert_eq!(count(&o, TcpState::TimeWait), 1);
    assert_eq!(count(&o, TcpState::CloseWait), 1);
    assert_eq!(o.details[0].other_rows, 2);
    let s = socks(&o);
    assert_eq!(s[0].owners[0].pid, 1012);
    assert_eq!(s[0].owners[0].comm, "svchost.exe");
    assert_eq!(s[1].owners[0].comm, "chrome.exe");
    assert_eq!(s[3].owners[0].comm, "");
    assert!(s[4].owners.is_empty()); // PID 0: TIME_WAIT has no owner
    assert_eq!(s[5].family, Family::Inet6);
    assert_eq!(s[6].local.host, ip("fe80::1"));
    assert_eq!(s[6].remote.port, Port::Num(445));
}

#[test]
fn windows_german_spanish_and_unknown_words() {
    // Own samples with the localised state words (tcp-facts 12.7 for German), one as printed
    // through the OEM code page (0x99 for Ö), and a word nobody knows.
    let mut text = b"\r\nAktive Verbindungen\r\n\r\n  Proto  Lokale Adresse         Remoteadresse          Status           PID\r\n".to_vec();
    text.extend_from_slice(
        b"  TCP    0.0.0.0:135            0.0.0.0:0              ABH\xc3\x96REN          1060\r\n",
    );
    text.extend_from_slice(
        b"  TCP    0.0.0.0:445            0.0.0.0:0              ABH\x99REN          4\r\n",
    );
    text.extend_from_slice(
        b"  TCP    127.0.0.1:9222         127.0.0.1:50123        HERGESTELLT     4321\r\n",
    );
    text.extend_from_slice(
        b"  TCP    127.0.0.1:9222         127.0.0.1:50124        WARTEND         0\r\n",
    );
    text.extend_from_slice(
        b"  TCP    127.0.0.1:50125        127.0.0.1:9222         SCHLIESSEN_WARTEN  2468\r\n",
    );
    text.extend_from_slice(
        b"  TCP    127.0.0.1:50126        10.1.1.1:80            SYN_GESENDET    2468\r\n",
    );
    text.extend_from_slice(
        b"  TCP    127.0.0.1:50127        10.1.1.1:80            FIN_WARTEN_2    2468\r\n",
    );
    text.extend_from_slice(
        b"  TCP    127.0.0.1:50128        10.1.1.1:80            IN ATTESA       2468\r\n",
    );
    text.extend_from_slice(b"\r\nConexiones activas\r\n\r\n  Proto  Direcci\xc3\xb3n local          Direcci\xc3\xb3n remota        Estado           PID\r\n");
    text.extend_from_slice(
        b"  TCP    0.0.0.0:3389           0.0.0.0:0              ESCUCHANDO       1288\r\n",
    );
    text.extend_from_slice(
        b"  TCP    10.0.0.12:3389         10.0.0.50:51544        ESTABLECIDO      1288\r\n",
    );
    let o = parse_bytes(&text, &ParseOptions::default()).unwrap();
    assert_eq!(o.snapshots.len(), 2);
    let d = &o.details[0];
    assert_eq!(d.counts.get(TcpState::Listen), 2);
    assert_eq!(d.counts.get(TcpState::Established), 1);
    assert_eq!(d.counts.get(TcpState::TimeWait), 1);
    assert_eq!(d.counts.get(TcpState::CloseWait), 1);
    assert_eq!(d.counts.get(TcpState::SynSent), 1);
    assert_eq!(d.counts.get(TcpState::FinWait2), 1);
    assert_eq!(d.unknown_rows, 1);
    assert_eq!(o.snapshots[0].unknown_rows[0].raw_state, "IN ATTESA");
    assert_eq!(o.snapshots[0].unknown_rows[0].line, 12);
    assert_eq!(o.details[1].counts.get(TcpState::Listen), 1);
    assert_eq!(o.details[1].counts.get(TcpState::Established), 1);
    assert!(o.details.iter().all(|d| d.os == SourceOs::Windows));
}

#[test]
fn windows_bound_rows_and_names() {
    // `netstat -anoq` shows BOUND; `netstat` without -n prints names.
    let o = parse(
        "Active Connections

  Proto  Local Address          Foreign Address        State           PID
  TCP    0.0.0.0:49700          0.0.0.0:0              BOUND           777
  TCP    127.0.0.1:1031         api:1032               ESTABLISHED     778
  TCP    10.0.0.5:49710         lb-140-82-112-25:https  ESTABLISHED    779
",
    );
    assert_eq!(count(&o, TcpState::Close), 1);
    assert_eq!(count(&o, TcpState::Established), 2);
    let s = socks(&o);
    assert_eq!(s[1].remote.host, Host::Name(Arc::from("api")));
    assert_eq!(s[2].remote.port, Port::Num(443));
}

#[test]
fn powershell_get_nettcpconnection() {
    // Own sample in the default table layout.
    let o = parse(
        "PS C:\\Users\\me> Get-NetTCPConnection

LocalAddress                        LocalPort RemoteAddress                       RemotePort State       AppliedSetting OwningProcess
------------                        --------- -------------                       ---------- -----       -------------- -------------
::                                  49669     ::                                  0          Listen                     680
0.0.0.0                             135       0.0.0.0                             0          Listen                     1012
192.168.1.5                         50123     52.1.2.3                            443        Established Internet       4242
192.168.1.5                         50124     52.1.2.3                            443        TimeWait                   0
fe80::1%12                          50125     fe80::2%12                          445        CloseWait   Datacenter     4
192.168.1.5                         50126     52.1.2.3                            443        Bound                      4242
192.168.1.5                         50127     52.1.2.3                            443        DeleteTCB                  4242
",
    );
    assert_eq!(o.format, "powershell");
    assert_eq!(o.os, SourceOs::Windows);
    assert_eq!(count(&o, TcpState::Listen), 2);
    assert_eq!(count(&o, TcpState::Established), 1);
    assert_eq!(count(&o, TcpState::TimeWait), 1);
    assert_eq!(count(&o, TcpState::CloseWait), 1);
    assert_eq!(count(&o, TcpState::Close), 1);
    assert_eq!(o.snapshots[0].unknown_rows[0].raw_state, "DeleteTCB");
    let s = socks(&o);
    assert_eq!(s[0].family, Family::Inet6);
    assert_eq!(s[0].owners[0].pid, 680);
    assert_eq!(s[2].remote.port, Port::Num(443));
    assert_eq!(s[2].owners[0].pid, 4242);
    assert!(s[3].owners.is_empty());
    assert_eq!(s[4].local.host, ip("fe80::1"));
}

// ------------------------------------------------------------------ BSD family, Solaris

#[test]
fn macos_netstat_an() {
    // Own sample, macOS layout: tcp4/tcp6/tcp46, addr.port, `(state)`, kctl rows.
    let o = parse(
        "Active Internet connections (including servers)
Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)    
tcp4       0      0  10.0.0.5.50000         93.184.216.34.443      ESTABLISHED
tcp46      0      0  *.80                   *.*                    LISTEN     
tcp6       0      0  fe80::1%lo0.631        *.*                    LISTEN     
tcp4       0      0  127.0.0.1.5432         127.0.0.1.50001        TIME_WAIT  
udp4       0      0  *.*                    *.*                               
Active LOCAL (UNIX) domain sockets
Address          Type   Recv-Q Send-Q            Inode             Conn             Refs          Nextref Addr
4f1eb4c58685585f stream      0      0                0 4f1eb4c5868572ef                0                0 /var/run/mDNSResponder
",
    );
    assert_eq!(o.format, "bsd-netstat");
    assert_eq!(o.os, SourceOs::MacOs);
    assert_eq!(o.states.total(), 4);
    let s = socks(&o);
    assert_eq!(s[0].local.port, Port::Num(50000));
    assert_eq!(s[0].remote.host, ip("93.184.216.34"));
    assert_eq!(s[1].family, Family::Inet6); // tcp46: a dual-stack IPv6 socket
    assert_eq!(s[1].local.host, ip("::"));
    assert_eq!(s[2].local.host, ip("fe80::1"));
    assert_eq!(s[2].local.port, Port::Num(631));
}

#[test]
fn freebsd_t_and_x_rows_have_no_state() {
    let o = parse(
        "Active Internet connections (including servers)
Proto Rexmit OOORcv 0-win  Local Address          Foreign Address
tcp4       3      0      0 10.0.0.5.22            10.0.0.9.64330         
tcp4       0      0      0 *.22                   *.*                    
udp4                       *.514                  *.*                    
",
    );
    assert_eq!(o.os, SourceOs::FreeBsd);
    assert_eq!(o.states.total(), 0);
    let u = &o.snapshots[0].unknown_rows;
    assert_eq!(u.len(), 2);
    assert!(u.iter().all(|r| r.raw_state.is_empty()));
}

#[test]
fn openbsd_hpux_aix_solaris() {
    // Own samples.
    let openbsd = parse(
        "Active Internet connections (including servers)
Proto   Recv-Q Send-Q  Local Address          Foreign Address        TCP-State
tcp          0      0  10.0.0.5.22            10.0.0.9.50000         ESTABLISHED
tcp          0      0  *.22                   *.*                    LISTEN
",
    );
    assert_eq!(
        (openbsd.format.as_str(), openbsd.os),
        ("bsd-netstat", SourceOs::OpenBsd)
    );
    assert_eq!(openbsd.states.total(), 2);

    let hpux = parse(
        "Active Internet connections (IPv6, including servers)
Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)
tcp6       0      0  ::1.49309              *.*                     LISTEN
tcp6       0      0  ::1.62538              ::1.62537               TIME_WAIT
",
    );
    assert_eq!(
        (hpux.format.as_str(), hpux.os),
        ("hpux-netstat", SourceOs::HpUx)
    );
    assert_eq!(hpux.states.total(), 2);

    let aix = parse(
        "Active Internet connections (including servers)
PCB/ADDR         Proto Recv-Q Send-Q  Local Address      Foreign Address    (state)
f1000e000128bbb8 tcp4       0      0  *.22               *.*                LISTEN
f1000e0000d5c3b8 tcp4       0     48  10.0.0.5.22        10.0.0.9.50123     ESTABLISHED
",
    );
    assert_eq!(
        (aix.format.as_str(), aix.os),
        ("aix-netstat", SourceOs::Aix)
    );
    assert_eq!(aix.states.total(), 2);

    let sol = parse(
        "
TCP: IPv4
   Local Address        Remote Address    Swind Send-Q Rwind Recv-Q    State
-------------------- -------------------- ----- ------ ----- ------ -----------
10.0.0.5.22          10.0.0.9.50000       64128      0 128872      0 ESTABLISHED
      *.*                  *.*                0      0 128000      0 IDLE
      *.22                 *.*                0      0 128000      0 LISTEN
      *.22                 *.*                0      0 128000      0 LISTEN
10.0.0.5.40000       10.0.0.7.3306        64128      0 128872      0 BOUND

UDP: IPv4
   Local Address        Remote Address      State
-------------------- -------------------- ----------
      *.*                                 Unbound
",
    );
    assert_eq!(
        (sol.format.as_str(), sol.os),
        ("solaris-netstat", SourceOs::Solaris)
    );
    assert_eq!(sol.states.get(TcpState::Listen), 2); // identical listeners are real
    assert_eq!(sol.states.get(TcpState::Close), 2);
    assert_eq!(sol.states.get(TcpState::Established), 1);
    assert_eq!(sol.details[0].other_rows, 1);
}

// ------------------------------------------------------------------ text as people paste it

#[test]
fn bare_rows_names_prompts_prose_and_elisions() {
    // Own sample: prose in several languages, a prompt, rows without the proto column, host
    // and service names, an elision line and rows missing trailing columns.
    let o = parse(
        "Hallo zusammen, hier die Ausgabe vom Server (gekürzt):
web01:53045 10.0.0.5:mysql ESTABLISHED
web01:53046 10.0.0.5:mysql ESTABLISHED
...
web01:53999 10.0.0.5:mysql TIME_WAIT
10.0.0.5:3306 *:* LISTEN
Voilà, merci d'avance !
",
    );
    assert_eq!(o.format, "pasted-rows");
    assert_eq!(o.os, SourceOs::Unknown);
    assert_eq!(count(&o, TcpState::Established), 2);
    assert_eq!(count(&o, TcpState::TimeWait), 1);
    assert_eq!(count(&o, TcpState::Listen), 1);
    let s = socks(&o);
    assert_eq!(s[0].local.host, Host::Name(Arc::from("web01")));
    assert_eq!(s[0].remote.port, Port::Num(3306));
    let gaps = &o.snapshots[0].info.gaps;
    assert!(gaps
        .iter()
        .any(|g| g.kind == GapKind::Truncated && g.message.contains("elision")));
    assert!(o.skipped.is_empty(), "{:?}", o.skipped);
}

#[test]
fn rows_missing_trailing_columns_and_unreadable_rows() {
    let o = parse(
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State
tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED
tcp        0      0 10.0.0.5:22             10.0.0.9:51235
tcp        0      0 10.0.0.5:22
tcp        0      0 10.0.0.5:22             10.0.0.9:51236          WHATEVER
tcp        0      0 banana                  10.0.0.9:51237          ESTABLISHED
",
    );
    assert_eq!(count(&o, TcpState::Established), 1);
    let u = &o.snapshots[0].unknown_rows;
    assert_eq!(u.len(), 2);
    assert_eq!((u[0].line, u[0].raw_state.as_str()), (3, ""));
    assert_eq!((u[1].line, u[1].raw_state.as_str()), (5, "WHATEVER"));
    assert_eq!(o.skipped.len(), 2);
    assert_eq!(o.skipped[0].line, 4);
    assert!(
        o.skipped[0].reason.contains("foreign address"),
        "{}",
        o.skipped[0].reason
    );
    assert_eq!(o.skipped[1].line, 6);
    assert!(o.skipped[1].reason.contains("banana"));
}

#[test]
fn several_snapshots_split_at_commands_and_repeated_headers() {
    let o = parse(
        "[root@db01 ~]# netstat -tan | grep 3306
tcp        0      0 0.0.0.0:3306            0.0.0.0:*               LISTEN
tcp        0      0 10.0.0.5:3306           10.0.0.9:50000          ESTABLISHED
[root@db01 ~]# netstat -tan
Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State
tcp        0      0 10.0.0.5:3306           10.0.0.9:50000          ESTABLISHED
Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State
tcp        0      0 10.0.0.5:3306           10.0.0.9:50000          TIME_WAIT
tcp        0      0 10.0.0.5:3306           10.0.0.9:50001          TIME_WAIT
",
    );
    assert_eq!(o.snapshots.len(), 3);
    assert_eq!(o.details[0].counts.total(), 2);
    assert_eq!(
        o.details[0].command.as_deref(),
        Some("netstat -tan | grep 3306")
    );
    assert!(o.snapshots[0]
        .info
        .gaps
        .iter()
        .any(|g| g.message.contains("piped")));
    assert_eq!(o.snapshots[0].info.host.as_deref(), Some("db01"));
    assert_eq!(o.details[1].counts.get(TcpState::Established), 1);
    assert_eq!(o.details[1].command.as_deref(), Some("netstat -tan"));
    assert_eq!(o.details[2].counts.get(TcpState::TimeWait), 2);
    assert_eq!(o.details[2].command, None);
    assert_eq!((o.details[2].first_line, o.details[2].last_line), (8, 11));
    assert_eq!(o.states.total(), 5);
}

#[test]
fn connected_duplicates_count_once_listeners_never_merge() {
    let o = parse(
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State
tcp        0      0 0.0.0.0:80              0.0.0.0:*               LISTEN
tcp        0      0 0.0.0.0:80              0.0.0.0:*               LISTEN
tcp        0      0 10.0.0.5:80             10.0.0.9:50000          ESTABLISHED
tcp        0      0 10.0.0.5:80             10.0.0.9:50001          ESTABLISHED
tcp        0      0 10.0.0.5:80             10.0.0.9:50000          ESTABLISHED
tcp        0      0 10.0.0.5:80             10.0.0.9:50000          ESTABLISHED
tcp        0      0 10.0.0.5:80             10.0.0.9:50000          TIME_WAIT
",
    );
    assert_eq!(count(&o, TcpState::Listen), 2);
    assert_eq!(count(&o, TcpState::Established), 2);
    assert_eq!(count(&o, TcpState::TimeWait), 1);
    assert_eq!(o.duplicates, 2);
    assert_eq!(o.details[0].duplicate_counts.get(TcpState::Established), 2);
    assert_eq!(o.duplicate_rows[0].line, 6);
    assert_eq!(o.duplicate_rows[0].first_line, 4);
    assert_eq!(o.duplicate_rows[1].line, 7);
    assert_eq!(o.details[0].tcp_rows_printed(), 7);
}

#[test]
fn duplicate_check_is_bounded() {
    let mut text = String::from("Proto Recv-Q Send-Q Local Address Foreign Address State\n");
    for i in 0..10 {
        text.push_str(&format!(
            "tcp 0 0 10.0.0.5:80 10.0.0.9:{} ESTABLISHED\n",
            50000 + i
        ));
    }
    text.push_str("tcp 0 0 10.0.0.5:80 10.0.0.9:50000 ESTABLISHED\n"); // a repeat of row 1
    text.push_str("tcp 0 0 10.0.0.5:80 10.0.0.9:50009 ESTABLISHED\n"); // a repeat of row 10
    let opts = ParseOptions {
        dedupe_cap: 4,
        ..ParseOptions::default()
    };
    let o = parse_bytes(text.as_bytes(), &opts).unwrap();
    assert!(o.details[0].dedupe_cap_reached);
    assert_eq!(o.duplicates, 1); // row 1 was remembered, row 10 was not
    assert_eq!(count(&o, TcpState::Established), 11);
    assert!(o.snapshots[0]
        .info
        .gaps
        .iter()
        .any(|g| g.message.contains("copy-paste duplicates")));
}

#[test]
fn non_tcp_rows_with_tcp_words_never_count() {
    let o = parse(
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State
udp        0      0 10.0.0.5:40000          10.0.0.1:53             ESTABLISHED
raw6       0      0 :::58                   :::*                    7
tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED
Active UNIX domain sockets (servers and established)
Proto RefCnt Flags       Type       State         I-Node   Path
unix  2      [ ACC ]     STREAM     LISTENING     13851    /run/a.sock
unix  3      [ ]         STREAM     CONNECTED     22366    
Active Bluetooth connections (servers and established)
Proto  Destination       Source            State         PSM DCID   SCID      IMTU    OMTU Security
l2cap  00:11:22:33:44:55 66:77:88:99:AA:BB LISTEN        1   0x0040 0x0040    672     0    LOW
",
    );
    assert_eq!(o.states.total(), 1);
    assert_eq!(o.details[0].other_rows, 2);
    assert!(o.skipped.is_empty(), "{:?}", o.skipped);
}

#[test]
fn invalid_utf8_and_utf16() {
    let mut bytes =
        b"tcp 0 0 10.0.0.5:22 10.0.0.9:51234 ESTABLISHED\n\xff\xfe\xfd garbage\n".to_vec();
    bytes.extend_from_slice(b"tcp 0 0 10.0.0.5:22 10.0.0.9:51235 ESTAB\xffLISHED\n");
    let o = parse_bytes(&bytes, &ParseOptions::default()).unwrap();
    assert_eq!(count(&o, TcpState::Established), 1);
    assert_eq!(o.snapshots[0].unknown_rows.len(), 1);
    assert!(o.snapshots[0].unknown_rows[0]
        .raw_state
        .contains('\u{FFFD}'));

    // PowerShell's `>` writes UTF-16LE with a byte-order mark.
    let text = "\r\nActive Connections\r\n\r\n  Proto  Local Address   Foreign Address  State\r\n  TCP    0.0.0.0:135     0.0.0.0:0        LISTENING\r\n";
    let mut u16 = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        u16.extend_from_slice(&unit.to_le_bytes());
    }
    let o = parse_bytes(&u16, &ParseOptions::default()).unwrap();
    assert_eq!(count(&o, TcpState::Listen), 1);
}

#[test]
fn nothing_recognisable_is_a_clear_error() {
    for (text, needle) in [
        ("", "empty"),
        ("\n\n   \n", "empty"),
        ("Dear support, our server is slow.\nThanks!\n", "no netstat"),
        (
            "Kernel IP routing table\nDestination Gateway Genmask Flags MSS Window irtt Iface\n",
            "routing",
        ),
        ("Tcp:\n    120 active connection openings\n", "netstat -s"),
        ("tcp 0 0 banana apple ESTABLISHED\n", "could be read"),
    ] {
        match parse_bytes(text.as_bytes(), &ParseOptions::default()) {
            Err(e @ TextError::NothingRecognised { .. }) => {
                assert!(e.to_string().contains(needle), "{text:?}: {e}");
                assert!(e.hint().unwrap().contains("netstat"));
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn forced_formats() {
    // Forced bare rows: nothing else is tried.
    let opts = ParseOptions {
        format: Some(Format::PastedRows),
        ..ParseOptions::default()
    };
    let o = parse_bytes(b"10.0.0.5:22 10.0.0.9:5 ESTABLISHED\n", &opts).unwrap();
    assert_eq!(o.format, "pasted-rows");
    assert_eq!(o.states.total(), 1);
    // Forced ss on ss rows without header; a netstat row is reported as skipped.
    let opts = ParseOptions {
        format: Some(Format::Ss),
        ..ParseOptions::default()
    };
    let o = parse_bytes(
        b"ESTAB 0 0 10.0.0.5:22 10.0.0.9:5\nTCP 10.0.0.5:22 10.0.0.9:6 ESTABLISHED\n",
        &opts,
    )
    .unwrap();
    assert_eq!(o.format, "ss");
    assert_eq!(o.states.total(), 1);
    assert_eq!(o.skipped_total, 1);
    // Forced OS.
    let opts = ParseOptions {
        os: Some(SourceOs::OpenBsd),
        ..ParseOptions::default()
    };
    let o = parse_bytes(b"tcp 0 0 10.0.0.5.22 10.0.0.9.5 ESTABLISHED\n", &opts).unwrap();
    assert_eq!(o.os, SourceOs::OpenBsd);
    assert_eq!(Format::parse("busybox"), Some(Format::NetstatLinux));
    for f in Format::ALL {
        assert_eq!(Format::parse(f.name()), Some(f));
    }
}

// ------------------------------------------------------------------ streaming

#[derive(Default)]
struct Events {
    log: Vec<String>,
    /// Every socket in full (compared between thread counts).
    sockets: Vec<String>,
}

impl TextSink for Events {
    fn begin_snapshot(&mut self, m: &SnapshotMeta) {
        self.log
            .push(format!("begin {} {} {:?}", m.index, m.format, m.command));
    }
    fn socket(&mut self, s: &Socket, line: usize) {
        self.log.push(format!("socket {line} {}", s.state));
        self.sockets.push(format!("{line} {s:?}"));
    }
    fn unknown_row(&mut self, r: &tcpdoctor_model::UnknownRow) {
        self.log
            .push(format!("unknown {} {:?}", r.line, r.raw_state));
    }
    fn skipped(&mut self, s: &tcpdoctor_text::Skipped) {
        self.log.push(format!("skipped {}", s.line));
    }
    fn duplicate(&mut self, d: &tcpdoctor_text::Duplicate) {
        self.log
            .push(format!("duplicate {} of {}", d.line, d.first_line));
    }
    fn end_snapshot(&mut self, s: &SnapshotSummary) {
        self.log
            .push(format!("end {} {} {}", s.index, s.os, s.counts.total()));
    }
}

#[test]
fn streaming_events_in_order_and_chunking_does_not_matter() {
    let text = "$ ss -tan
State Recv-Q Send-Q Local Address:Port Peer Address:Port
ESTAB 0 0 10.0.0.5:22 10.0.0.9:5
ESTAB 0 0 10.0.0.5:22 10.0.0.9:5
WEIRD 0 0 10.0.0.5:22 10.0.0.9:6
ESTAB 0 0 10.0.0.5:22 nonsense!
$ netstat -an
Proto Recv-Q Send-Q Local Address Foreign Address State
tcp 0 0 0.0.0.0:22 0.0.0.0:* LISTEN
";
    let mut ev = Events::default();
    let stats = parse_reader(text.as_bytes(), &ParseOptions::default(), &mut ev).unwrap();
    assert_eq!(
        ev.log,
        vec![
            "begin 0 ss Some(\"ss -tan\")",
            "socket 3 ESTABLISHED",
            "duplicate 4 of 3",
            "unknown 5 \"WEIRD\"",
            "skipped 6",
            "end 0 linux 1",
            "begin 1 netstat-linux Some(\"netstat -an\")",
            "socket 9 LISTEN",
            "end 1 linux 1",
        ]
    );
    assert_eq!(stats.format, "ss+netstat-linux");
    assert_eq!(stats.os, Some(SourceOs::Linux));
    assert_eq!(
        (stats.lines, stats.sockets, stats.duplicates, stats.skipped),
        (9, 2, 1, 1)
    );

    // Feeding odd-sized chunks gives the same events.
    for chunk in [1usize, 3, 7, 64] {
        let mut ev2 = Events::default();
        let mut p = Parser::new(ParseOptions::default());
        for c in text.as_bytes().chunks(chunk) {
            p.feed(c, &mut ev2);
        }
        p.finish(&mut ev2).unwrap();
        assert_eq!(ev2.log, ev.log, "chunk {chunk}");
    }
}

#[test]
fn long_lines_are_cut_not_buffered() {
    let mut text = String::from("tcp 0 0 10.0.0.5:22 10.0.0.9:5 ESTABLISHED ");
    text.push_str(&"x".repeat(10_000));
    text.push('\n');
    let opts = ParseOptions {
        max_line_bytes: 256,
        ..ParseOptions::default()
    };
    let mut p = Parser::new(opts);
    let mut sink = tcpdoctor_text::SocketsOnly(tcpdoctor_model::CountingSink::default());
    for c in text.as_bytes().chunks(100) {
        p.feed(c, &mut sink);
    }
    let stats = p.finish(&mut sink).unwrap();
    assert_eq!(stats.sockets, 1);
    assert_eq!(sink.0 .0.get(TcpState::Established), 1);
}

// ------------------------------------------------------------------ big inputs

/// A few MB of mixed text (own generator): several formats and snapshots, duplicates,
/// unknown words, bad rows, CRLF, invalid UTF-8 and a header change in the middle of a run.
fn big_mixed() -> Vec<u8> {
    let mut out = Vec::new();
    let mut seed: u64 = 0x1234_5678;
    let mut rnd = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let states = [
        "ESTABLISHED",
        "TIME_WAIT",
        "LISTEN",
        "CLOSE_WAIT",
        "FIN_WAIT2",
        "SYN_SENT",
        "WEIRD",
    ];
    for block in 0..6 {
        match block % 3 {
            0 => out.extend_from_slice(b"$ netstat -tan\nProto Recv-Q Send-Q Local Address Foreign Address State\n"),
            1 => out.extend_from_slice(b"$ ss -tan\nState Recv-Q Send-Q Local Address:Port Peer Address:Port\n"),
            _ => out.extend_from_slice(b"\r\nActive Connections\r\n\r\n  Proto  Local Address  Foreign Address  State  PID\r\n"),
        }
        for i in 0..40_000u64 {
            let st = states[rnd(states.len() as u64) as usize];
            let l = format!(
                "10.{}.{}.{}:{}",
                rnd(256),
                rnd(256),
                rnd(256),
                1024 + rnd(60000)
            );
            let r = if st == "LISTEN" {
                "0.0.0.0:*".to_string()
            } else {
                format!("192.168.{}.{}:{}", rnd(256), rnd(256), rnd(65536))
            };
            let line = match block % 3 {
                0 => {
                    // -tan, -tanp, -tano and IPv6 rows, as net-tools prints them.
                    let extra = match rnd(6) {
                        0 => format!(" {}/prog{}", 100 + rnd(50), rnd(3)),
                        1 => " -".to_string(),
                        2 => format!(
                            " {}/nginx: worker  timewait ({}.{:02}/0/0)",
                            7 + rnd(3),
                            rnd(60),
                            rnd(100)
                        ),
                        3 => format!(" keepalive ({}.00/{}/0)", rnd(7200), rnd(3)),
                        _ => String::new(),
                    };
                    if rnd(5) == 0 {
                        let l6 = format!("2001:db8::{:x}:{}", rnd(4096), 1024 + rnd(60000));
                        format!(
                            "tcp6 {} {} {l6} ::1:{} {st}{extra}\n",
                            rnd(3),
                            rnd(3),
                            rnd(65536)
                        )
                    } else {
                        format!("tcp {} {} {l} {r} {st}{extra}\n", rnd(3), rnd(3))
                    }
                }
                1 => {
                    let st = st.replace('_', "-").replace("ESTABLISHED", "ESTAB");
                    format!("{st} {} {} {l} {r}\n", rnd(3), rnd(3))
                }
                _ => format!(
                    "  TCP    {l}  {}  {}  {}\r\n",
                    r.replace('*', "0"),
                    st.replace("LISTEN", "LISTENING"),
                    rnd(5000)
                ),
            };
            out.extend_from_slice(line.as_bytes());
            if i % 997 == 0 {
                out.extend_from_slice(line.as_bytes()); // a copy-paste duplicate (or a listener twin)
            }
            if i % 1499 == 0 {
                out.extend_from_slice(b"tcp 0 0 banana apple ESTABLISHED\n");
            }
            if i % 2003 == 0 {
                out.extend_from_slice(b"\xff\xfe garbage \xc3\n");
            }
            if i == 20_000 && block % 3 == 0 {
                out.extend_from_slice(
                    b"Proto Recv-Q Send-Q Local Address Foreign Address State User Inode\n",
                );
            }
        }
    }
    out
}

/// The default options, read with `threads` worker threads.
fn on_threads(threads: usize) -> ParseOptions {
    ParseOptions {
        threads,
        ..ParseOptions::default()
    }
}

#[test]
fn threads_give_exactly_the_sequential_result() {
    let input = big_mixed();
    assert!(input.len() > 8 << 20, "{}", input.len());
    let mut logs = Vec::new();
    for threads in [1usize, 2, 3] {
        let opts = on_threads(threads);
        let mut ev = Events::default();
        let stats = parse_reader(&input[..], &opts, &mut ev).unwrap();
        let mut log = ev.log;
        log.extend(ev.sockets);
        logs.push((stats, log));
    }
    let (s1, l1) = &logs[0];
    // One per command; the header that changes mid-run (User/Inode) is a new layout of the
    // same snapshot, read from then on with the new layout.
    assert_eq!(s1.snapshots, 6);
    assert!(s1.duplicates > 100, "{}", s1.duplicates);
    assert!(s1.unknown_rows > 1000);
    assert!(s1.skipped > 100);
    for (s, l) in &logs[1..] {
        assert_eq!(s, s1);
        assert_eq!(l.len(), l1.len());
        if let Some(i) = (0..l.len()).find(|i| l[*i] != l1[*i]) {
            panic!("event {i} differs: {} vs {}", l[i], l1[i]);
        }
    }
}

/// A sink with worker parts: the events in order, and every socket wherever it arrived.
#[derive(Default)]
struct Split {
    /// The events but the sockets, as [`Events`] logs them; every socket in `events.sockets`.
    events: Events,
    /// Listening sockets this sink got in the current snapshot.
    listeners: Vec<String>,
    snap: usize,
    open: bool,
    made: usize,
    joined: usize,
    from_parts: usize,
}

struct Got {
    snap: usize,
    sockets: Vec<String>,
    told: Vec<String>,
}

impl SinkPart for Got {
    fn socket(&mut self, s: &Socket, line: usize) {
        assert_ne!(s.state, TcpState::Listen, "listeners stay with the sink");
        self.sockets.push(format!("{line} {s:?}"));
    }
    fn listener(&mut self, s: &Socket) {
        self.told.push(format!("{s:?}"));
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

impl TextSink for Split {
    fn begin_snapshot(&mut self, m: &SnapshotMeta) {
        assert!(!self.open);
        self.open = true;
        self.snap = m.index;
        self.listeners.clear();
        self.events.begin_snapshot(m);
    }
    fn socket(&mut self, s: &Socket, line: usize) {
        if s.state == TcpState::Listen {
            self.listeners.push(format!("{s:?}"));
        }
        self.events.sockets.push(format!("{line} {s:?}"));
    }
    fn unknown_row(&mut self, r: &tcpdoctor_model::UnknownRow) {
        self.events.unknown_row(r);
    }
    fn skipped(&mut self, s: &tcpdoctor_text::Skipped) {
        self.events.skipped(s);
    }
    fn duplicate(&mut self, d: &tcpdoctor_text::Duplicate) {
        self.events.duplicate(d);
    }
    fn end_snapshot(&mut self, s: &SnapshotSummary) {
        assert_eq!(
            self.made, self.joined,
            "every part is back before its snapshot ends"
        );
        self.open = false;
        self.events.end_snapshot(s);
    }
    fn part(&mut self, of: usize) -> Option<Box<dyn SinkPart>> {
        assert!(of >= 2);
        if !self.open {
            return None;
        }
        self.made += 1;
        Some(Box::new(Got {
            snap: self.snap,
            sockets: Vec::new(),
            told: Vec::new(),
        }))
    }
    fn join(&mut self, part: Box<dyn SinkPart>) {
        let g = part.into_any().downcast::<Got>().unwrap();
        assert!(self.open);
        assert_eq!(
            g.snap, self.snap,
            "a part is joined to the snapshot it was made for"
        );
        for l in &g.told {
            assert!(
                self.listeners.contains(l),
                "told a listener of another snapshot: {l}"
            );
        }
        self.joined += 1;
        self.from_parts += g.sockets.len();
        self.events.sockets.extend(g.sockets);
    }
}

#[test]
fn parts_on_the_workers_get_exactly_the_sockets_the_sink_would() {
    let input = big_mixed();
    let one = on_threads(1);
    let mut ev = Events::default();
    let s1 = parse_reader(&input[..], &one, &mut ev).unwrap();
    let mut want_sockets = ev.sockets;
    want_sockets.sort();
    let want_log: Vec<String> = ev
        .log
        .into_iter()
        .filter(|l| !l.starts_with("socket "))
        .collect();
    for threads in [2usize, 3] {
        let opts = on_threads(threads);
        let mut sp = Split::default();
        let s = parse_reader(&input[..], &opts, &mut sp).unwrap();
        assert_eq!(s, s1);
        assert_eq!(sp.events.log, want_log, "{threads} threads");
        assert_eq!(sp.made, sp.joined);
        // The netstat blocks' rows (a third of the input) go to parts.
        assert!(sp.made >= threads, "{} parts", sp.made);
        assert!(
            sp.from_parts * 20 > want_sockets.len(),
            "{} of {} sockets came through parts",
            sp.from_parts,
            want_sockets.len()
        );
        let mut got = sp.events.sockets;
        got.sort();
        assert_eq!(got.len(), want_sockets.len());
        if let Some(i) = (0..got.len()).find(|i| got[*i] != want_sockets[*i]) {
            panic!("socket {i} differs: {} vs {}", got[i], want_sockets[i]);
        }
    }
}

#[test]
fn parts_come_back_in_the_same_order_every_run() {
    // Which keys a capped aggregate keeps depends on the order the parts are merged in, so
    // the sink must get them back in a fixed order, not as the threads finish.
    let input = big_mixed();
    let opts = on_threads(2);
    let mut first: Option<Vec<String>> = None;
    for run in 0..6 {
        let mut sp = Split::default();
        parse_reader(&input[..], &opts, &mut sp).unwrap();
        assert!(sp.joined >= 2);
        match &first {
            None => first = Some(sp.events.sockets),
            Some(f) => assert!(*f == sp.events.sockets, "run {run}: another order"),
        }
    }
}

#[test]
fn small_snapshots_are_delivered_without_parts() {
    // A log of `netstat -tan` every second: 4,000 snapshots of 40 rows (over 1 MiB, so the
    // workers run). A part costs a round trip to its thread when its snapshot ends, so
    // snapshots this small get none; the result is the sequential one.
    let mut text = String::new();
    for k in 0..4000 {
        text.push_str("Active Internet connections (servers and established)\n");
        text.push_str(
            "Proto Recv-Q Send-Q Local Address           Foreign Address         State      \n",
        );
        text.push_str(
            "tcp        0      0 0.0.0.0:3306            0.0.0.0:*               LISTEN     \n",
        );
        for i in 0..39 {
            text.push_str(&format!(
                "tcp        0      0 10.0.0.1:3306           10.0.{}.{}:{}          {}\n",
                k % 200,
                i + 1,
                40000 + i,
                if i % 3 == 0 {
                    "TIME_WAIT  "
                } else {
                    "ESTABLISHED"
                }
            ));
        }
    }
    let input = text.into_bytes();
    assert!(input.len() > 2 << 20, "{}", input.len());
    let one = on_threads(1);
    let mut ev = Events::default();
    let s1 = parse_reader(&input[..], &one, &mut ev).unwrap();
    assert_eq!(s1.snapshots, 4000);
    let opts = on_threads(2);
    let mut sp = Split::default();
    let s = parse_reader(&input[..], &opts, &mut sp).unwrap();
    assert_eq!(s, s1);
    assert_eq!(sp.made, 0, "parts for snapshots of 40 rows");
    assert_eq!(sp.events.sockets, ev.sockets);
}
